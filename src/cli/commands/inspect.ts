// `fastlayer inspect SRC`: the manifest, config and layers of an image archive, an OCI layout or a
// registry image. The rule: `docker://REF` is a registry reference; otherwise a path that exists is
// local (a directory: an OCI layout; a file: an archive tar); anything else is a registry reference.
import { statSync } from 'node:fs';
import { Reference } from '../../image/reference.js';
import { parsePlatform, pickPlatform, formatPlatform, describePlatform } from '../../image/platform.js';
import type { Descriptor, Platform } from '../../image/types.js';
import { MANIFEST_CAP } from '../../registry/manifest.js';
import { isIndexType, OCI_MANIFEST } from '../../core/media-types.js';
import { listReferrers } from '../../registry/referrers.js';
import { connect, pullScope } from '../../registry/client.js';
import { imageManifest, indexManifests, parseJSON } from '../../registry/parse.js';
import { pull, defaultPlatform } from '../../registry/pull.js';
import { archiveStore, directoryStore, type LayoutStore } from '../../layout/store.js';
import { layoutInvalid } from '../../image/errors.js';
import { storeSource } from '../../layout/source.js';
import { readDockerSave } from '../../layout/docker-save.js';
import { REPORT_OPTIONS, flag, stringOption, type Args, type Command, type Context } from '../command.js';
import { ErrCliInput, ErrCliUsage } from '../errors.js';
import { escapeControls } from '../escape.js';
import { formatBytes } from '../progress.js';
import { REGISTRY_OPTIONS, checkRegistryFlags, registryOptions } from '../registry-flags.js';
import { writeStdout } from '../stdio.js';
import { CONTAINERD_NAME as IMAGE_NAME, isNamed, REF_NAME } from '../../image/names.js';
import { readBlobRange } from '../../registry/range.js';
import { estargzSummaries, summaryLine, type BlobRangeReader, type EstargzLayerSummary } from '../estargz-inspect.js';

const NAME = 'inspect';

interface Document {
  descriptor: Descriptor;
  content: Record<string, unknown>;
}

interface Inspected {
  source: string;
  kind: 'archive' | 'oci-dir' | 'registry';
  /** Names the layout or archive gives the image (index.json annotations, or RepoTags). */
  names: string[];
  index?: Document;
  /** Absent for a docker-save archive without index.json (Docker < 25, skopeo docker-archive:). */
  manifest?: Document;
  /** That archive's manifest.json entry instead. */
  dockerSave?: Record<string, unknown>;
  config: Document;
  /** Layer descriptors; for a manifest.json-only archive, `digest` is the layer file's diffID from the config. */
  layers: (Descriptor | { path: string; size: number; diffID: string | undefined })[];
  /** With --referrers: the artifact manifests whose subject is the image (its index, when it has one). */
  referrers?: Descriptor[];
  /** Where they were found: a registry's referrers API, its sha256-<hex> tag fallback, or index.json. */
  referrersVia?: 'api' | 'tag' | 'index.json';
  /** The TOC summaries of its eStargz layers (estargz-inspect.ts), when it has any. */
  estargz?: EstargzLayerSummary[];
}

/** `{ estargz }` when some layer is eStargz, else nothing. */
async function withEstargz(layers: readonly Descriptor[], read: BlobRangeReader): Promise<{ estargz?: EstargzLayerSummary[] }> {
  const found = await estargzSummaries(layers, read);
  return found.length === 0 ? {} : { estargz: found };
}

/** The most index.json entries read while looking for referrers: a hostile layout cannot make it read without end. */
const MAX_REFERRER_READS = 1000;

/** Entries of a layout's index.json that are manifests whose `subject` is `subject` (layout.ts addReferrer). */
async function layoutReferrers(store: LayoutStore, listed: Descriptor[], subject: Descriptor): Promise<Descriptor[]> {
  const out: Descriptor[] = [];
  const candidates = listed.filter((d) => d.mediaType === OCI_MANIFEST && d.digest !== subject.digest);
  for (const d of candidates.slice(0, MAX_REFERRER_READS)) {
    if (out.some((o) => o.digest === d.digest)) continue;
    const doc = await readDocument(store, d);
    const s = doc.content['subject'] as { digest?: unknown } | undefined;
    if (s?.digest !== subject.digest) continue;
    const artifactType = typeof doc.content['artifactType'] === 'string' ? doc.content['artifactType'] : d.artifactType;
    out.push({ mediaType: d.mediaType, digest: d.digest, size: d.size, ...(artifactType ? { artifactType } : {}) });
  }
  return out;
}

