// Starts Swagger UI on /schema. It lives in a file, not an inline <script>, so the docs page runs
// under the same strict Content-Security-Policy as the app; validatorUrl: null keeps the page
// from asking swagger.io to validate (and so learn about) our schema.
"use strict";
(function () {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
