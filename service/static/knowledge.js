// Knowledge upkeep: gaps (clusters of tickets no article answers, with "draft an article"), stale articles
// and near-duplicate pairs, from /api/v1/knowledge/*.
"use strict";
(() => {
  const { api, escape, t } = Casewise;
  const mine = document.getElementById("only-mine");
  const errorBox = document.getElementById("know-error");
  const owner = () => (mine.checked ? "?owner=me" : "");

  // `keep` gets the items before they are shown, so a button on them never acts on older data
  async function fill(statusId, listId, path, render, keep = () => {}) {
    const status = document.getElementById(statusId);
    status.textContent = t("loading");
    try {
      const data = await api("GET", path);
      const items = Array.isArray(data) ? data : data.gaps;
      keep(items);
      document.getElementById(listId).innerHTML = items.map(render).join("");
      status.textContent = items.length ? "" : t("know.none");
    } catch (error) { status.textContent = error.message; }
  }

  const gap = (g, i) => `<div class="comment"><b>${escape(g.label)}</b> · ${g.size} ${escape(t("know.tickets"))}
      · <span class="muted">best ${g.best_score.toFixed(2)}</span>
      <ul class="small">${g.tickets.slice(0, 8).map((tk) => `<li><a href="/tickets/${tk.id}">${escape(tk.number)}</a> ${escape(tk.title)}</li>`).join("")}</ul>
      <button type="button" class="secondary draft-gap" data-index="${i}">${escape(t("ticket.draft_article"))}</button></div>`;
  const stale = (s) => `<li><a href="/kb/${s.article.id}/edit">${escape(s.article.title)}</a>
      <div class="small">${s.reasons.map((r) => escape(t(`know.${r}`))).join(" · ")}${s.days_overdue ? ` (${s.days_overdue} d)` : ""}
      ${s.reopened_tickets.map((tk) => `<a href="/tickets/${tk.id}">${escape(tk.number)}</a>`).join(" ")}</div></li>`;
  const pair = (p) => `<li><a href="/kb/${p.first.id}/edit">${escape(p.first.title)}</a> ↔
      <a href="/kb/${p.second.id}/edit">${escape(p.second.title)}</a>
      <div class="small muted">cosine ${p.cosine.toFixed(3)} · text ${p.text_similarity.toFixed(2)}</div></li>`;

  let gaps = [];
  async function load() {
    errorBox.textContent = "";
    // the drafts come from the very gaps shown (a second request could answer after a click, or differ)
    await fill("gaps-status", "gaps", "/api/v1/knowledge/gaps", gap, (items) => { gaps = items; });
    fill("stale-status", "stale", `/api/v1/knowledge/stale${owner()}`, stale);
    fill("dup-status", "duplicates", `/api/v1/knowledge/duplicates${owner()}`, pair);
  }

  document.getElementById("gaps").addEventListener("click", async (event) => {
    const button = event.target.closest("button.draft-gap");
    if (!button) return;
    try {
      const created = await api("POST", "/api/v1/articles/from-tickets", gaps[Number(button.dataset.index)].draft.body);
      sessionStorage.setItem(`removed-${created.article.id}`, JSON.stringify(created.removed));
      window.location.href = `/kb/${created.article.id}/edit`;
    } catch (error) { errorBox.textContent = error.message; }
  });
  mine.addEventListener("change", load);
  load();
})();
