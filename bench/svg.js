// Renders the throughput chart (bench/results/throughput.svg) from a results report: one panel per
// corpus, one group of horizontal bars per level, one bar per pipeline, min-max whiskers, and dashed
// markers at the naive Node pipeline (today) and the C baseline (the practical limit).
import { ENGINE_LABELS, levelLabel } from './labels.js';
import { fmtRate } from './stats.js';

const COLORS = {
  c: '#4a4a4a', cthreads: '#9a9a9a', native: '#1f6fb4', native1: '#2ca25f', stream: '#6a51a3', js: '#8fbfe0',
  naive: '#d0412f', pigz: '#c9a227',
};
const ORDER = ['c', 'cthreads', 'native', 'native1', 'stream', 'js', 'naive', 'pigz'];
const WIDTH = 980;
const LEFT = 120;
const RIGHT = 240;
const BAR = 13;
const GAP = 3;
const GROUP_GAP = 12;

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

function niceStep(max) {
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
}

export function renderSvg(report) {
  const parts = [];
  let y = 0;
  const text = (x, yy, s, attrs = '') => parts.push(`<text x="${x}" y="${yy}" ${attrs}>${esc(s)}</text>`);
  const m = report.machine;
  text(16, (y += 26), 'fastlayer throughput: MB/s of input (10^6 bytes/s), higher is better', 'font-size="17" font-weight="bold"');
  text(16, (y += 20), `${m.cpu}, ${m.cpus} vCPUs, ${m.os}, Node ${m.node}; ${report.date.slice(0, 10)}; ` +
    `${report.quick ? 'quick run (1 run, small corpora)' : `median of ${report.runs} runs, whiskers min-max`}`, 'font-size="12" fill="#444"');
  // Legend.
  y += 14;
  let x = 16;
  const engines = ORDER.filter((e) => report.results.some((r) => r.engine === e));
  for (const e of engines) {
    const label = e === 'c' ? `${ENGINE_LABELS.c} (practical limit)` : e === 'naive' ? `${ENGINE_LABELS.naive} (today)` : ENGINE_LABELS[e];
    // A legend entry that would run past the right edge starts a new line.
    if (x > 16 && x + 30 + label.length * 6.6 > WIDTH) {
      x = 16;
      y += 18;
    }
    parts.push(`<rect x="${x}" y="${y}" width="12" height="12" fill="${COLORS[e]}"/>`);
    text(x + 17, y + 10, label, 'font-size="12"');
    x += 30 + label.length * 6.6;
  }
  y += 22;

  for (const corpus of report.corpora) {
    const rows = report.results.filter((r) => r.corpus === corpus.name);
    if (rows.length === 0) continue;
    const levels = [...new Set(rows.map((r) => r.level))];
    // The scale fits the compressing levels (1-9); level 0 and 'none' run at memory/hash speed, many
    // times faster, and would flatten every other bar. Bars beyond the scale are drawn broken.
    const compressing = rows.filter((r) => typeof r.level === 'number' && r.level > 0);
    const fitted = Math.max(...(compressing.length ? compressing : rows).map((r) => r.mbps.max));
    const overall = Math.max(...rows.map((r) => r.mbps.max));
    const max = overall > fitted * 1.3 ? fitted * 1.3 : overall;
    const step = niceStep(max);
    const top = Math.ceil(max / step) * step;
    const plotWidth = WIDTH - LEFT - RIGHT;
    const scale = (v) => LEFT + (Math.min(v, top * 1.04) / top) * plotWidth;
    y += 18;
    text(16, y, `${corpus.name}: ${(corpus.bytes / 1e6).toFixed(0)} MB, ${corpus.description}`, 'font-size="14" font-weight="bold"');
    y += 10;
    const panelTop = y;
    const groupHeights = levels.map((level) => rows.filter((r) => r.level === level).length * (BAR + GAP) - GAP);
    const panelHeight = groupHeights.reduce((a, b) => a + b + GROUP_GAP, GROUP_GAP);
    for (let v = 0; v <= top + 1e-9; v += step) {
      parts.push(`<line x1="${scale(v)}" y1="${panelTop}" x2="${scale(v)}" y2="${panelTop + panelHeight}" stroke="#e3e3e3"/>`);
      text(scale(v), panelTop + panelHeight + 13, step >= 1 ? v.toFixed(0) : fmtRate(v), 'font-size="11" fill="#666" text-anchor="middle"');
    }
    y += GROUP_GAP;
    levels.forEach((level, i) => {
      const group = ORDER.map((e) => rows.find((r) => r.engine === e && r.level === level)).filter(Boolean);
      text(LEFT - 10, y + groupHeights[i] / 2 + 4, level === 'none' ? "'none'" : `level ${levelLabel(level)}`, 'font-size="12" text-anchor="end"');
      const groupTop = y;
      for (const r of group) {
        const w = Math.max(1, scale(r.mbps.median) - LEFT);
        parts.push(`<rect x="${LEFT}" y="${y}" width="${w.toFixed(1)}" height="${BAR}" fill="${COLORS[r.engine]}"><title>${esc(`${r.label} level ${levelLabel(r.level)}: ${fmtRate(r.mbps.median)} MB/s`)}</title></rect>`);
        if (r.mbps.median > top) {
          const bx = scale(top) - 2;
          parts.push(`<path d="M${bx} ${y + BAR + 1}l4 ${-BAR - 2}M${bx + 5} ${y + BAR + 1}l4 ${-BAR - 2}" stroke="#fff" stroke-width="2.5"/>`);
        } else if (r.mbps.max > r.mbps.min) {
          const cy = y + BAR / 2;
          parts.push(`<path d="M${scale(r.mbps.min).toFixed(1)} ${cy}H${scale(r.mbps.max).toFixed(1)}M${scale(r.mbps.min).toFixed(1)} ${cy - 3}v6M${scale(r.mbps.max).toFixed(1)} ${cy - 3}v6" stroke="#222" fill="none"/>`);
        }
        let note = `${r.mbps.median > top ? 'off scale: ' : ''}${fmtRate(r.mbps.median)} MB/s`;
        if (r.engine !== 'naive' && r.vsNaive) note += ` (${r.vsNaive.toFixed(1)}x naive)`;
        // Level 0 and 'none' do not compress: their size is always about 100 %.
        if (typeof r.level === 'number' && r.level > 0) note += `, ${r.sizePercent.toFixed(1)} %`;
        text(scale(Math.max(r.mbps.median, r.mbps.max)) + 6, y + BAR - 2, note, 'font-size="11"');
        y += BAR + GAP;
      }
      // Dashed markers: where the naive pipeline and the C baseline are, across the whole group.
      for (const e of ['naive', 'c']) {
        const ref = group.find((r) => r.engine === e);
        if (!ref) continue;
        const xx = scale(ref.mbps.median).toFixed(1);
        parts.push(`<line x1="${xx}" y1="${groupTop - 3}" x2="${xx}" y2="${y}" stroke="${COLORS[e]}" stroke-dasharray="3 2"/>`);
      }
      y += GROUP_GAP - GAP;
    });
    y = panelTop + panelHeight + 20;
  }
  text(16, (y += 14), 'Bars: median; dashed lines: naive Node pipeline (red) and C baseline (grey) of the same level; % = compressed size of input.', 'font-size="11" fill="#444"');
  y += 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="Helvetica, Arial, sans-serif">\n` +
    `<rect width="100%" height="100%" fill="#fff"/>\n${parts.join('\n')}\n</svg>\n`;
}
