// Hazard: temporary files outliving an interrupted run. The archive writer builds its archive under
// its own temporary name beside the CLI's; a second Ctrl-C ends the process at once, and only the
// temporary files recorded for the interrupt handler are removed then.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from '../helpers/tree.js';
import { BIN, binMissing, startCli } from '../helpers/cli.js';

const digest = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * A registry serving one image whose layer never finishes: half of it comes at once, the rest never
 * (until the client goes away). `stalled` resolves once that half was sent.
 */
function slowRegistry(): { server: Server; stalled: Promise<void> } {
  const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  const layer = Buffer.alloc(1 << 20, 7);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digest(layer), size: layer.length }],
  }));
  let stall!: () => void;
  const stalled = new Promise<void>((resolve) => (stall = resolve));
  const send = (res: ServerResponse, type: string, body: Buffer, head: boolean): void => {
    res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'docker-content-digest': digest(body) });
    res.end(head ? undefined : body);
  };
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    const head = req.method === 'HEAD';
    if (url === '/v2/' || url === '/v2') return send(res, 'application/json', Buffer.from('{}'), head);
    if (url.startsWith('/v2/slow/manifests/')) return send(res, 'application/vnd.oci.image.manifest.v1+json', manifest, head);
    if (url === `/v2/slow/blobs/${digest(config)}`) return send(res, 'application/octet-stream', config, head);
    if (url === `/v2/slow/blobs/${digest(layer)}`) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': layer.length });
      if (head) return res.end();
      res.write(layer.subarray(0, layer.length / 2), () => stall());
      return;
    }
    res.writeHead(404).end();
  });
  return { server, stalled };
}

describe('hazard: interrupted pull leaves no temporary file', { skip: binMissing() }, () => {
  const tmp = tempDir();
  const registry = slowRegistry();
  let host = '';
  before(async () => {
    registry.server.listen(0, '127.0.0.1');
    await once(registry.server, 'listening');
    host = `127.0.0.1:${(registry.server.address() as AddressInfo).port}`;
  });
  after(() => {
    registry.server.closeAllConnections();
    registry.server.close();
    tmp.remove();
  });

  it('hazard: a second signal during pull -o removes the archive writer\'s temporary file too', async () => {
    const dir = join(tmp.path, 'out');
    mkdirSync(dir);
    const child = startCli(['pull', `${host}/slow:1`, '-o', join(dir, 'slow.tar'), '-q']);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit');
    await registry.stalled;
    // The archive's own temporary file exists once the first blob is in it.
    for (let i = 0; i < 200 && readdirSync(dir).length < 2; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(readdirSync(dir).length, 2, `the CLI's and the archive writer's temporary files: ${readdirSync(dir).join(', ')}`);
    // A second signal ends the process at once, before the first one's cleanup has run. Two
    // different signals: two pending SIGINTs would be merged into one by the kernel, and both are
    // then handled in one turn of the event loop, with nothing of the cleanup in between.
    child.kill('SIGINT');
    child.kill('SIGTERM');
    const [code] = await exited;
    assert.ok(code === 130 || code === 143, `exit status ${code}: ${stderr}`);
    assert.deepEqual(readdirSync(dir), [], 'nothing of the run is left');
    assert.ok(!existsSync(join(dir, 'slow.tar')));
  });

  it('hazard: a second signal during image -o - removes the archive staged under the temp directory', async () => {
    const app = join(tmp.path, 'app');
    const staging = join(tmp.path, 'staging');
    mkdirSync(app);
    mkdirSync(staging);
    writeFileSync(join(app, 'data.bin'), randomBytes(4 << 20));
    // Standard output is a pipe nobody reads: the copy of the staged archive waits once it is full.
    const child = spawn(process.execPath, [BIN, 'image', '--layer', app, '--tag', 'x:1', '--compression', 'none', '--no-layer-cache', '-o', '-', '-q'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TMPDIR: staging },
    });
    child.stdout!.pause();
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit');
    const staged = (): string[] => readdirSync(staging).filter((n) => /^fastlayer-archive-.*\.tar$/.test(n));
    for (let i = 0; i < 400 && staged().length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(staged().length, 1, `the staged archive: ${readdirSync(staging).join(', ')} ${stderr}`);
    child.kill('SIGINT');
    child.kill('SIGTERM');
    const [code] = await exited;
    assert.ok(code === 130 || code === 143, `exit status ${code}: ${stderr}`);
    assert.deepEqual(readdirSync(staging), [], 'nothing of the run is left under the temp directory');
  });
});
