// stargz-snapshotter's own estargz reader as a command (test/tools/estargz-verify.go: BLOB TOC_DIGEST
// -> `ok files=N chunks=M`, or a failure naming the file), built on Debian's packaged estargz library
// (golang-github-containerd-stargz-snapshotter-dev, fetched with `apt-get install --download-only`
// and unpacked with dpkg -x into a sysroot under the OS temp dir, never installed) with Debian's Go in
// GOPATH mode, once, then cached. Shared by the tests of blobs (test/estargz/) and images (test/image/).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = 'golang-github-containerd-stargz-snapshotter-dev';
const SOURCE = fileURLToPath(new URL('../../../test/tools/estargz-verify.go', import.meta.url));
const CACHE = join(tmpdir(), 'fastlayer-estargz-verifier');
const BIN = join(CACHE, 'estargz-verify');

function sh(cmd: string, args: string[], env?: NodeJS.ProcessEnv): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: env ?? process.env, timeout: 600_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

const has = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** The verifier's path, or why it cannot be had here (built on first call). */
export function verifier(): { bin?: string; skip?: string } {
  if (existsSync(BIN)) return { bin: BIN };
  for (const tool of ['apt-get', 'dpkg', 'go']) if (!has(tool)) return { skip: `${tool} is not installed (the verifier needs Debian's ${PACKAGE} and Go)` };
  const debs = join(CACHE, 'debs');
  const sysroot = join(CACHE, 'sysroot');
  mkdirSync(debs, { recursive: true });
  const got = sh('apt-get', ['install', '-y', '-q', '--download-only', '-o', `Dir::Cache::archives=${debs}`, PACKAGE]);
  if (!got.ok) return { skip: `apt-get could not download ${PACKAGE}: ${got.out.trim().split('\n').slice(-2).join(' ')}` };
  for (const deb of readdirSync(debs).filter((n) => n.endsWith('.deb'))) {
    const x = sh('dpkg', ['-x', join(debs, deb), sysroot]);
    if (!x.ok) return { skip: `dpkg -x ${deb} failed: ${x.out.trim()}` };
  }
  const gopath = join(CACHE, 'gopath');
  mkdirSync(join(gopath, 'src', 'estargzverify'), { recursive: true });
  copyFileSync(SOURCE, join(gopath, 'src', 'estargzverify', 'main.go'));
  const env = { ...process.env, GO111MODULE: 'off', GOFLAGS: '', GOPATH: `${gopath}:${join(sysroot, 'usr/share/gocode')}`, GOCACHE: join(CACHE, 'gocache') };
  const built = sh('go', ['build', '-o', `${BIN}.tmp`, 'estargzverify'], env);
  if (!built.ok) return { skip: `go build of the verifier failed: ${built.out.trim().split('\n').slice(-3).join(' ')}` };
  spawnSync('mv', [`${BIN}.tmp`, BIN]);
  return { bin: BIN };
}

