// The annotator page: next task, answer and skip as JSON requests, no page load between
// tasks. Task data is shown with textContent only (never as HTML).
(() => {
  "use strict";
  const root = document.getElementById("labeler");
  if (!root) return;
  const meta = document.querySelector('meta[name="keel-csrf"]');
  const csrf = meta ? meta.content : "";
  const base = root.dataset.base;
  const field = root.dataset.field;
  const $ = (id) => document.getElementById(id);
  const flash = window.keelFlash || ((m) => console.error(m));
  let task = null;
  let started = 0;
  let busy = false;

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

  function show(data) {
    task = data.task;
    const p = data.progress;
    $("progress").textContent = p.mine + " answered by you · " + p.complete + "/" + p.tasks + " tasks complete";
    if (!task) {
      $("task-id").textContent = "";
      $("task-text").textContent = "Your queue is empty: every task has its annotators.";
      $("task-json").textContent = "";
      root.classList.add("done");
      return;
    }
    const value = task.data[field];
    $("task-id").textContent = "task " + task.id;
    $("task-text").textContent = typeof value === "string" ? value : JSON.stringify(value);
    $("task-json").textContent = JSON.stringify(task.data, null, 2);
    started = performance.now();
  }

  async function run(path, body) {
    if (busy) return;
    busy = true;
    try {
      show(await post(path, body));
    } catch (err) {
      flash(String(err.message || err));
    } finally {
      busy = false;
    }
  }

  function answer(label) {
    if (!task) return;
    const lead = Math.round(performance.now() - started);
    run("/tasks/" + task.id + "/answer", { result: { label: label }, lead_ms: lead });
  }

  function skip() {
    if (!task) return;
    const reason = $("skip-reason").value.trim();
    if (!reason) {
      flash("say why you skip this task first");
      $("skip-reason").focus();
      return;
    }
    $("skip-reason").value = "";
    $("skip-reason").blur(); // the number keys answer the next task again
    run("/tasks/" + task.id + "/skip", { reason: reason });
  }

  root.querySelectorAll(".label-key").forEach((btn) => {
    btn.addEventListener("click", () => answer(btn.dataset.label));
  });
  $("skip").addEventListener("click", skip);
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.target && ev.target.id === "skip-reason") {
      if (ev.key === "Enter") { ev.preventDefault(); skip(); }
      return;
    }
    if (ev.key === "s") { ev.preventDefault(); skip(); return; }
    const btn = root.querySelector('.label-key[data-key="' + ev.key + '"]');
    if (btn) { ev.preventDefault(); answer(btn.dataset.label); }
  });
  run("/next");
})();
