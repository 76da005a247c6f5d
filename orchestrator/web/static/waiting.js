// Our own lobby: Server-Sent Events say where the mediator sends this person. The moment
// they are let in, the page goes into their room; after that, a move to a private room or
// back shows the mediator's words and the button into that room. Without JavaScript the
// page refreshes itself (and has a "Check again" button), which does the same.
(function () {
  "use strict";
  var box = document.getElementById("our-lobby");
  if (!box || !window.EventSource || !window.JSON) { return; }
  var shown = box.getAttribute("data-where");
  var source = new EventSource(box.getAttribute("data-events"));
  // The stream keeps the page current, so the no-JavaScript refresh is not needed.
  var refresh = document.querySelector('meta[http-equiv="refresh"]');
  if (refresh) { refresh.parentNode.removeChild(refresh); }

  function show(where, href) {
    var blocks = box.querySelectorAll("[data-show]");
    var heading = null;
    Array.prototype.forEach.call(blocks, function (block) {
      var mine = block.getAttribute("data-show") === where;
      block.hidden = !mine;
      if (mine) {
        heading = block.querySelector("h1");
        var button = block.querySelector("[data-href]");
        if (button && href) { button.setAttribute("href", href); }
      }
    });
    if (heading) {
      document.title = heading.textContent + " – " + document.title.split(" – ").pop();
      heading.focus();
    }
  }

  source.addEventListener("place", function (event) {
    var place = JSON.parse(event.data);
    if (place.where === shown) { return; }
    var released = place.where === "joint" || place.where === "caucus";
    if (shown === "waiting" && released && place.href) {
      source.close();
      window.location.assign(place.href);  // let in: straight into their room
      return;
    }
    shown = place.where;
    show(place.where, place.href);
    if (place.where === "ended") { source.close(); }
  });
  source.addEventListener("refused", function () {
    source.close();
    shown = "refused";
    show("refused", null);
  });
  window.addEventListener("pagehide", function () { source.close(); });
})();
