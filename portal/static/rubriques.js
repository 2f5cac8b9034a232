/* Rubriques: the article editor (the vendored Quill 2, under the site's CSP: no inline script
   or style). */
(function () {
  "use strict";

  var PAPERCLIP = '<svg viewBox="0 0 18 18" aria-hidden="true"><path class="ql-stroke" ' +
    'fill="none" d="M12 5.5 6.8 10.7a1.5 1.5 0 0 0 2.1 2.1l5.6-5.6a3 3 0 0 0-4.2-4.2L4.6 8.7' +
    'a4.5 4.5 0 0 0 6.4 6.4l4.2-4.2"/></svg>';

  function editor(form) {
    var labels = JSON.parse(form.dataset.labels);
    var status = document.getElementById("upload-status");
    var token = form.querySelector("input[name=csrf_token]").value;
    window.Quill.import("ui/icons").file = PAPERCLIP;
    var quill;

    function upload(file) {
      status.textContent = "";
      if (file.size > Number(form.dataset.maxBytes)) {
        status.textContent = form.dataset.tooBig;
        return Promise.reject(new Error("too big"));
      }
      var body = new FormData();
      body.append("csrf_token", token);
      body.append("fichier", file);
      return fetch(form.dataset.upload, {method: "POST", body: body, credentials: "same-origin"})
        .then(function (response) {
          return response.json().then(function (answer) {
            if (!response.ok) { throw new Error(answer.error || form.dataset.uploadFailed); }
            return answer;
          });
        })
        .catch(function (error) {
          status.textContent = error.message || form.dataset.uploadFailed;
          throw error;
        });
    }

    function place(answer) {
      var range = quill.getSelection(true);
      if (answer.image) {
        quill.insertEmbed(range.index, "image", answer.url, "user");
        // The file's name describes the image for those who cannot see it (alt text).
        quill.formatText(range.index, 1, "alt", answer.name.replace(/\.[^.]+$/, ""), "user");
        quill.setSelection(range.index + 1, 0, "user");
      } else {
        quill.insertText(range.index, answer.name, "link", answer.url, "user");
        quill.setSelection(range.index + answer.name.length, 0, "user");
      }
    }

    function pick(accept) {
      var input = document.createElement("input");
      input.type = "file";
      if (accept) { input.accept = accept; }
      input.addEventListener("change", function () {
        if (input.files.length) { upload(input.files[0]).then(place, function () {}); }
      });
      input.click();
    }

    quill = new window.Quill("#editor", {
      theme: "snow",
      modules: {
        toolbar: {
          container: [[{header: 2}, {header: 3}], ["bold", "italic", "underline", "strike"],
            [{list: "ordered"}, {list: "bullet"}], ["blockquote", "link"], ["image", "file"],
            ["clean"]],
          handlers: {
            image: function () { pick("image/png,image/jpeg,image/gif,image/webp"); },
            file: function () { pick(""); }
          }
        },
        uploader: {
          handler: function (range, files) {
            files.forEach(function (file) { upload(file).then(place, function () {}); });
          }
        }
      }
    });
    quill.root.setAttribute("role", "textbox");
    quill.root.setAttribute("aria-multiline", "true");
    quill.root.setAttribute("aria-labelledby", "body-label");
    quill.root.setAttribute("aria-describedby", "body-hint");
    form.querySelectorAll(".ql-toolbar button").forEach(function (button) {
      var name = (button.className.match(/ql-([a-z]+)/) || [])[1];
      var key = button.value ? name + "-" + button.value : name;
      if (labels[key]) {
        button.setAttribute("aria-label", labels[key]);
        button.title = labels[key];
      }
    });
    form.querySelectorAll(".ql-tooltip input").forEach(function (input) {
      input.setAttribute("aria-label", labels["link-input"]);
    });
    form.addEventListener("submit", function () {
      // Quill 2.0.3's getSemanticHTML turns every space into a no-break space.
      form.querySelector("input[name=contenu]").value =
        quill.getLength() > 1 || quill.root.querySelector("img")
          ? quill.getSemanticHTML().replace(/&nbsp;|\u00a0/g, " ") : "";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("article-form");
    if (form && window.Quill) { editor(form); }
  });
}());
