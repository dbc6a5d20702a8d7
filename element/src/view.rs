//! The element's shadow DOM: source code, toolbar (Run, Stop, status) and the output log, with
//! an input field inside the log while Python waits for a line.
//!
//! All output is inserted as text nodes, never parsed as HTML. Output goes into the model
//! ([`OutputLog`]) at once and reaches the DOM at most once per animation frame
//! ([`View::render`]), in blocks of lines, so a print loop costs the page a bounded amount of
//! work per frame however fast Python writes.

use std::collections::VecDeque;

use python_runner_protocol::{OutputPart, PartKind};
use wasm_bindgen::prelude::*;
use web_sys::{
    Document, FocusOptions, HtmlButtonElement, HtmlElement, HtmlInputElement, ShadowRoot,
};

use crate::editor::Editor;
use crate::error::BrowserError;
use crate::listener::Listener;
use crate::log::{dropped_notice, Line, OutputLog, TextLine, BLOCK_LINES};
use crate::machine::Status;
use crate::pictures;
use crate::status::StatusView;

/// Handles to the parts of one element's shadow DOM.
pub struct View {
    document: Document,
    shadow: ShadowRoot,
    source: HtmlElement,
    toolbar: HtmlElement,
    run_button: HtmlButtonElement,
    stop_button: HtmlButtonElement,
    /// The status words and the download progress.
    pub status: StatusView,
    output: HtmlElement,
    /// With `editable`: the Reset button, and the code it restores (the element's own).
    editor: Option<Editor>,
    /// "N earlier lines not shown", first in the output, hidden while nothing was dropped.
    dropped: HtmlElement,
    /// The lines shown; the DOM catches up in [`View::render`].
    log: OutputLog,
    /// The rendered blocks, in order: block `n` holds lines `n * BLOCK_LINES ..`.
    blocks: VecDeque<(u64, HtmlElement)>,
    /// When the log was last rendered (`Date.now()`).
    rendered_at: f64,
    /// How many earlier lines were dropped when the log was last rendered.
    shown_first: u64,
    input: Option<(HtmlInputElement, [Listener; 2])>,
}

