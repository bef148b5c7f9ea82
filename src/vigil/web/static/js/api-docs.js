// /api/docs: start the vendored Swagger UI (a static file, so the page needs no inline script).
// "Try it out" calls from the console's session send the CSRF header like the console does.
(function () {
  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)vigil_csrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  window.ui = window.SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: false,
    requestInterceptor: (req) => {
      if (req.method && !["GET", "HEAD", "OPTIONS"].includes(req.method.toUpperCase())) {
        req.headers["X-CSRF-Token"] = csrfToken();
      }
      return req;
    },
  });
})();
