// RFC 3339 times, the one definition every time option shares (--created, the SBOM's created,
// --mtime). A time must name its zone (Z or an offset): Date.parse reads `2024-01-31T00:00:00` in
// the host's local time, so the same command gave another image digest under another TZ. A date
// alone is midnight UTC, the same in every TZ.

/** `YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm)`; RFC 3339 also allows `t`, `z` and a space for `T`. */
export const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** A date alone, RFC 3339's full-date: midnight UTC (Date.parse reads it so too, in every TZ). */
const FULL_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** What the errors of a refused time say it should be. */
export const RFC3339_EXPECTED = 'an RFC 3339 time with a zone (2024-01-31T00:00:00Z or +01:00), or a date (UTC midnight)';

/**
 * Milliseconds since the epoch of an RFC 3339 time or date (a date is midnight UTC), or NaN when
 * `text` is not one: a time without a zone (host local time: refused), or a field out of its range
 * (Date.parse moves 2024-02-31 to March 2). Fractions past milliseconds are cut, as Date.parse does.
 */
export function parseRfc3339(text: string): number {
  const day = FULL_DATE.exec(text);
  const m = day ? [text, day[1], day[2], day[3], '00', '00', '00', undefined, 'Z'] : RFC3339.exec(text);
  if (!m) return Number.NaN;
  const [year, month, dayOfMonth, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(1, 4).padEnd(3, '0'));
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
  date.setUTCFullYear(year, month - 1, dayOfMonth);
  date.setUTCHours(hour, minute, second, ms);
  const same = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === dayOfMonth
    && date.getUTCHours() === hour && date.getUTCMinutes() === minute && date.getUTCSeconds() === second;
  if (!same) return Number.NaN;
  if (m[8] !== undefined) return date.getTime();
  const offsetHours = Number(m[10]);
  const offsetMinutes = Number(m[11]);
  if (offsetHours > 23 || offsetMinutes > 59) return Number.NaN;
  const offset = (offsetHours * 60 + offsetMinutes) * 60000;
  return date.getTime() - (m[9] === '+' ? offset : -offset);
}
