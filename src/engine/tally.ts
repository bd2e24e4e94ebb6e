// What the js engines report besides their bytes: diffID (SHA-256 of the input), digest (SHA-256 of
// the output) and size, counted as the bytes pass so that no engine can compute them differently.
import { createHash } from 'node:crypto';
import type { EngineResult } from './engine.js';

export class Tally {
  private readonly hashIn = createHash('sha256');
  private readonly hashOut = createHash('sha256');
  private inBytes = 0;
  private outBytes = 0;

  /** Bytes consumed so far. */
  get inLength(): number {
    return this.inBytes;
  }

  input(chunk: Uint8Array): void {
    this.hashIn.update(chunk);
    this.inBytes += chunk.length;
  }

  output(out: Uint8Array): void {
    this.hashOut.update(out);
    this.outBytes += out.length;
  }

  /** Once, after the last output. */
  result(tail: Uint8Array): EngineResult {
    return { tail, digest: this.hashOut.digest('hex'), diffID: this.hashIn.digest('hex'), size: this.outBytes };
  }
}
