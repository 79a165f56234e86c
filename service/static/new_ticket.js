// The problem form: debounced suggestions while typing, newest answer wins, keyboard navigation,
// "this solved my problem" (a deflection) and submission with the suggestions that were shown.
"use strict";
(() => {
  const { api, debounce, escape, t } = Casewise;
  const form = document.getElementById("ticket-form");
  const title = document.getElementById("title");
  const description = document.getElementById("description");
  const list = document.getElementById("suggestion-list");
  const status = document.getElementById("suggestion-status");
  let latest = 0;          // sequence number of the newest request sent
  let inFlight = null;     // AbortController of the request on its way, cancelled by a newer one
  let shown = [];          // what the list shows now (sent along with the ticket)
  let selected = -1;
  let typedAt = 0;
  window.__suggestTimings = [];

  const query = () => `${title.value}\n${description.value}`.trim();

  async function refresh() {
    const text = query();
    const seq = ++latest;
    // the older answer is no longer wanted: a server still holding its query drops it unanswered,
    // and the browser's few connections per server stay free for the newest one
    if (inFlight) inFlight.abort();
    inFlight = null;
    if (!text) { render([], [], ""); status.textContent = t("sugg.empty"); return; }
    status.textContent = t("sugg.loading");
    const controller = inFlight = new AbortController();
    try {
      const body = { title: title.value, description: description.value, k: 5 };
      const found = await api("POST", "/api/v1/suggest", body, controller.signal);
      if (seq !== latest) return; // a newer request is on its way: never let an old answer overwrite it
      render(found.articles, found.cases, text);
    } catch (error) {
      if (seq === latest && error.name !== "AbortError") status.textContent = `${t("sugg.error")}: ${error.message}`;
    } finally {
      if (inFlight === controller) inFlight = null;
    }
  }

  function render(articles, cases, text) {
    shown = [...articles.map((a) => ({ kind: "article", id: a.id, slug: a.slug, score: a.score })),
             ...cases.map((c) => ({ kind: "case", id: c.id, number: c.number, score: c.score }))];
    const items = [];
    if (articles.length) items.push(`<li role="presentation" class="muted small">${escape(t("sugg.articles"))}</li>`);
    articles.forEach((a, i) => items.push(`
      <li role="option" id="sugg-a-${i}" data-href="${escape(a.url)}" data-article="${a.id}" aria-selected="false">
        <a href="${escape(a.url)}" target="_blank" rel="noopener">${escape(a.title)}</a>
        <div class="path">${a.heading_path.map(escape).join(" › ")}</div>
        <div class="snippet">${a.snippet_html}</div>
        <button type="button" class="secondary solved" data-article="${a.id}">${escape(t("sugg.solved"))}</button>
      </li>`));
    if (cases.length) items.push(`<li role="presentation" class="muted small">${escape(t("sugg.cases"))}</li>`);
    cases.forEach((c, i) => items.push(`
      <li role="option" id="sugg-c-${i}" data-href="/tickets/${c.id}" aria-selected="false">
        <a href="/tickets/${c.id}" target="_blank" rel="noopener">${escape(c.number)} ${escape(c.title)}</a>
        <div class="snippet">${c.snippet_html}</div>
      </li>`));
    list.innerHTML = items.join("");
    list.dataset.query = text;
    selected = -1;
    status.textContent = text && !shown.length ? t("sugg.none") : "";
    if (typedAt) {
      const started = typedAt;
      requestAnimationFrame(() => requestAnimationFrame(() => window.__suggestTimings.push(performance.now() - started)));
    }
  }

  const options = () => [...list.querySelectorAll('[role="option"]')];

  function select(index) {
    const all = options();
    if (!all.length) return;
    selected = (index + all.length) % all.length;
    all.forEach((el, i) => el.setAttribute("aria-selected", String(i === selected)));
    all[selected].scrollIntoView({ block: "nearest" });
    title.setAttribute("aria-activedescendant", all[selected].id);
  }

  function onKey(event) {
    if (event.key === "ArrowDown") { event.preventDefault(); select(selected + 1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); select(selected - 1); }
    else if (event.key === "Enter" && selected >= 0 && event.target === title) {
      event.preventDefault(); window.open(options()[selected].dataset.href, "_blank", "noopener");
    } else if (event.key === "Escape") { selected = -1; options().forEach((el) => el.setAttribute("aria-selected", "false")); }
  }

  const later = debounce(refresh, 200);
  for (const field of [title, description]) {
    field.addEventListener("input", () => { typedAt = performance.now(); later(); });
    field.addEventListener("keydown", onKey);
  }

  list.addEventListener("click", async (event) => {
    const button = event.target.closest("button.solved");
    if (!button) return;
    await api("POST", `/api/v1/articles/${Number(button.dataset.article)}/signals`, { kind: "solved_it", query: query() });
    document.getElementById("deflected").hidden = false;
    button.disabled = true;
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("form-error");
    error.textContent = "";
    if (!title.value.trim()) { error.textContent = t("field.title") + " ?"; title.focus(); return; }
    const body = { title: title.value.trim(), description: description.value, shown_suggestions: shown };
    for (const name of ["product", "requester", "contact", "channel", "impact", "urgency"]) {
      const el = form.elements[name];
      if (el && el.value) body[name] = el.value;
    }
    const codes = form.elements.error_codes.value.split(/[,，\s]+/).filter(Boolean);
    if (codes.length) body.error_codes = codes;
    try {
      const ticket = await api("POST", "/api/v1/tickets", body);
      window.location.href = `/tickets/${ticket.id}`;
    } catch (err) { error.textContent = err.message; }
  });
})();
