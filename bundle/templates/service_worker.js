// python-runner.js as a service worker: the broker of the service-worker transport, for the element
// (reader: worker/src/channel.rs; writer: element/src/worker_client.rs, which posts its replies to this
// service worker) and for the library's service-worker channels (python-runner.mjs). Both speak
// sync-message's wire, handled by sync-message-sw.js. Every other request is left to the browser (or to
// the site's own fetch listeners when this file is loaded with importScripts).
import { serviceWorkerListeners } from "./sync-message-sw.js";

export function serveSyncRequests(scope) {
  const broker = serviceWorkerListeners();
  scope.addEventListener("install", () => scope.skipWaiting());
  scope.addEventListener("activate", (event) => event.waitUntil(scope.clients.claim()));
  scope.addEventListener("message", (event) => broker.message(event));
  scope.addEventListener("fetch", (event) => broker.fetch(event));
}
