// The image configuration (OCI image-spec config.json / Docker's container config): what a runtime
// needs to start a container from the layers, plus their diffIDs and history. Inherits a base image's
// config the way a Dockerfile's FROM does, and serialises canonically (json.ts).
import { ErrInvalidOption, ErrOptionRange } from '../core/errors.js';
import { parseRfc3339, RFC3339_EXPECTED } from '../core/time.js';
import { sourceDateEpoch } from '../tar/options.js';
import { baseHistory, type HistoryEntry } from './history.js';
import type { Platform } from './types.js';

export interface Healthcheck {
  /** `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`. */
  test: string[];
  /** Nanoseconds, as the config stores them. */
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  startInterval?: number;
  retries?: number;
}

export type { HistoryEntry };

/** What a user sets on an image (Dockerfile instructions, crane mutate flags). */
export interface ConfigOptions {
  /** Exec form. Setting it drops a base image's cmd unless `cmd` is given too (as Docker does). */
  entrypoint?: string[] | null;
  cmd?: string[] | null;
  /** `KEY=VALUE` strings or a record; a key already set (by the base) is replaced in place. */
  env?: readonly string[] | Readonly<Record<string, string>>;
  /**
   * The working directory (Dockerfile WORKDIR, `--workdir`): absolute, as runtimes require; a
   * relative or empty one is ErrOptionRange (`/` resets a base's).
   */
  workdir?: string;
  /** USER: a name or UID[:GID]; empty is ErrOptionRange (`0` resets a base's to root). */
  user?: string;
  /** Merged over the base's labels. */
  labels?: Readonly<Record<string, string>>;
  /** `80`, `80/tcp`, `53/udp`, `9000/sctp` (port 1-65535; tcp when no protocol is given). */
  exposedPorts?: readonly string[];
  /** Absolute container paths (`/data`). */
  volumes?: readonly string[];
  stopSignal?: string;
  healthcheck?: Healthcheck | null;
}

/** A config as JSON.parse gives it; fields fastlayer does not know are kept as they are. */
export type ConfigJSON = Record<string, unknown>;

export interface ConfigInput {
  base?: ConfigJSON;
  options: ConfigOptions;
  platform: Platform;
  /** RFC 3339, already resolved (see resolveCreated). */
  created: string;
  author?: string;
  /** Every layer's diffID, base layers first. */
  diffIDs: readonly string[];
  /** One entry per added layer (the base's history, made to match its layers, is kept in front). */
  history: readonly HistoryEntry[];
}

const SIGNAL = /^(?:SIG[A-Z0-9+-]+|[0-9]+|SIGRTMIN\+[0-9]+)$/;
const PORT = /^[0-9]{1,5}(?:\/(?:tcp|udp|sctp))?$/;

/** `created`: given, else SOURCE_DATE_EPOCH, else the Unix epoch; RFC 3339 in UTC without fractions. */
export function resolveCreated(created: Date | string | number | undefined, env = process.env): string {
  let ms: number;
  if (created === undefined) {
    ms = (sourceDateEpoch(env) ?? 0) * 1000;
  } else if (created instanceof Date) ms = created.getTime();
  else if (typeof created === 'number') {
    if (!Number.isInteger(created) || created < 0) throw new ErrOptionRange('created', 'whole seconds since the epoch, >= 0', created);
    ms = created * 1000;
  } else if (typeof created === 'string') {
    // Not Date.parse: it reads a time without a zone in host local time (another digest per TZ).
    ms = parseRfc3339(created);
    if (Number.isNaN(ms)) throw new ErrOptionRange('created', RFC3339_EXPECTED, created);
  } else throw new ErrInvalidOption('created', 'a Date, an RFC 3339 string or seconds since the epoch', created);
  if (!Number.isFinite(ms) || ms < 0 || ms > 253402300799000) throw new ErrOptionRange('created', 'a time from 1970 to 9999', created);
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

function strings(name: string, value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new ErrInvalidOption(name, 'an array of strings', value);
  return [...value] as string[];
}

function text(name: string, value: unknown): string {
  if (typeof value !== 'string') throw new ErrInvalidOption(name, 'a string', value);
  if (value.includes('\0')) throw new ErrOptionRange(name, 'a string without NUL', value);
  return value;
}

function record(name: string, value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ErrInvalidOption(name, 'an object of strings', value);
  for (const v of Object.values(value)) if (typeof v !== 'string') throw new ErrInvalidOption(name, 'an object of strings', value);
  return value as Record<string, string>;
}

function envPairs(value: unknown): [string, string][] {
  const list = Array.isArray(value) ? strings('env', value) : Object.entries(record('env', value)).map(([k, v]) => `${k}=${v}`);
  return list.map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0 || kv.includes('\0')) throw new ErrOptionRange('env', 'entries of the form KEY=VALUE', kv);
    return [kv.slice(0, eq), kv.slice(eq + 1)];
  });
}

