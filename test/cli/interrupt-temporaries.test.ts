// Hazard: temporary files outliving an interrupted run. The archive writer builds its archive under
// its own temporary name beside the CLI's; a second Ctrl-C ends the process at once, and only the
// temporary files recorded for the interrupt handler are removed then.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from '../helpers/tree.js';
import { BIN, binMissing, startCli } from '../helpers/cli.js';
import { oneImageRegistry, type OneImageRegistry } from '../helpers/one-image-registry.js';

describe('hazard: interrupted pull leaves no temporary file', { skip: binMissing() }, () => {
  const tmp = tempDir();
  let registry: OneImageRegistry;
  before(async () => {
    registry = await oneImageRegistry({ stall: true });
  });
  after(() => {
    registry.close();
    tmp.remove();
  });

  it('hazard: a second signal during pull -o removes the archive writer\'s temporary file too', async () => {
    const dir = join(tmp.path, 'out');
    mkdirSync(dir);
    const child = startCli(['pull', `${registry.host}/one:1`, '-o', join(dir, 'slow.tar'), '-q']);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit');
    await registry.stalled;
    // The archive's own temporary file exists once the first blob is in it.
    for (let i = 0; i < 200 && readdirSync(dir).length < 2; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(readdirSync(dir).length, 2, `the CLI's and the archive writer's temporary files: ${readdirSync(dir).join(', ')}`);
    // A second signal ends the process at once, before the first one's cleanup has run. Two
    // different signals: two pending SIGINTs would be merged into one by the kernel, and both are
    // then handled in one turn of the event loop, with nothing of the cleanup in between.
    child.kill('SIGINT');
    child.kill('SIGTERM');
    const [code] = await exited;
    assert.ok(code === 130 || code === 143, `exit status ${code}: ${stderr}`);
    assert.deepEqual(readdirSync(dir), [], 'nothing of the run is left');
    assert.ok(!existsSync(join(dir, 'slow.tar')));
  });

  it('hazard: a second signal during image -o - removes the archive staged under the temp directory', async () => {
    const app = join(tmp.path, 'app');
    const staging = join(tmp.path, 'staging');
    mkdirSync(app);
    mkdirSync(staging);
    writeFileSync(join(app, 'data.bin'), randomBytes(4 << 20));
    // Standard output is a pipe nobody reads: the copy of the staged archive waits once it is full.
    const child = spawn(process.execPath, [BIN, 'image', '--layer', app, '--tag', 'x:1', '--compression', 'none', '--no-layer-cache', '-o', '-', '-q'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TMPDIR: staging },
    });
    child.stdout!.pause();
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit');
    const staged = (): string[] => readdirSync(staging).filter((n) => /^fastlayer-archive-.*\.tar$/.test(n));
    for (let i = 0; i < 400 && staged().length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(staged().length, 1, `the staged archive: ${readdirSync(staging).join(', ')} ${stderr}`);
    child.kill('SIGINT');
    child.kill('SIGTERM');
    const [code] = await exited;
    assert.ok(code === 130 || code === 143, `exit status ${code}: ${stderr}`);
    assert.deepEqual(readdirSync(staging), [], 'nothing of the run is left under the temp directory');
  });
});
