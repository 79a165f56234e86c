// Dashboard: figures from /api/v1/metrics (the same functions as the report and the notebook), drawn as SVG.
"use strict";
(() => {
  const { api, escape, t } = Casewise;
  const labels = JSON.parse(document.getElementById("status-labels").textContent);
  const form = document.getElementById("dash-filter");
  const pct = (x) => (x === null || x === undefined ? "–" : `${(x * 100).toFixed(1)}%`);
  const num = (x, digits = 0) => (x === null || x === undefined ? "–" : Number(x).toFixed(digits));

  function query() {
    const params = new URLSearchParams();
    for (const el of form.elements) if (el.name && el.value) params.set(el.name, el.value);
    return params.toString();
  }

  function bars(id, entries, { format = (v) => v, color = "#1967d2" } = {}) {
    const el = document.getElementById(id);
    if (!entries.length) { el.innerHTML = `<p class="muted">–</p>`; return; }
    const max = Math.max(...entries.map(([, v]) => v), 1);
    const row = 24, width = 560, labelWidth = 170;
    const rows = entries.map(([key, value], i) => {
      const w = Math.round((width - labelWidth - 60) * value / max);
      return `<text x="0" y="${i * row + 16}" font-size="12">${escape(key)}</text>
        <rect x="${labelWidth}" y="${i * row + 4}" width="${w}" height="16" fill="${color}" rx="2"></rect>
        <text x="${labelWidth + w + 6}" y="${i * row + 16}" font-size="12">${escape(format(value))}</text>`;
    });
    el.innerHTML = `<svg viewBox="0 0 ${width} ${entries.length * row + 6}" width="100%" role="img">${rows.join("")}</svg>`;
  }

  function line(id, entries) {
    const el = document.getElementById(id);
    if (entries.length < 2) { el.innerHTML = `<p class="muted">–</p>`; return; }
    const width = 560, height = 180, pad = 28;
    const max = Math.max(...entries.map(([, v]) => v), 1);
    const x = (i) => pad + (width - 2 * pad) * i / (entries.length - 1);
    const y = (v) => height - pad - (height - 2 * pad) * v / max;
    const points = entries.map(([, v], i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    const ticks = entries.filter((_, i) => i % Math.ceil(entries.length / 6) === 0)
      .map(([k], _i) => { const i = entries.findIndex(([kk]) => kk === k); return `<text x="${x(i)}" y="${height - 6}" font-size="10" text-anchor="middle">${escape(k.slice(5))}</text>`; });
    el.innerHTML = `<svg viewBox="0 0 ${width} ${height}" width="100%" role="img">
      <line x1="${pad}" y1="${height - pad}" x2="${width - pad}" y2="${height - pad}" stroke="#bcccdc"></line>
      <text x="4" y="${pad}" font-size="10">${max}</text>
      <polyline points="${points}" fill="none" stroke="#1967d2" stroke-width="2"></polyline>${ticks.join("")}</svg>`;
  }

  function kpis(m) {
    const tiles = [
      ["dash.created", m.volume.created], ["dash.resolved", m.volume.resolved],
      ["dash.frt", num(m.first_response_time.business_minutes.average)],
      ["dash.rt", num((m.resolution_time.business_minutes.average || 0) / 60, 1)],
      ["dash.sla", pct(m.sla_compliance.resolution.rate)], ["dash.fcr", pct(m.first_contact_resolution.rate)],
      ["dash.reopen", pct(m.reopen_rate.rate)], ["dash.escalation", pct(m.escalation_rate.rate)],
      ["dash.csat", `${num(m.satisfaction.average, 2)} / 5`], ["dash.deflected", m.deflection.solved_without_ticket],
    ];
    document.getElementById("kpis").innerHTML = tiles.map(([key, value]) =>
      `<div class="kpi"><span class="muted small">${escape(t(key))}</span><b>${escape(value)}</b></div>`).join("");
  }

  function engineers(rows) {
    const head = ["", "handled", "worked h", "FCR", "CSAT", "SLA"];
    document.getElementById("engineers").innerHTML = `<table class="queue"><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead><tbody>${
      rows.map((e) => `<tr><td>${escape(e.engineer)}</td><td>${e.handled}</td><td>${num(e.time_worked_business_minutes / 60, 1)}</td>
        <td>${pct(e.fcr_rate)}</td><td>${num(e.csat_average, 2)}</td><td>${pct(e.sla_rate)}</td></tr>`).join("")}</tbody></table>`;
  }

  async function load() {
    const status = document.getElementById("dash-status");
    status.textContent = t("loading");
    try {
      const m = await api("GET", `/api/v1/metrics?${query()}`);
      document.getElementById("csv-link").href = `/api/v1/metrics.csv?${query()}`;
      kpis(m);
      line("chart-days", Object.entries(m.volume.by_day));
      bars("chart-weekday", Object.entries(m.volume.by_weekday));
      bars("chart-backlog", Object.entries(m.backlog.by_state).map(([k, v]) => [labels[k] || k, v]), { color: "#b7791f" });
      bars("chart-waiting", Object.entries(m.waiting_time).map(([k, v]) => [labels[k] || k, v.business_minutes / 60]),
           { format: (v) => v.toFixed(1), color: "#805ad5" });
      bars("chart-csat", Object.entries(m.satisfaction.distribution).map(([k, v]) => [`${k} ★`, v]), { color: "#2f855a" });
      bars("chart-faults", m.faults.categories.slice(0, 8).map((c) => [c.value, c.count]), { color: "#c53030" });
      engineers(m.engineers || []);
      status.textContent = "";
    } catch (error) { status.textContent = error.message; }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  load();
})();
