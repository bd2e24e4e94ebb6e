// Builds the benchmark corpora once into .cache/bench/ and reuses them afterwards.
//   realistic: a layer-like tar of files every Debian/Ubuntu machine has (docs, perl/node/python
//              modules, shared libraries), sorted names, cut at a size cap;
//   random:    incompressible bytes from a seeded PRNG;
//   text:      a text-heavy tar (headers, perl/python/node sources, plain-text docs).
// Run alone: node bench/corpus.js [--quick] [--size MB] [--random-size MB] [--text-size MB]
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  closeSync, createReadStream, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync,
  readlinkSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Prng } from './prng.js';
import { cacheDir } from './paths.js';

/** Bump when the selection rules change, so cached corpora are rebuilt. */
const CORPUS_VERSION = 1;
const MB = 1e6;
const MTIME = '2024-01-01 00:00:00Z';
const RANDOM_SEED = 0x5eed;

function multiarchDirs() {
  const found = readdirSync('/usr/lib').filter((n) => /-linux-gnu/.test(n)).sort();
  return found.length ? found.map((n) => `/usr/lib/${n}`) : ['/usr/lib'];
}

/**
 * Source groups and the share of the cap each may take. A group's unused budget passes to the next
 * one; the last group takes whatever is left. Directories that do not exist are skipped.
 */
function realisticGroups() {
  const ma = multiarchDirs();
  return [
    { name: 'documentation', share: 0.2, roots: ['/usr/share/doc', '/usr/share/man', '/usr/share/info'] },
    {
      name: 'perl/python/node modules',
      share: 0.2,
      roots: [
        '/usr/share/perl', '/usr/share/perl5', ...ma.flatMap((d) => [`${d}/perl`, `${d}/perl-base`, `${d}/perl5`]),
        '/usr/lib/node_modules', '/usr/share/nodejs', '/usr/lib/python3', '/usr/lib/python3.11',
      ],
    },
    { name: 'shared libraries', share: 0.6, roots: ma },
  ];
}

function textGroups() {
  const ma = multiarchDirs();
  return [
    { name: 'C headers', share: 0.5, roots: ['/usr/include'] },
    {
      name: 'perl/python/node sources',
      share: 0.3,
      roots: [
        '/usr/share/perl', '/usr/share/perl5', ...ma.map((d) => `${d}/perl-base`),
        '/usr/lib/node_modules', '/usr/share/nodejs', '/usr/lib/python3', '/usr/lib/python3.11',
      ],
    },
    { name: 'plain-text documentation', share: 0.2, roots: ['/usr/share/doc', '/usr/share/common-licenses'] },
  ];
}

const byBytes = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Every entry under root, depth first, names in byte order (what tar --sort=name produces). */
function* walk(root) {
  let names;
  try {
    names = readdirSync(root).sort(byBytes);
  } catch {
    return;
  }
  for (const name of names) {
    const path = `${root}/${name}`;
    let st;
    try {
      st = lstatSync(path);
    } catch {
      continue;
    }
    if (st.isDirectory()) yield* walk(path);
    else if (st.isFile() || st.isSymbolicLink()) yield { path, st };
  }
}

const pad512 = (n) => Math.ceil(n / 512) * 512;

/** Size of one GNU tar entry: header, long-name records, data. */
function entryBytes(path, dataBytes, linkName = '') {
  const name = path.slice(1);
  let n = 512 + pad512(dataBytes);
  if (name.length > 99) n += 512 + pad512(name.length + 1);
  if (linkName.length > 99) n += 512 + pad512(linkName.length + 1);
  return n;
}