impl View {
    /// Builds the view into an empty (or emptied) shadow root; with `editable`, the code is an
    /// editor (`editor.rs`) with a Reset button.
    pub fn build(shadow: &ShadowRoot, editable: bool) -> Result<Self, BrowserError> {
        let document = shadow
            .owner_document()
            .ok_or("the shadow root has no document")?;
        shadow.set_text_content(None);
        crate::style::adopt(&document, shadow)?;
        let create = |tag: &str, class: &str| -> Result<HtmlElement, BrowserError> {
            let element: HtmlElement = document.create_element(tag)?.unchecked_into();
            element.set_class_name(class);
            element.set_attribute("part", class)?;
            Ok(element)
        };
        let source = create(if editable { "textarea" } else { "pre" }, "source")?;
        source.set_attribute("aria-label", "Python code")?;
        // Scrollable regions a keyboard reaches (a text area is focusable anyway).
        if !editable {
            source.set_attribute("tabindex", "0")?;
        }
        let toolbar = create("div", "toolbar")?;
        let button = |class: &str, label: &str| -> Result<HtmlButtonElement, BrowserError> {
            let button: HtmlButtonElement = create("button", class)?.unchecked_into();
            button.set_type("button");
            button.set_text_content(Some(label));
            Ok(button)
        };
        let run_button = button("run", "Run")?;
        let stop_button = button("stop", "Stop")?;
        stop_button.set_disabled(true);
        toolbar.append_with_node_2(&run_button, &stop_button)?;
        let editor = if editable {
            let reset = button("reset", "Reset")?;
            toolbar.append_child(&reset)?;
            Some(Editor::new(
                &source,
                reset,
                &shadow.host().unchecked_into(),
            )?)
        } else {
            None
        };
        let status = StatusView::build(&toolbar, create)?;
        let output = create("div", "output")?;
        output.set_attribute("role", "log")?;
        output.set_attribute("aria-label", "Output")?;
        output.set_attribute("tabindex", "0")?;
        let dropped = create("div", "dropped")?;
        dropped.set_hidden(true);
        output.append_child(&dropped)?;
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
            editor,
            dropped,
            log: OutputLog::default(),
            blocks: VecDeque::new(),
            rendered_at: f64::NEG_INFINITY,
            shown_first: 0,
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
    ) -> Result<(), BrowserError> {
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
        // After the prompt, inline: in the last block, which `render` keeps it in.
        self.render();
        match self.blocks.back() {
            Some((_, block)) => block.append_child(&input)?,
            None => self.output.append_child(&input)?,
        };
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

    /// Shows the code, as text (in the editor: as the code Reset restores).
    pub fn show_code(&mut self, code: &str) {
        let code = code.trim_end_matches('\n');
        match &mut self.editor {
            Some(editor) => editor.show(code),
            None => self.source.set_text_content(Some(code)),
        }
    }

    /// With `editable`: the editor.
    pub fn editor(&self) -> Option<&Editor> {
        self.editor.as_ref()
    }

    /// Hides or shows the code (`hide-code`).
    pub fn set_code_hidden(&self, hidden: bool) {
        self.source.set_hidden(hidden);
    }

    /// Empties the output log.
    pub fn clear_output(&mut self) {
        self.log.clear();
        self.release_pictures();
        for (_, block) in self.blocks.drain(..) {
            block.remove();
        }
        self.dropped.set_hidden(true);
        self.dropped.set_text_content(None);
        self.shown_first = 0;
    }

    /// Appends parts to the log (text lines longer than [`crate::log::MAX_LINE_CHARS`] are cut,
    /// with a marker counting what is not shown); a picture's bytes are `attachment`. Returns
    /// whether the DOM was in step until now: then the caller schedules a [`View::render`] for
    /// the next frame.
    pub fn append(&mut self, parts: &[OutputPart], attachment: JsValue) -> bool {
        let in_step = !self.log.has_changes();
        let mut attachment = Some(attachment);
        for part in parts {
            if part.kind != PartKind::Image {
                self.log.append(std::slice::from_ref(part));
                continue;
            }
            let bytes = attachment.take().unwrap_or(JsValue::UNDEFINED);
            match pictures::make(part.mime.as_deref(), bytes, &part.text) {
                Ok(picture) => self.log.push_picture(picture),
                Err(why) => self.log.append(&[OutputPart::new(
                    PartKind::Notice,
                    ["Picture “", &part.text, "” not shown: ", why, "\n"].concat(),
                )]),
            }
        }
        self.release_pictures();
        in_step
    }

    /// Releases the pictures the log no longer holds.
    fn release_pictures(&mut self) {
        for url in self.log.take_released() {
            pictures::release(&url);
        }
    }

    /// Shows an element-level error (Python could not start, the worker crashed), as a line of
    /// the log. Returns whether a render needs scheduling, as [`View::append`] does.
    pub fn show_error(&mut self, message: &str) -> bool {
        let in_step = !self.log.has_changes();
        self.log.push_error(message);
        in_step
    }

    /// Brings the DOM in step with the log: drops blocks whose lines are gone, re-renders the
    /// blocks whose lines changed, and says how many earlier lines are not shown. The log
    /// scrolls to its end if it was at its end before.
    pub fn render(&mut self) {
        let Some(from) = self.log.take_changed() else {
            return;
        };
        self.rendered_at = js_sys::Date::now();
        let at_end = self.output.scroll_top() + self.output.client_height() + 2
            >= self.output.scroll_height();
        let first = self.log.dropped();
        let end = self.log.end();
        while let Some((number, block)) = self.blocks.front() {
            if (number + 1) * BLOCK_LINES > first {
                break;
            }
            block.remove();
            self.blocks.pop_front();
        }
        let changed = (from < end).then(|| from / BLOCK_LINES..=(end - 1) / BLOCK_LINES);
        // A block whose first lines were dropped since the last render: render what is left of
        // it (only that block; the ones after it changed only if `from` says so).
        let front = self
            .blocks
            .front()
            .map(|(number, _)| *number)
            .filter(|number| {
                first != self.shown_first && !changed.as_ref().is_some_and(|c| c.contains(number))
            });
        self.shown_first = first;
        for number in front.into_iter().chain(changed.into_iter().flatten()) {
            if let Err(error) = self.render_block(number, at_end) {
                error.log("show output");
            }
        }
        if first > 0 {
            self.dropped.set_text_content(Some(&dropped_notice(first)));
        }
        self.dropped.set_hidden(first == 0);
        if let (Some((input, _)), Some((_, block))) = (&self.input, self.blocks.back()) {
            if input.parent_node().as_ref() != Some(block.as_ref()) {
                let had_focus = self
                    .shadow
                    .active_element()
                    .is_some_and(|active| active == ***input);
                let _ = block.append_child(input);
                if had_focus {
                    focus(input);
                }
            }
        }
        if at_end {
            self.scroll_to_end();
        }
    }

    /// Whether the log was rendered less than a frame (16 ms) ago.
    pub fn rendered_within_a_frame(&self) -> bool {
        js_sys::Date::now() - self.rendered_at < 16.0
    }

    /// Fills block `number` (created at the end if new) with its lines; with `follow`, the log
    /// keeps to its end as its pictures load.
    fn render_block(&mut self, number: u64, follow: bool) -> Result<(), BrowserError> {
        let block = match self.blocks.iter().find(|(n, _)| *n == number) {
            Some((_, block)) => {
                block.set_text_content(None);
                block.clone()
            }
            None => {
                let block: HtmlElement = self.document.create_element("div")?.unchecked_into();
                block.set_class_name("block");
                self.output.append_child(&block)?;
                self.blocks.push_back((number, block.clone()));
                block
            }
        };
        let mut spans = Spans::new(&self.document, &block);
        let start = (number * BLOCK_LINES).max(self.log.dropped());
        let stop = ((number + 1) * BLOCK_LINES).min(self.log.end());
        for line in (start..stop).filter_map(|n| self.log.line(n)) {
            match line {
                Line::Text(line) => spans.line(line)?,
                Line::Error(message) => {
                    spans.flush()?;
                    let error: HtmlElement = self.document.create_element("div")?.unchecked_into();
                    error.set_class_name("error");
                    error.set_attribute("role", "alert")?;
                    error.set_text_content(Some(message));
                    block.append_child(&error)?;
                }
                Line::Picture(picture) => {
                    spans.flush()?;
                    pictures::show(&block, picture, follow.then_some(&self.output));
                }
            }
        }
        spans.flush()
    }

    /// Reflects the status in the toolbar; `python_available` tells an error of the code's
    /// archive (Python itself is fine) from Python failing to start.
    pub fn set_status(&mut self, status: Status, python_available: bool) {
        // A run that ended (or an element that failed) shows all its output before its event.
        self.render();
        self.status.set(status, python_available);
        let running = status == Status::Running;
        if !running
            && self
                .shadow
                .active_element()
                .is_some_and(|active| active == **self.stop_button)
        {
            focus(&self.run_button);
        }
        self.stop_button.set_disabled(!running);
    }

    fn scroll_to_end(&self) {
        self.output.set_scroll_top(self.output.scroll_height());
    }
}

impl Drop for View {
    /// Releases the pictures shown (an element that leaves the page).
    fn drop(&mut self) {
        self.log.clear();
        self.release_pictures();
    }
}

/// Builds a block's content: text of one kind in a row becomes one `span` (one text node),
/// whatever the line breaks inside it.
struct Spans<'a> {
    document: &'a Document,
    block: &'a HtmlElement,
    pending: Option<(PartKind, String)>,
}

