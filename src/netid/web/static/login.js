// The login page moves on by itself once the wallet answers (docs/decisions/0006): it polls
// the cookie-bound status URL every second and follows "next". No inline script (CSP).
(function () {
  "use strict";
  var section = document.getElementById("login");
  var status = document.getElementById("login-status");
  if (!section || !status) { return; }
  var url = section.getAttribute("data-status-url");
  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.json().then(function (body) { return [response.status, body]; }); })
      .then(function (answer) {
        var code = answer[0], body = answer[1];
        if (code === 200 && body.next) { window.location.assign(body.next); return; }
        if (code === 200 && body.status === "pending") { window.setTimeout(poll, 1000); return; }
        status.textContent = body.status === "denied" ? status.getAttribute("data-denied") : status.getAttribute("data-expired");
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 1000);
}());
