//! The element's life: connected (instance built, worker started, code read when the document
//! allows), disconnected (instance dropped), attributes changed, the page hidden and shown again, and
//! what its properties and methods read and do.

use std::cell::RefCell;

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{HtmlElement, ShadowRoot};

use crate::attributes;
use crate::code;
use crate::editor::Editor;
use crate::effects::update;
use crate::error::BrowserError;
use crate::instances::{self, Instance};
use crate::js::{has_early_properties, upgrade_early_properties, RunnerHost};
use crate::listener::Listener;
use crate::machine::{Machine, Status};
use crate::snapshot;
use crate::spare;
use crate::view::View;
use crate::viewport;
use crate::InstanceId;

fn build(id: InstanceId, shadow: &ShadowRoot) -> Result<Instance, BrowserError> {
    let host: HtmlElement = shadow.host().unchecked_into();
    let mut view = View::build(shadow, host.has_attribute("editable"))?;
    view.set_code_hidden(host.has_attribute("hide-code"));
    view.set_status(Machine::default().status(), true);
    let mut listeners = vec![
        Listener::new(view.run_button(), "click", move |_| {
            update(id, |instance| instance.machine.run_requested());
        })?,
        Listener::new(view.stop_button(), "click", move |_| {
            update(id, |instance| instance.machine.stop_requested());
        })?,
    ];
    if let Some(editor) = view.editor() {
        let area = editor.area();
        listeners.push(Listener::new(area, "input", move |_| update(id, edited))?);
        listeners.push(Listener::new(area, "keydown", move |event| {
            let key: &web_sys::KeyboardEvent = event.unchecked_ref();
            if key.key() == "Enter" && (key.ctrl_key() || key.meta_key()) {
                event.prevent_default();
                update(id, |instance| instance.machine.run_requested());
            }
        })?);
        listeners.push(Listener::new(editor.reset_button(), "click", move |_| {
            let target = instances::with(id, |i| i.view.editor().map(Editor::reset_target));
            if let Some((area, code)) = target.flatten() {
                crate::editor::editor_set(&area, &code, true);
            }
        })?);
    }
    Ok(Instance {
        host,
        view,
        machine: Machine::default(),
        worker: None,
        archive_url: None,
        attachment: JsValue::UNDEFINED,
        _listeners: listeners,
        waiting_for_document: None,
    })
}

/// The element was connected: build its instance if needed, start its worker, and read its
/// code when the document allows. Properties set before the element was defined are applied
/// first, from a microtask (they set attributes, which a lifecycle callback must not do).
pub fn connected(id: InstanceId, host: &HtmlElement) {
    if has_early_properties(host) {
        let host = host.clone();
        wasm_bindgen_futures::spawn_local(async move {
            upgrade_early_properties(&host);
            if host.is_connected() {
                connect_now(id, &host);
            }
        });
        return;
    }
    connect_now(id, host);
}

fn connect_now(id: InstanceId, host: &HtmlElement) {
    if !instances::contains(id) {
        let Some(shadow) = host.shadow_root() else {
            return;
        };
        match build(id, &shadow) {
            Ok(instance) => instances::insert(id, instance),
            Err(error) => {
                error.log("build the element");
                return;
            }
        }
    }
    let manual = host.has_attribute("manual");
    let has_archive = attributes::has_archive(host);
    let lazy = attributes::lazy(host);
    update(id, |instance| {
        instance.machine.set_lazy(lazy);
        instance.machine.connected(manual, has_archive)
    });
    let document = host.owner_document();
    let still_parsing = document
        .as_ref()
        .is_some_and(|document| document.ready_state() == "loading");
    if let (true, Some(document)) = (still_parsing, document) {
        // The parser may not have added the element's children yet: read the code when it has.
        let listener = Listener::new(&document, "DOMContentLoaded", move |_| {
            update(id, |instance| {
                instance.waiting_for_document = None;
                read_code(instance)
            });
        });
        match listener {
            Ok(listener) => {
                instances::with(id, |instance| {
                    instance.waiting_for_document = Some(listener);
                });
            }
            Err(error) => error.log("wait for the document to load"),
        }
    } else {
        // Script-created elements often get their text right after being appended.
        wasm_bindgen_futures::spawn_local(async move {
            update(id, read_code);
        });
    }
}

