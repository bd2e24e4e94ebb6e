// The eStargz flags that `fastlayer layer`, `image` and `node` share (docs/CLI.md): `--compression
// estargz` makes a Layer with compression 'estargz' (docs/ESTARGZ.md); these tune it.
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '../estargz/options.js';
import type { EstargzLayerOptions } from '../layer/options.js';
import { integerOption, listOption, type Args, type OptionTable } from './command.js';
import { ErrCliUsage } from './errors.js';

/** --estargz-chunk-size and --estargz-prioritize; a usage error without --compression estargz. */
export function estargzFlags(args: Args, estargz: boolean, command: string): EstargzLayerOptions | undefined {
  const chunkSize = integerOption(args, 'estargz-chunk-size', MIN_CHUNK_SIZE, MAX_CHUNK_SIZE, command);
  const prioritize = listOption(args, 'estargz-prioritize');
  if (!estargz && (chunkSize !== undefined || prioritize.length > 0)) {
    throw new ErrCliUsage(`--${chunkSize !== undefined ? 'estargz-chunk-size' : 'estargz-prioritize'} needs --compression estargz`, command);
  }
  if (prioritize.some((p) => p === '' || p.split('/').includes('..'))) throw new ErrCliUsage("--estargz-prioritize needs a file path in the layer without '..'", command);
  if (!estargz) return undefined;
  return { ...(chunkSize === undefined ? {} : { chunkSize }), ...(prioritize.length === 0 ? {} : { prioritize }) };
}

/** The two flags' definitions, the same in every command that takes --compression estargz. */
export const ESTARGZ_OPTIONS: OptionTable = {
  'estargz-chunk-size': { type: 'string', value: 'BYTES', help: 'estargz: split files larger than BYTES into chunks (512 to 64 MiB; default 4 MiB)' },
  'estargz-prioritize': { type: 'string', multiple: true, value: 'FILE', help: 'estargz, repeatable: put FILE (a path in the layer) first, before the prefetch landmark' },
};
