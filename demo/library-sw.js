// Module service worker of demo/library.html: answers the requests of the service-worker channel with
// python-runner.mjs's serviceWorkerFetchListener (the page uses it when it is not cross-origin isolated).
import { serviceWorkerFetchListener } from "/dist/python-runner.mjs";

// One listener for the service worker's lifetime: it holds the messages and the waiting reads.
const handleChannelRequest = serviceWorkerFetchListener();

self.addEventListener("install", () => self.skipWaiting());
// Take control of the open page at once, so the first visit can use input() without a reload.
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
self.addEventListener("fetch", (event) => {
  if (handleChannelRequest(event)) return;
  // Any other request goes to the network as if there were no service worker.
});
