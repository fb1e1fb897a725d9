// A witness page drawn in answer to a form they sent (one refused, or switched to another language, with
// the text given back in it) keeps that form, text and all, in the tab's history: Back then Reload sends
// it again, and Chromium writes it into its session files on disk. Replacing the history entry with the
// page's bare address drops the form from both. The text is still in the page, to be sent from there.
// Without JavaScript the entry stays (docs/threat-model.md). Loaded by templates/base.html.
"use strict";

window.history.replaceState(null, "", window.location.href);
