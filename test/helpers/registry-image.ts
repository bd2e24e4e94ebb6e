// Minimal images for the registry tests, built by hand (the image model lives in another branch):
// Docker schema 2 manifest and config JSON, driven into a Destination in writeImage's order.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { spawnSync } from 'node:child_process';
import type { Blob, Descriptor, Destination, KnownBlob, ManifestBlob } from '../../src/image/types.js';
import type { Layer } from '../../src/layer/layer.js';

export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';

export function digestOf(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function bufferBlob(bytes: Buffer, mediaType: string, extra: Partial<KnownBlob> = {}): KnownBlob {
  return { kind: 'known', descriptor: { mediaType, digest: digestOf(bytes), size: bytes.length }, open: () => Readable.from([bytes]), ...extra };
}

export function configFor(diffIDs: string[], created = '2024-01-01T00:00:00Z'): Buffer {
  return Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', created, config: {}, rootfs: { type: 'layers', diff_ids: diffIDs } }),
  );
}

export function manifestFor(config: Descriptor, layers: Descriptor[]): ManifestBlob {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config, layers }));
  return { descriptor: { mediaType: DOCKER_MANIFEST, digest: digestOf(bytes), size: bytes.length }, bytes };
}

/** One image: streaming layers (diffIDs from the layer) or known blobs with their diffID. */
export async function writeTestImage(
  destination: Destination,
  blobs: Blob[],
  names: string[] = [],
  signal?: AbortSignal,
): Promise<{ manifest: ManifestBlob; config: KnownBlob; layers: Descriptor[] }> {
  try {
    const layers: Descriptor[] = [];
    const diffIDs: string[] = [];
    for (const blob of blobs) {
      if (blob.kind === 'known' && (await destination.has(blob.descriptor))) {
        layers.push(blob.descriptor);
        diffIDs.push(blob.diffID!);
        continue;
      }
      const d = await destination.writeBlob(blob, signal);
      layers.push(d);
      diffIDs.push(blob.kind === 'streaming' ? (await blob.layer.done).diffID.toString() : blob.diffID!);
    }
    const config = bufferBlob(configFor(diffIDs), DOCKER_CONFIG);
    if (!(await destination.has(config.descriptor))) await destination.writeBlob(config, signal);
    const manifest = manifestFor(config.descriptor, layers);
    await destination.writeManifest(manifest, signal);
    await destination.commit(manifest, names, signal);
    return { manifest, config, layers };
  } catch (err) {
    await destination.abort(err);
    throw err;
  }
}

export function streaming(layer: Layer): Blob {
  return { kind: 'streaming', layer };
}

/** skopeo with plain http to the loopback registry; throws with its stderr on failure. */
export function skopeo(args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync('skopeo', args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  if (r.status !== 0) throw new Error(`skopeo ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
