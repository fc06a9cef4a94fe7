// modelmgmt UI: sortable tables, column choice, smoothing readout. No data leaves the page.
"use strict";
(function () {
  function cellValue(row, index, kind) {
    var cell = row.children[index];
    var text = cell ? cell.textContent.trim() : "";
    if (kind === "num") {
      var v = parseFloat(text.replace(/[,%]/g, ""));
      return isNaN(v) ? -Infinity : v;
    }
    return text.toLowerCase();
  }
  function makeSortable(table) {
    var heads = table.querySelectorAll("thead th[data-sort]");
    heads.forEach(function (th) {
      th.addEventListener("click", function () {
        var index = Array.prototype.indexOf.call(th.parentNode.children, th);
        var kind = th.getAttribute("data-sort");
        var asc = !th.classList.contains("sorted-asc");
        heads.forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
        th.classList.add(asc ? "sorted-asc" : "sorted-desc");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a, index, kind), y = cellValue(b, index, kind);
          return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }
  function columnToggles() {
    document.querySelectorAll("input.col-toggle").forEach(function (box) {
      box.addEventListener("change", function () {
        var col = box.getAttribute("data-col");
        document.querySelectorAll("[data-col]").forEach(function (el) {
          if (el.getAttribute("data-col") === col && el !== box) { el.hidden = !box.checked; }
        });
      });
    });
  }
  function smoothReadout() {
    document.querySelectorAll("input.smooth-range").forEach(function (range) {
      var out = range.parentNode.querySelector("output.smooth-value");
      range.addEventListener("input", function () { if (out) { out.textContent = range.value; } });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.mm-sortable").forEach(makeSortable);
    columnToggles();
    smoothReadout();
  });
})();
