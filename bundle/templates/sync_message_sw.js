// sync-message's service-worker half (its wire, quirks fixed: a read's timer is cancelled when a
// write answers it, and a timer never removes a newer read of the same ID). Shared by
// python-runner.mjs (`serviceWorkerFetchListener`) and python-runner.js registered as a service
// worker, which answers these requests too, so one service worker serves the element and the library.
export const MARKER = "__SyncMessageServiceWorkerInput__";
export const VERSION = "__sync-message-v2__";

export function isServiceWorkerRequest(eventOrUrl) {
  const url = typeof eventOrUrl === "string" ? eventOrUrl : eventOrUrl.request.url;
  return url.includes(MARKER);
}

/** The service worker's half: create once, call from the `fetch` listener; `true` when it answered. */
export function serviceWorkerFetchListener() {
  const early = new Map();
  const waiting = new Map();
  const answer = (body) =>
    new Response(JSON.stringify({ message: body, version: VERSION }), {
      status: 200,
      headers: { "Content-Type": "application/json" },
    });
  const timedOut = () => new Response("", { status: 408 });
  async function respond(request) {
    const url = request.url;
    if (url.endsWith("/version")) return new Response(VERSION, { status: 200 });
    const body = await request.json();
    if (url.endsWith("/read")) {
      const { messageId, timeout } = body;
      if (early.has(messageId)) {
        const message = early.get(messageId);
        early.delete(messageId);
        return answer(message);
      }
      return new Promise((resolve) => {
        const previous = waiting.get(messageId);
        if (previous) previous.settle(timedOut());
        const entry = {
          settle(response) {
            clearTimeout(entry.timer);
            if (waiting.get(messageId) === entry) waiting.delete(messageId);
            resolve(response);
          },
        };
        entry.timer = setTimeout(() => entry.settle(timedOut()), timeout);
        waiting.set(messageId, entry);
      });
    }
    if (url.endsWith("/write")) {
      const { message, messageId } = body;
      const reader = waiting.get(messageId);
      if (reader) reader.settle(answer(message));
      else early.set(messageId, message);
      return answer({ early: !reader });
    }
    return new Response("", { status: 404 });
  }
  return (event) => {
    if (!isServiceWorkerRequest(event.request.url)) return false;
    event.respondWith(respond(event.request));
    return true;
  };
}
