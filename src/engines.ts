// Which engines this process can use, and which one a layer gets.
import type { EngineFactory } from './engine.js';
import { ErrEngineUnavailable, ErrOptionRange } from './errors.js';
import { jsEngine } from './js-engine.js';
import { nativeEngine } from './native-engine.js';
import { loadNative } from './native.js';
import type { EngineName } from './options.js';

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

/**
 * The engine for a layer: `name` when given, else FASTLAYER_ENGINE, else the best available.
 * Asking for native when the addon does not load throws ErrEngineUnavailable naming the reason.
 */
export function selectEngine(name?: EngineName): EngineFactory {
  const wanted = name ?? fromEnvironment();
  if (wanted === 'js') return jsEngine;
  if (wanted === 'native') {
    if (nativeEngine) return nativeEngine;
    const error = loadNative().error;
    const reason = error ? error.message : 'the addon loaded but does not match this version of fastlayer';
    throw new ErrEngineUnavailable('native', reason, error);
  }
  return availableEngines()[0]!;
}
