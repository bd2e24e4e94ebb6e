// Which engines this process can use, and which one a layer gets.
import type { EngineFactory, EngineName, EngineOptions } from './engine.js';
import { ErrEngineUnavailable, ErrOptionRange } from '../core/errors.js';
import { jsEngine } from './js-engine.js';
import { jsZstdUnavailableReason } from './js-zstd.js';
import { nativeEngine } from './native-engine.js';
import { loadNative } from './native.js';

/** Engines that work here, best first: native (when the addon loads), then js. */
export function availableEngines(): EngineFactory[] {
  return nativeEngine ? [nativeEngine, jsEngine] : [jsEngine];
}

function fromEnvironment(): EngineName | undefined {
  const value = process.env.FASTLAYER_ENGINE;
  if (value === undefined || value === '') return undefined;
  if (value !== 'native' && value !== 'js') {
    throw new ErrOptionRange('FASTLAYER_ENGINE (environment variable)', "'native', 'js' or empty", value);
  }
  return value;
}

/** Code of the warning emitted once when levels 1-2 fall back to the js engine on this CPU. */
export const LEVEL_FALLBACK_WARNING = 'FASTLAYER_LEVEL_FALLBACK';
let warned = false;

/**
 * The engine for a layer: `name` when given, else FASTLAYER_ENGINE, else the best available for
 * `options` (the js engine for levels 1-2 where the CPU keeps ISA-L from giving the reference bytes:
 * aarch64, x86-64 without SSE4.2; one process warning says so).
 * Asking for native when the addon does not load throws ErrEngineUnavailable naming the reason.
 */
export function selectEngine(name?: EngineName, options?: EngineOptions): EngineFactory {
  const wanted = name ?? fromEnvironment();
  if (options?.compression === 'zstd') return selectZstdEngine(wanted);
  if (wanted === 'js') return jsEngine;
  if (wanted === 'native') {
    if (nativeEngine) return nativeEngine;
    const error = loadNative().error;
    const reason = error ? error.message : 'the addon loaded but does not match this version of fastlayer';
    throw new ErrEngineUnavailable('native', reason, error);
  }
  const best = availableEngines()[0]!;
  if (options === undefined || best.supports?.(options) !== false) return best;
  if (!warned) {
    warned = true;
    process.emitWarning(
      `fastlayer: compression level ${options.level} uses the js engine on this CPU: the native engine's ISA-L ` +
        'gives reproducible bytes only on x86-64 with SSSE3 and SSE4.2. Levels 0 and 3-9 stay native.',
      { code: LEVEL_FALLBACK_WARNING },
    );
  }
  return jsEngine;
}

/** Why the native engine cannot write zstd layers here. */
function nativeZstdUnavailableReason(): string {
  if (!nativeEngine) return loadNative().error?.message ?? 'the addon loaded but does not match this version of fastlayer';
  return `the loaded addon was built without zstd support (libzstd ${nativeEngine.details.zstd ?? 'absent'}): rebuild it`;
}

/**
 * zstd layers: native whenever it can (its bytes are the reference, docs/ZSTD.md), else node:zlib's
 * zstd; a runtime with neither (Node 20 without the addon) gets ErrEngineUnavailable naming both reasons.
 */
function selectZstdEngine(wanted: EngineName | undefined): EngineFactory {
  const nativeOk = nativeEngine?.supports?.({ level: 3, compression: 'zstd' }) === true;
  const jsReason = jsZstdUnavailableReason();
  if (wanted === 'js') {
    if (jsReason !== undefined) throw new ErrEngineUnavailable('js', `zstd layers: ${jsReason}`);
    return jsEngine;
  }
  if (nativeOk) return nativeEngine!;
  const nativeReason = nativeZstdUnavailableReason();
  if (wanted === 'native' || jsReason !== undefined) {
    const also = wanted === 'native' ? '' : `; the js engine cannot either: ${jsReason}`;
    throw new ErrEngineUnavailable('native', `zstd layers: ${nativeReason}${also}`, loadNative().error);
  }
  return jsEngine;
}
