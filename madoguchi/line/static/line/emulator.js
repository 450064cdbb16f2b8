// The emulator's chat page shows push notices as they arrive: reload unless the user is typing.
(function () {
  var input = document.getElementById("chat-text");
  window.scrollTo(0, document.body.scrollHeight);
  setInterval(function () {
    if (input && (input.value || document.activeElement === input)) { return; }
    window.location.reload();
  }, 3000);
})();
