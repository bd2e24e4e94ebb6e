// Lists the addon files to try, in node-gyp-build's order (local build first, then the prebuild for
// this platform). node-gyp-build itself returns only the first match and throws if that file does not
// load; listing both lets the loader fall back to the prebuild when a local build is broken or stale.
import { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';
import { arch as osArch, platform as osPlatform } from 'node:os';
import { join } from 'node:path';

interface Tuple {
  name: string;
  architectures: string[];
}

interface Tags {
  file: string;
}

/** The parts of node-gyp-build we use: its own prebuild matching, so the choice is identical. */
interface NodeGypBuild {
  parseTuple(name: string): Tuple | undefined;
  matchTuple(platform: string, arch: string): (tuple: Tuple | undefined) => tuple is Tuple;
  compareTuples(a: Tuple, b: Tuple): number;
  parseTags(file: string): Tags | undefined;
  matchTags(runtime: string, abi: string): (tags: Tags | undefined) => tags is Tags;
  compareTags(runtime: string): (a: Tags, b: Tags) => number;
}

export interface AddonCandidate {
  /** 'build': compiled in this checkout (build/Release or build/Debug); 'prebuild': prebuilds/<platform>-<arch>. */
  kind: 'build' | 'prebuild';
  path: string;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function firstAddon(dir: string): string | undefined {
  const name = listDir(dir).find((file) => file.endsWith('.node'));
  return name === undefined ? undefined : join(dir, name);
}

/** Same platform/arch overrides as node-gyp-build, so both agree on the folder name. */
export function prebuildPlatform(): { platform: string; arch: string } {
  return {
    platform: process.env.npm_config_platform || osPlatform(),
    arch: process.env.npm_config_arch || osArch(),
  };
}

function findPrebuild(dir: string, ngb: NodeGypBuild): string | undefined {
  const { platform, arch } = prebuildPlatform();
  const tuple = listDir(join(dir, 'prebuilds'))
    .map((name) => ngb.parseTuple(name))
    .filter(ngb.matchTuple(platform, arch))
    .sort(ngb.compareTuples)[0];
  if (!tuple) return undefined;
  const folder = join(dir, 'prebuilds', tuple.name);
  const winner = listDir(folder)
    .map((file) => ngb.parseTags(file))
    .filter(ngb.matchTags('node', process.versions.modules))
    .sort(ngb.compareTags('node'))[0];
  return winner ? join(folder, winner.file) : undefined;
}

/**
 * Candidates under a package folder. PREBUILDS_ONLY=1 (node-gyp-build's switch) skips local builds,
 * which is how CI proves the committed prebuild works on its own.
 */
export function addonCandidates(dir: string): AddonCandidate[] {
  const ngb = createRequire(import.meta.url)('node-gyp-build') as NodeGypBuild;
  const found: AddonCandidate[] = [];
  if (!process.env.PREBUILDS_ONLY) {
    const local = firstAddon(join(dir, 'build', 'Release')) ?? firstAddon(join(dir, 'build', 'Debug'));
    if (local) found.push({ kind: 'build', path: local });
  }
  const prebuild = findPrebuild(dir, ngb);
  if (prebuild) found.push({ kind: 'prebuild', path: prebuild });
  return found;
}
