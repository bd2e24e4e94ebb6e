// Writers adding to one OCI layout at the same time (issue 19 item 15): index.json is updated under
// a lock, re-read and merged, so every writer's tag is there afterwards; a stale lock (its process
// gone) is broken, a live one waited for and reported; an aborted writer does not remove a blob
// another writer's index now lists.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../../src/build/build.js';
import { Image } from '../../src/image/image.js';
import { OciLayout, writeLayout } from '../../src/layout/layout.js';
import { LOCK_NAME, lockLayout } from '../../src/layout/lock.js';
import { Layer } from '../../src/layer/layer.js';
import { BIN, binMissing, hasTool } from '../helpers/cli.js';
import { tempDir } from '../helpers/tree.js';

const CONTAINERD_NAME = 'io.containerd.image.name';

function namesIn(dir: string): string[] {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { annotations?: Record<string, string> }[] };
  return index.manifests.map((m) => m.annotations?.[CONTAINERD_NAME] ?? '').sort();
}

function tree(root: string, n: number): string {
  const dir = join(root, `src${n}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'shared.txt'), 'the same in every image\n');
  writeFileSync(join(dir, `own-${n}.txt`), `image ${n}\n`);
  return dir;
}

/** skopeo reads every tag (it checks each blob's digest); umoci lists them. */
function toolsRead(dir: string, tags: string[]): void {
  if (hasTool('skopeo')) {
    for (const tag of tags) {
      const r = spawnSync('skopeo', ['inspect', `oci:${dir}:${tag}`], { encoding: 'utf8' });
      assert.equal(r.status, 0, `skopeo inspect oci:${dir}:${tag}: ${r.stderr}`);
    }
  }
  if (hasTool('umoci')) {
    const r = spawnSync('umoci', ['ls', '--layout', dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\n').filter((l) => l !== '').sort(), [...tags].sort());
  }
}

/** The pid of a process that has exited (so no process of this host has it, for now). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('OCI layout: concurrent writers', () => {
  it('keeps every tag when 8 builds write into one layout at once (in one process)', async () => {
    const tmp = tempDir();
    try {
      const dir = join(tmp.path, 'layout');
      const tags = Array.from({ length: 8 }, (_, i) => `v${i}`);
      await Promise.all(tags.map((tag, i) => buildImage({ layers: [tree(tmp.path, i)], tags: [`app:${tag}`], ociDir: dir })));
      assert.deepEqual(namesIn(dir), tags.map((t) => `docker.io/library/app:${t}`).sort());
      assert.equal(existsSync(join(dir, LOCK_NAME)), false, 'the lock is released');
      toolsRead(dir, tags);
    } finally {
      tmp.remove();
    }
  });

  it('keeps every tag when 6 fastlayer image processes write into one layout at once', { skip: binMissing() }, async () => {
    const tmp = tempDir();
    try {
      const dir = join(tmp.path, 'layout');
      const tags = Array.from({ length: 6 }, (_, i) => `p${i}`);
      const runs = tags.map((tag, i) => {
        const child = spawn(process.execPath, [BIN, 'image', '--layer', tree(tmp.path, i), '--tag', `app:${tag}`, '--oci-dir', dir, '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        return new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr })));
      });
      for (const r of await Promise.all(runs)) assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(namesIn(dir), tags.map((t) => `docker.io/library/app:${t}`).sort());
      toolsRead(dir, tags);
    } finally {
      tmp.remove();
    }
  });

  it('replaces a tag written again (the same name), keeping the others', async () => {
    const tmp = tempDir();
    try {
      const dir = join(tmp.path, 'layout');
      await Promise.all([0, 1].map((i) => buildImage({ layers: [tree(tmp.path, i)], tags: [`app:${i}`], ociDir: dir })));
      const again = await buildImage({ layers: [tree(tmp.path, 9)], tags: ['app:1'], ociDir: dir });
      assert.deepEqual(namesIn(dir), ['docker.io/library/app:0', 'docker.io/library/app:1']);
      const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
      assert.equal(index.manifests.find((m) => m.annotations[CONTAINERD_NAME] === 'docker.io/library/app:1')!.digest, again.digest);
    } finally {
      tmp.remove();
    }
  });
});

describe('OCI layout: the index.json lock', () => {
  it('breaks a stale lock (its process is gone, this host) and releases its own', async () => {
    const tmp = tempDir();
    try {
      const dir = join(tmp.path, 'layout');
      mkdirSync(dir);
      writeFileSync(join(dir, LOCK_NAME), `fastlayer ${deadPid()} ${hostname()}\n`);
      await buildImage({ layers: [tree(tmp.path, 1)], tags: ['app:1'], ociDir: dir });
      assert.deepEqual(namesIn(dir), ['docker.io/library/app:1']);
      assert.equal(existsSync(join(dir, LOCK_NAME)), false);
    } finally {
      tmp.remove();
    }
  });

  const foreign = `fastlayer ${deadPid()} not-${hostname()}\n`;
  for (const [what, text] of [
    ['a live process of this host', () => `fastlayer ${process.ppid} ${hostname()}\n`],
    ['a process of another host (a shared file system)', () => foreign],
    ['unreadable text', () => 'garbage'],
  ] as const) {
    it(`waits for, then reports, a lock held by ${what}, and leaves it in place`, async () => {
      const tmp = tempDir();
      try {
        const lock = join(tmp.path, LOCK_NAME);
        writeFileSync(lock, text());
        await assert.rejects(lockLayout(tmp.path, undefined, 50), (err: NodeJS.ErrnoException) => {
          assert.equal(err.code, 'ERR_IMAGE_LAYOUT');
          assert.match(err.message, /locked by another writer/);
          assert.ok(err.message.includes(lock), err.message);
          return true;
        });
        assert.equal(readFileSync(lock, 'utf8'), text());
      } finally {
        tmp.remove();
      }
    });
  }

  it('lets one holder at a time in, and a waiter in once the holder releases', async () => {
    const tmp = tempDir();
    try {
      const order: string[] = [];
      const release = await lockLayout(tmp.path);
      const second = lockLayout(tmp.path).then(async (r) => {
        order.push('second');
        await r();
      });
      await new Promise((r) => setTimeout(r, 30));
      order.push('first releases');
      await release();
      await second;
      assert.deepEqual(order, ['first releases', 'second']);
      assert.equal(existsSync(join(tmp.path, LOCK_NAME)), false);
    } finally {
      tmp.remove();
    }
  });

  it('an aborted writer leaves the blobs another writer\'s index lists (a shared layer)', async () => {
    const tmp = tempDir();
    try {
      const dir = join(tmp.path, 'layout');
      const bytes = Buffer.alloc(40_000, 7);
      const a = new OciLayout(dir);
      const shared = await a.writeBlob({ kind: 'streaming', layer: new Layer(bytes) });
      await writeLayout(new Image({ layers: [new Layer(bytes)] }), dir, { names: ['app:b'] });
      await a.abort();
      assert.ok(existsSync(a.blobPath(shared.digest)), 'the shared layer is still there');
      assert.ok(existsSync(join(dir, 'oci-layout')));
      toolsRead(dir, ['b']);
    } finally {
      tmp.remove();
    }
  });

  it('an aborted writer alone removes what it created', async () => {
    const tmp = tempDir();
    try {
      const dir = join(tmp.path, 'layout');
      const a = new OciLayout(dir);
      await a.writeBlob({ kind: 'streaming', layer: new Layer(Buffer.alloc(1000, 3)) });
      await a.abort();
      assert.equal(existsSync(dir), false);
    } finally {
      tmp.remove();
    }
  });
});
