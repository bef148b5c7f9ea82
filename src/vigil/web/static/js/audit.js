// Audit log (admin only): GET /api/audit?limit&cursor with newer/older paging via a cursor stack.
import { api, el, fmtTime, requireUser, toast } from "./common.js";

const body = document.getElementById("audit-rows");
const prev = document.getElementById("a-prev");
const next = document.getElementById("a-next");
const pageLabel = document.getElementById("a-page");
const limitSel = document.getElementById("a-limit");
const stack = [null]; // cursors of the pages seen so far; the last one is the current page
let nextCursor = null;

async function load() {
  const p = new URLSearchParams({ limit: limitSel.value });
  const cur = stack.at(-1);
  if (cur) p.set("cursor", cur);
  try {
    const page = await api(`/api/audit?${p}`);
    body.replaceChildren(...(page.items || []).map((r) => el("tr", {},
      el("td", {}, el("time", { datetime: r.at || "", text: fmtTime(r.at) })),
      el("td", { text: r.user ?? "" }), el("td", { text: r.role ?? "" }), el("td", { text: r.action ?? "" }),
      el("td", { text: r.target ?? "" }), el("td", { text: r.source_ip ?? "" }),
      el("td", { class: "small", text: r.detail === null || r.detail === undefined ? "" : (typeof r.detail === "string" ? r.detail : JSON.stringify(r.detail)) }),
    )));
    if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: "7", class: "muted", text: "No entries." })));
    nextCursor = page.next_cursor || null;
    next.disabled = !nextCursor;
    prev.disabled = stack.length <= 1;
    pageLabel.textContent = `page ${stack.length}`;
  } catch (e) {
    if (e.status === 403) document.getElementById("a-forbidden").hidden = false;
    else if (e.status !== 401) toast(`Could not load the audit log: ${e.message}`);
  }
}

next.addEventListener("click", () => { if (nextCursor) { stack.push(nextCursor); load(); } });
prev.addEventListener("click", () => { if (stack.length > 1) { stack.pop(); load(); } });
limitSel.addEventListener("change", () => { stack.length = 1; load(); });

requireUser().then((me) => {
  if (me.role !== "admin") {
    document.getElementById("a-forbidden").hidden = false;
    return;
  }
  load();
});
