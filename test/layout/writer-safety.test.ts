// The OCI layout writer adding to a layout someone else prepared: what is already there is hostile.
// A symlinked blobs/ must not carry the blobs outside; index.json, oci-layout, the lock and manifest
// blobs are read without following a symlink, without blocking on a FIFO and only up to a cap; a
// blob already there counts only when its bytes are it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Image } from '../../src/image/image.js';
import { OciLayout, writeLayout } from '../../src/layout/layout.js';
import { LOCK_NAME, lockLayout } from '../../src/layout/lock.js';
import { Layer } from '../../src/layer/layer.js';
import { removeTemporaries } from '../../src/core/temporaries.js';
import { BIN, binMissing } from '../helpers/cli.js';
import { tempDir } from '../helpers/tree.js';

const LAYOUT = '{"imageLayoutVersion":"1.0.0"}';

function image(fill = 5): Image {
  return new Image({ layers: [new Layer(Buffer.alloc(30_000, fill))] });
}

/** An existing, empty layout: oci-layout and an index.json without entries. */
function emptyLayout(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), LAYOUT);
  writeFileSync(join(dir, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
}

function isLayoutError(err: NodeJS.ErrnoException): boolean {
  assert.equal(err.code, 'ERR_IMAGE_LAYOUT', err.message);
  return true;
}

function sha256File(path: string): string {
  return `sha256:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
}

/** The layer descriptor of the image `digest` in `dir`. */
function layerOf(dir: string, digest: string): { digest: string; size: number } {
  const manifest = JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), 'utf8')) as { layers: { digest: string; size: number }[] };
  return manifest.layers[0]!;
}

describe('OCI layout writer: an existing layout is untrusted', () => {
  it('hazard: a directory whose only entry is a blobs/ folder of the user\'s is refused and left as it was', async () => {
    const tmp = tempDir();
    try {
      // A project's assets folder called blobs: joined as a layout being created, it would get
      // sha256/ and the blobs, and the directory an oci-layout and an index.json, mixed with the
      // user's files. (blobs/sha256/ with files named by digest is what another writer leaves there
      // while it creates a layout: that is joined, the next test.)
      for (const [name, files] of [
        ['assets', { 'blobs/logo.png': 'png' }],
        ['assets-in-sha256', { 'blobs/sha256/logo.png': 'png' }],
        ['other-algorithm', { [`blobs/sha512/${'a'.repeat(128)}`]: 'mine' }],
        ['file', { blobs: 'a file, not a folder' }],
      ] as const) {
        const dir = join(tmp.path, name);
        for (const [rel, text] of Object.entries(files)) {
          mkdirSync(join(dir, rel, '..'), { recursive: true });
          writeFileSync(join(dir, rel), text);
        }
        await assert.rejects(writeLayout(image(), dir, { names: ['app:1'] }), (err: NodeJS.ErrnoException) => {
          assert.equal(err.code, 'ERR_IMAGE_LAYOUT');
          assert.match(err.message, /non-empty directory without oci-layout/);
          return true;
        });
        for (const [rel, text] of Object.entries(files)) assert.equal(readFileSync(join(dir, rel), 'utf8'), text, `${name}: ${rel}`);
        assert.deepEqual(readdirSync(dir), ['blobs'], name);
      }
    } finally {
      tmp.remove();
    }
  });

  it('a layout another writer is creating (blobs named by digest, temp files, the lock) is joined', async () => {
    const tmp = tempDir();
    try {
      const dir = join(tmp.path, 'creating');
      const other = Buffer.from('a blob another writer has placed');
      const otherHex = createHash('sha256').update(other).digest('hex');
      mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
      writeFileSync(join(dir, 'blobs', 'sha256', otherHex), other);
      writeFileSync(join(dir, 'blobs', 'sha256', '.blob.fastlayer-12345-0a1b2c3d4e5f.tmp'), 'half');
      const result = await writeLayout(image(), dir, { names: ['app:1'] });
      assert.ok(statSync(join(dir, 'oci-layout')).isFile());
      assert.ok(readFileSync(join(dir, 'blobs', 'sha256', otherHex)).equals(other));
      assert.ok(statSync(join(dir, 'blobs', 'sha256', result.digest.slice(7))).isFile());
    } finally {
      tmp.remove();
    }
  });

  for (const link of ['blobs', 'blobs/sha256']) {
    it(`hazard: a symlinked ${link}/ directory is refused, nothing written outside the layout`, async () => {
      const tmp = tempDir();
      try {
        const dir = join(tmp.path, 'layout');
        const outside = join(tmp.path, 'outside');
        mkdirSync(outside);
        emptyLayout(dir);
        if (link === 'blobs/sha256') mkdirSync(join(dir, 'blobs'));
        symlinkSync(outside, join(dir, link));
        await assert.rejects(writeLayout(image(), dir, { names: ['app:1'] }), isLayoutError);
        assert.deepEqual(readdirSync(outside), []);
      } finally {
        tmp.remove();
      }
    });
  }

  for (const name of ['index.json', 'oci-layout']) {
    it(`hazard: ${name} symlinked to a file outside is not read, and none of its bytes reach the message`, async () => {
      const tmp = tempDir();
      try {
        const dir = join(tmp.path, 'layout');
        emptyLayout(dir);
        const secret = join(tmp.path, 'secret');
        // Valid for the old reader: oci-layout's version, then a secret index.json would echo.
        writeFileSync(secret, name === 'oci-layout' ? LAYOUT : 'SECRET-root:x:0:0');
        unlinkSync(join(dir, name));
        symlinkSync(secret, join(dir, name));
        await assert.rejects(writeLayout(image(), dir, { names: ['app:1'] }), (err: NodeJS.ErrnoException) => {
          assert.doesNotMatch(err.message, /SECRET/);
          assert.match(err.message, /symlink/);
          return isLayoutError(err);
        });
      } finally {
        tmp.remove();
      }
    });
  }

  it('hazard: an index.json larger than the manifest cap is refused, not read whole', async () => {
    const tmp = tempDir();
    try {
      const dir = join(tmp.path, 'layout');
      emptyLayout(dir);
      writeFileSync(join(dir, 'index.json'), `{"schemaVersion":2,"manifests":[],"pad":"${'x'.repeat(5 * 1024 * 1024)}"}`);
      await assert.rejects(writeLayout(image(), dir, { names: ['app:1'] }), (err: NodeJS.ErrnoException) => {
        assert.match(err.message, /larger than/);
        return isLayoutError(err);
      });
    } finally {
      tmp.remove();
    }
  });

  it('hazard: a FIFO as index.json, oci-layout or the lock fails at once with a coded error, never hangs', { skip: binMissing() }, () => {
    const tmp = tempDir();
    try {
      const src = join(tmp.path, 'src');
      mkdirSync(src);
      writeFileSync(join(src, 'a.txt'), 'a\n');
      for (const name of ['index.json', 'oci-layout', LOCK_NAME]) {
        const dir = join(tmp.path, name);
        emptyLayout(dir);
        rmSync(join(dir, name), { force: true });
        assert.equal(spawnSync('mkfifo', [join(dir, name)]).status, 0);
        // The old reader blocked in a thread on the FIFO: only SIGKILL ended it.
        const r = spawnSync(process.execPath, [BIN, 'image', '--layer', src, '--tag', 'app:1', '--oci-dir', dir, '--quiet'], { encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
        assert.equal(r.signal, null, `${name}: still running after 20 s`);
        assert.equal(r.status, 1, r.stderr);
        assert.match(r.stderr, /not a regular file/, r.stderr);
      }
    } finally {
      tmp.remove();
    }
  });

  it('hazard: abort does not read a manifest blob through a symlink (to a file outside, or /dev/zero)', async () => {
    const tmp = tempDir();
    try {
      const dir = join(tmp.path, 'layout');
      const a = new OciLayout(dir);
      const mine = await a.writeBlob({ kind: 'streaming', layer: new Layer(Buffer.alloc(1000, 9)) });
      // An index entry whose manifest, outside the layout, claims the blob this writer created.
      const fake = 'sha256:' + 'ab'.repeat(32);
      const outside = join(tmp.path, 'manifest.json');
      writeFileSync(outside, JSON.stringify({ schemaVersion: 2, layers: [mine] }));
      symlinkSync(outside, a.blobPath(fake));
      writeFileSync(join(dir, 'oci-layout'), LAYOUT);
      writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: fake, size: 100 }] }));
      await a.abort();
      assert.throws(() => statSync(a.blobPath(mine.digest)), 'what only the outside file claimed is removed');
      // The same through /dev/zero: an unbounded read of zeros, now refused at once.
      const b = new OciLayout(dir);
      await b.writeBlob({ kind: 'streaming', layer: new Layer(Buffer.alloc(1000, 8)) });
      spawnSync('ln', ['-sf', '/dev/zero', a.blobPath(fake)]);
      const started = Date.now();
      await b.abort();
      assert.ok(Date.now() - started < 5_000);
    } finally {
      tmp.remove();
    }
  });

  it('hazard: a wrong blob of the right size, or a symlink to one, is replaced with the real bytes; a correct one is kept as it is', async () => {
    const tmp = tempDir();
    try {
      const dir = join(tmp.path, 'layout');
      const first = await writeLayout(image(), dir, { names: ['app:1'] });
      const layer = layerOf(dir, first.digest);
      const path = join(dir, 'blobs', 'sha256', layer.digest.slice(7));
      const manifest = join(dir, 'blobs', 'sha256', first.digest.slice(7));
      const kept = statSync(manifest).ino;
      writeFileSync(path, Buffer.alloc(layer.size));
      assert.equal((await writeLayout(image(), dir, { names: ['app:2'] })).digest, first.digest, 'the same image again');
      assert.equal(sha256File(path), layer.digest, 'the zeros were replaced');
      assert.equal(statSync(manifest).ino, kept, 'a correct blob is not rewritten');
      // A symlink to a file of the right size outside: replaced by the blob, the file left alone.
      const outside = join(tmp.path, 'same-size');
      writeFileSync(outside, Buffer.alloc(layer.size, 1));
      spawnSync('ln', ['-sf', outside, path]);
      await writeLayout(image(), dir, { names: ['app:3'] });
      assert.ok(lstatSync(path).isFile(), 'a regular file now');
      assert.equal(sha256File(path), layer.digest);
      assert.deepEqual(readFileSync(outside), Buffer.alloc(layer.size, 1));
    } finally {
      tmp.remove();
    }
  });
});

describe('OCI layout writer: odd lock files', () => {
  it('hazard: a dangling symlink as the lock fails with a coded error at once, no busy loop past the wait limit', async () => {
    const tmp = tempDir();
    try {
      symlinkSync(join(tmp.path, 'nowhere'), join(tmp.path, LOCK_NAME));
      // The old loop spun forever without checking its limit: only this signal ends it.
      const stop = new AbortController();
      const timer = setTimeout(() => stop.abort(new Error('still spinning after 3 s')), 3_000);
      try {
        await assert.rejects(lockLayout(tmp.path, stop.signal, 100), isLayoutError);
      } finally {
        clearTimeout(timer);
      }
      assert.ok(lstatSync(join(tmp.path, LOCK_NAME)).isSymbolicLink(), 'left for a person to look at');
    } finally {
      tmp.remove();
    }
  });

  it('hazard: a directory as the lock is a coded error, not a raw EISDIR', async () => {
    const tmp = tempDir();
    try {
      mkdirSync(join(tmp.path, LOCK_NAME));
      await assert.rejects(lockLayout(tmp.path, undefined, 100), isLayoutError);
    } finally {
      tmp.remove();
    }
  });
});

describe('hazard: a process ended by a second signal leaves no blob temp in the layout', () => {
  // The CLI's handler for a second Ctrl-C removes, synchronously, the temps recorded in
  // src/core/temporaries.ts and exits; the writer's own async cleanup never runs then. A blob
  // being written must be among them.
  it('the temp of a blob still being written is recorded, and removeTemporaries() takes it away', async () => {
    const t = tempDir('fastlayer-layout-temps-');
    const dir = join(t.path, 'layout');
    const blobs = join(dir, 'blobs', 'sha256');
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    const bytes = Buffer.alloc(100_000, 7);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const blob = {
      kind: 'known' as const,
      descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: bytes.length },
      open: () => Readable.from((async function* () {
        yield bytes.subarray(0, 50_000);
        await stalled;
        yield bytes.subarray(50_000);
      })()),
    };
    const layout = new OciLayout(dir);
    const writing = layout.writeBlob(blob).then(() => undefined, (err: unknown) => err);
    try {
      const temps = (): string[] => (readdirSync(blobs, { withFileTypes: true }).filter((e) => e.name.endsWith('.tmp')).map((e) => e.name));
      for (let i = 0; i < 200 && !(statSync(blobs, { throwIfNoEntry: false }) && temps().length > 0); i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(temps().length, 1, 'the blob is being written under a temporary name');
      removeTemporaries();
      assert.deepEqual(temps(), [], 'the temp was recorded for the second-signal cleanup');
    } finally {
      release();
      await writing;
      await layout.abort();
      t.remove();
    }
  });
});
