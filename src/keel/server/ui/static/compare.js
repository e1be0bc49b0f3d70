/* keel compare view: overlaid curves (one request per metric, a few at a time) and a
   parallel-coordinates chart of params against a metric, drawn as SVG. */
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const CONCURRENCY = 6;

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  /* Fetch every metric's series (a few requests at a time) and draw each chart in the next
     animation frame, so parsing and drawing never hold up the requests behind them. */
  function curves(data) {
    const box = document.getElementById("compare-charts");
    const status = document.getElementById("chart-status");
    if (!box || !data.keys.length) { if (box) box.dataset.done = "0"; return; }
    const names = {}, colors = {};
    data.runs.forEach(function (r, i) { names[r.id] = r.name; colors[r.id] = KeelCharts.color(i); });
    // grouped: one colour per group, and each run (in the tables too) takes its group's
    const groups = (data.groups || []).length ? data.groups.map(function (g, i) {
      const c = KeelCharts.color(i);
      g.runs.forEach(function (id) { colors[id] = c; });
      return { label: g.label, runs: g.runs, color: c };
    }) : null;
    // one shared legend (in the page) for every chart: give its swatches the chart colours
    document.querySelectorAll("[data-run]").forEach(function (sw) {
      if (colors[sw.dataset.run]) sw.style.background = colors[sw.dataset.run];
    });
    document.querySelectorAll("[data-group]").forEach(function (sw) {
      const g = groups && groups[Number(sw.dataset.group)];
      if (g) sw.style.background = g.color;
    });
    const charts = [], slots = {};
    data.keys.forEach(function (key) {
      const slot = document.createElement("div");
      slot.className = "chart-slot";
      box.appendChild(slot);
      slots[key] = slot;
    });
    // every chart has the size of the first: measure it once (one layout, not twenty)
    const probe = document.createElement("figure");
    const canvas = document.createElement("canvas");
    probe.className = "chart";
    probe.appendChild(canvas);
    slots[data.keys[0]].appendChild(probe);
    const size = { width: canvas.clientWidth || 420, height: canvas.clientHeight || 220 };
    probe.remove();
    const ctl = KeelCharts.controls(document.getElementById("chart-controls"), charts);
    const started = performance.now();
    let next = 0, done = 0, queued = [], frame = 0;
    function paint() {
      frame = 0;
      queued.splice(0).forEach(function (item) {
        const series = Object.keys(item.body.series).map(function (id) {
          const s = KeelCharts.absolute(item.body.series[id]);
          s.color = colors[s.run]; s.label = names[s.run] || s.run;
          return s;
        });
        const c = KeelCharts.chart(slots[item.key], item.key, series,
          { width: size.width, height: size.height, legend: false, groups: groups });
        c.render(ctl.state.axis, ctl.state.weight);
        charts.push(c);
        done++;
      });
      if (status) status.textContent = done + " of " + data.keys.length + " charts";
      if (done === data.keys.length) {
        box.dataset.ms = String(Math.round(performance.now() - started));
        box.dataset.done = String(done);
      }
    }
    function one() {
      if (next >= data.keys.length) return Promise.resolve();
      const key = data.keys[next++];
      return fetch(data.src + "&key=" + encodeURIComponent(key), {
        credentials: "same-origin", headers: { Accept: "application/json" },
      })
        .then(function (r) { return r.json(); })
        .then(function (body) {
          queued.push({ key: key, body: body });
          if (!frame) frame = requestAnimationFrame(paint);
        })
        .then(one);
    }
    for (let i = 0; i < Math.min(CONCURRENCY, data.keys.length); i++) one();
  }

  /* Position (0 bottom .. 1 top) of a value on an axis. A single value sits in the middle
     (no invented range); runs without the value go to the "missing" mark below the axis. */
  function scaleFor(axis, rows) {
    const values = rows.map(axis.get).filter(function (v) { return v !== null && v !== undefined; });
    if (axis.numeric) {
      const nums = values.map(Number);
      const lo = Math.min.apply(null, nums), hi = Math.max.apply(null, nums);
      if (!values.length) return { f: function () { return 0.5; }, labels: [] };
      if (!(hi > lo)) return { f: function () { return 0.5; }, labels: [[0.5, lo]] };
      return { f: function (v) { return (Number(v) - lo) / (hi - lo); }, labels: [[0, lo], [1, hi]] };
    }
    const cats = Array.from(new Set(values.map(String))).sort();
    const pos = function (v) { return cats.length === 1 ? 0.5 : cats.indexOf(String(v)) / (cats.length - 1); };
    return { f: pos, labels: cats.map(function (c) { return [pos(c), c]; }) };
  }

  function parallel(data, metric) {
    const host = document.getElementById("parallel");
    if (!host) return;
    host.textContent = "";
    const rows = data.parallel.runs;
    const axes = data.parallel.axes.map(function (a) {
      return { key: a.key, numeric: a.numeric, get: function (r) { return r.params[a.key]; } };
    });
    if (metric) axes.push({ key: metric, numeric: true, metric: true, get: function (r) { return r.metrics[metric]; } });
    if (axes.length < 2) { host.textContent = "Nothing to draw: the runs share every param."; return; }
    const w = Math.max(320, host.clientWidth || 800), h = 300, top = 24, bottom = 40, left = 60, right = 60;
    const missingY = h - bottom + 22;
    const lower = metric && data.lower ? !!data.lower[metric] : false;
    const svg = el("svg", { width: w, height: h, viewBox: "0 0 " + w + " " + h, role: "img" }, host);
    const gap = (w - left - right) / (axes.length - 1);
    const scales = axes.map(function (a) { return scaleFor(a, rows); });
    const mScale = metric ? scales[scales.length - 1] : null;
    rows.forEach(function (r) {
      const pts = [];
      axes.forEach(function (a, i) {
        const v = a.get(r);
        const y = v === null || v === undefined ? missingY : top + (1 - scales[i].f(v)) * (h - top - bottom);
        pts.push((left + i * gap).toFixed(1) + "," + y.toFixed(1));
      });
      const m = metric ? r.metrics[metric] : null;
      let t = mScale && m !== null && m !== undefined ? mScale.f(m) : null;
      if (t !== null && lower) t = 1 - t;  // good runs get the same colour whichever way is better
      const stroke = t === null ? "#9ca3af" : "hsl(" + Math.round(120 * t) + ",70%,42%)";
      const line = el("polyline", { points: pts.join(" "), fill: "none", stroke: stroke, "stroke-width": 1.4, "stroke-opacity": 0.75 }, svg);
      const tip = el("title", {}, line);
      tip.textContent = r.name + (m !== null && m !== undefined ? " · " + metric + "=" + m : "");
    });
    axes.forEach(function (a, i) {
      const x = left + i * gap;
      el("line", { x1: x, x2: x, y1: top, y2: h - bottom, class: "axis-line" }, svg);
      if (rows.some(function (r) { const v = a.get(r); return v === null || v === undefined; })) {
        el("circle", { cx: x, cy: missingY, r: 2.5, class: "missing" }, svg);
        const miss = el("text", { x: x + 5, y: missingY + 3, class: "tick missing" }, svg);
        miss.textContent = "missing";
      }
      const label = el("text", { x: x, y: 14, "text-anchor": "middle", class: a.metric ? "axis metric" : "axis" }, svg);
      label.textContent = a.key;
      scales[i].labels.slice(0, 12).forEach(function (pair) {
        const tick = el("text", { x: x + 4, y: top + (1 - pair[0]) * (h - top - bottom) + 3, class: "tick" }, svg);
        tick.textContent = typeof pair[1] === "number" ? String(Math.round(pair[1] * 1e4) / 1e4) : String(pair[1]).slice(0, 14);
      });
    });
    host.dataset.lines = String(rows.length);
  }

  document.addEventListener("DOMContentLoaded", function () {
    const node = document.getElementById("compare-data");
    if (!node) return;
    const data = JSON.parse(node.textContent);
    curves(data);
    const grouping = document.querySelector('#group-form select[name="group"]');
    if (grouping) grouping.addEventListener("change", function () { grouping.form.submit(); });
    const pick = document.getElementById("pc-metric");
    // after the chart requests are on their way, when the page has a moment
    const later = window.requestIdleCallback || function (fn) { return setTimeout(fn, 50); };
    later(function () { parallel(data, pick ? pick.value : null); }, { timeout: 1500 });
    if (pick) pick.addEventListener("change", function () { parallel(data, pick.value); });
  });
})();
