// The exact bytes of eStargz blobs for one fixed tar, pinned by digest: a change meant only to make
// the writer faster (batching, threads, where hashing happens, buffer handling) must not change them.
// The tar has directories, small files, an empty file, a symlink, a hard link, a long (PAX) name with
// xattrs, a file of exactly one unit, and files over the batch size and over several chunks, so
// members go through every path of the member queue. A pinned digest changes only with the format:
// update it then, with the reason in the commit.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { estargzLayer, type EstargzOptions } from '../../src/estargz/index.js';
import { entryHeader, padding, trailer, type Entry } from '../../src/tar/header.js';
import { semiCompressible, randomBytes } from '../helpers/data.js';
import { nativeGzipMembers } from '../../src/engine/native-engine.js';

function fixedTar(): Buffer {
  const parts: Buffer[] = [];
  const add = (name: string, type: Entry['type'], data: Buffer = Buffer.alloc(0), extra: Partial<Entry> = {}) => {
    parts.push(entryHeader({ name: Buffer.from(name), type, mode: type === '5' ? 0o755 : 0o644, size: data.length, mtime: 1_700_000_000, uid: 1000, gid: 1000, uname: 'app', gname: 'app', ...extra }));
    parts.push(data, padding(data.length));
  };
  add('app/', '5');
  add('app/lib/', '5');
  for (let i = 0; i < 40; i++) add(`app/lib/m${i}.js`, '0', semiCompressible(100 + i * 997, i + 1));
  add('app/empty', '0');
  add('app/unit.bin', '0', semiCompressible(256 * 1024, 50));
  add('app/big.bin', '0', semiCompressible(1_300_000, 51));
  add('app/noise.bin', '0', randomBytes(600_000, 52));
  add('app/motd', '2', Buffer.alloc(0), { linkname: Buffer.from('../etc/motd') });
  add('app/hard', '1', Buffer.alloc(0), { linkname: Buffer.from('app/lib/m1.js') });
  add(`app/${'long-name-'.repeat(12)}.txt`, '0', semiCompressible(3000, 60), { xattrs: new Map([['user.k', Buffer.from('v')]]) });
  add('etc/', '5');
  add('etc/motd', '0', Buffer.from('hello\n'));
  parts.push(trailer());
  return Buffer.concat(parts);
}

async function* pieces(b: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function digestOf(tar: Buffer, piece: number, options: EstargzOptions): Promise<string> {
  const l = estargzLayer(pieces(tar, piece), options);
  for await (const _ of l.stream) void _;
  const r = await l.done;
  return `${r.digest} ${r.diffID} ${r.tocDigest}`;
}

// [level, chunk size, prioritised files] -> blob digest, diffID, TOC digest.
const PINNED: [number, number | undefined, string[], string][] = [
  [0, undefined, [], 'sha256:737c85527a27f4875a3ec3d05327f72f322ef66dd3779c6196c09c367c8077d6 sha256:a55f098aeb32a961c0fbce034fd5b419d36bce9530c460679ea905d5cbe3dd77 sha256:5b9f24565c7386f2dd2c79fcc481f4d1e4552e38df198f4bc0e9136ad6db7651'],
  [1, undefined, [], 'sha256:dfd95586745b96d628192a8e715df98686fd4b6c6c8290796eba1765bcf85c60 sha256:5f81e5af0338f00bb1cc4173fc27d1c04f2ea06d5e773c6d8b0326f6f9c337cf sha256:859a4e1cf21bf1bc41199056b470850b11104797b0d3c3b8cbc8aba84a950c10'],
  [1, 4096, [], 'sha256:28484634abc8fe78c269476246ad5339cf89e3d178e0a6771f436cdc46d37a4a sha256:d1e4de8c5543d90f74a73620fa7547fac4bb6935a5932721b5964437d5a2f55e sha256:32c3d26775dddefd11d48c8c649640559a7c2fdff5e21117aebf14f94e1c6be4'],
  [1, 100_000, ['etc/motd', 'app/lib/m3.js'], 'sha256:af86e06ece1878eebec442d79a07061f40c0e8e6e0e7df14bd1a1b49ab9dcedd sha256:95fbf74ffb99313720104cc89341fbba918741cf7e2eb6fe14917e21108364a6 sha256:9d5ab886f9f47582557803d8bb025906bedd96b582c67fc03abb432b2f84a6ff'],
  [6, 300_000, [], 'sha256:b42b49592f250c958cbe4c6226ccd84c59b47c54d2b8ec6f68aa13f929d48403 sha256:1ab1a8dbb6a66872bb5b2d7ddb09f2eb8ef1be04e1ed78f5e72ceeb91e1cb168 sha256:7519b6a7f01909d8159acc9ab71bef4deb4659404d14efe95d90382fbb9979c0'],
  [9, undefined, [], 'sha256:7f991087bc68daf2bf524fbd12e262bddee79469fbcd49f42b6241197e5c4161 sha256:a9247d8867a58a26afa3b7622fb79e44a56a2539af1486547a3530b480cfa4d0 sha256:0178c2f3b83c027d299b1488dce9764ef8f79b02df53e4ea2ab39cec7dae54f8'],
];

describe('eStargz blob bytes are pinned for a fixed tar', () => {
  const tar = fixedTar();
  for (const [level, chunkSize, prioritize, want] of PINNED) {
    const what = `level ${level}, chunk size ${chunkSize ?? 'default'}${prioritize.length ? `, prioritising ${prioritize.join(', ')}` : ''}`;
    it(`${what}: threads 1, 2 and 5, source pieces of 1 MiB, 777 and 65536 bytes give the pinned blob`, async (t) => {
      if (level >= 1 && level <= 2 && nativeGzipMembers() === undefined) return t.skip('levels 1-2 pin the native engine (ISA-L) bytes');
      const base: EstargzOptions = { compressionLevel: level, prioritize, ...(chunkSize ? { chunkSize } : {}) };
      for (const [threads, piece] of [[1, 1 << 20], [2, 777], [5, 65536]] as const) {
        assert.equal(await digestOf(tar, piece, { ...base, threads }), want, `threads ${threads}, pieces of ${piece}`);
      }
      // The js engine (one engine per member, hashing in JS) writes the same stored blocks at level 0;
      // its deflate (Node's zlib) differs from the addon's at other levels.
      if (level === 0) assert.equal(await digestOf(tar, 65536, { ...base, engine: 'js' }), want, 'js engine');
    });
  }
});
