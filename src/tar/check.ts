// Checks a tar stream as it passes, without holding its data: every header goes through header.ts's
// decoder (PAX and GNU long names applied as readTar applies them), every name and link target
// through readTar's checkEntry, and the stream must end with its end-of-archive block followed by
// nothing but zeros. A tar made by another tool is hostile input until this says otherwise; used for
// tar files that become layers as they are (`--layer FILE.tar`), where one pass both checks and hashes.
import { ErrTarInvalid } from './errors.js';
import { BLOCK, MAX_EXTENDED, absorb, applyPending, decodeHeader, hasPending, isExtended, isZeroBlock, type Pending } from './header.js';
import { checkEntry, entryType, type ReadTarOptions } from './reader.js';

const padded = (n: number): number => Math.ceil(n / BLOCK) * BLOCK;

type State =
  | { kind: 'header' }
  | { kind: 'extended'; type: string; size: number; at: number }
  | { kind: 'data'; left: number }
  | { kind: 'trailer' };

/** Incremental checker: write() each chunk in order, then end(). Both throw ErrTarInvalid / ErrTarUnsafeEntry. */
export class TarCheck {
  #state: State = { kind: 'header' };
  /** Bytes of a header or extended header gathered so far (a block may span chunks). */
  #held: Buffer[] = [];
  #heldBytes = 0;
  #offset = 0;
  #entries = 0;
  readonly #pending: Pending = {};

  /** `what` names the stream in messages (a path); options as readTar takes them. */
  constructor(private readonly what: string, private readonly options: ReadTarOptions = {}) {}

  #fail(message: string, cause?: unknown): never {
    throw new ErrTarInvalid(`${this.what}: ${message}`, cause);
  }

  /** Gathers `want` bytes from `chunk` at `pos`; returns them once complete, with the new position. */
  #gather(chunk: Buffer, pos: number, want: number): [Buffer | undefined, number] {
    const take = Math.min(want - this.#heldBytes, chunk.length - pos);
    // Copied: a source may reuse its chunk's memory once it is handed on.
    this.#held.push(Buffer.from(chunk.subarray(pos, pos + take)));
    this.#heldBytes += take;
    if (this.#heldBytes < want) return [undefined, pos + take];
    const all = this.#held.length === 1 ? this.#held[0]! : Buffer.concat(this.#held, want);
    this.#held = [];
    this.#heldBytes = 0;
    return [all, pos + take];
  }

  #header(block: Buffer, at: number): void {
    if (isZeroBlock(block)) {
      if (hasPending(this.#pending)) this.#fail('an extended header at the end of the archive has no entry');
      this.#state = { kind: 'trailer' };
      return;
    }
    let raw;
    try {
      raw = decodeHeader(block);
    } catch (err) {
      // The first block decides whether this is a tar at all: say so in words a user recognises.
      if (at === 0) this.#fail(`not a tar archive (its first block has ${(err as Error).message})`, err);
      this.#fail(`the tar header at byte ${at} has ${(err as Error).message}`, err);
    }
    if (isExtended(raw.type)) {
      if (raw.size > MAX_EXTENDED) this.#fail(`the extended header at byte ${at} is over ${MAX_EXTENDED} bytes`);
      this.#state = { kind: 'extended', type: raw.type, size: raw.size, at };
      return;
    }
    const h = applyPending(this.#pending, raw);
    checkEntry({ name: h.name, type: entryType(h), linkname: h.linkname }, this.options);
    this.#entries++;
    this.#state = { kind: 'data', left: padded(h.size) };
  }

  write(data: Uint8Array): void {
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    let pos = 0;
    while (pos < chunk.length) {
      const s = this.#state;
      if (s.kind === 'data') {
        const skip = Math.min(s.left, chunk.length - pos);
        s.left -= skip;
        pos += skip;
        if (s.left === 0) this.#state = { kind: 'header' };
      } else if (s.kind === 'trailer') {
        for (; pos < chunk.length; pos++) {
          if (chunk[pos] !== 0) this.#fail(`data after the end-of-archive block, at byte ${this.#offset + pos} (not one tar archive)`);
        }
      } else if (s.kind === 'header') {
        const [block, next] = this.#gather(chunk, pos, BLOCK);
        pos = next;
        if (block) this.#header(block, this.#offset + pos - BLOCK);
      } else {
        const [data, next] = this.#gather(chunk, pos, padded(s.size));
        pos = next;
        if (data) {
          absorb(this.#pending, s.type, data.subarray(0, s.size));
          this.#state = { kind: 'header' };
        }
      }
    }
    this.#offset += chunk.length;
  }

  /** The stream ended: throws unless it ended after its end-of-archive block. Returns the entry count. */
  end(): number {
    const s = this.#state;
    if (s.kind === 'trailer') return this.#entries;
    if (this.#offset === 0) this.#fail('empty: not a tar archive');
    if (s.kind === 'header' && this.#heldBytes === 0) this.#fail(`ends after ${this.#offset} bytes without its end-of-archive block (truncated?)`);
    this.#fail(`ends inside ${s.kind === 'data' ? 'an entry' : 'a header'}, after ${this.#offset} bytes (truncated?)`);
  }
}

/** Passes `source` through, each chunk checked before it is handed on; throws at the first fault. */
export async function* checkedTar(source: AsyncIterable<Uint8Array>, what: string, options?: ReadTarOptions): AsyncGenerator<Uint8Array> {
  const check = new TarCheck(what, options);
  for await (const chunk of source) {
    check.write(chunk);
    yield chunk;
  }
  check.end();
}
