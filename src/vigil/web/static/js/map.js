// Camera map on a plain <canvas>: equirectangular projection fitted to the cameras' bounding box
// (longitude scaled by cos(mean latitude) so distances look right), a lat/lon grid with labels,
// markers coloured by status; click or Enter on a marker opens the camera. No tiles, no network.
import { api, el, requireUser } from "./common.js";

const canvas = document.getElementById("map");
const tip = document.getElementById("map-tip");
const list = document.getElementById("map-list");
const PAD = 48;
let cams = [];
let markers = []; // [{cam, x, y}] in CSS pixels

/** A "nice" grid step (1, 2 or 5 × 10^n) giving about `n` lines over `span` degrees. */
function niceStep(span, n = 6) {
  const raw = span / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw);
}

function fmtDeg(v, step, pos, neg) {
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  return `${Math.abs(v).toFixed(digits)}°${v >= 0 ? pos : neg}`;
}

function draw() {
  const css = getComputedStyle(document.documentElement);
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = css.getPropertyValue("--map-bg").trim() || "#0b1118";
  ctx.fillRect(0, 0, w, h);
  markers = [];
  const placed = cams.filter((c) => Number.isFinite(c.lat) && Number.isFinite(c.lon));
  if (!placed.length) {
    ctx.fillStyle = "#8aa0b4";
    ctx.font = "16px system-ui, sans-serif";
    ctx.fillText("No camera has a location (lat/lon) in the configuration.", PAD, PAD);
    return;
  }
  let minLat = Math.min(...placed.map((c) => c.lat));
  let maxLat = Math.max(...placed.map((c) => c.lat));
  let minLon = Math.min(...placed.map((c) => c.lon));
  let maxLon = Math.max(...placed.map((c) => c.lon));
  // At least ~1 km of extent so one camera (or a cluster) still gets a sensible grid.
  const minSpan = 0.01;
  if (maxLat - minLat < minSpan) { const m = (minLat + maxLat) / 2; minLat = m - minSpan / 2; maxLat = m + minSpan / 2; }
  const kx = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
  if ((maxLon - minLon) * kx < minSpan) { const m = (minLon + maxLon) / 2; minLon = m - minSpan / kx / 2; maxLon = m + minSpan / kx / 2; }
  // Fit: same scale on both axes (in "corrected" degrees), centred.
  const scale = Math.min((w - 2 * PAD) / ((maxLon - minLon) * kx), (h - 2 * PAD) / (maxLat - minLat));
  const cx = (minLon + maxLon) / 2;
  const cy = (minLat + maxLat) / 2;
  const X = (lon) => w / 2 + (lon - cx) * kx * scale;
  const Y = (lat) => h / 2 - (lat - cy) * scale;
  const lonAt = (x) => cx + (x - w / 2) / (kx * scale);
  const latAt = (y) => cy - (y - h / 2) / scale;

  // Grid with labels.
  ctx.strokeStyle = css.getPropertyValue("--map-grid").trim() || "#1d2a38";
  ctx.fillStyle = "#7d93a8";
  ctx.lineWidth = 1;
  ctx.font = "11px ui-monospace, monospace";
  const lonStep = niceStep(lonAt(w) - lonAt(0));
  const latStep = niceStep(latAt(0) - latAt(h));
  for (let lon = Math.ceil(lonAt(0) / lonStep) * lonStep; lon <= lonAt(w); lon += lonStep) {
    const x = Math.round(X(lon)) + 0.5;
    ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, h); ctx.stroke();
    ctx.fillText(fmtDeg(lon, lonStep, "E", "W"), x + 3, h - 6);
  }
  for (let lat = Math.ceil(latAt(h) / latStep) * latStep; lat <= latAt(0); lat += latStep) {
    const y = Math.round(Y(lat)) + 0.5;
    ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(w, y); ctx.stroke();
    ctx.fillText(fmtDeg(lat, latStep, "N", "S"), 4, y < 16 ? y + 13 : y - 4); // keep the top label inside
  }

  // Markers: online green, offline red with a ring; labels beside them.
  ctx.font = "13px system-ui, sans-serif";
  for (const cam of placed) {
    const x = X(cam.lon);
    const y = Y(cam.lat);
    markers.push({ cam, x, y });
    ctx.beginPath();
    ctx.arc(x, y, 8, 0, 2 * Math.PI);
    ctx.fillStyle = cam.online ? "#2ecc71" : "#ff4d4f";
    ctx.fill();
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#0b1118";
    ctx.stroke();
    if (!cam.online) {
      ctx.beginPath(); ctx.arc(x, y, 13, 0, 2 * Math.PI); ctx.strokeStyle = "#ff4d4f"; ctx.stroke();
    }
    ctx.fillStyle = "#dce6f0";
    ctx.fillText(cam.name || cam.id, x + 14, y + 4);
  }
}

function hit(ev) {
  const r = canvas.getBoundingClientRect();
  const x = ev.clientX - r.left;
  const y = ev.clientY - r.top;
  let best = null;
  for (const m of markers) {
    const d = Math.hypot(m.x - x, m.y - y);
    if (d <= 14 && (!best || d < best.d)) best = { ...m, d };
  }
  return best;
}

canvas.addEventListener("click", (ev) => {
  const m = hit(ev);
  if (m) location.assign(`/cameras/${encodeURIComponent(m.cam.id)}`);
});
canvas.addEventListener("mousemove", (ev) => {
  const m = hit(ev);
  canvas.style.cursor = m ? "pointer" : "default";
  tip.hidden = !m;
  if (m) {
    tip.textContent = `${m.cam.name || m.cam.id} — ${m.cam.online ? "online" : "offline"}` +
      `${m.cam.node ? ` · node ${m.cam.node}` : ""}`;
    tip.style.left = `${m.x + 16}px`;
    tip.style.top = `${m.y - 30}px`;
  }
});
window.addEventListener("resize", draw);

requireUser().then(async () => {
  cams = await api("/api/cameras");
  // The same cameras as an accessible list (keyboard and screen readers).
  list.replaceChildren(...cams.map((c) => el("li", {},
    el("span", { class: `dot ${c.online ? "dot-on" : "dot-off"}`, "aria-hidden": "true" }), " ",
    el("a", { href: `/cameras/${encodeURIComponent(c.id)}`, text: c.name || c.id }),
    el("span", { class: "muted small", text: Number.isFinite(c.lat) ? ` ${c.lat.toFixed(5)}, ${c.lon.toFixed(5)}` : " no location" }),
    el("span", { class: "sr-only", text: c.online ? " online" : " offline" }),
  )));
  draw();
});
