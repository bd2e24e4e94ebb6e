// --digest-file, --image-refs and --metadata-file of `image`, `push` and `pull`, as the built bin: what
// they hold matches what skopeo (or the layout's index.json) reports, they appear only on success,
// an existing symlink is followed as cp does, and misuse is a usage error.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from '../helpers/data.js';
import { tempDir } from '../helpers/tree.js';
import { binMissing, oneErrorLine, runCliAsync, temporaries, type AsyncRun } from '../helpers/cli.js';
import { registryMissing, skopeoMissing, startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { skopeo } from '../helpers/registry-image.js';
import { imageRefs } from '../../src/cli/pipeline-outputs.js';


const run = (args: string[], env: NodeJS.ProcessEnv): Promise<AsyncRun> => runCliAsync(args, env, { timeoutMs: 120_000 });

const read = (path: string): string => readFileSync(path, 'utf8');

describe('imageRefs', () => {
  it('one NAME@DIGEST line per repository, in the order of the names, tags left out', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    assert.equal(imageRefs(['r.io/a/b:1', 'r.io/a/b:2', 'app:3'], d), `r.io/a/b@${d}\ndocker.io/library/app@${d}\n`);
    assert.equal(imageRefs([], d), '');
  });
});

describe('fastlayer pipeline output files', { skip: binMissing() ?? registryMissing() }, () => {
  let registry: RunningRegistry;
  const tmp = tempDir();
  const src = join(tmp.path, 'src');
  const out = join(tmp.path, 'out');
  const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000', DOCKER_CONFIG: join(tmp.path, 'no-docker-config') };
  const files = (prefix: string) => ({ digest: join(out, `${prefix}.digest`), refs: join(out, `${prefix}.refs`), meta: join(out, `${prefix}.json`) });
  const flags = (f: ReturnType<typeof files>) => ['--digest-file', f.digest, '--image-refs', f.refs, '--metadata-file', f.meta];

  before(async () => {
    registry = await startRegistry();
    mkdirSync(src);
    writeFileSync(join(src, 'app.bin'), randomBytes(300_000, 5));
    mkdirSync(out);
  });
  after(async () => {
    await registry?.stop();
    tmp.remove();
  });

  it('image --push: the digest file holds what skopeo inspect reports, refs name the repository, metadata is the --json document', async (t) => {
    const f = files('push');
    const ref = `${registry.host}/pipe/app:1`;
    const r = await run(['image', '--layer', src, '--tag', `${registry.host}/pipe/app:stable`, '--push', ref, '--json', ...flags(f)], env);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { digest: string };
    assert.equal(read(f.digest), `${j.digest}\n`);
    assert.equal(read(f.refs), `${registry.host}/pipe/app@${j.digest}\n`);
    assert.deepEqual(JSON.parse(read(f.meta)), j, 'the same document --json printed');
    assert.deepEqual(temporaries(out), []);
    const noSkopeo = skopeoMissing();
    if (noSkopeo) return t.skip(noSkopeo);
    const info = JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${ref}`])) as { Digest: string };
    assert.equal(read(f.digest).trim(), info.Digest);
    const byRef = JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${read(f.refs).trim()}`])) as { Digest: string };
    assert.equal(byRef.Digest, info.Digest, 'the NAME@DIGEST line is a reference skopeo reads');
  });

  it('image --oci-dir: the digest file is the manifest digest index.json lists; push and pull write theirs', async () => {
    const f = files('layout');
    const layout = join(out, 'layout');
    const r = await run(['image', '--layer', src, '--tag', 'app:1', '--oci-dir', layout, ...flags(f)], env);
    assert.equal(r.status, 0, r.stderr);
    const index = JSON.parse(read(join(layout, 'index.json'))) as { manifests: { digest: string }[] };
    assert.equal(read(f.digest), `${index.manifests[0]!.digest}\n`);
    assert.equal(read(f.refs), `docker.io/library/app@${index.manifests[0]!.digest}\n`);
    const p = files('push-cmd');
    const pushed = await run(['push', layout, `${registry.host}/pipe/from-layout:v1`, ...flags(p)], env);
    assert.equal(pushed.status, 0, pushed.stderr);
    assert.equal(read(p.digest), read(f.digest));
    assert.equal(read(p.refs), `${registry.host}/pipe/from-layout@${index.manifests[0]!.digest}\n`);
    assert.equal((JSON.parse(read(p.meta)) as { source: string }).source, layout);
    const q = files('pull');
    const pulled = await run(['pull', `${registry.host}/pipe/from-layout:v1`, '--output', join(out, 'pulled.tar'), ...flags(q)], env);
    assert.equal(pulled.status, 0, pulled.stderr);
    assert.equal(read(q.digest), read(f.digest));
    assert.equal((JSON.parse(read(q.meta)) as { output: string }).output, join(out, 'pulled.tar'));
  });

  it('nothing is written on failure: an earlier file stays as it was, no new file, no temporary file', async () => {
    const f = files('fail');
    writeFileSync(f.digest, 'earlier\n');
    for (const args of [
      ['image', '--layer', src, '--push', '127.0.0.1:1/x:1'],
      ['push', join(out, 'layout'), '127.0.0.1:1/x:1'],
      ['pull', `${registry.host}/pipe/absent:1`, '--oci-dir', join(out, 'absent')],
    ]) {
      const r = await run([...args, ...flags(f)], env);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(oneErrorLine(r.stderr), r.stderr);
      assert.equal(read(f.digest), 'earlier\n');
      assert.equal(existsSync(f.refs), false);
      assert.equal(existsSync(f.meta), false);
      assert.deepEqual(temporaries(out), []);
    }
  });

  it('an existing symlink is followed as cp does (its target replaced, the link kept); one to a missing file fails before pushing', async () => {
    const target = join(out, 'real.digest');
    const link = join(out, 'link.digest');
    writeFileSync(target, 'old\n');
    symlinkSync(target, link);
    const r = await run(['image', '--layer', src, '--push', `${registry.host}/pipe/link:1`, '--digest-file', link, '--json'], env);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(read(target), `${(JSON.parse(r.stdout) as { digest: string }).digest}\n`);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readlinkSync(link), target);
    const dangling = join(out, 'dangling.digest');
    symlinkSync(join(out, 'nowhere', 'x'), dangling);
    const d = await run(['image', '--layer', src, '--push', `${registry.host}/pipe/dangling:1`, '--digest-file', dangling], env);
    assert.equal(d.status, 1, d.stderr);
    assert.match(d.stderr, /symbolic link to a missing file/);
    const tags = await fetch(`http://${registry.host}/v2/pipe/dangling/tags/list`);
    assert.equal(tags.status, 404, 'refused before anything was pushed');
  });

  it('misuse is a usage error (exit 2): an empty path, standard output, one file twice, the image output itself, a file inside a --layer', async () => {
    const archive = join(out, 'img.tar');
    for (const [extra, message] of [
      [['--digest-file', ''], /--digest-file needs a file/],
      [['--digest-file', '-'], /not standard output/],
      [['--digest-file', join(out, 'same'), '--metadata-file', join(out, 'same')], /same file as --digest-file/],
      [['--image-refs', archive], /same file as the image output/],
    ] as const) {
      const r = await run(['image', '--layer', src, '--tag', 'a:1', '--output', archive, ...extra], env);
      assert.equal(r.status, 2, `${extra.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    assert.equal(existsSync(archive), false);
    const inside = await run(['image', '--layer', src, '--tag', 'a:1', '--output', archive, '--digest-file', join(src, 'digest')], env);
    assert.equal(inside.status, 1, inside.stderr);
    assert.match(inside.stderr, /inside the input directory/);
    assert.equal(existsSync(join(src, 'digest')), false);
    assert.equal(existsSync(archive), false);
  });
});
