// Keyboard help for the back office. Everything here is a shortcut: each action is also a plain link,
// button or form that works without JavaScript. Single-key shortcuts act only outside input fields and
// can be switched off (WCAG 2.1.4 Character Key Shortcuts); the choice is kept in this browser.
(function () {
  "use strict";
  var OFF_KEY = "madoguchi.office.shortcutsOff";

  function shortcutsOff() {
    try { return window.localStorage.getItem(OFF_KEY) === "1"; } catch (e) { return false; }
  }

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function rowLinks() { return Array.prototype.slice.call(document.querySelectorAll("a.row-link")); }

  function moveRow(step) {
    var links = rowLinks();
    if (!links.length) { return; }
    var index = links.indexOf(document.activeElement);
    var next = index < 0 ? 0 : Math.min(links.length - 1, Math.max(0, index + step));
    links[next].focus();
  }

  function toggleRow() {
    var row = document.activeElement && document.activeElement.closest("tr");
    var box = row && row.querySelector("input[name=selected]");
    if (box) { box.checked = !box.checked; syncSelectAll(); }
  }

  function boxes() { return Array.prototype.slice.call(document.querySelectorAll("input[name=selected]")); }

  function syncSelectAll() {
    var all = document.getElementById("select-all");
    if (!all) { return; }
    var list = boxes();
    all.checked = list.length > 0 && list.every(function (b) { return b.checked; });
  }

  function setupSelectAll() {
    var all = document.getElementById("select-all");
    if (!all) { return; }
    all.hidden = false;
    document.querySelectorAll(".no-js-select").forEach(function (link) { link.hidden = true; });
    all.addEventListener("change", function () {
      boxes().forEach(function (b) { b.checked = all.checked; });
    });
    boxes().forEach(function (b) { b.addEventListener("change", syncSelectAll); });
    syncSelectAll();
  }

  // 書留 numbers: with the shared first digits typed once, each row takes the rest and moves on.
  function setupTracking() {
    var form = document.getElementById("mailing-form");
    var prefix = document.getElementById("tracking-prefix");
    if (!form || !prefix) { return; }
    var rows = Array.prototype.slice.call(form.querySelectorAll("input.tracking"));
    var FULL = 11;
    function digits(value) { return value.replace(/[^0-9０-９]/g, "").length; }
    prefix.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); if (rows[0]) { rows[0].focus(); } }
    });
    prefix.addEventListener("input", function () {
      if (digits(prefix.value) === 5 && rows[0]) { rows[0].focus(); }
    });
    rows.forEach(function (input, index) {
      input.addEventListener("input", function () {
        var want = FULL - digits(prefix.value);
        if (digits(prefix.value) > 0 && digits(input.value) === want && rows[index + 1]) { rows[index + 1].focus(); }
      });
      input.addEventListener("keydown", function (event) {
        // Enter submits only from the last row, so a stray Enter never marks half a batch mailed.
        if (event.key === "Enter" && index < rows.length - 1) { event.preventDefault(); rows[index + 1].focus(); }
      });
    });
  }

  function setupOffSwitch() {
    var box = document.getElementById("shortcuts-off");
    if (!box) { return; }
    box.checked = shortcutsOff();
    box.addEventListener("change", function () {
      try { window.localStorage.setItem(OFF_KEY, box.checked ? "1" : "0"); } catch (e) { /* private mode */ }
    });
  }

  function click(id) {
    var element = document.getElementById(id);
    if (element) { element.click(); return true; }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if (shortcutsOff()) { return; }
    var handled = true;
    switch (event.key) {
      case "/": { var search = document.getElementById("search"); if (search) { search.focus(); } else { handled = false; } break; }
      case "j": moveRow(1); break;
      case "k": moveRow(-1); break;
      case "x": toggleRow(); break;
      case "a": {
        var all = document.getElementById("select-all");
        if (all) { all.checked = !all.checked; all.dispatchEvent(new Event("change")); } else { handled = false; }
        break;
      }
      case "n": handled = click("approve-next"); break;
      case "r": handled = click("reject-link"); break;
      case "u": window.location.href = document.querySelector(".bar .brand").href; break;
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    setupSelectAll();
    setupTracking();
    setupOffSwitch();
  });
})();
