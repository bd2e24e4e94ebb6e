// The archive writer's own entries (blobs/, blobs/sha256/<hex>, index.json, ...): short ASCII names
// only (blobs/sha256/<hex> is 77 characters), owned by 0:0, a fixed mtime, each header one block so a
// streamed blob's header can be rewritten once its size is known. The encoding is src/tar/'s.
import { plainHeader } from '../tar/header.js';

export { BLOCK, padding } from '../tar/header.js';

export function tarHeader(name: string, size: number, type: '0' | '5', mtime: number): Buffer {
  if (name.length > 100 || !/^[\x21-\x7e]+$/.test(name)) throw new RangeError(`archive entry name ${JSON.stringify(name)} does not fit a ustar header`);
  return plainHeader(Buffer.from(name, 'ascii'), type, type === '5' ? 0o755 : 0o644, size, mtime);
}
