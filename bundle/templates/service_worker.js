// python-runner.js as a service worker: the broker of the service-worker transport (the Rust
// side is worker/src/channel.rs, reader, and element/src/worker_client.rs, writer; the URL format
// is python_runner_protocol::sync::ServiceWorkerUrls). A worker waiting for input requests
// `<page>?__python_runner_sync__=<id>&timeout=<ms>` synchronously; this holds the request until
// the page posts `{__python_runner_sync__: {id, reply}}`, then answers 200 with the reply, or
// answers 408 when the timeout passes. It also answers sync-message's requests (the library's
// service-worker channel, python-runner.mjs), so one service worker serves both. Every other request
// is left to the browser (or to the site's own fetch listeners when this file is loaded with importScripts).
import { serviceWorkerFetchListener } from "./sync-message-sw.js";

const MARKER = "__python_runner_sync__";
const HEADER = "x-python-runner-sync";
// Replies that arrived before their request, dropped after a minute.
const EARLY_MS = 60000;
const MAX_WAIT_MS = 60000;

export function serveSyncRequests(scope) {
  const waiting = new Map(); // id -> function answering the held request
  const early = new Map(); // id -> reply
  const syncMessage = serviceWorkerFetchListener();
  scope.addEventListener("fetch", (event) => syncMessage(event));
  scope.addEventListener("install", () => scope.skipWaiting());
  scope.addEventListener("activate", (event) => event.waitUntil(scope.clients.claim()));
  scope.addEventListener("message", (event) => {
    const message = event.data && event.data[MARKER];
    if (!message || typeof message.id !== "string") return;
    const answer = waiting.get(message.id);
    if (answer) {
      answer(200, String(message.reply));
    } else {
      early.set(message.id, String(message.reply));
      setTimeout(() => early.delete(message.id), EARLY_MS);
    }
  });
  scope.addEventListener("fetch", (event) => {
    const url = new URL(event.request.url);
    const id = url.searchParams.get(MARKER);
    if (id === null) return;
    event.respondWith(new Promise((resolve) => {
      const respond = (status, body) =>
        resolve(new Response(body, { status, headers: { "Content-Type": "application/json", "Cache-Control": "no-store", [HEADER]: "1" } }));
      if (early.has(id)) {
        const reply = early.get(id);
        early.delete(id);
        respond(200, reply);
        return;
      }
      const timeout = Math.min(Math.max(Number(url.searchParams.get("timeout")) || 0, 0), MAX_WAIT_MS);
      let timer;
      const answer = (status, body) => {
        // Only the request that registered this answer is removed (a newer one may have replaced it).
        if (waiting.get(id) === answer) waiting.delete(id);
        clearTimeout(timer);
        respond(status, body);
      };
      timer = setTimeout(() => answer(408, ""), timeout);
      waiting.set(id, answer);
    }));
  });
}
