/* keel charts: line charts on canvas (many series, fast), written for keel, no library.
   Series arrive already bucketed by the server: {steps, ts, mean, low, high} per run. */
(function () {
  "use strict";
  // ten colours told apart easily (also in app.css as .c0-.c9); past ten, hues spread
  // by the golden angle so neighbours never share a colour
  const PALETTE = ["#2563eb", "#ea580c", "#16a34a", "#dc2626", "#9333ea",
                   "#0891b2", "#ca8a04", "#db2777", "#65a30d", "#64748b"];
  const PAD = { left: 52, right: 10, top: 22, bottom: 28 };

  function color(i) {
    if (i < PALETTE.length) return PALETTE[i];
    return "hsl(" + Math.round((i * 137.508) % 360) + ",62%,48%)";
  }

  /* Text and grid colours from the page's CSS variables (dark mode follows the system). */
  function theme() {
    const css = getComputedStyle(document.documentElement);
    const v = function (name, fallback) { return (css.getPropertyValue(name) || "").trim() || fallback; };
    return { fg: v("--fg", "#111827"), muted: v("--muted", "#6b7280"), grid: v("--line", "#e5e7eb") };
  }

  /* One value per series (a final score, not a curve): a bar per run with its number. */
  function bars(ctx, lines, w, h, t) {
    const items = [];
    lines.forEach(function (l) {
      for (let i = l.ys.length - 1; i >= 0; i--) {
        if (l.ys[i] !== null) { items.push({ v: l.ys[i], color: l.color, label: l.label }); return; }
      }
    });
    let lo = Math.min(0, Math.min.apply(null, items.map(function (it) { return it.v; })));
    let hi = Math.max(0, Math.max.apply(null, items.map(function (it) { return it.v; })));
    if (!(hi > lo)) hi = lo + 1;
    const left = 8, right = 64, top = PAD.top + 2, rowH = Math.min(22, (h - top - 6) / Math.max(1, items.length));
    const sx = function (x) { return left + (x - lo) / (hi - lo) * (w - left - right); };
    const hits = [];
    items.forEach(function (it, k) {
      const y = top + k * rowH, x0 = sx(Math.min(0, it.v)), x1 = sx(Math.max(0, it.v));
      ctx.fillStyle = it.color;
      ctx.fillRect(x0, y + 2, Math.max(1, x1 - x0), rowH - 5);
      ctx.fillStyle = t.fg;
      ctx.fillText(fmt(it.v, "y"), Math.min(x1 + 4, w - right + 4), y + rowH / 2 + 3);
      hits.push({ y0: y, y1: y + rowH, item: it });
    });
    return { bars: hits };
  }

  /* TensorBoard's debiased exponential moving average; nulls stay gaps. */
  function smooth(ys, weight) {
    if (!weight) return ys;
    const out = new Array(ys.length);
    let last = 0, n = 0;
    for (let i = 0; i < ys.length; i++) {
      const y = ys[i];
      if (y === null || !isFinite(y)) { out[i] = null; continue; }
      last = last * weight + (1 - weight) * y;
      n++;
      out[i] = last / (1 - Math.pow(weight, n));
    }
    return out;
  }

  /* Times arrive as offsets from t0 (shorter JSON); make them absolute once. */
  function absolute(s) {
    if (s.t0 !== undefined && !s.absolute) {
      s.ts = s.ts.map(function (t) { return t + s.t0; });
      s.absolute = true;
    }
    if (!s.low) { s.low = null; s.high = null; }
    return s;
  }

  function xValues(s, axis) {
    if (axis === "step") return s.steps;
    if (axis === "wall" || axis === "date") return s.ts;
    const t0 = s.ts.length ? s.ts[0] : 0;
    return s.ts.map(function (t) { return (t - t0) / 1000; });
  }

  function niceTicks(lo, hi, count, integer) {
    if (!(hi > lo)) { hi = lo + 1; lo = lo - 1; }
    const raw = (hi - lo) / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    let step = [1, 2, 5, 10].map(function (m) { return m * mag; }).find(function (s) { return s >= raw; });
    if (integer) step = Math.max(1, Math.round(step));
    const ticks = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(v);
    return ticks;
  }

  function fmt(v, axis) {
    if (axis === "wall" || axis === "date") {
      const d = new Date(v);
      return axis === "date" ? d.toISOString().slice(5, 10) : d.toISOString().slice(11, 16);
    }
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
    return String(Math.round(v * 1000) / 1000);
  }

  function extent(lines, band) {
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    lines.forEach(function (l) {
      for (let i = 0; i < l.xs.length; i++) {
        const x = l.xs[i];
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        const lo = band && l.lo ? l.lo[i] : l.ys[i];
        const hi = band && l.hi ? l.hi[i] : l.ys[i];
        if (lo !== null && lo < y0) y0 = lo;
        if (hi !== null && hi > y1) y1 = hi;
      }
    });
    if (y0 === y1) { y0 -= 0.5; y1 += 0.5; }
    if (x0 === x1) { const d = Math.abs(x0) > 1e11 ? 3600000 : 0.5; x0 -= d; x1 += d; }  // ms timestamps: an hour
    return { x0: x0, x1: x1, y0: y0, y1: y1 };
  }

  /* Draw lines [{xs, ys, lo, hi, color, label}] on a canvas; returns a hover lookup. */
  function draw(canvas, title, lines, opts) {
    const ratio = window.devicePixelRatio || 1;
    // a known size spares a forced layout per chart when many are drawn at once
    const w = opts.width || canvas.clientWidth || 420, h = opts.height || canvas.clientHeight || 240;
    canvas.width = w * ratio; canvas.height = h * ratio;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = "11px system-ui, sans-serif";
    const t = theme();
    ctx.fillStyle = t.fg;
    ctx.fillText(title, PAD.left, 14);
    if (!lines.length) { ctx.fillStyle = t.muted; ctx.fillText("no data", PAD.left, h / 2); return null; }
    const single = lines.every(function (l) {
      return l.ys.filter(function (y) { return y !== null; }).length <= 1;
    });
    if (single) return bars(ctx, lines, w, h, t);
    const band = opts.band || lines.length <= 3;
    const e = extent(lines, band);
    const pw = w - PAD.left - PAD.right, ph = h - PAD.top - PAD.bottom;
    const sx = function (x) { return PAD.left + (x - e.x0) / (e.x1 - e.x0) * pw; };
    const sy = function (y) { return PAD.top + ph - (y - e.y0) / (e.y1 - e.y0) * ph; };
    ctx.strokeStyle = t.grid; ctx.fillStyle = t.muted; ctx.lineWidth = 1;
    niceTicks(e.y0, e.y1, 4).forEach(function (t) {
      const y = Math.round(sy(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(PAD.left, y); ctx.lineTo(w - PAD.right, y); ctx.stroke();
      ctx.fillText(fmt(t, "y"), 4, y + 3);
    });
    niceTicks(e.x0, e.x1, 5, opts.axis === "step").forEach(function (t) {
      const x = Math.round(sx(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, PAD.top); ctx.lineTo(x, PAD.top + ph); ctx.stroke();
      ctx.fillText(fmt(t, opts.axis), x - 12, h - 10);
    });
    lines.forEach(function (l) {
      if (band && l.lo && l.hi) {
        ctx.globalAlpha = 0.15; ctx.fillStyle = l.color; ctx.beginPath();
        for (let i = 0; i < l.xs.length; i++) ctx.lineTo(sx(l.xs[i]), sy(l.hi[i] === null ? e.y0 : l.hi[i]));
        for (let i = l.xs.length - 1; i >= 0; i--) ctx.lineTo(sx(l.xs[i]), sy(l.lo[i] === null ? e.y0 : l.lo[i]));
        ctx.fill(); ctx.globalAlpha = 1;
      }
    });
    // one path per colour: a hundred overlaid runs cost ten strokes, not a hundred
    const byColor = {};
    lines.forEach(function (l) { (byColor[l.color] = byColor[l.color] || []).push(l); });
    ctx.lineWidth = lines.length > 20 ? 1 : 1.25;
    Object.keys(byColor).forEach(function (c) {
      ctx.strokeStyle = c; ctx.beginPath();
      byColor[c].forEach(function (l) {
        let pen = false;
        for (let i = 0; i < l.xs.length; i++) {
          const y = l.ys[i];
          if (y === null) { pen = false; continue; }
          if (pen) ctx.lineTo(sx(l.xs[i]), sy(y)); else { ctx.moveTo(sx(l.xs[i]), sy(y)); pen = true; }
        }
      });
      ctx.stroke();
    });
    lines.forEach(function (l) {
      const few = l.xs.length <= 60;
      ctx.fillStyle = l.color;
      for (let i = 0; i < l.xs.length; i++) {
        const y = l.ys[i];
        if (y === null) continue;
        const alone = (i === 0 || l.ys[i - 1] === null) && (i === l.xs.length - 1 || l.ys[i + 1] === null);
        if (few || alone) { ctx.beginPath(); ctx.arc(sx(l.xs[i]), sy(y), 2.5, 0, 2 * Math.PI); ctx.fill(); }
      }
    });
    return { sx: sx, sy: sy, e: e, lines: lines };
  }

  /* A line's value at x: its point there, else linear between its neighbours; null outside
     its range or next to a gap. */
  function valueAt(l, x) {
    const xs = l.xs;
    let lo = 0, hi = xs.length - 1;
    if (hi < 0 || x < xs[0] || x > xs[hi]) return null;
    while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (xs[mid] <= x) lo = mid; else hi = mid; }
    if (xs[lo] === x) return l.ys[lo];
    if (xs[hi] === x) return l.ys[hi];
    const a = l.ys[lo], b = l.ys[hi];
    if (a === null || b === null) return null;
    return a + (b - a) * (x - xs[lo]) / (xs[hi] - xs[lo]);
  }

  /* One line per group [{label, color, runs: [id]}] from the runs' lines: at each x of the
     group's runs (at most MAX_GROUP_POINTS), the mean of the runs that reach that x and a
     band of one (sample) standard deviation around it. */
  const MAX_GROUP_POINTS = 400;
  function aggregate(lines, groups) {
    return groups.map(function (g) {
      const members = lines.filter(function (l) { return g.runs.indexOf(l.run) >= 0; });
      let xs = Array.from(new Set([].concat.apply([], members.map(function (l) { return l.xs; }))))
        .sort(function (a, b) { return a - b; });
      if (xs.length > MAX_GROUP_POINTS) {
        const every = xs.length / MAX_GROUP_POINTS, all = xs;
        xs = Array.from({ length: MAX_GROUP_POINTS }, function (_, i) { return all[Math.floor(i * every)]; });
        xs.push(all[all.length - 1]);
      }
      const ys = [], lo = [], hi = [];
      xs.forEach(function (x) {
        const vals = members.map(function (l) { return valueAt(l, x); })
          .filter(function (v) { return v !== null && v !== undefined && isFinite(v); });
        if (!vals.length) { ys.push(null); lo.push(null); hi.push(null); return; }
        const mean = vals.reduce(function (a, b) { return a + b; }, 0) / vals.length;
        const sd = vals.length > 1 ? Math.sqrt(vals.reduce(function (a, v) {
          return a + (v - mean) * (v - mean); }, 0) / (vals.length - 1)) : 0;
        ys.push(mean); lo.push(mean - sd); hi.push(mean + sd);
      });
      return { xs: xs, ys: ys, lo: lo, hi: hi, color: g.color, label: g.label, runs: members.length };
    }).filter(function (l) { return l.runs > 0; });
  }

  /* A chart box: canvas + hover readout, redrawn when axis or smoothing change. */
  function chart(container, title, series, opts) {
    const box = document.createElement("figure");
    box.className = "chart";
    const canvas = document.createElement("canvas");
    const readout = document.createElement("figcaption");
    readout.className = "readout muted small";
    box.appendChild(canvas); box.appendChild(readout);
    if (opts.legend !== false && series.length > 1 && series.length <= 12) {
      const legend = document.createElement("div");
      legend.className = "legend small";
      series.forEach(function (s) {
        const item = document.createElement("span");
        const sw = document.createElement("span");
        sw.className = "swatch";
        sw.style.background = s.color;
        item.appendChild(sw);
        item.appendChild(document.createTextNode(s.label + " "));
        legend.appendChild(item);
      });
      box.appendChild(legend);
    }
    container.appendChild(box);
    let geo = null;
    function render(axis, weight) {
      let lines = series.map(function (s) {
        return { xs: xValues(s, axis), ys: smooth(s.mean, weight), lo: s.low, hi: s.high,
                 color: s.color, label: s.label, run: s.run };
      });
      if (opts.groups) lines = aggregate(lines, opts.groups);
      geo = draw(canvas, title, lines, { axis: axis, width: opts.width, height: opts.height,
                                         band: !!opts.groups });
    }
    canvas.addEventListener("mousemove", function (ev) {
      if (!geo) return;
      const r = canvas.getBoundingClientRect();
      const mx = ev.clientX - r.left, my = ev.clientY - r.top;
      if (geo.bars) {
        const hit = geo.bars.find(function (b) { return my >= b.y0 && my < b.y1; });
        if (hit) readout.textContent = hit.item.label + " · " + hit.item.v;
        return;
      }
      let best = null, bestD = Infinity;
      geo.lines.forEach(function (l) {
        for (let i = 0; i < l.xs.length; i++) {
          if (l.ys[i] === null) continue;
          const d = Math.abs(geo.sx(l.xs[i]) - mx) + Math.abs(geo.sy(l.ys[i]) - my);
          if (d < bestD) { bestD = d; best = [l, i]; }
        }
      });
      if (best) readout.textContent = best[0].label + " · x=" + fmt(best[0].xs[best[1]], "y") + " · " + fmt(best[0].ys[best[1]], "y");
    });
    box.render = render;
    box.single = function () { return !!(geo && geo.bars); };
    return box;
  }

  /* Wire the x-axis and smoothing controls to every chart in the list. */
  function controls(form, charts) {
    const state = { axis: "step", weight: 0 };
    function all() { charts.forEach(function (c) { c.render(state.axis, state.weight); }); }
    if (form) {
      form.querySelector('[name="x"]').addEventListener("change", function (ev) { state.axis = ev.target.value; all(); });
      form.querySelector('[name="smooth"]').addEventListener("input", function (ev) { state.weight = Number(ev.target.value); all(); });
    }
    return { state: state, redraw: all };
  }

  window.KeelCharts = { color: color, smooth: smooth, chart: chart, controls: controls, draw: draw,
                        absolute: absolute, aggregate: aggregate };

  /* Charts whose data ships in the page: <script type="application/json" class="chart-data">
     {target, title, axis, series: [{label, xs, ys}]}. */
  function embedded() {
    document.querySelectorAll("script.chart-data").forEach(function (node) {
      const spec = JSON.parse(node.textContent);
      const host = document.getElementById(spec.target);
      if (!host) return;
      const series = spec.series.map(function (s, i) {
        return { steps: s.xs, ts: s.xs, mean: s.ys, low: null, high: null, color: color(i), label: s.label };
      });
      chart(host, spec.title, series, {}).render(spec.axis || "step", 0);
      host.dataset.done = "1";
    });
  }

  document.addEventListener("DOMContentLoaded", embedded);

  /* The run page: one chart per metric, all from one request. */
  document.addEventListener("DOMContentLoaded", function () {
    const box = document.getElementById("run-charts");
    if (!box) return;
    fetch(box.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        const charts = [];
        Object.keys(body.series).sort().forEach(function (id) {
          const s = absolute(body.series[id]);
          s.color = color(0); s.label = s.key;
          charts.push(chart(box, s.key + (s.total > s.steps.length ? " (downsampled: min/max band)" : ""), [s], {}));
        });
        const ctl = controls(document.getElementById("chart-controls"), charts);
        ctl.redraw();
        box.dataset.done = String(charts.length);
      });
  });
})();
