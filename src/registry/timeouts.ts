// Every HTTP exchange with a registry, its token server or a redirect target runs under two clocks: a
// headers timeout (the request sent, no response headers yet: a server that accepts the connection and
// says nothing) and an idle timeout (no body byte moved, in either direction, while one was waited for:
// a registry that stops reading an upload, a blob that stops arriving). Idle, not total: a big blob that
// keeps moving never times out. Expiry aborts the fetch with ErrRegistryTimeout, which the transport
// retries like a dropped connection.
import { ErrOptionRange } from '../core/errors.js';
import { ErrRegistry, ErrRegistryTimeout, ErrRegistryUnavailable, describeCause } from './errors.js';

/** Timeouts in ms; a number sets both. */
export interface RegistryTimeouts {
  /** From sending the request (its body, when one is streamed) to the response headers (default 30000). */
  headers?: number;
  /** Longest wait for the next body byte, sent or received (default 60000). */
  idle?: number;
}

export type TimeoutOption = number | RegistryTimeouts;

export const DEFAULT_HEADERS_TIMEOUT = 30_000;
export const DEFAULT_IDLE_TIMEOUT = 60_000;
/** setTimeout's own limit. */
const MAX_TIMEOUT = 2 ** 31 - 1;
/** A body held in memory is handed to the socket at once, so its sending cannot be watched: it is given one idle period per MiB. */
const MIB = 1024 * 1024;

const NULL_BODY = [101, 204, 205, 304];

export interface Timeouts {
  readonly headers: number;
  readonly idle: number;
}

function check(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1 || value > MAX_TIMEOUT) {
    throw new ErrOptionRange(name, `a number of milliseconds from 1 to ${MAX_TIMEOUT}`, value);
  }
  return value;
}

/** The timeouts of an options object's `timeout`, checked (ERR_OPTION_OUT_OF_RANGE). */
export function resolveTimeouts(option: TimeoutOption | undefined): Timeouts {
  if (typeof option === 'number' || option === undefined) {
    const both = check('timeout', option, NaN);
    return Number.isNaN(both) ? { headers: DEFAULT_HEADERS_TIMEOUT, idle: DEFAULT_IDLE_TIMEOUT } : { headers: both, idle: both };
  }
  if (option === null || typeof option !== 'object') throw new ErrOptionRange('timeout', 'a number of milliseconds or { headers, idle }', option);
  return { headers: check('timeout.headers', option.headers, DEFAULT_HEADERS_TIMEOUT), idle: check('timeout.idle', option.idle, DEFAULT_IDLE_TIMEOUT) };
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** One request's clock: at most one deadline armed at a time; expiry aborts the request. */
class Clock {
  readonly controller = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  /** The response headers arrived: the upload's clocks no longer apply (the body's do). */
  answered = false;
  constructor(private readonly what: string) {}

  arm(ms: number, why: string): void {
    this.disarm();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.controller.abort(new ErrRegistryTimeout(`${this.what}: ${why} within ${seconds(ms)}`));
    }, ms);
  }

  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** The timeout error when this clock fired. */
  get fired(): ErrRegistryTimeout | undefined {
    const r: unknown = this.controller.signal.reason;
    return r instanceof ErrRegistryTimeout ? r : undefined;
  }
}

/**
 * fetch under the two timeouts. `what` names the request in errors (method and redacted URL, which holds
 * the host). The response's body is wrapped: each read waits at most the idle timeout, and a failure
 * while reading (the connection dropped, a body shorter than its Content-Length) is ERR_REGISTRY_UNAVAILABLE.
 */
export async function timedFetch(url: URL, init: RequestInit & { duplex?: 'half' }, timeouts: Timeouts, what: string): Promise<Response> {
  const clock = new Clock(what);
  const caller = init.signal ?? undefined;
  const signal = caller ? AbortSignal.any([caller, clock.controller.signal]) : clock.controller.signal;
  const next: RequestInit & { duplex?: 'half' } = { ...init, signal };
  const body = init.body;
  const noHeaders = 'no response headers';
  if (body !== undefined && body !== null && typeof body === 'object' && Symbol.asyncIterator in body) {
    next.body = watchUpload(body as AsyncIterable<Uint8Array>, clock, timeouts) as unknown as RequestInit["body"];
    clock.arm(timeouts.headers, noHeaders);
  } else {
    const length = body instanceof Uint8Array ? body.byteLength : typeof body === 'string' ? Buffer.byteLength(body) : 0;
    clock.arm(timeouts.headers + Math.ceil(length / MIB) * timeouts.idle, noHeaders);
  }
  let res: Response;
  try {
    res = await fetch(url, next);
  } catch (err) {
    clock.disarm();
    // fetch rejects with the abort reason, or wraps it when the request body's reading saw it first.
    const cause = (err as { cause?: unknown } | null)?.cause;
    throw clock.fired ?? (cause instanceof ErrRegistryTimeout ? cause : err);
  }
  clock.disarm();
  clock.answered = true;
  // Responses that cannot have a body are returned as they are (a Response with one cannot be built).
  if (res.body === null || NULL_BODY.includes(res.status)) return res;
  return new Response(watchDownload(res.body, clock, timeouts, caller, what), { status: res.status, statusText: res.statusText, headers: res.headers });
}

/**
 * Times the gaps in which fetch holds a chunk of the request body and has not asked for the next one
 * (the socket is full: the registry stopped reading). Time spent producing the next chunk is ours and
 * not counted. After the last chunk the headers clock starts.
 */
async function* watchUpload(source: AsyncIterable<Uint8Array>, clock: Clock, timeouts: Timeouts): AsyncGenerator<Uint8Array> {
  if (!clock.answered) clock.disarm();
  for await (const chunk of source) {
    if (!clock.answered) clock.arm(timeouts.idle, 'the registry took none of the request body');
    yield chunk;
    if (!clock.answered) clock.disarm();
  }
  if (!clock.answered) clock.arm(timeouts.headers, 'no response headers after the request body');
}

/** The body, read on demand only (no read-ahead), each read bounded by the idle timeout. */
function watchDownload(body: ReadableStream<Uint8Array>, clock: Clock, timeouts: Timeouts, caller: AbortSignal | undefined, what: string): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        clock.arm(timeouts.idle, 'no byte of the response body');
        let step: Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]>>;
        try {
          step = await reader.read();
        } catch (err) {
          clock.disarm();
          const fired = clock.fired;
          if (fired) controller.error(fired);
          else if (caller?.aborted || err instanceof ErrRegistry) controller.error(err);
          else controller.error(new ErrRegistryUnavailable(`${what}: the response body failed: ${describeCause(err)}`, { cause: err }));
          return;
        }
        clock.disarm();
        if (step.done) controller.close();
        else controller.enqueue(step.value);
      },
      async cancel(reason) {
        clock.disarm();
        await reader.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}