/** A manifest or index of the store, read and checked through its ImageSource (src/layout/source.ts). */
async function readDocument(store: LayoutStore, d: Descriptor): Promise<Document> {
  const m = await storeSource(store).manifest(d);
  return { descriptor: d, content: parseJSON(m.bytes, `${store.where} ${d.digest}`) };
}

/** A config of the store, bounded, verified as it streams. */
async function readConfig(store: LayoutStore, d: Descriptor): Promise<Document> {
  if (d.size > MANIFEST_CAP) throw new ErrCliInput(`${store.where}: the config ${d.digest} is larger than ${MANIFEST_CAP} bytes`);
  const blob = await storeSource(store).blob(d);
  return { descriptor: d, content: parseJSON(await collect(blob.open(), MANIFEST_CAP), `${store.where} ${d.digest}`) };
}

function choosePlatform(children: Descriptor[], want: Platform | undefined, what: string): Descriptor {
  const target = want ?? defaultPlatform();
  const found = children[pickPlatform(children, target)] ?? (want === undefined ? children[0] : undefined);
  if (!found) {
    throw new ErrCliInput(`${what} has no image for ${describePlatform(target)} (it has: ${children.map((c) => (c.platform ? describePlatform(c.platform) : '?')).join(', ')})`);
  }
  return found;
}

/**
 * A docker-save archive with only manifest.json: [{Config, RepoTags, Layers}] naming files in the tar,
 * read by the format's one reader (src/layout/docker-save.ts): its layers are shown as files with
 * their diffIDs, as no layer is hashed for a view.
 */
async function inspectDockerSave(store: LayoutStore, path: string, name: string | undefined): Promise<Inspected> {
  const errors = { invalid: layoutInvalid, missing: (message: string) => new ErrCliInput(`${message} with --name`) };
  const image = await readDockerSave(store, name, errors);
  return {
    source: path,
    kind: 'archive',
    names: [...image.repoTags],
    dockerSave: { ...image.entry },
    config: { descriptor: image.config.descriptor, content: image.config.content },
    layers: image.layers.map((l) => ({ path: l.name, size: l.size, diffID: l.diffID })),
  };
}

async function inspectLocal(path: string, directory: boolean, name: string | undefined, platform: Platform | undefined, withReferrers = false): Promise<Inspected> {
  const store = directory ? directoryStore(path) : await archiveStore(path);
  if (!directory && (await store.size('index.json')) === undefined && (await store.size('manifest.json')) !== undefined) {
    return inspectDockerSave(store, path, name);
  }
  const listed = indexManifests(await store.read('index.json', MANIFEST_CAP), `${path} index.json`);
  // Entries with an artifactType are referrers of an image listed beside it (an SBOM), not images.
  const top = listed.filter((d) => d.artifactType === undefined);
  // names.ts's rule, as loadBase and push choose.
  const entries = name === undefined ? top : top.filter((d) => isNamed(d, name));
  const digests = new Set(entries.map((d) => d.digest));
  if (digests.size !== 1) {
    const names = top.map((d) => d.annotations?.[IMAGE_NAME] ?? d.annotations?.[REF_NAME] ?? d.digest).join(', ');
    throw new ErrCliInput(`${path} holds ${digests.size === 0 ? 'no image' : `${digests.size} images`}${name === undefined ? '' : ` named "${name}"`}: choose one with --name (${names})`);
  }
  const chosen = entries[0]!;
  const names = entries.map((d) => d.annotations?.[IMAGE_NAME] ?? d.annotations?.[REF_NAME]).filter((n): n is string => n !== undefined);
  let index: Document | undefined;
  let manifestDescriptor = chosen;
  if (isIndexType(chosen.mediaType)) {
    index = await readDocument(store, chosen);
    manifestDescriptor = choosePlatform(indexManifests(Buffer.from(JSON.stringify(index.content)), `index ${chosen.digest}`), platform, path);
  }
  const manifest = await readDocument(store, manifestDescriptor);
  const parsed = imageManifest(Buffer.from(JSON.stringify(manifest.content)), `manifest ${manifestDescriptor.digest}`);
  const config = await readConfig(store, parsed.config);
  const referrers = withReferrers ? { referrers: await layoutReferrers(store, listed, chosen), referrersVia: 'index.json' as const } : {};
  // The digest is a checked sha256 (imageManifest): its blob's name is safe.
  const estargz = await withEstargz(parsed.layers, (d, offset, length) => store.readRange(`blobs/sha256/${d.digest.slice('sha256:'.length)}`, offset, length));
  return { source: path, kind: directory ? 'oci-dir' : 'archive', names, ...(index ? { index } : {}), manifest, config, layers: parsed.layers, ...referrers, ...estargz };
}

