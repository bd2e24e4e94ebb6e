// One base for every error fastlayer raises: `instanceof FastlayerError` and a stable `code`, while
// argument errors stay TypeErrors and RangeErrors as Node's own are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as api from '../../src/index.js';
import { ErrCliUsage } from '../../src/cli/errors.js';
import { ErrLayoutInvalid } from '../../src/layout/store.js';

const { FastlayerError, FastlayerTypeError, FastlayerRangeError } = api;
const exported = Object.entries(api).filter(([name, v]) => /^Err[A-Z]/.test(name) && typeof v === 'function') as [string, new (...a: never[]) => Error][];

test('every exported error class is a FastlayerError', () => {
  assert.ok(exported.length >= 30, `found ${exported.length} error classes`);
  const outside = exported.filter(([, C]) => !(Object.create(C.prototype) instanceof FastlayerError)).map(([n]) => n);
  assert.deepEqual(outside, []);
  for (const C of [ErrCliUsage, ErrLayoutInvalid]) assert.ok(Object.create(C.prototype) instanceof FastlayerError, C.name);
});

test('real instances: codes, names, and the built-in class each argument error keeps', () => {
  const option = new api.ErrInvalidOption('threads', 'an integer', 'x');
  assert.ok(option instanceof FastlayerError && option instanceof FastlayerTypeError && option instanceof TypeError);
  assert.equal(option.code, 'ERR_INVALID_OPTION');
  const range = new api.ErrOptionRange('threads', 'from 1 to 64', 99);
  assert.ok(range instanceof FastlayerError && range instanceof FastlayerRangeError && range instanceof RangeError);
  const digest = new api.ErrDigestMismatch('sha256:a', 'sha256:b');
  assert.ok(digest instanceof FastlayerError && digest instanceof Error && !(digest instanceof TypeError));
  assert.equal(digest.code, 'ERR_DIGEST_MISMATCH');
  const usage = new ErrCliUsage('bad flag');
  assert.ok(usage instanceof FastlayerError);
});

test('the brand does not leak: other errors are not FastlayerErrors, and subclasses check their own chain', () => {
  assert.equal(new Error('x') instanceof FastlayerError, false);
  assert.equal(new TypeError('x') instanceof FastlayerError, false);
  assert.equal(Object.assign(new Error('x'), { code: 'ERR_INVALID_OPTION' }) instanceof FastlayerError, false);
  assert.equal((null as unknown as object) instanceof FastlayerError, false);
  assert.equal(('ErrLayout' as unknown as object) instanceof FastlayerError, false);
  const layout = new api.ErrLayout('broken');
  assert.equal(layout instanceof api.ErrDigestMismatch, false, 'a subclass keeps the prototype-chain check');
  assert.equal(layout instanceof api.ErrLayout, true);
  assert.equal(new api.ErrInvalidOption('a', 'b', 1) instanceof api.ErrOptionRange, false);
});
