// A registry elsewhere must not send the client to this machine or its link (loopback, unspecified,
// link-local such as cloud metadata at 169.254.169.254): not by an address written in a Location, nor
// by a host name that resolves there (`127.0.0.1.nip.io`, an /etc/hosts alias). The resolver is
// replaced here (`lookup`), so no test depends on DNS; the servers listen on this machine only.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { Authenticator } from '../../src/registry/auth.js';
import type { ErrRegistry } from '../../src/registry/errors.js';
import { isLocalAddress, isLoopback, namesThisMachine, reachesThisMachine, type Lookup } from '../../src/registry/hosts.js';
import { checkNextUrl } from '../../src/registry/origin.js';
import { Transport } from '../../src/registry/transport.js';
import { location } from '../../src/registry/upload.js';
import { testServers, type Handler } from '../helpers/http-servers.js';

/** A resolver that knows only the names given. */
function resolver(names: Record<string, string[]>): Lookup & { asked: string[] } {
  const asked: string[] = [];
  const lookup = async (hostname: string) => {
    asked.push(hostname);
    const found = names[hostname];
    if (found === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return found;
  };
  return Object.assign(lookup, { asked });
}

const { http } = testServers();

/** A server on `address` that lists the requests it got. */
async function serve(address: string, handler: Handler) {
  const hits: string[] = [];
  const host = await http((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    handler(req, res);
  }, address);
  return { hits, host, port: Number(host.slice(host.lastIndexOf(':') + 1)) };
}

/** An address of this machine that is not loopback: the "registry elsewhere" listens there. */
function outsideAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal && !isLocalAddress(a.address)) return a.address;
  }
  return undefined;
}

const refusedProtocol = (err: unknown) => {
  assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_PROTOCOL', (err as Error).message);
  assert.match((err as Error).message, /this machine/);
  return true;
};

describe('hosts: this machine or its link, by address and by name', () => {
  it('addresses: loopback, unspecified and link-local, IPv4-mapped forms included; others are not', () => {
    const local = ['127.0.0.1', '127.255.0.9', '0.0.0.0', '0.1.2.3', '169.254.169.254', '100.100.100.200', 'fd00:ec2::254', '::1', '::', 'fe80::1', 'FEBF::1',
      '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a9fe:a9fe', '::ffff:0.0.0.0', '[::1]', '[::ffff:7f00:1]'];
    for (const a of local) assert.equal(isLocalAddress(a), true, a);
    const outside = ['10.0.0.1', '192.168.1.1', '169.253.0.1', '100.100.100.201', 'fd00:ec2::253', '128.0.0.1', '8.8.8.8', 'fd00::2', 'fec0::1', '2001:db8::1',
      '::ffff:8.8.8.8', '::ffff:808:808', 'localhost', 'example.com', ''];
    for (const a of outside) assert.equal(isLocalAddress(a), false, a);
  });

  it('names: localhost (any case, a final dot), names under .localhost, and local addresses with or without a port', () => {
    for (const h of ['localhost', 'LOCALHOST', 'localhost.', 'localhost:5000', 'registry.localhost', 'a.b.localhost.', '127.0.0.1:5000',
      '[::1]:5000', '0.0.0.0:80', '169.254.169.254', '[fe80::1]:8080']) {
      assert.equal(namesThisMachine(h), true, h);
    }
    for (const h of ['localhost.evil.example', 'notlocalhost', '127.0.0.1.nip.io', 'reg.example:5000', '10.0.0.1:5000']) {
      assert.equal(namesThisMachine(h), false, h);
    }
    // Plain http by default stays for loopback only, as docker and crane do.
    assert.equal(isLoopback('localhost.:5000'), true);
    assert.equal(isLoopback('::1'), true, 'an IPv6 address without brackets is not read as host:port');
    assert.equal(isLoopback('0.0.0.0:5000'), false);
    assert.equal(isLoopback('169.254.169.254'), false);
  });

  it('a name is this machine when any address it resolves to is; unresolvable names and address literals ask no resolver', async () => {
    const lookup = resolver({
      'alias.test': ['127.0.0.1'],
      'v6.test': ['2001:db8::1', '::1'],
      'metadata.test': ['169.254.169.254'],
      'mapped.test': ['::ffff:127.0.0.1'],
      'public.test': ['203.0.113.7', '2001:db8::7'],
    });
    for (const h of ['alias.test', 'v6.test:5000', 'metadata.test', 'MAPPED.test.']) assert.equal(await reachesThisMachine(h, lookup), true, h);
    for (const h of ['public.test', 'nowhere.test', '203.0.113.7', '[2001:db8::1]:443']) assert.equal(await reachesThisMachine(h, lookup), false, h);
    assert.deepEqual(lookup.asked, ['alias.test', 'v6.test', 'metadata.test', 'mapped.test', 'public.test', 'nowhere.test']);
    // Without a resolver given, the system's: localhost is this machine by name, before any lookup.
    assert.equal(await reachesThisMachine('localhost'), true);
  });

  it('checkNextUrl refuses, by name, every spelling of this machine or its link from a registry elsewhere', () => {
    const from = new URL('http://reg.example/v2/app/blobs/x');
    for (const next of ['http://0.0.0.0:2375/x', 'http://[::]/x', 'http://[::ffff:127.0.0.1]:5000/x', 'http://169.254.169.254/latest/meta-data/',
      'http://[fe80::1]/x', 'http://localhost./x', 'http://registry.localhost/x', 'http://2130706433/x', 'http://127.1/x']) {
      assert.throws(() => checkNextUrl(from, new URL(next), true, 'redirect'), refusedProtocol, next);
    }
    assert.equal(checkNextUrl(from, new URL('http://cdn.example/x'), true, 'redirect').host, 'cdn.example');
  });
});

