// A short run of the native addon for valgrind memcheck (fuzz/run-valgrind.sh): every level and
// mode, odd views, error paths, destroy while a call is in flight, pipelines left to the GC, eStargz
// members whose views only the call holds, and files read by the worker in pieces.
// Checks its own results against node:crypto so a silent corruption also fails.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { close, closeSync, mkdtempSync, open, openSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

const addon = createRequire(import.meta.url)(process.argv[2]);
const sha = (b) => createHash('sha256').update(b).digest('hex');
const fail = (msg) => {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
};
const input = Buffer.alloc(700_000);
for (let i = 0; i < input.length; i++) input[i] = (i * 7 + (i >> 9)) & 0xff;

// The last entry of each is the thread count: 3 puts units on the helper threads, which must be
// joined at exit with their compressors freed.
const reference = new Map();
for (const [level, mode, threads] of [[0, 0, 1], [1, 0, 1], [1, 0, 3], [2, 0, 1], [3, 0, 1], [6, 0, 1], [6, 0, 3],
  [9, 0, 1], [1, 1, 1], [1, 2, 1], [3, 2, 3], [12, 2, 1]]) {
  const p = new addon.Pipeline(level, mode, threads);
  const parts = [];
  // Chunks: empty, a view with an offset, one crossing a block boundary, the rest.
  // With threads, a call that completes two units after a partial one.
  const views = threads > 1 ? [input.subarray(0, 1000), input.subarray(1000)]
    : [input.subarray(0, 0), input.subarray(0, 1000), input.subarray(1000, 300_000), input.subarray(300_000)];
  for (const v of views) parts.push(await p.update(v));
  const r = await p.finish();
  parts.push(r.out);
  const out = Buffer.concat(parts);
  if (r.diffID.toString('hex') !== sha(input)) fail(`diffID at level ${level} mode ${mode}`);
  if (r.digest.toString('hex') !== sha(out) || r.size !== out.length) fail(`digest/size at level ${level}`);
  if (mode === 0 && !gunzipSync(out).equals(input)) fail(`round trip at level ${level}`);
  // zstd (mode 2): one frame per 8 MiB, each starting with the magic number; decoded by the driver.
  if (mode === 2 && out.readUInt32LE(0) !== 0xfd2fb528) fail(`zstd magic at level ${level}`);
  const key = `${level}/${mode}`;
  if (reference.has(key) && reference.get(key) !== sha(out)) fail(`level ${level}: ${threads} threads changed the bytes`);
  reference.set(key, sha(out));
}

// SharedArrayBuffer and DataView inputs.
const shared = new SharedArrayBuffer(5000);
new Uint8Array(shared).fill(3);
for (const view of [new Uint8Array(shared), new DataView(shared, 10, 100)]) {
  const p = new addon.Pipeline(6, 0);
  await p.update(view);
  await p.finish();
}

// Error paths: busy, finished, destroyed, bad arguments.
const p = new addon.Pipeline(9, 0);
const first = p.update(input);
await p.update(input).then(() => fail('no busy error'), () => {});
p.destroy(); // while the first call is in flight
await first.then(() => {}, () => {});
await p.update(input).then(() => fail('update after destroy'), () => {});
const q = new addon.Pipeline(1, 0);
await q.finish();
await q.finish().then(() => fail('finish twice'), () => {});
for (const bad of [[10, 0], [-1, 0], ['1', 0], [1, 3], [0, 2], [20, 2], [1, 0, 0], [1, 0, 65], [1, 0, '2']]) {
  try {
    new addon.Pipeline(...bad);
    fail(`accepted ${bad}`);
  } catch {}
}
await new addon.Pipeline(1, 0).update('not bytes').then(() => fail('accepted a string'), () => {});

// The SHA-256 test helper on both paths.
if (addon.sha256) {
  for (const portable of [false, true]) {
    if (addon.sha256(input, portable).toString('hex') !== sha(input)) fail(`sha256 helper (portable ${portable})`);
  }
}

