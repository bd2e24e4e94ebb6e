// The CLI's safe output (src/cli/output.ts) in process: what image and archive commands build on.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openOutput } from '../../src/cli/output.js';
import { tempDir } from '../helpers/tree.js';
import { runSlowlyRead, temporaries } from '../helpers/cli.js';

const write = (s: NodeJS.WritableStream, data: string) => new Promise<void>((resolve, reject) => s.write(data, (err) => (err ? reject(err) : resolve())));

describe('openOutput', () => {
  const tmp = tempDir();
  after(() => tmp.remove());
  const signal = new AbortController().signal;

  it('nothing appears under the final name before commit; positional patches through fd land in it', async () => {
    const target = join(tmp.path, 'archive.tar');
    const out = await openOutput(target, { label: 'x' }, signal);
    assert.ok(out.file, 'a regular file exposes its temporary file');
    await write(out.stream, 'header-0 data');
    writeSync(out.file.fd, Buffer.from('1'), 0, 1, 7);
    assert.ok(!existsSync(target), 'not visible before commit');
    assert.deepEqual(temporaries(tmp.path).length, 1);
    await out.commit();
    assert.equal(readFileSync(target, 'utf8'), 'header-1 data');
    assert.deepEqual(temporaries(tmp.path), []);
  });

  it('standard output: commit() resolves once stdout has taken every byte written (hazard: the bin exits with bytes still queued)', async () => {
    // A child writes 4 MiB without waiting, commits and exits at once; this reader takes each piece
    // 2 ms late, so most of it is still queued when the writes return.
    const module = fileURLToPath(new URL('../../src/cli/output.js', import.meta.url));
    const script = `const { openOutput } = await import(${JSON.stringify(pathToFileURL(module).href)});
      const o = await openOutput('-', [], new AbortController().signal);
      for (let i = 0; i < 8; i++) o.stream.write(Buffer.alloc(512 * 1024, 97 + i));
      await o.commit();
      process.exit(0);`;
    const run = await runSlowlyRead(['--input-type=module', '-e', script]);
    assert.equal(run.status, 0, run.stderr);
    const all = run.stdout;
    assert.equal(all.length, 4 * 1024 * 1024, 'every byte reached standard output');
    for (let i = 0; i < 8; i++) assert.equal(all[i * 512 * 1024 + 1000], 97 + i, `piece ${i} in order`);
  });

  it('discard removes only its temporary file: the previous content stays', async () => {
    const target = join(tmp.path, 'kept.tar');
    writeFileSync(target, 'previous');
    const out = await openOutput(target, { label: 'x' }, signal);
    await write(out.stream, 'partial');
    await out.discard();
    await out.discard();
    assert.equal(readFileSync(target, 'utf8'), 'previous');
    assert.deepEqual(temporaries(tmp.path), []);
  });

  it('refuses the input file and paths inside the input directory, by identity', async () => {
    const file = join(tmp.path, 'in.bin');
    writeFileSync(file, 'in');
    const st = statSync(file);
    await assert.rejects(openOutput(file, { file: { dev: st.dev, ino: st.ino }, label: file }, signal), { code: 'ERR_CLI_OUTPUT' });
    const d = statSync(tmp.path);
    await assert.rejects(openOutput(join(tmp.path, 'new.gz'), { directory: { dev: d.dev, ino: d.ino }, label: tmp.path }, signal), {
      code: 'ERR_CLI_OUTPUT',
      message: /inside the input directory/,
    });
    assert.equal(readFileSync(file, 'utf8'), 'in');
  });
});
