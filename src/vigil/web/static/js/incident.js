// Incident detail: facts, redacted snapshot and clip, timeline, acknowledge/resolve, comments.
import { api, canOperate, el, errorText, fmtTime, requireUser } from "./common.js";
import { setupPlayer } from "./player.js";

const root = document.getElementById("incident");
const id = root.dataset.incidentId;
const errBox = document.getElementById("action-error");
let me = null;

function showError(e) {
  errBox.textContent = errorText(e).join("; ");
  errBox.hidden = false;
}

function fact(dl, name, value) {
  if (value === undefined || value === null || value === "") return;
  dl.append(el("dt", { text: name }), el("dd", { text: String(value) }));
}

function render(inc) {
  document.title = `${inc.type} · ${inc.camera_id} · Vigil`;
  const title = document.getElementById("inc-title");
  title.replaceChildren(
    el("span", { class: `sev sev-${Math.min(Math.max(inc.severity || 1, 1), 5)}`, text: String(inc.severity ?? "?"),
      "aria-label": `severity ${inc.severity}` }),
    " ", (inc.type || "incident").replaceAll("_", " "), " ",
    el("span", { class: `state state-${inc.state}`, text: inc.state }),
  );
  const dl = document.getElementById("inc-facts");
  dl.replaceChildren();
  fact(dl, "Camera", inc.camera_id);
  fact(dl, "Started", fmtTime(inc.started_at));
  fact(dl, "Ended", fmtTime(inc.ended_at));
  fact(dl, "Confidence", inc.confidence !== undefined && inc.confidence !== null ? `${Math.round(inc.confidence * 100)} %` : null);
  fact(dl, "Acknowledged", inc.acknowledged_by ? `${inc.acknowledged_by}, ${fmtTime(inc.acknowledged_at)}` : "no");
  fact(dl, "Resolved", inc.resolved_by ? `${inc.resolved_by}, ${fmtTime(inc.resolved_at)}` : "no");
  fact(dl, "Note", inc.resolution_note);
  for (const [k, v] of Object.entries(inc.details || {})) fact(dl, k.replaceAll("_", " "), typeof v === "object" ? JSON.stringify(v) : v);

  const img = document.getElementById("snapshot");
  if (inc.snapshot_url && img.getAttribute("src") !== inc.snapshot_url) img.src = inc.snapshot_url;
  img.hidden = !inc.snapshot_url;
  const video = document.getElementById("clip");
  if (inc.clip_url && video.getAttribute("src") !== inc.clip_url) video.src = inc.clip_url;
  if (!inc.clip_url) document.getElementById("clip-status").textContent = "No clip (yet).";

  const tl = document.getElementById("timeline");
  tl.replaceChildren();
  const events = [...(inc.events || [])].sort((a, b) => (a.sequence ?? 0) - (b.sequence ?? 0));
  for (const ev of events) {
    tl.append(el("li", { class: `tl-${ev.state}` },
      el("span", { class: "tl-state", text: ev.state }),
      el("time", { datetime: ev.created_at || "", text: fmtTime(ev.created_at) }),
      el("span", { class: "muted small", text: `#${ev.sequence ?? ""}${ev.severity !== undefined ? ` · severity ${ev.severity}` : ""}` }),
    ));
  }
  if (!events.length) tl.append(el("li", { class: "muted", text: "No events." }));

  const cm = document.getElementById("comments");
  cm.replaceChildren();
  for (const c of inc.comments || []) {
    cm.append(el("li", {}, el("strong", { text: c.author }), " ", el("time", { class: "muted small", text: fmtTime(c.created_at) }),
      el("p", { text: c.text })));
  }
  if (!(inc.comments || []).length) cm.append(el("li", { class: "muted", text: "No comments." }));

  // Viewers never see the operator controls; operators see them until the incident is handled.
  const ack = document.getElementById("ack-btn");
  ack.disabled = Boolean(inc.acknowledged_by) || Boolean(inc.resolved_by);
  ack.textContent = inc.acknowledged_by ? "Acknowledged" : "Acknowledge";
  const resolveForm = document.getElementById("resolve-form");
  for (const n of resolveForm.elements) n.disabled = Boolean(inc.resolved_by);
  if (me && !canOperate(me.role)) for (const n of document.querySelectorAll(".operator-only")) n.hidden = true;
}

async function reload() {
  try {
    render(await api(`/api/incidents/${encodeURIComponent(id)}`));
  } catch (e) {
    if (e.status === 404) document.getElementById("inc-title").textContent = "Incident not found";
    else if (e.status !== 401) showError(e);
  }
}

// Acknowledge is an htmx hx-post (CSRF header added in common.js); refresh when it is done.
document.getElementById("ack-btn").addEventListener("htmx:afterRequest", (ev) => {
  if (ev.detail.successful) reload();
});

document.getElementById("resolve-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  errBox.hidden = true;
  const note = document.getElementById("resolve-note").value.trim();
  try {
    await api(`/api/incidents/${encodeURIComponent(id)}/resolve`, { method: "POST", body: { note } });
    await reload();
  } catch (e) { showError(e); }
});

document.getElementById("comment-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  errBox.hidden = true;
  const ta = document.getElementById("comment-text");
  try {
    await api(`/api/incidents/${encodeURIComponent(id)}/comments`, { method: "POST", body: { text: ta.value.trim() } });
    ta.value = "";
    await reload();
  } catch (e) { showError(e); }
});

setupPlayer(document.getElementById("clip"), document.querySelector(".player-bar"), document.getElementById("clip-status"));

requireUser().then(async (u) => {
  me = u;
  await reload();
  // Live: refresh when this incident gets a new event.
  const es = new EventSource("/api/events/stream");
  es.addEventListener("message", (m) => {
    try {
      const ev = JSON.parse(m.data);
      if (String(ev.incident_id ?? ev.id) === id) reload();
    } catch { /* ignore */ }
  });
  window.addEventListener("pagehide", () => es.close());
});
