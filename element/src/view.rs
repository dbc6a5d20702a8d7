//! The element's shadow DOM: source code, toolbar (Run, status) and the output log.
//!
//! All output is inserted as text nodes, never parsed as HTML.

use std::cell::RefCell;

use python_runner_protocol::{OutputPart, PartKind};
use wasm_bindgen::prelude::*;
use web_sys::{CssStyleSheet, Document, HtmlButtonElement, HtmlElement, ShadowRoot};

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
    source: HtmlElement,
    run_button: HtmlButtonElement,
    status: HtmlElement,
    output: HtmlElement,
    last_part: Option<(PartKind, HtmlElement)>,
}

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
        let run_button: HtmlButtonElement = create("button", "run")?.unchecked_into();
        run_button.set_type("button");
        run_button.set_text_content(Some("Run"));
        let status = create("span", "status")?;
        status.set_attribute("role", "status")?;
        toolbar.append_with_node_2(&run_button, &status)?;
        let output = create("div", "output")?;
        output.set_attribute("role", "log")?;
        output.set_attribute("aria-label", "Output")?;
        shadow.append_with_node_3(&source, &toolbar, &output)?;
        Ok(Self {
            document,
            source,
            run_button,
            status,
            output,
            last_part: None,
        })
    }

    /// The Run button, for its click listener.
    pub fn run_button(&self) -> &HtmlButtonElement {
        &self.run_button
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
    }

    /// Appends parts, merging text into the previous chunk when the kind is the same.
    pub fn append(&mut self, parts: &[OutputPart]) -> Result<(), JsValue> {
        for part in parts {
            let chunk = match &self.last_part {
                Some((kind, chunk)) if *kind == part.kind => chunk.clone(),
                _ => {
                    let chunk: HtmlElement = self.document.create_element("span")?.unchecked_into();
                    chunk.set_class_name(class_of(part.kind));
                    self.output.append_child(&chunk)?;
                    self.last_part = Some((part.kind, chunk.clone()));
                    chunk
                }
            };
            chunk.append_with_str_1(&part.text)?;
        }
        self.scroll_to_end();
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
        self.scroll_to_end();
        Ok(())
    }

    /// Reflects the status in the toolbar.
    pub fn set_status(&self, status: Status) {
        let text = match status {
            Status::Idle | Status::Ready | Status::Done => "",
            Status::Loading => "Loading Python…",
            Status::Running => "Running…",
            Status::Error => "Python is not available. Run tries again.",
        };
        self.status.set_text_content(Some(text));
        self.run_button
            .set_disabled(matches!(status, Status::Running | Status::Idle));
    }

    fn scroll_to_end(&self) {
        self.output.set_scroll_top(self.output.scroll_height());
    }
}

fn class_of(kind: PartKind) -> &'static str {
    match kind {
        PartKind::Stdout => "stdout",
        PartKind::Stderr => "stderr",
        PartKind::Traceback => "traceback",
        PartKind::SyntaxError => "syntax_error",
        PartKind::InputPrompt => "input_prompt",
        PartKind::Input => "input",
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
