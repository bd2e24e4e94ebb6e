// Hazard: a tree that changes under the walker (issue 11, item 3). Whoever can write the tree can
// swap a directory or a file for a symlink between the listing and the opening; the archive must
// then never hold bytes from outside the root. Test hooks change the tree at exactly that moment.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, symlinkSync, renameSync, unlinkSync, appendFileSync, truncateSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tarDirectory } from '../../src/tar/directory.js';
import { kTestHooks, type TestHooks } from '../../src/tar/walker.js';
import { ErrTarSourceChanged } from '../../src/tar/errors.js';
import { setProcFdForTests } from '../../src/tar/fs-safe.js';
import { tempDir } from '../helpers/tree.js';
import { randomBytes } from '../helpers/data.js';

const SECRET = 'TOP-SECRET-OUTSIDE-THE-ROOT';

/** Consumes the tar; returns what was produced before a failure, and the failure. */
async function run(dir: string, hooks: TestHooks): Promise<{ out: Buffer; err: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of tarDirectory(dir, { [kTestHooks]: hooks } as never)) chunks.push(c);
    return { out: Buffer.concat(chunks), err: undefined };
  } catch (err) {
    return { out: Buffer.concat(chunks), err };
  }
}

const changed = (err: unknown) => err instanceof ErrTarSourceChanged && err.code === 'ERR_TAR_SOURCE_CHANGED';

const linuxSkip = process.platform === 'linux' ? false : 'only Linux has /proc/self/fd';
for (const mode of ['linux', 'fallback'] as const) describe(`tarDirectory when the tree changes under it (${mode === 'linux' ? '/proc/self/fd' : 'fallback without /proc'})`, { skip: mode === 'linux' ? linuxSkip : false }, () => {
  let tmp: ReturnType<typeof tempDir>;
  let root: string;
  let outside: string;

  beforeEach(() => {
    // The fallback is what macOS and the BSDs get; on Linux it runs only here.
    setProcFdForTests(mode === 'fallback' ? false : undefined);
    tmp = tempDir();
    root = join(tmp.path, 'root');
    outside = join(tmp.path, 'outside');
    mkdirSync(join(root, 'z'), { recursive: true });
    writeFileSync(join(root, 'a.txt'), 'inside a\n');
    writeFileSync(join(root, 'z', 'inner.txt'), 'inside z\n');
    writeFileSync(join(root, 'z', 'big.bin'), randomBytes(3_000_000, 5));
    mkdirSync(outside);
    writeFileSync(join(outside, 'inner.txt'), SECRET);
    writeFileSync(join(outside, 'secret.txt'), SECRET);
  });
  afterEach(() => {
    setProcFdForTests(undefined);
    tmp.remove();
  });

  it('refuses a directory swapped for a symlink to outside the root, and reads nothing there', async () => {
    const { out, err } = await run(root, {
      beforeOpen: (rel) => {
        if (rel !== 'z') return;
        renameSync(join(root, 'z'), join(tmp.path, 'moved-z'));
        symlinkSync(outside, join(root, 'z'));
      },
    });
    assert.ok(changed(err), String(err));
    assert.match((err as Error).message, /z: is no longer a directory \(replaced by a symlink/);
    assert.equal(out.indexOf(SECRET), -1);
  });

  it('refuses a file swapped for a symlink to a file outside the root', async () => {
    const { out, err } = await run(root, {
      beforeOpen: (rel) => {
        if (rel !== 'a.txt') return;
        unlinkSync(join(root, 'a.txt'));
        symlinkSync(join(outside, 'secret.txt'), join(root, 'a.txt'));
      },
    });
    assert.ok(changed(err), String(err));
    assert.equal(out.indexOf(SECRET), -1);
  });

  it('keeps reading the directory it listed when a parent is swapped for a symlink after it was opened', async () => {
    const { out, err } = await run(root, {
      beforeOpen: (rel) => {
        if (rel !== 'z/inner.txt') return;
        renameSync(join(root, 'z'), join(tmp.path, 'moved-z'));
        symlinkSync(outside, join(root, 'z'));
      },
    });
    assert.equal(out.indexOf(SECRET), -1);
    if (mode === 'linux') {
      // Entries are opened through the descriptor of the directory that was listed: the moved one.
      assert.equal(err, undefined);
      assert.notEqual(out.indexOf('inside z\n'), -1);
    } else {
      // By path, the swap is seen when the names above are checked after the open.
      assert.ok(changed(err), String(err));
    }
  });

  it('refuses a file swapped for a FIFO without blocking on it', async (t) => {
    const { err } = await run(root, {
      beforeOpen: (rel) => {
        if (rel !== 'a.txt') return;
        unlinkSync(join(root, 'a.txt'));
        const r = spawnSync('mkfifo', [join(root, 'a.txt')]);
        if (r.status !== 0) t.skip('mkfifo is not available');
      },
    });
    assert.ok(changed(err), String(err));
    assert.match((err as Error).message, /no longer a regular file/);
  });

  it('refuses a directory swapped for a file', async () => {
    const { err } = await run(root, {
      beforeOpen: (rel) => {
        if (rel !== 'z') return;
        renameSync(join(root, 'z'), join(tmp.path, 'moved-z'));
        writeFileSync(join(root, 'z'), 'now a file');
      },
    });
    assert.ok(changed(err), String(err));
  });

  it('refuses an entry removed between listing and opening', async () => {
    const { err } = await run(root, { beforeOpen: (rel) => (rel === 'a.txt' ? unlinkSync(join(root, 'a.txt')) : undefined) });
    assert.ok(changed(err), String(err));
    assert.match((err as Error).message, /was removed/);
  });

  for (const [name, rel] of [['small', 'a.txt'], ['large', 'z/big.bin']] as const) {
    it(`fails instead of writing a corrupt tar when a ${name} file grows after its size was taken`, async () => {
      const { err } = await run(root, { afterOpen: (r) => (r === rel ? appendFileSync(join(root, rel), 'more') : undefined) });
      assert.ok(changed(err), String(err));
      assert.match((err as Error).message, /grew/);
    });

    it(`fails instead of writing a corrupt tar when a ${name} file shrinks after its size was taken`, async () => {
      const { err } = await run(root, { afterOpen: (r) => (r === rel ? truncateSync(join(root, rel), 3) : undefined) });
      assert.ok(changed(err), String(err));
      assert.match((err as Error).message, /shrank/);
    });
  }

  it('archives the tree when nothing changes (the hooks run, nothing is refused)', async () => {
    const seen: string[] = [];
    const { err, out } = await run(root, { beforeOpen: (rel) => void seen.push(rel) });
    assert.equal(err, undefined);
    assert.deepEqual(seen.sort(), ['a.txt', 'z', 'z/big.bin', 'z/inner.txt']);
    assert.notEqual(out.indexOf('inside a\n'), -1);
  });
});
