/* Small behaviours every page of the web app shares: copy buttons, confirmations, filter
   forms that apply on change, busy submit buttons, a pending test event that waits for its
   outcome. No libraries; the only network use is that wait, to this app. */
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } finally { document.body.removeChild(area); }
    return Promise.resolve();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    copyText(source.textContent.trim()).then(function () {
      var label = button.lastChild;
      var before = label.textContent;
      label.textContent = "Copied";
      button.classList.add("is-copied");
      setTimeout(function () { label.textContent = before; button.classList.remove("is-copied"); }, 1600);
    });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    var button = form.querySelector("button[type=submit] .spinner");
    if (button) {
      button = button.parentNode;
      button.classList.add("is-busy");
      setTimeout(function () { button.disabled = true; }, 0);
    }
  });

  /* A thumbnail whose file is gone (deleted at the end of its lifetime) becomes a placeholder. */
  document.addEventListener("error", function (event) {
    var img = event.target;
    if (!img.classList || !img.classList.contains("thumb")) return;
    var blank = document.createElement("span");
    blank.className = "thumb thumb-empty";
    blank.title = "No preview";
    img.replaceWith(blank);
  }, true);

  /* A test event being sent: ask the server every second whether its outcome is in, then
     show the page with it. */
  document.querySelectorAll("[data-poll-url]").forEach(function (box) {
    var url = box.getAttribute("data-poll-url");
    var timer = setInterval(function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (state) {
          if (state && state.done) {
            clearInterval(timer);
            window.location.reload();
          }
        })
        .catch(function () {});
    }, 1000);
  });

  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();
