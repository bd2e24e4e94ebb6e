// Every flag of every command has a line in docs/CLI.md: in that command's section, or in a section
// that names the command in its heading (the registry options, the pipeline outputs, progress). A
// flag added without a word in the reference fails here.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadCommands } from '../../src/cli/commands.js';

const DOC = readFileSync(new URL('../../../docs/CLI.md', import.meta.url), 'utf8');

/** The sections of docs/CLI.md by heading, each with its text. */
function sections(): { heading: string; text: string }[] {
  return DOC.split(/^## /m).slice(1).map((s) => ({ heading: s.slice(0, s.indexOf('\n')), text: s }));
}

describe('docs/CLI.md', () => {
  it('documents every flag of every command where a reader of that command looks', async () => {
    const all = sections();
    const missing: string[] = [];
    for (const command of await loadCommands()) {
      // A command's own section, and the shared ones whose heading lists it ("(image, push, pull, copy)").
      // `node` takes image's flags, and its section says so.
      const names = command.name === 'node' ? ['node', 'image'] : [command.name];
      const own = all.filter((s) => names.some((n) => s.heading.startsWith(`\`fastlayer ${n}`) || new RegExp(`[(,] ?${n}[,) ]`).test(s.heading) || (n === 'image' && /\bimage --push\b/.test(s.heading))));
      const flags = Object.keys(command.options ?? {}).filter((name) => !['help', 'json', 'quiet'].includes(name));
      if (flags.length === 0) continue;
      if (own.length === 0) {
        missing.push(`${command.name}: no section`);
        continue;
      }
      for (const name of flags) {
        if (!own.some((s) => s.text.includes(`--${name}`))) missing.push(`${command.name} --${name}`);
      }
    }
    assert.deepEqual(missing, []);
  });
});
