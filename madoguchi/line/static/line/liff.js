// Inside LINE: initialise LIFF, take the ID token and hand it to our server, which verifies it.
(function () {
  var form = document.getElementById("liff-form");
  if (!form || !window.liff) { return; }
  window.liff.init({ liffId: form.dataset.liffId }).then(function () {
    var token = window.liff.getIDToken();
    if (token) {
      form.elements.id_token.value = token;
      form.submit();
    }
  });
})();
