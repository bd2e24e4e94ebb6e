// Image references normalised the way Docker does: `app` is `docker.io/library/app:latest`,
// `localhost:5000/x` keeps its registry, `name@sha256:...` pins a digest. containerd and skopeo expect
// the fully qualified form; Docker Hub's API lives on registry-1.docker.io.
import { ErrInvalidReference } from './errors.js';
import { DIGEST_PATTERN as DIGEST } from '../core/hash.js';

export const DOCKER_HUB = 'docker.io';
export const DOCKER_HUB_API = 'registry-1.docker.io';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

export class Reference {
  /** `docker.io`, `ghcr.io`, `127.0.0.1:5000` */
  readonly registry: string;
  /** `library/app`, `org/team/app` */
  readonly repository: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;

  constructor(registry: string, repository: string, tag?: string, digest?: string) {
    this.registry = registry;
    this.repository = repository;
    this.tag = tag;
    this.digest = digest;
    Object.freeze(this);
  }

  /** Parses and normalises; a name with neither tag nor digest gets `latest`. */
  static parse(name: string, defaultTag = 'latest'): Reference {
    if (typeof name !== 'string') throw new ErrInvalidReference(String(name), 'expected a string');
    if (name.length === 0 || name.length > 4096) throw new ErrInvalidReference(name, 'empty or too long');
    let rest = name;
    let digest: string | undefined;
    const at = rest.indexOf('@');
    if (at >= 0) {
      digest = rest.slice(at + 1);
      rest = rest.slice(0, at);
      if (!DIGEST.test(digest)) throw new ErrInvalidReference(name, `digest "${digest}" is not sha256:<64 lowercase hex>`);
    }
    let tag: string | undefined;
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
      tag = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
      if (!TAG.test(tag)) throw new ErrInvalidReference(name, `tag "${tag}" is not valid (letters, digits, _ . -, at most 128)`);
    }
    let registry = DOCKER_HUB;
    const slash = rest.indexOf('/');
    const first = slash < 0 ? '' : rest.slice(0, slash);
    if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))) {
      if (!HOST.test(first)) throw new ErrInvalidReference(name, `registry "${first}" is not a host[:port]`);
      registry = first === 'index.docker.io' ? DOCKER_HUB : first;
      rest = rest.slice(slash + 1);
    }
    if (registry === DOCKER_HUB && !rest.includes('/')) rest = `library/${rest}`;
    const components = rest.split('/');
    for (const c of components) {
      if (!COMPONENT.test(c)) throw new ErrInvalidReference(name, `repository component "${c}" must be lowercase letters and digits with . _ __ - between them`);
    }
    if (registry.length + 1 + rest.length > 255) throw new ErrInvalidReference(name, 'name longer than 255 characters');
    if (tag === undefined && digest === undefined) tag = defaultTag;
    return new Reference(registry, rest, tag, digest);
  }

  /** `docker.io/library/app` */
  get name(): string {
    return `${this.registry}/${this.repository}`;
  }

  /** The fully qualified reference: `docker.io/library/app:1`, `host/repo@sha256:...`, or both. */
  toString(): string {
    return `${this.name}${this.tag === undefined ? '' : `:${this.tag}`}${this.digest === undefined ? '' : `@${this.digest}`}`;
  }

  /** What manifests are fetched and put by: the digest when pinned, else the tag. */
  get identifier(): string {
    return this.digest ?? this.tag ?? 'latest';
  }

  /** Host to send API requests to (Docker Hub's API is not on docker.io). */
  get apiHost(): string {
    return this.registry === DOCKER_HUB ? DOCKER_HUB_API : this.registry;
  }

  /** The same repository with another tag or digest. */
  with(change: { tag?: string; digest?: string }): Reference {
    return new Reference(this.registry, this.repository, change.tag, change.digest);
  }
}

/** `value` parsed as a reference; an error names `given`, the text the user wrote (`docker://REF`, say). */
export function referenceIn(value: string, given: string): Reference {
  try {
    return Reference.parse(value);
  } catch (err) {
    if (err instanceof ErrInvalidReference) throw err;
    throw new ErrInvalidReference(given, (err as Error).message);
  }
}
