// Progress on stderr: one line per transfer (a layer, a blob being pushed or pulled), each with bytes
// done, throughput, and percent and ETA when the total is known. On a terminal the lines are redrawn
// in place at most 10 times a second; forced on a non-terminal (--progress), a plain line is printed
// at most once a second per board. Every line ends with a final state when finished.
import { escapeControls, escapeLine } from './escape.js';

export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export type ProgressMode = 'tty' | 'lines' | 'off';

/** How progress is shown: on a terminal stderr, or when forced; never with --quiet. */
export function progressMode(options: { quiet?: boolean; progress?: boolean }, sink: ProgressSink): ProgressMode {
  if (options.quiet) return 'off';
  if (sink.isTTY) return 'tty';
  return options.progress ? 'lines' : 'off';
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
}

interface State {
  label: string;
  done: number;
  total: number | undefined;
  started: number;
  ended: number | undefined;
  note: string | undefined;
}

const units = ['B', 'kB', 'MB', 'GB', 'TB'];

export function formatBytes(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
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

const TTY_INTERVAL_MS = 100;
const LINES_INTERVAL_MS = 1000;
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
    if (this.#mode === 'off' || this.#closed) return { update() {}, setTotal() {}, finish() {}, fail() {} };
    this.#lines.push(state);
    this.#draw();
    this.#start();
    const change = (): void => {
      this.#dirty = true;
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
        this.#draw();
      },
      fail: (note) => {
        if (state.ended !== undefined) return;
        state.ended = this.#now();
        state.note = note;
        this.#draw();
      },
    };
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
    if (this.#mode === 'off') return;
    if (this.#dirty) this.#draw();
    if (this.#mode === 'tty' && this.#drawn > 0) this.#sink.write('\n');
  }

  #start(): void {
    if (this.#timer || this.#closed) return;
    const interval = this.#mode === 'tty' ? TTY_INTERVAL_MS : LINES_INTERVAL_MS;
    this.#timer = setInterval(() => {
      if (this.#dirty) this.#draw();
    }, interval);
    this.#timer.unref();
  }

  #cursorToTop(): string {
    return this.#drawn > 1 ? `\r\x1b[${this.#drawn - 1}A` : '\r';
  }

  #draw(): void {
    if (this.#closed && this.#mode === 'off') return;
    this.#dirty = false;
    const now = this.#now();
    // A pseudo-terminal without a size reports 0 columns.
    const width = Math.max((this.#sink.columns || 80) - 1, 20);
    if (this.#mode === 'lines') {
      this.#sink.write(this.#lines.map((s) => `${renderLine(s, now)}\n`).join(''));
      return;
    }
    const text = this.#lines.map((s) => `${renderLine(s, now).slice(0, width)}${CLEAR_LINE}`).join('\n');
    this.#sink.write(`${this.#drawn > 0 ? this.#cursorToTop() : ''}${text}`);
    this.#drawn = this.#lines.length;
  }
}
