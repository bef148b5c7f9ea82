// One camera: the latest redacted snapshot, and the MJPEG live view (/api/cameras/{id}/live),
// which only runs while the user has pressed Watch. Removing the <img> src closes the stream.
import { api, requireUser } from "./common.js";

const root = document.getElementById("camera");
const id = root.dataset.cameraId;
const live = document.getElementById("live-img");
const still = document.getElementById("live-still");
const btn = document.getElementById("watch-btn");
const base = `/api/cameras/${encodeURIComponent(id)}`;

function stop() {
  live.removeAttribute("src"); // drops the multipart connection
  live.hidden = true;
  still.hidden = false;
  still.src = `${base}/snapshot?t=${Date.now()}`;
  btn.textContent = "Watch";
  btn.setAttribute("aria-pressed", "false");
}

function start() {
  live.src = `${base}/live?t=${Date.now()}`;
  live.hidden = false;
  still.hidden = true;
  btn.textContent = "Stop";
  btn.setAttribute("aria-pressed", "true");
}

btn.addEventListener("click", () => (btn.getAttribute("aria-pressed") === "true" ? stop() : start()));
// Leaving the page (or hiding the tab) stops the stream; nothing streams in the background.
window.addEventListener("pagehide", stop);
document.addEventListener("visibilitychange", () => { if (document.hidden && !live.hidden) stop(); });

requireUser().then(async () => {
  still.src = `${base}/snapshot?t=${Date.now()}`;
  try {
    const cam = (await api("/api/cameras")).find((c) => c.id === id);
    if (!cam) {
      document.getElementById("cam-title").textContent = `Unknown camera ${id}`;
      return;
    }
    document.getElementById("cam-title").textContent = cam.name || cam.id;
    const pill = document.getElementById("cam-status");
    pill.textContent = `${cam.online ? "online" : "offline"}${cam.node ? ` · node ${cam.node}` : ""}` +
      ` · reconnects ${cam.reconnects ?? 0}`;
    pill.className = `status-pill ${cam.online ? "on" : "off"}`;
  } catch { /* title stays the id */ }
});
