// The one archive indexer (src/tar/index.ts, behind src/layout/store.ts): PAX size/path/linkpath
// records and GNU long names apply to the entry after them, as Go (docker save >= 25, skopeo) and
// Python write them, including an entry over 8 GiB whose ustar size field is 0 (a sparse 9 GiB file
// here: nothing near 9 GiB is written). Names that a record turns into `../x` or `/x` are refused,
// and so are malformed records and truncated archives.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { archiveStore } from '../../src/layout/store.js';
import { loadBase } from '../../src/build/base.js';
import { decodeHeader, decodePax, paxRecord } from '../../src/tar/header.js';
import { readTar } from '../../src/tar/reader.js';
import { binMissing, runCli } from '../helpers/cli.js';
import { collect } from '../helpers/layer.js';
import { tempDir } from '../helpers/tree.js';

const BLOCK = 512;
const NINE_GIB = 9 * 1024 * 1024 * 1024 + 123;
const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** One ustar block written here by hand (not by the project's writer): `size` may be a raw 12-byte field. */
function block(name: string, type: string, size: number | Buffer, linkname = ''): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name.slice(0, 100), 0, 'utf8');
  h.write('0000644\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii');
  h.write('0000000\0', 116, 'ascii');
  if (typeof size === 'number') h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  else size.copy(h, 124, 0, 12);
  h.write('00000000000\0', 136, 'ascii');
  h.write(type, 156, 'latin1');
  h.write(linkname.slice(0, 100), 157, 'utf8');
  h.write('ustar\u000000', 257, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

function record(key: string, value: string): string {
  // The length counts bytes, its own digits included.
  const body = Buffer.byteLength(` ${key}=${value}\n`);
  let len = body + 1;
  while (String(len).length + body !== len) len = String(len).length + body;
  return `${len} ${key}=${value}\n`;
}

const pad = (n: number): Buffer => Buffer.alloc((BLOCK - (n % BLOCK)) % BLOCK);

/** A PAX extended header ('x', or 'g' global) with its records. */
function pax(records: [string, string][], type = 'x'): Buffer {
  const data = Buffer.from(records.map(([k, v]) => record(k, v)).join(''));
  return Buffer.concat([block('PaxHeaders/x', type, data.length), data, pad(data.length)]);
}

function gnuLong(type: 'L' | 'K', value: string): Buffer {
  const data = Buffer.from(`${value}\0`);
  return Buffer.concat([block('././@LongLink', type, data.length), data, pad(data.length)]);
}

function file(name: string, data: Buffer | string): Buffer {
  const b = Buffer.from(data);
  return Buffer.concat([block(name, '0', b.length), b, pad(b.length)]);
}

const END = Buffer.alloc(2 * BLOCK);

describe('tar header decoding (src/tar/header.ts)', () => {
  it('decodes octal, base-256 and checksum; a bad checksum or a negative base-256 size is ERR_TAR_INVALID', () => {
    assert.equal(decodeHeader(block('a', '0', 5)).size, 5);
    const b256 = Buffer.alloc(12);
    b256[0] = 0x80;
    b256.writeUIntBE(NINE_GIB, 6, 6);
    assert.equal(decodeHeader(block('a', '0', b256)).size, NINE_GIB);
    const bad = block('a', '0', 5);
    bad[0] ^= 1;
    assert.throws(() => decodeHeader(bad), { code: 'ERR_TAR_INVALID' });
    const negative = Buffer.alloc(12, 0xff);
    assert.throws(() => decodeHeader(block('a', '0', negative)), { code: 'ERR_TAR_INVALID' });
    assert.throws(() => decodeHeader(block('a', '0', Buffer.from('12345678901x'))), { code: 'ERR_TAR_INVALID' });
  });
  // decodeHeader reads fields in place (no subarray, indexOf or string per field): checked here against
  // the plain reading (trimmed strings, C strings cut at NUL) over random fields of every form.
  it('reads every field as the plain reading does, over 3,000 random blocks (octal, spaces, NULs, base-256, UTF-8, GNU and POSIX magic)', () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0;
      return (seed >>> 0) % n;
    };
    const pick = <T>(xs: T[]): T => xs[rand(xs.length)]!;
    const plainString = (b: Buffer, o: number, w: number): string => {
      const f = b.subarray(o, o + w);
      const end = f.indexOf(0);
      return f.subarray(0, end < 0 ? w : end).toString('utf8');
    };
    const plainNumber = (b: Buffer, o: number, w: number): number | undefined => {
      const f = b.subarray(o, o + w);
      if (f[0]! & 0x80) {
        if (f[0] === 0xff) return undefined;
        let n = f[0]! & 0x7f;
        for (let i = 1; i < w; i++) n = n * 256 + f[i]!;
        return Number.isSafeInteger(n) ? n : undefined;
      }
      const end = f.indexOf(0);
      const text = f.subarray(0, end < 0 ? w : end).toString('latin1').trim();
      return /^[0-7]*$/.test(text) ? (text === '' ? 0 : parseInt(text, 8)) : undefined;
    };
    const numberField = (w: number): Buffer => {
      const f = Buffer.alloc(w);
      const v = rand(1 << 20).toString(8);
      switch (rand(6)) {
        case 0: f.write(`${v.padStart(w - 1, '0')}\0`, 'latin1'); break;
        case 1: f.write(` ${v} `.slice(0, w), 'latin1'); break;
        case 2: f.write(`\t${v}\xa0\0`.slice(0, w), 'latin1'); break;
        case 3: f[0] = 0x80; f.writeUIntBE(rand(2 ** 30), w - 6, 6); break;
        case 4: f.write(`${v}9`.slice(0, w), 'latin1'); break;
        default: break; // all NUL: 0
      }
      return f;
    };
    const text = (w: number): Buffer => {
      const s = pick(['', 'usr/lib/x', 'a b/ç/日本', 'x'.repeat(w), '\u00ff\u00fe']);
      const f = Buffer.alloc(w);
      Buffer.from(s).copy(f, 0, 0, w);
      if (rand(4) === 0) f[rand(w)] = 0;
      return f;
    };
    for (let k = 0; k < 3000; k++) {
      const h = Buffer.alloc(BLOCK);
      text(100).copy(h, 0);
      for (const [o, w] of [[100, 8], [108, 8], [116, 8], [124, 12], [136, 12], [329, 8], [337, 8]] as const) numberField(w).copy(h, o);
      if (rand(8) === 0) h.fill(0xff, 124, 136); // a negative size: refused
      h[156] = pick([0x30, 0x35, 0x32, 0, 0x78]);
      text(100).copy(h, 157);
      h.write(pick(['ustar\u000000', 'ustar  \0', '\0\0\0\0\0\0\0\0']), 257, 'latin1');
      text(32).copy(h, 265);
      text(32).copy(h, 297);
      text(155).copy(h, 345);
      h.fill(0x20, 148, 156);
      let sum = 0;
      let signed = 0;
      for (const b of h) {
        sum += b;
        signed += b > 127 ? b - 256 : b;
      }
      // Mostly the unsigned sum; some blocks the historical signed one (accepted too), some none.
      const written = rand(4) === 0 ? signed : sum;
      if (rand(10) > 0 && written >= 0) h.write(`${written.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
      const size = plainNumber(h, 124, 12);
      const stored = plainNumber(h, 148, 8);
      if (size === undefined || (stored !== sum && stored !== signed)) {
        assert.throws(() => decodeHeader(h), { code: 'ERR_TAR_INVALID' }, `block ${k}`);
        continue;
      }
      const prefix = h.subarray(257, 263).toString('latin1') === 'ustar\u0000' ? plainString(h, 345, 155) : '';
      const name = plainString(h, 0, 100);
      const num = (o: number, w: number) => plainNumber(h, o, w) ?? 0;
      assert.deepEqual(decodeHeader(h), {
        name: prefix ? `${prefix}/${name}` : name, linkname: plainString(h, 157, 100), type: String.fromCharCode(h[156]!), size,
        mode: num(100, 8), uid: num(108, 8), gid: num(116, 8), mtime: num(136, 12),
        uname: plainString(h, 265, 32), gname: plainString(h, 297, 32), devmajor: num(329, 8), devminor: num(337, 8),
      }, `block ${k}`);
    }
  });

  it('decodes PAX records, refuses malformed ones', () => {
    const r = decodePax(Buffer.from(record('path', 'a=b/ç') + record('size', '42')));
    assert.equal(r.get('path'), 'a=b/ç');
    assert.equal(r.get('size'), '42');
    for (const bad of ['5 a=b', '99 path=x\n', 'x path=y\n', '9 =value\n', '3 a\n']) {
      assert.throws(() => decodePax(Buffer.from(bad)), { code: 'ERR_TAR_INVALID' }, bad);
    }
  });

  it('hazard: SCHILY.xattr values are also given as their bytes (UTF-8 decoding changes binary ones)', () => {
    const binary = Buffer.from([0x01, 0xc0, 0xff, 0x00, 0x80]);
    const data = Buffer.concat([paxRecord('SCHILY.xattr.security.capability', binary), paxRecord('path', Buffer.from('x')), paxRecord('SCHILY.xattr.user.a', Buffer.from('ç'))]);
    const xattrs = new Map<string, Buffer>();
    const r = decodePax(data, xattrs);
    assert.deepEqual([...xattrs.keys()], ['security.capability', 'user.a']);
    assert.ok(xattrs.get('security.capability')!.equals(binary));
    assert.equal(xattrs.get('user.a')!.toString(), 'ç');
    // The text records are what they were.
    assert.equal(r.get('SCHILY.xattr.security.capability'), binary.toString('utf8'));
    assert.equal(r.get('path'), 'x');
  });
});

describe('archive store: PAX and GNU records', () => {
  const tmp = tempDir();
  after(() => tmp.remove());
  const write = (name: string, ...parts: Buffer[]): string => {
    const p = join(tmp.path, name);
    fs.writeFileSync(p, Buffer.concat(parts));
    return p;
  };

  it('a PAX size record overrides a ustar size of 0 (and a wrong non-zero one)', async () => {
    for (const ustar of [0, 1]) {
      const data = Buffer.alloc(700, 3);
      const p = write(`size-${ustar}.tar`, pax([['size', String(data.length)]]), block('blob', '0', ustar), data, pad(data.length), file('after', 'x'), END);
      const store = await archiveStore(p);
      assert.deepEqual(await collect(store.open('blob')), data);
      assert.equal((await store.read('after', 10)).toString(), 'x');
    }
  });

  it('PAX path and linkpath, GNU L and K name entries past 100 bytes; a global header does not rename', async () => {
    const long = `blobs/sha256/${'d'.repeat(120)}`;
    const other = `dir/${'e'.repeat(110)}`;
    const p = write('names.tar',
      pax([['path', 'ignored-global']], 'g'),
      pax([['path', long]]), file('short-fallback', 'A'),
      gnuLong('L', other), file('short2', 'B'),
      pax([['path', 'lnk'], ['linkpath', long]]), block('l', '1', 0, 'short-fallback'),
      gnuLong('K', other), block('lnk2', '2', 0, 'x'),
      file('plain', 'C'),
      END);
    const store = await archiveStore(p);
    assert.equal((await store.read(long, 10)).toString(), 'A');
    assert.equal((await store.read(other, 10)).toString(), 'B');
    assert.equal((await store.read('lnk', 10)).toString(), 'A', 'hard link through its PAX linkpath');
    assert.equal((await store.read('lnk2', 10)).toString(), 'B', 'symlink through its GNU K name');
    assert.equal(await store.size('short-fallback'), undefined);
    assert.equal(await store.size('ignored-global'), undefined);
    assert.equal((await store.read('plain', 10)).toString(), 'C');
  });

  it('a PAX path or GNU long name into ../ or / refuses the archive, as does a link out of it', async () => {
    const cases: [string, Buffer][] = [
      ['pax ..', Buffer.concat([pax([['path', '../../etc/evil']]), file('blobs/sha256/a', 'x')])],
      ['pax abs', Buffer.concat([pax([['path', '/etc/evil']]), file('blobs/sha256/a', 'x')])],
      ['pax inner ..', Buffer.concat([pax([['path', 'blobs/../../x']]), file('ok', 'x')])],
      ['gnu ..', Buffer.concat([gnuLong('L', '../x'), file('ok', 'x')])],
      ['linkpath out', Buffer.concat([pax([['linkpath', '../../../etc/shadow']]), block('blobs/sha256/b', '2', 0, 'ok')])],
      ['absolute symlink', block('blobs/sha256/b', '2', 0, '/etc/shadow')],
      ['hard link out', block('layer.tar', '1', 0, '../outside')],
    ];
    for (const [what, bytes] of cases) {
      const p = write('unsafe.tar', file('index.json', '{}'), bytes, END);
      await assert.rejects(archiveStore(p), { code: 'ERR_LAYOUT_INVALID' }, what);
      await assert.rejects(loadBase(p), { code: 'ERR_UNSAFE_ARCHIVE_PATH' }, what);
    }
  });

  it('malformed records, a dangling extended header, truncation and a missing end block are ERR_LAYOUT_INVALID', async () => {
    const good = Buffer.concat([file('index.json', '{}'), file('blob', Buffer.alloc(2000, 1)), END]);
    const broken = Buffer.concat([block('PaxHeaders/x', 'x', 10), Buffer.from('99 size=1\n'), pad(10), file('a', 'x'), END]);
    const cases: [string, Buffer][] = [
      ['malformed pax', broken],
      ['pax size not a number', Buffer.concat([pax([['size', '12abc']]), file('a', 'x'), END])],
      ['pax at the end', Buffer.concat([file('a', 'x'), pax([['path', 'b']]), END])],
      ['cut inside data', good.subarray(0, 1500)],
      ['cut at a header boundary', good.subarray(0, 3 * BLOCK)],
      ['no end block', good.subarray(0, good.length - END.length)],
      ['pax size past the end', Buffer.concat([pax([['size', String(NINE_GIB)]]), block('a', '0', 0), END])],
    ];
    for (const [what, bytes] of cases) {
      const p = write('bad.tar', bytes);
      await assert.rejects(archiveStore(p), { code: 'ERR_LAYOUT_INVALID' }, what);
      await assert.rejects(loadBase(p), { code: 'ERR_BASE_IMAGE' }, what);
    }
  });

  it('a name given twice refuses the archive (readers disagree on which one wins)', async () => {
    const p = write('dup.tar', file('index.json', '{}'), file('./index.json', '{"a":1}'), END);
    await assert.rejects(archiveStore(p), { code: 'ERR_LAYOUT_INVALID' });
    await assert.rejects(loadBase(p), { code: 'ERR_BASE_IMAGE' });
  });
});

describe('a sparse 9 GiB entry with its size in a PAX record', () => {
  const tmp = tempDir();
  let dockerSave: string;
  let oci: string;
  const layerDiffID = sha('not really the layer: never read');
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layerDiffID] }, config: {} }));

  /** Writes `head`, a 9 GiB hole as the entry's data (PAX size, ustar size 0), then `tail`. */
  function sparse(path: string, name: string, tail: Buffer): void {
    const fd = fs.openSync(path, 'w');
    try {
      const head = Buffer.concat([pax([['size', String(NINE_GIB)]]), block(name, '0', 0)]);
      fs.writeSync(fd, head, 0, head.length, 0);
      const dataEnd = head.length + NINE_GIB + pad(NINE_GIB).length;
      fs.writeSync(fd, tail, 0, tail.length, dataEnd);
    } finally {
      fs.closeSync(fd);
    }
  }

  before(() => {
    dockerSave = join(tmp.path, 'docker-save.tar');
    const manifest = JSON.stringify([{ Config: 'config.json', RepoTags: ['big:1'], Layers: ['big/layer.tar'] }]);
    sparse(dockerSave, 'big/layer.tar', Buffer.concat([file('config.json', config), file('manifest.json', manifest), END]));
    oci = join(tmp.path, 'oci.tar');
    const layerDigest = sha('the big layer');
    const configDesc = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length };
    const man = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: configDesc, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: NINE_GIB }] }));
    const index = JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(man), size: man.length, annotations: { 'org.opencontainers.image.ref.name': 'big:1' } }] });
    sparse(oci, `blobs/sha256/${layerDigest.slice(7)}`, Buffer.concat([
      file(`blobs/sha256/${sha(config).slice(7)}`, config), file(`blobs/sha256/${sha(man).slice(7)}`, man),
      file('oci-layout', '{"imageLayoutVersion":"1.0.0"}'), file('index.json', index), END]));
  });
  after(() => tmp.remove());

  it('the store finds the entries after it and the entry has its 9 GiB', async () => {
    const store = await archiveStore(dockerSave);
    assert.equal(await store.size('big/layer.tar'), NINE_GIB);
    assert.equal(JSON.parse((await store.read('manifest.json', 4096)).toString())[0].RepoTags[0], 'big:1');
  });

  it('loadBase reads the docker-save archive (uncompressed layer kept: its size is the PAX size)', async () => {
    const base = await loadBase(dockerSave, { uncompressed: 'keep' });
    const [layer] = base.layers();
    assert.equal(layer!.kind, 'known');
    assert.equal(layer!.kind === 'known' && layer!.descriptor.size, NINE_GIB);
    const ociBase = await loadBase(oci);
    const [l] = ociBase.layers();
    assert.equal(l!.kind === 'known' && l!.descriptor.size, NINE_GIB);
  });

  it('inspect finds index.json after the 9 GiB entry', { skip: binMissing() }, () => {
    const r = runCli(['inspect', oci, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.toString(), new RegExp(String(NINE_GIB)));
  });
});

describe('readTar (streams) decodes the same records', () => {
  async function entries(tar: Buffer): Promise<{ name: string; size: number; linkname?: string; uid: number; data: string }[]> {
    const out = [];
    for await (const e of readTar(tar)) {
      const chunks: Buffer[] = [];
      for await (const c of e.body) chunks.push(c);
      out.push({ name: e.header.name, size: e.header.size, uid: e.header.uid, data: Buffer.concat(chunks).toString(), ...(e.header.linkname ? { linkname: e.header.linkname } : {}) });
    }
    return out;
  }

  it('PAX size/path/linkpath/uid and GNU L/K apply to the next entry only', async () => {
    const long = `dir/${'n'.repeat(150)}`;
    const got = await entries(Buffer.concat([
      pax([['size', '3'], ['path', long], ['uid', '4000000']]), block('fallback', '0', 0), Buffer.from('abc'), pad(3),
      gnuLong('K', long), gnuLong('L', `${long}-link`), block('x', '2', 0, 'y'),
      pax([['path', 'ignored']], 'g'), file('plain', 'zz'),
      END,
    ]));
    assert.deepEqual(got, [
      { name: long, size: 3, uid: 4000000, data: 'abc' },
      { name: `${long}-link`, size: 0, uid: 0, data: '', linkname: long },
      { name: 'plain', size: 2, uid: 0, data: 'zz' },
    ]);
  });

  it('hazard: a PAX mtime (before 1970, past 11 octal digits, with a fraction) is the entry`s time, not the ustar field`s 0', async () => {
    const times: [string, number][] = [['-1000000000', -1000000000], ['99999999999', 99999999999], ['1700000000.999999999', 1700000000], ['-1.5', -2], ['0', 0]];
    const tar = Buffer.concat([...times.map(([v], i) => Buffer.concat([pax([['mtime', v]]), file(`f${i}`, 'x')])), END]);
    const got: number[] = [];
    for await (const e of readTar(tar)) {
      got.push(e.header.mtime.getTime() / 1000);
      for await (const c of e.body) void c;
    }
    assert.deepEqual(got, times.map(([, t]) => t));
    // Past what a Date holds (Go reads any int64): clamped, not refused.
    const far: number[] = [];
    for await (const e of readTar(Buffer.concat([pax([['mtime', '99999999999999999']]), file('a', 'x'), pax([['mtime', '-99999999999999999']]), file('b', 'x'), END]))) {
      far.push(e.header.mtime.getTime() / 1000);
      for await (const c of e.body) void c;
    }
    assert.deepEqual(far, [8.64e12, -8.64e12]);
    for (const bad of ['', 'x', '1e9', '--1', '0x10', '1.2.3', ' 1']) {
      await assert.rejects(entries(Buffer.concat([pax([['mtime', bad]]), file('f', 'x'), END])), { code: 'ERR_TAR_INVALID' }, bad);
    }
  });

  it('a 9 GiB PAX size is the entry size; a stream that stops inside it is ERR_TAR_INVALID', async () => {
    const it = readTar(Buffer.concat([pax([['size', String(NINE_GIB)]]), block('big', '0', 0), Buffer.alloc(4096, 1)]))[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.done, false);
    assert.equal(first.value!.header.size, NINE_GIB);
    await assert.rejects(async () => {
      for await (const c of first.value!.body) void c;
    }, { code: 'ERR_TAR_INVALID' });
  });

  it('a PAX path or GNU long name into ../ or / is ERR_TAR_UNSAFE_ENTRY; bad records are ERR_TAR_INVALID', async () => {
    for (const head of [pax([['path', '../../etc/cron.d/x']]), pax([['path', '/etc/x']]), gnuLong('L', 'a/../../x')]) {
      await assert.rejects(entries(Buffer.concat([head, file('ok', 'x'), END])), { code: 'ERR_TAR_UNSAFE_ENTRY' });
    }
    await assert.rejects(entries(Buffer.concat([pax([['path', '../x']]), block('l', '2', 0, 'ok'), END])), { code: 'ERR_TAR_UNSAFE_ENTRY' });
    await assert.rejects(entries(Buffer.concat([pax([['size', 'nope']]), file('a', 'x'), END])), { code: 'ERR_TAR_INVALID' });
    await assert.rejects(entries(Buffer.concat([block('PaxHeaders/x', 'x', 10), Buffer.from('99 size=1\n'), pad(10), file('a', 'x'), END])), { code: 'ERR_TAR_INVALID' });
  });
});
