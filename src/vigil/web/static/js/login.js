// Login form: POST /api/auth/login as JSON, then go to ?next= (same-origin paths only) or /.
import { api, errorText } from "./common.js";

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
    const next = new URLSearchParams(location.search).get("next") || "/";
    // Only local paths: "/x" but not "//host" (open-redirect guard).
    location.assign(next.startsWith("/") && !next.startsWith("//") ? next : "/");
  } catch (e) {
    err.textContent = e.status === 401 ? "Wrong user name or password." : errorText(e).join("; ");
    err.hidden = false;
    form.password.select();
  } finally {
    button.disabled = false;
  }
});
