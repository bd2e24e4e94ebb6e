// buildImage: what `fastlayer image` runs with its parsed flags, called the way the CLI will.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, existsSync, symlinkSync, utimesSync, cpSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { buildImage, parseCommand, parseLayerArg, type BuildSpec } from '../../src/build/build.js';
import { parseMtimeArg, parseOwnerArg } from '../../src/build/dir-layer.js';
import type { WriteResult } from '../../src/image/write.js';
import { OciLayout } from '../../src/layout/layout.js';
import type { Destination } from '../../src/image/types.js';
import { listLayer, listTar, missing, mustRun, tempDir, type LayerEntry } from '../helpers/image.js';

const out1Path = (dir: string): string => join(dir, 'x.tar');

describe('buildImage (fastlayer image)', () => {
  const tmp = tempDir('fastlayer-build-');
  const one = join(tmp.path, 'one');
  const two = join(tmp.path, 'two');
  before(() => {
    mkdirSync(one);
    writeFileSync(join(one, 'a'), 'a\n');
    mkdirSync(two);
    writeFileSync(join(two, 'b'), 'b\n');
  });
  after(() => tmp.remove());

  it('parses --layer DIR[:DEST] and --entrypoint/--cmd JSON|STRING as documented', () => {
    assert.deepEqual(parseLayerArg('dist'), { dir: 'dist' });
    assert.deepEqual(parseLayerArg('dist:/app'), { dir: 'dist', dest: '/app' });
    assert.deepEqual(parseLayerArg('C:stuff'), { dir: 'C:stuff' }, 'DEST must be absolute');
    assert.deepEqual(parseCommand('cmd', '["node","main.js"]'), ['node', 'main.js']);
    assert.deepEqual(parseCommand('cmd', '/bin/app --flag'), ['/bin/app --flag']);
    assert.throws(() => parseCommand('cmd', '[not json'), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    assert.throws(() => parseCommand('cmd', '[1]'), { code: 'ERR_OPTION_OUT_OF_RANGE' });
  });

  it('writes an archive with the flags applied, twice byte-identical, then a layout on top of it as base', async () => {
    const spec = {
      layers: [one, `${two}:/`], entrypoint: '["/bin/sh","-c"]', cmd: 'echo hi', env: ['A=1', 'B=x=y'], workdir: '/w', user: 'nobody',
      labels: ['k=v'], platform: 'linux/arm64', tags: ['app:1', 'app:latest'],
    };
    const out1 = join(tmp.path, 'x.tar');
    const out2 = join(tmp.path, 'y.tar');
    const r1 = await buildImage({ ...spec, output: out1 });
    const r2 = await buildImage({ ...spec, output: out2 });
    assert.ok(readFileSync(out1).equals(readFileSync(out2)));
    assert.deepEqual(r1.names, ['docker.io/library/app:1', 'docker.io/library/app:latest']);
    const entries = await listTar(out1);
    const config = JSON.parse(entries.find((e) => e.name === `blobs/sha256/${r1.images[0]!.config.digest.slice(7)}`)!.data!.toString());
    assert.deepEqual(config.config, { Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo hi'], Env: ['A=1', 'B=x=y'], WorkingDir: '/w', User: 'nobody', Labels: { k: 'v' } });
    assert.equal(config.architecture, 'arm64');
    assert.equal(config.history.length, 2);
    assert.equal(r2.digest, r1.digest);

    const dir = join(tmp.path, 'oci');
    const r3 = await buildImage({ layers: [two], base: out1, platform: 'linux/arm64', tags: ['next:1'], ociDir: dir, user: 'root' });
    assert.deepEqual(r3.images[0]!.layers.slice(0, 2).map((l) => l.digest), r1.images[0]!.layers.map((l) => l.digest));
    assert.ok(existsSync(join(dir, 'index.json')));
    const why = missing('skopeo');
    if (!why) {
      const inspected = JSON.parse(mustRun('skopeo', ['inspect', '--config', `oci:${dir}:1`]));
      assert.equal(inspected.config.User, 'root');
      assert.deepEqual(inspected.config.Entrypoint, ['/bin/sh', '-c'], 'inherited from the base');
    }
  });

  it('--platform a,b builds an index: one image per platform, the directory layers written once, each on its base', async () => {
    const baseIndex = join(tmp.path, 'base-multi');
    await buildImage({ layers: [one], platform: 'linux/amd64,linux/arm64', tags: ['base:multi'], ociDir: baseIndex, env: ['BASE=1'] });
    const out = join(tmp.path, 'multi.tar');
    const r = await buildImage({ layers: [two], base: baseIndex, platform: 'linux/amd64, linux/arm64', tags: ['multi:1'], output: out });
    assert.equal(r.descriptor.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.equal(r.images.length, 2);
    assert.equal(r.images[0]!.layers[1]!.digest, r.images[1]!.layers[1]!.digest, 'the directory layer is shared');
    assert.notEqual(r.images[0]!.config.digest, r.images[1]!.config.digest, 'configs differ by platform');
    const entries = await listTar(out);
    const blobs = entries.filter((e) => e.name.startsWith('blobs/sha256/') && e.type === 'file').map((e) => e.name);
    assert.equal(new Set(blobs).size, blobs.length);
    for (const img of r.images) {
      const config = JSON.parse(entries.find((e) => e.name === `blobs/sha256/${img.config.digest.slice(7)}`)!.data!.toString());
      assert.deepEqual(config.config.Env, ['BASE=1']);
    }
    await assert.rejects(buildImage({ layers: [two], base: out1Path(tmp.path), platform: 'linux/amd64', tags: ['x:1'], output: join(tmp.path, 'mismatch.tar') }), { code: 'ERR_BASE_IMAGE', message: /linux\/arm64, not linux\/amd64/ });
  });

  it('the same tree at another path gives the same image digest (no local path in the image)', async () => {
    const copy = join(tmp.path, 'elsewhere', 'deeper');
    mkdirSync(copy, { recursive: true });
    writeFileSync(join(copy, 'a'), 'a\n');
    const { utimesSync, statSync } = await import('node:fs');
    const st = statSync(join(one, 'a'));
    utimesSync(join(copy, 'a'), st.atime, st.mtime);
    utimesSync(copy, statSync(one).atime, statSync(one).mtime);
    const a = await buildImage({ layers: [one], tags: ['same:1'], output: join(tmp.path, 'same-a.tar') });
    const b = await buildImage({ layers: [copy], tags: ['same:1'], output: join(tmp.path, 'same-b.tar') });
    assert.equal(b.digest, a.digest);
  });

  it('refuses what the command line must refuse, with coded errors and no output', async () => {
    const out = join(tmp.path, 'never.tar');
    await assert.rejects(buildImage({ layers: [one], tags: [], output: out }), { code: 'ERR_INVALID_OPTION' });
    await assert.rejects(buildImage({ layers: [one], tags: ['a'], output: out, ociDir: join(tmp.path, 'd') }), { code: 'ERR_INVALID_OPTION' });
    await assert.rejects(buildImage({ layers: [one], tags: ['Not Valid'], output: out }), { code: 'ERR_INVALID_REFERENCE' });
    await assert.rejects(buildImage({ layers: [one], tags: ['a'], output: out, env: ['NOVALUE'] }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    await assert.rejects(buildImage({ layers: [one], tags: ['a'], output: out, base: join(tmp.path, 'missing.tar') }), { code: 'ERR_BASE_IMAGE' });
    await assert.rejects(buildImage({ layers: [join(tmp.path, 'no-such-dir')], tags: ['a'], output: out }), { code: 'ERR_TAR_SOURCE' });
    assert.ok(!existsSync(out));
  });
});

/** Builds `spec` into a fresh layout and returns the result, the config and each layer's entries. */
async function built(dir: string, spec: Omit<BuildSpec, 'tags' | 'ociDir' | 'output'>): Promise<{ r: WriteResult; config: any; layers: LayerEntry[][] }> {
  const r = await buildImage({ ...spec, tags: ['t:1'], ociDir: dir });
  const blob = (digest: string) => join(dir, 'blobs', 'sha256', digest.slice(7));
  const config = JSON.parse(readFileSync(blob(r.images[0]!.config.digest), 'utf8'));
  const layers = [];
  for (const l of r.images[0]!.layers) layers.push(await listLayer(blob(l.digest)));
  return { r, config, layers };
}

const namesOf = (entries: LayerEntry[]) => entries.map((e) => e.name + (e.type === 'directory' ? '/' : ''));

async function withEpoch<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.SOURCE_DATE_EPOCH;
  if (value === undefined) delete process.env.SOURCE_DATE_EPOCH;
  else process.env.SOURCE_DATE_EPOCH = value;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = saved;
  }
}

describe('buildImage directory options (DIR:/DEST, exclude, .dockerignore, mtime, owner, whiteouts)', () => {
  const tmp = tempDir('fastlayer-build-dir-');
  let n = 0;
  const out = () => join(tmp.path, `out-${++n}`);
  const ctx = join(tmp.path, 'ctx');
  before(() => {
    mkdirSync(join(ctx, 'build'), { recursive: true });
    mkdirSync(join(ctx, 'sub'));
    writeFileSync(join(ctx, '.dockerignore'), '# as docker build reads it\n*.log\nbuild\n');
    for (const f of ['a.log', 'keep.log', 'app.js', 'build/out.js', 'sub/x.log']) writeFileSync(join(ctx, f), `${f}\n`);
  });
  after(() => tmp.remove());

  it('DIR:/DEST puts the files under DEST with its parents; the history names DEST, never the local path', async () => {
    const { config, layers } = await built(out(), { layers: [`${ctx}:/srv/app/`], dockerignore: false });
    assert.deepEqual(namesOf(layers[0]!), ['srv/', 'srv/app/', 'srv/app/.dockerignore', 'srv/app/a.log', 'srv/app/app.js', 'srv/app/build/', 'srv/app/build/out.js', 'srv/app/keep.log', 'srv/app/sub/', 'srv/app/sub/x.log']);
    assert.equal(layers[0]!.find((e) => e.name === 'srv/app/app.js')!.data.toString(), 'app.js\n');
    assert.deepEqual(config.history.map((h: { created_by: string }) => h.created_by), ['fastlayer image --layer DIR:/srv/app']);
    assert.ok(!JSON.stringify(config).includes(tmp.path), 'no local path in the config');
    const { layers: root } = await built(out(), { layers: [`${ctx}:/`, { dir: ctx, dest: '/./' }], dockerignore: false });
    assert.equal(root[0]![0]!.name, '.dockerignore', 'DEST / is the root: no prefix entry');
    assert.deepEqual(namesOf(root[1]!), namesOf(root[0]!));
  });

  it('DIR/.dockerignore is honoured by default as docker build does (the file itself stays); exclude comes after it; false or another file', async () => {
    const { layers: byDefault } = await built(out(), { layers: [ctx] });
    assert.deepEqual(namesOf(byDefault[0]!), ['.dockerignore', 'app.js', 'sub/', 'sub/x.log'], '*.log only at the top, as Docker matches');
    const exclude = ['sub', '!keep.log'];
    const { layers: more } = await built(out(), { layers: [ctx, { dir: ctx, exclude: ['app.js'] }], exclude });
    assert.deepEqual(namesOf(more[0]!), ['.dockerignore', 'app.js', 'keep.log'], '--exclude re-includes over the file');
    assert.deepEqual(namesOf(more[1]!), ['.dockerignore', 'keep.log'], "a layer's own patterns add to the build's");
    assert.deepEqual(exclude, ['sub', '!keep.log'], "the caller's array is not written to");
    const { layers: off } = await built(out(), { layers: [ctx], dockerignore: false });
    assert.equal(off[0]!.length, 8);
    const other = join(tmp.path, 'other.dockerignore');
    writeFileSync(other, 'app.js\r\nbuild\r\n');
    const { layers: named } = await built(out(), { layers: [{ dir: ctx, dockerignore: other }] });
    assert.deepEqual(namesOf(named[0]!), ['.dockerignore', 'a.log', 'keep.log', 'sub/', 'sub/x.log']);
  });

  it('a .dockerignore that is a symlink, a FIFO or a directory is refused (ERR_TAR_SOURCE) before any output, without blocking', async () => {
    const secret = join(tmp.path, 'secret');
    writeFileSync(secret, 'app.js\n');
    const cases: [string, (p: string) => void][] = [
      ['symlink', (p) => symlinkSync(secret, p)],
      ['fifo', (p) => assert.equal(spawnSync('mkfifo', [p]).status, 0)],
      ['directory', (p) => mkdirSync(p)],
    ];
    for (const [kind, make] of cases) {
      const dir = join(tmp.path, `ctx-${kind}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'app.js'), '1\n');
      make(join(dir, '.dockerignore'));
      const target = out();
      await assert.rejects(buildImage({ layers: [dir], tags: ['t:1'], ociDir: target }), { code: 'ERR_TAR_SOURCE', message: /\.dockerignore/ }, kind);
      assert.ok(!existsSync(target), `${kind}: nothing written`);
      const { layers } = await built(out(), { layers: [dir], dockerignore: false });
      assert.ok(namesOf(layers[0]!).includes('app.js'), `${kind}: dockerignore: false builds`);
    }
    await assert.rejects(buildImage({ layers: [{ dir: ctx, dockerignore: join(tmp.path, 'none') }], tags: ['t:1'], ociDir: out() }), { code: 'ERR_TAR_SOURCE' });
  });

  it('--mtime and --owner strings as the command line passes them; a layer may set its own', async () => {
    const dir = join(tmp.path, 'times');
    mkdirSync(dir);
    writeFileSync(join(dir, 'f'), 'f\n');
    utimesSync(join(dir, 'f'), 5000, 5000);
    const { layers } = await built(out(), {
      layers: [`${dir}:/x`, { dir, mtime: '2001-02-03T04:05:06Z', owner: '7' }, { dir, mtime: 'keep', owner: 'keep' }],
      mtime: 'clamp:1000', owner: '1000:2000',
    });
    assert.deepEqual(layers[0]!.map((e) => [e.name, e.mtime, e.uid, e.gid]), [['x', 1000, 1000, 2000], ['x/f', 1000, 1000, 2000]]);
    assert.deepEqual(layers[1]!.map((e) => [e.name, e.mtime, e.uid, e.gid]), [['f', 981173106, 7, 7]]);
    const own = process.getuid?.() ?? 0;
    assert.deepEqual(layers[2]!.map((e) => [e.name, e.mtime, e.uid]), [['f', 5000, own]]);
    assert.deepEqual(parseMtimeArg('clamp:2001-02-03T04:05:06+01:00'), { clamp: new Date('2001-02-03T03:05:06Z') });
    assert.equal(parseMtimeArg('0'), 0);
    assert.deepEqual(parseOwnerArg('0:0'), { owner: { uid: 0, gid: 0 } });
  });

  it('the flags as node:util parseArgs returns them go into buildImage unchanged (--layer, --exclude, --mtime, --owner, absent flags)', async () => {
    const flags = {
      layer: { type: 'string', multiple: true }, exclude: { type: 'string', multiple: true }, mtime: { type: 'string' }, owner: { type: 'string' },
      tag: { type: 'string', multiple: true }, 'oci-dir': { type: 'string' },
    } as const;
    const dir = out();
    const { values } = parseArgs({ args: ['--layer', `${ctx}:/app`, '--exclude', 'sub', '--exclude', '!keep.log', '--mtime', 'clamp:1000', '--owner', '1000', '--tag', 'cli:1', '--oci-dir', dir], options: flags });
    const r = await buildImage({ layers: values.layer!, exclude: values.exclude, mtime: values.mtime, owner: values.owner, tags: values.tag!, ociDir: values['oci-dir'] });
    const layer = await listLayer(join(dir, 'blobs', 'sha256', r.images[0]!.layers[0]!.digest.slice(7)));
    assert.deepEqual(layer.map((e) => [e.name, e.mtime, e.uid, e.gid]), [
      ['app', 1000, 1000, 1000], ['app/.dockerignore', 1000, 1000, 1000], ['app/app.js', 1000, 1000, 1000], ['app/keep.log', 1000, 1000, 1000],
    ]);
    const bare = parseArgs({ args: ['--layer', ctx, '--tag', 'cli:1', '--oci-dir', out()], options: flags }).values;
    const plain = await buildImage({ layers: bare.layer!, exclude: bare.exclude, mtime: bare.mtime, owner: bare.owner, tags: bare.tag!, ociDir: bare['oci-dir'] });
    assert.equal(plain.images[0]!.layers.length, 1, 'absent flags (undefined) are the defaults');
  });

  it("a layer's whiteouts and opaque directories are marker entries of that layer", async () => {
    const dir = join(tmp.path, 'wh');
    mkdirSync(dir);
    writeFileSync(join(dir, 'new'), 'n\n');
    const { layers } = await built(out(), { layers: [{ dir, dest: '/opt', whiteouts: ['/etc/old.conf', '/opt/gone'], opaqueDirs: ['/var/cache'] }] });
    assert.deepEqual(namesOf(layers[0]!), ['etc/', 'etc/.wh.old.conf', 'opt/', 'opt/.wh.gone', 'opt/new', 'var/', 'var/cache/', 'var/cache/.wh..wh..opq']);
  });

  it('a file of DIR named .wh.* (it would delete a lower path when unpacked) fails the build and leaves no layout; excluded or keepWhiteoutFiles: built', async () => {
    const dir = join(tmp.path, 'named-wh');
    mkdirSync(join(dir, 'etc'), { recursive: true });
    writeFileSync(join(dir, 'etc', '.wh.passwd'), '');
    writeFileSync(join(dir, 'etc', 'motd'), 'hi\n');
    const target = out();
    await assert.rejects(buildImage({ layers: [`${dir}:/`], tags: ['t:1'], ociDir: target }), { code: 'ERR_TAR_SOURCE', message: /\.wh\.passwd.*whiteout/ });
    assert.ok(!existsSync(target), 'the layout directory this build created is removed');
    const { layers: excluded } = await built(out(), { layers: [dir], exclude: ['**/.wh.*'] });
    assert.deepEqual(namesOf(excluded[0]!), ['etc/', 'etc/motd']);
    const { layers: kept } = await built(out(), { layers: [{ dir, keepWhiteoutFiles: true }] });
    assert.deepEqual(namesOf(kept[0]!), ['etc/', 'etc/.wh.passwd', 'etc/motd']);
  });

  it('hazard: a DEST with a component named .wh.* (every image tool reads it as a whiteout) is refused before anything is written; keepWhiteoutFiles: built', async () => {
    const dir = join(tmp.path, 'dest-wh');
    mkdirSync(dir);
    writeFileSync(join(dir, 'f'), 'x\n');
    for (const layer of [`${dir}:/.wh.etc`, { dir, dest: '/app/.wh.x/sub' }]) {
      const target = out();
      await assert.rejects(buildImage({ layers: [layer], tags: ['t:1'], ociDir: target }), { code: 'ERR_OPTION_OUT_OF_RANGE', message: /layers\[0\]\.dest.*\.wh\.\*.*whiteout/ });
      assert.ok(!existsSync(target), 'nothing written');
    }
    const { layers: kept } = await built(out(), { layers: [{ dir, dest: '/.wh.etc', keepWhiteoutFiles: true }] });
    assert.deepEqual(namesOf(kept[0]!), ['.wh.etc/', '.wh.etc/f']);
  });

  it('onSkip hears of a socket the layer cannot hold', async () => {
    const dir = join(tmp.path, 'sock');
    mkdirSync(dir);
    writeFileSync(join(dir, 'f'), 'f\n');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(dir, 's.sock'), resolve));
    try {
      const skipped: string[] = [];
      const { layers } = await built(out(), { layers: [dir], onSkip: (path, kind) => skipped.push(`${kind} ${path}`) });
      assert.deepEqual(skipped, [`socket ${join(dir, 's.sock')}`]);
      assert.deepEqual(namesOf(layers[0]!), ['f']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('with SOURCE_DATE_EPOCH, the same tree checked out at two paths and two times gives the same image digest (DEST parents too)', async () => {
    const a = join(tmp.path, 'checkout-a');
    const b = join(tmp.path, 'deeper', 'checkout-b');
    cpSync(ctx, a, { recursive: true });
    cpSync(ctx, b, { recursive: true });
    const touch = (dir: string, t: number) => {
      for (const name of readdirSync(dir, { recursive: true }) as string[]) utimesSync(join(dir, name), t, t);
      utimesSync(dir, t, t);
    };
    touch(a, 2_000_000_000);
    touch(b, 2_100_000_000);
    const build = (dir: string) => buildImage({ layers: [`${dir}:/srv/app`], tags: ['same:1'], ociDir: out() });
    const [ra, rb] = await withEpoch('1700000000', async () => [await build(a), await build(b)]);
    assert.equal(rb.digest, ra.digest);
    const keep = (dir: string) => buildImage({ layers: [`${dir}:/srv/app`], mtime: 'keep', tags: ['same:1'], ociDir: out() });
    const [ka, kb] = await withEpoch('1700000000', async () => [await keep(a), await keep(b)]);
    assert.notEqual(kb.images[0]!.layers[0]!.digest, ka.images[0]!.layers[0]!.digest, "with mtime 'keep' the mtimes differ: the equality above is the clamp");
  });

  it('reproducible by default: without SOURCE_DATE_EPOCH every entry time is 0, so other mtimes give the same digest; keep restores them', async () => {
    const a = join(tmp.path, 'default-a');
    const b = join(tmp.path, 'default-b');
    cpSync(ctx, a, { recursive: true });
    cpSync(ctx, b, { recursive: true });
    for (const [dir, t] of [[a, 1_500_000_000], [b, 1_600_000_000]] as const) {
      for (const name of readdirSync(dir, { recursive: true }) as string[]) utimesSync(join(dir, name), t, t);
      utimesSync(dir, t, t);
    }
    const [ra, rb] = await withEpoch(undefined, async () => [await built(out(), { layers: [`${a}:/srv`] }), await built(out(), { layers: [`${b}:/srv`] })]);
    assert.equal(rb.r.digest, ra.r.digest);
    assert.deepEqual(new Set(ra.layers[0]!.map((e) => e.mtime)), new Set([0]), 'entries and the /srv parent at 0');
    assert.equal(ra.config.created, '1970-01-01T00:00:00Z', 'created follows the same rule');
    const [ka, kb] = await withEpoch(undefined, async () => [await built(out(), { layers: [`${a}:/srv`], mtime: 'keep' }), await built(out(), { layers: [`${b}:/srv`], mtime: 'keep' })]);
    assert.notEqual(kb.r.images[0]!.layers[0]!.digest, ka.r.images[0]!.layers[0]!.digest);
    assert.ok(ka.layers[0]!.some((e) => e.mtime === 1_500_000_000), 'keep records the files\' own times');
    const sde = await withEpoch('1550000000', () => built(out(), { layers: [`${a}:/srv`, `${b}:/srv`] }));
    assert.deepEqual(new Set(sde.layers[0]!.map((e) => e.mtime)), new Set([1_500_000_000]), 'older files keep their times');
    assert.deepEqual(new Set(sde.layers[1]!.map((e) => e.mtime)), new Set([1_550_000_000]), 'newer files clamped');
    assert.equal(sde.config.created, '2019-02-12T19:33:20Z');
    for (const bad of ['1.5', '-1', '1e9', ' 1', 'now']) {
      await withEpoch(bad, () => assert.rejects(buildImage({ layers: [a], tags: ['x:1'], ociDir: out() }), { code: 'ERR_OPTION_OUT_OF_RANGE', message: /SOURCE_DATE_EPOCH/ }));
    }
  });

  it('refuses bad directory options at the call with coded errors, before a base is opened or anything written', async () => {
    const target = join(tmp.path, 'never');
    const base = join(tmp.path, 'no-base.tar');
    const bad: [Partial<BuildSpec>, string][] = [
      [{ layers: [{ dir: ctx, dest: 'app' }] }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ layers: [{ dir: ctx, dest: '/a/../../etc' }] }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ layers: [{ dir: ctx, dest: 5 as unknown as string }] }, 'ERR_INVALID_OPTION'],
      [{ layers: [{ dir: '' }] }, 'ERR_INVALID_OPTION'],
      [{ layers: [7 as unknown as string] }, 'ERR_INVALID_OPTION'],
      [{ layers: [ctx], mtime: 'yesterday' }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ layers: [ctx], mtime: 'clamp:soon' }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ layers: [ctx], mtime: Number.NaN }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ layers: [ctx], owner: 'bob' }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ layers: [ctx], owner: '1:2:3' }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ layers: [ctx], owner: '99999999999' }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ layers: [ctx], owner: { uid: -1, gid: 0 } }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ layers: [ctx], exclude: 'build' as unknown as string[] }, 'ERR_INVALID_OPTION'],
      [{ layers: [ctx], dockerignore: 1 as unknown as boolean }, 'ERR_INVALID_OPTION'],
      [{ layers: [{ dir: ctx, whiteouts: ['/'] }] }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ layers: [{ dir: ctx, whiteouts: '/etc' as unknown as string[] }] }, 'ERR_INVALID_OPTION'],
      [{ layers: [ctx], onSkip: 'log' as unknown as () => void }, 'ERR_INVALID_OPTION'],
    ];
    for (const [spec, code] of bad) {
      await assert.rejects(buildImage({ layers: [], ...spec, base, tags: ['t:1'], output: target }), { code }, JSON.stringify(spec));
    }
    assert.ok(!existsSync(target));
    await assert.rejects(buildImage({ layers: [{ dir: ctx, dest: '/a/../../etc' }], tags: ['t:1'], output: target }), { message: /layers\[0\]\.dest/ });
  });
});

describe('buildImage layerOptions and destination', () => {
  const tmp = tempDir('fastlayer-build-lo-');
  const dir = join(tmp.path, 'd');
  before(() => {
    mkdirSync(dir);
    writeFileSync(join(dir, 'a'), 'a\n'.repeat(1000));
  });
  after(() => tmp.remove());

  it('directory layers stream with a stable progress label, their place and directory, the same in every run and for every platform', async () => {
    const second = join(tmp.path, 'second');
    mkdirSync(second, { recursive: true });
    writeFileSync(join(second, 'b'), 'b\n');
    const runs: string[][] = [];
    const digests: string[] = [];
    for (const name of ['one', 'two']) {
      const inner = new OciLayout(join(tmp.path, `labels-${name}`));
      const labels: string[] = [];
      const destination: Destination = {
        concurrency: inner.concurrency,
        has: (d) => inner.has(d),
        writeBlob: (blob, signal) => {
          if (blob.kind === 'streaming') labels.push(blob.label ?? '(none)');
          return inner.writeBlob(blob, signal);
        },
        writeManifest: (m) => inner.writeManifest(m),
        commit: (top, names) => inner.commit(top, names),
        abort: () => inner.abort(),
      };
      const r = await buildImage({ layers: [dir, `${second}:/srv`], tags: ['l:1'], platform: 'linux/amd64,linux/arm64', destination });
      runs.push(labels.sort());
      digests.push(r.digest);
    }
    assert.deepEqual(runs[0], [`layer 1 (${dir})`, `layer 2 (${second})`], 'each layer once, shared by both platforms');
    assert.deepEqual(runs[1], runs[0]);
    const plain = await buildImage({ layers: [dir, `${second}:/srv`], tags: ['l:1'], platform: 'linux/amd64,linux/arm64', ociDir: join(tmp.path, 'labels-plain') });
    assert.deepEqual(digests, [plain.digest, plain.digest], 'the label is not part of the image');
  });

  it('layerOptions zstd into a Destination: zstd layers (OCI type), same diffID as gzip, threads do not change the digest', async (t) => {
    const results: WriteResult[] = [];
    for (const threads of [1, 3]) {
      const layout = join(tmp.path, `zstd-${threads}`);
      results.push(await buildImage({ layers: [dir], tags: ['z:1'], destination: new OciLayout(layout), layerOptions: { compression: 'zstd', compressionLevel: 7, threads } }));
    }
    const [a, b] = results as [WriteResult, WriteResult];
    assert.equal(a.digest, b.digest);
    const layer = a.images[0]!.layers[0]!;
    assert.equal(layer.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
    const gz = await buildImage({ layers: [dir], tags: ['z:1'], ociDir: join(tmp.path, 'gz') });
    assert.deepEqual(a.images[0]!.diffIDs, gz.images[0]!.diffIDs);
    const blob = join(tmp.path, 'zstd-1', 'blobs', 'sha256', layer.digest.slice(7));
    if (spawnSync('zstd', ['--version']).error) return t.skip('zstd -dc not run: zstd is not installed');
    const plain = spawnSync('zstd', ['-dc', blob], { maxBuffer: 1 << 26 });
    assert.equal(plain.status, 0);
    assert.equal(`sha256:${createHash('sha256').update(plain.stdout).digest('hex')}`, a.images[0]!.diffIDs[0]);
  });

  it('refuses Docker format with zstd or none (ERR_IMAGE_FORMAT), bad layer options and two outputs, before any I/O', async () => {
    const target = join(tmp.path, 'never');
    // A base that does not exist: a refusal after opening it would be ERR_BASE_IMAGE, not these codes.
    const base = join(tmp.path, 'no-base.tar');
    const bad: [Partial<BuildSpec>, string][] = [
      [{ format: 'docker', layerOptions: { compression: 'zstd' } }, 'ERR_IMAGE_FORMAT'],
      [{ format: 'docker', layerOptions: { compression: 'none' } }, 'ERR_IMAGE_FORMAT'],
      [{ layerOptions: { compression: 'zstd', compressionLevel: 0 } }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ layerOptions: { compression: 'zstd', compressionLevel: 20 } }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ layerOptions: { compressionLevel: 10 } }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ layerOptions: { threads: 0 } }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ layerOptions: { compression: 'lz4' as 'zstd' } }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ layerOptions: { mediaType: 'x' } as BuildSpec['layerOptions'] }, 'ERR_INVALID_OPTION'],
      [{ compressionLevel: 5, layerOptions: { compressionLevel: 6 } }, 'ERR_INVALID_OPTION'],
      [{ ociDir: join(tmp.path, 'never-dir') }, 'ERR_INVALID_OPTION'],
      [{ destination: new OciLayout(join(tmp.path, 'never-dir')) }, 'ERR_INVALID_OPTION'],
    ];
    for (const [spec, code] of bad) {
      await assert.rejects(buildImage({ layers: [dir], base, tags: ['t:1'], output: target, ...spec }), { code }, JSON.stringify(spec));
    }
    assert.ok(!existsSync(target));
    assert.ok(!existsSync(join(tmp.path, 'never-dir')));
  });
});
