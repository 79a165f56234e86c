// Article editor: live preview (the same safe renderer as article pages), save draft, review moves.
"use strict";
(() => {
  const { api, debounce, escape } = Casewise;
  const form = document.getElementById("article-form");
  const body = document.getElementById("a-body");
  const preview = document.getElementById("preview");
  const errorBox = document.getElementById("editor-error");
  const articleId = form.dataset.article;

  async function showPreview() {
    try { preview.innerHTML = (await api("POST", "/api/v1/preview", { markdown: body.value })).html; }
    catch (error) { preview.textContent = error.message; }
  }
  body.addEventListener("input", debounce(showPreview, 250));
  showPreview();

  const removed = sessionStorage.getItem(`removed-${articleId}`);
  if (removed) {
    const items = JSON.parse(removed);
    document.getElementById("pii-list").innerHTML = items.map((r) => `<li>${escape(r.kind)}: ${escape(r.text)}</li>`).join("");
    document.getElementById("pii-report").hidden = !items.length;
  }

  function fields() {
    const values = {};
    for (const name of ["title", "body", "product", "category", "language", "audience", "review_by"]) {
      const value = form.elements[name].value.trim();
      if (value) values[name] = name === "body" ? form.elements[name].value : value;
    }
    values.tags = form.elements.tags.value.split(/[,，]/).map((s) => s.trim()).filter(Boolean);
    return values;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.textContent = "";
    try {
      const saved = articleId ? await api("PATCH", `/api/v1/articles/${articleId}`, fields())
                              : await api("POST", "/api/v1/articles", fields());
      window.location.href = `/kb/${saved.id}/edit`;
    } catch (error) { errorBox.textContent = error.message; }
  });

  for (const move of document.querySelectorAll("form.article-move")) {
    move.addEventListener("submit", async (event) => {
      event.preventDefault();
      const comment = move.elements.comment.value.trim();
      try {
        await api("POST", `/api/v1/articles/${articleId}/transitions`, { to: move.dataset.to, ...(comment ? { comment } : {}) });
        window.location.reload();
      } catch (error) { errorBox.textContent = error.message; }
    });
  }
})();
