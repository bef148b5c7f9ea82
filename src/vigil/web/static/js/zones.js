// Zone editor: polygons over the camera's redacted snapshot, in normalised 0..1 coordinates.
// Click "New zone" then click to add points (Enter, double-click or "Finish polygon" closes it);
// drag any point to move it; click inside a zone to select it; Delete removes the selected point;
// "Draw arrow" then drag on the image sets a roadway's lane direction. Saved with
// PUT /api/cameras/{id}/zones {zones, lines}; 422 details are listed beside the form.
import { api, el, errorText, requireUser } from "./common.js";

const root = document.getElementById("zones-editor");
const camId = root.dataset.cameraId;
const img = document.getElementById("z-img");
const canvas = document.getElementById("z-canvas");
const ctx = canvas.getContext("2d");
const list = document.getElementById("z-list");
const form = document.getElementById("z-form");
const errors = document.getElementById("z-errors");
const saved = document.getElementById("z-saved");
const $ = (id) => document.getElementById(id);

const COLORS = { roadway: "#3fa9f5", sidewalk: "#2ecc71", tracks: "#f5a623", restricted: "#ff4d4f", "crowd-area": "#b57cff" };
let zones = [];
let lines = [];
let sel = -1; // selected zone index
let selVertex = null; // {kind: "zone"|"line", i, j}
let drag = null; // same shape as selVertex while dragging
let draft = null; // points of the polygon being drawn
let dirStart = null; // [x, y] while drawing a direction arrow
let dirPreview = null;
let mode = "select"; // "select" | "draw" | "dir"

const clamp = (v) => Math.min(1, Math.max(0, Math.round(v * 10000) / 10000));

function toNorm(ev) {
  const r = canvas.getBoundingClientRect();
  return [clamp((ev.clientX - r.left) / r.width), clamp((ev.clientY - r.top) / r.height)];
}

function px([x, y]) { return [x * canvas.clientWidth, y * canvas.clientHeight]; }

function centroid(poly) {
  const n = poly.length || 1;
  return [poly.reduce((s, p) => s + p[0], 0) / n, poly.reduce((s, p) => s + p[1], 0) / n];
}

/** Point-in-polygon (ray casting), normalised coordinates. */
function inside([x, y], poly) {
  let c = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
}

function arrow(from, d, color) {
  const [x0, y0] = px(from);
  const len = Math.min(canvas.clientWidth, canvas.clientHeight) * 0.15;
  const n = Math.hypot(d[0], d[1]) || 1;
  const x1 = x0 + (d[0] / n) * len;
  const y1 = y0 + (d[1] / n) * len;
  const a = Math.atan2(y1 - y0, x1 - x0);
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = 3;
  ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.stroke();
  ctx.beginPath();
  ctx.moveTo(x1, y1);
  ctx.lineTo(x1 - 12 * Math.cos(a - 0.45), y1 - 12 * Math.sin(a - 0.45));
  ctx.lineTo(x1 - 12 * Math.cos(a + 0.45), y1 - 12 * Math.sin(a + 0.45));
  ctx.closePath(); ctx.fill();
}

function path(points, close) {
  ctx.beginPath();
  points.forEach((p, k) => { const [x, y] = px(p); if (k) ctx.lineTo(x, y); else ctx.moveTo(x, y); });
  if (close) ctx.closePath();
}

