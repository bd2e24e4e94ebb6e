// The table of subcommands. Adding one: write src/cli/NAME.ts exporting a Command, list it here.
import type { Command } from './command.js';
import { helpCommand } from './help.js';
import { layerCommand } from './layer.js';
import { imageCommand } from './image.js';
import { pushCommand } from './push.js';
import { pullCommand } from './pull.js';
import { inspectCommand } from './inspect.js';
import { versionCommand } from './version.js';

export const commands: readonly Command[] = [
  layerCommand,
  imageCommand,
  pushCommand,
  pullCommand,
  inspectCommand,
  versionCommand,
  helpCommand(() => commands),
];

/** The command the bare form `fastlayer DIR|FILE|-` (and no arguments at all) runs. */
export const defaultCommand: Command = layerCommand;

export function findCommand(name: string): Command | undefined {
  return commands.find((c) => c.name === name);
}
