// Administration: a form's buttons wait for its answer; apply an import batch by batch with
// a progress bar; print login sheets.
(function () {
  "use strict";

  // A second click would send the form again (the server refuses the double, but says so
  // instead of the answer). The buttons are disabled once the browser has taken the clicked
  // one's name and value, and enabled again when it shows the page from its back/forward
  // cache. A form that another handler sends itself (the import's batches) is left alone, and
  // so is a search (GET), which changes nothing.
  document.addEventListener("submit", function (event) {
    if (event.defaultPrevented || event.target.method === "get") { return; }
    var buttons = Array.prototype.filter.call(event.target.elements, function (element) {
      return element.type === "submit";
    });
    window.setTimeout(function () {
      buttons.forEach(function (button) {
        button.disabled = true;
        button.dataset.sent = "";
      });
    }, 0);
  });
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    document.querySelectorAll("[data-sent]").forEach(function (button) {
      button.disabled = false;
      delete button.dataset.sent;
    });
  });

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
