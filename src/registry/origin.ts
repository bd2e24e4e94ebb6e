// Which URLs may receive a registry's credentials. An origin is scheme + host + port (URL normalises the
// default ports away, so `https://r` and `https://r:443` are one origin): the Authorization header, Basic
// or a token obtained for the registry, goes only to the registry's own origin, and only a 401 from that
// origin is read as the registry's challenge. A redirect or an upload Location may name any URL; those
// that could not be followed safely (another scheme, user-info, https to plain http) are refused here.
import { ErrRegistryProtocol, redactUrl } from './errors.js';
import { isLoopback, namesThisMachine } from './hosts.js';

/** `scheme://host[:port]` of a URL, the unit credentials are bound to. */
export function originOf(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

export function sameOrigin(a: URL, b: URL): boolean {
  return originOf(a) === originOf(b);
}

/**
 * Checks a URL a response pointed to (a redirect's or an upload's Location) before any request goes
 * there: http(s) only, no user-info (a server could use it to make the client send credentials it
 * chose), never from a registry elsewhere to this machine or its link (a remote registry could
 * otherwise make the client send requests, uploads with the user's layers included, to local services
 * no one asked it to reach), and no step down from https to plain http unless the registry is
 * `insecure` or both ends are loopback (which uses plain http anyway). Whether credentials go along is
 * decided per request by `sameOrigin`, so an allowed step to another scheme or port still carries none.
 * This check is by name (loopback, unspecified and link-local addresses, localhost); the transport
 * also refuses a name that resolves to this machine before it sends anything there (hosts.ts).
 */
export function checkNextUrl(from: URL, next: URL, insecure: boolean, what: string): URL {
  if (next.protocol !== 'https:' && next.protocol !== 'http:') {
    throw new ErrRegistryProtocol(`${what} to a ${next.protocol} URL refused`);
  }
  if (next.username !== '' || next.password !== '') {
    throw new ErrRegistryProtocol(`${what} to ${redactUrl(next)} refused: the URL carries user-info`);
  }
  if (namesThisMachine(next.host) && !namesThisMachine(from.host)) {
    throw new ErrRegistryProtocol(`${what} from ${from.host} to this machine (${redactUrl(next)}) refused`);
  }
  if (from.protocol === 'https:' && next.protocol === 'http:' && !insecure && !isLoopback(next.host)) {
    throw new ErrRegistryProtocol(`${what} from https to plain http (${redactUrl(next)}) refused`);
  }
  return next;
}
