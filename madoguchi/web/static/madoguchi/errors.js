// The error summary gets the focus when the page opens, so a screen reader reads it first and a
// sighted resident sees it; its links move the focus to the control to fix, with its label in view.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("error-summary");
  if (!summary) { return; }
  summary.focus();
  summary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    if (!link) { return; }
    var target = document.getElementById(link.getAttribute("href").slice(1));
    if (!target) { return; }
    event.preventDefault();
    var group = target.closest("fieldset") || target.closest("form > div") || target;
    group.scrollIntoView({ block: "start" });
    target.focus({ preventScroll: true });
  });
});
