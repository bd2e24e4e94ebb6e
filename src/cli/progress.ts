// Progress on stderr: one line per transfer (a layer, a blob being pushed or pulled), each with bytes
// done, throughput, and percent and ETA when the total is known. On a terminal the lines are redrawn
// in place at most 10 times a second, and each ends with a final state. Plain (a CI log, --progress on
// a non-terminal, --progress=plain): one line when a transfer starts and one when it ends, nothing in
// between, so a log grows by two lines per blob however long the transfer takes.
import { escapeControls, escapeLine } from './escape.js';

export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export type ProgressMode = 'tty' | 'plain' | 'off';

/** The values --progress=VALUE takes; a bare --progress means "show it": tty on a terminal, else plain. */
export const PROGRESS_CHOICES = ['auto', 'plain', 'tty', 'none'] as const;

/** CI=true, CI=1 (GitHub, GitLab, CircleCI...): set and not an explicit no. */
function inCI(env: NodeJS.ProcessEnv): boolean {
  const v = env['CI'];
  return v !== undefined && v !== '' && !/^(false|0|no)$/i.test(v);
}

/**
 * How progress is shown. `progress`: true for a bare --progress, else --progress=VALUE. The default
 * (auto) is redrawn lines on a terminal, plain lines on a non-terminal when CI is set (a CI log),
 * nothing otherwise (a script's redirected stderr). Never with --quiet.
 */
export function progressMode(options: { quiet?: boolean; progress?: boolean | string }, sink: ProgressSink, env: NodeJS.ProcessEnv = process.env): ProgressMode {
  if (options.quiet || options.progress === 'none') return 'off';
  if (options.progress === 'plain' || options.progress === 'tty') return options.progress;
  if (sink.isTTY) return 'tty';
  if (options.progress === true) return 'plain';
  return inCI(env) ? 'plain' : 'off';
}

export interface ProgressLine {
  /** Bytes done so far (absolute, not an increment). */
  update(done: number): void;
  /** The total, once known (a directory after its size scan); undefined hides percent and ETA. */
  setTotal(total: number | undefined): void;
  /** Marks the line finished with `done` bytes; it is drawn one last time. */
  finish(done?: number): void;
  /** Marks the line failed: drawn one last time with `note`. */
  fail(note: string): void;
  /** Marks the line done without a transfer (`note`: 'exists', 'mounted'): shown with its total. */
  skip(note: string): void;
}

interface State {
  label: string;
  done: number;
  total: number | undefined;
  started: number;
  ended: number | undefined;
  note: string | undefined;
  /** Nothing was transferred (the blob was there): no bytes, percent or speed to show. */
  skipped?: boolean;
}

const units = ['B', 'kB', 'MB', 'GB', 'TB'];

/**
 * `n` bytes for people: whole bytes under 1000 (a rate is a float: 305.84 B/s is `306 B`), else one
 * decimal of kB, MB... A value that rounds up to 1000 takes the next unit (999.6 is `1.0 kB`).
 */
