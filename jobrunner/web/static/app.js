// jobrunner dashboard: follows changes as they happen (server-sent events from
// /events, fed by inotify on the state folder) by fetching this page again and swapping
// its live part; asks before destructive actions. Plain JavaScript, no library.
"use strict";

(function () {
  const stateLabel = () => document.getElementById("live-state");
  let pending = null;
  let busy = false;

  function interacting() {
    const active = document.activeElement;
    const open = document.querySelector("#live details[open] pre.output");
    return (active && active.closest("#live form")) || window.getSelection().toString() !== "" || open;
  }

  async function refresh() {
    pending = null;
    if (busy) { schedule(); return; }
    if (interacting()) { schedule(2000); return; }
    busy = true;
    try {
      const response = await fetch(window.location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin" });
      if (!response.ok) return;
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = doc.getElementById("live");
      const live = document.getElementById("live");
      if (fresh && live) {
        const openDetails = [...live.querySelectorAll("details")].map((d) => d.open);
        live.replaceWith(fresh);
        fresh.querySelectorAll("details").forEach((d, i) => { if (openDetails[i]) d.open = true; });
        bind(fresh);
        document.body.dataset.updated = String(Date.now());
      }
    } finally {
      busy = false;
    }
  }

  function schedule(delay) {
    if (pending === null) pending = setTimeout(refresh, delay || 300);
  }

  function bind(root) {
    root.querySelectorAll("form[data-confirm]").forEach((form) => {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  let source = null;

  function follow() {
    if (!window.EventSource || source !== null) return;
    source = new EventSource("/events");
    source.addEventListener("hello", () => { const s = stateLabel(); if (s) s.textContent = "live"; });
    source.addEventListener("change", () => schedule());
    source.onerror = () => { const s = stateLabel(); if (s) s.textContent = "reconnecting…"; };
  }

  // A page left behind (kept in the back-forward cache) must not hold its stream open:
  // browsers allow a handful of connections per host, and the next page would wait.
  window.addEventListener("pagehide", () => {
    if (source !== null) { source.close(); source = null; }
  });
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) { follow(); schedule(); }
  });

  document.addEventListener("DOMContentLoaded", () => {
    bind(document);
    follow();
  });
})();
