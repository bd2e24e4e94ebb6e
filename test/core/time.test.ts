import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseRfc3339 } from '../../src/core/time.js';

describe('parseRfc3339', () => {
  it('Z, an offset, t/z and a space, fractions cut to milliseconds, years before 100', () => {
    assert.equal(parseRfc3339('2024-01-31T00:00:00Z'), Date.UTC(2024, 0, 31));
    assert.equal(parseRfc3339('2024-01-31T01:30:00+01:30'), Date.UTC(2024, 0, 31));
    assert.equal(parseRfc3339('2024-01-30T19:00:00-05:00'), Date.UTC(2024, 0, 31));
    assert.equal(parseRfc3339('2024-01-31t00:00:00z'), Date.UTC(2024, 0, 31));
    assert.equal(parseRfc3339('2024-01-31 00:00:00Z'), Date.UTC(2024, 0, 31));
    assert.equal(parseRfc3339('2024-01-31T00:00:00.1234567Z'), Date.UTC(2024, 0, 31, 0, 0, 0, 123));
    assert.equal(parseRfc3339('2024-01-31T00:00:00.5Z'), Date.UTC(2024, 0, 31, 0, 0, 0, 500));
    assert.equal(new Date(parseRfc3339('0050-06-01T00:00:00Z')).toISOString(), '0050-06-01T00:00:00.000Z');
  });

  it('hazard: a time without a zone (host local time to Date.parse: a digest per TZ) is NaN', () => {
    for (const text of ['2024-01-31T00:00:00', '2024-01-31T00:00', '2024-01-31T00:00:00.000']) {
      assert.ok(Number.isNaN(parseRfc3339(text)), text);
    }
    // A date alone names no time of day: midnight UTC, in every TZ (as layer --mtime took it before).
    assert.equal(parseRfc3339('2024-01-31'), Date.UTC(2024, 0, 31));
    assert.ok(Number.isNaN(parseRfc3339('2024-02-30')), 'a date that does not exist');
  });

  it('hazard: a field out of range (Date.parse moves Feb 31 to March) is NaN', () => {
    for (const text of ['2024-02-31T00:00:00Z', '2023-02-29T00:00:00Z', '2024-13-01T00:00:00Z', '2024-01-31T24:00:00Z',
      '2024-01-31T00:60:00Z', '2024-01-31T00:00:60Z', '2024-01-31T00:00:00+24:00', '2024-01-31T00:00:00+01:60', 'yesterday', '']) {
      assert.ok(Number.isNaN(parseRfc3339(text)), text);
    }
    assert.equal(parseRfc3339('2024-02-29T00:00:00Z'), Date.UTC(2024, 1, 29), 'a leap day is a day');
  });
});
