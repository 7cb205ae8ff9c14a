// Time-series charts drawn by uPlot (canvas). Each chart aligns its series on
// the union of their sample times; the latest values are mirrored in the
// container's data-latest attribute (what a reader of the DOM, such as the
// browser tests, can compare with /-/metrics).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const COLOURS = ['#2a9d8f', '#e76f51', '#6d597a', '#e9c46a'];

// The y axis as wide as its longest label (uPlot's axis-autosize recipe): a
// fixed width cut "120,000" to "0,000".
function yAxisSize(self, values, axisIdx, cycleNum) {
  const axis = self.axes[axisIdx];
  if (cycleNum > 1) return axis._size;  // settled: avoid resizing forever
  let size = axis.ticks.size + axis.gap;
  const longest = (values ?? []).reduce((a, v) => (String(v).length > a.length ? String(v) : a), '');
  if (longest !== '') {
    self.ctx.font = axis.font[0];
    size += self.ctx.measureText(longest).width / devicePixelRatio;
  }
  return Math.ceil(size);
}
const HEIGHT = 170;

function align(series) {
  const times = new Set();
  for (const s of series) for (const t of s.t) times.add(t);
  const xs = [...times].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const ys = series.map((s) => {
    const column = new Array(xs.length).fill(null);
    s.t.forEach((t, i) => { column[index.get(t)] = s.v[i]; });
    return column;
  });
  return [xs.map((t) => t / 1000), ...ys];
}

export class Chart {
  constructor(container, labels) {
    this.container = container;
    this.labels = labels;
    const opts = {
      width: Math.max(container.clientWidth, 200),
      height: HEIGHT,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      series: [{}, ...labels.map((label, i) => ({ label, stroke: COLOURS[i % COLOURS.length], width: 2, spanGaps: true }))],
      axes: [{}, { size: yAxisSize }],
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
    };
    this.plot = new uPlot(opts, [[], ...labels.map(() => [])], container);
    new ResizeObserver(() => {
      const width = Math.max(container.clientWidth, 200);
      if (width !== this.plot.width) this.plot.setSize({ width, height: HEIGHT });
    }).observe(container);
  }

  // series: [{t: [ms...], v: [...]}, ...] in the order of the labels.
  update(series) {
    const data = align(series.map((s) => s ?? { t: [], v: [] }));
    this.plot.setData(data);
    const latest = {};
    this.labels.forEach((label, i) => {
      const column = data[i + 1];
      for (let j = column.length - 1; j >= 0; j -= 1) {
        if (column[j] !== null) { latest[label] = column[j]; break; }
      }
    });
    this.container.dataset.latest = JSON.stringify(latest);
    this.container.dataset.points = String(data[0].length);
  }
}

// Per-second rate of a counter series, over a sliding window of `span`
// samples (the control loop samples once a second).
export function rate(series, span = 5) {
  if (!series || series.t.length < 2) return { t: [], v: [] };
  const t = [];
  const v = [];
  for (let i = 1; i < series.t.length; i += 1) {
    const j = Math.max(0, i - span);
    const dt = (series.t[i] - series.t[j]) / 1000;
    t.push(series.t[i]);
    v.push(dt > 0 ? Math.max(0, (series.v[i] - series.v[j]) / dt) : 0);
  }
  return { t, v };
}
