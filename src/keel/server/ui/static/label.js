// The annotator page: next task, answer, skip and undo as JSON requests, no page load
// between tasks. Every kind of label config is answered here: classification (a key
// answers), multi-label (keys toggle, Enter submits), spans (select text, a key labels it),
// boxes (a key picks the label, drag on the image) and free text (Ctrl+Enter). Task data is
// shown with textContent only (never as HTML); an image is loaded only from http(s), a
// data:image URL or a path on this server.
(() => {
  "use strict";
  const root = document.getElementById("labeler");
  if (!root) return;
  const meta = document.querySelector('meta[name="keel-csrf"]');
  const csrf = meta ? meta.content : "";
  const { base, field, kind, widthField, heightField } = root.dataset;
  const $ = (id) => document.getElementById(id);
  const flash = window.keelFlash || ((m) => console.error(m));
  const keys = Array.from(root.querySelectorAll(".label-key"));
  let task = null;
  let started = 0;
  let busy = false;
  let marks = []; // spans or boxes of the task on screen
  let chosen = new Set(); // multi-label
  let current = keys.length ? keys[0].dataset.label : ""; // the label a new box gets
  const history = []; // ids of the tasks answered or skipped here, for undo

  async function post(path, body) {
    const resp = await fetch(base + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Keel-CSRF": csrf },
      body: JSON.stringify(body || {}),
    });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(data.message || "request failed (" + resp.status + ")");
    return data;
  }

  function text() {
    if (!task) return "";
    const value = task.data[field];
    if (value === undefined) return JSON.stringify(task.data, null, 2); // a table row: every column
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function pressed() {
    keys.forEach((k) => {
      const on = kind === "multilabel" ? chosen.has(k.dataset.label) : kind === "boxes" && k.dataset.label === current;
      k.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }

  function drawSpans() {
    const el = $("task-text");
    el.textContent = "";
    const chars = Array.from(text()); // offsets count code points, as the server does
    let at = 0;
    for (const s of [...marks].sort((a, b) => a.start - b.start)) {
      if (s.start < at) continue; // an overlapping span is listed below, not highlighted
      el.append(chars.slice(at, s.start).join(""));
      const mark = document.createElement("mark");
      mark.textContent = chars.slice(s.start, s.end).join("");
      mark.title = s.label;
      mark.dataset.label = s.label;
      el.append(mark);
      at = s.end;
    }
    el.append(chars.slice(at).join(""));
  }

  function drawBoxes() {
    const layer = $("box-layer");
    const img = $("task-image");
    layer.textContent = "";
    const scale = img.clientWidth / Number(task.data[widthField] || img.naturalWidth || 1);
    for (const b of marks) {
      const div = document.createElement("div");
      div.className = "box";
      Object.assign(div.style, {
        left: b.x * scale + "px", top: b.y * scale + "px",
        width: b.width * scale + "px", height: b.height * scale + "px",
      });
      const tag = document.createElement("span");
      tag.textContent = b.label;
      div.append(tag);
      layer.append(div);
    }
  }

  function drawMarks() {
    if (kind === "spans") drawSpans();
    if (kind === "boxes" && task) drawBoxes();
    const list = $("marks");
    if (!list) return;
    list.textContent = "";
    marks.forEach((m, i) => {
      const li = document.createElement("li");
      const what = kind === "spans"
        ? "“" + Array.from(text()).slice(m.start, m.end).join("") + "” [" + m.start + ", " + m.end + ")"
        : Math.round(m.x) + "," + Math.round(m.y) + " " + Math.round(m.width) + "×" + Math.round(m.height);
      li.textContent = m.label + ": " + what + " ";
      const del = document.createElement("button");
      del.type = "button";
      del.textContent = "remove";
      del.addEventListener("click", () => { marks.splice(i, 1); drawMarks(); });
      li.append(del);
      list.append(li);
    });
  }

  function safeImage(src) {
    return typeof src === "string" && (/^https?:\/\//i.test(src) || /^data:image\//i.test(src) || /^\/(?!\/)/.test(src));
  }

  function fill(previous) {
    marks = [];
    chosen = new Set();
    if (previous && kind === "multilabel") chosen = new Set(previous.labels || []);
    if (previous && kind === "spans") marks = (previous.spans || []).slice();
    if (previous && kind === "boxes") marks = (previous.boxes || []).slice();
    const area = $("answer-text");
    if (area) area.value = previous && typeof previous.text === "string" ? previous.text : "";
    pressed();
  }

  function show(data, previous) {
    task = data.task;
    const p = data.progress;
    $("progress").textContent = p.mine + " answered by you · " + p.complete + "/" + p.tasks + " tasks complete";
    $("undo").disabled = history.length === 0;
    fill(previous);
    if (!task) {
      $("task-id").textContent = "";
      $("task-text").textContent = "Your queue is empty: every task has its annotators.";
      $("task-json").textContent = "";
      if ($("task-image")) $("task-image").removeAttribute("src");
      drawMarks();
      root.classList.add("done");
      return;
    }
    root.classList.remove("done");
    $("task-id").textContent = "task " + task.id;
    $("task-json").textContent = JSON.stringify(task.data, null, 2);
    if (kind === "boxes") {
      const src = task.data[field];
      const img = $("task-image");
      $("task-text").textContent = safeImage(src) ? "" : "This task's image is not an http(s), data:image or server path: " + String(src);
      if (safeImage(src)) img.src = src; else img.removeAttribute("src");
      img.onload = drawMarks;
    } else {
      $("task-text").textContent = text();
    }
    drawMarks();
    if ($("answer-text")) $("answer-text").focus();
    started = performance.now();
  }

  async function run(path, body, after) {
    if (busy) return false;
    busy = true;
    try {
      const data = await post(path, body);
      if (after) after(data);
      show(data, data.previous);
      return true;
    } catch (err) {
      flash(String(err.message || err));
      return false;
    } finally {
      busy = false;
    }
  }

  function result() {
    if (kind === "multilabel") return { labels: Array.from(chosen) };
    if (kind === "spans") return { spans: marks };
    if (kind === "boxes") return { boxes: marks };
    return { text: $("answer-text").value };
  }

  function answer(res) {
    if (!task) return;
    const id = task.id;
    const lead = Math.round(performance.now() - started);
    run("/tasks/" + id + "/answer", { result: res, lead_ms: lead }, () => history.push(id));
  }

  function skip() {
    if (!task) return;
    const reason = $("skip-reason").value.trim();
    if (!reason) {
      flash("say why you skip this task first");
      $("skip-reason").focus();
      return;
    }
    const id = task.id;
    $("skip-reason").value = "";
    $("skip-reason").blur(); // the keys answer the next task again
    run("/tasks/" + id + "/skip", { reason: reason }, () => history.push(id));
  }

  function undo() {
    if (!history.length) return;
    const id = history[history.length - 1];
    run("/tasks/" + id + "/undo", {}, () => history.pop());
  }

  function spanFromSelection(label) {
    const sel = window.getSelection();
    const el = $("task-text");
    if (!sel || !sel.rangeCount || sel.isCollapsed) { flash("select some text first, then press its key"); return; }
    const range = sel.getRangeAt(0);
    if (!el.contains(range.startContainer) || !el.contains(range.endContainer)) return;
    const before = document.createRange();
    before.selectNodeContents(el);
    before.setEnd(range.startContainer, range.startOffset);
    const start = Array.from(before.toString()).length;
    const end = start + Array.from(range.toString()).length;
    sel.removeAllRanges();
    marks.push({ start: start, end: end, label: label });
    drawMarks();
  }

  function pick(label) {
    if (kind === "classification") answer({ label: label });
    else if (kind === "multilabel") { chosen.has(label) ? chosen.delete(label) : chosen.add(label); pressed(); }
    else if (kind === "spans") spanFromSelection(label);
    else if (kind === "boxes") { current = label; pressed(); }
  }

  function drawing() {
    const stage = $("stage");
    if (!stage) return;
    let from = null;
    let ghost = null;
    const at = (ev) => {
      const r = $("task-image").getBoundingClientRect();
      return { x: Math.min(Math.max(ev.clientX - r.left, 0), r.width), y: Math.min(Math.max(ev.clientY - r.top, 0), r.height) };
    };
    stage.addEventListener("mousedown", (ev) => {
      if (!task || !$("task-image").src) return;
      ev.preventDefault();
      from = at(ev);
      ghost = document.createElement("div");
      ghost.className = "box drawing";
      $("box-layer").append(ghost);
    });
    window.addEventListener("mousemove", (ev) => {
      if (!from) return;
      const to = at(ev);
      Object.assign(ghost.style, {
        left: Math.min(from.x, to.x) + "px", top: Math.min(from.y, to.y) + "px",
        width: Math.abs(to.x - from.x) + "px", height: Math.abs(to.y - from.y) + "px",
      });
    });
    window.addEventListener("mouseup", (ev) => {
      if (!from) return;
      const to = at(ev);
      const img = $("task-image");
      const w = Number(task.data[widthField]);
      const h = Number(task.data[heightField]);
      const scale = w / img.clientWidth;
      const x = Math.round(Math.min(from.x, to.x) * scale);
      const y = Math.round(Math.min(from.y, to.y) * scale);
      const bw = Math.min(Math.round(Math.abs(to.x - from.x) * scale), w - x);
      const bh = Math.min(Math.round(Math.abs(to.y - from.y) * scale), h - y);
      from = null;
      if (bw >= 2 && bh >= 2 && current) marks.push({ x: x, y: y, width: bw, height: bh, label: current });
      drawMarks();
    });
  }

  keys.forEach((btn) => btn.addEventListener("click", () => pick(btn.dataset.label)));
  $("skip").addEventListener("click", skip);
  $("undo").addEventListener("click", undo);
  if ($("submit")) $("submit").addEventListener("click", () => answer(result()));
  drawing();
  document.addEventListener("keydown", (ev) => {
    const target = ev.target && ev.target.id;
    if (target === "answer-text") {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); answer(result()); }
      if (ev.key === "Escape") ev.target.blur();
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (target === "skip-reason") {
      if (ev.key === "Enter") { ev.preventDefault(); skip(); }
      return;
    }
    if (ev.key === "s") { ev.preventDefault(); skip(); return; }
    if (ev.key === "u") { ev.preventDefault(); undo(); return; }
    if (ev.key === "Enter" && kind !== "classification" && ev.target.tagName !== "BUTTON") {
      ev.preventDefault();
      answer(result());
      return;
    }
    const btn = root.querySelector('.label-key[data-key="' + ev.key + '"]');
    if (btn) { ev.preventDefault(); pick(btn.dataset.label); }
  });
  run("/next");
})();
