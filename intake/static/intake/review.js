// The reviewer's submission page (templates/review/submission.html): a form marked data-swap is sent
// without leaving the page. Its answer, the page as the server would show it after the change, is
// parsed but not displayed, and only the parts named in data-swap are put in place of the current ones:
// the photos and videos above and below are neither reloaded nor fetched again. A part marked
// data-append (the conversation) only gains the children it did not have, so the photos of earlier
// messages stay as they are. Without this script every form still works: the server brings the
// reviewer back to the section changed.
"use strict";

(function () {
  function replace(current, fresh) {
    if (!current || !fresh) {
      return;
    }
    if (current.hasAttribute("data-append")) {
      Array.prototype.forEach.call(fresh.children, function (child) {
        if (child.id && !document.getElementById(child.id)) {
          current.appendChild(document.adoptNode(child));
        }
      });
      Array.prototype.forEach.call(current.children, function (child) {
        if (child.id && !fresh.ownerDocument.getElementById(child.id)) {
          child.remove(); // "No messages yet." once there is one
        }
      });
      return;
    }
    current.replaceWith(document.adoptNode(fresh));
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!form.matches("form[data-swap]") || event.defaultPrevented) {
      return;
    }
    event.preventDefault();
    const ids = form.getAttribute("data-swap").split(" ");
    const button = form.querySelector("button[type=submit]");
    if (button) {
      button.disabled = true;
    }
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) {
        return response.text();
      })
      .then(function (html) {
        const fresh = new DOMParser().parseFromString(html, "text/html");
        if (!fresh.getElementById(ids[0])) {
          throw new Error("not the submission page");
        }
        ids.forEach(function (id) {
          replace(document.getElementById(id), fresh.getElementById(id));
        });
        // The confirmation (or the form with its error) is read out and takes the focus.
        const said = document.querySelector("#" + ids[0] + " [role=status], #" + ids[0] + " .errors");
        const target = said || document.getElementById(ids[0]);
        if (target) {
          target.setAttribute("tabindex", "-1");
          target.focus();
        }
      })
      .catch(function () {
        form.removeAttribute("data-swap");
        form.submit(); // the page's own way: sent again normally, the server says what happened
      });
  });
})();
