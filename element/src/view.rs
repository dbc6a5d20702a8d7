//! The element's shadow DOM: source code, toolbar (Run, Stop, status) and the output log, with
//! an input field inside the log while Python waits for a line.
//!
//! All output is inserted as text nodes, never parsed as HTML.

use std::cell::RefCell;

use python_runner_protocol::{OutputPart, PartKind};
use wasm_bindgen::prelude::*;
use web_sys::{
    CssStyleSheet, Document, FocusOptions, HtmlButtonElement, HtmlElement, HtmlInputElement,
    ShadowRoot,
};

use crate::listener::Listener;
use crate::machine::Status;

/// The element's stylesheet, written compactly because it ships inside the wasm.
const STYLE: &str = include_str!("style.css");

thread_local! {
    /// One constructed stylesheet shared by every element (no inline `<style>`, so strict CSP works).
    static SHEET: RefCell<Option<CssStyleSheet>> = const { RefCell::new(None) };
}

/// Handles to the parts of one element's shadow DOM.
pub struct View {
    document: Document,
    shadow: ShadowRoot,
    source: HtmlElement,
    toolbar: HtmlElement,
    run_button: HtmlButtonElement,
    stop_button: HtmlButtonElement,
    status: HtmlElement,
    output: HtmlElement,
    last_part: Option<(PartKind, HtmlElement)>,
    /// Characters shown since the last newline in the output.
    line_length: usize,
    /// Download progress of the archive, shown after "Loading Python…".
    progress: Option<String>,
    status_value: Status,
    python_available: bool,
    /// The marker counting characters left out of the current line, and its count.
    elided: Option<(HtmlElement, usize)>,
    input: Option<(HtmlInputElement, [Listener; 2])>,
}

/// The most characters of one output line that are shown. Browsers lay out a long wrapped line in
/// superlinear time (Chromium here: 10,000 characters 25 ms, 100,000 184 ms, 1,000,000 44 s), so
/// the rest of a longer line is counted in a marker instead of being shown.
pub const MAX_LINE_CHARS: usize = 10_000;

impl View {
    /// Builds the view into an empty (or emptied) shadow root.
    pub fn build(shadow: &ShadowRoot) -> Result<Self, JsValue> {
        let document = shadow
            .owner_document()
            .ok_or("the shadow root has no document")?;
        shadow.set_text_content(None);
        adopt_style(&document, shadow)?;
        let create = |tag: &str, class: &str| -> Result<HtmlElement, JsValue> {
            let element: HtmlElement = document.create_element(tag)?.unchecked_into();
            element.set_class_name(class);
            element.set_attribute("part", class)?;
            Ok(element)
        };
        let source = create("pre", "source")?;
        source.set_attribute("aria-label", "Python code")?;
        let toolbar = create("div", "toolbar")?;
        let button = |class: &str, label: &str| -> Result<HtmlButtonElement, JsValue> {
            let button: HtmlButtonElement = create("button", class)?.unchecked_into();
            button.set_type("button");
            button.set_text_content(Some(label));
            Ok(button)
        };
        let run_button = button("run", "Run")?;
        let stop_button = button("stop", "Stop")?;
        stop_button.set_disabled(true);
        let status = create("span", "status")?;
        status.set_attribute("role", "status")?;
        toolbar.append_with_node_3(&run_button, &stop_button, &status)?;
        let output = create("div", "output")?;
        output.set_attribute("role", "log")?;
        output.set_attribute("aria-label", "Output")?;
        shadow.append_with_node_3(&source, &toolbar, &output)?;
        Ok(Self {
            document,
            shadow: shadow.clone(),
            source,
            toolbar,
            run_button,
            stop_button,
            status,
            output,
            last_part: None,
            line_length: 0,
            progress: None,
            status_value: Status::Idle,
            python_available: true,
            elided: None,
            input: None,
        })
    }

    /// The Run button, for its click listener.
    pub fn run_button(&self) -> &HtmlButtonElement {
        &self.run_button
    }

    /// The Stop button, for its click listener.
    pub fn stop_button(&self) -> &HtmlButtonElement {
        &self.stop_button
    }

    /// Shows how this element talks to Python (a tooltip on the toolbar).
    pub fn set_diagnostics(&self, text: &str) {
        let _ = self.toolbar.set_attribute("title", text);
    }

