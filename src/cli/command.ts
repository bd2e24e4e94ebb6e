// What a subcommand is: a name, its help, its flags (node:util parseArgs, strict) and a run
// function. A new subcommand is one file exporting a Command, listed in commands.ts with its summary.
import { parseArgs } from 'node:util';
import { defaultMtime } from '../build/dir-layer.js';
import type { MtimePolicy } from '../tar/options.js';
import { ErrCliUsage } from './errors.js';
import { PROGRESS_CHOICES, ProgressBoard, progressMode } from './progress.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder for the value in help ('N', 'FILE|-'). */
  value?: string;
  help: string;
  /** Accepted but left out of help (old spellings kept working). */
  hidden?: boolean;
  /**
   * Boolean options only: the values `--name=VALUE` may give (buildx's `--progress=plain`); the bare
   * `--name` stays a flag. Args.values holds the VALUE string, or true.
   */
  choices?: readonly string[];
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;

export interface Args {
  values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  positionals: readonly string[];
}

export interface Context {
  /** Aborted by Ctrl-C (SIGINT), SIGTERM or SIGHUP: stop, remove partial outputs, write no tags. */
  readonly signal: AbortSignal;
}

export interface Command {
  /** As listed in commands.ts, which also holds its one-line summary. */
  readonly name: string;
  /** Synopsis after `fastlayer `, e.g. 'layer DIR|FILE|- [options]'. */
  readonly usage: string;
  /** Paragraphs shown by `fastlayer help NAME` between the synopsis and the options. */
  readonly description: string;
  readonly options: OptionTable;
  /** Returns the exit status; failures throw (CliError subclasses carry their status). */
  run(args: Args, context: Context): Promise<number>;
}

/** A line of the command table (commands.ts): the command's module is loaded only when it runs. */
export interface CommandEntry {
  readonly name: string;
  /** One line, for `fastlayer help` and the top of `fastlayer help NAME`. */
  readonly summary: string;
  load(): Promise<Command>;
}

/** Every command takes these. */
export const COMMON_OPTIONS: OptionTable = {
  help: { type: 'boolean', short: 'h', help: 'show this help and exit' },
  debug: { type: 'boolean', help: 'print the stack trace of an error' },
};

/** For commands that print results and may take long. */
export const REPORT_OPTIONS: OptionTable = {
  json: { type: 'boolean', help: 'print one JSON document on standard output, and nothing else there' },
  quiet: { type: 'boolean', short: 'q', help: 'no progress and no summary line on standard error' },
  progress: {
    type: 'boolean',
    choices: PROGRESS_CHOICES,
    help: 'show progress even when standard error is not a terminal (plain: a line when each blob starts and ends; default auto: redrawn on a terminal, plain when CI is set)',
  },
};

export function allOptions(command: Command): OptionTable {
  return { ...command.options, ...COMMON_OPTIONS };
}

/** Parses `argv` (after the command name) strictly: unknown flags and missing values are usage errors. */
export function parseCommandArgs(command: Command, argv: readonly string[]): Args {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(allOptions(command))) {
    options[name] = { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) };
  }
  const { args, chosen } = takeChoices(command, argv);
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: true });
    return { values: { ...values, ...chosen } as Args['values'], positionals };
  } catch (err) {
    // Node appends advice about '--' to some messages: the first sentence says it all.
    throw new ErrCliUsage((err as Error).message.split(/\.(?:\s|$)/)[0]!, command.name);
  }
}

/**
 * Takes `--name=VALUE` of the boolean options with `choices` out of `argv` (parseArgs would refuse a
 * value for a boolean), leaving a bare `--name` for parseArgs; the last one given wins, as parseArgs
 * does. Nothing after `--` is an option.
 */
function takeChoices(command: Command, argv: readonly string[]): { args: string[]; chosen: Record<string, string> } {
  const args: string[] = [];
  const chosen: Record<string, string> = {};
  let end = false;
  for (const arg of argv) {
    if (arg === '--') end = true;
    const m = end ? null : /^--([^=]+)=(.*)$/s.exec(arg);
    const spec = m ? allOptions(command)[m[1]!] : undefined;
    if (!m || spec?.type !== 'boolean' || spec.choices === undefined) {
      // A bare flag after `--name=VALUE` wins over it, as a later flag does.
      if (!end && arg.startsWith('--')) delete chosen[arg.slice(2)];
      args.push(arg);
      continue;
    }
    if (!spec.choices.includes(m[2]!)) throw new ErrCliUsage(`--${m[1]} must be one of ${spec.choices.join(', ')}, got "${m[2]}"`, command.name);
    args.push(`--${m[1]}`);
    chosen[m[1]!] = m[2]!;
  }
  return { args, chosen };
}

export function stringOption(args: Args, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function flag(args: Args, name: string): boolean {
  return args.values[name] === true;
}

export function listOption(args: Args, name: string): string[] {
  const v = args.values[name];
  return Array.isArray(v) ? v : [];
}

/** An integer flag within [min, max], or a usage error naming the flag. */
export function integerOption(args: Args, name: string, min: number, max: number, command: string): number | undefined {
  const v = stringOption(args, name);
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new ErrCliUsage(`--${name} must be an integer from ${min} to ${max}, got "${v}"`, command);
  }
  return Number(v);
}

/** One of `choices`, or a usage error listing them. */
export function choiceOption<T extends string>(args: Args, name: string, choices: readonly T[], command: string): T | undefined {
  const v = stringOption(args, name);
  if (v === undefined) return undefined;
  if (!(choices as readonly string[]).includes(v)) {
    throw new ErrCliUsage(`--${name} must be one of ${choices.join(', ')}, got "${v}"`, command);
  }
  return v as T;
}

/** The progress board on stderr that --quiet/--progress and the terminal ask for. */
/**
 * The directory layers' entry times when --mtime is absent (dir-layer.ts defaultMtime: clamp to
 * SOURCE_DATE_EPOCH, else 0). A SOURCE_DATE_EPOCH that is not a decimal integer is a usage error
 * (exit 2) before anything is read: it would otherwise give another digest than the one meant.
 */
export function defaultMtimeArg(command: string): MtimePolicy {
  try {
    return defaultMtime();
  } catch {
    throw new ErrCliUsage(`SOURCE_DATE_EPOCH must be a decimal integer of seconds since 1970, got "${process.env.SOURCE_DATE_EPOCH}"`, command);
  }
}

export function progressBoard(args: Args): ProgressBoard {
  const given = args.values['progress'];
  const mode = progressMode({ quiet: flag(args, 'quiet'), progress: typeof given === 'string' ? given : given === true }, process.stderr);
  return new ProgressBoard(process.stderr, mode);
}

function optionLine(name: string, spec: OptionSpec): [string, string] {
  const short = spec.short ? `-${spec.short}, ` : '    ';
  const value = spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : spec.choices ? `[=${spec.choices.join('|')}]` : '';
  return [`  ${short}--${name}${value}`, spec.help + (spec.multiple ? ' (repeatable)' : '')];
}

/** `fastlayer help NAME`: the synopsis, the summary line (commands.ts), the description, the options. */
export function formatHelp(command: Command, summary: string): string {
  const rows = Object.entries(allOptions(command)).filter(([, s]) => !s.hidden).map(([n, s]) => optionLine(n, s));
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  const options = rows.map(([left, right]) => `${left.padEnd(width)}${right}`).join('\n');
  return `usage: fastlayer ${command.usage}\n\n${summary}\n${command.description ? `\n${command.description}\n` : ''}\noptions:\n${options}\n`;
}
