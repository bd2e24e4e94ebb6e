// Test tools written in Go on stargz-snapshotter's own libraries (test/tools/*.go), built on demand:
// Debian's golang-github-containerd-stargz-snapshotter-dev and its -dev dependencies are fetched with
// `apt-get install --download-only` and unpacked with dpkg -x into one sysroot under the OS temp dir
// (never installed: that would pull in about 259 packages and upgrade systemd), then each tool is built
// with Debian's Go in GOPATH mode (the packaged sources carry no vendored modules). A binary is cached
// under a name with its source's hash, so an edited tool is rebuilt and an unchanged one is not.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const STARGZ_GO_PACKAGE = 'golang-github-containerd-stargz-snapshotter-dev';
const CACHE = join(tmpdir(), 'fastlayer-stargz-go');
const SYSROOT = join(CACHE, 'sysroot');

function sh(cmd: string, args: string[], env?: NodeJS.ProcessEnv): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: env ?? process.env, timeout: 600_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

const has = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const tail = (out: string, lines: number): string => out.trim().split('\n').slice(-lines).join(' ');

/** The unpacked sources, or why they cannot be had. Unpacked into a fresh folder, then renamed into place. */
function sysroot(): { path?: string; skip?: string } {
  if (existsSync(join(SYSROOT, 'usr/share/gocode/src/github.com/containerd/stargz-snapshotter'))) return { path: SYSROOT };
  for (const tool of ['apt-get', 'dpkg']) if (!has(tool)) return { skip: `${tool} is not installed (the Go test tools need Debian's ${STARGZ_GO_PACKAGE})` };
  const debs = join(CACHE, 'debs');
  mkdirSync(debs, { recursive: true });
  const got = sh('apt-get', ['install', '-y', '-q', '--download-only', '-o', `Dir::Cache::archives=${debs}`, STARGZ_GO_PACKAGE]);
  if (!got.ok) return { skip: `apt-get could not download ${STARGZ_GO_PACKAGE}: ${tail(got.out, 2)}` };
  const fresh = mkdtempSync(join(CACHE, 'sysroot-'));
  for (const deb of readdirSync(debs).filter((n) => n.endsWith('.deb'))) {
    const x = sh('dpkg', ['-x', join(debs, deb), fresh]);
    if (!x.ok) return { skip: `dpkg -x ${deb} failed: ${x.out.trim()}` };
  }
  try {
    renameSync(fresh, SYSROOT);
  } catch {
    rmSync(fresh, { recursive: true, force: true }); // another process unpacked it first
  }
  return { path: SYSROOT };
}

/**
 * Builds test/tools/NAME.go (a `main` package) into the cache, or says why it cannot be built here
 * (apt-get, dpkg or go missing, the download failing). A failing build is our bug: it throws.
 */
export function goTool(name: string): { bin?: string; skip?: string } {
  const source = fileURLToPath(new URL(`../../../test/tools/${name}.go`, import.meta.url));
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 16);
  const bin = join(CACHE, 'bin', `${name}-${hash}`);
  if (existsSync(bin)) return { bin };
  if (!has('go')) return { skip: `go is not installed (apt-get install golang-go): ${name} is built from Debian's ${STARGZ_GO_PACKAGE}` };
  const root = sysroot();
  if (root.path === undefined) return { skip: root.skip! };
  const gopath = join(CACHE, 'gopath');
  const pkg = name.replace(/[^a-z0-9]/g, '');
  mkdirSync(join(gopath, 'src', pkg), { recursive: true });
  copyFileSync(source, join(gopath, 'src', pkg, 'main.go'));
  mkdirSync(join(CACHE, 'bin'), { recursive: true });
  const env = { ...process.env, GO111MODULE: 'off', GOFLAGS: '', GOPATH: `${gopath}:${join(root.path, 'usr/share/gocode')}`, GOCACHE: join(CACHE, 'gocache') };
  const built = sh('go', ['build', '-o', `${bin}.tmp`, pkg], env);
  if (!built.ok) throw new Error(`go build of test/tools/${name}.go failed: ${tail(built.out, 5)}`);
  renameSync(`${bin}.tmp`, bin);
  return { bin };
}
