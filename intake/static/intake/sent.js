// Back after sending (templates/witness/submit.html, form[data-sent-once]). The page is sent with
// Cache-Control: no-store and the form with autocomplete="off", so Back loads it afresh and empty. But a
// browser may keep even such a page whole in its back/forward cache, text and all (Chromium tries it
// with JavaScript on). Then, if its form was sent, the page is not shown from there: it is replaced by a
// fresh one. A form not sent (the witness only went to read another page) comes back as it was.
"use strict";

(function () {
  let sent = false;

  // On a slow connection a second press of Send would start the upload again from the start. So once
  // sent, the button says the form is on its way (and a status line says it to screen readers), and
  // further presses do nothing; the button keeps its focus (aria-disabled, not disabled). A send stopped
  // (Escape, the browser's stop button) fires nothing a page can hear: the button comes back on Escape,
  // and in any case after a minute, so that it is never stuck. A language button sends the form too,
  // without its files: it is always let through.
  let sending = null;

  function ready() {
    if (sending) {
      window.clearTimeout(sending.timer);
      sending.button.removeAttribute("aria-disabled");
      sending.button.textContent = sending.label;
      sending.status.textContent = "";
      sending = null;
    }
  }

  // The status line is there, empty, from the start: a live region added with its text is not always read.
  document.querySelectorAll("form[data-sent-once] [data-sending]").forEach(function (button) {
    const status = document.createElement("p");
    status.setAttribute("role", "status");
    status.className = "visually-hidden"; // the button says it on screen
    status.dataset.sendingStatus = "";
    button.after(status);
  });

  // Listened to on the window, after the form's own listeners: a send that photos.js stops is none.
  window.addEventListener("submit", function (event) {
    if (event.defaultPrevented || !event.target.matches("form[data-sent-once]")) {
      return;
    }
    const button = event.submitter;
    const sends = button && button.dataset.sending;
    if (sends && sending) {
      event.preventDefault();
      return;
    }
    sent = true;
    if (sends) {
      const status = button.parentNode.querySelector("[data-sending-status]");
      sending = { button: button, label: button.textContent, status: status, timer: window.setTimeout(ready, 60000) };
      button.setAttribute("aria-disabled", "true");
      button.textContent = button.dataset.sending;
      status.textContent = button.dataset.sending;
    }
  });

  window.addEventListener("keydown", function (key) {
    if (key.key === "Escape") {
      ready();
    }
  });

  window.addEventListener("pageshow", function (event) {
    if (event.persisted && sent) {
      document.body.hidden = true;
      window.location.replace(window.location.pathname);
    }
  });
})();
