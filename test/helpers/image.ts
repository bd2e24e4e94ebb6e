// Shared pieces of the image tests (test/image/*.test.ts and others): source trees, tool probes, a private
// containerd, tar listings and tree snapshots for comparing an unpacked image with its source.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { randomBytes } from './data.js';

export { tempDir } from './tree.js';

export const LONG = 'a-directory-with-a-rather-long-name-'.repeat(3);
export const LONG_NAME = `${LONG}/and-a-file-whose-name-alone-is-longer-than-the-ustar-name-field-of-one-hundred-bytes.txt`;
/** Latin-1 bytes that are not valid UTF-8. */
export const NON_UTF8 = Buffer.from([0x6e, 0x6f, 0x6e, 0x2d, 0xe9, 0x74, 0xe9, 0x2e, 0x74, 0x78, 0x74]);

/** Paths of makeTree's hard links: three names of one inode, in different directories. */
export const HARD_LINKS = ['bin/tool', 'bin/tool-again', 'etc/tool-link'];
export const FIFO = 'etc/fifo';

/**
 * A tree with files of several sizes and modes, a symlink, an empty directory, long and non-UTF-8
 * names, a file with three hard links and a FIFO.
 */
export function makeTree(root: string, seed = 1): void {
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'etc', 'empty'), { recursive: true });
  mkdirSync(join(root, LONG), { recursive: true });
  writeFileSync(join(root, 'etc', 'hello.txt'), 'hello\n');
  writeFileSync(join(root, 'etc', 'zero'), '');
  writeFileSync(join(root, 'bin', 'tool'), randomBytes(300_000, seed));
  chmodSync(join(root, 'bin', 'tool'), 0o755);
  writeFileSync(join(root, 'etc', 'secret'), 'x');
  chmodSync(join(root, 'etc', 'secret'), 0o600);
  writeFileSync(join(root, LONG_NAME), 'long\n');
  writeFileSync(Buffer.concat([Buffer.from(`${root}/`), NON_UTF8]), 'latin-1\n');
  symlinkSync('../etc/hello.txt', join(root, 'bin', 'hello-link'));
  linkSync(join(root, HARD_LINKS[0]!), join(root, HARD_LINKS[1]!));
  linkSync(join(root, HARD_LINKS[0]!), join(root, HARD_LINKS[2]!));
  const fifo = spawnSync('mkfifo', ['-m', '0640', join(root, FIFO)]);
  if (fifo.status !== 0) throw new Error(`mkfifo ${join(root, FIFO)}: ${fifo.stderr}`);
}

/** Path of `tool` on PATH, or undefined. */
export function which(tool: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command with a time limit (no shell). */
export function run(cmd: string, args: string[], timeoutMs = 120_000): Run {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

export function mustRun(cmd: string, args: string[], timeoutMs?: number): string {
  const r = run(cmd, args, timeoutMs);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

export interface TarEntry {
  name: string;
  type: string;
  size: number;
  mtime: number;
  uid: number;
  gid: number;
  data: Buffer | undefined;
}

/** Every entry of a tar file; data kept for entries up to `keep` bytes. */
export async function listTar(file: string, keep = 1024 * 1024): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  const ex = extract();
  createReadStream(file).pipe(ex);
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry) if ((entry.header.size ?? 0) <= keep) chunks.push(c as Buffer);
    const h = entry.header;
    out.push({ name: h.name, type: h.type ?? 'file', size: h.size ?? 0, mtime: h.mtime ? h.mtime.getTime() / 1000 : 0, uid: h.uid ?? 0, gid: h.gid ?? 0, data: chunks.length || h.size === 0 ? Buffer.concat(chunks) : undefined });
  }
  return out;
}

export interface TreeNode {
  type: 'file' | 'dir' | 'symlink' | 'fifo';
  mode: number;
  content?: string;
  target?: string;
  /** Regular files with several links: the sorted names of every path of the tree sharing the inode. */
  links?: string[];
}

/**
 * name (latin1 of the bytes, so non-UTF-8 names compare exactly) -> kind, mode, content or link
 * target, and for hard-linked files the names sharing its inode (so two trees compare by which paths
 * share an inode, not by inode numbers).
 */
