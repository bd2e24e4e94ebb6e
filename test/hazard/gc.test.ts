// Hazard: garbage collection of layers that were never consumed or were abandoned mid-stream
// (no destroy). Runs in a child with --expose-gc: every layer must be collected (counted with a
// FinalizationRegistry) and native memory must come back (RSS flat from round to round after the
// first; a leaked layer holds a MiB or more, so even 30 per round would show as 30+ MiB a round).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { availableEngines } from '../../src/engine/engines.js';
import { Layer } from '../../src/layer/layer.js';
import { assertChildOk, childScenario, gcHard, report, rssMiB, runChild, text } from '../helpers/hazard.js';

const ROUNDS = 4;
// The js engine spends ~10x longer per layer on its first 1 MiB; fewer layers still show a leak.
const perRound = (engine: string, kind: Kind): number =>
  kind.includes('AbortSignal') ? 50 : engine === 'native' ? 100 : 30;

type Kind = 'never consumed' | 'abandoned mid-stream' | 'abandoned mid-stream, shared live AbortSignal';

/** Creates a layer of `kind` and drops every reference to it; resolves once it is in that state. */
async function makeAndDrop(engine: string, kind: Kind, registry: FinalizationRegistry<string>, signal: AbortSignal): Promise<void> {
  // A source that would go on for 64 MiB: the layer is never allowed to finish. The first output
  // comes after the first engine call (up to 1 MiB of input).
  const piece = text(512 * 1024, 4);
  const source = (async function* () {
    for (let i = 0; i < 128; i++) yield piece;
  })();
  const layer = new Layer(source, {
    engine: engine as 'native' | 'js',
    compressionLevel: 1, // fast enough for hundreds of layers; still about a MiB of native state
    ...(kind.includes('AbortSignal') ? { signal } : {}),
  });
  registry.register(layer, kind);
  if (kind === 'never consumed') return;
  const stream = layer.compressed();
  // One chunk of output means the engine holds its full state; then stop reading for good.
  await new Promise<void>((resolve, reject) => {
    stream.once('error', reject);
    stream.once('data', () => {
      stream.pause();
      resolve();
    });
  });
}

async function scenario(engine: string, kind: Kind): Promise<void> {
  const count = perRound(engine, kind);
  let finalized = 0;
  const registry = new FinalizationRegistry<string>(() => finalized++);
  const signal = new AbortController().signal; // lives as long as this function: a "global" signal
  const rss: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < count; i++) await makeAndDrop(engine, kind, registry, signal);
    // Let any call still in flight complete, then collect.
    await new Promise((r) => setTimeout(r, 100));
    await gcHard();
    rss.push(Math.round(rssMiB()));
  }
  await gcHard();
  await new Promise((r) => setTimeout(r, 50));
  report({ created: ROUNDS * count, finalized, rss });
}

const engines = availableEngines().map((e) => e.name);
const kinds: Kind[] = ['never consumed', 'abandoned mid-stream', 'abandoned mid-stream, shared live AbortSignal'];

const which = childScenario();
if (which) {
  const [engine, kind] = which.split('|') as [string, Kind];
  await scenario(engine, kind);
} else {
  describe('hazard: garbage collection of unconsumed and abandoned layers', () => {
    for (const engine of engines) {
      for (const kind of kinds) {
        // The listener leak below is in the Layer, not the engine: one engine shows it.
        if (kind.includes('AbortSignal') && engine !== engines[0]) continue;
        test(`${engine}: ${perRound(engine, kind)} layers ${kind}, ${ROUNDS} rounds`, async (t) => {
          const r = await runChild(import.meta.url, `${engine}|${kind}`, { execArgv: ['--expose-gc'], timeoutMs: 120_000 });
          assertChildOk(r, kind);
          const { created, finalized, rss } = r.report as { created: number; finalized: number; rss: number[] };
          t.diagnostic(`finalized ${finalized}/${created}; RSS per round (MiB): ${rss.join(' ')}`);
          // Growth after the first round (warm-up: allocator arenas, JIT) is what a leak would show.
          // The bound leaves room for memory the process keeps on purpose or by allocator habit: the
          // addon keeps up to 32 MiB of freed output blocks for reuse and glibc keeps freed arenas. A leak
          // of these layers (a MiB or more each, 50-100 a round) would still exceed it within two rounds;
          // the finalization count below is the exact check.
          const growth = rss[rss.length - 1]! - rss[1]!;
          assert.ok(growth < 64, `RSS grew by ${growth} MiB over ${ROUNDS - 2} rounds after warm-up: ${rss.join(' ')}`);
          // Nearly all: the last few may still be referenced from the current stack when gc runs.
          assert.ok(finalized >= created - 5, `only ${finalized} of ${created} layers were collected`);
        });
      }
    }
  });
}
