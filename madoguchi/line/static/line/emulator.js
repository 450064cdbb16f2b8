// The emulator's chat page shows push notices as they arrive: it reloads when the chat has grown,
// unless the user is typing.
(function () {
  var input = document.getElementById("chat-text");
  var shown = document.body.dataset.count;
  window.scrollTo(0, document.body.scrollHeight);
  setInterval(function () {
    if (input && input.value) { return; }
    fetch(document.body.dataset.countUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) { if (String(data.count) !== shown) { window.location.reload(); } });
  }, 1500);
})();
