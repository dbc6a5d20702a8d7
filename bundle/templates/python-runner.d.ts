// TypeScript declarations of python-runner.mjs (and of the global `pythonRunner` set by python-runner-library.js):
// a drop-in for the npm libraries pyodide-worker-runner, comsync and sync-message, plus the Comlink they use. Hand-written.
//
// Names, arguments and behaviour follow the upstream libraries; where ours differ, the comment says so.
// The module imports nothing: these declarations need no other package (not even "comlink" or "pyodide").
// They use the types Worker, MessagePort, Response and Transferable of TypeScript's "dom" or "webworker" lib.
//
// Full reference: docs/library.md.

export as namespace pythonRunner;

// ---------------------------------------------------------------------------------------------------------------
// sync-message: channels, blocking reads, the service worker
// ---------------------------------------------------------------------------------------------------------------

/** Options of an Atomics channel. */
export interface AtomicsChannelOptions {
  /** Bytes of shared memory for one message (its JSON, UTF-8). Default 128 KiB (131072). */
  bufferSize?: number;
}

/** Options of a service-worker channel. */
export interface ServiceWorkerChannelOptions {
  /**
   * Prefix of the URLs the channel requests (default "/"). The service worker must control the page and the worker,
   * and see these requests; the `scope` of the service worker's registration works.
   */
  scope?: string;
  /** Grace period in ms for the service worker to start up: failed requests are retried this long. Default 5000. */
  timeout?: number;
}

/** A channel over shared memory (the page must be cross-origin isolated). Plain data: post it to the worker. */
export interface AtomicsChannel {
  type: "atomics";
  /** The message bytes. */
  data: Uint8Array;
  /** `[length of the message, 1 when a message is ready]`. */
  meta: Int32Array;
}

/** A channel through a service worker (synchronous XHR that the service worker holds). Plain data. */
export interface ServiceWorkerChannel {
  type: "serviceWorker";
  /** `scope + "__SyncMessageServiceWorkerInput__"`. */
  baseUrl: string;
  /** The grace period of the options, in ms. */
  timeout: number;
}

/** What a worker reads messages from and the page writes them to. One channel serves one reader at a time. */
export type Channel = AtomicsChannel | ServiceWorkerChannel;

/**
 * Page side. Makes an Atomics channel if `SharedArrayBuffer` exists, else a service-worker channel if the browser has
 * service workers, else returns null. Registering the service worker is up to you (see `serviceWorkerFetchListener`).
 */
export declare function makeChannel(options?: {
  atomics?: AtomicsChannelOptions;
  serviceWorker?: ServiceWorkerChannelOptions;
}): Channel | null;

/** Page side. Makes an Atomics channel; throws where `SharedArrayBuffer` is missing (no cross-origin isolation). */
export declare function makeAtomicsChannel(options?: AtomicsChannelOptions): AtomicsChannel;

/** Page side. Makes a service-worker channel. */
export declare function makeServiceWorkerChannel(options?: ServiceWorkerChannelOptions): ServiceWorkerChannel;

/**
 * Page side. Sends `message` (anything `JSON.stringify` accepts) to the worker reading `messageId` on `channel`.
 * Atomics: written at once (the ID is not used); throws
 * "Message is too big, increase bufferSize when making channel." when its JSON does not fit.
 * Service worker: rejects with `ServiceWorkerError` when the service worker has not answered within `channel.timeout`.
 * Differs from upstream: upstream waits for `navigator.serviceWorker.ready` and hangs forever when no service worker is
 * ever registered; ours fails after `channel.timeout`.
 */
export declare function writeMessage(channel: Channel, message: unknown, messageId: string): Promise<void>;

/** `writeMessage` for an Atomics channel (no message ID needed). */
export declare function writeMessageAtomics(channel: AtomicsChannel, message: unknown): Promise<void>;

/** `writeMessage` for a service-worker channel. */
export declare function writeMessageServiceWorker(
  channel: ServiceWorkerChannel,
  message: unknown,
  messageId: string,
): Promise<void>;

/** Options of `readMessage`. Values that are not numbers > 0 mean the default. */
export interface ReadMessageOptions {
  /** Called between polls; when it returns true, `readMessage` returns null. */
  checkInterrupt?: () => boolean;
  /** Length of one poll in ms: default 100 with `checkInterrupt`, else 5000. */
  checkTimeout?: number;
  /** Give up (return null) after this many ms. Default: wait forever. */
  timeout?: number;
}

/**
 * Worker side, blocking. Waits for the message that the page writes to `messageId` and returns it (JSON-decoded), or
 * null on timeout or interrupt. Service worker: throws `ServiceWorkerError` when the service worker has not answered
 * within `channel.timeout`. Throws on a page's main thread, which must not block, and `NoChannelError` for a null
 * channel.
 */
