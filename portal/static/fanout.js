/* The progress bar of a background fan-out (a population mailing, an agenda's notices):
   polls the job's state until it is finished, then reloads the page to show the report. */
(function () {
  "use strict";

  function progress(panel) {
    var bar = document.getElementById("fanout-progress");
    var text = document.getElementById("progress-text");
    var every = Number(panel.dataset.poll) * 1000;

    function poll() {
      fetch(panel.dataset.state, {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (response) { return response.json(); })
        .then(function (state) {
          bar.value = state.percent;
          bar.textContent = state.percent + " %";
          text.textContent = text.dataset.template.replace("ROUTED", state.routed)
            .replace("TOTAL", state.total).replace("PERCENT", state.percent);
          if (state.finished) { window.location.reload(); } else { setTimeout(poll, every); }
        }, function () { setTimeout(poll, every * 5); });
    }
    setTimeout(poll, every);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("progress-panel");
    if (panel && panel.dataset.finished === "false") { progress(panel); }
  });
}());
