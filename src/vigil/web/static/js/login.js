// Login form: POST /api/auth/login as JSON, then go to ?next= (same-origin paths only) or /.
import { api, errorText } from "./common.js";

/**
 * Where to go after login: ?next= resolved by the browser's own URL parser against this page,
 * accepted only if it stays on this origin. String checks are not enough: the parser turns
 * "/\\evil.example" into //evil.example and drops tabs and newlines ("/\t/evil.example").
 */
export function safeNext(raw, here = window.location) {
  if (!raw) return "/";
  let url;
  try {
    url = new URL(raw, here.origin);
  } catch {
    return "/";
  }
  if (url.origin !== here.origin || (url.protocol !== "http:" && url.protocol !== "https:")) return "/";
  // The absolute URL, never a path: "//x" as a path would itself be read as another host.
  return url.href;
}

const form = document.getElementById("login-form");
const err = document.getElementById("login-error");

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  err.hidden = true;
  const body = { username: form.username.value.trim(), password: form.password.value };
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await api("/api/auth/login", { method: "POST", body, redirectOn401: false });
    location.assign(safeNext(new URLSearchParams(location.search).get("next")));
  } catch (e) {
    err.textContent = e.status === 401 ? "Wrong user name or password." : errorText(e).join("; ");
    err.hidden = false;
    form.password.select();
  } finally {
    button.disabled = false;
  }
});
