// SLA countdowns: time left to the resolution target, colour at warning and breach, refreshed every 30 s.
"use strict";
(() => {
  function update() {
    for (const el of document.querySelectorAll(".sla[data-due]")) {
      if (!el.dataset.due) continue;
      const left = Casewise.slaLeft(el.dataset.due);
      el.textContent = left.text;
      const state = left.minutes < 0 || el.dataset.state === "breached" ? "bad"
        : el.dataset.state === "warning" || left.minutes < 30 ? "warn" : "ok";
      el.className = `sla ${state}`;
    }
  }
  update();
  setInterval(update, 30000);
})();