/// The element left the document. Moving an element disconnects and reconnects it at once,
/// so the teardown waits for a microtask and only happens if it is still detached.
pub fn disconnected(id: InstanceId) {
    wasm_bindgen_futures::spawn_local(async move {
        let detached = instances::with(id, |instance| !instance.host.is_connected());
        if detached == Some(true) && tear_down(id) {
            spare::clear();
        }
    });
}

/// Drops instance `id` (its worker, listeners and viewport watch); says whether none is left.
fn tear_down(id: InstanceId) -> bool {
    update(id, |instance| {
        viewport::unwatch(&instance.host);
        instance.machine.disconnected()
    });
    instances::remove(id)
}

thread_local! {
    /// The elements [`page_hidden`] let go of, rebuilt when the page shows again.
    static HIDDEN: RefCell<Vec<(InstanceId, HtmlElement)>> = const { RefCell::new(Vec::new()) };
}

/// The page is hidden (the reader navigates away, maybe into the back/forward cache; `main.js` listens for
/// `pagehide`): every element lets go of its workers. A frozen page's workers keep what they were doing:
/// Firefox then never finished another page's asynchronous WebAssembly compilation (the next page's Python
/// never started) until it evicted the frozen page, tens of seconds later.
pub fn page_hidden() {
    let hidden = instances::hosts();
    for (id, _) in &hidden {
        tear_down(*id);
    }
    spare::clear();
    snapshot::abandon();
    HIDDEN.with(|all| all.borrow_mut().extend(hidden));
}

/// The page is shown (`pageshow`; also on the first load, when nothing is hidden): back from the back/forward
/// cache, the elements start over as after a reload.
pub fn page_shown() {
    for (id, host) in HIDDEN.with(|all| std::mem::take(&mut *all.borrow_mut())) {
        if host.is_connected() {
            connected(id, &host);
        }
    }
}

/// An observed attribute changed.
pub fn attribute_changed(id: InstanceId, name: &str, value: Option<&str>) {
    instances::with(id, |instance| match name {
        "hide-code" => instance.view.set_code_hidden(value.is_some()),
        "manual" => instance.machine.set_manual(value.is_some()),
        _ => {}
    });
}

/// The `code` property was set.
pub fn code_property_changed(id: InstanceId) {
    update(id, read_code);
}

/// The `code` property's value: the code that runs.
pub fn code_of(id: InstanceId, host: &HtmlElement) -> String {
    if let Some(code) = host.unchecked_ref::<RunnerHost>().code_property() {
        return code;
    }
    instances::with(id, |instance| instance.machine.code().map(str::to_string))
        .flatten()
        .unwrap_or_else(|| code_from_children(host))
}

/// The `state` property's value.
pub fn state_of(id: InstanceId) -> &'static str {
    instances::with(id, |instance| instance.machine.status().as_str()).unwrap_or("idle")
}

/// `run()`: runs the code (again).
pub fn run(id: InstanceId) {
    update(id, |instance| instance.machine.run_requested());
}

/// `stop()`: stops the code running.
pub fn stop(id: InstanceId) {
    update(id, |instance| instance.machine.stop_requested());
}

/// The `activeTransport` property: how the current worker waits for the page, once it is ready.
pub fn active_transport_of(id: InstanceId) -> Option<&'static str> {
    instances::with(id, |instance| {
        instance.worker.as_ref()?;
        matches!(
            instance.machine.status(),
            Status::Ready | Status::Running | Status::Done
        )
        .then(|| instance.machine.transport().wire_name())
    })
    .flatten()
}

/// The code from a child `<script type="text/python">`, else the element's own text.
fn code_from_children(host: &HtmlElement) -> String {
    let script = host
        .query_selector(":scope > script[type='text/python']")
        .ok()
        .flatten();
    let text = match script {
        Some(script) => script.text_content(),
        None => host.text_content(),
    };
    code::normalize(&text.unwrap_or_default())
}

/// The reader edited the code (`editable`): it is the `code` property's value and runs next.
fn edited(instance: &mut Instance) -> Vec<crate::machine::Effect> {
    let Some(code) = instance.view.editor().map(Editor::edited) else {
        return Vec::new();
    };
    instance
        .host
        .unchecked_ref::<RunnerHost>()
        .set_code_property(&code);
    instance.machine.code_edited(code);
    Vec::new()
}

fn read_code(instance: &mut Instance) -> Vec<crate::machine::Effect> {
    let code = match instance.host.unchecked_ref::<RunnerHost>().code_property() {
        Some(code) => code,
        None => code_from_children(&instance.host),
    };
    instance.view.show_code(&code);
    instance.machine.code_changed(code)
}
