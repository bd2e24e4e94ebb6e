// `fastlayer version` (and `fastlayer --version`): the package, Node, and every engine this process
// can use with the versions of its parts, or why the native one did not load.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableEngines } from '../../engine/engines.js';
import { loadNative, packageRoot } from '../../engine/native.js';
import { REPORT_OPTIONS, flag, type Args, type Command } from '../command.js';
import { ErrCliUsage } from '../errors.js';
import { writeStdout } from '../stdio.js';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

export function versionInfo() {
  const native = loadNative();
  return {
    fastlayer: packageVersion(),
    node: process.versions.node,
    platform: `${process.platform}-${process.arch}`,
    engines: availableEngines().map((e) => ({ name: e.name, ...e.details })),
    ...(native.error ? { nativeUnavailable: native.error.message } : {}),
  };
}

async function run(args: Args): Promise<number> {
  if (args.positionals.length > 0) throw new ErrCliUsage(`version takes no arguments, got ${args.positionals.join(' ')}`, 'version');
  const info = versionInfo();
  if (flag(args, 'json')) {
    await writeStdout(`${JSON.stringify(info)}\n`);
    return 0;
  }
  const lines = [`fastlayer ${info.fastlayer} (node ${info.node}, ${info.platform})`];
  for (const { name, ...parts } of info.engines) {
    lines.push(`engine ${name}: ${Object.entries(parts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  if (info.nativeUnavailable) lines.push(`engine native unavailable: ${info.nativeUnavailable}`);
  await writeStdout(`${lines.join('\n')}\n`);
  return 0;
}

export const versionCommand: Command = {
  name: 'version',
  usage: 'version [--json]',
  description: '`fastlayer --version` is the same.',
  options: { json: REPORT_OPTIONS.json! },
  run,
};
