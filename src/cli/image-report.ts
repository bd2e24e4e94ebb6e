// How the image commands print what they wrote or pushed: lines for people on standard output, or
// one JSON document with --json. Names, digests and sizes only: never credentials.
import type { WriteResult } from '../image/write.js';
import type { Descriptor } from '../image/types.js';
import { escapeControls } from './escape.js';
import { formatBytes } from './progress.js';
import { writeStderr, writeStdout } from './stdio.js';

export interface Written {
  /** 'archive', 'oci-dir' or 'registry'. */
  kind: string;
  /** The file, directory or reference written to. */
  target: string;
}

export function resultJSON(result: WriteResult, where: Written, seconds: number): Record<string, unknown> {
  return {
    names: result.names,
    digest: result.digest,
    mediaType: result.descriptor.mediaType,
    size: result.descriptor.size,
    images: result.images.map((i) => ({ manifest: i.manifest, config: i.config, layers: i.layers, diffIDs: i.diffIDs })),
    output: where,
    seconds,
  };
}

function layerLine(d: Descriptor, diffID?: string): string {
  return `  layer ${d.digest}  ${formatBytes(d.size)}  ${d.mediaType}${diffID ? `  diffID ${diffID}` : ''}`;
}

export function resultText(result: WriteResult): string {
  const lines = [
    ...result.names.map((n) => `name: ${n}`),
    `digest: ${result.digest}`,
    `mediaType: ${result.descriptor.mediaType}`,
    `size: ${result.descriptor.size}`,
  ];
  for (const image of result.images) {
    if (result.images.length > 1 || image.manifest.digest !== result.digest) {
      const p = image.manifest.platform;
      lines.push(`manifest ${image.manifest.digest}${p ? ` (${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''})` : ''}`);
    }
    lines.push(`  config ${image.config.digest}  ${formatBytes(image.config.size)}`);
    image.layers.forEach((l, i) => lines.push(layerLine(l, image.diffIDs[i])));
  }
  // A base image's layer media types are its author's text: one escaped line per value.
  return `${lines.map(escapeControls).join('\n')}\n`;
}

/** With the archive itself on standard output, the description goes to standard error. */
export async function printResult(result: WriteResult, where: Written, seconds: number, json: boolean, onStdout: boolean): Promise<void> {
  if (onStdout) await writeStderr(resultText(result));
  else await writeStdout(json ? `${JSON.stringify(resultJSON(result, where, seconds))}\n` : resultText(result));
}
