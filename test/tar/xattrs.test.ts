// Extended attributes (xattrs: true): recorded as PAX SCHILY.xattr records, read from the inodes
// being archived (regular files, directories, symlinks, names that are not UTF-8), restored by
// GNU tar --xattrs, and never written unless asked.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { tarDirectory } from '../../src/tar/directory.js';
import { collect } from '../helpers/layer.js';
import { tempDir } from '../helpers/tree.js';

const has = (tool: string) => spawnSync(tool, ['--version']).status === 0;
const isRoot = process.getuid?.() === 0;
const CAP = '0x0100000200200000000000000000000000000000'; // cap_net_raw+ep

/** getfattr's dump of a tree (relative names, values in hex), without SELinux labels. */
function dump(dir: string): string {
  const r = spawnSync('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '.'], { cwd: dir, encoding: 'latin1' });
  return r.stdout.split('\n').filter((l) => !l.startsWith('security.selinux')).join('\n');
}

describe('tarDirectory xattrs', () => {
  const tmp = tempDir();
  const src = join(tmp.path, 'src');
  let supported = '';

  before(() => {
    if (process.platform !== 'linux') supported = 'xattrs are read through Linux /proc';
    else if (!has('getfattr') || !has('setfattr')) supported = 'getfattr/setfattr are not installed (apt-get install attr)';
    fs.mkdirSync(join(src, 'dir'), { recursive: true });
    fs.writeFileSync(join(src, 'plain'), 'no attributes');
    fs.writeFileSync(join(src, 'dir', 'file'), 'x');
    fs.writeFileSync(Buffer.from(`${src}/caf\xe9`, 'latin1'), 'latin-1 name');
    fs.symlinkSync('plain', join(src, 'link'));
    if (supported) return;
    const set = (...args: string[]) => spawnSync('setfattr', args, { encoding: 'utf8' });
    const r = set('-n', 'user.color', '-v', 'blue', join(src, 'dir', 'file'));
    if (r.status !== 0) {
      supported = `the temp filesystem does not take user xattrs: ${r.stderr.trim()}`;
      return;
    }
    set('-n', 'user.bin', '-v', '0x00ff10', join(src, 'dir', 'file'));
    set('-n', 'user.dir', '-v', 'yes', join(src, 'dir'));
    // A name that is not UTF-8 cannot pass through Node's argv: the shell makes it.
    assert.equal(spawnSync('bash', ['-c', 'setfattr -n user.name -v latin1 "$(printf "caf\\351")"'], { cwd: src }).status, 0);
    if (isRoot) {
      set('-n', 'security.capability', '-v', CAP, join(src, 'plain'));
      set('-h', '-n', 'trusted.link', '-v', 'on-the-link', join(src, 'link'));
    }
  });
  after(() => tmp.remove());

  it('records them as SCHILY.xattr PAX records that GNU tar restores', async (t) => {
    if (supported) return t.skip(supported);
    if (!has('tar')) return t.skip('tar is not installed');
    const tar = await collect(tarDirectory(src, { xattrs: true }));
    const text = tar.toString('latin1');
    assert.match(text, /\d+ SCHILY\.xattr\.user\.color=blue\n/);
    assert.match(text, /\d+ SCHILY\.xattr\.user\.dir=yes\n/);
    assert.ok(tar.includes(Buffer.from(' SCHILY.xattr.user.bin=\x00\xff\x10\n', 'latin1')));
    if (isRoot) {
      assert.ok(tar.includes(Buffer.concat([Buffer.from(' SCHILY.xattr.security.capability='), Buffer.from(CAP.slice(2), 'hex'), Buffer.from('\n')])));
      assert.match(text, /\d+ SCHILY\.xattr\.trusted\.link=on-the-link\n/);
    }
    const out = join(tmp.path, 'out');
    fs.mkdirSync(out);
    const r = spawnSync('tar', ['-x', '--xattrs', '--xattrs-include=*', '-f', '-', '-C', out], { input: tar, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    // GNU tar does not restore xattrs on symlinks: compare everything else.
    const withoutLink = (d: string) => d.split('\n\n').filter((block) => !block.includes('# file: link')).join('\n\n');
    assert.equal(withoutLink(dump(out)), withoutLink(dump(src)));
    assert.match(dump(out), /user\.color=0x626c7565/);
    assert.match(dump(out), /# file: caf\xe9\nuser\.name=0x6c6174696e31/); // getfattr prints the raw byte
  });

  it('writes none unless asked', async (t) => {
    if (supported) return t.skip(supported);
    const tar = await collect(tarDirectory(src));
    assert.equal(tar.indexOf('SCHILY.xattr'), -1);
  });
});
