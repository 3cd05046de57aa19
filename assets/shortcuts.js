// Threadline console keyboard shortcuts. Keys click the visible element marked
// data-shortcut="<key>"; in the inbox, j/k move between rows marked data-queue-row.
// Nothing fires while typing in a field, or with a modifier held.
(function () {
  if (window.__threadlineShortcuts) return;
  window.__threadlineShortcuts = true;

  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  function visible(el) {
    return !!(el && (el.offsetWidth || el.offsetHeight || el.getClientRects().length));
  }

  function moveInQueue(rows, step) {
    var current = rows.indexOf(document.activeElement);
    if (current < 0) current = rows.findIndex(function (r) { return r.classList.contains("selected"); });
    var next = current < 0 ? 0 : Math.min(rows.length - 1, Math.max(0, current + step));
    rows.forEach(function (r) { r.classList.remove("selected"); });
    rows[next].classList.add("selected");
    rows[next].focus();
    rows[next].scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    var active = document.activeElement;
    if (typing(active)) {
      if (event.key === "Escape") active.blur();
      return;
    }
    var key = event.key;
    if (document.querySelector('[role="dialog"]')) return;
    var rows = Array.prototype.slice.call(document.querySelectorAll("[data-queue-row]"));
    if (rows.length && (key === "j" || key === "k")) {
      event.preventDefault();
      moveInQueue(rows, key === "j" ? 1 : -1);
      return;
    }
    if (rows.length && key === "Enter" && rows.indexOf(active) < 0) {
      // Focus may have moved (e.g. back to the help button after the dialog closed).
      var selected = rows.find(function (r) { return r.classList.contains("selected"); });
      if (selected) {
        event.preventDefault();
        selected.click();
      }
      return;
    }
    var targets = document.querySelectorAll('[data-shortcut="' + key.replace(/["\\]/g, "") + '"]');
    for (var i = 0; i < targets.length; i++) {
      if (visible(targets[i]) && !targets[i].disabled) {
        event.preventDefault();
        targets[i].click();
        return;
      }
    }
  });
})();
