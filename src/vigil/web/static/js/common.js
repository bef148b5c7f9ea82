// Shared helpers for every console page: API calls with the CSRF header, the session check,
// small DOM helpers and the top bar. ES module, no dependencies.

/** Value of the (non-HttpOnly) CSRF cookie set by POST /api/auth/login. */
export function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)vigil_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : "";
}

export function toLogin() {
  const next = location.pathname + location.search;
  location.assign("/login" + (next && next !== "/" ? "?next=" + encodeURIComponent(next) : ""));
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
  }
}

/** fetch() against the API: JSON in and out, CSRF header on mutating calls, 401 -> login page. */
export async function api(path, { method = "GET", body, redirectOn401 = true } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401 && redirectOn401) {
    toLogin();
    throw new ApiError(401, "not logged in");
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) throw new ApiError(res.status, data && data.detail !== undefined ? data.detail : data);
  return data;
}

/** Human-readable text of a FastAPI error detail (string or list of {loc, msg}). */
export function errorText(err) {
  const d = err instanceof ApiError ? err.detail : String(err);
  if (Array.isArray(d)) {
    return d.map((e) => (e.loc ? e.loc.filter((p) => p !== "body").join(".") + ": " : "") + (e.msg || JSON.stringify(e)));
  }
  return [typeof d === "string" ? d : JSON.stringify(d)];
}

/** Create an element: el("td", {class: "x", text: "y"}, child...). Text only, never innerHTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

export function ago(iso) {
  if (!iso) return "";
  const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (!Number.isFinite(s)) return "";
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

export function toast(msg, ms = 4000) {
  const t = document.getElementById("toast");
  if (!t) return;
  t.textContent = msg;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, ms);
}

export const canOperate = (role) => role === "operator" || role === "admin";

let mePromise = null;
/** The logged-in user ({username, role}); redirects to /login on 401. Cached per page. */
export function requireUser() {
  if (!mePromise) {
    mePromise = api("/api/auth/me").then((me) => {
      document.body.dataset.role = me.role;
      const who = document.getElementById("whoami");
      if (who) who.textContent = `${me.username} · ${me.role}`;
      for (const n of document.querySelectorAll(".admin-only")) n.hidden = me.role !== "admin";
      for (const n of document.querySelectorAll(".operator-only")) n.hidden = !canOperate(me.role);
      return me;
    });
  }
  return mePromise;
}

// htmx requests (hx-post buttons) carry the CSRF header too; after logout go to the login page.
document.addEventListener("htmx:configRequest", (ev) => {
  ev.detail.headers["X-CSRF-Token"] = csrfToken();
});
document.addEventListener("htmx:afterRequest", (ev) => {
  const elt = ev.detail.elt;
  if (elt && elt.id === "logout") location.assign("/login");
  else if (ev.detail.xhr && ev.detail.xhr.status === 401) toLogin();
});
document.addEventListener("htmx:responseError", (ev) => {
  toast(`Request failed (HTTP ${ev.detail.xhr.status})`);
});

if (!document.body.classList.contains("page-login")) requireUser().catch(() => {});
