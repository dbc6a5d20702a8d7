//! The author's archive (`src`) on the page side: downloaded once per page and URL (however many
//! elements name it), checked against the element's `integrity`, then posted to its worker.

use std::cell::RefCell;

use js_sys::{ArrayBuffer, Promise, Reflect, Uint8Array};
use python_runner_protocol::js::describe_error as describe;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

thread_local! {
    /// Downloads by URL: a promise of the `ArrayBuffer`, shared by every element naming it.
    /// A failed download is forgotten, so a later element (or a reconnect) tries again.
    static DOWNLOADS: RefCell<Vec<(String, Promise)>> = const { RefCell::new(Vec::new()) };
}

/// The bytes of the archive at `url`, downloading it unless this page already did or does.
/// `Err` is a sentence naming the URL and the cause.
pub async fn bytes(url: &str) -> Result<ArrayBuffer, String> {
    let promise = DOWNLOADS.with(|downloads| {
        let mut downloads = downloads.borrow_mut();
        if let Some((_, promise)) = downloads.iter().find(|(known, _)| known == url) {
            return promise.clone();
        }
        let promise = wasm_bindgen_futures::future_to_promise(download(url.to_string()));
        downloads.push((url.to_string(), promise.clone()));
        promise
    });
    match JsFuture::from(promise).await {
        Ok(buffer) => Ok(buffer.unchecked_into()),
        Err(error) => {
            DOWNLOADS.with(|downloads| downloads.borrow_mut().retain(|(known, _)| known != url));
            Err(error.as_string().unwrap_or_else(|| describe(&error)))
        }
    }
}

async fn download(url: String) -> Result<JsValue, JsValue> {
    let fail = |reason: String| {
        JsValue::from(["Could not download the archive ", &url, ": ", &reason].concat())
    };
    let window = web_sys::window().ok_or_else(|| fail("no window".into()))?;
    let response: Response = JsFuture::from(window.fetch_with_str(&url))
        .await
        .map_err(|error| {
            fail(
                [
                    &describe(&error),
                    " (a network error, or the server does not allow this page to read it: CORS)",
                ]
                .concat(),
            )
        })?
        .unchecked_into();
    if !response.ok() {
        let status = response.status().to_string();
        return Err(fail(
            ["HTTP ", &status, " ", &response.status_text()].concat(),
        ));
    }
    let body = response
        .array_buffer()
        .map_err(|error| fail(describe(&error)))?;
    JsFuture::from(body)
        .await
        .map_err(|error| fail(describe(&error)))
}

/// Checks `buffer` against an `integrity` attribute (Subresource Integrity: space-separated
/// `sha256-…`, `sha384-…` or `sha512-…` base64 digests; the strongest algorithm named counts, and
/// any of its digests may match).
pub async fn check_integrity(
    url: &str,
    buffer: &ArrayBuffer,
    integrity: &str,
) -> Result<(), String> {
    const ALGORITHMS: [(&str, &str); 3] = [
        ("sha512", "SHA-512"),
        ("sha384", "SHA-384"),
        ("sha256", "SHA-256"),
    ];
    let tokens: Vec<(&str, &str)> = integrity
        .split_whitespace()
        .filter_map(|token| token.split_once('-'))
        .map(|(algorithm, digest)| (algorithm, digest.split('?').next().unwrap_or_default()))
        .collect();
    let Some((name, web_name)) = ALGORITHMS
        .iter()
        .find(|(name, _)| tokens.iter().any(|(algorithm, _)| algorithm == name))
    else {
        return Err([
            "The integrity attribute of the archive ",
            url,
            " names no supported hash (sha256-, sha384- or sha512- followed by a base64 digest)",
        ]
        .concat());
    };
    let actual = digest(web_name, buffer).await.map_err(|error| {
        [
            "Could not check the integrity of the archive ",
            url,
            ": ",
            &error,
        ]
        .concat()
    })?;
    if tokens
        .iter()
        .any(|(algorithm, expected)| algorithm == name && *expected == actual)
    {
        return Ok(());
    }
    let expected: Vec<String> = tokens
        .iter()
        .filter(|(algorithm, _)| algorithm == name)
        .map(|(algorithm, digest)| [algorithm, "-", digest].concat())
        .collect();
    Err([
        "The archive ",
        url,
        " does not match its integrity attribute: expected ",
        &expected.join(" or "),
        ", got ",
        name,
        "-",
        &actual,
    ]
    .concat())
}

/// `crypto.subtle.digest(algorithm, buffer)` as base64.
async fn digest(algorithm: &str, buffer: &ArrayBuffer) -> Result<String, String> {
    let global = js_sys::global();
    let subtle = Reflect::get(&global, &"crypto".into())
        .and_then(|crypto| Reflect::get(&crypto, &"subtle".into()))
        .ok()
        .filter(JsValue::is_object)
        .ok_or("crypto.subtle is missing (it needs a secure context: https or localhost)")?;
    let digest: js_sys::Function = Reflect::get(&subtle, &"digest".into())
        .and_then(JsCast::dyn_into)
        .map_err(|error| describe(&error))?;
    let promise: Promise = digest
        .call2(&subtle, &algorithm.into(), buffer)
        .map_err(|error| describe(&error))?
        .unchecked_into();
    let hash = JsFuture::from(promise)
        .await
        .map_err(|error| describe(&error))?;
    let binary: String = Uint8Array::new(&hash)
        .to_vec()
        .into_iter()
        .map(char::from)
        .collect();
    web_sys::window()
        .ok_or("no window")?
        .btoa(&binary)
        .map_err(|error| describe(&error))
}