function mergeEnv(base: unknown, add: [string, string][]): string[] {
  const out = Array.isArray(base) ? base.filter((v): v is string => typeof v === 'string') : [];
  for (const [k, v] of add) {
    const at = out.findIndex((e) => e.startsWith(`${k}=`) || e === k);
    if (at >= 0) out[at] = `${k}=${v}`;
    else out.push(`${k}=${v}`);
  }
  return out;
}

/**
 * `obj[key] = value` as an own property whatever the key: a base's (or a user's) key "__proto__"
 * stays a key, where the assignment would set the prototype and the key would be lost.
 */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** `80` -> `80/tcp`; a port outside 1-65535 or another protocol is refused (a runtime would fail late). */
function port(value: string): string {
  const m = PORT.exec(value);
  const n = m ? Number(value.split('/')[0]) : 0;
  if (!m || n < 1 || n > 65535) throw new ErrOptionRange('exposedPorts', 'entries PORT[/tcp|udp|sctp] with PORT 1-65535, like 80, 80/tcp or 53/udp', value);
  return value.includes('/') ? value : `${value}/tcp`;
}

/**
 * WORKDIR: absolute, as runtimes require (runc: "Cwd must be an absolute path"), so an image that
 * could not start is refused here. Empty is refused too, not read as "unset": it is what an unset
 * shell variable gives, and `/` (the runtimes' default) says the same on purpose.
 */
function workdir(value: unknown): string {
  const dir = text('workdir', value);
  if (!dir.startsWith('/')) throw new ErrOptionRange('workdir', 'an absolute container path like /app', value);
  return dir;
}

/** USER: empty is refused, not "unset": from an unset variable it would silently mean root. */
function user(value: unknown): string {
  const name = text('user', value);
  if (name === '') throw new ErrOptionRange('user', 'a user name or UID[:GID] (0 for root)', value);
  return name;
}

/** A volume is a path in the container: absolute, without NUL. */
function volume(value: string): string {
  if (!value.startsWith('/') || value.includes('\0')) throw new ErrOptionRange('volumes', 'absolute container paths like /data', value);
  return value;
}

function asSet(base: unknown, add: readonly string[] | undefined, name: string, check: (v: string) => string): Record<string, object> | undefined {
  const out: Record<string, object> = {};
  if (base && typeof base === 'object' && !Array.isArray(base)) for (const k of Object.keys(base)) setOwn(out, k, {});
  if (add !== undefined) for (const k of strings(name, add)) setOwn(out, check(k), {});
  return Object.keys(out).length === 0 ? undefined : out;
}