export declare function readMessage(channel: Channel, messageId: string, options?: ReadMessageOptions): any;

/**
 * Worker side, blocking. Sleeps `ms` milliseconds without busy-waiting: `Atomics.wait` where `SharedArrayBuffer`
 * exists (whatever the channel), else a service-worker read that times out. Not interruptible: inside a call, use
 * `SyncExtras.syncSleep`, which is.
 */
export declare function syncSleep(ms: number, channel: Channel): void;

/** A promise that resolves after `ms` milliseconds (setTimeout). */
export declare function asyncSleep(ms: number): Promise<void>;

/** A random UUID v4 (`crypto.randomUUID` when the browser has it). */
export declare function uuidv4(): string;

/** The part of a service worker's `FetchEvent` that `serviceWorkerFetchListener` uses. */
export interface FetchEventLike {
  readonly request: { readonly url: string; json(): Promise<any> };
  respondWith(response: Response | PromiseLike<Response>): void;
}

/**
 * Service-worker side. Returns a fetch handler that answers the requests of service-worker channels and returns true,
 * or returns false and does nothing for any other request. Create it once (it keeps the pending messages) and call it
 * from your `fetch` listener. Same URLs and JSON as sync-message (marker `__SyncMessageServiceWorkerInput__`), so it
 * also serves pages that still use sync-message.
 */
export declare function serviceWorkerFetchListener(): (event: FetchEventLike) => boolean;

/** Whether a fetch event (or a URL) is a request of a service-worker channel: its URL holds the marker. */
export declare function isServiceWorkerRequest(request: FetchEventLike | string): boolean;

/**
 * A service-worker channel got no answer from the service worker in time. Message:
 * "Received status <status> from <url>. Ensure the service worker is registered and active."
 * Differs from upstream: `name` is "ServiceWorkerError" too (upstream leaves "Error"), so it survives Comlink.
 */
export declare class ServiceWorkerError extends Error {
  constructor(url: string, status: number);
  readonly type: "ServiceWorkerError";
  readonly name: "ServiceWorkerError";
  url: string;
  status: number;
}

// ---------------------------------------------------------------------------------------------------------------
// comsync: calls into a worker that can block on the page
// ---------------------------------------------------------------------------------------------------------------

/** What the worker's blocking helpers throw when the page interrupts them, and what `call` rejects with on terminate. */
export declare class InterruptError extends Error {
  constructor(message?: string);
  readonly type: "InterruptError";
  readonly name: "InterruptError";
}

/** Thrown by `SyncExtras.readMessage`/`syncSleep` when the client has no channel (`channel` is null). */
export declare class NoChannelError extends Error {
  constructor(message?: string);
  readonly type: "NoChannelError";
  readonly name: "NoChannelError";
}

/** State of a `SyncClient`: what the current call is doing. */
export type ClientState = "idle" | "running" | "awaitingMessage" | "sleeping";

/** The first argument of a function wrapped by `syncExpose`: blocking helpers bound to the current call. */
export interface SyncExtras {
  /** The client's channel, or null. */
  channel: Channel | null;
  /**
   * Blocks until the page calls `client.writeMessage(message)`, and returns `message`.
   * Throws `InterruptError` if the page interrupts, `NoChannelError` without a channel, `ServiceWorkerError`.
   */
  readMessage(): any;
  /** Blocks for `ms` milliseconds; the page can interrupt it (`InterruptError`). `ms` <= 0 returns at once. */
  syncSleep(ms: number): void;
}

/** The arguments `SyncClient.call` passes before the caller's own: channel, status callback, message ID base. */
export type SyncCallPrefix = [channel: Channel | null, statusCallback: (status: string) => unknown, messageIdBase: string];

/** What `syncExpose` returns: expose it with Comlink and call it through `SyncClient.call`. */
export type SyncExposed<A extends unknown[], R> = (...args: [...SyncCallPrefix, ...A]) => Promise<Awaited<R>>;

/**
 * Worker side. Wraps `func(extras, ...args)` so that `client.call(client.workerProxy.name, ...args)` on the page runs
 * it with blocking helpers (`SyncExtras`) connected to that client.
 */
export declare function syncExpose<A extends unknown[], R>(func: (extras: SyncExtras, ...args: A) => R): SyncExposed<A, R>;

/**
 * Page side. Owns a worker (started at once by `workerCreator`) and makes calls into it that can block on the page:
 * the worker waits for `writeMessage` or sleeps, and `interrupt` stops it.
 * `T` is the type of what the worker exposes; `Hidden` (for typing only) lists the arguments `call` passes before
 * the caller's own.
 */
