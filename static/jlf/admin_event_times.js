// The admin's event page: the start and end are shown and typed in the EVENT's time zone (their
// help text names it). Django's DateTimeShortcuts compares the browser's zone with the page's zone
// and adds "Note: You are N hours behind server time." beside them, as if that zone were the
// server's: misleading there, so it is not added to those fields. The calendar and clock
// shortcuts stay, and "Now" still reads the clock in the event's zone (DateTimeShortcuts.now).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  const shortcuts = window.DateTimeShortcuts;
  if (!shortcuts || typeof shortcuts.addTimezoneWarning !== "function") {
    return;
  }
  const addWarning = shortcuts.addTimezoneWarning;
  shortcuts.addTimezoneWarning = function (inp) {
    if (inp.closest(".field-starts_at, .field-ends_at")) {
      return; // in the event's zone, said by the field's help text
    }
    return addWarning.call(this, inp);
  };
});
