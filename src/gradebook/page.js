(function () {
  "use strict";
  var body = document.body;
  var errors = [];
  function report(message) {
    errors.push(String(message));
    body.setAttribute("data-errors", errors.join("; "));
  }
  window.addEventListener("error", function (e) {
    report(e.message || "error");
  });
  window.addEventListener("unhandledrejection", function (e) {
    report("unhandled rejection: " + e.reason);
  });
  try {
    var table = document.getElementById("grades");
    var tbody = table.tBodies[0];
    var headers = table.tHead.querySelectorAll("th[data-sort]");

    var keys = {
      name: function (row) { return row.getAttribute("data-name").toLowerCase(); },
      score: function (row) { return parseFloat(row.getAttribute("data-score")); }
    };

    function sort(by, descending) {
      var key = keys[by];
      if (!key) { return; }
      var rows = Array.prototype.slice.call(tbody.rows);
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var order = typeof x === "number" ? x - y : x.localeCompare(y);
        if (order === 0) { order = keys.name(a).localeCompare(keys.name(b)); }
        return descending ? -order : order;
      });
      rows.forEach(function (row) { tbody.appendChild(row); });
      headers.forEach(function (th) {
        th.setAttribute("aria-sort", th.getAttribute("data-sort") === by
          ? (descending ? "descending" : "ascending") : "none");
      });
    }

    headers.forEach(function (th) {
      var button = document.createElement("button");
      button.type = "button";
      while (th.firstChild) { button.appendChild(th.firstChild); }
      th.appendChild(button);
      th.setAttribute("aria-sort", "none");
      button.addEventListener("click", function () {
        var by = th.getAttribute("data-sort");
        // Names go A to Z first, scores best first; a second click reverses.
        var descending = th.getAttribute("aria-sort") === "none"
          ? by === "score" : th.getAttribute("aria-sort") === "ascending";
        sort(by, descending);
        history.replaceState(null, "", "#sort=" + by + (descending ? "-desc" : ""));
      });
    });

    var wanted = /^#sort=(name|score)(-desc)?$/.exec(location.hash);
    if (wanted) { sort(wanted[1], Boolean(wanted[2])); }

    // Print every failed cell opened, then put them back.
    var opened = [];
    window.addEventListener("beforeprint", function () {
      opened = Array.prototype.filter.call(document.querySelectorAll("details"), function (d) {
        return !d.open;
      });
      opened.forEach(function (d) { d.open = true; });
    });
    window.addEventListener("afterprint", function () {
      opened.forEach(function (d) { d.open = false; });
    });
  } catch (e) {
    report(e && e.message ? e.message : e);
  }
  body.setAttribute("data-ready", "true");
})();
