/* Operator pages: small progressive enhancements. No inline scripts, no eval (CSP-ready);
   every page works without this file. */
(function () {
  "use strict";

  function say(text, kind) {
    var box = document.getElementById("messages");
    if (!box) { return; }
    var list = box.querySelector("ul.messages");
    if (!list) {
      list = document.createElement("ul");
      list.className = "messages";
      box.appendChild(list);
    }
    var item = document.createElement("li");
    item.className = "msg msg-" + (kind || "error");
    item.setAttribute("role", "alert");
    item.textContent = text;
    list.appendChild(item);
    item.scrollIntoView({ block: "nearest" });
  }

  // htmx does not swap 4xx/5xx answers: say what happened instead of failing silently.
  document.addEventListener("htmx:responseError", function (evt) {
    var status = evt.detail.xhr ? evt.detail.xhr.status : 0;
    if (status === 503) {
      say("Read-only maintenance mode: nothing was changed. Try again later.", "warning");
    } else if (status === 403) {
      say("Your session no longer has operator access. Reload the page and sign in again.");
    } else if (status === 404) {
      say("That no longer exists. Reload the page to see the current state.");
    } else {
      say("Something went wrong (" + status + "). Nothing was lost; reload the page and try again.");
    }
  });
  document.addEventListener("htmx:sendError", function () {
    say("Could not reach the server. Check the connection and try again.");
  });

  // Walk-in form: complimentary means amount 0.
  function syncAmount(form) {
    var amount = form.querySelector("input[name=amount]");
    var comp = form.querySelector("input[name=method][value=complimentary]");
    if (!amount || !comp) { return; }
    if (comp.checked) {
      amount.value = "0";
      amount.readOnly = true;
    } else if (amount.readOnly) {
      amount.readOnly = false;
      if (amount.value === "0") { amount.value = ""; }
    }
  }
  // Group seats: while the payer takes a seat, the last seat row is not needed. Hidden (the
  // stylesheet already hides it) and disabled, so what was typed in it is not sent.
  function syncSeats(form) {
    var payer = form.querySelector("input[name=payer_takes_seat]");
    var spare = form.querySelector(".seat-row-spare");
    if (!payer || !spare) { return; }
    spare.hidden = payer.checked;
    spare.querySelectorAll("input, select, textarea").forEach(function (field) {
      field.disabled = payer.checked;
    });
  }
  function syncSeatForms(root) {
    if (!root || !root.querySelectorAll) { return; }
    if (root.matches && root.matches("form.seats-form")) { syncSeats(root); }
    root.querySelectorAll("form.seats-form").forEach(syncSeats);
  }

  document.addEventListener("change", function (evt) {
    var form = evt.target.closest && evt.target.closest("form.walk-in-form");
    if (form && evt.target.name === "method") { syncAmount(form); }
    var seats = evt.target.closest && evt.target.closest("form.seats-form");
    if (seats && evt.target.name === "payer_takes_seat") { syncSeats(seats); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.walk-in-form").forEach(syncAmount);
    syncSeatForms(document);
  });
  // A seat form swapped in by htmx (the "Assign seats…" button, or the form back with an error).
  document.addEventListener("htmx:load", function (evt) { syncSeatForms(evt.detail && evt.detail.elt); });
})();
