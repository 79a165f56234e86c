// Shared helpers for Casewise pages: messages, JSON calls with the CSRF token, debounce, escaping.
"use strict";
const Casewise = (() => {
  const messages = JSON.parse(document.getElementById("messages").textContent || "{}");
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
  const t = (key) => messages[key] || key;

  // `signal`: an AbortSignal that cancels the call (the promise then rejects with an AbortError)
  async function api(method, path, body, signal) {
    const response = await fetch(path, {
      method, credentials: "same-origin", signal,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const detail = data && data.detail;
      const message = Array.isArray(detail) ? detail.map((d) => `${d.field}: ${d.message}`).join("; ") : detail;
      throw new Error(message || `HTTP ${response.status}`);
    }
    return data;
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  }

  function escape(text) {
    return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  function slaLeft(due, now = Date.now()) {
    if (!due) return { text: "–", cls: "none" };
    const minutes = Math.round((Date.parse(due) - now) / 60000);
    const abs = Math.abs(minutes);
    const text = (minutes < 0 ? "-" : "") + (abs >= 60 ? `${Math.floor(abs / 60)}h${String(abs % 60).padStart(2, "0")}` : `${abs}m`);
    return { text, minutes };
  }

  return { api, debounce, escape, t, slaLeft };
})();
