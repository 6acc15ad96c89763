/** Small, dependency-free SVG line plots for the self-contained HTML run report. */

export interface Series {
  name: string;
  points: [number, number][];
  /** Default: the palette's colour of the series' position. */
  color?: string;
  /** Drawn thin and pale behind the others, and left out of the legend (the raw values under a smoothed line). */
  faint?: boolean;
}

/**
 * A noisy series smoothed by an exponential moving average (bias-corrected, as TensorBoard's
 * smoothing): weight 1 − 1/span for the past, with a span of about a twentieth of the points.
 */
export function smoothed(points: [number, number][], span = Math.max(3, Math.round(points.length / 20))): [number, number][] {
  const keep = 1 - 1 / span;
  let average = 0;
  let weight = 0;
  return points.map(([x, y]) => {
    if (!Number.isFinite(y)) return [x, y];
    average = keep * average + (1 - keep) * y;
    weight = keep * weight + (1 - keep);
    return [x, average / weight];
  });
}

/** The width a label of `text` takes at `size` px (an estimate: the report's sans-serif averages about 0.6 em a character). */
function textWidth(text: string, size: number): number {
  return text.length * size * 0.6;
}

export interface LinePlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  width?: number;
  height?: number;
  logY?: boolean;
}

// Colour-blind-safe palette (Okabe–Ito).
const COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#F0E442', '#000000'];

/** The palette's colour number `index` (so one model keeps one colour in every plot). */
export function seriesColor(index: number): string {
  return COLORS[((index % COLORS.length) + COLORS.length) % COLORS.length]!;
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

// About five round tick values covering [min, max].
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const rawStep = (max - min) / count;
  // Values a few ulps apart: a step that small would not move a float of their size (the loop
  // never ended, and the array of ticks grew until V8 gave up).
  if (!(rawStep > Math.max(Math.abs(min), Math.abs(max)) * 1e-12)) return [min];
  const magnitude = 10 ** Math.floor(Math.log10(rawStep));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rawStep) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let k = Math.ceil(min / step); k * step <= max + step * 1e-9; k++) ticks.push(Number((k * step).toPrecision(12)));
  return ticks;
}

// Ticks of a log axis, as exponents: the 1-2-5 values inside [10^minLog, 10^maxLog], fewer when
// they crowd, linear ticks when the range holds fewer than two of them.
export function logTicks(minLog: number, maxLog: number): number[] {
  for (const mantissas of [[1, 2, 5], [1]]) {
    const ticks: number[] = [];
    for (let k = Math.floor(minLog); k <= Math.ceil(maxLog); k++) {
      for (const m of mantissas) {
        const t = Math.log10(m) + k;
        if (t >= minLog - 1e-9 && t <= maxLog + 1e-9) ticks.push(t);
      }
    }
    if (ticks.length >= 2 && ticks.length <= 7) return ticks;
    if (ticks.length < 2) break;
  }
  return niceTicks(10 ** minLog, 10 ** maxLog)
    .filter((v) => v > 0)
    .map(Math.log10);
}

function formatTick(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e4 || abs < 1e-3) return value.toExponential(1);
  return String(Number(value.toPrecision(4)));
}

