// Entry of python-runner.mjs (and of python-runner-library.js, the same as a classic script setting
// `pythonRunner`): the library API, a drop-in for pyodide-worker-runner, comsync and sync-message.
// `cargo bundle` copies this file into target/bundle-work/ and esbuild bundles it with Comlink (npm),
// the library wasm (plain bytes, compiled synchronously on first use) and the Python helper package.
// No top-level await and no URL relative to import.meta.url: it must run on a page, in a module
// worker and in a module service worker. The wasm does the blocking reads, the Atomics write, the
// client's state machine and the helper install; this file holds the classes, promises and Comlink.
import * as Comlink from "comlink";
import {
  initSync,
  Machine,
  read_message,
  read_call_message,
  write_message_atomics,
  sleep_privately,
  install_helper,
  retry_delay,
  is_network_type_error,
} from "./library-wasm/python_runner_library_runtime.js";
import wasmBytes from "./library-wasm/python_runner_library_runtime_bg.wasm";
import pythonFiles from "./python-files.js";
import { MARKER, VERSION, isServiceWorkerRequest, serviceWorkerFetchListener } from "./sync-message-sw.js";

export * from "comlink";
export { Comlink, isServiceWorkerRequest, serviceWorkerFetchListener };

// Copies of definitions that live elsewhere, each checked against its original by bundle/tests/templates.rs.
/** The Pyodide version `defaultPyodideLoader` loads (the one python-runner is tested with: package.json's). */
const PYODIDE_VERSION = "314.0.7";
/** sync-message's default size of an Atomics channel's data buffer, 128 KiB (the library crate's wire.rs). */
const DEFAULT_BUFFER_SIZE = 131072;
/** sync-message's default grace period (ms) of a service-worker channel (the library crate's wire.rs). */
const DEFAULT_SERVICE_WORKER_TIMEOUT = 5000;
/** The longest interrupt() waits for a worker that is still loading before it starts the next one. */
const REPLACE_WAIT_MS = 3000;
const CALL_ENDED = "The call ended before the worker read this message, so it was not sent.";

let compiled = false;
/** Compiles and instantiates the wasm the first time something needs it. */
function wasm() {
  if (!compiled) {
    initSync({ module: wasmBytes });
    compiled = true;
  }
}

// ---------------------------------------------------------------- errors

export class InterruptError extends Error {
  constructor(message = "") {
    super(message);
    this.type = this.name = "InterruptError";
  }
}

export class NoChannelError extends Error {
  constructor(message = "") {
    super(message);
    this.type = this.name = "NoChannelError";
  }
}

export class ServiceWorkerError extends Error {
  constructor(url, status) {
    super(`Received status ${status} from ${url}. Ensure the service worker is registered and active.`);
    this.type = this.name = "ServiceWorkerError";
    this.url = url;
    this.status = status;
  }
}

// Comlink carries only message/name/stack of a thrown Error; keep `type` too, so the page can tell
// an InterruptError from the worker apart (python-runner 0.6.1 reads `type`).
const throwHandler = Comlink.transferHandlers.get("throw");
if (throwHandler) {
  Comlink.transferHandlers.set("throw", {
    canHandle: throwHandler.canHandle,
    serialize(thrown) {
      const [serialized, transferables] = throwHandler.serialize(thrown);
      const value = thrown && thrown.value;
      if (serialized.isError && value && typeof value.type === "string") {
        serialized.value.type = value.type;
      }
      return [serialized, transferables];
    },
    deserialize: throwHandler.deserialize,
  });
}

/** Runs a wasm call, turning its service-worker failure into a `ServiceWorkerError`. */
function translated(call) {
  try {
    return call();
  } catch (error) {
    const failure = error && error.serviceWorkerError;
    if (failure) throw new ServiceWorkerError(failure.url, failure.status);
    throw error;
  }
}

/** A page's main thread must not block: say so instead of Atomics' "cannot be called in this context". */
function assertCanBlock(name) {
  if (typeof document !== "undefined" && typeof window !== "undefined") {
    throw new Error(`${name} blocks until a message arrives, so it works only in a worker, not on the page's main thread.`);
  }
}

const number = (value) => (typeof value === "number" ? value : undefined);

export function asyncSleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------- sync-message

export function uuidv4() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
    (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16),
  );
}

export function makeAtomicsChannel({ bufferSize } = {}) {
  const size = bufferSize > 0 ? bufferSize : DEFAULT_BUFFER_SIZE;
  return {
    type: "atomics",
    data: new Uint8Array(new SharedArrayBuffer(size)),
    meta: new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT)),
  };
}

