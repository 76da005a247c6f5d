// Keep the room console current: Server-Sent Events say when who-is-where changed, and we
// swap in the server-rendered panel. Without JavaScript the refresh link does the same.
// The swap keeps the keyboard where it was (the control with the same id) and keeps what
// the mediator had typed, ticked or chosen in the panel but not yet sent.
(function () {
  "use strict";
  var panel = document.getElementById("room-panel");
  if (!panel || !window.EventSource || !window.fetch) { return; }
  var source = new EventSource(panel.getAttribute("data-events"));
  // The page says which state it shows; only a different state is worth fetching.
  var shown = panel.getAttribute("data-token");
  var touched = {};
  function remember(event) {
    if (event.target && event.target.id) { touched[event.target.id] = true; }
  }
  panel.addEventListener("input", remember);
  panel.addEventListener("change", remember);
  panel.addEventListener("submit", function () { touched = {}; });

  function unsent() {
    var kept = {};
    Object.keys(touched).forEach(function (id) {
      var field = document.getElementById(id);
      if (field) { kept[id] = { value: field.value, checked: field.checked }; }
    });
    return kept;
  }

  function putBack(kept) {
    Object.keys(kept).forEach(function (id) {
      var field = document.getElementById(id);
      if (!field) { delete touched[id]; return; }
      if (field.type === "checkbox" || field.type === "radio") {
        field.checked = kept[id].checked;
      } else {
        field.value = kept[id].value;
      }
    });
  }

  function swap(html) {
    var focused = document.activeElement && panel.contains(document.activeElement)
      ? document.activeElement.id : "";
    var kept = unsent();
    var parsed = new DOMParser().parseFromString(html, "text/html");
    panel.replaceChildren.apply(panel, Array.prototype.slice.call(parsed.body.childNodes));
    putBack(kept);
    if (focused) {
      var again = document.getElementById(focused);
      if (again) { again.focus({ preventScroll: true }); }
    }
  }

  source.addEventListener("change", function (event) {
    if (event.data === shown) { return; }
    shown = event.data;
    fetch(panel.getAttribute("data-panel"), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html !== null) { swap(html); } });
  });
  window.addEventListener("pagehide", function () { source.close(); });
})();
