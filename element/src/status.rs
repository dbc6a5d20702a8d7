//! The toolbar's status: a few words in a live region (what a screen reader hears: "Loading
//! Python…" when loading starts, the next status when it ends, never each percent), and while
//! Python loads a `<progress>` bar of the bytes downloaded of the total (Pyodide's own files, as the
//! worker reports them, and the author's archive) with the archive's progress as text beside it.

use web_sys::HtmlElement;

use crate::error::BrowserError;
use crate::machine::Status;

/// Bytes received of bytes announced.
#[derive(Clone, Copy, Default)]
struct Bytes {
    received: u64,
    total: u64,
}

/// The status words, the progress bar and the archive's progress text.
pub struct StatusView {
    words: HtmlElement,
    bar: HtmlElement,
    detail: HtmlElement,
    status: Status,
    python_available: bool,
    /// The run waits for a free Python (every worker of its runtime is busy).
    queued: bool,
    python: Bytes,
    archive: Bytes,
}

impl StatusView {
    /// The status parts, appended to `toolbar`; `create(tag, class)` makes an element with that
    /// class and part name.
    pub fn build(
        toolbar: &HtmlElement,
        create: impl Fn(&str, &str) -> Result<HtmlElement, BrowserError>,
    ) -> Result<Self, BrowserError> {
        let words = create("span", "status")?;
        words.set_attribute("role", "status")?;
        let bar = create("progress", "progress")?;
        bar.set_attribute("aria-label", "Downloading Python")?;
        bar.set_hidden(true);
        let detail = create("span", "detail")?;
        // The bar tells assistive technology the same, without a live region's chatter.
        detail.set_attribute("aria-hidden", "true")?;
        toolbar.append_with_node_3(&words, &bar, &detail)?;
        Ok(Self {
            words,
            bar,
            detail,
            status: Status::Idle,
            python_available: true,
            queued: false,
            python: Bytes::default(),
            archive: Bytes::default(),
        })
    }

    /// Shows `status`; `python_available` tells an error of the code's archive (Python itself is
    /// fine) from Python failing to start.
    pub fn set(&mut self, status: Status, python_available: bool) {
        self.status = status;
        self.python_available = python_available;
        // A run that ended no longer waits for anything.
        self.queued &= status == Status::Running;
        self.show();
    }

    /// Says whether the run waits for a free Python.
    pub fn set_queued(&mut self, queued: bool) {
        self.queued = queued;
        self.show();
    }

    /// How far Python's own downloads have come.
    pub fn python_progress(&mut self, received: u64, total: u64) {
        self.python = Bytes { received, total };
        self.show_bar();
    }

    /// How far the archive's download has come (`text` says so in words), or, with `None`, that
    /// it is complete: its bytes stay in the bar, its text goes.
    pub fn archive_progress(&mut self, progress: Option<(String, u64, u64)>) {
        match progress {
            Some((text, received, total)) => {
                self.archive = Bytes {
                    received,
                    total: total.max(received),
                };
                self.detail.set_text_content(Some(&text));
            }
            None => {
                self.archive.received = self.archive.total;
                self.detail.set_text_content(None);
            }
        }
        self.show_bar();
    }

    fn show(&self) {
        let text = match self.status {
            Status::Idle | Status::Ready | Status::Done => "",
            Status::Loading => "Loading Python…",
            Status::Running if self.queued => "Waiting for a free Python (the others are busy)…",
            Status::Running => "Running…",
            Status::Error if self.python_available => "Run runs the code again.",
            Status::Error => "Python is not available. Run tries again.",
        };
        // Setting the same words again would make some screen readers repeat them.
        if self.words.text_content().as_deref().unwrap_or_default() != text {
            self.words.set_text_content(Some(text));
        }
        self.detail.set_hidden(self.status != Status::Loading);
        self.show_bar();
    }

    fn show_bar(&self) {
        let total = self.python.total + self.archive.total;
        let shown = self.status == Status::Loading && total > 0;
        self.bar.set_hidden(!shown);
        if shown {
            let received = (self.python.received + self.archive.received).min(total);
            let _ = self.bar.set_attribute("max", &total.to_string());
            let _ = self.bar.set_attribute("value", &received.to_string());
        }
    }
}