export declare class SyncClient<T = any, Hidden extends unknown[] = SyncCallPrefix> {
  constructor(workerCreator: () => Worker, channel?: Channel | null);
  /** Starts the worker again after `interrupt` had to terminate it. */
  workerCreator: () => Worker;
  /** The channel passed to the worker at each call; may be changed between calls. */
  channel: Channel | null;
  /** What the current call is doing (read-only). */
  readonly state: ClientState;
  /** The worker. Deleted by `terminate()`. */
  worker: Worker;
  /** `Comlink.wrap(worker)`: pass its methods to `call`. Deleted by `terminate()`. */
  workerProxy: Comlink.Remote<T>;
  /** How `interrupt` stops a running (not waiting) call; `PyodideClient` sets it when it can. */
  interrupter?: () => void | Promise<void>;
  /**
   * Calls `proxyMethod(channel, statusCallback, messageIdBase, ...args)` (a function wrapped by `syncExpose`; for
   * `PyodideClient`, `pyodideExpose`, with the interrupt buffer before `args`) and returns its result. Throws "State is <state>, not idle" while another call runs. Rejects with
   * `InterruptError("Worker terminated")` when `interrupt` or `terminate` ends the worker.
   */
  call<A extends unknown[], R>(proxyMethod: (...args: [...Hidden, ...A]) => PromiseLike<R> | R, ...args: A): Promise<R>;
  /**
   * Answers the worker's `readMessage`. Before the worker reads, the write waits for it (one at a time).
   * Throws "No active call to send a message to." when idle, and
   * "Not waiting for message, and another write is already queued." when a write is already waiting.
   * Differs from upstream: a write still waiting when the call ends rejects (upstream never settles).
   */
  writeMessage(message: unknown): Promise<void>;
  /**
   * Stops the current call. Idle: nothing. Waiting for a message or sleeping: the worker's `readMessage`/`syncSleep`
   * throws `InterruptError`. Running: `interrupter()` if set, else the worker is terminated and started again, and
   * the call rejects with `InterruptError("Worker terminated")`. On a page a service worker controls, a worker still
   * loading is replaced once it has loaded (WebKit leaves the new one uncontrolled otherwise): await this before the
   * next `call`.
   */
  interrupt(): Promise<void>;
  /** Terminates the worker for good (no restart); a running call rejects with `InterruptError("Worker terminated")`. */
  terminate(): void;
}

// ---------------------------------------------------------------------------------------------------------------
// pyodide-worker-runner: Pyodide in a worker
// ---------------------------------------------------------------------------------------------------------------

/**
 * The part of Pyodide's API object (what `loadPyodide` resolves to) that this module uses.
 * Pyodide's own `PyodideAPI` type satisfies it.
 */
export interface PyodideLike {
  version: string;
  pyimport(name: string): any;
  runPython(code: string, options?: object): any;
  unpackArchive(buffer: ArrayBuffer, format: string, options?: { extractDir?: string }): void;
  registerComlink(comlink: any): void;
  setInterruptBuffer(buffer: Int32Array): void;
}

/** A function that loads Pyodide, e.g. `() => loadPyodide({indexURL})`. Called with no arguments. */
export type PyodideLoader<P = PyodideLike> = () => Promise<P>;

/** Where to find the author's archive and how to unpack it. */
export interface PackageOptions {
  /** Passed to `fetch`. */
  url: string;
  /** Pyodide's `unpackArchive` format: "zip", "tar", "gztar", "bztar", "wheel" (or an extension such as ".tar.gz"). */
  format: string;
  /** Folder to unpack into, added to `sys.path`. Default "/tmp/". */
  extractDir?: string;
  /** Same as `extractDir` (the spelling of the upstream README). */
  extract_dir?: string;
}

/**
 * Worker side. Loads Pyodide (with `loader`, default `defaultPyodideLoader`) while downloading the archive, unpacks it
 * into `extractDir`, appends that to `sys.path`, calls `initPyodide`, and resolves to Pyodide.
 * Each of the two is tried up to 4 times (waits of 1, 2 and 4 s). A downloaded archive is kept in memory per URL, so
 * loading again (after a fatal error) does not download it again; failed downloads are not kept.
 * Rejects with "Request for package failed with status <status>: <statusText>" when the download fails.
 */
export declare function loadPyodideAndPackage<P extends PyodideLike = any>(
  options: PackageOptions,
  loader?: PyodideLoader<P>,
): Promise<P>;

