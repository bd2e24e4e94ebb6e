import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Hash } from '../../src/core/hash.js';
import { ErrInvalidHash } from '../../src/core/errors.js';

const HEX = '27dd1f61b867b6a0f6e9d8a41c43231de52107e53ae424de8f847b821db4b711';

describe('Hash', () => {
  it('parses, prints and serialises sha256:<hex>', () => {
    const h = Hash.parse(`sha256:${HEX}`);
    assert.equal(h.algorithm, 'sha256');
    assert.equal(h.hex, HEX);
    assert.equal(h.toString(), `sha256:${HEX}`);
    assert.equal(`${h}`, `sha256:${HEX}`);
    assert.equal(JSON.stringify({ digest: h }), `{"digest":"sha256:${HEX}"}`);
    assert.ok(Object.isFrozen(h));
  });

  it('compares by value', () => {
    assert.ok(Hash.parse(`sha256:${HEX}`).equals(new Hash('sha256', HEX)));
    assert.ok(!Hash.parse(`sha256:${HEX}`).equals(new Hash('sha256', HEX.replace('2', '3'))));
    assert.ok(!Hash.parse(`sha256:${HEX}`).equals(`sha256:${HEX}`));
  });

  for (const bad of [
    '', HEX, `sha256:${HEX.slice(1)}`, `sha256:${HEX}0`, `sha256:${HEX.toUpperCase()}`,
    `sha512:${HEX}`, `sha256:${HEX.slice(1)}g`, `SHA256:${HEX}`, ` sha256:${HEX}`,
  ]) {
    it(`rejects ${JSON.stringify(bad.slice(0, 20))}… with ErrInvalidHash`, () => {
      assert.throws(() => Hash.parse(bad), (err: unknown) =>
        err instanceof ErrInvalidHash && err instanceof TypeError && err.code === 'ERR_INVALID_HASH');
    });
  }

  it('rejects non-strings', () => {
    assert.throws(() => Hash.parse(42 as unknown as string), ErrInvalidHash);
    assert.throws(() => new Hash('sha256', null as unknown as string), ErrInvalidHash);
  });
});
