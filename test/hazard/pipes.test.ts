// Hazard: pipes and slow producers. Layer.fromFile on a FIFO whose producer writes nothing used to
// park a libuv thread in a native read (readFile) until 1 MiB or EOF came; three such layers filled
// the native call limit, every other native layer of the process waited, an abort did not end the
// reads, and the process could not exit. Pipes are now read on the event loop (net.Socket), never by
// the engine. The freeze runs in a child process with a bounded timeout, so a hang fails the test.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { availableEngines } from '../../src/engine/engines.js';
import { nativeCallStats } from '../../src/engine/native-engine.js';
import { Layer } from '../../src/layer/layer.js';
import { assertChildOk, childScenario, MiB, report, runChild, text } from '../helpers/hazard.js';

const hasMkfifo = process.platform !== 'win32' && spawnSync('mkfifo', ['--version']).status === 0;
const native = availableEngines().some((e) => e.name === 'native');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function fifo(dir: string, name: string): string {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  return path;
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const within = <T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> =>
  Promise.race([p, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref())]);

// ---- child scenario ----
async function stalledFifos(): Promise<void> {
  const dir = fs.mkdtempSync(join(tmpdir(), 'fastlayer-pipes-'));
  const controller = new AbortController();
  const layers: Layer[] = [];
  for (let i = 0; i < 4; i++) {
    const path = fifo(dir, `p${i}`);
    // The producer: holds the FIFO open for writing (O_RDWR never blocks) and never writes. Left
    // open on purpose until the process ends: that must not keep it from exiting.
    fs.openSync(path, 'r+');
    const layer = Layer.fromFile(path, { engine: 'native', signal: controller.signal, threads: 4 });
    layer.compressed().on('data', () => {}).on('error', () => {});
    layers.push(layer);
  }
  await new Promise((r) => setTimeout(r, 500)); // let the FIFO layers open and start reading
  const statsWhileStalled = nativeCallStats();
  // An unrelated native layer of 1 MB in memory must finish while the FIFOs stall.
  const input = text(MiB, 9);
  const other = new Layer(input, { engine: 'native', compressionLevel: 6 });
  void collect(other.compressed()).catch(() => {});
  const otherDone = await within(other.done, 10_000);
  const otherOk = otherDone !== 'timeout' && otherDone.diffID.hex === sha(input);
  // Abort the FIFO layers: every one must settle at once.
  const reason = new Error('stop');
  controller.abort(reason);
  const settled = await within(Promise.all(layers.map((l) => l.done.then(() => 'resolved', (e: unknown) => e))), 5_000);
  const allAborted = settled !== 'timeout' && settled.every((e) => e === reason);
  report({ statsWhileStalled, otherOk, otherTimedOut: otherDone === 'timeout', allAborted });
  fs.rmSync(dir, { recursive: true, force: true });
  // No process.exit(): the process must end by itself, with the producers' descriptors still open.
}

if (childScenario() === 'stalled fifos') {
  await stalledFifos();
} else {
  describe('hazard: pipes and slow producers', () => {
    test(
      'native: 4 FIFO layers whose producer writes nothing do not hold native calls; a 1 MB layer completes, abort releases them, the process exits',
      { skip: (!hasMkfifo && 'needs mkfifo (POSIX)') || (!native && 'needs the native engine') },
      async (t) => {
        const r = await runChild(import.meta.url, 'stalled fifos', { timeoutMs: 40_000 });
        t.diagnostic(JSON.stringify(r.report));
        assertChildOk(r, 'stalled FIFOs');
        assert.equal(r.report.statsWhileStalled.running, 0, 'a stalled FIFO holds a native call');
        assert.equal(r.report.otherTimedOut, false, 'the in-memory layer waited behind the FIFO layers');
        assert.ok(r.report.otherOk, 'the in-memory layer computed wrong values');
        assert.ok(r.report.allAborted, 'the FIFO layers did not all reject with the abort reason');
      },
    );

    for (const { name } of availableEngines()) {
      test(`${name}: a FIFO fed slowly (fromFile, a range of it, and a ReadStream of it) gives the values of its bytes`, { skip: !hasMkfifo && 'needs mkfifo (POSIX)' }, async () => {
        const dir = fs.mkdtempSync(join(tmpdir(), 'fastlayer-pipes-'));
        try {
          const data = text(2 * MiB + 12345, 4);
          const feed = async (path: string) => {
            const fd = await fs.promises.open(path, 'w'); // waits for the layer to open its end
            try {
              for (let at = 0; at < data.length; at += 300_000) {
                await fd.write(data.subarray(at, at + 300_000));
                await new Promise((r) => setTimeout(r, 5));
              }
            } finally {
              await fd.close();
            }
          };
          const check = async (layer: Layer, want: Uint8Array) => {
            const out = await collect(layer.compressed());
            const v = await layer.done;
            assert.equal(v.diffID.hex, sha(want));
            assert.equal(v.digest.hex, sha(out));
            assert.equal(v.size, out.length);
          };
          const a = fifo(dir, 'a');
          await Promise.all([feed(a), check(Layer.fromFile(a, { engine: name }), data)]);
          const b = fifo(dir, 'b');
          // `end` on a pipe: only the first 1,000,001 bytes; the producer then sees EPIPE.
          const fedB = feed(b).catch((err: NodeJS.ErrnoException) => assert.equal(err.code, 'EPIPE'));
          await Promise.all([fedB, check(Layer.fromFile(b, { engine: name, end: 1_000_000 }), data.subarray(0, 1_000_001))]);
          const c = fifo(dir, 'c');
          await Promise.all([feed(c), check(new Layer(fs.createReadStream(c), { engine: name }), data)]);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  });
}
