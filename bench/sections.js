// The sections of `npm run bench` after the layer pipelines: each a standalone script run in its own
// child process with --json (see section-io.js). A section whose tool is missing here is skipped with
// a one-line note; a crash or a digest that does not check out is a failure of the whole bench.
import { join } from 'node:path';
import { runJsonChild } from './child.js';
import { SKIP_STATUS } from './section-io.js';
import { benchDir } from './paths.js';

export const SECTIONS = {
  dir: {
    script: 'dir-layers.js',
    title: 'Directory layers (issue 12)',
    needs: 'GNU tar, gzip, sha256sum; /usr/share/doc for the small files',
  },
  zstd: {
    script: 'zstd.js',
    title: 'zstd layers (issue 15)',
    needs: 'the native addon built with zstd; the `zstd` command for the baseline rows',
  },
  streams: {
    script: 'streams.js',
    title: 'Stream forms: createGzip and LayerCompressionStream (issue 16)',
    needs: 'nothing beyond the build',
  },
  push: {
    script: 'push.js',
    title: 'Push to a registry (issue 13)',
    needs: '`docker-registry` (Debian package) and `skopeo`',
  },
  estargz: {
    script: 'estargz.js',
    title: 'eStargz layers (issue 23)',
    needs: 'the native addon',
  },
  'estargz-convert': {
    script: 'estargz-convert.js',
    title: 'eStargz against ctr-remote images convert (issue 23)',
    needs: 'root, `containerd` and `ctr-remote` (Debian packages containerd and stargz-snapshotter)',
  },
  image: {
    script: 'image.js',
    title: 'Image archive build',
    needs: 'nothing beyond the build',
  },
};
export const SECTION_NAMES = Object.keys(SECTIONS);

/** One section: resolves { result } | { skipped } | { error }. A hang past timeoutMs is an error. */
export function runSection(name, { quick, timeoutMs }) {
  const args = [join(benchDir, SECTIONS[name].script), '--json', ...(quick ? ['--quick'] : [])];
  return runJsonChild(process.execPath, args, timeoutMs, SKIP_STATUS);
}

function target(name, value, goal, unit = '') {
  const status = value === null || value === undefined || !Number.isFinite(value) ? 'n/a' : value >= goal ? 'PASS' : 'MISS';
  return { name, goal, value: Number.isFinite(value) ? value : null, status, unit };
}

/** The issues' goals, as ratios measured in the same run; n/a when a row is missing. */
export function sectionTargets(name, r) {
  if (!r) return [];
  if (name === 'dir') {
    return [
      target('large files: directory layer vs Layer.fromFile of the same tree\'s tar (fraction)', r.large?.ratio, 0.8),
      target(`small files (${r.small?.dir ?? '/usr/share/doc'}): directory layer vs \`tar | gzip -1\` + 2 x sha256sum (x)`, r.small?.ratio, 2),
    ];
  }
  if (name === 'zstd') {
    const row = (tool, level, threads) =>
      r.rows?.find((x) => x.corpus === 'realistic' && x.tool === tool && x.level === level && x.threads === threads);
    const z3 = row('fastlayer-zstd', 3, r.defaultThreads);
    const z3one = row('fastlayer-zstd', 3, 1);
    const g6 = row('fastlayer-gzip', 6, r.defaultThreads);
    const g1 = row('fastlayer-gzip', 1, r.defaultThreads);
    const cli = row('zstd', 3, 1);
    return [
      target('realistic tar: zstd level 3 output smaller than fastlayer gzip level 6 by (fraction)', z3 && g6 ? 1 - z3.size / g6.size : null, 0.1),
      target('realistic tar: fastlayer zstd 3 on 1 thread vs `zstd -3 -T1` + 2 x sha256sum (fraction)', z3one && cli ? z3one.mbps / cli.mbps : null, 0.9),
      target(`realistic tar: fastlayer zstd 3 vs fastlayer gzip 1, both on ${r.defaultThreads} threads (x, goal: above)`, z3 && g1 ? z3.mbps / g1.mbps : null, 1),
    ];
  }
  if (name === 'estargz') {
    const row = (level) => r.rows?.find((x) => x.level === level && x.threads === r.defaultThreads);
    return [1, 6].map((level) =>
      target(`realistic tar: eStargz vs fastlayer gzip, level ${level}, both on ${r.defaultThreads} threads (fraction)`, row(level)?.ratio, 0.8));
  }
  if (name === 'estargz-convert') {
    return (r.rows ?? []).map((x) =>
      target(`realistic tar: fastlayer eStargz vs \`ctr-remote images convert --estargz --oci\`, level ${x.level} (x)`, x.ratio, 3));
  }
  if (name === 'streams') {
    const l1 = r.results?.find((x) => x.level === 1)?.ratios;
    return [
      target('level 1: createGzip in pipeline() vs Layer.fromFile (fraction)', l1?.createGzipVsLayer, 0.9),
      target('level 1: createGzip from a 1 MiB-read stream vs Layer.fromFile (fraction)', l1?.createGzip1MVsLayer, 0.9),
      target('level 1: createGzip in pipeline() vs zlib.createGzip + 2 hashes (x)', l1?.createGzipVsZlib, 3),
    ];
  }
  if (name === 'push') {
    return [target('push of a new one-layer image, level 1: fastlayer vs skopeo copy (x)', r.ratio, 2)];
  }
  return [];
}
