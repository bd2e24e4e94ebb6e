// Image archive build speed against the layer alone, measured in one run on one machine:
//   fromFile:   Layer.fromFile of the directory's tar (the tar written beforehand, not timed);
//   dir layer:  new Layer(tarDirectory(dir)) drained (walk + tar + compress + hashes);
//   archive:    buildImage(...) to an archive file (the above + writing the blobs, config, manifests).
// Reports MB/s of the uncompressed tar and each row's ratio against fromFile.
// Run: npm run build:ts && node bench/image.js [--quick] [--size MB] [--repeat N] [--json] [DIR]
// Without DIR, a tree of up to --size MB (default 300, --quick 32) is copied from the machine's
// shared libraries into a temp folder (realistic layer content) and removed at the end.
import { copyFileSync, createWriteStream, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { Layer, buildImage, tarDirectory } from '../dist/index.js';
import { emit, jsonWanted } from './section-io.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const flag = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const sizeMB = flag('--size', quick ? 32 : 300);
const repeat = flag('--repeat', quick ? 1 : 3);
const positional = args.filter((a, i) => !a.startsWith('--') && !['--size', '--repeat'].includes(args[i - 1]));

function copyTree(to, capBytes) {
  let total = 0;
  const roots = readdirSync('/usr/lib').filter((n) => n.endsWith('-linux-gnu')).map((n) => `/usr/lib/${n}`);
  if (roots.length === 0) roots.push('/usr/lib');
  const walk = (dir, rel) => {
    let names;
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (total >= capBytes) return;
      const path = join(dir, name);
      const st = lstatSync(path);
      if (st.isDirectory()) {
        mkdirSync(join(to, rel, name), { recursive: true });
        walk(path, join(rel, name));
      } else if (st.isFile() && st.size > 0) {
        try {
          copyFileSync(path, join(to, rel, name));
          total += st.size;
        } catch {
          // unreadable files are left out
        }
      }
    }
  };
  for (const root of roots) walk(root, root.replaceAll('/', '_'));
  for (const root of roots) mkdirSync(join(to, root.replaceAll('/', '_')), { recursive: true });
  return total;
}

const sink = () => new Writable({ write(_c, _e, cb) { cb(); } });

async function time(fn) {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const work = mkdtempSync(join(tmpdir(), 'fastlayer-bench-image-'));
try {
  let dir = positional[0];
  if (!dir) {
    dir = join(work, 'tree');
    mkdirSync(dir);
    copyTree(dir, sizeMB * 1e6);
  }
  const tarFile = join(work, 'tree.tar');
  await pipeline(tarDirectory(dir), createWriteStream(tarFile));
  const tarBytes = statSync(tarFile).size;
  const out = join(work, 'image.tar');
  const rows = { fromFile: [], 'dir layer': [], archive: [] };
  for (let i = 0; i < repeat; i++) {
    const a = Layer.fromFile(tarFile);
    rows.fromFile.push(await time(() => pipeline(a.compressed(), sink())));
    const b = new Layer(tarDirectory(dir));
    rows['dir layer'].push(await time(() => pipeline(b.compressed(), sink())));
    // The tar written beforehand and the one walked now are the same bytes, so the same layer.
    if (a.digest().toString() !== b.digest().toString() || a.diffID().toString() !== b.diffID().toString()) {
      throw new Error(`the directory layer (${b.digest()}) differs from Layer.fromFile of its tar (${a.digest()})`);
    }
    rows.archive.push(await time(() => buildImage({ layers: [dir], tags: ['bench:1'], output: out })));
  }
  const base = median(rows.fromFile);
  const say = jsonWanted ? console.error : console.log;
  say(`tree: ${dir} (${(tarBytes / 1e6).toFixed(1)} MB as tar), archive ${(statSync(out).size / 1e6).toFixed(1)} MB, ${repeat} run(s), median`);
  for (const [name, xs] of Object.entries(rows)) {
    const s = median(xs);
    say(`${name.padEnd(10)} ${(tarBytes / 1e6 / s).toFixed(1).padStart(7)} MB/s  ${(base / s).toFixed(2)}x fromFile`);
  }
  emit({
    section: 'image', quick, repeat, tarBytes, archiveBytes: statSync(out).size,
    rows: Object.entries(rows).map(([name, xs]) => ({ row: name, seconds: median(xs), mbps: tarBytes / 1e6 / median(xs), vsFromFile: base / median(xs) })),
  });
} finally {
  rmSync(work, { recursive: true, force: true });
}