export function formatBytes(n: number): string {
  const shown = (v: number, i: number): number => (i === 0 ? Math.round(v) : Number(v.toFixed(1)));
  let i = 0;
  let v = n;
  while (shown(v, i) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${shown(v, 0)} B` : `${v.toFixed(1)} ${units[i]}`;
}

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/** One line of text for a transfer at time `now` (ms). */
export function renderLine(s: State, now: number): string {
  if (s.skipped) return [s.label, ...(s.total === undefined ? [] : [formatBytes(s.total)]), s.note ?? 'skipped'].join('  ');
  const end = s.ended ?? now;
  const seconds = Math.max((end - s.started) / 1000, 1e-3);
  const rate = s.done / seconds;
  const parts = [s.label, s.total !== undefined ? `${formatBytes(s.done)} / ${formatBytes(s.total)}` : formatBytes(s.done)];
  if (s.total !== undefined && s.total > 0) {
    // An estimated total (directories) can be passed: stay below 100% until actually finished.
    const pct = Math.floor((100 * s.done) / s.total);
    parts.push(`${s.ended !== undefined && s.note === undefined ? 100 : Math.min(pct, 99)}%`);
  }
  parts.push(`${formatBytes(rate)}/s`);
  if (s.note !== undefined) parts.push(s.note);
  else if (s.ended !== undefined) parts.push(`done in ${seconds.toFixed(1)} s`);
  else if (s.total !== undefined && rate > 0 && s.done > 0) parts.push(`ETA ${formatDuration(Math.max(s.total - s.done, 0) / rate)}`);
  return parts.join('  ');
}

/** Plain mode: the line when a transfer starts. */
export function startLine(s: State): string {
  return [s.label, 'started', ...(s.total === undefined ? [] : [formatBytes(s.total)])].join('  ');
}

/** Plain mode: the line when a transfer ends: done with size and speed, failed, or skipped. */
export function endLine(s: State): string {
  if (s.skipped) return renderLine(s, s.ended ?? s.started);
  const seconds = Math.max(((s.ended ?? s.started) - s.started) / 1000, 1e-3);
  if (s.note !== undefined) return [s.label, s.note, `${formatBytes(s.done)}${s.total === undefined ? '' : ` of ${formatBytes(s.total)}`}`].join('  ');
  return [s.label, 'done', formatBytes(s.done), `${formatBytes(s.done / seconds)}/s`, `${seconds.toFixed(1)} s`].join('  ');
}

const TTY_INTERVAL_MS = 100;
const CLEAR_LINE = '\x1b[K';

export class ProgressBoard {
  readonly #sink: ProgressSink;
  readonly #mode: ProgressMode;
  readonly #now: () => number;
  readonly #lines: State[] = [];
  /** Lines currently on screen (tty mode), to move the cursor back over them. */
  #drawn = 0;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(sink: ProgressSink, mode: ProgressMode, now: () => number = () => performance.now()) {
    this.#sink = sink;
    this.#mode = mode;
    this.#now = now;
  }

  get enabled(): boolean {
    return this.#mode !== 'off';
  }

  addLine(label: string, total?: number): ProgressLine {
    const state: State = { label: escapeControls(label), done: 0, total, started: this.#now(), ended: undefined, note: undefined };
    if (this.#mode === 'off' || this.#closed) return { update() {}, setTotal() {}, finish() {}, fail() {}, skip() {} };
    const plain = this.#mode === 'plain';
    // Plain lines are kept too: close() reports the ones that never ended (a failed push).
    this.#lines.push(state);
    if (plain) this.#sink.write(`${startLine(state)}\n`);
    else {
      this.#draw();
      this.#start();
    }
    const change = (): void => {
      this.#dirty = true;
    };
    const end = (): void => {
      if (plain) this.#sink.write(`${endLine(state)}\n`);
      else this.#draw();
    };
    return {
      update: (done) => {
        if (state.ended === undefined) state.done = done;
        change();
      },
      setTotal: (total) => {
        if (state.ended !== undefined) return;
        state.total = total;
        change();
      },
      finish: (done) => {
        if (state.ended !== undefined) return;
        if (done !== undefined) state.done = done;
        state.ended = this.#now();
        end();
      },
      fail: (note) => {
        if (state.ended !== undefined) return;
        state.ended = this.#now();
        state.note = note;
        end();
      },
      skip: (note) => {
        if (state.ended !== undefined) return;
        state.ended = this.#now();
        state.note = note;
        state.skipped = true;
        end();
      },
    };
  }

  /** A transfer that did not happen (the blob was there already): one line, 'LABEL  SIZE  NOTE'. */
  addSkipped(label: string, total: number | undefined, note: string): void {
    if (this.#mode === 'off' || this.#closed) return;
    const state: State = { label: escapeControls(label), done: 0, total, started: this.#now(), ended: this.#now(), note, skipped: true };
    if (this.#mode === 'plain') {
      this.#sink.write(`${renderLine(state, state.ended!)}\n`);
      return;
    }
    this.#lines.push(state);
    this.#draw();
  }

  /** Prints a message above the progress lines without breaking them. */
  log(message: string): void {
    // Messages hold file names and registry text: escaped here, once, for every caller.
    const text = escapeLine(message);
    if (this.#mode !== 'tty' || this.#drawn === 0) {
      this.#sink.write(text);
      return;
    }
    this.#sink.write(`${this.#cursorToTop()}${CLEAR_LINE}${text}`);
    this.#drawn = 0;
    this.#draw();
  }

  /** Stops redrawing; finished lines stay on screen, unfinished ones are drawn a last time. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#mode === 'plain') {
      for (const state of this.#lines) {
        if (state.ended !== undefined) continue;
        state.ended = this.#now();
        state.note = 'unfinished';
        this.#sink.write(`${endLine(state)}\n`);
      }
    }
    if (this.#mode !== 'tty') return;
    if (this.#dirty) this.#draw();
    if (this.#mode === 'tty' && this.#drawn > 0) this.#sink.write('\n');
  }

  #start(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setInterval(() => {
      if (this.#dirty) this.#draw();
    }, TTY_INTERVAL_MS);
    this.#timer.unref();
  }

  #cursorToTop(): string {
    return this.#drawn > 1 ? `\r\x1b[${this.#drawn - 1}A` : '\r';
  }

  #draw(): void {
    if (this.#mode !== 'tty') return;
    this.#dirty = false;
    const now = this.#now();
    // A pseudo-terminal without a size reports 0 columns.
    const width = Math.max((this.#sink.columns || 80) - 1, 20);
    const text = this.#lines.map((s) => `${renderLine(s, now).slice(0, width)}${CLEAR_LINE}`).join('\n');
    this.#sink.write(`${this.#drawn > 0 ? this.#cursorToTop() : ''}${text}`);
    this.#drawn = this.#lines.length;
  }
}
