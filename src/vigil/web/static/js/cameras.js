// Camera grid: status and redacted thumbnails (GET /api/cameras/{id}/snapshot), refreshed every
// few seconds while the page is visible. Status is polled from GET /api/cameras.
import { ago, api, requireUser, toast } from "./common.js";

const grid = document.getElementById("camera-grid");
const tpl = document.getElementById("camera-card");
const summary = document.getElementById("cam-summary");
const THUMB_MS = 5000;
const cards = new Map();

function card(cam) {
  let li = cards.get(cam.id);
  if (!li) {
    li = tpl.content.firstElementChild.cloneNode(true);
    const href = `/cameras/${encodeURIComponent(cam.id)}`;
    li.querySelector(".thumb-link").href = href;
    li.querySelector(".watch").href = href;
    li.querySelector(".zones").href = `${href}/zones`;
    li.querySelector(".thumb").alt = `Redacted view of ${cam.name || cam.id}`;
    cards.set(cam.id, li);
    grid.append(li);
  }
  li.querySelector(".name").textContent = cam.name || cam.id;
  const pill = li.querySelector(".status-pill");
  pill.textContent = cam.online ? "online" : "offline";
  pill.className = `status-pill ${cam.online ? "on" : "off"}`;
  li.classList.toggle("offline", !cam.online);
  li.querySelector(".details").textContent =
    `${cam.id}${cam.node ? ` · node ${cam.node}` : ""} · reconnects ${cam.reconnects ?? 0}` +
    `${cam.last_seen ? ` · seen ${ago(cam.last_seen)}` : ""}`;
  return li;
}

async function refreshStatus() {
  try {
    const cams = await api("/api/cameras");
    for (const c of cams) card(c);
    const on = cams.filter((c) => c.online).length;
    summary.textContent = `${on} of ${cams.length} online`;
    summary.className = `badge ${on === cams.length ? "badge-ok" : "badge-warn"}`;
  } catch (e) {
    if (e.status !== 401) toast(`Could not load cameras: ${e.message}`);
  }
}

/** New snapshot URL per refresh (cache-busting query) so the browser fetches a fresh frame. */
function refreshThumbs() {
  if (document.hidden) return;
  const t = Date.now();
  for (const [id, li] of cards) {
    li.querySelector(".thumb").src = `/api/cameras/${encodeURIComponent(id)}/snapshot?t=${t}`;
  }
}

requireUser().then(async () => {
  await refreshStatus();
  refreshThumbs();
  setInterval(refreshThumbs, THUMB_MS);
  setInterval(refreshStatus, THUMB_MS * 2);
});