// eStargz members (gzipMembers): the worker reads the views, which the call must hold though the
// caller dropped them and collections ran before the worker started (every threadpool thread is
// held in open() of a FIFO until then); with a MemberDigests and file marks across the calls.
if (addon.gzipMembers && addon.MemberDigests && addon.gzipMembersFiles) {
  const dir = mkdtempSync(join(tmpdir(), 'fastlayer-vg-'));
  const fifo = join(dir, 'hold');
  execFileSync('mkfifo', [fifo]);
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  const held = Array.from({ length: pool }, () => new Promise((resolve) => open(fifo, 'r', (err, fd) => (err ? resolve() : close(fd, () => resolve())))));
  const digests = new addon.MemberDigests();
  const want = [];
  const calls = [];
  const marks = [[0, 1], [2, 3], [1, 3]];
  for (let i = 0; i < 3; i++) {
    const members = [Buffer.from(input.subarray(i * 1000, i * 1000 + 300_000)), Buffer.from(input.subarray(5, 70_005))];
    want.push(members.map((m) => sha(m)));
    calls.push(addon.gzipMembers(1, members, members.map((m) => m.length), 2, [300_000, 64_000], digests, marks[i]));
  }
  globalThis.gc?.();
  await new Promise((r) => setTimeout(r, 100));
  globalThis.gc?.();
  const w = openSync(fifo, 'w');
  closeSync(w);
  await Promise.all(held);
  const results = await Promise.all(calls);
  results.forEach((r, i) => {
    let at = 0;
    r.sizes.forEach((n, k) => {
      if (sha(gunzipSync(r.out.subarray(at, (at += n)))) !== want[i][k]) fail(`gzipMembers call ${i} member ${k}`);
    });
  });
  if (!digests.finish(Buffer.alloc(0))) fail('gzipMembers digests');
  rmSync(dir, { recursive: true, force: true });
}

// readFile: a call longer than its 1 MiB read piece, from an odd position (the piece lands at that
// offset in the page-aligned buffer), an update() in between that grows the buffer, and the end of
// the file inside a call.
{
  const dir = mkdtempSync(join(tmpdir(), 'fastlayer-vg-read-'));
  const big = Buffer.concat([input, input, input, input.subarray(0, 77)]);
  const file = join(dir, 'big');
  writeFileSync(file, big);
  const fd = openSync(file, 'r');
  const start = 4093;
  const p = new addon.Pipeline(1, 0);
  const parts = [];
  let at = start;
  const first = await p.readFile(fd, at, 1_200_000);
  parts.push(first.out);
  at += first.bytesRead;
  parts.push(await p.update(big.subarray(at, at + 300_000)));
  at += 300_000;
  const last = await p.readFile(fd, at, 4 * 1024 * 1024);
  parts.push(last.out);
  at += last.bytesRead;
  const r = await p.finish();
  parts.push(r.out);
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  if (at !== big.length) fail(`readFile read ${at - start} bytes of ${big.length - start}`);
  if (r.diffID.toString('hex') !== sha(big.subarray(start))) fail('readFile diffID');
  if (!gunzipSync(Buffer.concat(parts)).equals(big.subarray(start))) fail('readFile round trip');
}

// Queued reads (native/addon/addon_call_order.h): each readFile() made with `continues` while the
// one before it is in flight, on one thread and on three; a pipeline destroyed with a read running
// and one queued behind it; a continuing read after the end of the file, which reads nothing.
{
  const dir = mkdtempSync(join(tmpdir(), 'fastlayer-vg-queued-'));
  const big = Buffer.concat([input, input, input, input.subarray(0, 77)]);
  const file = join(dir, 'big');
  writeFileSync(file, big);
  const fd = openSync(file, 'r');
  const length = 700_000;
  for (const threads of [1, 3]) {
    const p = new addon.Pipeline(1, 0, threads);
    const parts = [];
    let current = p.readFile(fd, 0, length);
    for (let at = length; ; at += length) {
      const next = p.readFile(fd, at, length, true);
      const r = await current;
      parts.push(r.out);
      if (r.bytesRead < length) {
        const after = await next;
        if (after.bytesRead !== 0) fail('queued read after the end');
        break;
      }
      current = next;
    }
    const r = await p.finish();
    parts.push(r.out);
    if (r.diffID.toString('hex') !== sha(big)) fail(`queued reads diffID, threads ${threads}`);
    if (!gunzipSync(Buffer.concat(parts)).equals(big)) fail(`queued reads round trip, threads ${threads}`);
  }
  const d = new addon.Pipeline(6, 0);
  const running = d.readFile(fd, 0, length);
  const queued = d.readFile(fd, length, length, true);
  d.destroy();
  for (const r of await Promise.allSettled([running, queued])) {
    if (r.status !== 'rejected') fail('a call of a destroyed pipeline resolved');
    else if (r.reason.code !== 'ERR_FASTLAYER_DESTROYED') fail(`destroyed: ${r.reason.code}`);
  }
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
}

// Pipelines nobody destroys: the finalizer must free them.
for (let i = 0; i < 20; i++) {
  // Every fifth one is zstd, holding gathered input when it is lost.
  const lost = i % 5 === 4 ? new addon.Pipeline(3, 2, 2) : new addon.Pipeline(i % 10, 0);
  await lost.update(input.subarray(0, 10_000));
}
globalThis.gc?.();
await new Promise((r) => setTimeout(r, 50));
globalThis.gc?.();
console.log('valgrind-addon: all checks passed');
