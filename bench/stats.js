// Small statistics and formatting helpers.
export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const fmt = (n, digits = 1) => (n === null || n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits));

/** Throughput with a precision that suits its size (12.3, 123, 1234). */
export const fmtRate = (n) => (n === null || n === undefined ? '-' : n >= 100 ? n.toFixed(0) : n.toFixed(1));
