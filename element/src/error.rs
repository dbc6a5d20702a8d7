//! The page side's errors: what can go wrong between the element, its worker and the archive,
//! each shown to the reader as one sentence (its `Display`).

use std::fmt;

use python_runner_protocol::js::describe_error;
use wasm_bindgen::JsValue;

/// Something the page side could not do.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// Something the page cannot do, described.
    Js(String),
    /// A browser call threw.
    Browser(BrowserError),
    /// The element has no worker to send to.
    NoWorker,
    /// The browser would not start a Web Worker.
    WorkerStart(String),
    /// An attribute holds something that is not a URL.
    InvalidUrl {
        /// The attribute.
        attribute: &'static str,
        /// Its value.
        value: String,
    },
    /// The archive's format is unknown or unsupported.
    ArchiveFormat {
        /// The archive.
        url: String,
        /// Why.
        reason: String,
    },
    /// The archive could not be downloaded (a sentence naming the URL and the cause; it has
    /// travelled through the download promise every element naming the URL shares).
    Download(String),
    /// The `integrity` attribute names no hash the element can check.
    NoSupportedHash {
        /// The archive.
        url: String,
    },
    /// The archive's hash could not be computed.
    IntegrityUnchecked {
        /// The archive.
        url: String,
        /// Why.
        reason: String,
    },
    /// The archive does not match its `integrity` attribute.
    IntegrityMismatch {
        /// The archive.
        url: String,
        /// The digests allowed, e.g. `sha256-…`.
        expected: Vec<String>,
        /// The digest computed, e.g. `sha256-…`.
        actual: String,
    },
}

/// A browser call threw (a DOM call of the view, `addEventListener`, `postMessage`): its
/// exception, described only when shown. One word wide, so the many `?`s on browser calls cost
/// no more than passing the exception on (a `Result` of [`Error`] there added 0.8 KB of gzip).
#[derive(Debug, Clone, PartialEq)]
pub struct BrowserError(JsValue);

impl From<JsValue> for BrowserError {
    fn from(error: JsValue) -> Self {
        BrowserError(error)
    }
}

impl From<&str> for BrowserError {
    fn from(description: &str) -> Self {
        BrowserError(description.into())
    }
}

impl From<BrowserError> for Error {
    fn from(error: BrowserError) -> Self {
        Error::Browser(error)
    }
}

impl BrowserError {
    /// Tells the console that the element could not do `what`.
    pub fn log(&self, what: &str) {
        Error::Browser(self.clone()).log(what);
    }
}

impl fmt::Display for BrowserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&describe_error(&self.0))
    }
}

impl Error {
    /// Tells the console that the element could not do `what` (a failure the reader cannot act on,
    /// e.g. a DOM call that threw).
    pub fn log(&self, what: &str) {
        web_sys::console::error_1(
            &["python-runner: could not ", what, ": ", &self.to_string()]
                .concat()
                .into(),
        );
    }
}

impl From<&str> for Error {
    fn from(description: &str) -> Self {
        Error::Js(description.into())
    }
}

impl From<JsValue> for Error {
    fn from(error: JsValue) -> Self {
        Error::Browser(BrowserError(error))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Js(description) => f.write_str(description),
            Error::Browser(error) => error.fmt(f),
            Error::NoWorker => f.write_str("no worker"),
            Error::WorkerStart(reason) => write!(f, "could not start a Web Worker: {reason}"),
            Error::InvalidUrl { attribute, value } => {
                write!(f, "{attribute} \"{value}\" is not a valid URL")
            }
            Error::ArchiveFormat { url, reason } => {
                write!(f, "Could not load the archive {url}: {reason}")
            }
            Error::Download(sentence) => f.write_str(sentence),
            Error::NoSupportedHash { url } => write!(
                f,
                "The integrity attribute of the archive {url} names no supported hash (sha256-, sha384- or sha512- followed by a base64 digest)"
            ),
            Error::IntegrityUnchecked { url, reason } => {
                write!(f, "Could not check the integrity of the archive {url}: {reason}")
            }
            Error::IntegrityMismatch {
                url,
                expected,
                actual,
            } => write!(
                f,
                "The archive {url} does not match its integrity attribute: expected {}, got {actual}",
                expected.join(" or ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn sentences() {
        assert_eq!(
            Error::InvalidUrl {
                attribute: "src",
                value: "http://[".into()
            }
            .to_string(),
            "src \"http://[\" is not a valid URL"
        );
        assert_eq!(
            Error::IntegrityMismatch {
                url: "a.zip".into(),
                expected: vec!["sha256-x".into(), "sha256-y".into()],
                actual: "sha256-z".into()
            }
            .to_string(),
            "The archive a.zip does not match its integrity attribute: expected sha256-x or sha256-y, got sha256-z"
        );
    }
}
