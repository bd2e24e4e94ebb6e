// On a CPU where ISA-L cannot give the reference bytes (x86-64 without SSE4.2 here, emulated by
// qemu-user; aarch64 likewise), a layer that did not force an engine must still work at the default
// level: levels 1-2 go to the js engine with one warning, the others stay native, and forcing native
// still fails with the CPU's reason.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nativeEngine } from '../../src/engine/native-engine.js';
import { selectEngine } from '../../src/engine/engines.js';

const qemu = spawnSync('qemu-x86_64', ['--version'], { stdio: 'ignore' }).status === 0;
const index = fileURLToPath(new URL('../../src/index.js', import.meta.url));

describe('engine choice by CPU', { skip: nativeEngine ? false : 'addon did not load' }, () => {
  it('this CPU supports every level natively, so the default engine is native at all of them', () => {
    for (let level = 0; level <= 9; level++) {
      assert.equal(nativeEngine!.supports!({ level, compression: 'gzip' }), true, `level ${level}`);
      assert.equal(selectEngine(undefined, { level, compression: 'gzip' }).name, 'native');
    }
  });

  it('x86-64 without SSE4.2 (qemu64): levels 1-2 fall back to js with one warning; forced native refuses',
    { skip: qemu ? false : 'qemu-x86_64 is not installed (Debian: qemu-user)', timeout: 120_000 }, () => {
      const script = `
        const m = await import(${JSON.stringify(index)});
        const warnings = [];
        process.on('warning', (w) => warnings.push(w.code));
        const engines = {};
        for (const level of [0, 1, 2, 6]) {
          const layer = new m.Layer(Buffer.from('abc'.repeat(1000)), { compressionLevel: level });
          for await (const _ of layer.compressed());
          await layer.done;
          engines[level] = layer.engine.name;
        }
        let forced = null;
        try {
          const layer = new m.Layer(Buffer.from('x'), { engine: 'native' });
          for await (const _ of layer.compressed());
        } catch (err) { forced = err.code; }
        await new Promise((r) => setImmediate(r));
        console.log(JSON.stringify({ engines, forced, warnings }));`;
      const run = spawnSync('qemu-x86_64', ['-cpu', 'qemu64', process.execPath, '--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 110_000,
        env: { ...process.env, FASTLAYER_ENGINE: '' },
      });
      assert.equal(run.status, 0, run.stderr);
      const result = JSON.parse(run.stdout.trim().split('\n').pop()!);
      assert.deepEqual(result.engines, { 0: 'native', 1: 'js', 2: 'js', 6: 'native' });
      assert.equal(result.forced, 'ERR_FASTLAYER_UNSUPPORTED_CPU');
      assert.deepEqual(result.warnings, ['FASTLAYER_LEVEL_FALLBACK']);
    });
});
