// An SPDX 2.3 JSON document of the packages a Node project's lockfile lists (docs/SBOM.md). Made
// from package-lock.json (or npm-shrinkwrap.json) versions 2 and 3, whose `packages` map names every
// installed path; the license comes from each package's own package.json under node_modules, read
// without following a link out of the project. The bytes are a function of the files alone: no
// clock is read (see `created`), packages are sorted, and the namespace is a hash of the content.
import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { createHash } from 'node:crypto';
import { ErrInvalidOption, ErrOptionRange } from '../core/errors.js';
import { parseRfc3339, RFC3339_EXPECTED } from '../core/time.js';
import { canonicalJSON, parseJSON } from '../image/json.js';
import { ErrSbomLockfile } from './errors.js';

export const SPDX_MEDIA_TYPE = 'application/spdx+json';

export interface SbomOptions {
  /**
   * creationInfo.created (SPDX requires one): a Date, or an RFC 3339 time with a zone (Z or an
   * offset; one without is refused: it would be host local time). Default: SOURCE_DATE_EPOCH
   * when set, else 1970-01-01T00:00:00Z, so that the same lockfile gives the same document (and
   * the same referrer digest) on every run; the wall clock would make each build's SBOM new.
   */
  created?: string | Date;
}

/** Lockfiles are large (tens of MiB for big monorepos) but bounded: past this, refused, not read whole. */
const MAX_LOCKFILE = 256 * 1024 * 1024;
/** A package.json larger than this is not a manifest: its license is not read. */
const MAX_PACKAGE_JSON = 1024 * 1024;

/** Which SPDX algorithm an SRI prefix is, and how many bytes its digest has. */
const SRI: Record<string, [string, number]> = { sha512: ['SHA512', 64], sha384: ['SHA384', 48], sha256: ['SHA256', 32], sha1: ['SHA1', 20] };

interface Checksum {
  algorithm: string;
  checksumValue: string;
}

interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo?: string;
  downloadLocation: string;
  filesAnalyzed: false;
  licenseConcluded: string;
  licenseDeclared: string;
  copyrightText: string;
  checksums?: Checksum[];
  externalRefs?: { referenceCategory: string; referenceType: string; referenceLocator: string }[];
}

