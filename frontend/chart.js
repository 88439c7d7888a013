// A small inline-SVG line chart of messages per second, in and out, over the
// last 60 seconds. Colours come from CSS custom properties, so it follows the
// light and dark themes; "out" is also dashed so the two lines differ without
// colour.

import { h, svg, formatRate } from './util.js';

const W = 600;
const H = 160;
const TOP_PAD = 6;

/** Rounds up to 1, 2 or 5 × 10^k (at least 1). */
function niceMax(v) {
  if (!(v > 1)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

export class RateChart {
  /**
   * @param {HTMLElement} root an empty container.
   * @param {{windowSec?: number, gapSec?: number}} options the line breaks
   *   where two samples are more than gapSec apart.
   */
  constructor(root, { windowSec = 60, gapSec = 5 } = {}) {
    this.root = root;
    this.windowMs = windowSec * 1000;
    this.gapMs = gapSec * 1000;
    this.samples = [];
    this.source = '';

    this.inPath = svg('path', { class: 'line line-in', 'vector-effect': 'non-scaling-stroke' });
    this.outPath = svg('path', { class: 'line line-out', 'vector-effect': 'non-scaling-stroke' });
    this.area = svg('path', { class: 'area-in' });
    const grid = [0.25, 0.5, 0.75].map((f) => svg('line', {
      class: 'grid', x1: 0, x2: W, y1: TOP_PAD + (H - TOP_PAD) * f, y2: TOP_PAD + (H - TOP_PAD) * f,
      'vector-effect': 'non-scaling-stroke',
    }));
    this.svg = svg('svg', {
      viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false',
    }, grid, svg('line', { class: 'axis', x1: 0, x2: W, y1: H - 0.5, y2: H - 0.5, 'vector-effect': 'non-scaling-stroke' }),
    this.area, this.inPath, this.outPath);

    this.yMax = h('span', { class: 'y-label y-max' });
    this.yMid = h('span', { class: 'y-label y-mid' });
    this.inNow = h('strong', { 'data-testid': 'chart-in-now', text: '–' });
    this.outNow = h('strong', { 'data-testid': 'chart-out-now', text: '–' });
    this.note = h('span', { class: 'chart-note muted', 'data-testid': 'chart-source' });

    this.plot = h('div', { class: 'chart-plot', role: 'img' },
      this.svg, this.yMax, this.yMid, h('span', { class: 'y-label y-zero', text: '0' }));
    root.replaceChildren(
      h('div', { class: 'chart-legend' },
        h('span', { class: 'legend legend-in' }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), 'In ', this.inNow, '/s'),
        h('span', { class: 'legend legend-out' }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), 'Out ', this.outNow, '/s'),
        this.note),
      this.plot,
      h('div', { class: 'chart-x', 'aria-hidden': 'true' }, h('span', { text: '60 s ago' }), h('span', { text: '30 s' }), h('span', { text: 'now' })),
    );
    this.render();
  }

  /** Adds a sample (rates per second) taken at time t (ms). */
  push(t, inRate, outRate, source = '') {
    const last = this.samples.at(-1);
    if (last && t <= last.t) return; // keep time monotonic
    this.samples.push({ t, in: Math.max(0, inRate || 0), out: Math.max(0, outRate || 0) });
    this.source = source;
    this.render(t);
  }

  clear() {
    this.samples = [];
    this.render();
  }

  /** Redraws for the current time (call about once a second so the lines scroll). */
  render(now = Date.now()) {
    const from = now - this.windowMs;
    // keep one sample older than the window so the line enters from the edge
    while (this.samples.length > 1 && this.samples[1].t < from) this.samples.shift();
    const visible = this.samples;
    const max = niceMax(Math.max(0, ...visible.map((s) => Math.max(s.in, s.out))));
    const x = (t) => ((t - from) / this.windowMs) * W;
    const y = (v) => H - (v / max) * (H - TOP_PAD);

    const line = (key) => {
      let d = '';
      let prev = null;
      for (const s of visible) {
        const cmd = prev && s.t - prev.t <= this.gapMs ? 'L' : 'M';
        d += `${cmd}${x(s.t).toFixed(1)},${y(s[key]).toFixed(1)}`;
        prev = s;
      }
      return d;
    };
    this.inPath.setAttribute('d', line('in'));
    this.outPath.setAttribute('d', line('out'));

    // area under "in", only for its last contiguous run
    let start = visible.length - 1;
    while (start > 0 && visible[start].t - visible[start - 1].t <= this.gapMs) start--;
    const run = visible.slice(Math.max(0, start));
    this.area.setAttribute('d', run.length > 1
      ? `M${x(run[0].t).toFixed(1)},${H}${run.map((s) => `L${x(s.t).toFixed(1)},${y(s.in).toFixed(1)}`).join('')}L${x(run.at(-1).t).toFixed(1)},${H}Z`
      : '');

    this.yMax.textContent = formatRate(max);
    this.yMid.textContent = formatRate(max / 2);
    const last = visible.at(-1);
    const fresh = last && now - last.t <= this.gapMs;
    this.inNow.textContent = fresh ? formatRate(last.in) : '–';
    this.outNow.textContent = fresh ? formatRate(last.out) : '–';
    this.note.textContent = this.source;

    const inside = visible.filter((s) => s.t >= from);
    const peakIn = Math.max(0, ...inside.map((s) => s.in));
    const peakOut = Math.max(0, ...inside.map((s) => s.out));
    this.plot.setAttribute('aria-label', fresh
      ? `Messages per second over the last 60 seconds. Now ${formatRate(last.in)} in and ${formatRate(last.out)} out; peak ${formatRate(peakIn)} in and ${formatRate(peakOut)} out.`
      : 'Messages per second over the last 60 seconds: no data yet.');
  }
}
