// quietmail pages: copy buttons, and instant filtering on the alias page. Pages work without this
// file (the search form filters on the server); this only adds to it. No inline code: the
// Content-Security-Policy allows scripts from this origin only.
"use strict";
(function () {
  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    if (!navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.dataset.copy).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 1500);
      });
    });
  });
  var search = document.getElementById("alias-search");
  var rows = document.querySelectorAll("table.aliases tbody tr[data-search]");
  if (search && rows.length) {
    search.addEventListener("input", function () {
      var q = search.value.trim().toLowerCase();
      rows.forEach(function (row) {
        row.hidden = q !== "" && row.dataset.search.toLowerCase().indexOf(q) === -1;
      });
    });
  }
})();
