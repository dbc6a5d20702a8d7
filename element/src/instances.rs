//! The live `<python-runner>` instances, keyed by [`InstanceId`].
//!
//! An instance exists only while its element is in a document: it is built on connect and
//! removed when the element leaves (worker terminated, listeners dropped), so the pool never
//! keeps a detached element alive; reconnecting rebuilds it.

use std::cell::{Cell, RefCell};

use wasm_bindgen::JsValue;
use web_sys::HtmlElement;

use crate::listener::Listener;
use crate::machine::Machine;
use crate::runtimes::Lease;
use crate::view::View;
use crate::InstanceId;

/// One connected element: its view, state machine and worker.
pub struct Instance {
    /// The element.
    pub host: HtmlElement,
    /// Its shadow DOM.
    pub view: View,
    /// Its state.
    pub machine: Machine,
    /// Its share of its runtime's workers, while it has one.
    pub worker: Option<Lease>,
    /// The archive it waits for (its download progress shows meanwhile).
    pub archive_url: Option<String>,
    /// The bytes of the picture in the output message being handled (see [`View::append`]).
    pub attachment: JsValue,
    /// Listeners that live as long as the instance (Run and Stop clicks).
    pub _listeners: Vec<Listener>,
    /// Waits for the document to finish parsing before reading the code.
    pub waiting_for_document: Option<Listener>,
}

thread_local! {
    /// Instances by id: a short list (a page has a handful of elements), smaller in wasm than a map.
    static INSTANCES: RefCell<Vec<(InstanceId, Instance)>> = const { RefCell::new(Vec::new()) };
    static NEXT_ID: Cell<InstanceId> = const { Cell::new(1) };
}

/// A new element's id. Its instance is built when it is connected and dropped when it leaves
/// the document, so elements never connected, or removed, hold nothing here.
pub fn new_id() -> InstanceId {
    NEXT_ID.with(|next| {
        let id = next.get();
        next.set(id + 1);
        id
    })
}

/// How many instances the pool holds (elements in a document, or detached less than a microtask ago).
pub fn live_instance_count() -> usize {
    INSTANCES.with(|instances| instances.borrow().len())
}

/// Whether the page has any instance left.
pub fn any_live() -> bool {
    live_instance_count() > 0
}

/// Every instance's id and element.
pub fn hosts() -> Vec<(InstanceId, HtmlElement)> {
    INSTANCES.with(|instances| {
        instances
            .borrow()
            .iter()
            .map(|(id, instance)| (*id, instance.host.clone()))
            .collect()
    })
}

/// Whether instance `id` exists.
pub fn contains(id: InstanceId) -> bool {
    INSTANCES.with(|instances| instances.borrow().iter().any(|(key, _)| *key == id))
}

/// Adds (or replaces) instance `id`.
pub fn insert(id: InstanceId, instance: Instance) {
    INSTANCES.with(|instances| {
        let mut instances = instances.borrow_mut();
        instances.retain(|(key, _)| *key != id);
        instances.push((id, instance));
    });
}

/// Removes instance `id` (dropping it terminates its worker and removes its listeners) and says
/// whether the pool is now empty. The instance is dropped after the pool is released.
pub fn remove(id: InstanceId) -> bool {
    let (removed, empty) = INSTANCES.with(|instances| {
        let mut instances = instances.borrow_mut();
        let removed = instances
            .iter()
            .position(|(key, _)| *key == id)
            .map(|index| instances.swap_remove(index));
        (removed, instances.is_empty())
    });
    drop(removed);
    empty
}

/// Runs `action` on instance `id`, if it exists.
pub fn with<R>(id: InstanceId, action: impl FnOnce(&mut Instance) -> R) -> Option<R> {
    INSTANCES.with(|instances| {
        instances
            .borrow_mut()
            .iter_mut()
            .find(|(key, _)| *key == id)
            .map(|(_, instance)| action(instance))
    })
}

/// Runs `action` on every instance.
pub fn for_each(mut action: impl FnMut(&mut Instance)) {
    INSTANCES.with(|instances| {
        for (_, instance) in instances.borrow_mut().iter_mut() {
            action(instance);
        }
    });
}
