//! The `editable` source: a text area with Python's keys. Tab and Shift+Tab indent and dedent
//! (every selected line), Enter keeps the line's indentation and indents after `:`, Esc then
//! Tab leaves (keyboard users are never trapped); Ctrl/Cmd+Enter runs (`lifecycle.rs`). Edits
//! go through the browser's own editing (`insertText`), so undo keeps working after them.

use wasm_bindgen::prelude::*;
use web_sys::{HtmlButtonElement, HtmlElement};

use crate::error::BrowserError;

#[wasm_bindgen(inline_js = r#"
const INDENT = "    ";
// Replaces the selection with `text` as the reader's own edit (undoable); `setRangeText` where
// the browser has no `insertText` command (the text is right, only undo misses the step).
function insert(area, text) {
  if (!(text ? document.execCommand("insertText", false, text) : document.execCommand("delete"))) {
    area.setRangeText(text, area.selectionStart, area.selectionEnd, "end");
    area.dispatchEvent(new InputEvent("input", { bubbles: true, composed: true }));
  }
}
function fit(area) {
  area.rows = Math.max(1, area.value.split("\n").length);
}
function key(area, e) {
  if (e.key === "Escape") {
    area.escaped = true;
    return;
  }
  const escaped = area.escaped;
  area.escaped = false;
  if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
  const { value, selectionStart: start, selectionEnd: end } = area;
  const first = value.lastIndexOf("\n", start - 1) + 1;
  // WebKitGTK names Shift+Tab's key "Unidentified" (GTK's ISO_Left_Tab); its code is Tab.
  if ((e.key === "Tab" || e.code === "Tab") && !escaped) {
    e.preventDefault();
    if (start === end && !e.shiftKey) return insert(area, INDENT.slice((start - first) % 4));
    // Whole lines, from the selection's first to its last (not one it merely ends before).
    const last = end > start && value[end - 1] === "\n" ? end - 1 : end;
    const stop = value.indexOf("\n", last);
    const lines = value.slice(first, stop < 0 ? value.length : stop);
    const changed = lines.split("\n")
      .map((line) => (e.shiftKey ? line.replace(/^(\t| {1,4})/, "") : line && INDENT + line))
      .join("\n");
    if (changed === lines) return;
    area.setSelectionRange(first, first + lines.length);
    insert(area, changed);
    if (start === end) {
      // A dedent of the caret's line: the caret stays where it was in the text.
      const caret = Math.max(first, start - (lines.length - changed.length));
      area.setSelectionRange(caret, caret);
    } else {
      area.setSelectionRange(first, first + changed.length);
    }
  } else if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault();
    const line = value.slice(first, start);
    insert(area, "\n" + line.match(/^[ \t]*/)[0] + (/:\s*$/.test(line) ? INDENT : ""));
  }
}
export function editor_setup(area, host) {
  area.addEventListener("keydown", (e) => key(area, e));
  area.addEventListener("input", () => fit(area));
  area.addEventListener("change", () => host.dispatchEvent(new Event("change", { bubbles: true })));
}
export function editor_value(area) {
  return area.value;
}
export function editor_set(area, text, undoable) {
  if (undoable) {
    area.focus();
    area.select();
    insert(area, text);
  } else {
    area.value = text;
  }
  fit(area);
}
"#)]
extern "C" {
    /// Gives the text area `area` of element `host` its keys, its height (one row per line),
    /// and a `change` event on the host when an edit is committed.
    fn editor_setup(area: &HtmlElement, host: &HtmlElement);
    /// The text in the editor.
    fn editor_value(area: &HtmlElement) -> String;
    /// Sets the text: as an edit the reader can undo (Reset), or outright (the page's code).
    pub fn editor_set(area: &HtmlElement, text: &str, undoable: bool);
}

/// The editor of an `editable` element: its text area, its Reset button, and the code Reset
/// restores (the element's own).
pub struct Editor {
    area: HtmlElement,
    reset: HtmlButtonElement,
    original: String,
}

impl Editor {
    /// Makes `area` (a text area in `host`'s shadow root) an editor, with `reset`.
    pub fn new(
        area: &HtmlElement,
        reset: HtmlButtonElement,
        host: &HtmlElement,
    ) -> Result<Self, BrowserError> {
        for (name, value) in [
            ("spellcheck", "false"),
            ("autocapitalize", "off"),
            ("wrap", "off"),
        ] {
            area.set_attribute(name, value)?;
        }
        editor_setup(area, host);
        reset.set_disabled(true);
        Ok(Self {
            area: area.clone(),
            reset,
            original: String::new(),
        })
    }

    /// Shows the element's code (what Reset restores from now on).
    pub fn show(&mut self, code: &str) {
        editor_set(&self.area, code, false);
        code.clone_into(&mut self.original);
        self.reset.set_disabled(true);
    }

    /// The text area, to listen to.
    pub fn area(&self) -> &HtmlElement {
        &self.area
    }

    /// The Reset button, to listen to.
    pub fn reset_button(&self) -> &HtmlButtonElement {
        &self.reset
    }

    /// The reader edited the code: its text now; Reset is on while it differs from the element's.
    pub fn edited(&self) -> String {
        let code = editor_value(&self.area);
        self.reset.set_disabled(code == self.original);
        code
    }

    /// What Reset restores, and where (set outside any borrow of the instance, with
    /// [`editor_set`]: the edit fires `input` at once).
    pub fn reset_target(&self) -> (HtmlElement, String) {
        (self.area.clone(), self.original.clone())
    }
}