async function readCapped(path: string, cap: number): Promise<Buffer | 'missing' | 'symlink' | 'too-large' | 'not-file'> {
  let handle;
  try {
    // O_NOFOLLOW: the last component is the project's own file, not a link to elsewhere on the host.
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return 'symlink';
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    throw err;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return 'not-file';
    if (st.size > cap) return 'too-large';
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** The lockfile: npm-shrinkwrap.json first (npm itself prefers it), else package-lock.json. */
async function readLockfile(dir: string): Promise<{ file: string; lock: Record<string, unknown> }> {
  for (const name of ['npm-shrinkwrap.json', 'package-lock.json']) {
    const file = join(dir, name);
    const got = await readCapped(file, MAX_LOCKFILE);
    if (got === 'missing') continue;
    if (got === 'symlink') throw new ErrSbomLockfile('symlink', `${file} is a symlink: the SBOM is made from the project's own lockfile only`);
    if (got === 'too-large') throw new ErrSbomLockfile('too-large', `${file} is larger than ${MAX_LOCKFILE} bytes`);
    if (got === 'not-file') throw new ErrSbomLockfile('invalid', `${file} is not a regular file`);
    let lock: unknown;
    try {
      lock = parseJSON(got);
    } catch (err) {
      throw new ErrSbomLockfile('invalid', `${file} is not JSON: ${(err as Error).message}`);
    }
    if (typeof lock !== 'object' || lock === null || Array.isArray(lock)) throw new ErrSbomLockfile('invalid', `${file} does not hold an object`);
    const version = (lock as Record<string, unknown>).lockfileVersion;
    if (version !== 2 && version !== 3) {
      throw new ErrSbomLockfile('version', `${file} has lockfileVersion ${JSON.stringify(version)}: an SBOM needs version 2 or 3 (npm 7 or later; run \`npm install --lockfile-version 3\`)`);
    }
    const packages = (lock as Record<string, unknown>).packages;
    if (typeof packages !== 'object' || packages === null || Array.isArray(packages)) throw new ErrSbomLockfile('invalid', `${file} has no packages map`);
    return { file, lock: lock as Record<string, unknown> };
  }
  throw new ErrSbomLockfile('missing', `${dir} has no package-lock.json or npm-shrinkwrap.json: run \`npm install\` to write one`);
}

/**
 * Whether `dir` has a lockfile an SBOM can be made from (`fastlayer node`'s default: an SBOM when the
 * project has one). No lockfile, or one npm 6 wrote, is false; a lockfile that is a symlink, too
 * large or not npm's is still ErrSbomLockfile: the project says it has one, and it is not usable.
 */
export async function hasSbomLockfile(dir: string): Promise<boolean> {
  try {
    await readLockfile(dir);
    return true;
  } catch (err) {
    if (err instanceof ErrSbomLockfile && (err.reason === 'missing' || err.reason === 'version')) return false;
    throw err;
  }
}

/** `node_modules/@s/a/node_modules/b` -> `b`; `node_modules/@s/a` -> `@s/a`; a workspace folder -> undefined. */
export function packageNameOf(key: string): string | undefined {
  const at = key.lastIndexOf('node_modules/');
  if (at < 0) return undefined;
  const name = key.slice(at + 'node_modules/'.length);
  return /^(@[^/]+\/)?[^/@][^/]*$/.test(name) ? name : undefined;
}

/** `pkg:npm/%40scope/name@1.0.0`, the purl spec's form for npm (the `@` of a scope percent-encoded). */
export function npmPurl(name: string, version: string | undefined): string {
  const slash = name.startsWith('@') ? name.indexOf('/') : -1;
  const path = slash < 0 ? encodeURIComponent(name) : `${encodeURIComponent(name.slice(0, slash))}/${encodeURIComponent(name.slice(slash + 1))}`;
  return `pkg:npm/${path}${version === undefined ? '' : `@${encodeURIComponent(version)}`}`;
}

/** SRI strings (`sha512-<base64> sha1-<base64>`) as SPDX checksums in hex; a malformed one is an error. */
export function integrityChecksums(integrity: string, what: string): Checksum[] {
  const out: Checksum[] = [];
  for (const part of integrity.trim().split(/\s+/)) {
    const dash = part.indexOf('-');
    const known = dash > 0 ? SRI[part.slice(0, dash)] : undefined;
    if (known === undefined) continue; // an algorithm SPDX has no name for: left out, not guessed
    const b64 = part.slice(dash + 1).replace(/\?.*$/, '');
    const bytes = Buffer.from(b64, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || bytes.length !== known[1]) {
      throw new ErrSbomLockfile('invalid', `${what}: integrity ${JSON.stringify(part)} is not a ${known[0]} digest in base64`);
    }
    out.push({ algorithm: known[0], checksumValue: bytes.toString('hex') });
  }
  return out;
}

/** An absolute URL with an authority (`https://`, `git+ssh://`): what a location or a URL-shaped version is. */
const ABSOLUTE_URL = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
/** Query parameters that carry credentials: tokens, signatures of presigned URLs (S3, GCS, Azure SAS), keys. */
const CREDENTIAL_PARAM = /token|auth|secret|passw|pwd|key|sig|credential|session|jwt|bearer|cookie/i;
/** An npm access token (npm_ + 36 characters), wherever it appears as a parameter value. */
const NPM_TOKEN = /\bnpms?_[A-Za-z0-9]{36,48}\b/;

/**
 * A lockfile URL (`resolved`) as the SBOM may carry it, or undefined when it is no absolute URL (a
 * local path, `file:`) or cannot be parsed (NOASSERTION then). The document is pushed to a registry
 * (an OCI referrer) even when the lockfile itself stays out of the image, so what authenticated the
 * download must not travel with it: user-info is dropped (`https://ci-bot:TOKEN@host/a.tgz`, and
 * `git+https://TOKEN@github.com/...` where the token is the user name; so `git+ssh://git@host/...`
 * loses its `git@` too), and so are query parameters named like a credential (`_authToken`,
 * `X-Amz-Signature`, `sig`, ...) or holding an npm token. The rest, the fragment included (a git
 * commit), is kept, in WHATWG URL serialization.
 */
export function publicUrl(value: string): string | undefined {
  if (!ABSOLUTE_URL.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  url.username = '';
  url.password = '';
  if (url.search !== '') {
    const params = new URLSearchParams(url.search);
    const secret = [...params].filter(([k, v]) => CREDENTIAL_PARAM.test(k) || NPM_TOKEN.test(v)).map(([k]) => k);
    if (secret.length > 0) {
      for (const k of secret) params.delete(k);
      url.search = params.toString();
    }
  }
  return url.href;
}

/**
 * A version from the lockfile or a manifest. npm writes semver there, but a version written as a URL
 * (`git+https://TOKEN@host/r.git#sha`, as npm 6 did) is cleaned as publicUrl, or left out.
 */
function versionOf(value: string): string | undefined {
  return ABSOLUTE_URL.test(value) ? publicUrl(value) : value;
}

/** A license value SPDX can carry as an expression, else undefined (NOASSERTION). */
function licenseOf(pkg: unknown): string | undefined {
  if (typeof pkg !== 'object' || pkg === null) return undefined;
  let license = (pkg as Record<string, unknown>).license;
  // Old manifests: { "type": "MIT", "url": ... }.
  if (typeof license === 'object' && license !== null) license = (license as Record<string, unknown>).type;
  if (typeof license !== 'string') return undefined;
  const value = license.trim();
  // "SEE LICENSE IN file", "UNLICENSED" and free text are no SPDX expressions: NOASSERTION, honestly.
  if (value === '' || value.length > 256 || !/^[A-Za-z0-9.+:()\- ]+$/.test(value) || /^(SEE |UNLICENSED$)/i.test(value)) return undefined;
  return value;
}

/** Whether `path` (real) is `root` or below it. */
function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * package.json of the package installed at `key` (relative to the project), or 'absent' when it is
 * not installed. A path that leaves the project, through `..` or a link, is not read.
 */
async function installedManifest(root: string, key: string): Promise<unknown> {
  if (key.split('/').some((p) => p === '..' || p === '.' || p === '') || key.startsWith('/')) return undefined;
  let real: string;
  try {
    real = await realpath(join(root, key, 'package.json'));
  } catch {
    return 'absent';
  }
  if (!inside(root, real)) return undefined;
  const got = await readCapped(real, MAX_PACKAGE_JSON).catch(() => 'missing' as const);
  if (!Buffer.isBuffer(got)) return got === 'missing' ? 'absent' : undefined;
  try {
    return parseJSON(got);
  } catch {
    return undefined;
  }
}

/** `YYYY-MM-DDThh:mm:ssZ`, the form SPDX's `created` takes. */
function createdTime(option: SbomOptions['created']): string {
  let date: Date;
  if (option !== undefined) {
    if (typeof option !== 'string' && !(option instanceof Date)) throw new ErrInvalidOption('created', 'a Date or an RFC 3339 time string', option);
    // Not new Date(string): it reads a time without a zone in host local time (another SBOM per TZ).
    date = new Date(typeof option === 'string' ? parseRfc3339(option) : option.getTime());
    if (Number.isNaN(date.getTime())) throw new ErrOptionRange('created', typeof option === 'string' ? RFC3339_EXPECTED : 'a valid Date', option);
  } else {
    const epoch = process.env.SOURCE_DATE_EPOCH;
    if (epoch === undefined || epoch === '') date = new Date(0);
    else {
      if (!/^\d{1,12}$/.test(epoch)) throw new ErrOptionRange('SOURCE_DATE_EPOCH', 'whole seconds since 1970', epoch);
      date = new Date(Number(epoch) * 1000);
    }
  }
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function spdxId(kind: string, name: string, version: string | undefined): string {
  // SPDXIDs allow letters, digits, `.` and `-`; the hash keeps `@a/b` and `a-b` apart after cleaning.
  const clean = `${name}${version === undefined ? '' : `-${version}`}`.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '');
  const tag = createHash('sha256').update(`${name}@${version ?? ''}`).digest('hex').slice(0, 8);
  return `SPDXRef-${kind}-${clean}-${tag}`;
}

export interface Sbom {
  /** The document, as an object. */
  document: Record<string, unknown>;
  /** Its bytes (canonical JSON): what is attached. */
  bytes: Buffer;
  /** The lockfile it was made from. */
  lockfile: string;
}

/**
 * The SPDX 2.3 document of the project at `dir`: the root package (packages[""] of the lockfile)
 * DESCRIBED by the document and DEPENDING_ON every package the lockfile lists, one per name and
 * version. Where node_modules exists, a dev or optional package that is not installed there is left
 * out (npm ci --omit=dev), since the SBOM describes what the image holds.
 */
export async function generateSbom(dir: string, options: SbomOptions = {}): Promise<Sbom> {
  if (typeof dir !== 'string' || dir === '') throw new ErrInvalidOption('dir', 'a project directory path', dir);
  if (typeof options !== 'object' || options === null) throw new ErrInvalidOption('options', 'an object', options);
  for (const key of Object.keys(options)) if (key !== 'created') throw new ErrInvalidOption(key, 'absent (known: created)', (options as Record<string, unknown>)[key]);
  const created = createdTime(options.created);
  const { file, lock } = await readLockfile(dir);
  const root = await realpath(dir);
  const packages = lock.packages as Record<string, unknown>;
  const top = (typeof packages[''] === 'object' && packages[''] !== null ? packages[''] : lock) as Record<string, unknown>;
  const rootName = typeof top.name === 'string' && top.name !== '' ? top.name : typeof lock.name === 'string' && lock.name !== '' ? lock.name : 'project';
  const rootVersion = typeof top.version === 'string' ? versionOf(top.version) : undefined;
  const installed = await realpath(join(root, 'node_modules')).then(() => true, () => false);

  const byId = new Map<string, SpdxPackage>();
  for (const key of Object.keys(packages).sort()) {
    if (key === '') continue;
    const entry = packages[key];
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new ErrSbomLockfile('invalid', `${file}: packages[${JSON.stringify(key)}] is not an object`);
    const e = entry as Record<string, unknown>;
    // A link (a workspace) is listed again under its target's own key, which carries its details.
    if (e.link === true) continue;
    const name = typeof e.name === 'string' && e.name !== '' ? e.name : packageNameOf(key);
    if (name === undefined) continue;
    const version = typeof e.version === 'string' && e.version !== '' ? versionOf(e.version) : undefined;
    const manifest = await installedManifest(root, key);
    if (manifest === 'absent' && installed && (e.dev === true || e.optional === true || e.devOptional === true)) continue;
    const id = spdxId('npm', name, version);
    if (byId.has(id)) continue;
    const pkg: SpdxPackage = {
      SPDXID: id,
      name,
      ...(version === undefined ? {} : { versionInfo: version }),
      // A URL (or git+ URL) where npm got it, credentials taken out; a local path is no location
      // another reader can use.
      downloadLocation: (typeof e.resolved === 'string' ? publicUrl(e.resolved) : undefined) ?? 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: licenseOf(manifest) ?? 'NOASSERTION',
      copyrightText: 'NOASSERTION',
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: npmPurl(name, version) }],
    };
    if (typeof e.integrity === 'string') {
      const sums = integrityChecksums(e.integrity, `${file}: ${key}`);
      if (sums.length > 0) pkg.checksums = sums;
    }
    byId.set(id, pkg);
  }
  const rootId = spdxId('root', rootName, rootVersion);
  const rootPkg: SpdxPackage = {
    SPDXID: rootId,
    name: rootName,
    ...(rootVersion === undefined ? {} : { versionInfo: rootVersion }),
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: licenseOf(top) ?? 'NOASSERTION',
    copyrightText: 'NOASSERTION',
  };
  const deps = [...byId.values()].sort((a, b) => (a.SPDXID < b.SPDXID ? -1 : a.SPDXID > b.SPDXID ? 1 : 0));
  const document: Record<string, unknown> = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${rootName}${rootVersion === undefined ? '' : `@${rootVersion}`}`,
    creationInfo: { created, creators: ['Tool: fastlayer'] },
    packages: [rootPkg, ...deps],
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: rootId },
      ...deps.map((d) => ({ spdxElementId: rootId, relationshipType: 'DEPENDS_ON', relatedSpdxElement: d.SPDXID })),
    ],
  };
  // SPDX wants a unique URI per document: a hash of everything else makes it unique per content
  // and the same for the same content (the wall clock or a random UUID would make every run differ).
  const hash = createHash('sha256').update(canonicalJSON(document)).digest('hex');
  document.documentNamespace = `https://spdx.org/spdxdocs/fastlayer/${encodeURIComponent(rootName)}-${hash}`;
  return { document, bytes: canonicalJSON(document), lockfile: file };
}
