// Which hosts get plain http without being asked (loopback only, as docker and crane do), and which
// hosts are this machine or its link, where a registry elsewhere must not send the client.
import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';

export function isLoopback(host: string): boolean {
  const h = bareHost(host);
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** `host[:port]` or a URL's hostname, without the port, the IPv6 brackets, a final dot or case. */
function bareHost(host: string): string {
  let h = host.toLowerCase();
  if (h.startsWith('[')) h = h.slice(1, h.indexOf(']') === -1 ? undefined : h.indexOf(']'));
  // One colon is a port; more are an IPv6 address written without brackets (as DNS answers give them).
  else if (h.indexOf(':') === h.lastIndexOf(':')) h = h.replace(/:\d*$/, '');
  return h.replace(/\.$/, '');
}

/** Instance metadata services outside link-local (AWS's IPv6 one is an ordinary private address). */
const AWS_METADATA_V6 = 'fd00:ec2::254';
const ALIBABA_METADATA = '100.100.100.200';

/**
 * An address on this machine or its link: loopback (127/8, ::1), unspecified (0/8 and ::, which
 * Linux connects to this machine) and link-local (169.254/16, where clouds serve instance metadata and
 * credentials, and fe80::/10), IPv4-mapped IPv6 forms included; and the two metadata services that
 * are not link-local, AWS's fd00:ec2::254 and Alibaba Cloud's 100.100.100.200.
 */
export function isLocalAddress(address: string): boolean {
  const a = bareHost(address);
  if (isIP(a) === 4) {
    const [x, y] = a.split('.').map(Number) as [number, number];
    return x === 127 || x === 0 || (x === 169 && y === 254) || a === ALIBABA_METADATA;
  }
  if (isIP(a) !== 6) return false;
  if (a === '::1' || a === '::' || a === AWS_METADATA_V6) return true;
  if (/^fe[89ab][0-9a-f]:/.test(a)) return true;
  // ::ffff:a.b.c.d, or the hex form URL gives it: ::ffff:7f00:1.
  const mapped = /^::ffff:(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/.exec(a);
  if (mapped === null) return false;
  if (mapped[1] !== undefined) return isLocalAddress(mapped[1]);
  const high = parseInt(mapped[2]!, 16);
  return isLocalAddress(`${high >> 8}.${high & 255}.0.0`);
}

/** This machine or its link by name alone: a local address, localhost, or a name under .localhost. */
export function namesThisMachine(host: string): boolean {
  const h = bareHost(host);
  return isLoopback(h) || isLocalAddress(h) || h.endsWith('.localhost');
}

/** Resolves a host name to all its addresses (getaddrinfo, as fetch does); tests replace it. */
export type Lookup = (hostname: string) => Promise<readonly string[]>;

const systemLookup: Lookup = async (hostname) => (await dns.lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

const TTL_MS = 30_000;
const MAX_CACHED = 256;
const cache = new Map<string, { local: boolean; until: number }>();

/**
 * Whether a host is this machine or its link, by name or by any address its name resolves to. A name
 * that does not resolve is not local (the request then fails on its own), and that answer is not
 * kept; other answers are kept 30 s, so a pull's redirects to one CDN cost one lookup. This closes
 * names such as `127.0.0.1.nip.io` or an /etc/hosts alias; a DNS server that answers differently for
 * fetch's own lookup moments later (DNS rebinding) is not caught: that needs checks at connect time,
 * which Node's fetch does not offer.
 */
export async function reachesThisMachine(host: string, lookup: Lookup = systemLookup): Promise<boolean> {
  const h = bareHost(host);
  if (namesThisMachine(h)) return true;
  if (isIP(h) !== 0 || h === '') return false;
  const now = Date.now();
  const hit = lookup === systemLookup ? cache.get(h) : undefined;
  if (hit !== undefined && hit.until > now) return hit.local;
  let local: boolean;
  try {
    local = (await lookup(h)).some(isLocalAddress);
  } catch {
    // Not kept: a server that fails this lookup and answers fetch's with 127.0.0.1 would otherwise
    // have 30 s in which the name passes without being asked again.
    return false;
  }
  if (lookup === systemLookup) {
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(h, { local, until: now + TTL_MS });
  }
  return local;
}