export function makeServiceWorkerChannel({ scope, timeout } = {}) {
  return { type: "serviceWorker", baseUrl: (scope || "/") + MARKER, timeout: timeout || DEFAULT_SERVICE_WORKER_TIMEOUT };
}

export function makeChannel({ atomics, serviceWorker } = {}) {
  if (typeof SharedArrayBuffer !== "undefined") return makeAtomicsChannel(atomics);
  if (typeof navigator !== "undefined" && "serviceWorker" in navigator) {
    return makeServiceWorkerChannel(serviceWorker);
  }
  return null;
}

export async function writeMessage(channel, message, messageId) {
  if (!channel) throw new NoChannelError();
  if (channel.type === "atomics") {
    wasm();
    write_message_atomics(channel, JSON.stringify(message));
  } else if (channel.type === "serviceWorker") {
    await writeMessageServiceWorker(channel, message, messageId);
  } else {
    throw new Error("not a channel: expected an object made by makeChannel, makeAtomicsChannel or makeServiceWorkerChannel");
  }
}

export const writeMessageAtomics = (channel, message) => writeMessage(channel, message);

export async function writeMessageServiceWorker(channel, message, messageId) {
  const url = channel.baseUrl + "/write";
  const grace = channel.timeout > 0 ? channel.timeout : DEFAULT_SERVICE_WORKER_TIMEOUT;
  const started = performance.now();
  // Upstream waits for `ready` forever when no service worker is ever registered.
  const container = typeof navigator !== "undefined" ? navigator.serviceWorker : undefined;
  if (container) await Promise.race([container.ready, asyncSleep(grace)]);
  for (;;) {
    const response = await fetch(url, { method: "POST", body: JSON.stringify({ message, messageId }) });
    if (response.status === 200) {
      const answer = await response.json().catch(() => null);
      if (answer && answer.version === VERSION) return;
    }
    if (performance.now() - started >= grace) throw new ServiceWorkerError(url, response.status);
    await asyncSleep(100);
  }
}

export function readMessage(channel, messageId, { checkInterrupt, checkTimeout, timeout } = {}) {
  assertCanBlock("readMessage");
  if (!channel) throw new NoChannelError();
  wasm();
  return translated(() =>
    read_message(channel, String(messageId), checkInterrupt || undefined, number(checkTimeout), number(timeout)),
  );
}

export function syncSleep(ms, channel) {
  if (!(ms > 0)) return;
  assertCanBlock("syncSleep");
  // The sleep counts from here: compiling the wasm on first use does not lengthen it.
  const end = performance.now() + ms;
  wasm();
  const left = end - performance.now();
  if (left <= 0 || sleep_privately(left)) return;
  readMessage(channel, `sleep ${ms} ${uuidv4()}`, { timeout: left });
}

// ---------------------------------------------------------------- comsync

export class SyncClient {
  constructor(workerCreator, channel) {
    wasm();
    this.workerCreator = workerCreator;
    this.channel = channel === undefined ? null : channel;
    this._machine = new Machine();
    this._call = 0;
    this._rejectCall = null;
    this._queued = null;
    this._startWorker();
  }

  get state() {
    return this._machine.state;
  }

  _startWorker() {
    this.worker = this.workerCreator();
    this.workerProxy = Comlink.wrap(this.worker);
    this._loaded = false; // until the worker answers: then its script has loaded
  }

  async call(proxyMethod, ...args) {
    const base = uuidv4();
    const call = this._machine.begin_call(base);
    this._call = call;
    const interrupted = new Promise((_, reject) => {
      this._rejectCall = reject;
    });
    let alive = true;
    const worker = this.worker;
    const heard = () => {
      if (worker === this.worker) this._loaded = true;
      else if (this._replacing?.worker === worker) this._replacing.loaded();
    };
    const statusCallback = (status) => {
      heard();
      if (!alive) return;
      if (this._machine.status(call, status) && this._queued) {
        const queued = this._queued;
        this._queued = null;
        queued.resolve();
      }
      // An interrupt the interrupter gave while the worker was about to block (a prompt reaches the page before
      // the worker's "reading"): Python does not look at its interrupt buffer while it waits, so the wait itself
      // is interrupted. Upstream leaves the worker waiting forever.
      if ((status === "reading" || status === "sleeping") && this._takeUnseenInterrupt?.()) {
        this.interrupt().catch((e) => console.error("python-runner: could not interrupt the wait:", e));
      }
    };
    try {
      const answer = proxyMethod(this.channel, Comlink.proxy(statusCallback), base, ...args);
      answer.then(heard, heard);
      return await Promise.race([answer, interrupted]);
    } finally {
      alive = false;
      if (this._call === call) this._endCall();
    }
  }

