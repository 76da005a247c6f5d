// Keep the room console current: Server-Sent Events say when who-is-where changed, and we
// swap in the server-rendered panel. Without JavaScript the refresh link does the same.
(function () {
  "use strict";
  var panel = document.getElementById("room-panel");
  if (!panel || !window.EventSource || !window.fetch) { return; }
  var source = new EventSource(panel.getAttribute("data-events"));
  // The page says which state it shows; only a different state is worth fetching.
  var shown = panel.getAttribute("data-token");
  source.addEventListener("change", function (event) {
    if (event.data === shown) { return; }
    shown = event.data;
    fetch(panel.getAttribute("data-panel"), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var focused = document.activeElement && document.activeElement.id;
        var parsed = new DOMParser().parseFromString(html, "text/html");
        panel.replaceChildren.apply(panel, Array.prototype.slice.call(parsed.body.childNodes));
        if (focused) {
          var again = document.getElementById(focused);
          if (again) { again.focus(); }
        }
      });
  });
  window.addEventListener("pagehide", function () { source.close(); });
})();
