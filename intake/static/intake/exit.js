// "Leave quickly" (templates/base.html). Without this script it is a plain link, and the page left stays
// in the history. With it, the page is replaced, so that Back does not return to it; and Escape pressed
// three times within two seconds does the same. Earlier pages of this site stay in the history: no
// page can remove those (the safety page says so).
"use strict";

(function () {
  const link = document.querySelector("a.quick-exit");
  if (!link) {
    return;
  }
  const PRESSES = 3;
  const WITHIN_MS = 2000;
  let presses = [];

  function leave() {
    // Nothing of the page stays on screen while the neutral site loads, slowly over Tor.
    document.body.hidden = true;
    window.location.replace(link.href);
  }

  link.addEventListener("click", function (event) {
    event.preventDefault();
    leave();
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    const now = Date.now();
    presses = presses.filter(function (time) {
      return now - time < WITHIN_MS;
    });
    presses.push(now);
    if (presses.length >= PRESSES) {
      leave();
    }
  });
})();