  _endCall() {
    this._rejectCall = null;
    const queued = this._queued;
    this._queued = null;
    if (this._machine.end_call() && queued) queued.reject(new Error(CALL_ENDED));
  }

  async writeMessage(message) {
    let id = this._machine.write();
    if (id === undefined) {
      const call = this._call;
      await new Promise((resolve, reject) => {
        this._queued = { resolve, reject };
      });
      id = this._machine.queued_write(call);
    }
    await writeMessage(this.channel, { message, id }, id);
  }

  async interrupt() {
    const plan = this._machine.interrupt(typeof this.interrupter === "function");
    if (plan === "nothing") return;
    if (plan === "interrupter") {
      await this.interrupter();
    } else if (plan === "terminate") {
      await this._replaceWorker();
    } else {
      const id = plan.slice("message:".length);
      await writeMessage(this.channel, { interrupted: true, id }, id);
    }
  }

  terminate() {
    this._replacing?.loaded();
    this._replacing = null;
    const worker = this._detach();
    if (worker) worker.terminate();
  }

  /** Ends the call (it rejects with "Worker terminated") and forgets the worker, which it returns. */
  _detach() {
    const reject = this._rejectCall;
    this._endCall();
    if (reject) reject(new InterruptError("Worker terminated"));
    if (this.workerProxy) this.workerProxy[Comlink.releaseProxy]();
    const worker = this.worker;
    delete this.worker;
    delete this.workerProxy;
    return worker;
  }

  /**
   * interrupt() with nothing else to reach the worker: a new worker in its place. On a page a service worker
   * controls, a worker that has not answered yet (its script still loads) is ended only once it has loaded (its
   * first status, which is never answered, so the function never runs), failed to, or after REPLACE_WAIT_MS, and
   * the new one starts then: WebKitGTK 2.50 leaves a worker whose script loads while another one's still loads
   * uncontrolled by the service worker, so its reads and fetches reach the network (every time, measured).
   */
  async _replaceWorker() {
    const loading = !this._loaded && typeof navigator !== "undefined" && navigator.serviceWorker?.controller;
    const worker = this._detach();
    if (loading && worker) {
      const replacing = { worker };
      this._replacing = replacing;
      await new Promise((resolve) => {
        const timer = setTimeout(() => replacing.loaded(), REPLACE_WAIT_MS);
        replacing.loaded = () => {
          clearTimeout(timer);
          worker.terminate();
          resolve();
        };
        worker.addEventListener("error", () => replacing.loaded());
      });
      if (this._replacing !== replacing) return; // terminate() came meanwhile
      this._replacing = null;
    } else if (worker) {
      worker.terminate();
    }
    this._startWorker();
  }
}

export function syncExpose(fn) {
  return async function (channel, statusCallback, messageIdBase, ...args) {
    await statusCallback("init");
    // A fresh worker compiles the wasm here, before the function runs, not in its first wait.
    wasm();
    let seq = 0;
    const post = (status) => {
      const sent = statusCallback(status);
      if (sent && typeof sent.catch === "function") sent.catch(() => {});
    };
    const block = (name, status, timeout) => {
      if (!channel) throw new NoChannelError();
      assertCanBlock(name);
      const id = `${messageIdBase}-${++seq}`;
      // A timeout counts from here: the status post does not lengthen a sleep.
      const end = timeout === undefined ? undefined : performance.now() + timeout;
      post(status);
      const left = end === undefined ? undefined : Math.max(end - performance.now(), 0);
      const reply = translated(() => read_call_message(channel, id, left));
      if (reply && reply.interrupted) throw new InterruptError();
      return reply;
    };
    const extras = {
      channel,
      readMessage() {
        return block("readMessage", "reading").message;
      },
      syncSleep(ms) {
        if (!(ms > 0)) return;
        if (!block("syncSleep", "sleeping", ms)) post("slept");
      },
    };
    return fn(extras, ...args);
  };
}

// ---------------------------------------------------------------- pyodide-worker-runner

export class PyodideClient extends SyncClient {
  async call(proxyMethod, ...args) {
    let buffer = null;
    if (typeof SharedArrayBuffer !== "undefined") {
      buffer = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
      this.interrupter = () => {
        Atomics.store(buffer, 0, 2); // SIGINT: KeyboardInterrupt at Python's next check
      };
    }
    // A 2 still in the buffer when the worker starts to wait was never seen by Python: taken back here, it
    // interrupts the wait instead (SyncClient's status callback).
    this._takeUnseenInterrupt = buffer ? () => Atomics.exchange(buffer, 0, 0) === 2 : null;
    return super.call(proxyMethod, buffer, ...args);
  }
}

