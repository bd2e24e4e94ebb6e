// Reading tar streams: entries come out in order with their bytes, and an entry whose name or link
// would land outside the extraction root is refused before the caller sees it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { readTar, checkEntry, type TarEntry } from '../../src/tar/reader.js';
import { tarDirectory } from '../../src/tar/directory.js';
import { entryHeader, padding, trailer, type Entry } from '../../src/tar/header.js';
import { ErrTarUnsafeEntry, ErrTarInvalid } from '../../src/tar/errors.js';
import { collect } from '../helpers/layer.js';
import { tempDir } from '../helpers/tree.js';

const base = { mode: 0o644, size: 0, mtime: 0, uid: 0, gid: 0, uname: 'root', gname: 'root' };
function entry(name: string, type: Entry['type'], extra: Partial<Entry> = {}, data?: Buffer): Buffer {
  const h = entryHeader({ ...base, name: Buffer.from(name), type, ...(data ? { size: data.length } : {}), ...extra });
  return data ? Buffer.concat([h, data, padding(data.length)]) : h;
}
const tarOf = (...parts: Buffer[]) => Buffer.concat([...parts, trailer()]);

async function readAll(tar: Buffer, options = {}): Promise<{ header: TarEntry['header']; data: string }[]> {
  const out = [];
  for await (const e of readTar(tar, options)) out.push({ header: e.header, data: (await collect(e.body)).toString() });
  return out;
}

const unsafe = (e: unknown) => e instanceof ErrTarUnsafeEntry && e.code === 'ERR_TAR_UNSAFE_ENTRY';