    /// Appends a text field at the end of the output for a line of input. It takes the focus
    /// if the focus is in this element or nowhere in particular, without scrolling the page.
    /// `on_event` gets its `keydown` and `paste` events.
    pub fn show_input(
        &mut self,
        on_event: impl Fn(web_sys::Event) + Clone + 'static,
    ) -> Result<(), JsValue> {
        self.hide_input();
        let input: HtmlInputElement = self.document.create_element("input")?.unchecked_into();
        input.set_type("text");
        input.set_class_name("stdin");
        input.set_attribute("part", "input")?;
        input.set_attribute("aria-label", "Input for the program")?;
        input.set_attribute("autocomplete", "off")?;
        input.set_attribute("spellcheck", "false")?;
        let listeners = [
            Listener::new(&input, "keydown", on_event.clone())?,
            Listener::new(&input, "paste", on_event)?,
        ];
        self.output.append_child(&input)?;
        self.last_part = None;
        self.scroll_to_end();
        if self.has_focus() || self.page_focus_is_free() {
            focus(&input);
        }
        self.input = Some((input, listeners));
        Ok(())
    }

    /// The text in the input field, if one is shown.
    pub fn input_value(&self) -> Option<String> {
        self.input.as_ref().map(|(input, _)| input.value())
    }

    /// Removes the input field. If it had the focus, the Stop button takes it, so the next input
    /// field (or Run, when the program ends) can take it back.
    pub fn hide_input(&mut self) {
        if let Some((input, _listeners)) = self.input.take() {
            let had_focus = self
                .shadow
                .active_element()
                .is_some_and(|active| active == **input);
            input.remove();
            if had_focus {
                focus(&self.stop_button);
            }
        }
    }

    fn has_focus(&self) -> bool {
        self.shadow.active_element().is_some()
    }

    fn page_focus_is_free(&self) -> bool {
        match self.document.active_element() {
            None => true,
            Some(active) => self.document.body().is_some_and(|body| *body == active),
        }
    }

    /// Shows the code, as text.
    pub fn show_code(&self, code: &str) {
        self.source
            .set_text_content(Some(code.trim_end_matches('\n')));
    }

    /// Hides or shows the code (`hide-code`).
    pub fn set_code_hidden(&self, hidden: bool) {
        self.source.set_hidden(hidden);
    }

    /// Empties the output log.
    pub fn clear_output(&mut self) {
        self.output.set_text_content(None);
        self.last_part = None;
        self.line_length = 0;
        self.elided = None;
    }

    /// Appends parts, merging text into the previous chunk when the kind is the same. Lines
    /// longer than [`MAX_LINE_CHARS`] are cut, with a marker counting what is not shown.
    pub fn append(&mut self, parts: &[OutputPart]) -> Result<(), JsValue> {
        for part in parts {
            for piece in part.text.split_inclusive('\n') {
                let (line, newline) = match piece.strip_suffix('\n') {
                    Some(line) => (line, true),
                    None => (piece, false),
                };
                let room = MAX_LINE_CHARS.saturating_sub(self.line_length);
                let (shown, hidden) = match line.char_indices().nth(room) {
                    Some((cut, _)) => match line.split_at_checked(cut) {
                        Some((shown, rest)) => (shown, rest.chars().count()),
                        None => (line, 0),
                    },
                    None => (line, 0),
                };
                self.line_length += shown.chars().count();
                if !shown.is_empty() {
                    self.chunk(part.kind)?.append_with_str_1(shown)?;
                }
                if hidden > 0 {
                    self.elide(hidden)?;
                }
                if newline {
                    self.chunk(part.kind)?.append_with_str_1("\n")?;
                    self.line_length = 0;
                    self.elided = None;
                }
            }
        }
        self.scroll_to_end();
        Ok(())
    }

    /// The chunk that text of `kind` goes into: the last one if it has the same kind.
    fn chunk(&mut self, kind: PartKind) -> Result<HtmlElement, JsValue> {
        if let Some((last_kind, chunk)) = &self.last_part {
            if *last_kind == kind {
                return Ok(chunk.clone());
            }
        }
        let chunk: HtmlElement = self.document.create_element("span")?.unchecked_into();
        chunk.set_class_name(class_of(kind));
        self.output.append_child(&chunk)?;
        self.last_part = Some((kind, chunk.clone()));
        Ok(chunk)
    }

