// The table of subcommands: a name, the line `fastlayer help` shows, and how to load the command.
// A command's module (and the library it imports) is loaded only when that command runs or its help
// is asked for: loading every command took about 0.15 s of each start-up, twice what `layer` needs.
// Adding one: write src/cli/commands/NAME.ts exporting a Command, list it here.
import type { Command, CommandEntry } from './command.js';

export const commands: readonly CommandEntry[] = [
  {
    name: 'layer',
    summary: 'Make one layer of a directory, a file or standard input, and print its descriptor.',
    load: async () => (await import('./commands/layer.js')).layerCommand,
  },
  {
    name: 'image',
    summary: 'Build an image of directories (on an optional base) into an archive, an OCI layout or a registry.',
    load: async () => (await import('./commands/image.js')).imageCommand,
  },
  {
    name: 'node',
    summary: 'Build the image of a Node project: its dependencies in one layer, its code in the next.',
    load: async () => (await import('./commands/node.js')).nodeCommand,
  },
  {
    name: 'push',
    summary: 'Push an OCI layout directory or an image archive to a registry.',
    load: async () => (await import('./commands/push.js')).pushCommand,
  },
  {
    name: 'pull',
    summary: 'Pull an image from a registry into an image archive or an OCI layout.',
    load: async () => (await import('./commands/pull.js')).pullCommand,
  },
  {
    name: 'copy',
    summary: 'Copy an image or index between registries, OCI layouts and archives.',
    load: async () => (await import('./commands/copy.js')).copyCommand,
  },
  {
    name: 'inspect',
    summary: 'Show the manifest, config and layers of an image archive, an OCI layout or a registry image.',
    load: async () => (await import('./commands/inspect.js')).inspectCommand,
  },
  {
    name: 'version',
    summary: 'Print the version of fastlayer, of Node, and of each engine and its parts.',
    load: async () => (await import('./commands/version.js')).versionCommand,
  },
  {
    name: 'help',
    summary: 'Show the commands, or the options of one command.',
    load: async () => (await import('./commands/help.js')).helpCommand(commands),
  },
];

/** The command the bare form `fastlayer DIR|FILE|-` (and no arguments at all) runs. */
export const defaultCommand = 'layer';

export function findCommand(name: string): CommandEntry | undefined {
  return commands.find((c) => c.name === name);
}

/** Every command loaded (the docs test reads all their flags). */
export function loadCommands(): Promise<Command[]> {
  return Promise.all(commands.map((c) => c.load()));
}
