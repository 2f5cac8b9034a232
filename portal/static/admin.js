// Administration: apply an import batch by batch with a progress bar; print login sheets.
(function () {
  "use strict";

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  var form = document.getElementById("apply-import");
  if (!form) { return; }
  var bar = document.getElementById("import-progress");
  var text = document.getElementById("import-progress-text");
  var token = form.querySelector("input[name=csrf_token]").value;

  function step() {
    return fetch(form.dataset.batchUrl, {
      method: "POST",
      headers: {"X-CSRFToken": token, "Accept": "application/json"},
      body: new URLSearchParams({csrf_token: token}),
      credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (state) {
      bar.max = state.total;
      bar.value = state.done;
      text.textContent = state.done + " / " + state.total;
      if (state.finished) { window.location.assign(state.next); return null; }
      return step();
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    form.querySelector("button[type=submit]").disabled = true;
    bar.hidden = false;
    step().catch(function () {
      text.textContent = form.dataset.error;
    });
  });
})();
