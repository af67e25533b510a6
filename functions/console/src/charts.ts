// Hand-drawn SVG charts: lines, stacked bars, an hour x type heat map and a dot map on an
// equirectangular projection of the bundled country/region table. Every chart has a text alternative.
import { s } from "./dom";

export interface Series {
  name: string;
  points: [number, number][]; // x (epoch ms or index), y
  cls?: string;
}

const W = 640;
const H = 220;
const PAD = { l: 44, r: 12, t: 12, b: 28 };

function scale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return Math.ceil(v / p) * p;
}

function frame(label: string): SVGElement {
  return s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, class: "chart", preserveAspectRatio: "xMidYMid meet" });
}

function yAxis(svg: SVGElement, max: number, y: (v: number) => number, fmt: (v: number) => string): void {
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    svg.appendChild(s("line", { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v), class: "grid" }));
    svg.appendChild(s("text", { x: PAD.l - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, fmt(v)));
  }
}

const num = (v: number) => (Math.abs(v) >= 1000 ? `${(v / 1000).toFixed(1)}k` : String(Math.round(v * 100) / 100));

/** Observed vs expected, a user's or series' history: lines over time (x in epoch ms). */
export function lineChart(label: string, series: Series[], opts: { marks?: { x: number; label: string }[]; fmtY?: (v: number) => string } = {}): SVGElement {
  const svg = frame(label);
  const xs = series.flatMap((se) => se.points.map((p) => p[0]));
  const ys = series.flatMap((se) => se.points.map((p) => p[1]));
  if (!xs.length) return svg;
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs) === x0 ? x0 + 1 : Math.max(...xs);
  const yMax = niceMax(Math.max(...ys, 0));
  const yMin = Math.min(0, ...ys);
  const x = scale(x0, x1, PAD.l, W - PAD.r);
  const y = scale(yMin, yMax, H - PAD.b, PAD.t);
  yAxis(svg, yMax, y, opts.fmtY ?? num);
  for (const t of [x0, (x0 + x1) / 2, x1]) {
    svg.appendChild(s("text", { x: x(t), y: H - 8, "text-anchor": "middle", class: "tick" }, new Date(t).toISOString().slice(5, 16).replace("T", " ")));
  }
  series.forEach((se, i) => {
    const pts = [...se.points].sort((a, b) => a[0] - b[0]);
    const cls = se.cls ?? `s${i}`;
    if (pts.length > 1) svg.appendChild(s("polyline", { points: pts.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" "), class: `line ${cls}` }));
    for (const p of pts) svg.appendChild(s("circle", { cx: x(p[0]), cy: y(p[1]), r: pts.length > 60 ? 1.5 : 3, class: `dot ${cls}` }, s("title", {}, `${se.name}: ${num(p[1])}`)));
  });
  for (const m of opts.marks ?? []) {
    svg.appendChild(s("line", { x1: x(m.x), x2: x(m.x), y1: PAD.t, y2: H - PAD.b, class: "mark" }));
    svg.appendChild(s("text", { x: x(m.x) + 4, y: PAD.t + 10, class: "tick" }, m.label));
  }
  return svg;
}

/** Stacked bars: one bar per bucket, one segment per key. */
export function stackedBars(label: string, buckets: { label: string; values: Record<string, number> }[], keys: string[]): SVGElement {
  const svg = frame(label);
  const max = niceMax(Math.max(1, ...buckets.map((b) => keys.reduce((a, k) => a + (b.values[k] ?? 0), 0))));
  const y = scale(0, max, H - PAD.b, PAD.t);
  yAxis(svg, max, y, num);
  const bw = (W - PAD.l - PAD.r) / Math.max(1, buckets.length);
  buckets.forEach((b, i) => {
    let acc = 0;
    for (const k of keys) {
      const v = b.values[k] ?? 0;
      if (!v) continue;
      svg.appendChild(
        s("rect", { x: PAD.l + i * bw + 1, width: Math.max(1, bw - 2), y: y(acc + v), height: y(acc) - y(acc + v), class: `bar k-${k.toLowerCase()}` }, s("title", {}, `${b.label} ${k}: ${v}`)),
      );
      acc += v;
    }
    if (buckets.length <= 24 || i % Math.ceil(buckets.length / 12) === 0) {
      svg.appendChild(s("text", { x: PAD.l + i * bw + bw / 2, y: H - 8, "text-anchor": "middle", class: "tick" }, b.label));
    }
  });
  return svg;
}

