// Messagerie: small enhancements over pages that work without JavaScript.
// - lists: a "select all" box;
// - compose: recipient chips removed in place, the running count of recipients (groups
//   counted by their members, each person once, as the server counts), the recipient
//   picker opened in a dialog instead of a page of its own, and « Envoyer » pressed once.
(function () {
  "use strict";

  function setUpSelectAll() {
    document.querySelectorAll(".mail-list-form").forEach(function (form) {
      var all = form.querySelector(".select-all");
      if (!all) { return; }
      var boxes = form.querySelectorAll("input[name=item]");
      all.hidden = false;
      all.addEventListener("change", function () {
        boxes.forEach(function (box) { box.checked = all.checked; });
      });
      boxes.forEach(function (box) {
        box.addEventListener("change", function () {
          var ticked = form.querySelectorAll("input[name=item]:checked").length;
          all.checked = ticked === boxes.length;
          all.indeterminate = ticked > 0 && ticked < boxes.length;
        });
      });
    });
  }

  function setUpCompose() {
    var form = document.getElementById("compose-form");
    if (!form) { return; }
    var counter = document.getElementById("recipient-count");
    var dialog = document.getElementById("picker-dialog");
    var content = dialog ? dialog.querySelector(".picker-content") : null;
    var opener = document.getElementById("open-picker");
    var fieldChoice = document.getElementById("champ");

    function updateCount() {
      var people = new Set();
      form.querySelectorAll(".chip").forEach(function (chip) {
        (chip.dataset.ids || "").split(" ").forEach(function (id) {
          if (id) { people.add(id); }
        });
      });
      var n = people.size;
      var limit = parseInt(counter.dataset.limit, 10);
      var text = (n === 1 ? counter.dataset.one : counter.dataset.many).replace("{n}", n);
      if (n > limit) { text += " — " + counter.dataset.over; }
      counter.textContent = text;
      counter.classList.toggle("over", n > limit);
    }

    form.addEventListener("click", function (event) {
      var chip = event.target.closest(".chip");
      if (!chip || !form.contains(chip)) { return; }
      event.preventDefault();
      var item = chip.closest("li");
      var list = item.parentNode;
      item.remove();
      updateCount();
      var next = list.querySelector(".chip") || opener;
      if (next) { next.focus(); }
    });

    function hasToken(token) {
      return Array.prototype.some.call(form.querySelectorAll(".chip"), function (chip) {
        return chip.value.split(":").slice(1).join(":") === token;
      });
    }

    // `link` carries data-token, data-label and data-ids (a picker link, or a suggestion);
    // `status` is the live region that says what happened.
    function addChip(link, status) {
      var field = fieldChoice ? fieldChoice.value : "to";
      var token = link.dataset.token;
      status = status || dialog.querySelector(".picker-status");
      if (hasToken(token)) {
        status.textContent = link.dataset.label + " : " + form.dataset.already;
        return;
      }
      var ids = link.dataset.ids || "";
      var count = ids ? ids.split(" ").length : 0;
      var group = token.charAt(0) !== "p";
      var item = document.createElement("li");
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = field;
      input.value = token;
      var button = document.createElement("button");
      button.type = "submit";
      button.name = "retirer";
      button.value = field + ":" + token;
      button.className = group ? "chip chip-group" : "chip";
      button.dataset.ids = ids;
      button.textContent = link.dataset.label + (group ? " (" + count + ")" : "") + " ";
      var cross = document.createElement("span");
      cross.setAttribute("aria-hidden", "true");
      cross.textContent = "×";
      var hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = " : " + form.dataset.remove;
      button.appendChild(cross);
      button.appendChild(hidden);
      item.appendChild(input);
      item.appendChild(button);
      document.querySelector("#recipients-" + field + " .chips").appendChild(item);
      updateCount();
      status.textContent = link.dataset.label + " : " + form.dataset.added;
    }

    // The picker's address as the dialog's fragment, for the field chosen on the page.
    function fragmentUrl(url) {
      var target = new URL(url, window.location.href);
      target.searchParams.set("fragment", "1");
      if (fieldChoice) { target.searchParams.set("champ", fieldChoice.value); }
      return target.toString();
    }

    // Only the picker's own fragment goes into the dialog (its answers to a search with a
    // mistake, 400 or 404, are fragments too); the login page, shown there, had its form sent
    // by the search's handler as a GET, password in the address.
    // - Redirected: the session has ended (the login page) or the account must change its
    //   password first. The server would keep nothing posted now (its CSRF token or its
    //   session is gone), so the window goes to this page's own address: the login page's
    //   `next` brings the reader back to it.
    // - Any other page (an error): the session still holds. The dialog gives way to the
    //   picker's path without JavaScript, which saves the message as a draft first.
    function load(url) {
      fetch(fragmentUrl(url), {credentials: "same-origin"})
        .then(function (response) {
          return response.text().then(function (html) {
            var answer = document.createElement("template");
            answer.innerHTML = html;
            var heading = answer.content.querySelector("#picker-title");
            if (response.redirected) {
              window.location.assign(window.location.pathname + window.location.search);
              return;
            }
            if (!heading) {
              dialog.close();
              form.requestSubmit(opener);
              return;
            }
            content.replaceChildren(answer.content);
            heading.tabIndex = -1;
            heading.focus();
          });
        });
    }

    setUpTyped(addChip);
    setUpSendOnce(form);

    if (!dialog || !opener || typeof dialog.showModal !== "function") { return; }
    var status = document.createElement("p");
    status.className = "picker-status";
    status.setAttribute("role", "status");
    dialog.insertBefore(status, dialog.firstChild);

    opener.addEventListener("click", function (event) {
      event.preventDefault();
      status.textContent = "";
      content.textContent = "";
      dialog.showModal();
      load(opener.dataset.pickerUrl);
    });
    dialog.querySelector(".picker-close").addEventListener("click", function () {
      dialog.close();
    });
    dialog.addEventListener("close", function () { opener.focus(); });
    content.addEventListener("click", function (event) {
      var link = event.target.closest("a");
      if (!link || !content.contains(link)) { return; }
      event.preventDefault();
      if (link.classList.contains("add-chip")) {
        addChip(link);
      } else {
        load(link.href);
      }
    });
    // The picker's search is a GET form: sent by fetch, its fields in the address. Any other
    // form is left to the browser.
    content.addEventListener("submit", function (event) {
      var search = event.target;
      if (!search.classList.contains("picker-search") || search.method !== "get") { return; }
      event.preventDefault();
      var url = new URL(search.action, window.location.href);
      new FormData(search).forEach(function (value, key) {
        url.searchParams.append(key, value);
      });
      load(url.toString());
    });
  }

  // « Envoyer » clicked twice sends the form once: the button is disabled once the form is on
  // its way (after the browser has read it: a disabled button is not sent), and the form is
  // not sent again meanwhile, by any button. The server also recognises the form sent twice
  // (its key `cle`). Back on the page (the browser's « Précédent »), the button works again.
  function setUpSendOnce(form) {
    var send = form.querySelector("button[name=action][value=envoyer]");
    if (!send) { return; }
    var sending = false;
    form.addEventListener("submit", function (event) {
      if (sending) {
        event.preventDefault();
        return;
      }
      if (event.submitter !== send) { return; }
      sending = true;
      setTimeout(function () { send.disabled = true; }, 0);
    });
    window.addEventListener("pageshow", function () {
      sending = false;
      send.disabled = false;
    });
  }

  // « Ajouter une personne »: suggestions fetched as one types (a datalist); choosing one
  // adds its chip at once. Enter on text that is no suggestion asks the server (the
  // « Ajouter » button), which explains what did not match.
  function setUpTyped(addChip) {
    var input = document.getElementById("saisie");
    var list = document.getElementById("saisie-suggestions");
    var button = document.getElementById("add-typed");
    var status = document.getElementById("typed-status");
    if (!input || !list || !button) { return; }
    var found = {};
    var timer = null;
    var asked = "";

    function fill(answer) {
      found = {};
      list.textContent = "";
      answer.forEach(function (person) {
        found[person.text] = person;
        var option = document.createElement("option");
        option.value = person.text;
        list.appendChild(option);
      });
    }

    function ask() {
      var text = input.value.trim();
      if (text.length < 2 || text === asked) { return; }
      asked = text;
      var url = new URL(input.dataset.url, window.location.href);
      url.searchParams.set("q", text);
      fetch(url, {credentials: "same-origin"})
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(function (answer) { if (asked === text) { fill(answer); } })
        .catch(function () {});
    }

    function chosen() {
      var person = found[input.value];
      if (!person) { return false; }
      addChip({dataset: {token: person.token, label: person.label, ids: person.ids}}, status);
      input.value = "";
      asked = "";
      fill([]);
      return true;
    }

    input.addEventListener("input", function () {
      if (chosen()) { return; }
      clearTimeout(timer);
      timer = setTimeout(ask, 150);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") { return; }
      event.preventDefault();
      if (!chosen() && input.value.trim()) { button.click(); }
    });
    // The script is deferred: what was typed before it ran fired no input event of ours.
    if (input.value.trim()) { ask(); }
  }

  setUpSelectAll();
  setUpCompose();
}());