function handles(points, kind, i) {
  points.forEach((p, j) => {
    const [x, y] = px(p);
    const on = selVertex && selVertex.kind === kind && selVertex.i === i && selVertex.j === j;
    ctx.fillStyle = on ? "#ffffff" : "#0b1118";
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(x, y, on ? 6 : 4.5, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
  });
}

function draw() {
  const w = img.clientWidth;
  const h = img.clientHeight;
  const dpr = window.devicePixelRatio || 1;
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = "600 13px system-ui, sans-serif";
  zones.forEach((z, i) => {
    const color = COLORS[z.kind] || "#cccccc";
    path(z.polygon, true);
    ctx.fillStyle = `${color}${i === sel ? "55" : "30"}`;
    ctx.fill();
    ctx.strokeStyle = color;
    ctx.lineWidth = i === sel ? 3 : 2;
    ctx.stroke();
    const c = centroid(z.polygon);
    if (z.kind === "roadway" && z.direction) arrow(c, z.direction, "#ffffff");
    const [lx, ly] = px(c);
    ctx.fillStyle = "#ffffff";
    ctx.fillText(`${z.id} (${z.kind})`, lx + 6, ly - 8);
    handles(z.polygon, "zone", i);
  });
  lines.forEach((l, i) => {
    path(l.points, false);
    ctx.strokeStyle = "#ffd400";
    ctx.setLineDash([8, 6]);
    ctx.lineWidth = 2;
    ctx.stroke();
    ctx.setLineDash([]);
    const [lx, ly] = px(l.points[0] || [0, 0]);
    ctx.fillStyle = "#ffd400";
    ctx.fillText(l.id, lx + 6, ly - 6);
    handles(l.points, "line", i);
  });
  if (draft) {
    path(draft, false);
    ctx.strokeStyle = "#ffffff";
    ctx.setLineDash([4, 4]);
    ctx.lineWidth = 2;
    ctx.stroke();
    ctx.setLineDash([]);
    handles(draft, "draft", 0);
  }
  if (dirStart && dirPreview) arrow(dirStart, [dirPreview[0] - dirStart[0], dirPreview[1] - dirStart[1]], "#ffd400");
}

function renderList() {
  list.replaceChildren(...zones.map((z, i) => {
    const b = el("button", { type: "button", class: `zone-item${i === sel ? " selected" : ""}`, "aria-pressed": String(i === sel) },
      el("span", { class: `swatch kind-${z.kind}`, "aria-hidden": "true" }), ` ${z.id} `, el("span", { class: "muted small", text: z.kind }));
    b.addEventListener("click", () => select(i));
    return el("li", {}, b);
  }));
  if (!zones.length) list.append(el("li", { class: "muted", text: "No zones yet." }));
  const z = zones[sel];
  form.hidden = !z;
  if (z) {
    $("z-id").value = z.id;
    $("z-kind").value = z.kind;
    $("z-dx").value = z.direction ? z.direction[0] : "";
    $("z-dy").value = z.direction ? z.direction[1] : "";
    $("z-dir-set").disabled = z.kind !== "roadway";
  }
}

function select(i) {
  sel = i;
  selVertex = null;
  renderList();
  draw();
}

function setMode(m) {
  mode = m;
  $("z-finish").disabled = m !== "draw";
  $("z-new").setAttribute("aria-pressed", String(m === "draw"));
  $("z-dir-draw").setAttribute("aria-pressed", String(m === "dir"));
  canvas.dataset.mode = m;
}

function uniqueId(base) {
  let n = zones.length + 1;
  while (zones.some((z) => z.id === `${base}-${n}`)) n += 1;
  return `${base}-${n}`;
}

function finishDraft() {
  if (draft && draft.length >= 3) {
    zones.push({ id: uniqueId("zone"), kind: "roadway", polygon: draft, direction: null });
    sel = zones.length - 1;
  }
  draft = null;
  setMode("select");
  renderList();
  draw();
}

function hitVertex(p) {
  const [x, y] = px(p);
  const near = (q) => { const [qx, qy] = px(q); return Math.hypot(qx - x, qy - y) <= 9; };
  // The selected zone's points win over others.
  const order = [...zones.keys()].sort((a, b) => (b === sel) - (a === sel));
  for (const i of order) {
    const j = zones[i].polygon.findIndex(near);
    if (j >= 0) return { kind: "zone", i, j };
  }
  for (const [i, l] of lines.entries()) {
    const j = l.points.findIndex(near);
    if (j >= 0) return { kind: "line", i, j };
  }
  return null;
}

const pointsOf = (v) => (v.kind === "zone" ? zones[v.i].polygon : lines[v.i].points);

canvas.addEventListener("pointerdown", (ev) => {
  const p = toNorm(ev);
  canvas.setPointerCapture(ev.pointerId);
  if (mode === "draw") {
    draft.push(p);
  } else if (mode === "dir") {
    dirStart = p;
    dirPreview = p;
  } else {
    const v = hitVertex(p);
    if (v) {
      drag = v;
      selVertex = v;
      if (v.kind === "zone") sel = v.i;
    } else {
      selVertex = null;
      sel = zones.findLastIndex((z) => inside(p, z.polygon));
    }
    renderList();
  }
  draw();
});

canvas.addEventListener("pointermove", (ev) => {
  if (drag) {
    pointsOf(drag)[drag.j] = toNorm(ev);
    draw();
  } else if (dirStart) {
    dirPreview = toNorm(ev);
    draw();
  }
});

canvas.addEventListener("pointerup", (ev) => {
  if (dirStart && zones[sel]) {
    const [x1, y1] = toNorm(ev);
    const dx = x1 - dirStart[0];
    const dy = y1 - dirStart[1];
    const n = Math.hypot(dx, dy);
    if (n > 0.01) zones[sel].direction = [Math.round((dx / n) * 100) / 100, Math.round((dy / n) * 100) / 100];
    dirStart = null;
    dirPreview = null;
    setMode("select");
    renderList();
  }
  drag = null;
  draw();
});

canvas.addEventListener("dblclick", () => { if (mode === "draw") { draft.pop(); finishDraft(); } });

document.addEventListener("keydown", (ev) => {
  if (ev.target.closest("input, select, textarea")) return;
  if (ev.key === "Enter" && mode === "draw") finishDraft();
  else if (ev.key === "Escape") { draft = null; dirStart = null; setMode("select"); draw(); }
  else if ((ev.key === "Delete" || ev.key === "Backspace") && selVertex) {
    const pts = pointsOf(selVertex);
    if (pts.length > (selVertex.kind === "zone" ? 3 : 2)) pts.splice(selVertex.j, 1);
    selVertex = null;
    draw();
    ev.preventDefault();
  }
});

$("z-new").addEventListener("click", () => { draft = []; sel = -1; setMode("draw"); renderList(); draw(); });
$("z-finish").addEventListener("click", finishDraft);
$("z-id").addEventListener("input", (ev) => { if (zones[sel]) { zones[sel].id = ev.target.value.trim(); renderList(); draw(); } });
$("z-kind").addEventListener("change", (ev) => {
  const z = zones[sel];
  if (!z) return;
  z.kind = ev.target.value;
  if (z.kind !== "roadway") z.direction = null;
  renderList();
  draw();
});
for (const k of ["z-dx", "z-dy"]) {
  $(k).addEventListener("change", () => {
    const z = zones[sel];
    if (!z) return;
    const dx = Number($("z-dx").value);
    const dy = Number($("z-dy").value);
    z.direction = $("z-dx").value === "" && $("z-dy").value === "" ? null : [dx || 0, dy || 0];
    draw();
  });
}
$("z-dir-draw").addEventListener("click", () => setMode(mode === "dir" ? "select" : "dir"));
$("z-dir-clear").addEventListener("click", () => { if (zones[sel]) { zones[sel].direction = null; renderList(); draw(); } });
$("z-delete").addEventListener("click", () => {
  if (sel < 0) return;
  zones.splice(sel, 1);
  select(-1);
});

$("z-save").addEventListener("click", async () => {
  errors.hidden = true;
  saved.hidden = true;
  const body = {
    zones: zones.map((z) => ({ id: z.id, kind: z.kind, polygon: z.polygon, direction: z.kind === "roadway" ? z.direction : null })),
    lines: lines.map((l) => ({ id: l.id, points: l.points })),
  };
  try {
    await api(`/api/cameras/${encodeURIComponent(camId)}/zones`, { method: "PUT", body });
    saved.textContent = `Saved ${body.zones.length} zone(s) at ${new Date().toLocaleTimeString()}.`;
    saved.hidden = false;
  } catch (e) {
    errors.replaceChildren(el("strong", { text: `Not saved (HTTP ${e.status ?? "?"}):` }),
      el("ul", {}, ...errorText(e).map((t) => el("li", { text: t }))));
    errors.hidden = false;
  }
});

window.addEventListener("resize", draw);
img.addEventListener("load", draw);

requireUser().then(async () => {
  img.src = `/api/cameras/${encodeURIComponent(camId)}/snapshot?t=${Date.now()}`;
  const cam = (await api("/api/cameras")).find((c) => c.id === camId);
  if (!cam) {
    errors.textContent = `Unknown camera ${camId}.`;
    errors.hidden = false;
    return;
  }
  $("zones-cam").textContent = cam.name || cam.id;
  zones = (cam.zones || []).map((z) => ({ id: z.id, kind: z.kind, polygon: z.polygon.map((p) => [...p]), direction: z.direction || null }));
  lines = (cam.lines || []).map((l) => ({ id: l.id, points: l.points.map((p) => [...p]) }));
  renderList();
  draw();
});
