// ustar headers for the archive writer's own entries: short ASCII names only (blobs/sha256/<hex> is
// 77 characters), uid/gid 0, a fixed mtime. Sizes past ustar's 8 GiB use the base-256 form that Go's
// archive/tar (containerd, skopeo, Docker, podman, umoci) and GNU tar read.
export const BLOCK = 512;
const OCTAL_11 = 0o77777777777;

function octal(h: Buffer, offset: number, width: number, value: number): void {
  h.write(value.toString(8).padStart(width - 1, '0'), offset, width - 1, 'ascii');
  h[offset + width - 1] = 0;
}

export function tarHeader(name: string, size: number, type: '0' | '5', mtime: number): Buffer {
  if (name.length > 100 || !/^[\x21-\x7e]+$/.test(name)) throw new RangeError(`archive entry name ${JSON.stringify(name)} does not fit a ustar header`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 'ascii');
  octal(h, 100, 8, type === '5' ? 0o755 : 0o644);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  if (size <= OCTAL_11) octal(h, 124, 12, size);
  else {
    h[124] = 0x80;
    let v = BigInt(size);
    for (let i = 135; i > 124; i--) {
      h[i] = Number(v & 0xffn);
      v >>= 8n;
    }
  }
  octal(h, 136, 12, mtime);
  h.write(type, 156, 'ascii');
  h.write('ustar\u000000', 257, 'ascii');
  octal(h, 329, 8, 0);
  octal(h, 337, 8, 0);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0'), 148, 6, 'ascii');
  h[154] = 0;
  h[155] = 0x20;
  return h;
}

export function paddingFor(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}
