// `fastlayer help [COMMAND]` (also `fastlayer --help`, `fastlayer COMMAND --help`).
import { formatHelp, type Args, type Command, type CommandEntry } from '../command.js';
import { ErrCliUsage } from '../errors.js';
import { writeStdout } from '../stdio.js';

/** The overview: every command with its summary, and the exit statuses. */
export function overview(commands: readonly CommandEntry[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  const list = commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n');
  return [
    'usage: fastlayer COMMAND [options]',
    '       fastlayer DIR|FILE|- [options]   (same as fastlayer layer ...)',
    '',
    'commands:',
    list,
    '',
    "Run 'fastlayer help COMMAND' for the options of a command.",
    'Exit status: 0 success, 1 failure, 2 usage error, 130 interrupted (Ctrl-C).',
    '',
  ].join('\n');
}

/** The table is passed in, not imported: commands.ts loads this module. */
export function helpCommand(commands: readonly CommandEntry[]): Command {
  return {
    name: 'help',
    usage: 'help [COMMAND]',
    description: '',
    options: {},
    async run(args: Args) {
      if (args.positionals.length > 1) throw new ErrCliUsage(`help takes one command name, got ${args.positionals.join(' ')}`, 'help');
      const name = args.positionals[0];
      if (name === undefined) {
        await writeStdout(overview(commands));
        return 0;
      }
      const entry = commands.find((c) => c.name === name);
      if (!entry) throw new ErrCliUsage(`unknown command "${name}" (commands: ${commands.map((c) => c.name).join(', ')})`, 'help');
      await writeStdout(formatHelp(await entry.load(), entry.summary));
      return 0;
    },
  };
}
