// Versions: side-by-side diff of two versions of an article's markdown, and restore as a new draft.
"use strict";
(() => {
  const { api, escape, t } = Casewise;
  const form = document.getElementById("diff-form");
  const id = form.dataset.article;
  const colour = { insert: "#e6f4ea", delete: "#fde8e8", replace: "#fff7d6", equal: "" };

  async function compare() {
    const error = document.getElementById("diff-error");
    error.textContent = "";
    try {
      const diff = await api("GET", `/api/v1/articles/${id}/diff?from=${form.elements.from.value}&to=${form.elements.to.value}`);
      const rows = diff.side_by_side;
      document.querySelector("#diff tbody").innerHTML = rows.map((r) => `<tr style="background:${colour[r.op] || ""}">
        <td class="muted small">${r.old_no ?? ""}</td><td style="white-space:pre-wrap">${escape(r.old ?? "")}</td>
        <td class="muted small">${r.new_no ?? ""}</td><td style="white-space:pre-wrap">${escape(r.new ?? "")}</td></tr>`).join("");
      const fields = Object.keys(diff.fields || {}).join(", ");
      document.getElementById("diff-summary").textContent = `+${diff.added} / -${diff.removed}${fields ? ` · ${fields}` : ""}`;
    } catch (e) { error.textContent = e.message; }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); compare(); });
  document.getElementById("restore").addEventListener("click", async () => {
    try {
      await api("POST", `/api/v1/articles/${id}/versions/${form.elements.from.value}/restore`);
      window.location.href = `/kb/${id}/edit`;
    } catch (e) { document.getElementById("diff-error").textContent = e.message; }
  });
  compare();
})();
