// Where the benchmark reads and writes. .cache/ is git-ignored; bench/results/ is committed.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const repoRoot = dirname(benchDir);
export const cacheDir = join(repoRoot, '.cache', 'bench');
export const committedResultsDir = join(benchDir, 'results');
export const scratchResultsDir = join(cacheDir, 'results');
// FASTLAYER_BENCH_DIST points the benchmark at another build (e.g. an installed release) to compare.
export const distIndex = process.env.FASTLAYER_BENCH_DIST
  ? resolve(process.env.FASTLAYER_BENCH_DIST)
  : join(repoRoot, 'dist', 'index.js');
