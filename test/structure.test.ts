// The layout rules of docs/ARCHITECTURE.md, checked on the source tree itself: each folder of src/
// imports only the folders its row allows, no folder imports one that imports it back, no file of
// src/ is part of an import cycle, and file paths named in comments and docs exist. Read from the
// .ts sources (not dist/), so type-only imports count: they are dependencies of the design too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const srcDir = join(root, 'src');

// What each top-level folder of src/ may import (docs/ARCHITECTURE.md's table). src/index.ts, the
// package's entry, is the only file at the root and may import any folder but cli/.
const allowed: Record<string, readonly string[]> = {
  core: [],
  engine: ['core'],
  tar: ['core'],
  layer: ['core', 'engine', 'estargz'],
  estargz: ['core', 'engine', 'tar'],
  image: ['core', 'engine', 'tar', 'layer'],
  layout: ['core', 'tar', 'image'],
  archive: ['core', 'tar', 'image', 'layout'],
  registry: ['core', 'engine', 'tar', 'layer', 'image', 'layout', 'archive'],
  build: ['core', 'engine', 'tar', 'layer', 'estargz', 'image', 'layout', 'archive', 'registry'],
  cli: ['core', 'engine', 'tar', 'layer', 'estargz', 'image', 'layout', 'archive', 'registry', 'build'],
  '.': ['core', 'engine', 'tar', 'layer', 'estargz', 'image', 'layout', 'archive', 'registry', 'build'],
};

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

// Relative specifiers of static imports and re-exports (`import x from`, `import type`, `export
// ... from`, side-effect imports) and of dynamic `import('...')`.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+)\1/g;

export interface Edge { from: string; to: string }

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(SPECIFIER)) {
    const target = normalize(join(dirname(file), m[2]!)).replace(/\.js$/, '.ts');
    out.push(target);
  }
  return out;
}

const folderOf = (file: string) => {
  const rel = relative(srcDir, file).split(sep);
  return rel.length === 1 ? '.' : rel[0]!;
};
const show = (file: string) => relative(root, file).split(sep).join('/');

/** Every cycle's members (strongly connected components of two or more nodes, or a self-loop). */
export function cycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || graph.get(v)?.has(v)) found.push(comp.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

const files = walk(srcDir);
const fileGraph = new Map<string, Set<string>>(files.map((f) => [f, new Set(importsOf(f))]));

test('the cycle finder finds a planted cycle and a self-import, and passes a chain', () => {
  const g = (edges: [string, string][]) => {
    const m = new Map<string, Set<string>>();
    for (const [a, b] of edges) {
      if (!m.has(a)) m.set(a, new Set());
      if (!m.has(b)) m.set(b, new Set());
      m.get(a)!.add(b);
    }
    return m;
  };
  assert.deepEqual(cycles(g([['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd']])), [['a', 'b', 'c']]);
  assert.deepEqual(cycles(g([['a', 'a']])), [['a']]);
  assert.deepEqual(cycles(g([['a', 'b'], ['b', 'c'], ['a', 'c']])), []);
});

test('every relative import in src/ names a file that exists', () => {
  const missing: string[] = [];
  for (const [f, targets] of fileGraph) {
    for (const t of targets) if (!existsSync(t)) missing.push(`${show(f)} -> ${show(t)}`);
  }
  assert.deepEqual(missing, []);
});

test('src/ holds index.ts at its root and folders otherwise', () => {
  const loose = readdirSync(srcDir).filter((n) => !statSync(join(srcDir, n)).isDirectory());
  assert.deepEqual(loose, ['index.ts']);
  assert.deepEqual(readdirSync(srcDir).filter((n) => n !== 'index.ts').sort(),
    Object.keys(allowed).filter((k) => k !== '.').sort(), 'a new folder needs its row in the table');
});

test('each folder of src/ imports only the folders docs/ARCHITECTURE.md allows it', () => {
  const wrong: string[] = [];
  for (const [f, targets] of fileGraph) {
    const from = folderOf(f);
    for (const t of targets) {
      const to = folderOf(t);
      if (to !== from && !(allowed[from] ?? []).includes(to)) wrong.push(`${show(f)} -> ${show(t)}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('no folder of src/ imports a folder that imports it back', () => {
  const folders = new Map<string, Set<string>>();
  for (const [f, targets] of fileGraph) {
    const from = folderOf(f);
    if (!folders.has(from)) folders.set(from, new Set());
    for (const t of targets) if (folderOf(t) !== from) folders.get(from)!.add(folderOf(t));
  }
  assert.deepEqual(cycles(folders), []);
});

test('no file of src/ is part of an import cycle', () => {
  assert.deepEqual(cycles(fileGraph).map((c) => c.map(show)), []);
});

test('file paths named in source comments and docs exist (comments stay true when files move)', () => {
  const roots = ['src', 'native', 'docs', 'bench', 'fuzz', 'scripts', 'test/helpers'];
  const texts = [join(root, 'README.md'), join(root, 'test', 'vectors', 'README.md')];
  for (const r of roots) {
    const dir = join(root, r);
    if (!existsSync(dir)) continue;
    const all = (d: string): string[] => readdirSync(d).flatMap((n) => {
      const p = join(d, n);
      return statSync(p).isDirectory() ? all(p) : /\.(ts|cc|h|md|sh|cjs|mjs|js)$/.test(n) ? [p] : [];
    });
    texts.push(...all(dir).filter((p) => !p.includes(`${sep}results${sep}`)));
  }
  // A path of the repository: a top-level folder, then a name with an extension of ours. Import
  // specifiers ('./x.js', '../src/x.js') are not matched (they are checked above); NAME-style
  // placeholders and the patterns of examples (`!docs/README.md`) are not paths.
  const PATH = /(?<![\w./!-])(?:src|native|test|bench|fuzz|scripts|docs)\/[\w./-]+\.(?:ts|cc|h|md|sh|cjs|mjs)\b/g;
  const stale: string[] = [];
  for (const file of texts) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(PATH)) {
      const p = m[0];
      if (/[A-Z]{3,}\./.test(p)) continue;
      if (!existsSync(join(root, p))) stale.push(`${show(file)}: ${p}`);
    }
  }
  assert.deepEqual([...new Set(stale)], []);
});
