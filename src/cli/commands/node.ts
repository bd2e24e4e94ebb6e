// `fastlayer node [DIR]`: the image of a Node project (src/build/node.ts decides its layers and
// config) with every flag and output of `fastlayer image` but --layer.
import { nodeSpec } from '../../build/node.js';
import type { Command } from '../command.js';
import { ErrCliUsage } from '../errors.js';
import { imageCommand, runImage } from './image.js';

const NAME = 'node';

// --sbom is a flag here (the project is DIR), not image's --sbom DIR.
const { layer: _layer, sbom: _sbom, ...imageOptions } = imageCommand.options;

export const nodeCommand: Command = {
  name: NAME,
  usage: 'node [DIR] [--app-dir PATH] [--base SRC] [config flags] --tag NAME[:TAG]... (--output FILE.tar|- | --oci-dir DIR | --push NAME)',
  description: [
    'DIR (default: the working directory) holds package.json. The first layer holds package.json, the',
    'lockfile (package-lock.json, npm-shrinkwrap.json, yarn.lock or pnpm-lock.yaml) and node_modules as',
    'the project has them; the second the rest of the project (.dockerignore honoured; .git, .npmrc and',
    'node_modules left out), both under --app-dir (default /app), which is also the working directory.',
    'A code change gives a new second layer only; an unchanged lockfile and node_modules give the same',
    'first layer on any machine (entry times are fixed unless SOURCE_DATE_EPOCH or --mtime says',
    'otherwise). The image runs `node FILE ...` from a plain start script in package.json, else `node',
    'MAIN`, else give --cmd; NODE_ENV=production unless --env sets it. --base should hold node',
    '(node:22-slim from a registry, or a local layout or archive). An SPDX SBOM of package-lock.json',
    '(lockfile version 2 or 3) is attached as an OCI referrer when the project has one (--no-sbom: none).',
    '',
    'Every other flag is `fastlayer image`\'s (see fastlayer image --help).',
  ].join('\n'),
  options: {
    'app-dir': { type: 'string', value: 'PATH', help: 'where the project goes in the image, and WORKDIR (default /app)' },
    sbom: { type: 'boolean', help: 'attach an SPDX SBOM of package-lock.json (v2 or v3) as an OCI referrer; an error without one (default: when the project has one)' },
    'no-sbom': { type: 'boolean', help: 'no SBOM' },
    ...imageOptions,
  },
  run: (args, context) => {
    if (args.positionals.length > 1) throw new ErrCliUsage(`expected at most one project directory, got ${args.positionals.length}`, NAME);
    const dir = args.positionals[0] ?? '.';
    const appDir = args.values['app-dir'];
    if (appDir !== undefined && (typeof appDir !== 'string' || !appDir.startsWith('/'))) {
      throw new ErrCliUsage(`--app-dir must be an absolute path in the image, not ${JSON.stringify(appDir)}`, NAME);
    }
    if (args.values['sbom'] === true && args.values['no-sbom'] === true) throw new ErrCliUsage('--sbom and --no-sbom exclude each other', NAME);
    // On by default when the project has a lockfile an SBOM can be made from (docs/SBOM.md).
    const sbom = args.values['no-sbom'] === true ? false : args.values['sbom'] === true ? true : 'auto';
    return runImage(args, context, {
      command: NAME,
      prepare: async (spec) => {
        try {
          return await nodeSpec({ ...spec, sbom, dir, ...(appDir === undefined ? {} : { appDir }) });
        } catch (err) {
          // A missing start command is the user's to give: a usage error that names the flag.
          if ((err as { code?: string }).code === 'ERR_OPTION_OUT_OF_RANGE' && /"cmd"/.test((err as Error).message)) {
            throw new ErrCliUsage('package.json has no plain `node FILE` start script and no main: give --cmd', NAME);
          }
          throw err;
        }
      },
    });
  },
};
