// Threadline console: live countdowns to approval deadlines, ticked in the browser (no request
// to the server). An element with data-deadline="<ms since the epoch>" shows the time left:
// "2d 4h", "3h 05m", "4m 09s", then "deadline passed" (the server expires the request and the
// live queue drops it). Elements whose deadline is under five minutes away get "countdown-soon".
(function () {
  if (window.threadlineCountdown) return;

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function left(ms) {
    var s = Math.floor(ms / 1000);
    if (s <= 0) return "deadline passed";
    var days = Math.floor(s / 86400);
    var hours = Math.floor((s % 86400) / 3600);
    var minutes = Math.floor((s % 3600) / 60);
    var seconds = s % 60;
    if (days > 0) return days + "d " + hours + "h";
    if (hours > 0) return hours + "h " + pad(minutes) + "m";
    return minutes + "m " + pad(seconds) + "s";
  }

  function tick() {
    var now = Date.now();
    var shown = document.querySelectorAll("[data-deadline]");
    for (var i = 0; i < shown.length; i++) {
      var el = shown[i];
      var deadline = Number(el.getAttribute("data-deadline"));
      if (!deadline) continue;
      var text = left(deadline - now);
      if (el.textContent !== text) el.textContent = text;
      el.classList.toggle("countdown-soon", deadline - now < 5 * 60 * 1000);
      el.classList.toggle("countdown-passed", deadline <= now);
    }
  }

  window.threadlineCountdown = { tick: tick, left: left };
  tick();
  setInterval(tick, 1000);
  // Rows that appear (or change request) show their time at once, not at the next tick.
  new MutationObserver(tick).observe(document.documentElement, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ["data-deadline"],
  });
})();
