// Back after sending (templates/witness/submit.html, form[data-sent-once]). The page is sent with
// Cache-Control: no-store and the form with autocomplete="off", so Back loads it afresh and empty. But a
// browser may keep even such a page whole in its back/forward cache, text and all (Chromium tries it
// with JavaScript on). Then, if its form was sent, the page is not shown from there: it is replaced by a
// fresh one. A form not sent (the witness only went to read another page) comes back as it was.
"use strict";

(function () {
  let sent = false;

  // Listened to on the window, after the form's own listeners: a send that photos.js stops is none.
  window.addEventListener("submit", function (event) {
    if (!event.defaultPrevented && event.target.matches("form[data-sent-once]")) {
      sent = true;
      // On a slow connection a second press would start the upload again from the start: the send
      // button says the form is on its way instead (not a language button, which sends the form too).
      const button = event.submitter;
      if (button && button.dataset.sending) {
        const label = button.textContent;
        const ready = function () {
          button.disabled = false;
          button.textContent = label;
        };
        window.setTimeout(function () {
          button.disabled = true;
          button.textContent = button.dataset.sending;
        }, 0);
        // A send stopped (Escape, the browser's stop button) fires nothing a page can hear: the button
        // comes back on Escape, and in any case after a minute, so that it is never stuck.
        window.addEventListener("keydown", function (key) {
          if (key.key === "Escape") {
            ready();
          }
        });
        window.setTimeout(ready, 60000);
      }
    }
  });

  window.addEventListener("pageshow", function (event) {
    if (event.persisted && sent) {
      document.body.hidden = true;
      window.location.replace(window.location.pathname);
    }
  });
})();
