// Extended attributes without native code: Node has no xattr API, so `getfattr` (Debian package
// `attr`) reads them, many entries per process. It is given /proc/PID/fd/N paths of descriptors
// this process already opened and checked (O_PATH|O_NOFOLLOW ones for symlinks and special
// files), so it reads exactly the inodes being archived, never a path that could have changed,
// and names with any bytes never have to pass through a command line.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import type { Stats } from 'node:fs';
import { ErrTarSource } from '../core/errors.js';
import { ErrTarSourceChanged } from './errors.js';
import { call, closeNow, fstatNow } from './fs-safe.js';

/** Linux O_PATH (x86, arm, most architectures): a descriptor of the inode itself, never opened for I/O. */
const O_PATH = 0o10000000;
const MAX_BATCH = 128;
/** Attributes not written: SELinux labels belong to the building host, not to the image. */
const SKIPPED = new Set(['security.selinux']);

type Xattrs = Map<string, Buffer>;
interface Request {
  fd: number;
  resolve: (x: Xattrs | undefined) => void;
  reject: (err: unknown) => void;
}

/** getfattr's escaping of names: backslash and octal \ooo. */
function unescape(s: string): string {
  return Buffer.from(s.replace(/\\(\\|[0-7]{3})/g, (_, c: string) => (c === '\\' ? '\\' : String.fromCharCode(parseInt(c, 8)))), 'latin1').toString();
}

function parse(out: string): Map<number, Xattrs> {
  const result = new Map<number, Xattrs>();
  let current: Xattrs | undefined;
  for (const line of out.split('\n')) {
    const file = /^# file: \/proc\/\d+\/fd\/(\d+)$/.exec(line);
    if (file) {
      current = new Map();
      result.set(Number(file[1]), current);
      continue;
    }
    if (!current || line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const name = unescape(eq < 0 ? line : line.slice(0, eq));
    const raw = eq < 0 ? '' : line.slice(eq + 1);
    let value: Buffer;
    if (raw.startsWith('0x')) value = Buffer.from(raw.slice(2), 'hex');
    else if (raw.startsWith('0s')) value = Buffer.from(raw.slice(2), 'base64');
    else value = Buffer.from(unescape(raw.replace(/^"|"$/g, '')), 'latin1');
    if (!SKIPPED.has(name)) current.set(name, value);
  }
  return result;
}

export class XattrReader {
  private queue: Request[] = [];
  private timer: NodeJS.Timeout | undefined;

  /** The attributes of an open descriptor's inode (undefined when it has none). */
  read(fd: number): Promise<Xattrs | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ fd, resolve, reject });
      if (this.queue.length >= MAX_BATCH) this.flush();
      // Gathers the entries prepared at about the same time into one process.
      else this.timer ??= setTimeout(() => this.flush(), 2);
    });
  }

  /** The attributes of an entry that is not opened for reading (symlink, FIFO, device), checked against `st`. */
  async readPath(path: Buffer, st: Stats, display: Buffer): Promise<Xattrs | undefined> {
    const fd = await call<number>((cb) => fs.open(path, O_PATH | fs.constants.O_NOFOLLOW, cb));
    try {
      const now = fstatNow(fd);
      if (now.dev !== st.dev || now.ino !== st.ino) throw new ErrTarSourceChanged(display.toString(), 'was replaced');
      return await this.read(fd);
    } finally {
      closeNow(fd);
    }
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue.splice(0);
    if (batch.length === 0) return;
    const paths = batch.map((r) => `/proc/${process.pid}/fd/${r.fd}`);
    execFile('getfattr', ['--absolute-names', '-d', '-m', '-', '-e', 'hex', '--', ...paths], { encoding: 'latin1', maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        const e = new ErrTarSource('fastlayer: xattrs: true needs the getfattr program (Debian package "attr")', err);
        for (const r of batch) r.reject(e);
        return;
      }
      // A filesystem without xattrs is not a failure: those entries have none.
      const problems = stderr.split('\n').filter((l) => l !== '' && !/Operation not supported/.test(l));
      if (err && problems.length > 0) {
        const e = new ErrTarSource(`fastlayer: getfattr failed: ${problems.slice(0, 3).join('; ')}`, err);
        for (const r of batch) r.reject(e);
        return;
      }
      const found = parse(stdout);
      for (const r of batch) {
        const x = found.get(r.fd);
        r.resolve(x && x.size > 0 ? x : undefined);
      }
    });
  }
}