/** A line plot as an inline SVG element; non-finite points are dropped (a diverged loss shows as a gap). */
export function linePlot(options: LinePlotOptions): string {
  const width = options.width ?? 560;
  const height = options.height ?? 300;
  const transformY = (y: number) => (options.logY ? Math.log10(y) : y);
  const series = options.series.map((s, i) => ({
    name: s.name,
    color: s.color ?? seriesColor(i),
    faint: s.faint === true,
    points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!options.logY || y > 0)),
  }));
  // The legend sits in rows between the title and the plot, never over the data.
  const legendItems = series.filter((s) => !s.faint && s.points.length > 0);
  const legendRows: { name: string; color: string; x: number }[][] = [[]];
  let cursor = 0;
  const legendLeft = 64;
  for (const s of legendItems) {
    const itemWidth = 16 + textWidth(s.name, 10) + 14;
    if (cursor > 0 && legendLeft + cursor + itemWidth > width - 16) {
      legendRows.push([]);
      cursor = 0;
    }
    legendRows[legendRows.length - 1]!.push({ name: s.name, color: s.color, x: legendLeft + cursor });
    cursor += itemWidth;
  }
  const legendHeight = legendItems.length > 0 ? legendRows.length * 14 + 4 : 0;
  const margin = { left: 64, right: 16, top: 32 + legendHeight, bottom: 44 };
  const all = series.flatMap((s) => s.points);
  const header = `<svg xmlns="http://www.w3.org/2000/svg" class="plot" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(options.title)}">`;
  const title = `<text x="${width / 2}" y="18" text-anchor="middle" class="title">${escapeXml(options.title)}</text>`;
  if (all.length === 0) {
    return `${header}${title}<text x="${width / 2}" y="${height / 2}" text-anchor="middle" class="empty">no data</text></svg>`;
  }
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => transformY(p[1]));
  let [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
  let [yMin, yMax] = [Math.min(...ys), Math.max(...ys)];
  if (xMin === xMax) {
    xMin -= 1;
    xMax += 1;
  }
  if (yMin === yMax) {
    // A constant: a band around it of its own scale (a learning rate of 1e-3 is not drawn on ±1).
    const pad = yMin === 0 ? 1 : Math.abs(yMin) * 0.1;
    yMin -= pad;
    yMax += pad;
  }
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const sx = (x: number) => margin.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const sy = (y: number) => margin.top + (1 - (transformY(y) - yMin) / (yMax - yMin)) * plotH;
  const parts: string[] = [header, title];
  parts.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" class="frame"/>`);
  for (const t of niceTicks(xMin, xMax)) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${margin.top}" y2="${margin.top + plotH}" class="grid"/>`);
    parts.push(`<text x="${x}" y="${margin.top + plotH + 16}" text-anchor="middle" class="tick">${formatTick(t)}</text>`);
  }
  for (const t of options.logY ? logTicks(yMin, yMax) : niceTicks(yMin, yMax)) {
    const y = (margin.top + (1 - (t - yMin) / (yMax - yMin)) * plotH).toFixed(1);
    const label = options.logY ? formatTick(10 ** t) : formatTick(t);
    parts.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y}" y2="${y}" class="grid"/>`);
    parts.push(`<text x="${margin.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" class="tick">${label}</text>`);
  }
  parts.push(
    `<text x="${margin.left + plotW / 2}" y="${height - 8}" text-anchor="middle" class="axis">${escapeXml(options.xLabel)}</text>`,
  );
  parts.push(
    `<text x="14" y="${margin.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 14 ${margin.top + plotH / 2})" class="axis">${escapeXml(options.yLabel)}</text>`,
  );
  // Faint series first, so that the others are drawn over them.
  for (const s of [...series.filter((s) => s.faint), ...series.filter((s) => !s.faint)]) {
    if (s.points.length === 0) continue;
    const d = s.points.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
    const look = s.faint ? 'stroke-width="1" stroke-opacity="0.25" class="raw"' : 'stroke-width="1.5" class="series"';
    parts.push(
      `<path d="${d}" fill="none" stroke="${s.color}" ${look} data-series="${escapeXml(s.name)}"><title>${escapeXml(s.name)}</title></path>`,
    );
  }
  legendRows.forEach((row, r) =>
    row.forEach((item) => {
      const ly = 32 + r * 14 + 8;
      parts.push(`<rect x="${item.x}" y="${ly - 4}" width="12" height="3" fill="${item.color}"/>`);
      parts.push(`<text x="${item.x + 16}" y="${ly}" class="legend">${escapeXml(item.name)}</text>`);
    }),
  );
  parts.push('</svg>');
  return parts.join('');
}

export interface HeatMapOptions {
  title: string;
  /** Row and column labels (a square matrix). */
  labels: string[];
  values: number[][];
  /** Cells printed in scientific notation (small values such as affinities). */
  scientific?: boolean;
}

/** A square matrix as an SVG heat map on a diverging scale (blue < 0 < red), symmetric about 0. */
export function heatMap(options: HeatMapOptions): string {
  const n = options.labels.length;
  const cell = Math.min(64, Math.floor(360 / Math.max(n, 1)));
  const left = 90;
  const top = 56;
  // Wide enough for its title (13 px, bold: about 0.65 em a character), which is centred on it.
  const width = Math.max(left + n * cell + 20, Math.ceil(options.title.length * 13 * 0.65) + 24);
  const height = top + n * cell + 20;
  const limit = Math.max(1e-12, ...options.values.flat().filter(Number.isFinite).map(Math.abs));
  const shade = (v: number) => {
    if (!Number.isFinite(v)) return '#ddd';
    const t = Math.min(1, Math.abs(v) / limit);
    const [r, g, b] = v >= 0 ? [213, 94, 0] : [0, 114, 178];
    const mix = (c: number) => Math.round(255 + (c - 255) * t);
    return `rgb(${mix(r)},${mix(g)},${mix(b)})`;
  };
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="plot heatmap" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(options.title)}">`,
    `<text x="${width / 2}" y="18" text-anchor="middle" class="title">${escapeXml(options.title)}</text>`,
  ];
  options.labels.forEach((label, i) => {
    parts.push(
      `<text x="${left - 6}" y="${top + i * cell + cell / 2}" text-anchor="end" dominant-baseline="middle" class="tick">${escapeXml(label)}</text>`,
    );
    parts.push(`<text x="${left + i * cell + cell / 2}" y="${top - 8}" text-anchor="middle" class="tick">${escapeXml(label)}</text>`);
  });
  options.values.forEach((row, i) =>
    row.forEach((v, j) => {
      const text = !Number.isFinite(v) ? '–' : options.scientific ? v.toExponential(1) : v.toFixed(2);
      parts.push(
        `<rect x="${left + j * cell}" y="${top + i * cell}" width="${cell}" height="${cell}" fill="${shade(v)}" class="cell-box"><title>${escapeXml(`${options.labels[i]} → ${options.labels[j]}: ${v}`)}</title></rect>`,
      );
      parts.push(
        `<text x="${left + j * cell + cell / 2}" y="${top + i * cell + cell / 2}" text-anchor="middle" dominant-baseline="middle" class="cell">${text}</text>`,
      );
    }),
  );
  parts.push('</svg>');
  return parts.join('');
}