impl<'a> Spans<'a> {
    fn new(document: &'a Document, block: &'a HtmlElement) -> Self {
        Self {
            document,
            block,
            pending: None,
        }
    }

    fn text(&mut self, kind: PartKind, text: &str) -> Result<(), BrowserError> {
        match &mut self.pending {
            Some((pending_kind, pending)) if *pending_kind == kind => pending.push_str(text),
            _ => {
                self.flush()?;
                self.pending = Some((kind, text.to_owned()));
            }
        }
        Ok(())
    }

    fn line(&mut self, line: &TextLine) -> Result<(), BrowserError> {
        for (kind, text) in &line.segments {
            self.text(*kind, text)?;
        }
        if line.hidden > 0 {
            self.flush()?;
            let text = format!(
                " … {} more characters on this line (not shown)",
                line.hidden
            );
            self.span("elided", &text)?
                .set_attribute("part", "elided")?;
        }
        if let Some(kind) = line.newline {
            self.text(kind, "\n")?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), BrowserError> {
        if let Some((kind, text)) = self.pending.take() {
            self.span(class_of(kind), &text)?;
        }
        Ok(())
    }

    fn span(&self, class: &str, text: &str) -> Result<HtmlElement, BrowserError> {
        let span: HtmlElement = self.document.create_element("span")?.unchecked_into();
        span.set_class_name(class);
        span.set_text_content(Some(text));
        self.block.append_child(&span)?;
        Ok(span)
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
        PartKind::Image => "picture",
    }
}
