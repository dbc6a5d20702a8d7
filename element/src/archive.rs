//! The author's archive (`src`) on the page side: downloaded once per page and URL (however many
//! elements name it), checked against the element's `integrity`, then posted to its worker.

use std::cell::RefCell;

use js_sys::{ArrayBuffer, Promise, Uint8Array};
use python_runner_protocol::js::describe_error as describe;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, ReadableStreamReadResult, Response};

use crate::error::Error;

/// Told of a download's progress: URL, bytes received, total (from `Content-Length`) if known.
pub type Progress = fn(&str, u64, Option<u64>);

thread_local! {
    /// Downloads by URL: a promise of the `ArrayBuffer`, shared by every element naming it.
    /// A failed download is forgotten, so a later element (or a reconnect) tries again.
    static DOWNLOADS: RefCell<Vec<(String, Promise)>> = const { RefCell::new(Vec::new()) };
}

/// The bytes of the archive at `url`, downloading it unless this page already did or does.
/// A new download reports to `progress`.
pub async fn bytes(url: &str, progress: Progress) -> Result<ArrayBuffer, Error> {
    let promise = DOWNLOADS.with(|downloads| {
        let mut downloads = downloads.borrow_mut();
        if let Some((_, promise)) = downloads.iter().find(|(known, _)| known == url) {
            return promise.clone();
        }
        let owned = url.to_string();
        // Shared as a promise, so its error travels as text: the sentence of `Error::Download`.
        let promise = wasm_bindgen_futures::future_to_promise(async move {
            download(&owned, progress)
                .await
                .map(JsValue::from)
                .map_err(|error| JsValue::from(error.to_string()))
        });
        downloads.push((url.to_string(), promise.clone()));
        promise
    });
    match JsFuture::from(promise).await {
        Ok(buffer) => Ok(buffer.unchecked_into()),
        Err(error) => {
            DOWNLOADS.with(|downloads| downloads.borrow_mut().retain(|(known, _)| known != url));
            Err(Error::Download(
                error.as_string().unwrap_or_else(|| describe(&error)),
            ))
        }
    }
}

async fn download(url: &str, progress: Progress) -> Result<ArrayBuffer, Error> {
    let fail = |reason: &str| {
        Error::Download(["Could not download the archive ", url, ": ", reason].concat())
    };
    let window = web_sys::window().ok_or_else(|| fail("no window"))?;
    let response: Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(|error| {
            fail(
                &[
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
            &["HTTP ", &status, " ", &response.status_text()].concat(),
        ));
    }
    read_body(url, &response, progress)
        .await
        .map_err(|error| fail(&describe(&error)))
}

/// Reads the body chunk by chunk, reporting progress.
async fn read_body(
    url: &str,
    response: &Response,
    progress: Progress,
) -> Result<ArrayBuffer, JsValue> {
    let total = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|length| length.parse::<u64>().ok());
    let Some(body) = response.body() else {
        return JsFuture::from(response.array_buffer()?)
            .await
            .map(JsCast::unchecked_into);
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut chunks: Vec<Uint8Array> = Vec::new();
    let mut received: u64 = 0;
    loop {
        let result: ReadableStreamReadResult =
            JsFuture::from(reader.read()).await?.unchecked_into();
        if result.get_done().unwrap_or(true) {
            break;
        }
        let chunk: Uint8Array = result.get_value().unchecked_into();
        received += u64::from(chunk.length());
        chunks.push(chunk);
        progress(url, received, total);
    }
    let whole = Uint8Array::new_with_length(u32::try_from(received).unwrap_or(u32::MAX));
    let mut offset = 0;
    for chunk in &chunks {
        whole.set(chunk, offset);
        offset += chunk.length();
    }
    Ok(whole.buffer())
}

/// "12 kB of 450 kB" (kilobytes of 1000 bytes, as browsers show downloads).
pub fn describe_progress(name: &str, received: u64, total: Option<u64>) -> String {
    let kb = |bytes: u64| [(bytes.div_ceil(1000)).to_string().as_str(), " kB"].concat();
    match total {
        Some(total) if total >= received => {
            [name, ": ", &kb(received), " of ", &kb(total)].concat()
        }
        _ => [name, ": ", &kb(received)].concat(),
    }
}

/// Checks `buffer` against an `integrity` attribute (Subresource Integrity: space-separated
/// `sha256-…`, `sha384-…` or `sha512-…` base64 digests; the strongest algorithm named counts, and
/// any of its digests may match).
pub async fn check_integrity(
    url: &str,
    buffer: &ArrayBuffer,
    integrity: &str,
) -> Result<(), Error> {
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
        return Err(Error::NoSupportedHash { url: url.into() });
    };
    let actual = digest(web_name, buffer)
        .await
        .map_err(|error| Error::IntegrityUnchecked {
            url: url.into(),
            reason: error.to_string(),
        })?;
    if tokens
        .iter()
        .any(|(algorithm, expected)| algorithm == name && *expected == actual)
    {
        return Ok(());
    }
    let expected = tokens
        .iter()
        .filter(|(algorithm, _)| algorithm == name)
        .map(|(algorithm, digest)| [algorithm, "-", digest].concat())
        .collect();
    Err(Error::IntegrityMismatch {
        url: url.into(),
        expected,
        actual: [name, "-", &actual].concat(),
    })
}

/// `crypto.subtle.digest(algorithm, buffer)` as base64.
async fn digest(algorithm: &str, buffer: &ArrayBuffer) -> Result<String, Error> {
    let window = web_sys::window().ok_or("no window")?;
    if !window.is_secure_context() {
        return Err(
            "crypto.subtle is missing (it needs a secure context: https or localhost)".into(),
        );
    }
    let promise: Promise = window
        .crypto()?
        .subtle()
        .digest_with_str_and_buffer_source(algorithm, buffer)?;
    let hash = JsFuture::from(promise).await?;
    let binary: String = Uint8Array::new(&hash)
        .to_vec()
        .into_iter()
        .map(char::from)
        .collect();
    Ok(window.btoa(&binary)?)
}

#[cfg(test)]
mod tests {
    use super::describe_progress;

    #[test]
    fn progress_in_kilobytes() {
        assert_eq!(
            describe_progress("p.zip", 12_345, Some(450_000)),
            "p.zip: 13 kB of 450 kB"
        );
        assert_eq!(describe_progress("p.zip", 433, None), "p.zip: 1 kB");
        assert_eq!(
            describe_progress("p.zip", 0, Some(0)),
            "p.zip: 0 kB of 0 kB"
        );
    }
}
