//! Pictures in the output (Python's `display()`, matplotlib's `show()`): their bytes become an
//! object URL shown by an `<img>`, so an SVG never becomes part of the page and cannot run
//! script, and the URL is released when the picture leaves the log.

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use web_sys::HtmlElement;

use crate::log::Picture;

#[wasm_bindgen(inline_js = r#"
export function picture_url(mime, bytes) {
  return URL.createObjectURL(new Blob([bytes], { type: mime }));
}
export function release_url(url) {
  URL.revokeObjectURL(url);
}
export function add_picture(block, url, alt, follow) {
  const img = block.ownerDocument.createElement("img");
  img.className = "picture";
  img.setAttribute("part", "picture");
  img.alt = alt;
  if (follow) img.onload = () => { follow.scrollTop = follow.scrollHeight; };
  img.src = url;
  block.append(img);
}
"#)]
extern "C" {
    fn picture_url(mime: &str, bytes: &Uint8Array) -> String;
    fn release_url(url: &str);
    fn add_picture(block: &HtmlElement, url: &str, alt: &str, follow: Option<&HtmlElement>);
}

/// The picture types an `<img>` shows in every browser.
const TYPES: [&str; 5] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/svg+xml",
];

/// A picture of type `mime` made of `bytes` (the output message's attachment), or why it cannot
/// be shown.
pub fn make(mime: Option<&str>, bytes: JsValue, alt: &str) -> Result<Picture, &'static str> {
    let mime = mime
        .filter(|mime| TYPES.contains(mime))
        .ok_or("not a PNG, JPEG, GIF, WebP or SVG picture")?;
    let bytes: Uint8Array = bytes.dyn_into().map_err(|_| "its bytes did not arrive")?;
    Ok(Picture {
        url: picture_url(mime, &bytes),
        alt: alt.to_owned(),
        size: bytes.length() as usize,
    })
}

/// Lets the browser free the bytes behind `url`.
pub fn release(url: &str) {
    release_url(url);
}

/// Appends `picture` to `block` as an `<img>`; once it has loaded (and so has its height), the
/// log scrolls to its end again when `follow` is given (the log was at its end).
pub fn show(block: &HtmlElement, picture: &Picture, follow: Option<&HtmlElement>) {
    add_picture(block, &picture.url, &picture.alt, follow);
}
