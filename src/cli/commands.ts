// The table of subcommands. Adding one: write src/cli/commands/NAME.ts exporting a Command, list it here.
import type { Command } from './command.js';
import { helpCommand } from './commands/help.js';
import { layerCommand } from './commands/layer.js';
import { imageCommand } from './commands/image.js';
import { nodeCommand } from './commands/node.js';
import { pushCommand } from './commands/push.js';
import { pullCommand } from './commands/pull.js';
import { copyCommand } from './commands/copy.js';
import { inspectCommand } from './commands/inspect.js';
import { versionCommand } from './commands/version.js';

export const commands: readonly Command[] = [
  layerCommand,
  imageCommand,
  nodeCommand,
  pushCommand,
  pullCommand,
  copyCommand,
  inspectCommand,
  versionCommand,
  helpCommand(() => commands),
];

/** The command the bare form `fastlayer DIR|FILE|-` (and no arguments at all) runs. */
export const defaultCommand: Command = layerCommand;

export function findCommand(name: string): Command | undefined {
  return commands.find((c) => c.name === name);
}