describe('readTar', () => {
  it('reads a directory layer back entry by entry, with bytes, links and long names', async () => {
    const tmp = tempDir();
    try {
      fs.mkdirSync(join(tmp.path, 'd'));
      fs.writeFileSync(join(tmp.path, 'd', 'f.txt'), 'hello');
      fs.linkSync(join(tmp.path, 'd', 'f.txt'), join(tmp.path, 'hard'));
      fs.symlinkSync('d/f.txt', join(tmp.path, 'soft'));
      const long = 'n'.repeat(150);
      fs.writeFileSync(join(tmp.path, long), 'long');
      const got = await readAll(await collect(tarDirectory(tmp.path, { mtime: 0 })));
      assert.deepEqual(got.map((e) => [e.header.type, e.header.name, e.header.linkname ?? '', e.data]), [
        ['directory', 'd', '', ''],
        ['file', 'd/f.txt', '', 'hello'],
        ['link', 'hard', 'd/f.txt', ''],
        ['file', long, '', 'long'],
        ['symlink', 'soft', 'd/f.txt', ''],
      ]);
    } finally {
      tmp.remove();
    }
  });

  it("normalises GNU tar's './' names and lets unread bodies be skipped", async (t) => {
    if (spawnSync('tar', ['--version']).status !== 0) return t.skip('tar is not installed');
    const tmp = tempDir();
    try {
      fs.writeFileSync(join(tmp.path, 'a'), 'x'.repeat(5000));
      fs.writeFileSync(join(tmp.path, 'b'), 'y');
      const tar = spawnSync('tar', ['-c', '--sort=name', '-f', '-', '-C', tmp.path, '.']).stdout;
      const names: string[] = [];
      for await (const e of readTar(tar)) names.push(e.header.name); // bodies never read
      assert.deepEqual(names, ['.', 'a', 'b']);
    } finally {
      tmp.remove();
    }
  });

  for (const [what, tar] of [
    ['a name with ..', tarOf(entry('a/../../etc/passwd', '0', {}, Buffer.from('x')))],
    ['an absolute name', tarOf(entry('/etc/passwd', '0', {}, Buffer.from('x')))],
    ['a hard link to an absolute path', tarOf(entry('h', '1', { linkname: Buffer.from('/etc/shadow') }))],
    ['a hard link climbing with ..', tarOf(entry('h', '1', { linkname: Buffer.from('../shadow') }))],
    ['a symlink climbing out of the root', tarOf(entry('a/b/link', '2', { linkname: Buffer.from('../../../etc') }))],
    ['a PAX path with ..', tarOf(entry(`${'d/'.repeat(60)}${'../'.repeat(70)}escape`, '0', {}, Buffer.from('x')))],
    ['a file named as the root', tarOf(entry('./', '0', {}, Buffer.from('x')))],
  ] as const) {
    it(`refuses ${what} with ERR_TAR_UNSAFE_ENTRY`, async () => {
      await assert.rejects(readAll(tar), unsafe);
    });
  }

  it('accepts symlinks that stay inside, and absolute ones unless told not to', async () => {
    const tar = tarOf(entry('a/b/link', '2', { linkname: Buffer.from('../../etc') }), entry('abs', '2', { linkname: Buffer.from('/usr/bin/env') }));
    assert.deepEqual((await readAll(tar)).map((e) => e.header.linkname), ['../../etc', '/usr/bin/env']);
    await assert.rejects(readAll(tar, { rejectAbsoluteSymlinks: true }), unsafe);
  });

  it('rejects a truncated stream with ERR_TAR_INVALID', async () => {
    const tar = tarOf(entry('f', '0', {}, Buffer.alloc(3000, 1)));
    await assert.rejects(readAll(tar.subarray(0, 1500)), (e) => e instanceof ErrTarInvalid && e.code === 'ERR_TAR_INVALID');
  });

  it('a stream cut exactly at an entry boundary (no end-of-archive block), or empty, is ERR_TAR_INVALID, not its first entries', async () => {
    const a = entry('a.txt', '0', {}, Buffer.alloc(100, 1));
    const b = entry('b.txt', '0', {}, Buffer.alloc(100, 2));
    const whole = tarOf(a, b);
    const invalid = (what: RegExp) => (e: unknown) => e instanceof ErrTarInvalid && e.code === 'ERR_TAR_INVALID' && what.test(e.message);
    // Cut after a.txt (1024 bytes: header and padded data), after b.txt, and before anything.
    await assert.rejects(readAll(whole.subarray(0, a.length)), invalid(/without its end-of-archive block/), 'cut after the first entry');
    await assert.rejects(readAll(whole.subarray(0, a.length + b.length)), invalid(/without its end-of-archive block/), 'cut after the last entry');
    await assert.rejects(readAll(Buffer.alloc(0)), invalid(/empty/), 'empty');
    // One zero block ends an archive (as indexTar reads it); so do the usual two.
    assert.deepEqual((await readAll(whole.subarray(0, a.length + b.length + 512))).map((e) => e.header.name), ['a.txt', 'b.txt']);
    assert.deepEqual((await readAll(whole)).map((e) => e.header.name), ['a.txt', 'b.txt']);
  });

  it('checkEntry normalises names for callers that parse tar themselves', () => {
    assert.deepEqual(checkEntry({ name: './usr//bin/', type: 'directory' }), { name: 'usr/bin' });
    assert.throws(() => checkEntry({ name: 'x', type: 'link', linkname: '' }), unsafe);
  });

  // checkEntry takes a name that is already normal as it is (no split and join): every name built
  // from these pieces must come out as splitting, dropping '' and '.', and refusing '..' would give.
  it('checkEntry agrees with the component-by-component reading on 20,000 names of odd pieces', () => {
    const pieces = ['a', 'b.c', '.', '..', '', '...', '.a', 'a.', 'ç', 'x\0y', ' '];
    let seed = 11;
    const rand = (n: number): number => {
      seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0;
      return (seed >>> 0) % n;
    };
    const reference = (raw: string, type: string, linkname: string): { name: string; linkname?: string } | 'unsafe' => {
      if (raw.includes('\0') || raw.startsWith('/')) return 'unsafe';
      const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
      if (parts.includes('..')) return 'unsafe';
      const name = parts.length === 0 ? '.' : parts.join('/');
      if (name === '.' && type !== 'directory') return 'unsafe';
      if (type !== 'symlink') return { name };
      let depth = parts.length - 1;
      for (const p of linkname.split('/')) {
        if (p === '' || p === '.') continue;
        depth += p === '..' ? -1 : 1;
        if (depth < 0) return 'unsafe';
      }
      return { name, linkname };
    };
    for (let k = 0; k < 20_000; k++) {
      const n = 1 + rand(4);
      let raw = Array.from({ length: n }, () => pieces[rand(pieces.length)]).join('/');
      if (rand(8) === 0) raw = `/${raw}`;
      if (rand(6) === 0) raw = `${raw}/`;
      const type = ['file', 'directory', 'symlink'][rand(3)]!;
      const linkname = type === 'symlink' ? ['..', '../..', 'a/../..', 'b'][rand(4)]! : '';
      const want = reference(raw, type, linkname);
      const h = type === 'symlink' ? { name: raw, type, linkname } : { name: raw, type };
      if (want === 'unsafe') assert.throws(() => checkEntry(h), unsafe, JSON.stringify(h));
      else assert.deepEqual(checkEntry(h), want, JSON.stringify(h));
    }
  });
});
