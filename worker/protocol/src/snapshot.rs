//! Warm start's cache (feature `js`): the memory snapshot of a started Python (helper package
//! imported, no user code), kept in the browser's Cache API and checked with SHA-256, so that later
//! starts restore it in a fraction of a full start. The page stores it ([`store`]; WebKitGTK drops
//! an entry that a dedicated worker put once that worker ends), workers read it ([`read`]).
//! Everything here fails soft: no Cache API (a page that is not a secure context), no space, a
//! corrupt entry or a failed restore all mean a full start.

use js_sys::{Object, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(inline_js = r#"
const CACHE = "python-runner-snapshots";
async function digest(bytes) {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(hash, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
export async function snapshot_read(key) {
  try {
    const cache = await caches.open(CACHE);
    const response = await cache.match(key);
    if (!response) return null;
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (response.headers.get("x-sha256") === await digest(bytes)) return bytes;
    await cache.delete(key);
    console.info("python-runner: the cached Python snapshot was damaged; Python starts in full.");
  } catch {}
  return null;
}
export async function snapshot_store(key, bytes) {
  try {
    const prefix = key.split("/").slice(0, -3).join("/") + "/";
    const estimate = await navigator.storage?.estimate?.();
    if (estimate && estimate.quota - estimate.usage < 3 * bytes.byteLength) return false;
    const cache = await caches.open(CACHE);
    for (const request of await cache.keys()) {
      if (request.url.startsWith(prefix) && request.url !== key) await cache.delete(request);
    }
    const headers = { "content-type": "application/octet-stream", "x-sha256": await digest(bytes) };
    await cache.put(key, new Response(bytes, { headers }));
    globalThis.document?.dispatchEvent(new CustomEvent("python-runner-snapshot", { detail: { key, bytes: bytes.byteLength } }));
    return true;
  } catch {
    return false;
  }
}
export function snapshot_touch() {
  try { caches.open(CACHE).then((cache) => cache.keys()).catch(() => {}); } catch {}
}
export async function snapshot_forget(key) {
  try { await (await caches.open(CACHE)).delete(key); } catch {}
}
"#)]
extern "C" {
    /// The verified snapshot stored under `key` (a `Uint8Array`), or `null`.
    fn snapshot_read(key: &str) -> Promise;
    /// Stores `bytes` under `key` and deletes the other entries of its Pyodide URL (their keys
    /// share all but the last three segments, see [`key`]); resolves to whether it stored them. Once stored, a page's `document` gets a
    /// `python-runner-snapshot` event (`detail.key`, `detail.bytes`).
    fn snapshot_store(key: &str, bytes: &Uint8Array) -> Promise;
    /// Deletes the entry under `key`.
    fn snapshot_forget(key: &str) -> Promise;
    /// Opens the cache and lists it, without waiting.
    fn snapshot_touch();
}

/// The key of the snapshot of Pyodide `version` at `pyodide_url` with this bundle's helper
/// package (`python_files`): another Pyodide, bundle or helper never restores it.
pub fn key(pyodide_url: &str, version: &str, python_files: &Object) -> String {
    // FNV-1a over the helper's paths and texts (each copied into Rust once: indexing a JS
    // string from Rust would cross into JS for every character).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for entry in Object::entries(python_files).iter() {
        let text = String::from(js_sys::Array::from(&entry).join("\0"));
        for byte in text.bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    // A URL (Cache API keys are): the Pyodide URL's entries start alike, and the last three
    // segments tell them apart (snapshot_store relies on that).
    format!(
        "{pyodide_url}python-runner-snapshot/{version}/{}/{hash:016x}",
        env!("CARGO_PKG_VERSION")
    )
}

/// The verified snapshot under `key`, if there is one.
pub async fn read(key: &str) -> Option<Uint8Array> {
    let bytes = JsFuture::from(snapshot_read(key)).await.ok()?;
    bytes.dyn_into().ok()
}

/// Stores `bytes` as the snapshot under `key` (replacing older ones of the same Pyodide URL);
/// whether it did.
pub async fn store(key: &str, bytes: &Uint8Array) -> bool {
    let stored = JsFuture::from(snapshot_store(key, bytes)).await;
    stored.is_ok_and(|stored| stored.is_truthy())
}

/// The page opens the snapshot cache before it starts a worker that reads it: WebKitGTK's
/// workers otherwise missed a stored entry after some page loads (see the README).
pub fn touch() {
    snapshot_touch();
}

/// Deletes the snapshot under `key` (it failed to restore).
pub async fn forget(key: &str) {
    let _ = JsFuture::from(snapshot_forget(key)).await;
}
