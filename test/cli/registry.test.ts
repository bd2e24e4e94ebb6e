// The registry commands run as the built bin against a real registry (docker-registry on 127.0.0.1):
// `image --push`, `push`, `pull`, `inspect` of a registry image, read back by skopeo; wrong
// credentials (one line, no password anywhere); SIGINT mid-push (exit 130, no tag, no digest file).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from '../helpers/data.js';
import { tempDir } from '../helpers/tree.js';
import { BIN, binMissing, oneErrorLine, runCliAsync, temporaries, type AsyncRun } from '../helpers/cli.js';
import { registryMissing, skopeoMissing, startProxy, startRegistry, type RunningRegistry, withProxy } from '../helpers/registry.js';
import { skopeo } from '../helpers/registry-image.js';

/** The bin, asynchronously: the test process serves a proxy while the bin runs. Standard input is empty unless given. */
const run = (args: string[], env: NodeJS.ProcessEnv, onStart?: (child: ChildProcess) => void, input?: string): Promise<AsyncRun> =>
  runCliAsync(args, env, { timeoutMs: 120_000, input: input ?? '', ...(onStart ? { onStart } : {}) });

async function tags(host: string, repository: string): Promise<string[]> {
  const res = await fetch(`http://${host}/v2/${repository}/tags/list`);
  if (res.status === 404) return [];
  const body = (await res.json()) as { tags: string[] | null };
  return [...(body.tags ?? [])].sort();
}

const missing = binMissing() ?? registryMissing();

