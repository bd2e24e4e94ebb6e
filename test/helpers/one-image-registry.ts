// A registry of one image (repository `one`, any tag) served by node:http on 127.0.0.1, for CLI
// tests that need a pull without the docker-registry package: its 1 MiB layer comes whole, or (stall)
// half of it at once and the rest never, until the client goes away.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const digest = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface OneImageRegistry {
  /** HOST:PORT, once started. */
  readonly host: string;
  /** Resolves once half of a stalled layer was sent. */
  readonly stalled: Promise<void>;
  close(): void;
}

export async function oneImageRegistry(options: { stall: boolean }): Promise<OneImageRegistry> {
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
    if (url.startsWith('/v2/one/manifests/')) return send(res, 'application/vnd.oci.image.manifest.v1+json', manifest, head);
    if (url === `/v2/one/blobs/${digest(config)}`) return send(res, 'application/octet-stream', config, head);
    if (url === `/v2/one/blobs/${digest(layer)}`) {
      if (!options.stall || head) return send(res, 'application/octet-stream', layer, head);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': layer.length });
      res.write(layer.subarray(0, layer.length / 2), () => stall());
      return;
    }
    res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    stalled,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}
