// Hazard: a tree far deeper than any real one (and than PATH_MAX by its full path). The walk
// (src/tar/walker.ts) once recursed with one async generator per level: ~1,500 levels overflowed the
// call stack (ERR_TAR_SOURCE "Maximum call stack size exceeded"), where GNU tar archives such a tree
// in a fraction of a second. It now keeps its levels on an explicit stack.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { directoryLayer } from '../../src/build/dir-layer.js';
import { readTar } from '../../src/tar/reader.js';
import { collect, compress, engines, sha256 } from '../helpers/layer.js';
import { tempDir } from '../helpers/tree.js';

const DEPTH = 3000;
/** Levels made per `mkdir -p` and `cd`: 2 bytes each, a relative path well under PATH_MAX. */
const CHUNK = 500;

const sh = (script: string, cwd: string) => spawnSync('sh', ['-c', script], { cwd, encoding: 'utf8' });

describe('a directory layer of a very deep tree', () => {
  const tmp = tempDir('fastlayer-deep-');
  const src = join(tmp.path, 'src');
  // Every level is open while the walk is below it (one descriptor each): skip where that many cannot be.
  const limit = Number(sh('ulimit -n', tmp.path).stdout.trim());
  const skip = Number.isFinite(limit) && limit < DEPTH + 512 ? `open files limit ${limit} below ${DEPTH + 512}` : false;

  before(() => {
    if (skip) return;
    // Made relatively, chunk by chunk (`cd -P`: no logical path kept), since the full path passes PATH_MAX.
    const chunk = Array(CHUNK).fill('d').join('/');
    const made = sh(`mkdir src && cd -P src && i=0 && while [ $i -lt ${DEPTH / CHUNK} ]; do mkdir -p ${chunk} && cd -P ${chunk} || exit 1; i=$((i+1)); done && printf deep > f && echo ok`, tmp.path);
    assert.equal(made.stdout.trim(), 'ok', made.stderr);
  });
  // rm(1) removes a tree of any depth; Node's rmSync fails on this one (its own recursion).
  after(() => {
    sh('rm -rf src', tmp.path);
    tmp.remove();
  });

  it(`hazard: a tree ${DEPTH} directories deep goes into a layer whole, every level and the deepest file`, { skip }, async () => {
    // As `fastlayer image --layer DIR:/app` takes it: under a prefix (a virtual parent) too.
    const dl = await directoryLayer('layers[0]', { dir: src, dest: '/app' }, { mtime: 0 });
    const tar = await collect(dl.tar);
    const deepest = `app/${'d/'.repeat(DEPTH)}f`;
    const names: string[] = [];
    let data = '';
    for await (const e of readTar(tar)) {
      names.push(e.header.name);
      const chunks: Buffer[] = [];
      for await (const c of e.body) chunks.push(Buffer.from(c));
      if (e.header.name === deepest) data = Buffer.concat(chunks).toString();
    }
    assert.equal(names.length, DEPTH + 2, 'app/, every directory and the file');
    for (let i = 0; i <= DEPTH; i++) {
      const want = `app${'/d'.repeat(i)}`;
      if (names[i] !== want) assert.fail(`entry ${i}: ${names[i]!.slice(0, 40)}... (${names[i]!.length} bytes, want ${want.length})`);
    }
    assert.equal(names[DEPTH + 1], deepest);
    assert.equal(data, 'deep');
    const { layer } = await compress(engines[0]!, tar);
    assert.equal(layer.diffID().hex, sha256(tar), 'the layer holds exactly that tar');
  });
});