describe('hazard: names that resolve to this machine', () => {
  it('a Bearer realm whose name resolves to this machine gets no credentials from a registry elsewhere; a loopback registry may use one', async () => {
    const lookup = resolver({ 'auth.test': ['127.0.0.1'], 'reg.example': ['203.0.113.7'], 'auth.example': ['203.0.113.8'] });
    const remote = new Authenticator('reg.example', { credentials: { username: 'alice', password: 'secret' }, lookup });
    await assert.rejects(remote.challenge('Bearer realm="https://auth.test/token",service="r"', ['repository:app:pull'], undefined), refusedProtocol);
    assert.equal(await remote.challenge('Bearer realm="https://auth.example/token",service="r"', ['repository:app:pull'], undefined), true);
    const local = new Authenticator('127.0.0.1:5000', { credentials: { username: 'alice', password: 'secret' }, lookup });
    assert.equal(await local.challenge('Bearer realm="https://auth.test/token",service="r"', ['repository:app:pull'], undefined), true);
  });

  const outside = outsideAddress();
  it('a registry elsewhere redirecting a blob, or giving an upload Location, to a name that resolves to this machine: refused, nothing sent there', { skip: outside === undefined && 'this machine has no address outside loopback' }, async () => {
    const service = await serve('127.0.0.1', (_req, res) => void res.writeHead(200, { 'content-length': '2' }).end('ok'));
    const lookup = resolver({ 'alias.test': ['127.0.0.1'], 'metadata.test': ['169.254.169.254'] });
    let target = '';
    const registry = await serve(outside!, (req, res) => {
      if (req.method === 'POST') return void res.writeHead(202, { location: target, 'content-length': '0' }).end();
      res.writeHead(307, { location: target }).end();
    });
    const transport = new Transport(registry.host, new Authenticator(registry.host, { credentials: null, lookup }), { insecure: true, retries: 0, lookup });
    for (const t of [`http://alias.test:${service.port}/v2/app/blobs/x`, 'http://metadata.test/latest/meta-data/']) {
      target = t;
      const blob = { method: 'GET' as const, url: transport.url('app/blobs/sha256:00'), scopes: [] };
      await assert.rejects(transport.request(blob, [200], 'blob GET'), refusedProtocol);
      // The upload session's POST is answered with a Location (checked by name in upload.ts), and the
      // next request goes there.
      const opened = { method: 'POST' as const, url: transport.url('app/blobs/uploads/'), scopes: [] };
      const session = location(await transport.request(opened, [202], 'upload POST'), opened.url, true);
      assert.equal(session.href, t);
      const upload = { method: 'PATCH' as const, url: session, body: new Uint8Array(4), scopes: [] };
      await assert.rejects(transport.request(upload, [202], 'blob upload'), refusedProtocol);
    }
    assert.deepEqual(service.hits, [], 'nothing reached the local service');
    assert.ok(registry.hits.filter((h) => h.startsWith('POST')).length === 2 && registry.hits.length >= 4, 'the registry itself was asked');
  });

  it('a registry on this machine may send the client to another local name (a port-forward)', async () => {
    const service = await serve('127.0.0.1', (_req, res) => void res.writeHead(200, { 'content-length': '2' }).end('ok'));
    const registry = await serve('127.0.0.1', (_req, res) => void res.writeHead(307, { location: `http://localhost:${service.port}/blob` }).end());
    const lookup = resolver({});
    const transport = new Transport(registry.host, new Authenticator(registry.host, { credentials: null, lookup }), { lookup });
    const res = await transport.request({ method: 'GET', url: transport.url('app/blobs/sha256:00'), scopes: [] }, [200], 'blob GET');
    assert.equal(await res.text(), 'ok');
    assert.deepEqual(service.hits, ['GET /blob']);
    assert.deepEqual(lookup.asked, [], 'names of this machine need no lookup');
  });
});
