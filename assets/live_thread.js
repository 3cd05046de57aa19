// Threadline console: the thread page's live timeline. New rows are appended by the server
// (app/state.py LiveThreads); this script only decides where the reader looks. At the latest
// row, the page follows new rows; scrolled up, it leaves the reader where they are and shows
// "Jump to latest" (html[data-timeline-behind], see console.css) until they are back down.
(function () {
  if (window.__threadlineLiveThread) return;
  window.__threadlineLiveThread = true;

  var SLACK_PX = 48;
  var following = true;
  var lastId = null;

  function entries() {
    return document.querySelectorAll("[data-testid=timeline] .timeline-entry");
  }

  function lastEntry() {
    var all = entries();
    return all.length ? all[all.length - 1] : null;
  }

  function atLatest() {
    var last = lastEntry();
    return !last || last.getBoundingClientRect().bottom <= window.innerHeight + SLACK_PX;
  }

  function setBehind(behind) {
    var root = document.documentElement;
    if (behind) root.setAttribute("data-timeline-behind", "");
    else root.removeAttribute("data-timeline-behind");
  }

  function jump() {
    var last = lastEntry();
    if (last) last.scrollIntoView({ block: "end" });
    following = true;
    setBehind(false);
  }

  function shown(id) {
    return Array.prototype.some.call(entries(), function (el) { return el.dataset.id === id; });
  }

  function onChange() {
    var last = lastEntry();
    var id = last ? last.dataset.id : null;
    if (id === lastId) return;
    // Rows were appended after the one that was last: live rows. Anything else (another page,
    // another thread, the first paint) starts afresh.
    var appended = lastId !== null && id !== null && shown(lastId);
    lastId = id;
    if (!appended) {
      following = atLatest();
      setBehind(false);
      return;
    }
    if (following) jump();
    else setBehind(true);
  }

  window.addEventListener(
    "scroll",
    function () {
      following = atLatest();
      if (following) setBehind(false);
    },
    { passive: true }
  );
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target && target.closest && target.closest("[data-testid=jump-to-latest]")) {
      event.preventDefault();
      jump();
    }
  });
  new MutationObserver(onChange).observe(document.documentElement, {
    subtree: true,
    childList: true,
  });
})();