async function collect(stream: NodeJS.ReadableStream, cap: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    const b = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
    n += b.length;
    if (n > cap) throw new ErrCliInput(`the config is larger than ${cap} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

async function inspectRemote(ref: Reference, args: Args, platform: Platform | undefined, signal: AbortSignal): Promise<Inspected> {
  const options = await registryOptions(args, NAME, signal);
  const image = await pull(ref, { ...options, ...(platform ? { platform } : {}) });
  let referrers = {};
  if (flag(args, 'referrers')) {
    // The referrers of what the reference names: its index when it names one, else its manifest.
    const subject = image.index?.descriptor ?? image.manifest.descriptor;
    const repo = connect(ref, options);
    const found = await listReferrers({ transport: repo.transport, repository: repo.repository, scopes: [pullScope(repo.repository)], signal }, subject.digest);
    referrers = { referrers: found.referrers, referrersVia: found.via };
  }
  if (image.config.descriptor.size > MANIFEST_CAP) throw new ErrCliInput(`the config of ${ref.toString()} is larger than ${MANIFEST_CAP} bytes`);
  const config = await collect(image.config.open(), MANIFEST_CAP);
  const doc = (d: Descriptor, bytes: Uint8Array): Document => ({ descriptor: d, content: parseJSON(bytes, d.digest) });
  const layers = image.layers.map((l) => l.descriptor);
  let repo: ReturnType<typeof connect> | undefined;
  const estargz = await withEstargz(layers, (d, offset, length) => readBlobRange((repo ??= connect(ref, options)), d.digest, offset, length, signal));
  return {
    source: ref.toString(),
    kind: 'registry',
    names: [ref.toString()],
    ...(image.index ? { index: doc(image.index.descriptor, image.index.bytes) } : {}),
    manifest: doc(image.manifest.descriptor, image.manifest.bytes),
    config: doc(image.config.descriptor, config),
    layers,
    ...referrers,
    ...estargz,
  };
}

function text(i: Inspected): string {
  const c = i.config.content;
  const cc = (c['config'] ?? {}) as Record<string, unknown>;
  const lines = [`source: ${i.source} (${i.kind})`, ...i.names.map((n) => `name: ${n}`)];
  if (i.index) {
    const children = (i.index.content['manifests'] ?? []) as Descriptor[];
    lines.push(`index: ${i.index.descriptor.digest} (${i.index.descriptor.mediaType}, ${children.length} images: ${children.map((d) => (d.platform ? formatPlatform(d.platform) : '?')).join(', ')})`);
  }
  if (i.manifest) lines.push(`digest: ${i.manifest.descriptor.digest}`, `mediaType: ${i.manifest.descriptor.mediaType}`, `size: ${i.manifest.descriptor.size}`);
  else lines.push('format: docker save (manifest.json, no index.json)');
  const p = [c['os'], c['architecture'], c['variant']].filter((v) => typeof v === 'string').join('/');
  if (p) lines.push(`platform: ${p}`);
  if (typeof c['created'] === 'string') lines.push(`created: ${c['created']}`);
  for (const [label, key] of [['entrypoint', 'Entrypoint'], ['cmd', 'Cmd']] as const) if (Array.isArray(cc[key])) lines.push(`${label}: ${JSON.stringify(cc[key])}`);
  if (Array.isArray(cc['Env'])) for (const e of cc['Env']) lines.push(`env: ${String(e)}`);
  if (typeof cc['WorkingDir'] === 'string' && cc['WorkingDir'] !== '') lines.push(`workdir: ${cc['WorkingDir']}`);
  if (typeof cc['User'] === 'string' && cc['User'] !== '') lines.push(`user: ${cc['User']}`);
  if (cc['Labels'] && typeof cc['Labels'] === 'object') for (const [k, v] of Object.entries(cc['Labels'] as Record<string, unknown>)) lines.push(`label: ${k}=${String(v)}`);
  lines.push(`config: ${i.config.descriptor.digest}  ${formatBytes(i.config.descriptor.size)}`);
  const total = i.layers.reduce((s, l) => s + l.size, 0);
  lines.push(`layers: ${i.layers.length}, ${formatBytes(total)} (${total} bytes)`);
  for (const l of i.layers) {
    lines.push('digest' in l ? `  ${l.digest}  ${formatBytes(l.size)}  ${l.mediaType}` : `  ${l.path}  ${formatBytes(l.size)}  diffID ${l.diffID ?? '?'}`);
    const toc = 'digest' in l ? i.estargz?.find((s) => s.layer === l.digest) : undefined;
    if (toc) lines.push(summaryLine(toc));
  }
  if (i.referrers !== undefined) {
    lines.push(`referrers: ${i.referrers.length} (${i.referrersVia})`);
    for (const r of i.referrers) lines.push(`  ${r.digest}  ${r.artifactType ?? r.mediaType}  ${formatBytes(r.size)}`);
  }
  // Every value above came from the image (a registry's, or a file anyone may have written): a
  // newline inside one must not start a line of its own, nor an escape sequence reach the terminal.
  return `${lines.map(escapeControls).join('\n')}\n`;
}

async function run(args: Args, context: Context): Promise<number> {
  if (args.positionals.length !== 1) throw new ErrCliUsage(`expected one SRC (an archive, an OCI layout or a registry image), got ${args.positionals.length}`, NAME);
  const src = args.positionals[0]!;
  const platformText = stringOption(args, 'platform');
  let platform: Platform | undefined;
  try {
    platform = platformText === undefined ? undefined : parsePlatform(platformText);
  } catch (err) {
    throw new ErrCliUsage(`--platform: ${(err as Error).message}`, NAME);
  }
  // Checked for a local SRC too (a bad --timeout is exit 2 either way); a password is read only for a registry.
  checkRegistryFlags(args, NAME);
  let result: Inspected;
  const st = src.startsWith('docker://') ? undefined : statSync(src, { throwIfNoEntry: false });
  if (st) {
    if (!st.isDirectory() && !st.isFile()) throw new ErrCliInput(`cannot inspect ${src}: it is neither a directory nor a file`);
    result = await inspectLocal(src, st.isDirectory(), stringOption(args, 'name'), platform, flag(args, 'referrers'));
  } else {
    const name = src.replace(/^docker:\/\//, '');
    let ref: Reference;
    try {
      ref = Reference.parse(name);
    } catch (err) {
      throw new ErrCliInput(`${src} is no file or directory, nor an image reference: ${(err as Error).message}`);
    }
    result = await inspectRemote(ref, args, platform, context.signal);
  }
  await writeStdout(flag(args, 'json') ? `${JSON.stringify(result)}\n` : text(result));
  return 0;
}

export const inspectCommand: Command = {
  name: NAME,
  usage: 'inspect SRC [options]',
  description: [
    'SRC is a path or a reference: docker://REF is always a registry image; otherwise a path that',
    'exists is local (a directory is an OCI image layout, a file an image archive tar such as',
    'fastlayer image --output or docker save writes), and anything else is a registry reference',
    '(app:1 is docker.io/library/app:1). Nothing is extracted: only index.json, the manifest and the',
    'config are read, each checked against its digest, and of an eStargz layer (one with the',
    'containerd.io/snapshot/stargz/toc.digest annotation) its footer and TOC, by offset or HTTP Range,',
    'the TOC checked against the annotation and summarised (entries, files, chunks, landmark).',
    '--json prints {source, kind, names, index?, manifest, config, layers} with the manifest and',
    'config as JSON (and referrers, referrersVia with --referrers; estargz with eStargz layers).',
  ].join('\n'),
  options: {
    name: { type: 'string', value: 'NAME', help: 'local SRC holding several images: the one with this name or tag' },
    platform: { type: 'string', value: 'OS/ARCH[/VARIANT]', help: "from an index: the image of this platform (default: this machine's, else the first)" },
    referrers: { type: 'boolean', help: 'also list the image\'s OCI referrers (SBOMs, signatures): a registry\'s referrers API, else its sha256-<hex> tag; index.json entries of a layout or archive' },
    ...REGISTRY_OPTIONS,
    json: REPORT_OPTIONS['json']!,
  },
  run,
};
