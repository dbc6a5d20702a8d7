// sync-message's service-worker half: the one broker of every service-worker channel, the library's
// (python-runner.mjs, `serviceWorkerFetchListener`) and the element's (python-runner.js registered as the
// service worker). A reader (a worker blocked in a synchronous request) POSTs `<base>/read` with
// `{messageId, timeout}` and is held until a writer POSTs `<base>/write` with `{messageId, message}`, or,
// python-runner's own page, posts `{__SyncMessageServiceWorkerInput__: {messageId, message}}` to the service
// worker; the reader then gets `{message, version}` (200), or 408 when its timeout passes.
// Upstream's quirks fixed: a read's timer is cancelled when a write answers it, a timer never removes a
// newer read of the same ID, and a message written before its read is dropped after a minute.
export const MARKER = "__SyncMessageServiceWorkerInput__";
export const VERSION = "__sync-message-v2__";
const EARLY_MS = 60000;
const MAX_READ_MS = 60000;

export function isServiceWorkerRequest(eventOrUrl) {
  const url = typeof eventOrUrl === "string" ? eventOrUrl : eventOrUrl.request.url;
  return url.includes(MARKER);
}

/** A broker: `fetch(event)` and `message(event)` return `true` when the event was theirs. */
export function serviceWorkerListeners() {
  const early = new Map(); // messageId -> {message, timer}
  const waiting = new Map(); // messageId -> held read
  const answer = (body) =>
    new Response(JSON.stringify({ message: body, version: VERSION }), {
      status: 200,
      headers: { "Content-Type": "application/json", "Cache-Control": "no-store" },
    });
  const timedOut = () => new Response("", { status: 408, headers: { "Cache-Control": "no-store" } });

  /** Delivers `message` to its reader, or keeps it for the read to come; `true` if nobody was reading. */
  function write(messageId, message) {
    const reader = waiting.get(messageId);
    if (reader) {
      reader.settle(answer(message));
      return false;
    }
    const previous = early.get(messageId);
    if (previous) clearTimeout(previous.timer);
    const entry = { message };
    entry.timer = setTimeout(() => early.get(messageId) === entry && early.delete(messageId), EARLY_MS);
    early.set(messageId, entry);
    return true;
  }

  function read(messageId, timeout) {
    const written = early.get(messageId);
    if (written) {
      early.delete(messageId);
      clearTimeout(written.timer);
      return answer(written.message);
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
      const wait = Math.min(Math.max(Number(timeout) || 0, 0), MAX_READ_MS);
      entry.timer = setTimeout(() => entry.settle(timedOut()), wait);
      waiting.set(messageId, entry);
    });
  }

  async function respond(request) {
    const url = request.url;
    if (url.endsWith("/version")) return new Response(VERSION, { status: 200 });
    const body = await request.json();
    if (url.endsWith("/read")) return read(body.messageId, body.timeout);
    if (url.endsWith("/write")) return answer({ early: write(body.messageId, body.message) });
    return new Response("", { status: 404 });
  }

  return {
    fetch(event) {
      if (!isServiceWorkerRequest(event.request.url)) return false;
      event.respondWith(respond(event.request));
      return true;
    },
    message(event) {
      const data = event.data && event.data[MARKER];
      if (!data || typeof data.messageId !== "string") return false;
      write(data.messageId, data.message);
      return true;
    },
  };
}

/** sync-message's listener: create once, call from the `fetch` listener; `true` when it answered. */
export function serviceWorkerFetchListener() {
  return serviceWorkerListeners().fetch;
}
