// Which backend the demo page talks to: its own origin, or `?api=` for a development backend on
// another port. `?api=` is honoured only when both this page and that backend are on loopback:
// otherwise a link could point the page (and the password typed into its login form) at a server
// of the link's choosing.
"use strict";

globalThis.chatappApiBase = function chatappApiBase(search, pageOrigin) {
  const isLoopback = (url) => {
    const host = url.hostname.replace(/^\[|\]$/g, "");
    return (
      (url.protocol === "http:" || url.protocol === "https:") &&
      (host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host))
    );
  };
  const requested = new URLSearchParams(search).get("api");
  if (requested) {
    try {
      const target = new URL(requested);
      if (isLoopback(new URL(pageOrigin)) && isLoopback(target)) return target.origin;
    } catch (error) {
      // not a URL: ignored like any other refused value
    }
  }
  return pageOrigin.replace(/\/+$/, "");
};