export function snapshotTree(root: string): Map<string, TreeNode> {
  const out = new Map<string, TreeNode>();
  const inodes = new Map<string, string[]>();
  const walk = (dir: Buffer, rel: Buffer): void => {
    for (const name of readdirSync(dir, { encoding: 'buffer' }) as Buffer[]) {
      const path = Buffer.concat([dir, Buffer.from('/'), name]);
      const relPath = rel.length ? Buffer.concat([rel, Buffer.from('/'), name]) : name;
      const st = lstatSync(path);
      const key = relPath.toString('latin1');
      if (st.isSymbolicLink()) out.set(key, { type: 'symlink', mode: 0, target: (readlinkSync(path, { encoding: 'buffer' }) as Buffer).toString('latin1') });
      else if (st.isDirectory()) {
        out.set(key, { type: 'dir', mode: st.mode & 0o7777 });
        walk(path, relPath);
      } else if (st.isFIFO()) out.set(key, { type: 'fifo', mode: st.mode & 0o7777 });
      else if (st.isFile()) {
        out.set(key, { type: 'file', mode: st.mode & 0o7777, content: readFileSync(path).toString('base64') });
        if (st.nlink > 1) {
          const id = `${st.dev}:${st.ino}`;
          inodes.set(id, [...(inodes.get(id) ?? []), key]);
        }
      } else throw new Error(`snapshotTree: unexpected kind of entry ${path.toString()}`);
    }
  };
  walk(Buffer.from(root), Buffer.alloc(0));
  for (const names of inodes.values()) {
    if (names.length < 2) continue; // linked from outside the tree only
    for (const name of names) out.get(name)!.links = [...names].sort();
  }
  return out;
}

export interface LayerEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkname: string | undefined;
  data: Buffer;
}

/** Every entry of a gzip-compressed layer blob file, in order, with its bytes (names without a trailing slash). */
export async function listLayer(file: string): Promise<LayerEntry[]> {
  const out: LayerEntry[] = [];
  const ex = extract();
  createReadStream(file).pipe(createGunzip()).pipe(ex);
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    const h = entry.header;
    out.push({ name: h.name.replace(/\/+$/, ''), type: h.type ?? 'file', mode: h.mode ?? 0, uid: h.uid ?? 0, gid: h.gid ?? 0, mtime: h.mtime ? h.mtime.getTime() / 1000 : 0, linkname: h.linkname ?? undefined, data: Buffer.concat(chunks) });
  }
  return out;
}

/**
 * A private containerd (temp root, state and socket; native snapshotter) for ctr tests. `extraConfig`:
 * TOML lines appended to its config (a `[proxy_plugins.NAME]` table for an out-of-process snapshotter).
 */
export class Containerd {
  readonly socket: string;
  readonly #dir: string;
  readonly #extra: string[];
  #child: ReturnType<typeof spawn> | undefined;
  #log: string[] = [];

  constructor(dir: string, extraConfig: string[] = []) {
    this.#dir = dir;
    this.#extra = extraConfig;
    this.socket = join(dir, 'c.sock');
  }

  async start(timeoutMs = 20_000): Promise<void> {
    const config = join(this.#dir, 'config.toml');
    writeFileSync(config, [
      'version = 2',
      `root = ${JSON.stringify(join(this.#dir, 'root'))}`,
      `state = ${JSON.stringify(join(this.#dir, 'state'))}`,
      // No CRI (it wants CNI and a real node) and no snapshotters that need kernel features.
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]',
      '[grpc]',
      `  address = ${JSON.stringify(this.socket)}`,
      '[ttrpc]',
      `  address = ${JSON.stringify(`${this.socket}.ttrpc`)}`,
      '[debug]',
      '  address = ""',
      '[metrics]',
      '  address = ""',
      ...this.#extra,
      '',
    ].join('\n'));
    const child = spawn('containerd', ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    child.stdout!.on('data', (d: Buffer) => this.#log.push(d.toString()));
    child.stderr!.on('data', (d: Buffer) => this.#log.push(d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (existsSync(this.socket) && this.ctr(['version']).code === 0) return;
      if (child.exitCode !== null || Date.now() > deadline) {
        await this.stop();
        await exited;
        throw new Error(`containerd did not start within ${timeoutMs} ms: ${this.#log.join('').slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  ctr(args: string[], timeoutMs = 120_000, command = 'ctr'): Run {
    return run(command, ['-a', this.socket, ...args], timeoutMs);
  }

  /** What containerd printed so far (for assertion messages). */
  log(): string {
    return this.#log.join('');
  }

  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Debian package of a tool, where the names differ. */
const PACKAGE: Record<string, string> = { ctr: 'containerd', 'ctr-remote': 'stargz-snapshotter', ldd: 'libc-bin' };

/** Reason a tool-based test must skip, or undefined when every tool is on PATH. */
export function missing(...tools: string[]): string | undefined {
  const absent = tools.filter((t) => !which(t));
  const packages = [...new Set(absent.map((t) => PACKAGE[t] ?? t))];
  return absent.length ? `${absent.join(', ')} not installed (apt-get install ${packages.join(' ')})` : undefined;
}
