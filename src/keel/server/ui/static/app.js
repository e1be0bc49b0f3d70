/* keel web UI: forms post JSON with the CSRF token; small page helpers. No inline script
   anywhere (the Content-Security-Policy forbids it); data comes in JSON script blocks. */
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="keel-csrf"]');
  const csrf = meta ? meta.content : "";

  function flash(message) {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = message; // text only: a server message is never parsed as HTML
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
  }
  window.keelFlash = flash;

  function sameDocument(url) {
    const next = new URL(url, location.href);
    return next.pathname === location.pathname && next.search === location.search;
  }

  async function submit(form) {
    const data = {};
    new FormData(form).forEach(function (value, key) { data[key] = value; });
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    try {
      const resp = await fetch(form.dataset.action, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          "Accept": "application/json",
          "X-Keel-CSRF": csrf,
        },
        body: JSON.stringify(data),
      });
      let body = {};
      try { body = await resp.json(); } catch (e) { /* not JSON */ }
      if (!resp.ok) {
        flash(resp.status + " " + (body.error_code || resp.statusText) + ": " + (body.message || "request failed"));
        return;
      }
      const target = body.redirect || location.href;
      const reload = sameDocument(target);
      location.assign(target);
      if (reload) location.reload();
    } catch (err) {
      flash("request failed: " + err);
    } finally {
      if (button) button.disabled = false;
    }
  }

  document.addEventListener("submit", function (ev) {
    const form = ev.target.closest("form[data-action]");
    if (!form) return;
    ev.preventDefault();
    submit(form);
  });

  document.addEventListener("click", function (ev) {
    const copy = ev.target.closest("[data-copy]");
    if (copy && navigator.clipboard) {
      navigator.clipboard.writeText(copy.dataset.copy).catch(function () {});
    }
  });

  /* The runs table's column chooser remembers the last choice per experiment (in this
     browser): a visit without chosen columns opens with the remembered ones. */
  function remembered(form) {
    if (!form || !window.localStorage) return;
    const key = form.dataset.remember;
    form.addEventListener("submit", function () {
      const cols = Array.from(form.querySelectorAll('input[name="cols"]'))
        .filter(function (i) { return (i.type !== "checkbox" || i.checked) && i.value.trim(); })
        .map(function (i) { return i.value.trim(); });
      try { localStorage.setItem(key, JSON.stringify(cols)); } catch (e) { /* storage full or off */ }
    });
    const url = new URL(location.href);
    if (url.searchParams.has("cols")) return;
    let saved = null;
    try { saved = JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { saved = null; }
    if (!Array.isArray(saved) || !saved.length) return;
    saved.forEach(function (c) { url.searchParams.append("cols", String(c)); });
    location.replace(url.toString());
  }

  document.addEventListener("DOMContentLoaded", function () {
    const all = document.getElementById("select-all");
    if (all) {
      all.addEventListener("change", function () {
        document.querySelectorAll(".run-select").forEach(function (b) { b.checked = all.checked; });
      });
    }
    const compare = document.getElementById("compare-selected");
    if (compare) {
      compare.addEventListener("click", function () {
        const ids = Array.from(document.querySelectorAll(".run-select:checked")).map(function (b) { return b.value; });
        if (ids.length < 2) { flash("select at least two runs to compare"); return; }
        location.assign(compare.dataset.base + "/compare?runs=" + encodeURIComponent(ids.join(",")));
      });
    }
    remembered(document.getElementById("columns-form"));
    if (location.hash.startsWith("#comment-")) {
      const target = document.getElementById(location.hash.slice(1));
      if (target) target.classList.add("highlight");
    }
  });
})();