/** Rows x 24 hours, cell shade by count. */
export function heatMap(label: string, rows: string[], counts: Record<string, number[]>): SVGElement {
  const rowH = 20;
  const left = 90;
  const height = rows.length * rowH + 24;
  const svg = s("svg", { viewBox: `0 0 ${W} ${height}`, role: "img", "aria-label": label, class: "chart heat" });
  const max = Math.max(1, ...rows.flatMap((r) => counts[r] ?? []));
  const cw = (W - left - 8) / 24;
  rows.forEach((r, ri) => {
    svg.appendChild(s("text", { x: left - 6, y: ri * rowH + 14, "text-anchor": "end", class: "tick" }, r));
    for (let hr = 0; hr < 24; hr++) {
      const v = counts[r]?.[hr] ?? 0;
      svg.appendChild(
        s("rect", { x: left + hr * cw, y: ri * rowH, width: cw - 1, height: rowH - 2, class: "cell", "fill-opacity": v ? 0.15 + 0.85 * (v / max) : 0.04 }, s("title", {}, `${r} ${String(hr).padStart(2, "0")}:00 UTC: ${v}`)),
      );
    }
  });
  for (let hr = 0; hr < 24; hr += 3) svg.appendChild(s("text", { x: left + hr * cw + cw / 2, y: height - 6, "text-anchor": "middle", class: "tick" }, `${hr}h`));
  return svg;
}

/** Dots at lat/lon on an equirectangular world, radius by count. */
export function dotMap(label: string, places: { name: string; lat: number; lon: number; count: number }[]): SVGElement {
  const mw = 720;
  const mh = 360;
  const svg = s("svg", { viewBox: `0 0 ${mw} ${mh}`, role: "img", "aria-label": label, class: "chart map" });
  svg.appendChild(s("rect", { x: 0, y: 0, width: mw, height: mh, class: "sea" }));
  for (let lon = -150; lon <= 150; lon += 30) svg.appendChild(s("line", { x1: (lon + 180) * 2, x2: (lon + 180) * 2, y1: 0, y2: mh, class: "grid" }));
  for (let lat = -60; lat <= 60; lat += 30) svg.appendChild(s("line", { x1: 0, x2: mw, y1: (90 - lat) * 2, y2: (90 - lat) * 2, class: "grid" }));
  const max = Math.max(1, ...places.map((p) => p.count));
  for (const p of [...places].sort((a, b) => b.count - a.count)) {
    svg.appendChild(
      s("circle", { cx: (p.lon + 180) * 2, cy: (90 - p.lat) * 2, r: 3 + 14 * Math.sqrt(p.count / max), class: "place" }, s("title", {}, `${p.name}: ${p.count}`)),
    );
  }
  return svg;
}

/** A score gauge 0..100. */
export function gauge(label: string, value: number | null): SVGElement {
  const svg = s("svg", { viewBox: "0 0 200 120", role: "img", "aria-label": `${label}: ${value ?? "unknown"}`, class: "chart gauge" });
  const arc = (f: number) => {
    const a = Math.PI * (1 - f);
    return [100 + 80 * Math.cos(a), 100 - 80 * Math.sin(a)];
  };
  const [ex, ey] = arc(1);
  svg.appendChild(s("path", { d: `M 20 100 A 80 80 0 0 1 ${ex} ${ey}`, class: "track" }));
  if (value !== null) {
    const f = Math.max(0, Math.min(1, value / 100));
    const [vx, vy] = arc(f);
    svg.appendChild(s("path", { d: `M 20 100 A 80 80 0 0 1 ${vx.toFixed(1)} ${vy.toFixed(1)}`, class: `value ${value >= 80 ? "good" : value >= 50 ? "warn" : "bad"}` }));
  }
  svg.appendChild(s("text", { x: 100, y: 95, "text-anchor": "middle", class: "big" }, value === null ? "—" : String(Math.round(value))));
  return svg;
}
