// Progress on stderr: the board itself with a fake clock and timers, and the bin under a
// pseudo-terminal (`script` from util-linux).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ProgressBoard, progressMode, renderLine } from '../src/cli/progress.js';
import { manyFiles, tempDir } from './helpers/tree.js';
import { BIN, binMissing, hasTool, runCli } from './helpers/cli.js';

class Sink {
  writes: string[] = [];
  constructor(readonly isTTY: boolean, readonly columns = 80) {}
  write(text: string): boolean {
    this.writes.push(text);
    return true;
  }
  get text(): string {
    return this.writes.join('');
  }
}

describe('ProgressBoard', () => {
  it('draws at once, then at most once per 100 ms tick however many updates come', (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    let now = 0;
    const sink = new Sink(true);
    const board = new ProgressBoard(sink, 'tty', () => now);
    const line = board.addLine('layer', 1000);
    assert.equal(sink.writes.length, 1, 'first draw');
    for (let i = 1; i <= 50; i++) line.update(i * 5);
    assert.equal(sink.writes.length, 1, 'updates alone do not draw');
    now = 1000;
    t.mock.timers.tick(100);
    assert.equal(sink.writes.length, 2);
    assert.match(sink.writes[1]!, /^\rlayer {2}250 B \/ 1\.0 kB {2}25% {2}250 B\/s {2}ETA 0:03\x1b\[K$/);
    t.mock.timers.tick(100);
    assert.equal(sink.writes.length, 2, 'nothing changed: no redraw');
    now = 2000;
    line.finish(1000);
    assert.match(sink.writes.at(-1)!, /^\rlayer {2}1\.0 kB \/ 1\.0 kB {2}100% {2}500 B\/s {2}done in 2\.0 s\x1b\[K$/);
    board.close();
    assert.equal(sink.writes.at(-1), '\n', 'the final line stays');
  });

  it('redraws several lines in place, one per blob', (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const sink = new Sink(true);
    const board = new ProgressBoard(sink, 'tty', () => 0);
    const a = board.addLine('blob a', 10);
    board.addLine('blob b');
    a.update(5);
    t.mock.timers.tick(100);
    const last = sink.writes.at(-1)!;
    assert.ok(last.startsWith('\r\x1b[1A'), 'cursor back to the first line');
    assert.equal(last.split('\n').length, 2);
    assert.match(last, /blob a {2}5 B \/ 10 B {2}50%/);
    assert.match(last, /blob b {2}0 B {2}0 B\/s/);
    board.close();
  });

  it('stays below 100% on an estimated total until finished, and shows a failure', () => {
    const s = { label: 'd', done: 150, total: 100, started: 0, ended: undefined, note: undefined };
    assert.match(renderLine(s, 1000), / 99% /);
    assert.match(renderLine({ ...s, ended: 1000, note: 'interrupted' }, 1000), / 99% .*interrupted$/);
  });

  it('keeps messages above the lines on a terminal', (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const sink = new Sink(true);
    const board = new ProgressBoard(sink, 'tty', () => 0);
    board.addLine('x');
    board.log('fastlayer: skipping socket /s\n');
    assert.match(sink.writes.at(-2)!, /^\r\x1b\[Kfastlayer: skipping socket \/s\n$/);
    assert.match(sink.writes.at(-1)!, /^x {2}0 B/);
    board.close();
  });

  it('prints plain lines when forced on a non-terminal, and nothing when off', (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const lines = new Sink(false);
    const board = new ProgressBoard(lines, 'lines', () => 0);
    const l = board.addLine('f', 10);
    l.update(3);
    t.mock.timers.tick(100);
    assert.equal(lines.writes.length, 1, 'at most one line a second');
    t.mock.timers.tick(900);
    assert.equal(lines.writes.length, 2);
    l.finish(10);
    board.close();
    assert.ok(lines.writes.every((w) => w.endsWith('\n') && !w.includes('\x1b') && !w.includes('\r')));
    const off = new Sink(false);
    const quiet = new ProgressBoard(off, 'off');
    quiet.addLine('f', 10).finish(10);
    quiet.close();
    assert.deepEqual(off.writes, []);
  });

  it('is on for a terminal, forced by --progress, silenced by --quiet', () => {
    assert.equal(progressMode({}, { isTTY: true, write: () => true }), 'tty');
    assert.equal(progressMode({}, { isTTY: false, write: () => true }), 'off');
    assert.equal(progressMode({ progress: true }, { isTTY: false, write: () => true }), 'lines');
    assert.equal(progressMode({ quiet: true, progress: true }, { isTTY: true, write: () => true }), 'off');
  });
});

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

describe('fastlayer progress on a terminal', { skip: binMissing() }, () => {
  const tmp = tempDir();
  const file = join(tmp.path, 'input.bin');
  const dir = join(tmp.path, 'tree');
  before(() => {
    writeFileSync(file, randomBytes(8 * 1024 * 1024));
    mkdirSync(dir);
    manyFiles(dir, 200);
  });
  after(() => tmp.remove());

  function underPty(args: string[]): string {
    const command = [process.execPath, BIN, ...args].map(shellQuote).join(' ');
    const r = spawnSync('script', ['-qfec', command, '/dev/null'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  }

  it('shows bytes, percent and throughput redrawn in place, and a final line', (t) => {
    if (!hasTool('script')) return t.skip('needs script (util-linux)');
    const out = underPty(['layer', file, '-o', '/dev/null', '--level', '9']);
    const draws = out.split('\x1b[K').filter((d) => /input\.bin {2}/.test(d));
    assert.ok(draws.length >= 2, `at least the first and the final draw: ${JSON.stringify(out.slice(0, 400))}`);
    assert.ok(draws.slice(1).every((d) => d.startsWith('\r')), 'redrawn over the same line');
    assert.match(draws[0]!, /0 B \/ 8\.4 MB {2}0%/);
    assert.match(draws.at(-1)!, /8\.4 MB \/ 8\.4 MB {2}100% {2}[0-9.]+ [kMG]?B\/s {2}done in/);
  });

  it('shows a percentage for a directory after its size scan, and nothing with --quiet', (t) => {
    if (!hasTool('script')) return t.skip('needs script (util-linux)');
    const out = underPty(['layer', dir, '-o', '/dev/null']);
    assert.match(out, /tree {2}[0-9.]+ [kM]?B \/ [0-9.]+ [kM]?B {2}100% .*done in/);
    const quiet = underPty(['layer', dir, '-o', '/dev/null', '--quiet']);
    assert.ok(!quiet.includes('\x1b[K') && !quiet.includes('done in'), quiet);
  });

  it('prints no progress when stderr is not a terminal, unless --progress', () => {
    const plain = runCli(['layer', file, '-o', '/dev/null']);
    assert.equal(plain.status, 0, plain.stderr);
    assert.ok(!plain.stderr.includes('%'), plain.stderr);
    const forced = runCli(['layer', file, '-o', '/dev/null', '--progress']);
    assert.match(forced.stderr, /input\.bin {2}8\.4 MB \/ 8\.4 MB {2}100% .*done in/);
    assert.ok(!forced.stderr.includes('\x1b'));
  });
});