describe('fastlayer registry commands (docker-registry, no auth)', { skip: missing }, () => {
  let registry: RunningRegistry;
  const tmp = tempDir();
  const src = join(tmp.path, 'src');
  const out = join(tmp.path, 'out');
  // No credentials from the machine's own Docker config.
  // Where --push stages its layout: checked empty after every push.
  const stageRoot = join(tmp.path, 'tmpdir');
  const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000', DOCKER_CONFIG: join(tmp.path, 'no-docker-config'), TMPDIR: stageRoot };
  let pushed: { digest: string; layers: string[] };

  before(async () => {
    registry = await startRegistry();
    mkdirSync(join(src, 'bin'), { recursive: true });
    writeFileSync(join(src, 'bin', 'app'), randomBytes(2_000_000, 11), { mode: 0o755 });
    writeFileSync(join(src, 'notes.txt'), 'notes\n'.repeat(5000));
    mkdirSync(out);
    mkdirSync(stageRoot);
  });
  after(async () => {
    await registry?.stop();
    tmp.remove();
  });

  it('image --push: skopeo reads the image back with the digests printed; --tag names in the repository are tags too', async (t) => {
    const ref = `${registry.host}/cli/app:1`;
    const r = await run(['image', '--layer', src, '--tag', `${registry.host}/cli/app:stable`, '--push', ref, '--json', '--entrypoint', '/bin/app'], env);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { digest: string; names: string[]; images: { layers: { digest: string }[] }[]; output: { kind: string } };
    assert.equal(j.output.kind, 'registry');
    pushed = { digest: j.digest, layers: j.images[0]!.layers.map((l) => l.digest) };
    assert.deepEqual(await tags(registry.host, 'cli/app'), ['1', 'stable']);
    assert.deepEqual(readdirSync(stageRoot), [], 'nothing is staged under TMPDIR');
    const noSkopeo = skopeoMissing();
    if (noSkopeo) return t.skip(noSkopeo);
    const info = JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${ref}`])) as { Digest: string; Layers: string[] };
    assert.equal(info.Digest, j.digest);
    assert.deepEqual(info.Layers, pushed.layers);
  });

  it('image --push REG/app:sha-abc --tag latest --tag v1.2.3: three tags, all listed, all read by skopeo', async (t) => {
    const r = await run(['image', '--layer', src, '--push', `${registry.host}/cli/tagged:sha-abc`, '--tag', 'latest', '--tag', 'v1.2.3', '--json', '--entrypoint', '/bin/app'], env);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { digest: string; names: string[] };
    assert.deepEqual(j.names, ['sha-abc', 'latest', 'v1.2.3'].map((tag) => `${registry.host}/cli/tagged:${tag}`));
    assert.deepEqual(await tags(registry.host, 'cli/tagged'), ['latest', 'sha-abc', 'v1.2.3']);
    const noSkopeo = skopeoMissing();
    if (noSkopeo) return t.skip(noSkopeo);
    for (const tag of ['sha-abc', 'latest', 'v1.2.3']) {
      const info = JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${registry.host}/cli/tagged:${tag}`])) as { Digest: string };
      assert.equal(info.Digest, j.digest, tag);
    }
  });

  it('hazard: --tag in another repository is a usage error naming it, before any request (image --push and push)', async () => {
    await withProxy(registry.port, async (proxy) => {
      for (const args of [
        ['image', '--layer', src, '--push', `${proxy.host}/cli/refused:1`, '--tag', 'latest', '--tag', 'other/repo:9'],
        ['push', join(out, 'absent-layout'), `${proxy.host}/cli/refused:1`, '--tag', 'latest', '--tag', 'other/repo:9'],
      ]) {
        const r = await run(args, env);
        assert.equal(r.status, 2, `${args[0]}: ${r.stderr}`);
        assert.ok(oneErrorLine(r.stderr), r.stderr);
        assert.match(r.stderr, /--tag other\/repo:9: .*docker\.io\/other\/repo/);
      }
      assert.deepEqual(proxy.log, [], 'no request reached the registry');
      assert.deepEqual(await tags(registry.host, 'cli/refused'), []);
    });
  });

  it('--no-layer-cache: pushing the same image again streams the layer once, nothing staged, and skips the known config (progress says so)', async () => {
    await withProxy(registry.port, async (proxy) => {
      const r = await run(['image', '--layer', src, '--push', `${proxy.host}/cli/app:again`, '--progress', '--json', '--entrypoint', '/bin/app', '--no-layer-cache'], env);
      assert.equal(r.status, 0, r.stderr);
      const j = JSON.parse(r.stdout) as { digest: string; images: { layers: { size: number }[] }[] };
      assert.equal(j.digest, pushed.digest, 'same inputs, same digest');
      // A streaming layer's digest is known only at its end: it goes up again, exactly once (as ggcr's stream.Layer).
      assert.equal(proxy.bytes['PATCH'] ?? 0, j.images[0]!.layers[0]!.size, 'the layer bytes, once');
      assert.ok((proxy.bytes['PUT'] ?? 0) < 4096, `only the manifest was PUT: ${proxy.bytes['PUT']} bytes`);
      assert.deepEqual(readdirSync(stageRoot), [], 'nothing staged');
      // Plain lines (--progress on a pipe): the known config found by HEAD is one line, "exists"; the
      // streaming layer is named by its place and directory, the same in every run.
      assert.match(r.stderr, /^push [0-9a-f]{12} {2}[0-9.]+ [kM]?B {2}exists$/m);
      assert.match(r.stderr, new RegExp(`^push layer 1 \\(${src.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\) {2}started$`, 'm'));
      assert.match(r.stderr, /^push layer 1 \(.*\) {2}done {2}2\.0 MB {2}[0-9.]+ [kMG]?B\/s {2}[0-9.]+ s$/m);
      assert.doesNotMatch(r.stderr, /%|already present|kept blob|wrote blob/);
    });
  });

  it('--layer-cache-dir: the first push remembers the layer digest, a second push of the unchanged tree uploads no layer bytes', async () => {
    const cacheDir = join(out, 'layer-cache');
    const args = ['image', '--layer', src, '--json', '--entrypoint', '/bin/app', '--layer-cache-dir', cacheDir];
    const first = await run([...args, '--push', `${registry.host}/cli/cached:1`], env);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(readdirSync(cacheDir).length, 1, 'one cache entry for the one directory layer');
    await withProxy(registry.port, async (proxy) => {
      const r = await run([...args, '--push', `${proxy.host}/cli/cached:2`], env);
      assert.equal(r.status, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { digest: string }).digest, (JSON.parse(first.stdout) as { digest: string }).digest);
      assert.equal(proxy.bytes['PATCH'] ?? 0, 0, 'no layer bytes the second time');
      assert.ok((proxy.bytes['PUT'] ?? 0) < 4096, `only the manifest was PUT: ${proxy.bytes['PUT']} bytes`);
    });
  });

  it('pull --output and --oci-dir: skopeo reads both with the pushed digests; inspect reads the registry, the archive and the layout', async (t) => {
    const archive = join(out, 'pulled.tar');
    const layout = join(out, 'pulled-layout');
    const ref = `${registry.host}/cli/app:1`;
    const a = await run(['pull', ref, '--output', archive, '--json'], env);
    assert.equal(a.status, 0, a.stderr);
    assert.equal((JSON.parse(a.stdout) as { digest: string }).digest, pushed.digest);
    assert.deepEqual(temporaries(out), []);
    const l = await run(['pull', ref, '--oci-dir', layout, '-q'], env);
    assert.equal(l.status, 0, l.stderr);
    assert.match(l.stdout, new RegExp(`digest: ${pushed.digest}`));
    for (const source of [ref, `docker://${ref}`, archive, layout]) {
      const i = await run(['inspect', source, '--json'], env);
      assert.equal(i.status, 0, `${source}: ${i.stderr}`);
      const doc = JSON.parse(i.stdout) as { manifest: { descriptor: { digest: string } }; layers: { digest: string }[]; config: { content: { config: { Entrypoint: string[] } } } };
      assert.equal(doc.manifest.descriptor.digest, pushed.digest, source);
      assert.deepEqual(doc.layers.map((x) => x.digest), pushed.layers, source);
      assert.deepEqual(doc.config.content.config.Entrypoint, ['/bin/app']);
    }
    const text = await run(['inspect', ref], env);
    assert.match(text.stdout, /layers: 1, /);
    const noSkopeo = skopeoMissing();
    if (noSkopeo) return t.skip(noSkopeo);
    assert.equal((JSON.parse(skopeo(['inspect', `oci-archive:${archive}`])) as { Digest: string }).Digest, pushed.digest);
    assert.equal((JSON.parse(skopeo(['inspect', `oci:${layout}:1`])) as { Digest: string }).Digest, pushed.digest);
  });

  it('progress on a terminal: one line per blob, redrawn in place, each with a final state', (t) => {
    if (spawnSync('sh', ['-c', 'command -v script']).status !== 0) return t.skip('needs script (util-linux)');
    const quote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
    const underPty = (args: string[]): string => {
      const r = spawnSync('script', ['-qfec', [process.execPath, BIN, ...args].map(quote).join(' '), '/dev/null'], { encoding: 'utf8', timeout: 120_000, env });
      assert.equal(r.status, 0, r.stdout);
      return r.stdout;
    };
    const layer = pushed.layers[0]!.slice(7, 19);
    const pulled = underPty(['pull', `${registry.host}/cli/app:1`, '--output', join(out, 'pty.tar')]);
    assert.match(pulled, new RegExp(`pull ${layer} {2}2\\.0 MB / 2\\.0 MB {2}100% .*done in`), JSON.stringify(pulled.slice(0, 600)));
    assert.ok(pulled.includes('\x1b[K'), 'drawn with clear-line');
    const again = underPty(['push', join(out, 'pulled-layout'), `${registry.host}/cli/app:pty`]);
    assert.match(again, new RegExp(`push ${layer} {2}2\\.0 MB {2}exists`));
    assert.doesNotMatch(again, /0 B \/|already present/, 'a skipped blob shows no transfer');
  });

  it('push SRC NAME pushes an OCI layout and an archive; the tag appears with the same digest', async () => {
    const archive = join(out, 'pulled.tar');
    const layout = join(out, 'pulled-layout');
    for (const [source, repo] of [[layout, 'cli/from-layout'], [archive, 'cli/from-archive']] as const) {
      const r = await run(['push', source, `${registry.host}/${repo}:v1`, '--json'], env);
      assert.equal(r.status, 0, `${source}: ${r.stderr}`);
      assert.equal((JSON.parse(r.stdout) as { digest: string }).digest, pushed.digest);
      assert.deepEqual(await tags(registry.host, repo), ['v1']);
    }
  });

  it('push SRC NAME --tag latest --tag NAME-in-repo: every tag written and printed', async () => {
    const repo = `${registry.host}/cli/push-tags`;
    const r = await run(['push', join(out, 'pulled-layout'), `${repo}:v1`, '--tag', 'latest', '--tag', `${repo}:v1.0`, '--json'], env);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { name: string; names: string[]; digest: string };
    assert.equal(j.digest, pushed.digest);
    assert.equal(j.name, `${repo}:v1`);
    assert.deepEqual(j.names, [`${repo}:v1`, `${repo}:latest`, `${repo}:v1.0`]);
    assert.deepEqual(await tags(registry.host, 'cli/push-tags'), ['latest', 'v1', 'v1.0']);
    const text = await run(['push', join(out, 'pulled-layout'), `${repo}:v2`, '--tag', 'edge'], env);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^name: ${repo}:v2\nname: ${repo}:edge\ndigest: ${pushed.digest}\n`));
  });

  it('a multi-platform image: image --push sends the index; inspect and pull choose a platform', async () => {
    const ref = `${registry.host}/cli/multi:1`;
    const r = await run(['image', '--layer', src, '--platform', 'linux/amd64,linux/arm64', '--push', ref, '--json'], env);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { digest: string; mediaType: string; images: { manifest: { digest: string } }[] };
    assert.equal(j.mediaType, 'application/vnd.oci.image.index.v1+json');
    const i = await run(['inspect', ref, '--platform', 'linux/arm64', '--json'], env);
    assert.equal(i.status, 0, i.stderr);
    const doc = JSON.parse(i.stdout) as { index: { descriptor: { digest: string } }; manifest: { descriptor: { digest: string } }; config: { content: { architecture: string } } };
    assert.equal(doc.index.descriptor.digest, j.digest);
    assert.equal(doc.config.content.architecture, 'arm64');
    assert.ok(j.images.some((m) => m.manifest.digest === doc.manifest.descriptor.digest));
    const p = await run(['pull', ref, '--platform', 'linux/arm64', '--oci-dir', join(out, 'multi'), '--json'], env);
    assert.equal(p.status, 0, p.stderr);
    assert.equal((JSON.parse(p.stdout) as { digest: string }).digest, doc.manifest.descriptor.digest);
    const none = await run(['inspect', ref, '--platform', 'linux/s390x'], env);
    assert.equal(none.status, 1);
    assert.ok(oneErrorLine(none.stderr), none.stderr);
  });

  it('pull --progress into a layout that holds the blobs: each is one line "exists", nothing fetched', async () => {
    const layout = join(out, 'pulled-layout');
    const r = await run(['pull', `${registry.host}/cli/app:1`, '--oci-dir', layout, '--progress'], env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^pull ${pushed.layers[0]!.slice(7, 19)} {2}2\\.0 MB {2}exists$`, 'm'));
    assert.doesNotMatch(r.stderr, /started|done/);
  });

  it('a registry that is not there, an unknown image: one line, exit 1', async () => {
    for (const args of [
      ['pull', `${registry.host}/cli/absent:1`, '--output', join(out, 'absent.tar')],
      ['inspect', `${registry.host}/cli/absent:1`],
      ['push', join(out, 'pulled-layout'), '127.0.0.1:1/x:1'],
    ]) {
      const r = await run(args, env);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(oneErrorLine(r.stderr), `${args.join(' ')}: ${r.stderr}`);
    }
    assert.equal(existsSync(join(out, 'absent.tar')), false);
    assert.deepEqual(temporaries(out), []);
  });

  it('SIGINT mid-push: exit 130, the upload abandoned, no tag written', async () => {
    let started!: () => void;
    const uploading = new Promise<void>((resolve) => (started = resolve));
    // Blob uploads are held: the push is certainly in the middle when the signal comes.
    const proxy = await startProxy(registry.port, {
      intercept: async ({ req, res }) => {
        if (!/\/blobs\/uploads\/./.test(req.url ?? '') || (req.method !== 'PUT' && req.method !== 'PATCH')) return false;
        started();
        req.resume();
        await new Promise((resolve) => req.on('close', resolve));
        res.destroy();
        return true;
      },
    });
    try {
      const big = join(tmp.path, 'big');
      mkdirSync(big);
      writeFileSync(join(big, 'blob'), randomBytes(8_000_000, 12));
      const digestFile = join(out, 'interrupted.digest');
      const r = await run(['image', '--layer', big, '--push', `${proxy.host}/cli/interrupted:1`, '--digest-file', digestFile], env, (child) => {
        void uploading.then(() => child.kill('SIGINT'));
      });
      assert.equal(r.status, 130, r.stderr);
      assert.ok(oneErrorLine(r.stderr)?.includes('interrupted'), r.stderr);
      assert.equal(existsSync(digestFile), false, 'no digest file for an interrupted push');
      assert.deepEqual(temporaries(out), [], 'its temporary file removed');
      assert.deepEqual(await tags(registry.host, 'cli/interrupted'), []);
      assert.deepEqual(readdirSync(stageRoot), [], 'nothing staged, nothing left on Ctrl-C');
    } finally {
      await proxy.close();
    }
  });
});