    /// Counts `hidden` more characters left out of the current line.
    fn elide(&mut self, hidden: usize) -> Result<(), JsValue> {
        let (marker, count) = match self.elided.take() {
            Some((marker, count)) => (marker, count + hidden),
            None => {
                let marker: HtmlElement = self.document.create_element("span")?.unchecked_into();
                marker.set_class_name("elided");
                marker.set_attribute("part", "elided")?;
                self.output.append_child(&marker)?;
                self.last_part = None;
                (marker, hidden)
            }
        };
        marker.set_text_content(Some(&format!(
            " … {count} more characters on this line (not shown)"
        )));
        self.elided = Some((marker, count));
        Ok(())
    }

    /// Shows an element-level error (Python could not start, the worker crashed).
    pub fn show_error(&mut self, message: &str) -> Result<(), JsValue> {
        let error: HtmlElement = self.document.create_element("div")?.unchecked_into();
        error.set_class_name("error");
        error.set_attribute("role", "alert")?;
        error.set_text_content(Some(message));
        self.output.append_child(&error)?;
        self.last_part = None;
        self.line_length = 0;
        self.elided = None;
        self.scroll_to_end();
        Ok(())
    }

    /// Shows how far the archive has downloaded (while Python loads), or nothing.
    pub fn set_progress(&mut self, progress: Option<String>) {
        self.progress = progress;
        self.show_status_text();
    }

    fn show_status_text(&self) {
        let text = match self.status_value {
            Status::Idle | Status::Ready | Status::Done => String::new(),
            Status::Loading => match &self.progress {
                Some(progress) => ["Loading Python… (", progress, ")"].concat(),
                None => "Loading Python…".to_string(),
            },
            Status::Running => "Running…".to_string(),
            Status::Error if self.python_available => "Run runs the code again.".to_string(),
            Status::Error => "Python is not available. Run tries again.".to_string(),
        };
        self.status.set_text_content(Some(&text));
    }

    /// Reflects the status in the toolbar; `python_available` tells an error of the code's
    /// archive (Python itself is fine) from Python failing to start.
    pub fn set_status(&mut self, status: Status, python_available: bool) {
        self.status_value = status;
        self.python_available = python_available;
        self.show_status_text();
        let running = status == Status::Running;
        if !running
            && self
                .shadow
                .active_element()
                .is_some_and(|active| active == **self.stop_button)
        {
            focus(&self.run_button);
        }
        self.run_button.set_disabled(status == Status::Idle);
        self.stop_button.set_disabled(!running);
    }

    fn scroll_to_end(&self) {
        self.output.set_scroll_top(self.output.scroll_height());
    }
}

fn focus(element: &HtmlElement) {
    let options = FocusOptions::new();
    options.set_prevent_scroll(true);
    let _ = element.focus_with_options(&options);
}

fn class_of(kind: PartKind) -> &'static str {
    match kind {
        PartKind::Stdout => "stdout",
        PartKind::Stderr => "stderr",
        PartKind::Traceback => "traceback",
        PartKind::SyntaxError => "syntax_error",
        PartKind::InputPrompt => "input_prompt",
        PartKind::Input => "input",
        PartKind::Notice => "notice",
        PartKind::Install => "install",
        PartKind::Other => "other",
    }
}

fn adopt_style(document: &Document, shadow: &ShadowRoot) -> Result<(), JsValue> {
    let sheet = SHEET.with(|sheet| {
        let mut sheet = sheet.borrow_mut();
        if sheet.is_none() {
            *sheet = CssStyleSheet::new()
                .and_then(|new_sheet| new_sheet.replace_sync(STYLE).map(|()| new_sheet))
                .ok();
        }
        sheet.clone()
    });
    match sheet {
        Some(sheet) => {
            shadow.set_adopted_style_sheets(&js_sys::Array::of1(&sheet));
        }
        None => {
            // Browsers without constructable stylesheets get a `<style>` element.
            let style = document.create_element("style")?;
            style.set_text_content(Some(STYLE));
            shadow.append_child(&style)?;
        }
    }
    Ok(())
}
