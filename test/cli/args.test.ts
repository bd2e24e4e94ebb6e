// The command line itself: subcommands, strict flags (usage errors exit 2 in one line), help and
// version.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/tree.js';
import { availableEngines } from '../../src/engine/engines.js';
import { binMissing, oneErrorLine, runCli } from '../helpers/cli.js';
import { parseDirectoryFlags } from '../../src/cli/commands/layer.js';
import { tarDirectory } from '../../src/tar/directory.js';
import { collect, sha256 } from '../helpers/layer.js';

const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version: string };

describe('fastlayer arguments', { skip: binMissing() }, () => {
  const tmp = tempDir();
  const dir = join(tmp.path, 'tree');
  const file = join(tmp.path, 'f');
  before(() => {
    mkdirSync(dir);
    writeFileSync(join(dir, 'a'), 'a\n');
    writeFileSync(file, 'x');
  });
  after(() => tmp.remove());

  for (const [label, args, message] of [
    ['an unknown flag', ['layer', 'F', '--fast'], /Unknown option '--fast'/],
    ['an unknown flag in the bare form', ['F', '--fast'], /Unknown option '--fast'/],
    ['a missing option value', ['layer', 'F', '-o'], /argument missing/],
    ['a flag taken as a value', ['layer', 'F', '-o', '--json'], /ambiguous/],
    ['an out-of-range level', ['layer', 'F', '--level', '11'], /--level must be an integer from 0 to 9/],
    ['threads out of range', ['layer', 'F', '--threads', '0'], /--threads must be an integer from 1 to 64/],
    ['an unknown compression', ['layer', 'F', '--compression', 'lz4'], /--compression must be one of gzip, zstd, none/],
    ['zstd level 0 (zstd starts at 1)', ['layer', 'F', '--compression', 'zstd', '--level', '0'], /--level must be an integer from 1 to 19, got "0"/],
    ['a zstd ultra level', ['layer', 'F', '--compression', 'zstd', '--level', '20'], /--level must be an integer from 1 to 19, got "20"/],
    ['a zstd level given to gzip', ['layer', 'F', '--compression', 'gzip', '--level', '19'], /--level must be an integer from 0 to 9, got "19"/],
    ['an unknown engine', ['layer', 'F', '--engine', 'gpu'], /--engine must be one of native, js/],
    ['two inputs', ['layer', 'F', 'F'], /at most one input/],
    ['--json with -o -', ['layer', 'F', '-o', '-', '--json'], /--json and -o - both want standard output/],
    ['a mistyped command', ['imgae'], /unknown command "imgae"/],
    ['help for an unknown command', ['help', 'nope'], /unknown command "nope"/],
    ['a directory flag on a file', ['layer', 'F', '--exclude', '*.o'], /--exclude applies to directory inputs only/],
    ['a malformed --owner', ['layer', 'D', '--owner', 'root'], /--owner must be UID:GID/],
    ['a malformed --mtime', ['layer', 'D', '--mtime', 'yesterday'], /--mtime must be keep/],
    // hazard: Date.parse read a time without a zone in the host's local time (a digest per TZ).
    ['hazard: an --mtime without a zone', ['layer', 'D', '--mtime', '2024-01-31T00:00:00'], /--mtime must be keep/],
    ['hazard: a --mtime clamp without a zone', ['layer', 'D', '--mtime', 'clamp:2024-01-31T00:00:00'], /--mtime must be keep/],
  ] as const) {
    it(`exits 2 with one line for ${label}`, () => {
      const r = runCli(args.map((a) => (a === 'F' ? file : a === 'D' ? dir : a)));
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stdout.length, 0);
      const line = oneErrorLine(r.stderr);
      assert.ok(line, `one line: ${r.stderr}`);
      assert.match(line, message);
      assert.match(line, /see 'fastlayer help/);
    });
  }

  it('passes --prefix, --exclude, --mtime and --owner to the directory archiver', async () => {
    mkdirSync(join(dir, 'skip'), { recursive: true });
    writeFileSync(join(dir, 'skip', 'x'), 'x');
    const r = runCli(['layer', dir, '--prefix', '/app', '--exclude', 'skip', '--mtime', '86400', '--owner', '1000:1000', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const tar = await collect(tarDirectory(dir, { prefix: '/app', exclude: ['skip'], mtime: 86400, owner: { uid: 1000, gid: 1000 } }));
    assert.equal(JSON.parse(r.stdout.toString()).diffID, `sha256:${sha256(tar)}`);
    const plain = runCli(['layer', dir, '--json']);
    assert.notEqual(JSON.parse(plain.stdout.toString()).diffID, `sha256:${sha256(tar)}`);
  });

  it('a missing input is one line, exit 1', () => {
    const r = runCli(['layer', join(tmp.path, 'nope')]);
    assert.equal(r.status, 1);
    assert.match(oneErrorLine(r.stderr) ?? r.stderr, /cannot read .*nope: no such file or directory/);
  });

  it('--debug adds the stack trace', () => {
    const r = runCli(['layer', join(tmp.path, 'nope'), '--debug']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^fastlayer: cannot read/);
    assert.match(r.stderr, /\n\s+at /);
  });

  it('--version names the package version and each engine with its parts', () => {
    const r = runCli(['--version']);
    assert.equal(r.status, 0, r.stderr);
    const text = r.stdout.toString();
    assert.match(text, new RegExp(`^fastlayer ${pkg.version.replace(/\./g, '\\.')} `));
    for (const e of availableEngines()) {
      assert.match(text, new RegExp(`^engine ${e.name}: `, 'm'));
      for (const [k, v] of Object.entries(e.details)) assert.ok(text.includes(`${k} ${v}`), `${e.name} ${k}`);
    }
    const json = JSON.parse(runCli(['version', '--json']).stdout.toString());
    assert.equal(json.fastlayer, pkg.version);
    assert.deepEqual(json.engines.map((e: { name: string }) => e.name), availableEngines().map((e) => e.name));
  });

  it('help lists the commands; help layer and layer --help show the layer options', () => {
    const all = runCli(['help']);
    assert.equal(all.status, 0);
    for (const name of ['layer', 'version', 'help']) assert.match(all.stdout.toString(), new RegExp(`^  ${name} `, 'm'));
    assert.match(all.stdout.toString(), /Exit status: 0 success, 1 failure, 2 usage error, 130 interrupted/);
    const layer = runCli(['help', 'layer']);
    assert.equal(layer.status, 0);
    const text = layer.stdout.toString();
    assert.match(text, /^usage: fastlayer layer /);
    for (const flag of ['--output', '--level', '--compression', '--media-type', '--threads', '--engine', '--json', '--quiet', '--progress']) {
      assert.ok(text.includes(flag), flag);
    }
    assert.equal(runCli(['layer', '--help']).stdout.toString(), text);
    assert.equal(runCli(['--help']).stdout.toString(), all.stdout.toString());
  });
});

describe('directory flags', () => {
  it('parse into the TarOptions shapes (prefix, exclude, mtime keep|seconds|{clamp}, owner)', () => {
    const parse = (values: Record<string, string | string[]>) => parseDirectoryFlags({ values, positionals: [] });
    assert.deepEqual(parse({ prefix: '/app', exclude: ['*.o', '!keep.o'], mtime: 'clamp:2024-01-01T00:00:00Z', owner: '1000:100' }), {
      prefix: '/app',
      exclude: ['*.o', '!keep.o'],
      mtime: { clamp: 1704067200 },
      owner: { uid: 1000, gid: 100 },
    });
    assert.deepEqual(parse({ mtime: '0' }), { mtime: 0 });
    assert.deepEqual(parse({ mtime: 'keep' }), { mtime: 'keep' });
    assert.deepEqual(parse({}), {});
    assert.throws(() => parse({ prefix: 'a/../b' }), { code: 'ERR_CLI_USAGE' });
  });

  it('hazard: a --prefix with a directory named .wh.* is a usage error (it would delete that lower path)', () => {
    const parse = (values: Record<string, string | string[]>) => parseDirectoryFlags({ values, positionals: [] });
    assert.throws(() => parse({ prefix: '/.wh.etc' }), { code: 'ERR_CLI_USAGE', message: /--prefix.*\.wh\.\*/ });
    assert.throws(() => parse({ prefix: '/app/.wh.x/y' }), { code: 'ERR_CLI_USAGE' });
    assert.deepEqual(parse({ prefix: '/.wh/x.wh.y' }), { prefix: '/.wh/x.wh.y' });
  });
});
