// TOC fields that a reader parses with Go's types (stargz-snapshotter): xattrs are []byte (base64 of
// the attribute's bytes), modtime a time.Time (RFC 3339, years 0000-9999 only).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { estargzLayer, readToc, type TocEntry } from '../../src/estargz/index.js';
import { entryHeader, trailer, type Entry } from '../../src/tar/header.js';
import { readTar } from '../../src/tar/reader.js';

async function tocOf(tar: Buffer): Promise<TocEntry[]> {
  const l = estargzLayer((async function* () { yield tar; })());
  const parts: Buffer[] = [];
  for await (const c of l.stream) parts.push(c as Buffer);
  await l.done;
  const blob = Buffer.concat(parts);
  return (await readToc(async (o, n) => blob.subarray(o, o + n), blob.length)).toc.entries;
}

const header = (name: string, extra: Partial<Entry>): Buffer =>
  entryHeader({ name: Buffer.from(name), type: '0', mode: 0o755, size: 0, mtime: 1_700_000_000, uid: 0, gid: 0, uname: '', gname: '', ...extra });

describe('eStargz TOC xattrs', () => {
  // A file capability (vfs_cap_data v2: magic 0x02000002, permitted CAP_NET_BIND_SERVICE), not UTF-8.
  const capability = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xff, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00]);
  const text = Buffer.from('héllo wörld');
  const tar = Buffer.concat([header('bin/ping', { xattrs: new Map([['security.capability', capability], ['user.note', text]]) }), trailer()]);

  it('hazard: a binary value (security.capability) is the base64 of its bytes, not of its UTF-8 decoding', async () => {
    const e = (await tocOf(tar)).find((x) => x.name === 'bin/ping')!;
    assert.deepEqual(Object.keys(e.xattrs!), ['security.capability', 'user.note']);
    assert.ok(Buffer.from(e.xattrs!['security.capability']!, 'base64').equals(capability));
    assert.equal(e.xattrs!['user.note'], text.toString('base64'));
  });

  it("readTar's pax records stay the UTF-8 text they were", async () => {
    for await (const e of readTar(tar)) {
      assert.equal(e.header.pax!['SCHILY.xattr.user.note'], 'héllo wörld');
      assert.equal(e.header.pax!['SCHILY.xattr.security.capability'], capability.toString('utf8'));
    }
  });
});

describe('eStargz TOC modtime', () => {
  it('hazard: a time past year 9999 or before year 0 is clamped to RFC 3339 years (Go refuses "+011476-...")', async () => {
    const tar = Buffer.concat([
      header('future', { mtime: 300_000_000_000 }), header('past', { mtime: -70_000_000_000 }),
      header('edge', { mtime: 253_402_300_799 }), header('now', { mtime: 1_700_000_000 }), trailer(),
    ]);
    const toc = await tocOf(tar);
    const at = (name: string) => toc.find((e) => e.name === name)!.modtime;
    assert.equal(at('future'), '9999-12-31T23:59:59Z');
    assert.equal(at('past'), '0000-01-01T00:00:00Z');
    assert.equal(at('edge'), '9999-12-31T23:59:59Z');
    assert.equal(at('now'), '2023-11-14T22:13:20Z');
    for (const e of toc) assert.match(e.modtime!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, e.name);
    // The tar keeps the real time.
    const times = new Map<string, number>();
    for await (const e of readTar(tar)) times.set(e.header.name, e.header.mtime.getTime() / 1000);
    assert.equal(times.get('future'), 300_000_000_000);
  });
});
