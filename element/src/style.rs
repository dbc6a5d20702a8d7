//! The element's look: one stylesheet (`style.css`: colours, fonts and radius come from the
//! documented `--python-runner-*` custom properties, light or dark by `theme` or the reader's
//! colour scheme), adopted by every element's shadow root.

use std::cell::RefCell;

use web_sys::{CssStyleSheet, Document, ShadowRoot};

use crate::error::BrowserError;

/// The element's stylesheet, written compactly because it ships inside the wasm.
const STYLE: &str = include_str!("style.css");

thread_local! {
    /// One constructed stylesheet shared by every element (no inline `<style>`, so strict CSP works).
    static SHEET: RefCell<Option<CssStyleSheet>> = const { RefCell::new(None) };
}

/// Gives `shadow` the element's stylesheet.
pub fn adopt(document: &Document, shadow: &ShadowRoot) -> Result<(), BrowserError> {
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