/**
 * Worker side. Housekeeping for a Pyodide loaded without `loadPyodideAndPackage`: registers Comlink (so PyProxies
 * pass through Comlink) and installs the Python package `pyodide_worker_runner` (`install_imports`).
 * It also wraps `pyodide.setInterruptBuffer` so that no interrupt is lost: Pyodide reads the buffer and then clears
 * it in two steps, and an interrupt stored between them was dropped (about 1 in 40 on a busy loop); the wrapper
 * hands Pyodide a view of a shared integer buffer whose read is `Atomics.exchange`. Other buffers pass unchanged.
 * Differs from upstream: calling it twice on one Pyodide is harmless (upstream raises FileExistsError).
 */
export declare function initPyodide(pyodide: PyodideLike): void;

/** `SyncExtras` plus the interrupt buffer the page made for this call. */
export interface PyodideExtras extends SyncExtras {
  /**
   * Pass it to `pyodide.setInterruptBuffer` so that `interrupt()` raises KeyboardInterrupt; null without SharedArrayBuffer.
   * A Proxy of the call's Int32Array whose element 0 is read and cleared in one atomic step (`Atomics` functions reject
   * it: use `new Int32Array(interruptBuffer.buffer)` for them).
   */
  interruptBuffer: Int32Array | null;
}

/** What `pyodideExpose` returns: expose it with Comlink and call it through `PyodideClient.call`. */
export type PyodideExposed<A extends unknown[], R> = (
  ...args: [...SyncCallPrefix, interruptBuffer: Int32Array | null, ...A]
) => Promise<Awaited<R>>;

/** Worker side. Like `syncExpose`, for calls from a `PyodideClient`: `func` gets `PyodideExtras`. */
export declare function pyodideExpose<A extends unknown[], R>(
  func: (extras: PyodideExtras, ...args: A) => R,
): PyodideExposed<A, R>;

/**
 * Page side. A `SyncClient` that, where `SharedArrayBuffer` exists, makes a fresh interrupt buffer for each call
 * (`PyodideExtras.interruptBuffer`) and sets `interrupter` to write SIGINT into it. Without it, interrupting running
 * code terminates the worker and starts a new one.
 */
export declare class PyodideClient<T = any> extends SyncClient<T, [...SyncCallPrefix, interruptBuffer: Int32Array | null]> {}

/** A part of the output of a python_runner-style runner: `{type: "stdout", text: "hi\n"}`. */
export interface OutputPart {
  /** "stdout", "stderr", "traceback", "syntax_error", "input_prompt", "input", or the runner's own. */
  type: string;
  text: string;
  [key: string]: unknown;
}

/** The page-facing callbacks of `makeRunnerCallback` (usually Comlink proxies of page functions). */
export interface RunnerCallbacks {
  /** Called with the prompt when Python asks for input (not awaited); the reply comes from `client.writeMessage`. */
  input?: (prompt: string) => unknown;
  /** Called with each batch of output parts. */
  output: (parts: OutputPart[]) => unknown;
  /** Called for any other event with its type and data; its result goes back to Python. */
  other?: (type: string, data: any) => unknown;
}

/**
 * Worker side. Makes the callback of a python_runner-style runner (`runner.set_callback(cb)`): "input" calls
 * `input(prompt)` and returns `extras.readMessage() + "\n"`, "sleep" calls `extras.syncSleep(seconds * 1000)`,
 * "output" calls `output(parts)`, anything else `other(type, data)`. Python data is converted to plain JS first.
 * Errors of `readMessage`/`syncSleep` reach Python as `JsException`. Differs from upstream: an event type with no
 * callback throws an Error naming it (upstream: a TypeError).
 */
export declare function makeRunnerCallback(
  extras: SyncExtras,
  callbacks: RunnerCallbacks,
): (type: string, data: any) => any;

/**
 * Worker side. Keeps one Pyodide and loads a fresh one after a fatal Pyodide error. The constructor starts `loader()`.
 * Differs from upstream: a failed load is not kept. The `withPyodide` that sees it rejects with its error and starts
 * a new load, which the next `withPyodide` waits for (upstream rejects every later call with the first error).
 */
export declare class PyodideFatalErrorReloader<P = any> {
  constructor(loader: PyodideLoader<P>);
  loader: PyodideLoader<P>;
  /** The current load. */
  pyodidePromise: Promise<P>;
  /**
   * Calls `fn(pyodide)` and returns its result. If it throws an error with a truthy `pyodide_fatal_error`, a new
   * Pyodide starts loading (for the next call) and the error is rethrown.
   */
  withPyodide<R>(fn: (pyodide: P) => R | PromiseLike<R>): Promise<R>;
}