describe('fastlayer registry commands with credentials (docker-registry, htpasswd)', { skip: missing }, () => {
  const USER = 'alice';
  const PASSWORD = 'Corr3ct-Horse-Battery-Staple-91';
  const WRONG = 'Wr0ng-Zebra-Password-Q7';
  let registry: RunningRegistry;
  const tmp = tempDir();
  const layout = join(tmp.path, 'layout');
  const base = { ...process.env, SOURCE_DATE_EPOCH: '1700000000', DOCKER_CONFIG: join(tmp.path, 'empty-config') };

  function dockerConfig(name: string, password: string): NodeJS.ProcessEnv {
    const dir = join(tmp.path, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${USER}:${password}`).toString('base64') } } }));
    return { ...base, DOCKER_CONFIG: dir };
  }

  function assertNoSecret(r: AsyncRun, secret: string): void {
    const all = `${r.stdout}\n${r.stderr}`;
    for (const form of [secret, Buffer.from(`${USER}:${secret}`).toString('base64'), Buffer.from(secret).toString('base64')]) {
      assert.ok(!all.includes(form), `the output holds a form of the password: ${all}`);
    }
  }

  before(async () => {
    registry = await startRegistry({ kind: 'htpasswd', users: { [USER]: PASSWORD } });
    const src = join(tmp.path, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'f'), randomBytes(100_000, 13));
    const r = await run(['image', '--layer', src, '--tag', 'app:1', '--oci-dir', layout, '-q'], base);
    assert.equal(r.status, 0, r.stderr);
  });
  after(async () => {
    await registry?.stop();
    tmp.remove();
  });

  it('wrong --creds: exit 1, one line, no password in any output', async () => {
    for (const args of [
      ['push', layout, `${registry.host}/auth/app:1`, '--creds', `${USER}:${WRONG}`],
      ['push', layout, `${registry.host}/auth/app:1`, '--creds', `${USER}:${WRONG}`, '--json', '--progress', '--debug'],
      ['inspect', `${registry.host}/auth/app:1`, '--creds', `${USER}:${WRONG}`, '--json'],
    ]) {
      const r = await run(args, base);
      assert.equal(r.status, 1, r.stderr);
      if (!args.includes('--debug')) assert.ok(oneErrorLine(r.stderr), r.stderr);
      assert.match(r.stderr, /unauthorized/, 'docs/CLI.md promises the word');
      assertNoSecret(r, WRONG);
    }
    const none = await run(['push', layout, `${registry.host}/auth/app:1`], base);
    assert.equal(none.status, 1, 'no credentials at all');
    assert.ok(oneErrorLine(none.stderr), none.stderr);
    assert.match(none.stderr, /unauthorized/);
    assert.deepEqual(await tagsWith(registry.host, 'auth/app', USER, PASSWORD), []);
  });

  it('right --creds push and pull; credentials from the Docker config work too; none are printed', async () => {
    const r = await run(['push', layout, `${registry.host}/auth/app:1`, '--creds', `${USER}:${PASSWORD}`, '--json', '--progress'], base);
    assert.equal(r.status, 0, r.stderr);
    assertNoSecret(r, PASSWORD);
    assert.deepEqual(await tagsWith(registry.host, 'auth/app', USER, PASSWORD), ['1']);
    const fromConfig = await run(['inspect', `${registry.host}/auth/app:1`, '--json'], dockerConfig('good', PASSWORD));
    assert.equal(fromConfig.status, 0, fromConfig.stderr);
    assertNoSecret(fromConfig, PASSWORD);
    const wrongConfig = await run(['pull', `${registry.host}/auth/app:1`, '--output', join(tmp.path, 'x.tar')], dockerConfig('bad', WRONG));
    assert.equal(wrongConfig.status, 1, wrongConfig.stderr);
    assert.ok(oneErrorLine(wrongConfig.stderr), wrongConfig.stderr);
    assertNoSecret(wrongConfig, WRONG);
    assert.equal(existsSync(join(tmp.path, 'x.tar')), false);
    assert.ok(readFileSync(join(layout, 'index.json')).length > 0);
  });

  it('--username with --password-stdin: the password stays out of argv; a wrong one fails; misuse is a usage error', async () => {
    const target = `${registry.host}/auth/stdin:1`;
    const good = await run(['push', layout, target, '--username', USER, '--password-stdin', '--json'], base, undefined, `${PASSWORD}\n`);
    assert.equal(good.status, 0, good.stderr);
    assertNoSecret(good, PASSWORD);
    assert.deepEqual(await tagsWith(registry.host, 'auth/stdin', USER, PASSWORD), ['1']);
    const pulled = await run(['inspect', target, '--username', USER, '--password-stdin', '--json'], base, undefined, PASSWORD);
    assert.equal(pulled.status, 0, `no newline at the end is fine too: ${pulled.stderr}`);
    const wrong = await run(['push', layout, `${registry.host}/auth/stdin:2`, '--username', USER, '--password-stdin'], base, undefined, `${WRONG}\r\n`);
    assert.equal(wrong.status, 1, wrong.stderr);
    assert.ok(oneErrorLine(wrong.stderr), wrong.stderr);
    assertNoSecret(wrong, WRONG);
    for (const [args, input, why] of [
      [['--password-stdin'], PASSWORD, /needs --username/],
      [['--username', USER], undefined, /goes with --password-stdin/],
      [['--username', USER, '--password-stdin', '--creds', `${USER}:${PASSWORD}`], PASSWORD, /not both/],
      [['--username', USER, '--password-stdin'], '', /standard input is empty/],
      [['--username', USER, '--password-stdin'], `${PASSWORD}\nsecond line\n`, /more than one line/],
    ] as const) {
      const r = await run(['push', layout, `${registry.host}/auth/stdin:3`, ...args], base, undefined, input);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, why);
      assertNoSecret(r, PASSWORD);
    }
    assert.deepEqual(await tagsWith(registry.host, 'auth/stdin', USER, PASSWORD), ['1']);
  });
});

/** Tags of a repository of the htpasswd registry, asked with the right password. */
async function tagsWith(host: string, repository: string, user: string, password: string): Promise<string[]> {
  const res = await fetch(`http://${host}/v2/${repository}/tags/list`, { headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } });
  if (res.status === 404) return [];
  assert.equal(res.status, 200);
  return [...(((await res.json()) as { tags: string[] | null }).tags ?? [])].sort();
}
