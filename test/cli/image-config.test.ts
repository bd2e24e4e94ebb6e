// `fastlayer image` and `fastlayer layer`: reproducible entry times by default (SOURCE_DATE_EPOCH, else
// 0; --mtime keep for the files' own), and the config flags that are Image options (--expose,
// --volume, --stop-signal, --annotation, --author, --created, --health-*), read back from the layout.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tree.js';
import { binMissing, oneErrorLine, runCli } from '../helpers/cli.js';

interface ImageJSON {
  digest: string;
  images: { manifest: { digest: string }; config: { digest: string }; layers: { digest: string }[] }[];
}

function touch(dir: string, t: number): void {
  for (const name of readdirSync(dir, { recursive: true }) as string[]) utimesSync(join(dir, name), t, t);
  utimesSync(dir, t, t);
}

describe('fastlayer image: reproducible by default, config flags', { skip: binMissing() }, () => {
  const tmp = tempDir();
  const a = join(tmp.path, 'a');
  const b = join(tmp.path, 'b');
  const base: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: join(tmp.path, 'docker-config') };
  delete base.SOURCE_DATE_EPOCH;
  let n = 0;
  const layout = () => join(tmp.path, `layout-${n++}`);
  const blob = (dir: string, digest: string) => JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), 'utf8'));

  /** Builds an image of DIR into a fresh layout; the JSON report and the layout path. */
  function image(dir: string, extra: string[], env: NodeJS.ProcessEnv = base): { j: ImageJSON; dir: string } {
    const out = layout();
    const r = runCli(['image', '--layer', `${dir}:/app`, '--tag', 'app:1', '--oci-dir', out, '--json', ...extra], { env });
    assert.equal(r.status, 0, r.stderr);
    return { j: JSON.parse(r.stdout.toString()) as ImageJSON, dir: out };
  }

  before(() => {
    mkdirSync(join(a, 'node_modules', 'dep'), { recursive: true });
    writeFileSync(join(a, 'server.js'), 'require("dep")\n');
    writeFileSync(join(a, 'node_modules', 'dep', 'index.js'), 'module.exports = 1\n');
    cpSync(a, b, { recursive: true });
    touch(a, 1_600_000_000);
    touch(b, 1_700_000_000); // a second checkout / npm ci: same files, other times
  });
  after(() => tmp.remove());

  it('image: the same tree with other mtimes gives the same digest by default; --mtime keep does not', () => {
    const ra = image(a, []);
    const rb = image(b, []);
    assert.equal(rb.j.digest, ra.j.digest);
    assert.equal(blob(ra.dir, ra.j.images[0]!.config.digest).created, '1970-01-01T00:00:00Z');
    const ka = image(a, ['--mtime', 'keep']);
    const kb = image(b, ['--mtime', 'keep']);
    assert.notEqual(kb.j.images[0]!.layers[0]!.digest, ka.j.images[0]!.layers[0]!.digest);
    assert.notEqual(ka.j.images[0]!.layers[0]!.digest, ra.j.images[0]!.layers[0]!.digest);
  });

  it('image: SOURCE_DATE_EPOCH is honoured (entry times clamped, created), and a bad one is a usage error', () => {
    const env = { ...base, SOURCE_DATE_EPOCH: '1650000000' };
    const ra = image(a, [], env);
    const rb = image(b, [], env);
    assert.notEqual(rb.j.images[0]!.layers[0]!.digest, ra.j.images[0]!.layers[0]!.digest, 'a is older than the epoch: its times are kept');
    assert.equal(blob(ra.dir, ra.j.images[0]!.config.digest).created, '2022-04-15T05:20:00Z');
    const c = join(tmp.path, 'c');
    cpSync(b, c, { recursive: true });
    touch(c, 1_750_000_000);
    assert.equal(image(c, [], env).j.digest, rb.j.digest, 'both newer than the epoch: clamped to it');
    assert.notEqual(rb.j.digest, image(b, []).j.digest, 'the epoch changes the digest');
    for (const bad of ['soon', '1.5', '-3']) {
      const r = runCli(['image', '--layer', a, '--tag', 'x:1', '--oci-dir', layout()], { env: { ...base, SOURCE_DATE_EPOCH: bad } });
      assert.equal(r.status, 2, r.stderr);
      assert.match(oneErrorLine(r.stderr) ?? '', /SOURCE_DATE_EPOCH must be a decimal integer/);
    }
  });

  it('layer DIR: reproducible by default too; --mtime keep restores the files\' times', () => {
    const digest = (dir: string, extra: string[] = [], env = base) => {
      const r = runCli(['layer', dir, '--json', ...extra], { env });
      assert.equal(r.status, 0, r.stderr);
      return (JSON.parse(r.stdout.toString()) as { digest: string }).digest;
    };
    assert.equal(digest(a), digest(b));
    assert.notEqual(digest(a, ['--mtime', 'keep']), digest(b, ['--mtime', 'keep']));
    const r = runCli(['layer', a], { env: { ...base, SOURCE_DATE_EPOCH: 'x' } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /SOURCE_DATE_EPOCH/);
    const file = join(tmp.path, 'plain.bin');
    writeFileSync(file, 'x');
    assert.equal(runCli(['layer', file], { env: { ...base, SOURCE_DATE_EPOCH: 'x' } }).status, 0, 'a file input has no entry times');
  });

  it('--expose, --volume, --stop-signal, --author, --created, --health-*, --annotation reach the config and manifest', () => {
    const r = image(a, ['--expose', '8080', '--expose', '53/udp', '--expose', '9/sctp', '--volume', '/data', '--stop-signal', 'SIGINT',
      '--author', 'team <t@example.org>', '--created', '2024-01-31T00:00:00Z', '--workdir', '/app',
      '--health-cmd', '["/bin/check","--fast"]', '--health-interval', '1m30s', '--health-timeout', '500ms', '--health-start-period', '2s', '--health-retries', '4',
      '--annotation', 'org.opencontainers.image.source=https://example.org/app', '--annotation', 'k=v=w']);
    const manifest = blob(r.dir, r.j.images[0]!.manifest.digest);
    assert.deepEqual(manifest.annotations, { 'org.opencontainers.image.source': 'https://example.org/app', k: 'v=w' });
    const config = blob(r.dir, r.j.images[0]!.config.digest);
    assert.deepEqual(config.config.ExposedPorts, { '8080/tcp': {}, '53/udp': {}, '9/sctp': {} });
    assert.deepEqual(config.config.Volumes, { '/data': {} });
    assert.equal(config.config.StopSignal, 'SIGINT');
    assert.equal(config.config.WorkingDir, '/app');
    assert.deepEqual(config.config.Healthcheck, { Test: ['CMD', '/bin/check', '--fast'], Interval: 90e9, Timeout: 500e6, StartPeriod: 2e9, Retries: 4 });
    assert.equal(config.author, 'team <t@example.org>');
    assert.equal(config.created, '2024-01-31T00:00:00Z');
    const shell = image(a, ['--health-cmd', 'curl -f http://localhost/ || exit 1', '--created', '86400']);
    const c2 = blob(shell.dir, shell.j.images[0]!.config.digest);
    assert.deepEqual(c2.config.Healthcheck, { Test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'] });
    assert.equal(c2.created, '1970-01-02T00:00:00Z');
    const none = image(a, ['--health-cmd', 'none']);
    assert.deepEqual(blob(none.dir, none.j.images[0]!.config.digest).config.Healthcheck, { Test: ['NONE'] });
  });

  it('--annotation with several platforms annotates the index and each manifest', () => {
    const r = image(a, ['--platform', 'linux/amd64,linux/arm64', '--annotation', 'a=1']);
    const index = JSON.parse(readFileSync(join(r.dir, 'index.json'), 'utf8'));
    const top = blob(r.dir, index.manifests[0].digest);
    assert.equal(top.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(top.annotations, { a: '1' });
    for (const m of top.manifests) assert.deepEqual(blob(r.dir, m.digest).annotations, { a: '1' });
  });

  it('bad config flags are usage errors naming the flag (exit 2), nothing written', () => {
    const cases: [string[], RegExp][] = [
      [['--expose', '0'], /--expose/],
      [['--expose', '65536'], /--expose/],
      [['--expose', '80/icmp'], /--expose/],
      [['--expose', 'http'], /--expose/],
      [['--volume', 'data'], /--volume/],
      // hazard: a relative --workdir gave an image runc cannot start; an empty --user meant root.
      [['--workdir', 'app'], /--workdir: .*absolute/],
      [['--workdir', ''], /--workdir/],
      [['--user', ''], /--user/],
      [['--stop-signal', 'stop please'], /--stop-signal/],
      [['--annotation', 'novalue'], /--annotation/],
      [['--annotation', 'a=1', '--format', 'docker'], /--annotation needs --format oci/],
      [['--created', 'yesterday'], /--created/],
      [['--created', '2024-13-45T00:00:00Z'], /--created/],
      // hazard: no zone was the host's local time: the image digest depended on TZ.
      [['--created', '2024-01-31T00:00:00'], /--created must be Unix seconds, an RFC 3339 time with a zone/],
      [['--created', '2024-02-30T00:00:00Z'], /--created/],
      [['--health-interval', '30s'], /--health-interval needs --health-cmd/],
      [['--health-cmd', 'true', '--health-interval', '30 seconds'], /--health-interval/],
      [['--health-cmd', '[1]'], /--health-cmd/],
      [['--health-cmd', 'true', '--health-retries', '-1'], /--health-retries/],
    ];
    for (const [flags, message] of cases) {
      const out = layout();
      const r = runCli(['image', '--layer', a, '--tag', 'x:1', '--oci-dir', out, ...flags], { env: base });
      assert.equal(r.status, 2, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(oneErrorLine(r.stderr) ?? '', message, flags.join(' '));
      assert.ok(!existsSync(out), `${flags.join(' ')}: nothing written`);
    }
  });
});
