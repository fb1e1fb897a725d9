// The reviewer's submission page (templates/review/submission.html): a form marked data-swap is sent
// without leaving the page. Its answer, the page as the server would show it after the change, is
// parsed but not displayed, and only the parts named in data-swap are put in place of the current ones:
// the photos and videos above and below are neither reloaded nor fetched again. A part marked
// data-append (the conversation) only gains the children it did not have, so the photos of earlier
// messages stay as they are. Without this script every form still works: the server brings the
// reviewer back to the section changed. A form whose answer does not come back is not sent again.
"use strict";

(function () {
  function replace(current, fresh) {
    if (!current || !fresh) {
      return;
    }
    if (current.hasAttribute("data-append")) {
      // Copies of both lists first: moving a child out of the fresh page changes its live list.
      const freshChildren = Array.prototype.slice.call(fresh.children);
      const kept = new Set(freshChildren.map(function (child) { return child.id; }));
      Array.prototype.slice.call(current.children).forEach(function (child) {
        if (child.id && !kept.has(child.id)) {
          child.remove(); // "No messages yet." once there is one
        }
      });
      freshChildren.forEach(function (child) {
        if (child.id && !document.getElementById(child.id)) {
          current.appendChild(document.adoptNode(child));
        }
      });
      return;
    }
    current.replaceWith(document.adoptNode(fresh));
  }

  // What the reviewer has typed into a part that is replaced because of another form's change.
  function keepDrafts(current, fresh) {
    current.querySelectorAll("textarea[id]").forEach(function (typed) {
      const twin = fresh.querySelector("#" + CSS.escape(typed.id));
      if (twin && typed.value) {
        twin.value = typed.value;
      }
    });
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
          const current = document.getElementById(id);
          const replacement = fresh.getElementById(id);
          if (current && replacement && !current.contains(form)) {
            keepDrafts(current, replacement); // a message being written elsewhere is not lost
          }
          replace(current, replacement);
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
        // The change may or may not have been stored (the answer was lost on its way back, or the
        // session ended): sending it again could store a note or a message twice. Say so instead.
        const note = document.getElementById("swap-failed");
        if (note) {
          const said = note.content.firstElementChild.cloneNode(true);
          const before = form.nextElementSibling;
          if (before && before.classList.contains("swap-failed")) {
            before.remove(); // one word of it, however many tries
          }
          said.classList.add("swap-failed");
          form.after(said);
          said.setAttribute("tabindex", "-1");
          said.focus();
        }
        if (button) {
          button.disabled = false;
        }
      });
  });
})();
