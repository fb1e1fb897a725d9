// The photo check (intake/witness/forms.py, MultipleImageInput): the chosen photos and videos are checked
// against the stated limits as soon as they are chosen, and a form that breaks one is not sent, so that
// a witness on a slow link learns it before uploading, not after. The limits and the messages, in the
// page's language, come from the input's data attributes. Each file is held to its kind's size limit, as
// the browser names its type; one the browser cannot name is held to the larger limit. A video's length
// is not checked here (that needs decoding it): the server checks it. Without this script the server
// checks the same limits; it checks them anyway, and judges each file by its content. A send held back
// starts with a focused summary of the problems at the top, as a refused form does.
"use strict";

(function () {
  const NAME = "{name}";

  function problems(input) {
    const data = input.dataset;
    const accepted = data.acceptTypes.split(",");
    const files = Array.from(input.files || []);
    const found = [];
    if (files.length > Number(data.maxCount)) {
      found.push([data.messageTooMany, null]);
    }
    const photoBytes = Number(data.maxBytes);
    const videoBytes = Number(data.maxVideoBytes || data.maxBytes);
    let total = 0;
    files.forEach(function (file) {
      total += file.size;
      const video = file.type.indexOf("video/") === 0;
      const photo = file.type.indexOf("image/") === 0;
      if (video && file.size > videoBytes) {
        found.push([data.messageVideoTooLarge, file.name]);
      } else if (photo && file.size > photoBytes) {
        found.push([data.messageTooLarge, file.name]);
      } else if (!video && !photo && file.size > Math.max(photoBytes, videoBytes)) {
        found.push([videoBytes > photoBytes ? data.messageVideoTooLarge : data.messageTooLarge, file.name]);
      } else if (file.size === 0) {
        found.push([data.messageEmpty, file.name]);
      } else if (file.type && accepted.indexOf(file.type) === -1) {
        found.push([data.messageNotAccepted, file.name]);
      }
    });
    if (total > Number(data.maxTotalBytes)) {
      found.push([data.messageTotal, null]);
    }
    return found;
  }

  // One message as a list item, the file's name (from the witness's own device) as text in its place.
  function item(message, name) {
    const li = document.createElement("li");
    const at = name === null ? -1 : message.indexOf(NAME);
    if (at === -1) {
      li.textContent = message;
      return li;
    }
    const bdi = document.createElement("bdi");
    bdi.textContent = name;
    li.append(message.slice(0, at), bdi, message.slice(at + NAME.length));
    return li;
  }

  // The field's own error area (templates/field.html: "<id>_error"), made if the server drew none.
  function errorArea(input) {
    const id = input.id + "_error";
    let area = document.getElementById(id);
    if (!area) {
      area = document.createElement("div");
      area.id = id;
      area.dataset.madeByPhotoCheck = "";
      input.parentNode.insertBefore(area, input);
    }
    area.setAttribute("aria-live", "polite");
    area.tabIndex = -1;
    return area;
  }

  function describedBy(input, id, on) {
    const ids = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    const others = ids.filter(function (each) {
      return each !== id;
    });
    if (on) {
      others.push(id);
    }
    if (others.length) {
      input.setAttribute("aria-describedby", others.join(" "));
    } else {
      input.removeAttribute("aria-describedby");
    }
  }

  // Shows what is wrong (or nothing), and says whether anything is.
  function show(input, area) {
    const found = problems(input);
    const old = area.querySelector("ul[data-photo-check]");
    if (old) {
      old.remove();
    }
    const field = input.closest(".field");
    if (found.length) {
      const list = document.createElement("ul");
      list.className = "errors";
      list.dataset.photoCheck = "";
      found.forEach(function (problem) {
        list.append(item(problem[0], problem[1]));
      });
      area.append(list);
    }
    const serverSaid = area.querySelector("ul:not([data-photo-check])") !== null;
    describedBy(input, area.id, found.length > 0 || serverSaid);
    if (field && !serverSaid) {
      field.classList.toggle("has-errors", found.length > 0);
    }
    return found.length > 0;
  }

  // A send held back starts, like a form the server refused (templates/_problems.html), with a summary of
  // its problems at the top of the page, focused, each linking to the field; it replaces an earlier one.
  function summarise(input) {
    const old = document.querySelector("section.problems[data-photo-check]");
    if (old) {
      old.remove();
    }
    const summary = document.createElement("section");
    summary.className = "problems";
    summary.dataset.photoCheck = "";
    summary.tabIndex = -1;
    summary.setAttribute("aria-labelledby", "photo-check-heading");
    const heading = document.createElement("h2");
    heading.id = "photo-check-heading";
    heading.textContent = input.dataset.problemsHeading;
    const list = document.createElement("ul");
    problems(input).forEach(function (problem) {
      const li = item(problem[0], problem[1]);
      const link = document.createElement("a");
      link.href = "#" + input.id;
      link.append(...li.childNodes);
      li.append(link);
      list.append(li);
    });
    summary.append(heading, list);
    const main = document.querySelector("main") || document.body;
    main.insertBefore(summary, main.firstChild);
    return summary;
  }

  document.querySelectorAll("input[type=file][data-max-count]").forEach(function (input) {
    const area = errorArea(input);
    input.addEventListener("change", function () {
      show(input, area);
    });
    if (input.form) {
      input.form.addEventListener("submit", function (event) {
        // The language buttons send the form's text without its files (intake/witness/language.py).
        if (event.submitter && event.submitter.name === "language") {
          return;
        }
        if (show(input, area)) {
          event.preventDefault();
          summarise(input).focus();
        }
      });
    }
  });
})();
