//! Lazy start: one `IntersectionObserver` per page tells each waiting element when it comes near
//! the viewport (within [`MARGIN`]), so a page's Pythons and archives load only for the snippets
//! a reader gets to. An element that is hidden (a closed tab, `display: none`) waits until shown.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use web_sys::{Element, IntersectionObserver, IntersectionObserverEntry, IntersectionObserverInit};

use crate::InstanceId;

/// Told that an element came near the viewport.
pub type OnNear = fn(InstanceId);

/// How far outside the viewport an element starts: a screen and a half above and below, so
/// Python is usually ready by the time a reader scrolls to the snippet.
const MARGIN: &str = "150% 0px";

/// The page's observer and the closure it calls (made once, kept for the page's life).
struct Watcher {
    observer: IntersectionObserver,
    _callback: Closure<dyn FnMut(js_sys::Array)>,
    /// The elements waiting, with their instances and whom to tell.
    watched: Vec<(Element, InstanceId, OnNear)>,
}

thread_local! {
    static WATCHER: RefCell<Option<Watcher>> = const { RefCell::new(None) };
}

/// Calls `on_near(id)` once `host` comes near the viewport (soon where the browser has no
/// `IntersectionObserver`).
pub fn watch(id: InstanceId, host: &Element, on_near: OnNear) {
    let watching = WATCHER.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            *cell = new_watcher();
        }
        let watcher = cell.as_mut()?;
        watcher.observer.observe(host);
        watcher.watched.push((host.clone(), id, on_near));
        Some(())
    });
    if watching.is_none() {
        wasm_bindgen_futures::spawn_local(async move { on_near(id) });
    }
}

/// Stops watching `host` (it left the document).
pub fn unwatch(host: &Element) {
    WATCHER.with(|cell| {
        if let Some(watcher) = cell.borrow_mut().as_mut() {
            watcher.observer.unobserve(host);
            watcher.watched.retain(|(element, ..)| element != host);
        }
    });
}

fn new_watcher() -> Option<Watcher> {
    let callback = Closure::<dyn FnMut(js_sys::Array)>::new(on_entries);
    let options = IntersectionObserverInit::new();
    options.set_root_margin(MARGIN);
    let observer =
        IntersectionObserver::new_with_options(callback.as_ref().unchecked_ref(), &options).ok()?;
    Some(Watcher {
        observer,
        _callback: callback,
        watched: Vec::new(),
    })
}

/// The observer's report: elements now near the viewport start, and are no longer watched.
fn on_entries(entries: js_sys::Array) {
    let near: Vec<(InstanceId, OnNear)> = WATCHER.with(|cell| {
        let mut cell = cell.borrow_mut();
        let Some(watcher) = cell.as_mut() else {
            return Vec::new();
        };
        let mut near = Vec::new();
        for entry in entries.iter() {
            let entry: IntersectionObserverEntry = entry.unchecked_into();
            if !entry.is_intersecting() {
                continue;
            }
            let target = entry.target();
            watcher.observer.unobserve(&target);
            watcher.watched.retain(|(element, id, on_near)| {
                let found = *element == target;
                if found {
                    near.push((*id, *on_near));
                }
                !found
            });
        }
        near
    });
    for (id, on_near) in near {
        on_near(id);
    }
}
