// What `fastlayer` with no arguments (`npm start`) does: the layer of a directory every machine has,
// with its descriptor and throughput, then an image archive of that directory, whose name, digest
// and path are printed. The archive goes into a new private directory under the OS temp dir (never a
// fixed name there: another user could have put a symlink in its place) and stays for the user to
// look at.
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommandArgs, type Context } from '../command.js';
import { ErrCliUsage } from '../errors.js';
import { imageCommand } from './image.js';
import { defaultDirs, layerCommand } from './layer.js';
import { writeStderr } from '../stdio.js';

export const DEMO_IMAGE = 'fastlayer-demo:latest';

export async function runDemo(context: Context): Promise<number> {
  const status = await layerCommand.run(parseCommandArgs(layerCommand, []), context);
  if (status !== 0) return status;
  const dir = defaultDirs().find((d) => existsSync(d));
  if (dir === undefined) throw new ErrCliUsage(`none of ${defaultDirs().join(', ')} exists`);
  const out = join(await mkdtemp(join(tmpdir(), 'fastlayer-demo-')), 'fastlayer-demo.tar');
  await writeStderr(`fastlayer: now an image of ${dir}: fastlayer image --layer ${dir} --tag ${DEMO_IMAGE} --output ${out}\n`);
  return imageCommand.run(parseCommandArgs(imageCommand, ['--layer', dir, '--tag', DEMO_IMAGE, '--output', out]), context);
}
