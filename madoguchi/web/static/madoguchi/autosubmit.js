// Submits forms marked data-autosubmit (the return from the card page); the button remains for no-JS.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) { form.submit(); });
});