function looksLikeText(path, size) {
  if (size === 0) return false;
  if (/\.(gz|xz|bz2|zst|zip|png|jpg|gif|ico|pdf|so|a|o|mo|pyc|db)$/i.test(path)) return false;
  const fd = openSync(path, 'r');
  try {
    const sample = Buffer.alloc(Math.min(size, 4096));
    readSync(fd, sample, 0, sample.length, 0);
    return !sample.includes(0);
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

/**
 * Picks files group by group until each group's budget is used. A file that does not fit (or is
 * larger than maxFile, so one huge library cannot make up the whole corpus) is skipped and the walk
 * goes on, which keeps the selection deterministic for a given file system.
 */
function selectFiles(groups, cap, { maxFile, textOnly }) {
  const chosen = new Map(); // path -> bytes in the tar
  const seenInodes = new Set();
  const dirs = new Set();
  const summary = [];
  let used = 1024 + 10240; // end-of-archive blocks and record padding
  let carry = 0;
  groups.forEach((group, index) => {
    const last = index === groups.length - 1;
    const budget = last ? cap - used : group.share * cap + carry;
    let spent = 0;
    let files = 0;
    const roots = group.roots.filter((r) => existsSync(r));
    outer: for (const root of roots) {
      for (const { path, st } of walk(root)) {
        if (chosen.has(path)) continue;
        if (st.isFile() && st.size > maxFile) continue;
        if (textOnly && (!st.isFile() || !looksLikeText(path, st.size))) continue;
        // A hard link's data is stored once; later names are link entries.
        const inode = `${st.dev}:${st.ino}`;
        const hardLink = st.isFile() && st.nlink > 1 && seenInodes.has(inode);
        const link = st.isSymbolicLink() ? safeReadlink(path) : '';
        let bytes = entryBytes(path, st.isFile() && !hardLink ? st.size : 0, link);
        const newDirs = ancestors(path).filter((d) => !dirs.has(d));
        bytes += newDirs.reduce((sum, d) => sum + entryBytes(d, 0), 0);
        if (spent + bytes > budget) {
          if (budget - spent < 4096) break outer;
          continue;
        }
        spent += bytes;
        files++;
        chosen.set(path, bytes);
        newDirs.forEach((d) => dirs.add(d));
        if (st.isFile()) seenInodes.add(inode);
      }
    }
    used += spent;
    carry = Math.max(0, budget - spent);
    summary.push({ group: group.name, roots, files, bytes: spent });
  });
  const entries = [...dirs, ...chosen.keys()].sort(byBytes);
  return { entries, summary, estimate: used };
}

function safeReadlink(path) {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

function ancestors(path) {
  const parts = path.split('/').slice(1, -1);
  const out = [];
  for (let i = 1; i <= parts.length; i++) out.push('/' + parts.slice(0, i).join('/'));
  return out;
}

function buildTar(out, groups, cap, { textOnly }) {
  const { entries, summary, estimate } = selectFiles(groups, cap, { maxFile: cap / 16, textOnly });
  if (entries.length === 0) throw new Error(`corpus ${out}: none of the source folders exist`);
  const list = `${out}.${process.pid}.list`;
  writeFileSync(list, entries.map((p) => p.slice(1) + '\0').join(''));
  const tmp = `${out}.${process.pid}.tmp`;
  const args = [
    '-C', '/', '--create', `--file=${tmp}`, '--no-recursion', '--null', `--files-from=${list}`,
    '--sort=name', `--mtime=${MTIME}`, '--owner=0', '--group=0', '--numeric-owner', '--format=gnu',
  ];
  const r = spawnSync('tar', args, { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
  // Exit status 1 is "some files changed while being read", harmless for a benchmark corpus.
  if (r.error || (r.status !== 0 && r.status !== 1)) {
    rmSync(tmp, { force: true });
    throw new Error(`tar failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr}`);
  }
  renameSync(tmp, out);
  rmSync(list, { force: true });
  return { entries: entries.length, summary, estimate };
}

function buildRandom(out, bytes) {
  const rng = new Prng(RANDOM_SEED);
  const tmp = `${out}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    const chunk = Buffer.allocUnsafe(4 << 20);
    for (let left = bytes; left > 0; ) {
      const n = Math.min(left, chunk.length);
      rng.fill(chunk);
      writeSync(fd, chunk, 0, n);
      left -= n;
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, out);
  return { seed: RANDOM_SEED };
}

/** SHA-256 of a file; reading it also puts it in the page cache. */
export function sha256File(path) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path, { highWaterMark: 1 << 20 })
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

const DESCRIPTIONS = {
  realistic: 'layer-like tar of system files (docs, perl/python/node modules, shared libraries), sorted names',
  random: 'incompressible bytes from a seeded PRNG (xoshiro128**)',
  text: 'text-heavy tar (C headers, perl/python/node sources, plain-text docs), sorted names',
};

/**
 * Returns the corpus, building it first unless a cached copy with the same parameters exists.
 * The cached copy is re-hashed every time: that checks it and loads it into the page cache.
 */
export async function ensureCorpus(name, sizeMB, log = (m) => process.stderr.write(m + '\n')) {
  mkdirSync(cacheDir, { recursive: true });
  const cap = Math.round(sizeMB * MB);
  const path = join(cacheDir, `${name}-${sizeMB}MB.${name === 'random' ? 'bin' : 'tar'}`);
  const manifestPath = `${path}.json`;
  if (existsSync(path) && existsSync(manifestPath)) {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    if (manifest.version === CORPUS_VERSION && statSync(path).size === manifest.bytes) {
      const sha256 = await sha256File(path);
      if (sha256 === manifest.sha256) return manifest;
      log(`corpus ${name}: cached file changed on disk, rebuilding`);
    }
  }
  log(`corpus ${name}: building ${path} (cap ${sizeMB} MB) ...`);
  const started = Date.now();
  let details;
  if (name === 'random') details = buildRandom(path, cap);
  else if (name === 'realistic') details = buildTar(path, realisticGroups(), cap, { textOnly: false });
  else if (name === 'text') details = buildTar(path, textGroups(), cap, { textOnly: true });
  else throw new RangeError(`unknown corpus '${name}'`);
  const manifest = {
    version: CORPUS_VERSION,
    name,
    description: DESCRIPTIONS[name],
    capMB: sizeMB,
    path,
    bytes: statSync(path).size,
    sha256: await sha256File(path),
    ...details,
  };
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  log(`corpus ${name}: built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return manifest;
}

export function describeCorpus(c) {
  return `${c.name}: ${(c.bytes / MB).toFixed(1)} MB, sha256 ${c.sha256}` + (c.entries ? `, ${c.entries} tar entries` : '');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { parseOptions } = await import('./options.js');
  const options = parseOptions();
  for (const name of options.corpora) {
    const c = await ensureCorpus(name, options.sizes[name]);
    console.log(`${describeCorpus(c)}\n  ${c.path}`);
    for (const g of c.summary ?? []) console.log(`  ${g.group}: ${g.files} files, ${(g.bytes / MB).toFixed(1)} MB`);
  }
}
