// Ticket page: every action form posts JSON to the API and reloads; the similar panel loads on open.
"use strict";
(() => {
  const { api, escape, t } = Casewise;
  const ticket = JSON.parse(document.getElementById("ticket-data").textContent);
  const errorBox = document.getElementById("action-error");

  function formBody(form) {
    const body = JSON.parse(form.dataset.fixed || "{}");
    for (const el of form.elements) {
      if (!el.name || (el.type === "checkbox" && !el.checked)) continue;
      if (el.value === "") continue;
      if (el.name === "article_ids") body.article_ids = el.value.split(",").filter(Boolean).map(Number);
      else if (el.name === "merge_into") body.merge_into = Number(el.value);
      else if (el.type === "datetime-local") body[el.name] = new Date(el.value).toISOString();
      else body[el.name] = el.value;
    }
    return body;
  }

  for (const form of document.querySelectorAll("form[data-endpoint]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      errorBox.textContent = "";
      try {
        await api("POST", form.dataset.endpoint, formBody(form));
        window.location.reload();
      } catch (error) { errorBox.textContent = error.message; }
    });
  }

  async function loadSimilar() {
    const status = document.getElementById("similar-status");
    const list = document.getElementById("similar-list");
    try {
      const found = await api("POST", "/api/v1/suggest", { title: ticket.title, description: ticket.description, k: 5 });
      const cases = found.cases.filter((c) => c.id !== ticket.id);
      list.innerHTML = [
        ...found.articles.map((a) => `<li><a href="${escape(a.url)}" target="_blank" rel="noopener">${escape(a.title)}</a>
          <div class="path">${a.heading_path.map(escape).join(" › ")}</div><div class="snippet">${a.snippet_html}</div>
          ${ticket.staff ? `<button type="button" class="secondary solved-it" data-article="${a.id}">${escape(t("ticket.solved_it"))}</button>` : ""}</li>`),
        ...cases.map((c) => `<li><a href="/tickets/${c.id}">${escape(c.number)} ${escape(c.title)}</a><div class="snippet">${c.snippet_html}</div></li>`),
      ].join("");
      status.textContent = list.children.length ? "" : t("sugg.none");
    } catch (error) { status.textContent = `${t("sugg.error")}: ${error.message}`; }
  }

  document.getElementById("similar-list").addEventListener("click", async (event) => {
    const button = event.target.closest("button.solved-it");
    if (!button) return;
    try {
      await api("POST", `/api/v1/tickets/${ticket.id}/solved-by`, { article_id: Number(button.dataset.article) });
      button.disabled = true;
      for (const field of document.querySelectorAll(".solved-articles")) {
        field.value = [...new Set([...field.value.split(",").filter(Boolean), button.dataset.article])].join(",");
      }
    } catch (error) { errorBox.textContent = error.message; }
  });

  const draft = document.getElementById("draft-article");
  if (draft) draft.addEventListener("click", async () => {
    try {
      const created = await api("POST", "/api/v1/articles/from-tickets", { ticket_ids: [ticket.id] });
      sessionStorage.setItem(`removed-${created.article.id}`, JSON.stringify(created.removed));
      window.location.href = `/kb/${created.article.id}/edit`;
    } catch (error) { errorBox.textContent = error.message; }
  });

  for (const el of document.querySelectorAll(".sla[data-due]")) {
    if (el.dataset.due) el.textContent = Casewise.slaLeft(el.dataset.due).text;
  }
  loadSimilar();
})();
