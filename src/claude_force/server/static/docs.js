// Swagger UI for the server's OpenAPI description; its files are served by this server
// (from the fastapi-offline package), so the strict content-security policy holds.
(function () {
  "use strict";
  window.ui = window.SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    layout: "BaseLayout",
    presets: [window.SwaggerUIBundle.presets.apis],
    validatorUrl: null
  });
}());
