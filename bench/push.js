// Push benchmark: a tar of a few hundred MB pushed as a new one-layer image to a local docker-registry,
// by fastlayer (gzip level 1, streaming PATCH, no temp file) and by skopeo (`--dest-compress-format
// gzip --dest-compress-level 1` from an uncompressed OCI layout holding the same bytes), in the same
// run, alternating, each pair on a fresh registry (so neither reuses the other's or an earlier run's
// blobs). Prints one JSON line; the ratio is skopeo time / fastlayer time.
//   node bench/push.js [--size MB] [--runs N] [--quick] [--json]
// Exits with status 3 (skipped) when docker-registry or skopeo is missing.
// Needs: npm run build:ts, /usr/bin/docker-registry, skopeo.
import { spawn, spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { ensureCorpus } from './corpus.js';
import { distIndex } from './paths.js';
import { emit, jsonWanted, skip } from './section-io.js';
import { median } from './stats.js';

const log = (m) => process.stderr.write(m + '\n');
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const quick = args.includes('--quick');
const sizeMB = arg('--size', quick ? 32 : 200);
const runs = arg('--runs', quick ? 1 : 3);
const REGISTRY = ['/usr/bin/docker-registry', '/usr/bin/registry'].find((p) => spawnSync('test', ['-x', p]).status === 0);
if (!REGISTRY) skip('docker-registry is not installed (apt-get install docker-registry)');
if (spawnSync('skopeo', ['--version']).status !== 0) skip('skopeo is not installed (apt-get install skopeo)');

const { Layer, RegistryDestination } = await import(pathToFileURL(distIndex).href);

function sha256Hex(bytes) {
  return spawnSync('sha256sum', [], { input: bytes }).stdout.toString().split(' ')[0];
}

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function startRegistry(dir) {
  const port = await freePort();
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'storage')}\n` +
      `http:\n  addr: 127.0.0.1:${port}\n  secret: bench\n`,
  );
  const child = spawn(REGISTRY, ['serve', config], { stdio: 'ignore' });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v2/`);
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {}
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      skip(`docker-registry did not start on 127.0.0.1:${port} within 15 s`);
    }
    await sleep(50);
  }
  return {
    host: `127.0.0.1:${port}`,
    stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), child.kill('SIGKILL')))),
  };
}

function json(value) {
  const bytes = Buffer.from(JSON.stringify(value));
  return { bytes, digest: `sha256:${sha256Hex(bytes)}`, size: bytes.length };
}

/** An uncompressed OCI layout whose one layer is the tar itself (hard-linked, not copied). */
function uncompressedLayout(dir, corpus) {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const digest = `sha256:${corpus.sha256}`;
  linkSync(corpus.path, join(dir, 'blobs', 'sha256', corpus.sha256));
  const config = json({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [digest] } });
  const manifest = json({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: corpus.bytes }],
  });
  for (const b of [config, manifest]) writeFileSync(join(dir, 'blobs', 'sha256', b.digest.slice(7)), b.bytes);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifest.digest, size: manifest.size }] }),
  );
}

async function pushFastlayer(host, corpus, name) {
  const started = process.hrtime.bigint();
  const layer = Layer.fromFile(corpus.path, { compressionLevel: 1 });
  const dest = new RegistryDestination(`${host}/${name}:v1`);
  const d = await dest.writeBlob({ kind: 'streaming', layer });
  const config = json({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [layer.diffID().toString()] } });
  const configDesc = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size };
  await dest.writeBlob({ kind: 'known', descriptor: configDesc, open: () => (async function* () { yield config.bytes; })() });
  const manifest = json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: configDesc, layers: [d] });
  const top = { descriptor: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifest.digest, size: manifest.size }, bytes: manifest.bytes };
  await dest.writeManifest(top);
  await dest.commit(top, []);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (layer.diffID().toString() !== `sha256:${corpus.sha256}`) throw new Error('fastlayer diffID does not match the tar');
  return { seconds, compressed: d.size };
}

function pushSkopeo(host, layout, name) {
  const started = process.hrtime.bigint();
  const r = spawnSync(
    'skopeo',
    ['copy', '--quiet', '--dest-tls-verify=false', '--dest-compress', '--dest-compress-format', 'gzip', '--dest-compress-level', '1', `oci:${layout}`, `docker://${host}/${name}:v1`],
    { encoding: 'utf8' },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.status !== 0) skip(`skopeo copy failed: ${r.stderr.trim().split('\n').pop()}`);
  const info = JSON.parse(spawnSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${host}/${name}:v1`], { encoding: 'utf8' }).stdout);
  const layer = info.layers[0];
  if (!/gzip/.test(layer.mediaType)) throw new Error(`skopeo pushed ${layer.mediaType}, not gzip`);
  return { seconds, compressed: layer.size };
}

const corpus = await ensureCorpus('realistic', sizeMB, log);
const scratch = mkdtempSync(join(tmpdir(), 'fastlayer-bench-push-'));
try {
  const layout = join(scratch, 'layout');
  uncompressedLayout(layout, corpus);
  const fl = [];
  const sk = [];
  for (let i = 0; i < runs; i++) {
    const dir = join(scratch, `registry-${i}`);
    mkdirSync(dir);
    const registry = await startRegistry(dir);
    try {
      // Alternate which goes first, so page cache and registry warm-up do not favour one side.
      const order = i % 2 === 0 ? ['fastlayer', 'skopeo'] : ['skopeo', 'fastlayer'];
      for (const who of order) {
        if (who === 'fastlayer') fl.push(await pushFastlayer(registry.host, corpus, `bench/fastlayer-${i}`));
        else sk.push(pushSkopeo(registry.host, layout, `bench/skopeo-${i}`));
        log(`run ${i + 1}/${runs} ${who}: ${(who === 'fastlayer' ? fl : sk).at(-1).seconds.toFixed(2)} s`);
      }
    } finally {
      await registry.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const f = median(fl.map((r) => r.seconds));
  const s = median(sk.map((r) => r.seconds));
  const result = {
      section: 'push',
      quick,
      row: 'push',
      corpus: corpus.name,
      bytes: corpus.bytes,
      runs,
      fastlayerSeconds: f,
      skopeoSeconds: s,
      ratio: s / f,
      fastlayerCompressed: fl[0].compressed,
      skopeoCompressed: sk[0].compressed,
      fastlayerMaxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  if (jsonWanted) emit(result);
  else console.log(JSON.stringify(result));
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
