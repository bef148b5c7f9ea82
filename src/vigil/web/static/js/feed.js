// Live incident feed: the list from GET /api/incidents, then live updates from the SSE stream
// (/api/events/stream) without reloading. Severity >= 4 flashes the row and beeps (WebAudio).
import { api, ago, el, fmtTime, requireUser, toast } from "./common.js";

const rows = document.getElementById("incident-rows");
const tpl = document.getElementById("incident-row");
const empty = document.getElementById("feed-empty");
const more = document.getElementById("load-more");
const filters = document.getElementById("filters");
const liveState = document.getElementById("live-state");
const soundBtn = document.getElementById("sound-toggle");
const HIGH = 4;

let cursor = null;
const cameraNames = new Map();

function params() {
  const f = new FormData(filters);
  const p = new URLSearchParams();
  for (const k of ["type", "camera", "state"]) if (f.get(k)) p.set(k, f.get(k));
  p.set("limit", "50");
  return p;
}

function matches(inc) {
  const f = new FormData(filters);
  if (f.get("type") && inc.type !== f.get("type")) return false;
  if (f.get("camera") && inc.camera_id !== f.get("camera")) return false;
  if (f.get("state") === "open" && inc.state === "ended") return false;
  if (f.get("state") === "ended" && inc.state !== "ended") return false;
  return true;
}

/** Fill (or refresh) a row from an incident or an SSE event (both carry these fields). */
function fill(tr, inc) {
  const id = String(inc.incident_id ?? inc.id);
  tr.dataset.id = id;
  const sev = Number(inc.severity ?? tr.dataset.severity ?? 0);
  tr.dataset.severity = String(sev);
  const sevEl = tr.querySelector(".sev");
  sevEl.textContent = String(sev);
  sevEl.className = `sev sev-${Math.min(Math.max(sev, 1), 5)}`;
  sevEl.setAttribute("aria-label", `severity ${sev}`);
  const link = tr.querySelector(".type-link");
  link.href = `/incidents/${encodeURIComponent(id)}`;
  if (inc.type) link.textContent = inc.type.replaceAll("_", " ");
  if (inc.camera_id) tr.querySelector(".camera").textContent = cameraNames.get(inc.camera_id) || inc.camera_id;
  const state = inc.state === "end" ? "ended" : inc.state;
  if (state) {
    const s = tr.querySelector(".state");
    s.textContent = state === "new" || state === "update" ? "open" : state;
    s.className = `state state-${s.textContent}`;
  }
  const started = inc.started_at;
  if (started) {
    const td = tr.querySelector(".started");
    td.textContent = fmtTime(started);
    td.title = ago(started);
  }
  const status = [];
  if (inc.acknowledged_by) status.push(`ack: ${inc.acknowledged_by}`);
  if (inc.resolved_by) status.push(`resolved: ${inc.resolved_by}`);
  if (status.length || inc.acknowledged_by !== undefined) tr.querySelector(".status").textContent = status.join(" · ");
  tr.classList.toggle("high", sev >= HIGH);
}

function makeRow(inc) {
  const tr = tpl.content.firstElementChild.cloneNode(true);
  fill(tr, inc);
  // The whole row opens the incident (the link inside stays the keyboard target).
  tr.addEventListener("click", (ev) => {
    if (ev.target.closest("a")) return;
    location.assign(tr.querySelector(".type-link").href);
  });
  return tr;
}

async function load(reset = true) {
  const p = params();
  if (!reset && cursor) p.set("cursor", cursor);
  try {
    const page = await api(`/api/incidents?${p}`);
    if (reset) rows.replaceChildren();
    for (const inc of page.items || []) rows.append(makeRow(inc));
    cursor = page.next_cursor || null;
    more.hidden = !cursor;
    empty.hidden = rows.children.length > 0;
  } catch (e) {
    if (e.status !== 401) toast(`Could not load incidents: ${e.message}`);
  }
}

