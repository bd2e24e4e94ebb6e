#!/usr/bin/env node
// The fastlayer command: picks the subcommand, runs it, and turns any failure into one line
// `fastlayer: ...` and an exit status (0 ok, 1 failure, 2 usage error, 128+n on a signal).
import { existsSync } from 'node:fs';
import { flag, formatHelp, parseCommandArgs, type CommandEntry } from './command.js';
import { commands, defaultCommand, findCommand } from './commands.js';
import { CliError, describeError, ErrCliUsage, EXIT_FAILURE, stackOf } from './errors.js';
import { installInterrupt } from './interrupt.js';
import { installStdio, writeStderr, writeStdout } from './stdio.js';

function pick(argv: readonly string[]): { entry: CommandEntry; rest: readonly string[] } {
  const first = argv[0];
  if (first === '--version' || first === '-V') return { entry: findCommand('version')!, rest: argv.slice(1) };
  if (first === '--help' || first === '-h') return { entry: findCommand('help')!, rest: argv.slice(1) };
  if (first !== undefined) {
    const entry = findCommand(first);
    if (entry) return { entry, rest: argv.slice(1) };
    // The bare form takes a path; a word that is neither a path nor a command is most likely a
    // mistyped command.
    if (!first.startsWith('-') && !first.includes('/') && !existsSync(first)) {
      throw new ErrCliUsage(`unknown command "${first}", and no file or directory has that name (commands: ${commands.map((c) => c.name).join(', ')})`);
    }
  }
  return { entry: findCommand(defaultCommand)!, rest: argv };
}

async function report(err: unknown, debug: boolean): Promise<number> {
  const quiet = err instanceof CliError && err.quiet;
  if (!quiet) await writeStderr(`${describeError(err)}\n`);
  if (debug) await writeStderr(stackOf(err));
  return err instanceof CliError ? err.exitCode : EXIT_FAILURE;
}

async function main(argv: readonly string[]): Promise<number> {
  const end = argv.indexOf('--');
  const debug = (end === -1 ? argv : argv.slice(0, end)).includes('--debug');
  const interrupt = installInterrupt((error) => {
    process.stderr.write(`${describeError(error)}\n`);
  });
  try {
    // No arguments at all (npm start): the layer of a system directory, then an image of it.
    if (argv.length === 0) return await (await import('./commands/demo.js')).runDemo({ signal: interrupt.signal });
    const { entry, rest } = pick(argv);
    const command = await entry.load();
    const args = parseCommandArgs(command, rest);
    if (flag(args, 'help')) {
      await writeStdout(formatHelp(command, entry.summary));
      return 0;
    }
    return await command.run(args, { signal: interrupt.signal });
  } catch (err) {
    return report(interrupt.received() ?? err, debug);
  }
}

installStdio();
process.exit(await main(process.argv.slice(2)));