// Pyodide checks for an interrupt with `result = buffer[0]; buffer[0] = 0`: a 2 the page stores between the two
// steps is lost and Python keeps running (7 of 300 in Chromium). The worker therefore gets a view of the page's
// Int32Array whose element 0 is read with Atomics.exchange (read and clear in one step) and written with
// Atomics.store (a 0 is ignored); everything else (length, buffer, methods, instanceof) is the array's own.
function atomicInterrupts(array) {
  if (!(array instanceof Int32Array)) return array;
  return new Proxy(array, {
    get(target, key) {
      if (key === "0") return Atomics.exchange(target, 0, 0);
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
    set(target, key, value) {
      // Pyodide writes the 0 after its read: the exchange has cleared it already, and a store here would drop a
      // signal the page stored in between.
      if (key !== "0") target[key] = value;
      else if (value) Atomics.store(target, 0, value);
      return true;
    },
  });
}

export function pyodideExpose(fn) {
  return syncExpose((extras, interruptBuffer, ...args) =>
    fn({ ...extras, interruptBuffer: atomicInterrupts(interruptBuffer) }, ...args),
  );
}

export function makeRunnerCallback(extras, { input, output, other }) {
  return (type, data) => {
    if (data && typeof data.toJs === "function") {
      data = data.toJs({ dict_converter: Object.fromEntries });
    }
    if (type === "input") {
      if (input) input(data.prompt);
      return extras.readMessage() + "\n";
    }
    if (type === "sleep") {
      extras.syncSleep(data.seconds * 1000);
      return undefined;
    }
    if (type === "output") return output(data.parts);
    if (!other) throw new Error(`makeRunnerCallback has no callback for the event type "${type}": pass \`other\``);
    return other(type, data);
  };
}

export function versionInfo(version) {
  return version.split(".").map(Number);
}

export async function defaultPyodideLoader(version = PYODIDE_VERSION) {
  const indexURL = `https://cdn.jsdelivr.net/pyodide/v${version}/full/`;
  const load =
    typeof globalThis.loadPyodide === "function"
      ? globalThis.loadPyodide
      : (await import(/* webpackIgnore: true */ indexURL + "pyodide.mjs")).loadPyodide;
  const pyodide = await load({ indexURL });
  if (pyodide.version !== version) {
    throw new Error(`loadPyodide loaded version ${pyodide.version} instead of ${version}`);
  }
  return pyodide;
}

/** Successful downloads by URL: a reload after a fatal error does not download again. */
const packageCache = new Map();

async function getPackageBuffer(url) {
  if (packageCache.has(url)) {
    console.log("Loaded package from cache");
    return packageCache.get(url);
  }
  console.log(`Fetching package from ${url.slice(0, 100)}...`);
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`Request for package failed with status ${response.status}: ${response.statusText}`);
  }
  const buffer = await response.arrayBuffer();
  console.log("Fetched package");
  packageCache.set(url, buffer);
  return buffer;
}

/** p-retry's policy as pyodide-worker-runner uses it: 3 retries after 1, 2 and 4 s. */
async function withRetries(task) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await task();
    } catch (error) {
      wasm();
      const delay = retry_delay(attempt);
      const bug = error instanceof TypeError && !is_network_type_error(String(error.message));
      if (delay === undefined || bug || (error && error.name === "AbortError")) throw error;
      await asyncSleep(delay);
    }
  }
}

export async function loadPyodideAndPackage(packageOptions, loader = defaultPyodideLoader) {
  const { url, format } = packageOptions;
  const extractDir = packageOptions.extractDir ?? packageOptions.extract_dir ?? "/tmp/";
  const [pyodide, buffer] = await Promise.all([
    withRetries(() => loader()),
    withRetries(() => getPackageBuffer(url)),
  ]);
  pyodide.unpackArchive(buffer, format, { extractDir });
  const sys = pyodide.pyimport("sys");
  sys.path.append(extractDir);
  sys.destroy();
  initPyodide(pyodide);
  return pyodide;
}

export function initPyodide(pyodide) {
  pyodide.registerComlink(Comlink);
  wasm();
  install_helper(pyodide, pythonFiles);
}

export class PyodideFatalErrorReloader {
  constructor(loader) {
    this.loader = loader;
    this._load();
  }

  _load() {
    this.pyodidePromise = this.loader();
    this.pyodidePromise.catch(() => {}); // observed by withPyodide
  }

  async withPyodide(fn) {
    let pyodide;
    try {
      pyodide = await this.pyodidePromise;
    } catch (error) {
      this._load(); // upstream keeps a failed first load forever
      throw error;
    }
    try {
      return await fn(pyodide);
    } catch (error) {
      if (error && error.pyodide_fatal_error) this._load();
      throw error;
    }
  }
}
