/* keel web UI, the sweep page: the trial table's filter, sort, page and page-size links
   fetch the table alone (data-fragment: .../sweeps/<name>/trials with the same query) and
   swap it in place, so the history, slices and parallel coordinates are not rebuilt. The
   links and the form stay ordinary ones: without this script they load the whole page. */
(function () {
  "use strict";

  let shown = location.search; // the query of the table on screen

  function table() { return document.getElementById("trial-table"); }

  async function swap(url, push) {
    const box = table();
    if (!box || !box.dataset.fragment) { location.assign(url.toString()); return; }
    box.setAttribute("aria-busy", "true");
    try {
      const resp = await fetch(box.dataset.fragment + url.search, {
        credentials: "same-origin",
        headers: { "Accept": "text/html" },
      });
      if (!resp.ok) { location.assign(url.toString()); return; }
      const holder = document.createElement("template");
      holder.innerHTML = await resp.text(); // our own server-rendered, escaped HTML
      const next = holder.content.getElementById("trial-table");
      if (!next) { location.assign(url.toString()); return; }
      box.replaceWith(next);
      shown = url.search;
      if (push) history.pushState({ trials: true }, "", url.toString());
    } catch (err) {
      location.assign(url.toString());
    }
  }

  function samePage(url) {
    return url.origin === location.origin && url.pathname === location.pathname;
  }

  document.addEventListener("click", function (ev) {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const link = ev.target.closest("#trial-table a[href]");
    if (!link) return;
    const url = new URL(link.href, location.href);
    if (!samePage(url)) return; // a trial's run page: an ordinary link
    ev.preventDefault();
    swap(url, true);
  });

  document.addEventListener("submit", function (ev) {
    const form = ev.target.closest("#trial-filter");
    if (!form || !table()) return;
    ev.preventDefault();
    const url = new URL(form.action, location.href);
    const query = new URLSearchParams();
    new FormData(form).forEach(function (value, key) { if (value !== "") query.append(key, value); });
    url.search = query.toString();
    swap(url, true);
  });

  window.addEventListener("popstate", function () {
    if (location.search !== shown) swap(new URL(location.href), false); // not a mere #hash
  });
})();
