// `fastlayer image` and `fastlayer inspect` of local images, run as the built bin: archives read back
// by skopeo (docker-archive: and oci-archive:), OCI layouts (oci:), reproducible bytes, usage errors
// (exit 2), missing inputs (exit 1, one line), and outputs that never land in or replace an input.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { randomBytes } from '../helpers/data.js';
import { tempDir } from '../helpers/tree.js';
import { sha256 } from '../helpers/layer.js';
import { listLayer } from '../helpers/image.js';
import { BIN, binMissing, oneErrorLine, runCli, runSlowlyRead, temporaries } from '../helpers/cli.js';
import { openOutput } from '../../src/cli/output.js';

function skopeoMissing(): string | undefined {
  return spawnSync('skopeo', ['--version']).status === 0 ? undefined : 'skopeo is not installed: apt-get install skopeo';
}

function skopeo(args: string[]): string {
  const r = spawnSync('skopeo', args, { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`skopeo ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

interface ImageJSON {
  names: string[];
  digest: string;
  mediaType: string;
  size: number;
  images: { manifest: { digest: string }; config: { digest: string }; layers: { digest: string; size: number; mediaType: string }[]; diffIDs: string[] }[];
  output: { kind: string; target: string };
}

describe('fastlayer image (archives and layouts)', { skip: binMissing() }, () => {
  const tmp = tempDir();
  const src = join(tmp.path, 'src');
  const src2 = join(tmp.path, 'src2');
  const out = join(tmp.path, 'out');
  const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000', DOCKER_CONFIG: join(tmp.path, 'docker-config') };
  const cli = (args: string[]) => runCli(args, { env });

  before(() => {
    mkdirSync(join(src, 'bin'), { recursive: true });
    writeFileSync(join(src, 'bin', 'app'), randomBytes(200_000, 3), { mode: 0o755 });
    writeFileSync(join(src, 'hello.txt'), 'hello\n');
    mkdirSync(join(src2, 'etc'), { recursive: true });
    writeFileSync(join(src2, 'etc', 'app.conf'), 'x=1\n');
    mkdirSync(out);
  });
  after(() => tmp.remove());

  it('writes an archive skopeo reads as docker-archive: and oci-archive:, with the digests printed', (t) => {
    const archive = join(out, 'img.tar');
    const r = cli(['image', '--layer', src, '--layer', src2, '--tag', 'app:1', '--tag', 'registry.example/team/app:2', '--output', archive, '--json',
      '--entrypoint', '["/bin/app","--serve"]', '--cmd', 'x', '--env', 'A=1', '--env', 'B=two=2', '--workdir', '/srv', '--user', '1000:1000', '--label', 'org.example=yes']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '', '--json prints nothing else');
    const j = JSON.parse(r.stdout.toString()) as ImageJSON;
    assert.deepEqual(j.names, ['docker.io/library/app:1', 'registry.example/team/app:2']);
    assert.equal(j.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(j.images[0]!.layers.length, 2);
    assert.equal(j.output.kind, 'archive');
    assert.deepEqual(temporaries(out), []);
    const noSkopeo = skopeoMissing();
    if (noSkopeo) return t.skip(noSkopeo);
    const oci = JSON.parse(skopeo(['inspect', `oci-archive:${archive}:1`])) as { Digest: string; Layers: string[] };
    assert.equal(oci.Digest, j.digest);
    assert.deepEqual(oci.Layers, j.images[0]!.layers.map((l) => l.digest));
    const docker = JSON.parse(skopeo(['inspect', `docker-archive:${archive}:registry.example/team/app:2`])) as { Layers: string[]; Labels: Record<string, string>; Env: string[] };
    assert.deepEqual(docker.Layers, j.images[0]!.diffIDs, 'docker-archive: lists the uncompressed digests');
    assert.deepEqual(docker.Labels, { 'org.example': 'yes' });
    const config = JSON.parse(skopeo(['inspect', '--config', `oci-archive:${archive}:1`])) as { created: string; config: Record<string, unknown> };
    assert.deepEqual(config.config['Entrypoint'], ['/bin/app', '--serve']);
    assert.deepEqual(config.config['Cmd'], ['x']);
    assert.deepEqual(config.config['Env'], ['A=1', 'B=two=2']);
    assert.equal(config.config['WorkingDir'], '/srv');
    assert.equal(config.config['User'], '1000:1000');
    assert.equal(config.created, '2023-11-14T22:13:20Z', 'created from SOURCE_DATE_EPOCH');
  });

  it('the same inputs give a byte-identical archive whatever the threads, also through standard output (staged)', () => {
    const a = join(out, 'a.tar');
    const b = join(out, 'b.tar');
    const args = ['image', '--layer', src, '--tag', 'app:1', '-q'];
    assert.equal(cli([...args, '--output', a, '--threads', '1']).status, 0);
    assert.equal(cli([...args, '--output', b, '--threads', '3']).status, 0);
    assert.equal(sha256(readFileSync(a)), sha256(readFileSync(b)));
    const piped = runCli([...args, '--output', '-'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(piped.status, 0, piped.stderr);
    assert.equal(sha256(piped.stdout), sha256(readFileSync(a)));
  });

  it('a slow reader of standard output gets the whole archive (hazard: the bin exited with bytes still queued for stdout)', async () => {
    const slowSrc = join(tmp.path, 'slow-reader');
    mkdirSync(slowSrc);
    writeFileSync(join(slowSrc, 'data.bin'), randomBytes(3 * 1024 * 1024, 5));
    const file = join(out, 'slow-reader.tar');
    assert.equal(cli(['image', '--layer', slowSrc, '--tag', 'app:1', '-q', '--output', file]).status, 0);
    const piped = await runSlowlyRead([BIN, 'image', '--layer', slowSrc, '--tag', 'app:1', '-q', '--output', '-'], env);
    assert.equal(piped.status, 0, piped.stderr);
    const whole = readFileSync(file);
    assert.equal(piped.stdout.length, whole.length, 'every byte reached standard output');
    assert.equal(sha256(piped.stdout), sha256(whole));
  });

  it('--oci-dir writes a layout skopeo reads (oci:), --platform sets the platform', (t) => {
    const dir = join(out, 'layout');
    const r = cli(['image', '--layer', src, '--tag', 'app:3', '--oci-dir', dir, '--platform', 'linux/arm64', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout.toString()) as ImageJSON;
    assert.equal(j.output.kind, 'oci-dir');
    assert.ok(existsSync(join(dir, 'oci-layout')));
    const noSkopeo = skopeoMissing();
    if (noSkopeo) return t.skip(noSkopeo);
    const info = JSON.parse(skopeo(['inspect', `oci:${dir}:3`])) as { Digest: string; Architecture: string };
    assert.equal(info.Digest, j.digest);
    assert.equal(info.Architecture, 'arm64');
  });

  it('--format docker writes a schema 2 manifest that docker-archive: reads', (t) => {
    const archive = join(out, 'docker.tar');
    const r = cli(['image', '--layer', src, '--tag', 'app:4', '--output', archive, '--format', 'docker', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout.toString()) as ImageJSON;
    assert.equal(j.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(j.images[0]!.layers[0]!.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    const noSkopeo = skopeoMissing();
    if (noSkopeo) return t.skip(noSkopeo);
    const info = JSON.parse(skopeo(['inspect', `docker-archive:${archive}`])) as { Layers: string[]; RepoTags: string[] };
    assert.deepEqual(info.Layers, j.images[0]!.diffIDs);
  });

  it('inspect reads an archive and a layout: digest, config, layers; --json holds the manifest and config', () => {
    const archive = join(out, 'inspect.tar');
    const built = cli(['image', '--layer', src, '--tag', 'app:1', '--output', archive, '--json', '--env', 'A=1']);
    const j = JSON.parse(built.stdout.toString()) as ImageJSON;
    const dir = join(out, 'inspect-layout');
    assert.equal(cli(['image', '--layer', src, '--tag', 'app:1', '--oci-dir', dir, '--env', 'A=1', '-q']).status, 0);
    for (const source of [archive, dir]) {
      const r = cli(['inspect', source, '--json']);
      assert.equal(r.status, 0, r.stderr);
      const i = JSON.parse(r.stdout.toString()) as { manifest: { descriptor: { digest: string } }; config: { content: { config: { Env: string[] } } }; layers: { digest: string }[]; names: string[] };
      assert.equal(i.manifest.descriptor.digest, j.digest);
      assert.deepEqual(i.config.content.config.Env, ['A=1']);
      assert.deepEqual(i.layers.map((l) => l.digest), j.images[0]!.layers.map((l) => l.digest));
      assert.deepEqual(i.names, ['docker.io/library/app:1']);
      const text = cli(['inspect', source]);
      assert.equal(text.status, 0, text.stderr);
      assert.match(text.stdout.toString(), new RegExp(`digest: ${j.digest}`));
      assert.match(text.stdout.toString(), /env: A=1/);
    }
  });

  it('inspect reads a docker-save archive without index.json (skopeo docker-archive:): names, config, layer files and diffIDs', (t) => {
    const noSkopeo = skopeoMissing();
    if (noSkopeo) return t.skip(noSkopeo);
    const oci = join(out, 'for-legacy.tar');
    const built = JSON.parse(cli(['image', '--layer', src, '--tag', 'app:1', '--output', oci, '--json', '--env', 'L=1']).stdout.toString()) as ImageJSON;
    const legacy = join(out, 'legacy.tar');
    skopeo(['copy', '-q', `oci-archive:${oci}:1`, `docker-archive:${legacy}:app:legacy`]);
    const r = cli(['inspect', legacy, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const i = JSON.parse(r.stdout.toString()) as { names: string[]; config: { content: { config: { Env: string[] } } }; layers: { diffID: string; size: number }[]; manifest?: unknown };
    assert.deepEqual(i.names, ['docker.io/library/app:legacy']);
    assert.deepEqual(i.config.content.config.Env, ['L=1']);
    assert.deepEqual(i.layers.map((l) => l.diffID), built.images[0]!.diffIDs);
    assert.equal(i.manifest, undefined);
    const text = cli(['inspect', legacy]);
    assert.match(text.stdout.toString(), /format: docker save/);
  });

  it('--compression zstd --level 19: zstd layers (OCI type), same digest on 1 or 3 threads; skopeo reads the layout', (t) => {
    const dirs = [join(out, 'zstd-1'), join(out, 'zstd-3')];
    const results = dirs.map((dir, i) => {
      const r = cli(['image', '--layer', src, '--tag', 'app:zst', '--oci-dir', dir, '--compression', 'zstd', '--level', '19', '--threads', i === 0 ? '1' : '3', '--json']);
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.toString()) as ImageJSON;
    });
    const j = results[0]!;
    assert.equal(results[1]!.digest, j.digest, 'threads do not change the bytes');
    assert.equal(j.images[0]!.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
    const gz = JSON.parse(cli(['image', '--layer', src, '--tag', 'app:gz', '--oci-dir', join(out, 'gz'), '--json']).stdout.toString()) as ImageJSON;
    assert.deepEqual(j.images[0]!.diffIDs, gz.images[0]!.diffIDs, 'same tar, whatever the compression');
    assert.notEqual(j.images[0]!.layers[0]!.digest, gz.images[0]!.layers[0]!.digest);
    const noSkopeo = skopeoMissing();
    if (noSkopeo) return t.skip(noSkopeo);
    const info = JSON.parse(skopeo(['inspect', `oci:${dirs[0]}:zst`])) as { Digest: string; Layers: string[] };
    assert.equal(info.Digest, j.digest);
    assert.deepEqual(info.Layers, [j.images[0]!.layers[0]!.digest]);
    const raw = JSON.parse(skopeo(['inspect', '--raw', `oci:${dirs[0]}:zst`])) as { layers: { mediaType: string }[] };
    assert.equal(raw.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
  });

  it('--layer FILE.tar.gz: reused byte-for-byte beside a directory layer (skopeo reads it); FILE:/DEST is exit 2; a broken one exit 1, no archive', (t) => {
    const plain = join(out, 'made-by-tar.tar');
    const r0 = spawnSync('tar', ['-C', src2, '-cf', plain, '.']);
    if (r0.status !== 0) return t.skip('tar is not installed');
    const gz = gzipSync(readFileSync(plain));
    const gzPath = join(out, 'made-by-tar.tgz');
    writeFileSync(gzPath, gz);
    const archive = join(out, 'tar-layers.tar');
    const r = cli(['image', '--layer', src, '--layer', gzPath, '--layer', plain, '--tag', 'app:1', '--output', archive, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout.toString()) as ImageJSON;
    assert.deepEqual(j.images[0]!.layers[1], { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${sha256(gz)}`, size: gz.length });
    assert.deepEqual(j.images[0]!.diffIDs.slice(1), [`sha256:${sha256(readFileSync(plain))}`, `sha256:${sha256(readFileSync(plain))}`]);

    const dest = cli(['image', '--layer', `${gzPath}:/app`, '--tag', 'app:1', '--output', join(out, 'never.tar')]);
    assert.equal(dest.status, 2, dest.stderr);
    assert.ok(oneErrorLine(dest.stderr), dest.stderr);
    const broken = join(out, 'broken.tgz');
    writeFileSync(broken, gz.subarray(0, gz.length - 30));
    const bad = cli(['image', '--layer', broken, '--tag', 'app:1', '--output', join(out, 'never.tar')]);
    assert.equal(bad.status, 1, bad.stderr);
    assert.match(oneErrorLine(bad.stderr) ?? '', /truncated or corrupt/);
    assert.equal(existsSync(join(out, 'never.tar')), false);
    assert.deepEqual(temporaries(out), []);
    const noSkopeo = skopeoMissing();
    if (noSkopeo) return t.skip(noSkopeo);
    const oci = JSON.parse(skopeo(['inspect', `oci-archive:${archive}:1`])) as { Layers: string[] };
    assert.deepEqual(oci.Layers, j.images[0]!.layers.map((l) => l.digest));
    const docker = JSON.parse(skopeo(['inspect', `docker-archive:${archive}:app:1`])) as { Layers: string[] };
    assert.deepEqual(docker.Layers, j.images[0]!.diffIDs);
  });

  it('bad arguments are usage errors (exit 2, one line)', () => {
    const archive = join(out, 'never.tar');
    const cases: string[][] = [
      ['image', '--layer', src, '--output', archive],
      ['image', '--tag', 'app:1', '--output', archive],
      ['image', '--layer', src, '--tag', 'app:1'],
      ['image', '--layer', src, '--tag', 'app:1', '--output', archive, '--oci-dir', join(out, 'd')],
      ['image', '--layer', src, '--tag', 'app:1', '--output', archive, '--env', 'NOEQUALS'],
      ['image', '--layer', src, '--tag', 'app:1', '--output', archive, '--label', '=v'],
      ['image', '--layer', src, '--tag', 'app:1', '--output', archive, '--platform', 'linux'],
      ['image', '--layer', src, '--tag', 'app:1', '--output', archive, '--entrypoint', '["unclosed"'],
      ['image', '--layer', src, '--tag', 'app:1', '--output', archive, '--format', 'v1'],
      ['image', '--layer', src, '--tag', 'app:1', '--output', archive, '--level', '12'],
      ['image', '--layer', src, '--tag', 'app:1', '--output', archive, '--threads', '0'],
      ['image', '--layer', src, '--tag', 'app:1', '--output', archive, '--compression', 'lz4'],
      ['image', '--layer', src, '--tag', 'app:1', '--output', archive, '--compression', 'zstd', '--level', '0'],
      ['image', '--layer', src, '--tag', 'app:1', '--output', archive, '--compression', 'zstd', '--level', '20'],
      ['image', '--layer', src, '--tag', 'app:1', '--output', archive, '--compression', 'zstd', '--format', 'docker'],
      ['image', '--layer', src, '--tag', 'app:1', '--output', archive, '--compression', 'none', '--format', 'docker'],
      ['image', '--layer', src, '--tag', 'Not/Valid:Tag:x', '--output', archive],
      ['image', '--layer', src, '--tag', 'app:1', '--output', archive, '--no-such-flag'],
      ['image', '--layer', src, '--tag', 'app:1', '--output', archive, '--tag'],
      ['image', src, '--tag', 'app:1', '--output', archive],
      ['image', '--layer', src, '--tag', 'app:1', '--output', '-', '--json'],
      ['image', '--layer', src, '--tag', 'app:1', '--push', 'UPPER/case'],
      // A --tag outside the pushed repository: refused before the (unreachable) registry is tried.
      ['image', '--layer', src, '--tag', 'app:1', '--push', '127.0.0.1:1/app:x'],
      ['image', '--layer', src, '--tag', 'latest', '--tag', '127.0.0.1:1/other:1', '--push', '127.0.0.1:1/app:x'],
      ['push', src, '127.0.0.1:1/app:x', '--tag', 'other/app:1'],
      ['push', src, '127.0.0.1:1/app:x', '--tag', 'Bad/Name'],
      ['inspect'],
      ['inspect', 'a', 'b'],
      ['pull', 'app:1'],
      ['pull', 'app:1', '--output', 'x.tar', '--oci-dir', 'd'],
      ['push', src],
      ['push', src, 'app:1', '--creds', 'nocolon'],
    ];
    for (const args of cases) {
      const r = cli(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(oneErrorLine(r.stderr), `${args.join(' ')}: one line: ${r.stderr}`);
    }
    assert.equal(existsSync(archive), false);
    assert.deepEqual(temporaries(out), []);
  });

  it('missing inputs fail in one line (exit 1) before any output is created', () => {
    const archive = join(out, 'missing.tar');
    for (const args of [
      ['image', '--layer', join(tmp.path, 'absent'), '--tag', 'app:1', '--output', archive],
      ['image', '--layer', src, '--base', join(tmp.path, 'absent.tar'), '--tag', 'app:1', '--output', archive],
      ['image', '--layer', join(src, 'hello.txt'), '--tag', 'app:1', '--output', archive],
      ['push', join(tmp.path, 'absent'), '127.0.0.1:1/x:1'],
      ['inspect', join(tmp.path, 'absent-dir') + '/'],
    ]) {
      const r = cli(args);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(oneErrorLine(r.stderr), `${args.join(' ')}: one line: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    assert.equal(existsSync(archive), false);
  });

  it('hazard: an output inside a layer directory is refused, and the directory is left as it was', () => {
    const before = readdirSync(src).sort();
    for (const args of [
      ['image', '--layer', src, '--tag', 'app:1', '--output', join(src, 'img.tar')],
      ['image', '--layer', src2, '--layer', src, '--tag', 'app:1', '--output', join(src, 'bin', 'img.tar')],
      ['image', '--layer', src, '--tag', 'app:1', '--oci-dir', join(src, 'layout')],
      ['image', '--layer', src, '--tag', 'app:1', '--oci-dir', src],
    ]) {
      const r = cli(args);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(oneErrorLine(r.stderr) ?? '', /refusing to write .*inside the input directory/);
    }
    assert.deepEqual(readdirSync(src).sort(), before);
  });

  it('hazard: --layer DIR:DEST with a DEST component named .wh.* is a usage error (it would delete that lower path), nothing written', () => {
    for (const dest of ['/.wh.etc', '/app/.wh.x']) {
      const layout = join(out, `wh-dest-${dest.length}`);
      const r = cli(['image', '--layer', `${src}:${dest}`, '--tag', 'app:1', '--oci-dir', layout]);
      assert.equal(r.status, 2, `${dest}: ${r.stderr}`);
      assert.match(oneErrorLine(r.stderr) ?? '', /--layer: .*\.wh\.\*.*whiteout/);
      assert.equal(existsSync(layout), false);
    }
  });

  it('--keep-whiteout-files writes a .wh.* entry and a .wh.* DEST as they are (refused without it)', async () => {
    const wh = join(tmp.path, 'wh-src');
    mkdirSync(wh);
    writeFileSync(join(wh, '.wh.gone'), '');
    writeFileSync(join(wh, 'kept.txt'), 'kept\n');
    const refused = cli(['image', '--layer', wh, '--tag', 'app:1', '--oci-dir', join(out, 'wh-refused')]);
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(oneErrorLine(refused.stderr) ?? '', /\.wh\.gone.*--keep-whiteout-files/);
    const layout = join(out, 'wh-kept');
    const r = cli(['image', '--layer', wh, '--layer', `${src2}:/.wh.etc`, '--keep-whiteout-files', '--tag', 'app:1', '--oci-dir', layout, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout.toString()) as ImageJSON;
    const [first, second] = j.images[0]!.layers.map((l) => join(layout, 'blobs', 'sha256', l.digest.slice('sha256:'.length)));
    assert.deepEqual((await listLayer(first!)).map((e) => e.name).sort(), ['.wh.gone', 'kept.txt']);
    assert.ok((await listLayer(second!)).some((e) => e.name === '.wh.etc/etc/app.conf'), 'the DEST is written as given');
  });

  it('--base-name chooses the base among the images of a layout; without it the error names the flag', async () => {
    const two = join(out, 'two-images');
    for (const [dir, tag] of [[src, 'a:1'], [src2, 'b:1']] as const) {
      const r = cli(['image', '--layer', dir, '--tag', tag, '--oci-dir', two, '-q']);
      assert.equal(r.status, 0, r.stderr);
    }
    const unnamed = cli(['image', '--layer', src, '--base', two, '--tag', 'c:1', '--oci-dir', join(out, 'c-unnamed')]);
    assert.equal(unnamed.status, 1, unnamed.stderr);
    assert.match(oneErrorLine(unnamed.stderr) ?? '', /several images.*--base-name/);
    const layout = join(out, 'c-on-b');
    const r = cli(['image', '--layer', src, '--base', two, '--base-name', 'b:1', '--tag', 'c:1', '--oci-dir', layout, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout.toString()) as ImageJSON;
    const [baseLayer] = j.images[0]!.layers.map((l) => join(layout, 'blobs', 'sha256', l.digest.slice('sha256:'.length)));
    assert.ok((await listLayer(baseLayer!)).some((e) => e.name === 'etc/app.conf'), 'the base is b:1 (src2), not a:1');
    for (const [args, message] of [
      [['--base-name', 'b:1'], /--base-name goes with --base/],
      [['--base', 'docker://registry.example/x:1', '--base-name', 'b:1'], /--base-name is for a layout or archive base/],
    ] as const) {
      const bad = cli(['image', '--layer', src, ...args, '--tag', 'c:1', '--oci-dir', join(out, 'c-bad')]);
      assert.equal(bad.status, 2, bad.stderr);
      assert.match(oneErrorLine(bad.stderr) ?? '', message);
    }
  });

  it('hazard: a replaced archive keeps its permission bits (a private 0600 file stays private)', () => {
    const archive = join(out, 'private.tar');
    writeFileSync(archive, 'old', { mode: 0o600 });
    chmodSync(archive, 0o600);
    const r = cli(['image', '--layer', src, '--tag', 'app:1', '--output', archive, '-q']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(statSync(archive).mode & 0o777, 0o600);
    assert.ok(statSync(archive).size > 1024, 'replaced by the archive');
  });

  it('hazard: a failed build leaves an existing archive as it was (no truncation, no temporary file)', () => {
    const archive = join(out, 'keep.tar');
    writeFileSync(archive, 'precious');
    const notABase = join(tmp.path, 'not-a-base.tar');
    writeFileSync(notABase, randomBytes(4096, 9));
    const r = cli(['image', '--layer', src, '--base', notABase, '--tag', 'app:1', '--output', archive]);
    assert.equal(r.status, 1, r.stderr);
    assert.ok(oneErrorLine(r.stderr), r.stderr);
    assert.equal(readFileSync(archive, 'utf8'), 'precious');
    assert.deepEqual(temporaries(out), []);
    assert.deepEqual(readdirSync(out).filter((n) => n.startsWith('.')), [], 'no temporary file of the archive writer either');
  });

  it('npm start (no arguments): a layer descriptor, then an image archive of the same directory, its name, digest and path', (t) => {
    const tmpRoot = join(tmp.path, 'tmpdir');
    mkdirSync(tmpRoot);
    const r = runCli([], { env: { ...env, TMPDIR: tmpRoot } });
    assert.equal(r.status, 0, r.stderr);
    const stdout = r.stdout.toString();
    assert.match(stdout, /"diffID": "sha256:[0-9a-f]{64}"/, 'the layer descriptor');
    assert.match(stdout, /^name: docker\.io\/library\/fastlayer-demo:latest$/m);
    const digest = /^digest: (sha256:[0-9a-f]{64})$/m.exec(stdout)?.[1];
    assert.ok(digest, stdout);
    const path = / written to (\S+fastlayer-demo\.tar) in /.exec(r.stderr)?.[1];
    assert.ok(path && path.startsWith(tmpRoot) && existsSync(path), `archive path in: ${r.stderr}`);
    const noSkopeo = skopeoMissing();
    if (noSkopeo) return t.skip(noSkopeo);
    assert.equal((JSON.parse(skopeo(['inspect', `oci-archive:${path}`])) as { Digest: string }).Digest, digest);
  });

  // Needs buildImage's directory options (src/build/dir-layer.ts, branch imgtar): without them DIR:/DEST
  // is refused and the other flags are not applied, and this test fails.
  it('directory flags reach every layer: DIR:/DEST, --exclude, --mtime, --owner (skopeo oci-archive: reads it)', async () => {
    const archive = join(out, 'dirs.tar');
    mkdirSync(join(src2, 'cache'), { recursive: true });
    writeFileSync(join(src2, 'cache', 'junk'), 'junk');
    const r = cli(['image', '--layer', `${src2}:/opt/app`, '--exclude', 'cache', '--mtime', '1000', '--owner', '5:6', '--tag', 'app:1', '--output', archive, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout.toString()) as ImageJSON;
    const unpacked = join(out, 'dirs');
    mkdirSync(unpacked);
    assert.equal(spawnSync('tar', ['-xf', archive, '-C', unpacked]).status, 0);
    const layer = join(unpacked, 'blobs', 'sha256', j.images[0]!.layers[0]!.digest.slice(7));
    const list = spawnSync('tar', ['--numeric-owner', '--full-time', '-tvzf', layer], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
    assert.equal(list.status, 0, list.stderr);
    const lines = list.stdout.trim().split('\n');
    const names = lines.map((l) => l.split(/\s+/).pop());
    assert.ok(names.includes('opt/app/etc/app.conf'), list.stdout);
    assert.ok(!names.some((n) => n?.includes('cache')), `excluded: ${list.stdout}`);
    for (const l of lines) {
      assert.match(l, / 5\/6 /, l);
      assert.match(l, /1970-01-01 00:16:40/, l);
    }
  });

  it('hazard: an output discarded before any byte was written closes its descriptor once (no EBADF crash)', async () => {
    const target = join(out, 'discarded.tar');
    for (let i = 0; i < 20; i++) {
      const o = await openOutput(target, [], new AbortController().signal);
      await o.discard();
    }
    // The stream's own close ran (or would have) on a later tick: give it the chance to fail.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(existsSync(target), false);
    assert.deepEqual(temporaries(out), []);
    // And through the bin: a base that is an empty directory fails after the output was opened.
    const empty = join(tmp.path, 'empty-base');
    mkdirSync(empty);
    const r = cli(['image', '--layer', src, '--base', empty, '--tag', 'app:1', '--output', target]);
    assert.equal(r.status, 1, r.stderr);
    assert.ok(oneErrorLine(r.stderr), r.stderr);
  });

  it('hazard: SIGINT mid-build: exit 130, no archive, no temporary file of either writer', async () => {
    const big = join(tmp.path, 'big');
    mkdirSync(big);
    writeFileSync(join(big, 'random'), randomBytes(48_000_000, 21));
    const dir = join(out, 'interrupted');
    mkdirSync(dir);
    const child = spawn(process.execPath, [BIN, 'image', '--layer', big, '--tag', 'app:1', '--output', join(dir, 'img.tar'), '--level', '9', '--threads', '1'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = once(child, 'exit');
    // Signal once the output's temporary file exists: the run is certainly under way.
    for (let i = 0; i < 400 && readdirSync(dir).length === 0 && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(child.exitCode, null, `still running when signalled: ${stderr}`);
    child.kill('SIGINT');
    const [code] = await exited;
    assert.equal(code, 130, stderr);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('help lists the new commands', () => {
    const r = cli(['help']);
    assert.equal(r.status, 0);
    for (const c of ['image', 'push', 'pull', 'inspect']) assert.match(r.stdout.toString(), new RegExp(`\\b${c}\\b`));
    const h = cli(['image', '--help']);
    assert.match(h.stdout.toString(), /--oci-dir DIR/);
  });
});
