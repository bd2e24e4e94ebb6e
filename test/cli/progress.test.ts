// Progress on stderr: the board itself with a fake clock and timers, and the bin under a
// pseudo-terminal (`script` from util-linux).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ProgressBoard, endLine, formatBytes, progressMode, renderLine } from '../../src/cli/progress.js';
import { manyFiles, tempDir } from '../helpers/tree.js';
import { BIN, binMissing, hasTool, runCli } from '../helpers/cli.js';

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

describe('formatBytes', () => {
  it('hazard: a rate under 1000 B/s is whole bytes, not every digit of the float', () => {
    assert.equal(formatBytes(305.84375665847335), '306 B');
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(999.4), '999 B');
    const s = { label: 'small.txt', started: 0, ended: 7, done: 5, total: 5, note: undefined };
    assert.match(endLine(s), /  714 B\/s  /);
    assert.match(renderLine(s, 7), /  714 B\/s  /);
  });

  it('a value that rounds to 1000 takes the next unit; larger ones keep one decimal', () => {
    assert.equal(formatBytes(999.6), '1.0 kB');
    assert.equal(formatBytes(1000), '1.0 kB');
    assert.equal(formatBytes(123_456), '123.5 kB');
    assert.equal(formatBytes(999_960), '1.0 MB');
    assert.equal(formatBytes(2.5e12), '2.5 TB');
    assert.equal(formatBytes(5e15), '5000.0 TB');
  });
});

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

  it('plain: one line when a transfer starts and one when it ends (size and speed), nothing in between, whatever the time', (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    let now = 0;
    const lines = new Sink(false);
    const board = new ProgressBoard(lines, 'plain', () => now);
    const l = board.addLine('push layer 1 (app)', 2_000_000);
    assert.deepEqual(lines.writes, ['push layer 1 (app)  started  2.0 MB\n']);
    for (let i = 1; i <= 40; i++) {
      now = i * 100;
      l.update(i * 50_000);
      t.mock.timers.tick(1000);
    }
    assert.equal(lines.writes.length, 1, 'no line while it runs');
    now = 4000;
    l.finish(2_000_000);
    assert.equal(lines.writes.at(-1), 'push layer 1 (app)  done  2.0 MB  500.0 kB/s  4.0 s\n');
    board.addLine('push 0123456789ab', 10).fail('failed');
    assert.equal(lines.writes.at(-1), 'push 0123456789ab  failed  0 B of 10 B\n');
    board.addLine('push layer 2 (lib)').update(700);
    board.close();
    assert.equal(lines.writes.at(-1), 'push layer 2 (lib)  unfinished  700 B\n', 'a line that never ended is reported at close');
    assert.equal(lines.writes.length, 6);
    assert.ok(lines.writes.every((w) => w.endsWith('\n') && !w.includes('\x1b') && !w.includes('\r')));
    const off = new Sink(false);
    const quiet = new ProgressBoard(off, 'off');
    quiet.addLine('f', 10).finish(10);
    quiet.addSkipped('g', 10, 'exists');
    quiet.close();
    assert.deepEqual(off.writes, []);
  });

  it('a skipped blob is one line with its size and "exists" or "mounted", not "0 B / 99.4 MB 0%"', (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const plain = new Sink(false);
    const board = new ProgressBoard(plain, 'plain', () => 0);
    board.addSkipped('push 0123456789ab', 99_400_000, 'exists');
    board.addLine('push ba9876543210', 5000).skip('mounted');
    board.close();
    assert.deepEqual(plain.writes, ['push 0123456789ab  99.4 MB  exists\n', 'push ba9876543210  started  5.0 kB\n', 'push ba9876543210  5.0 kB  mounted\n']);
    const tty = new Sink(true);
    const drawn = new ProgressBoard(tty, 'tty', () => 0);
    drawn.addSkipped('push 0123456789ab', 99_400_000, 'exists');
    drawn.close();
    assert.match(tty.text, /push 0123456789ab {2}99\.4 MB {2}exists\x1b\[K/);
    assert.doesNotMatch(tty.text, /0 B|%|B\/s/);
  });

  it('is on for a terminal, plain for --progress elsewhere or when CI is set, silenced by --quiet', () => {
    const tty = { isTTY: true, write: () => true };
    const pipe = { isTTY: false, write: () => true };
    assert.equal(progressMode({}, tty, {}), 'tty');
    assert.equal(progressMode({}, pipe, {}), 'off');
    assert.equal(progressMode({ progress: true }, pipe, {}), 'plain');
    assert.equal(progressMode({ progress: true }, tty, {}), 'tty');
    assert.equal(progressMode({ progress: 'plain' }, tty, {}), 'plain');
    assert.equal(progressMode({ progress: 'none' }, tty, {}), 'off');
    assert.equal(progressMode({ progress: 'tty' }, pipe, {}), 'tty');
    assert.equal(progressMode({}, pipe, { CI: 'true' }), 'plain');
    assert.equal(progressMode({}, pipe, { CI: '1' }), 'plain');
    assert.equal(progressMode({}, pipe, { CI: 'false' }), 'off');
    assert.equal(progressMode({ progress: 'auto' }, pipe, { CI: '' }), 'off');
    assert.equal(progressMode({}, tty, { CI: 'true' }), 'tty', 'a terminal is still redrawn in CI');
    assert.equal(progressMode({ quiet: true }, pipe, { CI: 'true' }), 'off');
    assert.equal(progressMode({ quiet: true, progress: 'plain' }, tty, {}), 'off');
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

  it('prints no progress when stderr is not a terminal, unless --progress, --progress=plain or CI is set', () => {
    const env = { ...process.env };
    delete env['CI'];
    const plain = runCli(['layer', file, '-o', '/dev/null'], { env });
    assert.equal(plain.status, 0, plain.stderr);
    assert.ok(!plain.stderr.includes('started'), plain.stderr);
    for (const [args, extra] of [[['--progress'], {}], [['--progress=plain'], {}], [[], { CI: 'true' }]] as const) {
      const r = runCli(['layer', file, '-o', '/dev/null', ...args], { env: { ...env, ...extra } });
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith(`${file}  `));
      assert.equal(lines.length, 2, `${args.join(' ')} ${JSON.stringify(extra)}: ${r.stderr}`);
      assert.match(lines[0]!, /input\.bin {2}started {2}8\.4 MB$/);
      assert.match(lines[1]!, /input\.bin {2}done {2}[0-9.]+ MB {2}[0-9.]+ [kMG]?B\/s {2}[0-9.]+ s$/);
      assert.ok(!r.stderr.includes('\x1b'));
    }
  });

  it('--progress=VALUE: an unknown value is a usage error; none silences even CI; the last one given wins', () => {
    const bad = runCli(['layer', file, '-o', '/dev/null', '--progress=fancy']);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /--progress must be one of auto, plain, tty, none, got "fancy"/);
    const none = runCli(['layer', file, '-o', '/dev/null', '--progress=none'], { env: { ...process.env, CI: 'true' } });
    assert.equal(none.status, 0, none.stderr);
    assert.ok(!none.stderr.includes('started'), none.stderr);
    const last = runCli(['layer', file, '-o', '/dev/null', '--progress=none', '--progress']);
    assert.match(last.stderr, /input\.bin {2}started/);
    const help = runCli(['help', 'layer']);
    assert.match(help.stdout.toString(), /--progress\[=auto\|plain\|tty\|none\]/);
  });
});