function healthcheck(h: Healthcheck): Record<string, unknown> {
  if (typeof h !== 'object' || h === null) throw new ErrInvalidOption('healthcheck', 'an object with test', h);
  const out: Record<string, unknown> = { Test: strings('healthcheck.test', h.test) };
  const names: [keyof Healthcheck, string][] = [['interval', 'Interval'], ['timeout', 'Timeout'], ['startPeriod', 'StartPeriod'], ['startInterval', 'StartInterval'], ['retries', 'Retries']];
  for (const [k, j] of names) {
    const v = h[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ErrOptionRange(`healthcheck.${k}`, 'a whole number >= 0', v);
    out[j] = v;
  }
  return out;
}

/** The container config (`config` member): the base's, with the options applied over it. */
export function containerConfig(base: unknown, o: ConfigOptions): Record<string, unknown> {
  const c: Record<string, unknown> = base && typeof base === 'object' && !Array.isArray(base) ? { ...(base as object) } : {};
  if (o.entrypoint !== undefined) {
    c.Entrypoint = o.entrypoint === null ? undefined : strings('entrypoint', o.entrypoint);
    if (o.cmd === undefined) delete c.Cmd;
  }
  if (o.cmd !== undefined) c.Cmd = o.cmd === null ? undefined : strings('cmd', o.cmd);
  if (o.env !== undefined) c.Env = mergeEnv(c.Env, envPairs(o.env));
  if (o.workdir !== undefined) c.WorkingDir = workdir(o.workdir);
  if (o.user !== undefined) c.User = user(o.user);
  if (o.labels !== undefined) {
    const merged = { ...(c.Labels && typeof c.Labels === 'object' ? (c.Labels as Record<string, string>) : {}), ...record('labels', o.labels) };
    c.Labels = merged;
  }
  c.ExposedPorts = asSet(c.ExposedPorts, o.exposedPorts, 'exposedPorts', port);
  c.Volumes = asSet(c.Volumes, o.volumes, 'volumes', volume);
  if (o.stopSignal !== undefined) {
    if (typeof o.stopSignal !== 'string' || !SIGNAL.test(o.stopSignal)) throw new ErrOptionRange('stopSignal', 'a signal name like SIGTERM or a number', o.stopSignal);
    c.StopSignal = o.stopSignal;
  }
  if (o.healthcheck !== undefined) c.Healthcheck = o.healthcheck === null ? undefined : healthcheck(o.healthcheck);
  for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
  return c;
}

/** The whole config document (to be serialised with canonicalJSON). */
export function imageConfig(input: ConfigInput): ConfigJSON {
  const base = input.base ?? {};
  // The base's layer count is its rootfs.diff_ids' (every base loader checks it against its manifest).
  const baseIDs = (base.rootfs as { diff_ids?: unknown } | undefined)?.diff_ids;
  const baseLayers = Array.isArray(baseIDs) ? baseIDs.length : 0;
  // Made to match only when entries follow it: an image that adds no layer keeps the base's as it is.
  const inherited = input.history.length > 0 ? baseHistory(base.history, baseLayers) : Array.isArray(base.history) ? base.history : [];
  const history = [...inherited, ...input.history.map((h) => ({ ...h, created: h.created ?? input.created }))];
  // On its base's platform, a field the image's platform leaves out keeps the base config's value (a
  // BaseImage made by hand may give only os and architecture): the layers are the base's, so is their
  // Windows build. On another platform, nothing of the base's platform is written.
  const own = base.os === input.platform.os && base.architecture === input.platform.architecture;
  const field = <K extends 'variant' | 'os.version' | 'os.features'>(k: K): unknown => input.platform[k] ?? (own ? base[k] ?? undefined : undefined);
  const out: ConfigJSON = {
    ...base,
    created: input.created,
    architecture: input.platform.architecture,
    os: input.platform.os,
    variant: field('variant'),
    'os.version': field('os.version'),
    'os.features': field('os.features'),
    config: containerConfig(base.config, input.options),
    rootfs: { type: 'layers', diff_ids: [...input.diffIDs] },
    history: history.length === 0 ? undefined : history,
  };
  // A base's Docker-only fields describe the base's build, not this image.
  for (const k of ['container', 'container_config', 'docker_version', 'id', 'parent']) delete out[k];
  if (input.author !== undefined) out.author = text('author', input.author);
  return out;
}