/**
 * Loads Pyodide `version` from the jsDelivr CDN (default: 314.0.7, the version python-runner is built and tested
 * with). Rejects with "loadPyodide loaded version <got> instead of <wanted>" when the CDN serves another version.
 */
export declare function defaultPyodideLoader(version?: string): Promise<PyodideLike>;

/** `versionInfo("314.0.7")` is `[314, 0, 7]`. */
export declare function versionInfo(version: string): number[];

// ---------------------------------------------------------------------------------------------------------------
// Comlink: the one copy this module carries (take it from here, never from a second copy of "comlink")
// ---------------------------------------------------------------------------------------------------------------

/** Comlink (npm "comlink"), as bundled in this module. Simplified types: a `Remote` of a `Remote` is not modelled. */
export declare namespace Comlink {
  /** Anything with postMessage and message events: a Worker, `self` in a worker, a MessagePort. */
  interface Endpoint {
    postMessage(message: any, transfer?: Transferable[]): void;
    addEventListener(type: string, listener: (event: any) => void, options?: {}): void;
    removeEventListener(type: string, listener: (event: any) => void, options?: {}): void;
    start?: () => void;
  }
  const proxyMarker: unique symbol;
  const createEndpoint: unique symbol;
  const releaseProxy: unique symbol;
  const finalizer: unique symbol;
  /** A value `proxy()` marked: it crosses as a proxy instead of being copied. */
  interface ProxyMarked {
    [proxyMarker]: true;
  }
  /** Methods of every remote proxy. */
  interface ProxyMethods {
    [createEndpoint](): Promise<MessagePort>;
    [releaseProxy](): void;
  }
  type RemoteObject<T> = {
    readonly [P in keyof T]: T[P] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : Promise<Awaited<T[P]>>;
  };
  type RemoteFunction<T> = T extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : unknown;
  /** The other side's object as seen through `wrap`: each method returns a Promise. `Remote<any>` is `any`. */
  type Remote<T> = 0 extends 1 & T ? any : RemoteObject<T> & RemoteFunction<T> & ProxyMethods;
  /** A custom serialisation of values passed through Comlink. */
  interface TransferHandler<T, S> {
    canHandle(value: unknown): value is T;
    serialize(value: T): [S, Transferable[]];
    deserialize(value: S): T;
  }
  /** The registry of transfer handlers by name (a `Map`). */
  interface TransferHandlerMap {
    get(name: string): TransferHandler<unknown, unknown> | undefined;
    set(name: string, handler: TransferHandler<any, any>): unknown;
    has(name: string): boolean;
    delete(name: string): boolean;
  }
  const transferHandlers: TransferHandlerMap;
  /** Serves `obj` on `endpoint` (default: `self`, e.g. in a worker). */
  function expose(obj: unknown, endpoint?: Endpoint, allowedOrigins?: (string | RegExp)[]): void;
  /** A proxy of what the other side of `endpoint` exposes. */
  function wrap<T>(endpoint: Endpoint, target?: unknown): Remote<T>;
  /** Marks `value` to be passed by reference (as a proxy), e.g. a callback. */
  function proxy<T extends {}>(value: T): T & ProxyMarked;
  /** Marks `value` to be sent with `transfers` transferred instead of copied. */
  function transfer<T>(value: T, transfers: Transferable[]): T;
  /** An endpoint for a window or iframe (`postMessage` with an origin). */
  function windowEndpoint(
    target: { postMessage(message: any, targetOrigin: string, transfer?: Transferable[]): void },
    context?: { addEventListener: Endpoint["addEventListener"]; removeEventListener: Endpoint["removeEventListener"] },
    targetOrigin?: string,
  ): Endpoint;
}

/** The flat names of Comlink, so that `import * as Comlink from "comlink"` works when "comlink" maps to this module. */
export type Remote<T> = Comlink.Remote<T>;
export type Endpoint = Comlink.Endpoint;
export type ProxyMarked = Comlink.ProxyMarked;
export type TransferHandler<T, S> = Comlink.TransferHandler<T, S>;
export declare const expose: typeof Comlink.expose;
export declare const wrap: typeof Comlink.wrap;
export declare const proxy: typeof Comlink.proxy;
export declare const transfer: typeof Comlink.transfer;
export declare const windowEndpoint: typeof Comlink.windowEndpoint;
export declare const transferHandlers: typeof Comlink.transferHandlers;
export declare const proxyMarker: typeof Comlink.proxyMarker;
export declare const releaseProxy: typeof Comlink.releaseProxy;
export declare const createEndpoint: typeof Comlink.createEndpoint;
export declare const finalizer: typeof Comlink.finalizer;
