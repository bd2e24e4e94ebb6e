// What the CLI prints for people (issue 19 items 14 and 17): text from outside (a config's Env,
// Labels, User..., names in index.json, a registry's error message, a file name) reaches the terminal
// with its control characters escaped, --json stays plain JSON; and every bad flag value is a usage
// error (exit 2, a hint to the command's help) naming the flag.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeControls, escapeLine } from '../../src/cli/escape.js';
import { ErrCliInput, describeError, stackOf } from '../../src/cli/errors.js';
import { ProgressBoard } from '../../src/cli/progress.js';
import { sha256 } from '../../src/image/json.js';
import { binMissing, oneErrorLine, runCli, startCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tree.js';

/** Characters that must never reach the terminal raw (newlines are checked line by line). */
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

describe('escapeControls', () => {
  it('escapes C0 (ESC, CR, LF, TAB, NUL), DEL and C1 controls as \\xNN', () => {
    assert.equal(escapeControls('a\x1b[31mred\x1b]0;title\x07'), 'a\\x1b[31mred\\x1b]0;title\\x07');
    assert.equal(escapeControls('x\r\ny\tz\0'), 'x\\x0d\\x0ay\\x09z\\x00');
    assert.equal(escapeControls('del\x7f c1\x85\x9b\x80\x9f'), 'del\\x7f c1\\x85\\x9b\\x80\\x9f');
  });

  it('escapes bidi overrides, isolates, marks, zero-width and separator characters as \\u{...}', () => {
    assert.equal(escapeControls('a\u202eb\u202ac\u2066d\u2069e'), 'a\\u{202e}b\\u{202a}c\\u{2066}d\\u{2069}e');
    assert.equal(escapeControls('\u200b\u200e\u200f\u061c\u2028\u2029\ufeff'), '\\u{200b}\\u{200e}\\u{200f}\\u{61c}\\u{2028}\\u{2029}\\u{feff}');
    assert.equal(escapeControls('lone \ud800 and \udc00'), 'lone \\u{d800} and \\u{dc00}');
  });

  it('leaves printable text alone: ASCII, backslashes, accents, CJK, emoji (surrogate pairs)', () => {
    for (const s of ['plain ASCII ~!@#$%^&*()', 'C:\\path\\x1b as text', 'été 東京 😀 👍🏽', '']) assert.equal(escapeControls(s), s);
  });

  it('escapeLine keeps one final newline and escapes the rest', () => {
    assert.equal(escapeLine('skipping socket a\nb\n'), 'skipping socket a\\x0ab\n');
    assert.equal(escapeLine('no newline\r'), 'no newline\\x0d');
  });
});

describe('progress messages', () => {
  it('log() and line labels escape file names (a socket named with ESC and a newline)', () => {
    const written: string[] = [];
    const board = new ProgressBoard({ write: (t: string) => written.push(t) }, 'plain', () => 0);
    board.log('fastlayer: skipping socket dir/s\x1b]0;t\x07\nfastlayer: forged\n');
    board.addLine('in\x1b[2Jput', 10).finish(10);
    board.close();
    const text = written.join('');
    assert.ok(text.startsWith('fastlayer: skipping socket dir/s\\x1b]0;t\\x07\\x0afastlayer: forged\n'), text);
    assert.ok(text.includes('in\\x1b[2Jput'), text);
    for (const line of text.split('\n')) assert.doesNotMatch(line, UNSAFE, line);
  });
});

/** Runs `body` with a temp directory holding `src/f` (a one-file tree for --layer), removed after. */
function withTree(body: (tmp: { path: string }, src: string) => void): void {
  const tmp = tempDir();
  try {
    const src = join(tmp.path, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'f'), 'x');
    body(tmp, src);
  } finally {
    tmp.remove();
  }
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const HOSTILE = {
  env: ['PATH=/bin', 'EVIL=\x1b]0;pwned\x07\x1b[2J', 'CR=ok\rname: forged', 'NL=x\nname: forged-too'],
  labels: { 'k\x1b[31m': 'v\u202eevil', plain: 'tab\there' },
  user: 'root\x9b31m\u2066',
  cmd: ['sh', '-c', '\x9b2J\u202e'],
  entrypoint: ['\x1bP+q\x1b\\'],
  workdir: '/w\x1b[1A',
  refName: 'tag\x1b[8m',
  variant: 'v8\x1b[5m',
};

/** An OCI layout whose one image (no layers) has a config full of control characters. */
function hostileLayout(dir: string): void {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const blob = (bytes: Buffer) => {
    const digest = sha256(bytes);
    writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
    return digest;
  };
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const config = Buffer.from(JSON.stringify({
    architecture: 'arm64', os: 'linux', variant: HOSTILE.variant, rootfs: { type: 'layers', diff_ids: [] },
    config: { Env: HOSTILE.env, Labels: HOSTILE.labels, User: HOSTILE.user, Cmd: HOSTILE.cmd, Entrypoint: HOSTILE.entrypoint, WorkingDir: HOSTILE.workdir },
  }));
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: blob(config), size: config.length }, layers: [] }));
  const index = { schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, digest: blob(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': HOSTILE.refName } }] };
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
}

describe('fastlayer inspect of a hostile config', { skip: binMissing() }, () => {
  it('prints Env, Labels, User, Cmd, Entrypoint, WorkingDir, names and platform escaped, one line each', () => {
    const tmp = tempDir();
    try {
      const dir = join(tmp.path, 'layout');
      hostileLayout(dir);
      const r = runCli(['inspect', dir]);
      assert.equal(r.status, 0, r.stderr);
      const out = r.stdout.toString('utf8');
      const lines = out.split('\n');
      for (const line of lines) assert.doesNotMatch(line, UNSAFE, JSON.stringify(line));
      // No forged line: each value stays on the line of its field.
      assert.equal(lines.filter((l) => l.startsWith('name: ')).length, 1, out);
      assert.ok(lines.includes('env: EVIL=\\x1b]0;pwned\\x07\\x1b[2J'), out);
      assert.ok(lines.includes('env: CR=ok\\x0dname: forged'), out);
      assert.ok(lines.includes('env: NL=x\\x0aname: forged-too'), out);
      assert.ok(lines.includes('label: k\\x1b[31m=v\\u{202e}evil'), out);
      assert.ok(lines.includes('label: plain=tab\\x09here'), out);
      assert.ok(lines.includes('user: root\\x9b31m\\u{2066}'), out);
      assert.ok(lines.includes('workdir: /w\\x1b[1A'), out);
      assert.ok(lines.includes('name: tag\\x1b[8m'), out);
      assert.ok(lines.some((l) => l.startsWith('platform: linux/arm64/v8\\x1b[5m')), out);
      assert.ok(lines.some((l) => l.startsWith('cmd: ') && l.includes('\\x9b2J\\u{202e}')), out);
      assert.ok(lines.some((l) => l.startsWith('entrypoint: ') && l.includes('\\u001bP+q')), out);
    } finally {
      tmp.remove();
    }
  });

  it('--json stays JSON holding the values exactly', () => {
    const tmp = tempDir();
    try {
      const dir = join(tmp.path, 'layout');
      hostileLayout(dir);
      const r = runCli(['inspect', dir, '--json']);
      assert.equal(r.status, 0, r.stderr);
      const doc = JSON.parse(r.stdout.toString('utf8')) as { names: string[]; config: { content: { variant: string; config: Record<string, unknown> } } };
      assert.deepEqual(doc.names, [HOSTILE.refName]);
      assert.equal(doc.config.content.variant, HOSTILE.variant);
      assert.deepEqual(doc.config.content.config['Env'], HOSTILE.env);
      assert.deepEqual(doc.config.content.config['Labels'], HOSTILE.labels);
      assert.equal(doc.config.content.config['User'], HOSTILE.user);
    } finally {
      tmp.remove();
    }
  });
});

describe('error lines with text from outside', { skip: binMissing() }, () => {
  it('a file name with controls in an error is escaped, on one line', () => {
    const tmp = tempDir();
    try {
      const name = join(tmp.path, 'no\x1b]0;title\x07such\nfastlayer: forged');
      const r = runCli(['layer', name]);
      assert.notEqual(r.status, 0);
      const line = oneErrorLine(r.stderr);
      assert.ok(line, JSON.stringify(r.stderr));
      assert.doesNotMatch(line, UNSAFE);
      assert.ok(line.includes('no\\x1b]0;title\\x07such'), line);
    } finally {
      tmp.remove();
    }
  });

  it('hazard: a newline in a file name prints as \\x0a in the error line, not as a space', () => {
    const tmp = tempDir();
    try {
      const r = runCli(['layer', join(tmp.path, 'a\nb')]);
      assert.equal(r.status, 1, r.stderr);
      const line = oneErrorLine(r.stderr);
      assert.ok(line, JSON.stringify(r.stderr));
      assert.ok(line.includes('a\\x0ab: no such file or directory'), line);
    } finally {
      tmp.remove();
    }
  });

  it('hazard: --debug prints no part of a file name as a line of its own', () => {
    const tmp = tempDir();
    try {
      const forged = 'fastlayer: layer written, digest sha256:0000 (forged)';
      const r = runCli(['layer', join(tmp.path, `missing\n${forged}\n    at forged (frame.js:1:1)`), '--debug']);
      assert.equal(r.status, 1, r.stderr);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      for (const line of lines) assert.doesNotMatch(line, UNSAFE, JSON.stringify(line));
      // The error line, the error's stack line, its cause's (Node's ENOENT) line: each on one line.
      assert.equal(lines.filter((l) => l.includes(forged)).length, 3, r.stderr);
      assert.ok(lines[0]!.startsWith('fastlayer: cannot read ') && lines[0]!.includes(`missing\\x0a${forged}\\x0a    at forged`), lines[0]);
      assert.ok(lines[1]!.startsWith('ErrCliInput: cannot read ') && lines[1]!.includes(`missing\\x0a${forged}`), lines[1]);
      assert.equal(lines.filter((l) => l.startsWith('fastlayer: ')).length, 1, r.stderr);
      assert.ok(!lines.some((l) => l.startsWith('    at forged')), r.stderr);
      // The rest: the stack's own frames, and the cause (Node's ENOENT) on one line too.
      const rest = lines.slice(2);
      assert.ok(rest.length > 0 && rest.every((l) => /^ {4}at /.test(l) || l.startsWith('caused by: Error: ENOENT: ')), r.stderr);
      assert.equal(rest.filter((l) => l.startsWith('caused by: ')).length, 1, r.stderr);
    } finally {
      tmp.remove();
    }
  });

  it("hazard: stackOf keeps each error's message on one line, the frames on theirs (causes, strings, a message changed later)", () => {
    const forged = 'x\nfastlayer: forged\r\x1b[2J';
    const cause = new Error(`cause ${forged}`);
    const err = new ErrCliInput(`cannot read ${forged}`, cause);
    const text = stackOf(err);
    assert.ok(text.endsWith('\n'));
    const lines = text.slice(0, -1).split('\n');
    assert.equal(lines[0], 'ErrCliInput: cannot read x\\x0afastlayer: forged\\x0d\\x1b[2J');
    const caused = lines.findIndex((l) => l.startsWith('caused by: '));
    assert.equal(lines[caused], 'caused by: Error: cause x\\x0afastlayer: forged\\x0d\\x1b[2J');
    for (const [i, line] of lines.entries()) {
      if (i !== 0 && i !== caused) assert.match(line, /^ {4}at /, line);
      assert.doesNotMatch(line, UNSAFE, line);
    }
    // A message set after the stack was taken (the stack holds the first one), and a cause that is not an Error.
    const changed = new Error('first\nfastlayer: forged');
    assert.ok(changed.stack); // V8 writes the stack's first line when it is first read.
    changed.message = 'second';
    const chained = new Error('top', { cause: changed });
    (changed as { cause?: unknown }).cause = 'a string\nfastlayer: forged too';
    const more = stackOf(chained).slice(0, -1).split('\n');
    assert.ok(more.includes('caused by: Error: first\\x0afastlayer: forged'), more.join('\n'));
    assert.ok(more.includes('caused by: a string\\x0afastlayer: forged too'), more.join('\n'));
    assert.ok(!more.some((l) => l.startsWith('fastlayer: ')), more.join('\n'));
  });

  it('hazard: describeError escapes the whole message: newlines as \\x0a, one line', () => {
    assert.equal(describeError(new ErrCliInput('cannot read a\nb: no such file or directory')), 'fastlayer: cannot read a\\x0ab: no such file or directory');
    assert.equal(describeError('plain\nstring'), 'fastlayer: plain\\x0astring');
  });

  it("a registry's error message with ESC, CR and a newline is escaped, on one line (inspect, pull)", async () => {
    const message = 'gone\x1b]0;pwned\x07\x1b[2J\r\nfastlayer: forged \u202eline';
    const server = createServer((req, res) => {
      res.writeHead(req.url === '/v2/' ? 200 : 404, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message, detail: message }] }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const tmp = tempDir();
    try {
      const ref = `127.0.0.1:${(server.address() as AddressInfo).port}/app:1`;
      for (const args of [['inspect', ref], ['pull', ref, '--oci-dir', join(tmp.path, 'out')]]) {
        const child = startCli(args);
        let stderr = '';
        child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
        const [code] = (await once(child, 'close')) as [number | null];
        assert.equal(code, 1, stderr);
        const line = oneErrorLine(stderr);
        assert.ok(line, JSON.stringify(stderr));
        assert.doesNotMatch(line, UNSAFE, line);
        assert.ok(line.includes('gone\\x1b]0;pwned\\x07\\x1b[2J'), line);
        assert.ok(line.includes('\\u{202e}line'), line);
      }
    } finally {
      server.close();
      tmp.remove();
    }
  });
});

describe('bad flag values are usage errors (exit 2) naming the flag', { skip: binMissing() }, () => {
  const cases: [string, string[], RegExp][] = [
    ['image --mtime yesterday', ['--mtime', 'yesterday'], /--mtime/],
    ['image --mtime clamp:yesterday', ['--mtime', 'clamp:yesterday'], /--mtime/],
    ['image --owner root', ['--owner', 'root'], /--owner/],
    ['image --owner 1:x', ['--owner', '1:x'], /--owner/],
    ['image --layer DIR:/../x', ['--layer', 'LAYER:/../x'], /--layer/],
    ['image --layer DIR:/a/../../x', ['--layer', 'LAYER:/a/../../x'], /--layer/],
    ['image duplicate --platform', ['--platform', 'linux/amd64,linux/amd64'], /--platform lists linux\/amd64 twice/],
    ['image duplicate --platform (spaces, arm64)', ['--platform', 'linux/arm64, linux/amd64 ,linux/arm64'], /--platform lists linux\/arm64 twice/],
    ['hazard: image duplicate --platform by its default variant (linux/arm is arm/v7)', ['--platform', 'linux/arm,linux/arm/v7'], /--platform lists linux\/arm\/v7 twice/],
    ['image --level 99', ['--level', '99'], /--level/],
    ['image --threads 0', ['--threads', '0'], /--threads/],
    ['image --compression lz4', ['--compression', 'lz4'], /--compression/],
  ];
  for (const [what, extra, message] of cases) {
    it(what, () => {
      withTree((tmp, src) => {
        const out = join(tmp.path, 'out');
        const args = extra.map((a) => a.replace('LAYER', src));
        const r = runCli(['image', ...(args[0] === '--layer' ? [] : ['--layer', src]), '--tag', 'app:1', '--oci-dir', out, ...args]);
        assert.equal(r.status, 2, r.stderr);
        const line = oneErrorLine(r.stderr);
        assert.ok(line, r.stderr);
        assert.match(line, message);
        assert.match(line, /\(see 'fastlayer help image'\)$/);
        assert.doesNotMatch(line, /"images"/);
        assert.equal(existsSync(out), false, 'nothing written');
      });
    });
  }

  // The registry flags' values are checked when no registry is involved too (image --output, node
  // --oci-dir, inspect of a layout), before anything is read or written.
  const registryFlagCases: [string, string[], RegExp][] = [
    ['--timeout=0', ['--timeout=0'], /--timeout must be a number of seconds/],
    ['--timeout=abc', ['--timeout=abc'], /--timeout must be a number of seconds/],
    ['--timeout=-5', ['--timeout=-5'], /--timeout must be a number of seconds/],
    ['--creds=nocolon', ['--creds=nocolon'], /--creds must be USER:PASSWORD/],
    ['--creds with --username', ['--creds=u:p', '--username=u', '--password-stdin'], /give --creds or --username with --password-stdin, not both/],
    ['--username without --password-stdin', ['--username=u'], /--username goes with --password-stdin/],
    ['--password-stdin without --username', ['--password-stdin'], /--password-stdin needs --username/],
  ];
  for (const [what, extra, message] of registryFlagCases) {
    it(`hazard: image --output, node --oci-dir and inspect of a layout refuse ${what} (exit 2, nothing written)`, () => {
      const tmp = tempDir();
      try {
        const src = join(tmp.path, 'src');
        mkdirSync(src);
        writeFileSync(join(src, 'package.json'), '{"name":"app","version":"1.0.0","main":"index.js"}');
        writeFileSync(join(src, 'index.js'), '');
        const layout = join(tmp.path, 'layout');
        hostileLayout(layout);
        for (const [command, args] of [
          ['image', ['image', '--layer', src, '--tag', 'app:1', '--no-layer-cache', '--output', join(tmp.path, 'out.tar'), ...extra]],
          ['node', ['node', src, '--tag', 'app:1', '--no-layer-cache', '--oci-dir', join(tmp.path, 'out'), ...extra]],
          ['inspect', ['inspect', layout, ...extra]],
        ] as const) {
          // Standard input holds a password, which no check may read.
          const r = runCli([...args], { input: Buffer.from('secret\n') });
          assert.equal(r.status, 2, `${command}: ${r.stderr}`);
          const line = oneErrorLine(r.stderr);
          assert.ok(line, r.stderr);
          assert.match(line, message);
          assert.match(line, new RegExp(`\\(see 'fastlayer help ${command}'\\)$`));
          assert.equal(r.stdout.length, 0);
        }
        assert.equal(existsSync(join(tmp.path, 'out.tar')), false, 'nothing written');
        assert.equal(existsSync(join(tmp.path, 'out')), false, 'nothing written');
      } finally {
        tmp.remove();
      }
    });
  }

  it('hazard: image --base - refuses --password-stdin whether or not a registry is involved', () => {
    const tmp = tempDir();
    try {
      const r = runCli(['image', '--base', '-', '--tag', 'app:1', '--output', join(tmp.path, 'out.tar'), '--username', 'u', '--password-stdin'], { input: Buffer.alloc(0) });
      assert.equal(r.status, 2, r.stderr);
      assert.match(oneErrorLine(r.stderr) ?? r.stderr, /--password-stdin: standard input is already the input of this command/);
      assert.equal(existsSync(join(tmp.path, 'out.tar')), false);
    } finally {
      tmp.remove();
    }
  });

  it('image --output with a good --username --password-stdin reads no password (no registry is used)', () => {
    withTree((tmp, src) => {
      // An empty standard input would be a usage error if the password were read.
      const r = runCli(['image', '--layer', src, '--tag', 'app:1', '--no-layer-cache', '--output', join(tmp.path, 'out.tar'), '-q', '--timeout', '5', '--username', 'u', '--password-stdin'], { input: Buffer.alloc(0) });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(existsSync(join(tmp.path, 'out.tar')));
    });
  });

  it('hazard: a time past what a Date holds (--mtime, clamp:, SOURCE_DATE_EPOCH) is a usage error of layer and image, not a failure naming a library option', () => {
    withTree((tmp, src) => {
      const commands = [['layer', src, '-o', join(tmp.path, 'x.tar.gz')], ['image', '--layer', src, '--tag', 'a:1', '--no-layer-cache', '--output', join(tmp.path, 'x.tar')]];
      for (const command of commands) {
        for (const [extra, env] of [[['--mtime', '9000000000000'], {}], [['--mtime', 'clamp:9000000000000'], {}], [[], { SOURCE_DATE_EPOCH: '9000000000000' }]] as const) {
          const r = runCli([...command, ...extra], { env: { ...process.env, ...env } });
          assert.equal(r.status, 2, `${command[0]} ${extra.join(' ')} ${JSON.stringify(env)}: ${r.stderr}`);
          assert.match(oneErrorLine(r.stderr) ?? '', /(--mtime|SOURCE_DATE_EPOCH)/);
        }
      }
      assert.ok(!existsSync(join(tmp.path, 'x.tar')) && !existsSync(join(tmp.path, 'x.tar.gz')), 'nothing written');
    });
  });

  it('hazard: copy between local formats with a good --username --password-stdin reads no password', () => {
    withTree((tmp, src) => {
      const archive = join(tmp.path, 'a.tar');
      assert.equal(runCli(['image', '--layer', src, '--tag', 'app:1', '--no-layer-cache', '--output', archive, '-q']).status, 0);
      // An empty standard input would be a usage error if the password were read.
      const r = runCli(['copy', `archive:${archive}`, `oci-layout:${join(tmp.path, 'layout')}`, '-q', '--username', 'u', '--password-stdin'], { input: Buffer.alloc(0) });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(existsSync(join(tmp.path, 'layout', 'index.json')));
      const bad = runCli(['copy', `archive:${archive}`, `oci-layout:${join(tmp.path, 'layout2')}`, '--timeout', 'abc']);
      assert.equal(bad.status, 2, 'the flags are still checked');
    });
  });

  for (const [flagName, value] of [['mtime', 'yesterday'], ['owner', 'root']]) {
    it(`layer --${flagName} ${value} agrees with image (exit 2, hint)`, () => {
      const tmp = tempDir();
      try {
        const r = runCli(['layer', tmp.path, `--${flagName}`, value!, '--output', join(tmp.path, 'x.tar.gz')]);
        assert.equal(r.status, 2, r.stderr);
        assert.match(oneErrorLine(r.stderr) ?? '', new RegExp(`--${flagName}.*\\(see 'fastlayer help layer'\\)$`));
      } finally {
        tmp.remove();
      }
    });
  }
});