// --- sound cue ------------------------------------------------------------------------------
// Browsers only allow audio after a user gesture, so the operator turns sound on once per page.
let audio = null;
soundBtn.addEventListener("click", () => {
  if (!audio) audio = new AudioContext();
  const on = soundBtn.getAttribute("aria-pressed") !== "true";
  soundBtn.setAttribute("aria-pressed", String(on));
  soundBtn.textContent = on ? "Sound on" : "Sound off";
  localStorage.setItem("vigil.sound", on ? "1" : "0");
  if (on) audio.resume().then(() => beep(660, 0.08));
});
if (localStorage.getItem("vigil.sound") === "1") {
  soundBtn.setAttribute("aria-pressed", "true");
  soundBtn.textContent = "Sound on";
}

/** Two short square-wave tones; no audio file needed. */
function beep(freq = 880, dur = 0.18) {
  if (soundBtn.getAttribute("aria-pressed") !== "true") return;
  try {
    audio = audio || new AudioContext();
    audio.resume();
    for (const [i, f] of [freq, freq * 1.25].entries()) {
      const t0 = audio.currentTime + i * (dur + 0.05);
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "square";
      osc.frequency.value = f;
      gain.gain.setValueAtTime(0.0001, t0);
      gain.gain.exponentialRampToValueAtTime(0.2, t0 + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + dur);
      osc.connect(gain).connect(audio.destination);
      osc.start(t0);
      osc.stop(t0 + dur + 0.02);
    }
  } catch { /* audio not available: the visual cue remains */ }
}

// --- live updates ---------------------------------------------------------------------------
function onEvent(msg) {
  let ev;
  try { ev = JSON.parse(msg.data); } catch { return; }
  const id = ev.incident_id ?? ev.id;
  if (id === undefined || id === null) return;
  let tr = rows.querySelector(`tr[data-id="${CSS.escape(String(id))}"]`);
  if (tr) {
    fill(tr, ev);
    if (!matches({ ...ev, state: ev.state === "end" ? "ended" : ev.state, camera_id: ev.camera_id, type: ev.type })) tr.remove();
  } else if (ev.state !== "end" && matches(ev)) {
    tr = makeRow({ ...ev, started_at: ev.started_at || new Date().toISOString() });
    rows.prepend(tr);
    tr.classList.add("fresh");
    if (Number(ev.severity) >= HIGH) {
      tr.classList.add("cue-high");
      beep();
      document.title = `(!) ${document.title.replace(/^\(!\) /, "")}`;
    }
    setTimeout(() => tr.classList.remove("fresh"), 4000);
  }
  empty.hidden = rows.children.length > 0;
}

function connect() {
  const es = new EventSource("/api/events/stream");
  es.addEventListener("open", () => { liveState.textContent = "live"; liveState.className = "badge badge-ok"; });
  es.addEventListener("error", () => {
    // EventSource reconnects by itself; show it. A 401 ends the stream: re-check the session.
    liveState.textContent = "reconnecting…";
    liveState.className = "badge badge-warn";
    if (es.readyState === EventSource.CLOSED) {
      requireUser().then(() => setTimeout(connect, 3000)).catch(() => {});
    }
  });
  // The server ends the stream with "revoked" once the session is gone (logout elsewhere, disabled user).
  es.addEventListener("revoked", () => {
    es.close();
    requireUser().then(() => setTimeout(connect, 3000)).catch(() => {});
  });
  // Plain "message" events and named ones ("incident", "new", "update", "end") are all handled.
  for (const name of ["message", "incident", "new", "update", "end"]) es.addEventListener(name, onEvent);
  window.addEventListener("pagehide", () => es.close());
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) document.title = document.title.replace(/^\(!\) /, "");
});
filters.addEventListener("change", () => load(true));
more.addEventListener("click", () => load(false));

requireUser().then(async () => {
  try {
    const cams = await api("/api/cameras");
    const sel = document.getElementById("f-camera");
    for (const c of cams) {
      cameraNames.set(c.id, c.name || c.id);
      sel.append(el("option", { value: c.id, text: c.name || c.id }));
    }
  } catch { /* names are optional */ }
  await load(true);
  connect();
});
