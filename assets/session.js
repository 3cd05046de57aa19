// Threadline console: the session cookie is HttpOnly and set by the server only. After a
// sign-in over the websocket, the page trades the server's one-time code for the cookie, then
// loads the next page afresh (so the new socket's handshake carries the cookie). Sign-out asks
// the server to end the session and clear the cookie, then loads /signin afresh. Downloads go
// straight to the API's attachment endpoints, which read the cookie.
(function () {
  if (window.threadlineSession) return;

  // Where Reflex's backend is, as Reflex's own frontend works it out (utils/state.js).
  function backend(apiUrl) {
    var url = new URL(apiUrl, window.location.href);
    if (["localhost", "0.0.0.0", "::", "0:0:0:0:0:0:0:0"].indexOf(url.hostname) >= 0) {
      url.hostname = window.location.hostname;
      if (window.location.protocol === "https:") {
        url.protocol = "https:";
        url.port = "";
      }
    }
    return url.origin;
  }

  function post(apiUrl, path, body) {
    return fetch(backend(apiUrl) + path, {
      method: "POST",
      credentials: "include",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    });
  }

  // A download served by the API as an attachment (api/exports.py), with the session cookie:
  // the browser saves the file as it arrives and the page stays where it is.
  function download(apiUrl, path) {
    var link = document.createElement("a");
    link.href = backend(apiUrl) + path;
    link.rel = "noopener";
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  // The id at the end of this page's address (/threads/thr_1 -> thr_1), as the address has it
  // (already percent-encoded).
  function pageId() {
    var parts = window.location.pathname.replace(/\/+$/, "").split("/");
    return parts[parts.length - 1];
  }

  window.threadlineSession = {
    download: download,
    exportThread: function (apiUrl, extension) {
      download(apiUrl, "/api/export/threads/" + pageId() + "." + extension);
    },
    handOff: function (apiUrl, tab, code, next) {
      return post(apiUrl, "/api/auth/console-session", { tab: tab, code: code }).then(
        function (response) {
          window.location.assign(response.ok ? next : "/signin");
        },
        function () {
          window.location.assign("/signin");
        }
      );
    },
    signOut: function (apiUrl) {
      return post(apiUrl, "/api/auth/console-signout").finally(function () {
        window.location.assign("/signin");
      });
    },
  };
})();
