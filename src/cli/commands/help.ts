// `fastlayer help [COMMAND]` (also `fastlayer --help`, `fastlayer COMMAND --help`).
import { formatHelp, type Args, type Command } from '../command.js';
import { ErrCliUsage } from '../errors.js';
import { writeStdout } from '../stdio.js';

/** The overview: every command with its summary, and the exit statuses. */
export function overview(commands: readonly Command[]): string {
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

export function helpCommand(commands: () => readonly Command[]): Command {
  return {
    name: 'help',
    summary: 'Show the commands, or the options of one command.',
    usage: 'help [COMMAND]',
    description: '',
    options: {},
    async run(args: Args) {
      const all = commands();
      if (args.positionals.length > 1) throw new ErrCliUsage(`help takes one command name, got ${args.positionals.join(' ')}`, 'help');
      const name = args.positionals[0];
      if (name === undefined) {
        await writeStdout(overview(all));
        return 0;
      }
      const command = all.find((c) => c.name === name);
      if (!command) throw new ErrCliUsage(`unknown command "${name}" (commands: ${all.map((c) => c.name).join(', ')})`, 'help');
      await writeStdout(formatHelp(command));
      return 0;
    },
  };
}
