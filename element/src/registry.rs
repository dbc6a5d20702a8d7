//! The pool of live `<python-runner>` instances and the glue that carries out their
//! state machine's effects: DOM updates, worker messages and events.
//!
//! Instances are keyed by an [`InstanceId`] held by the element's `custom-elements` shell.
//! An instance exists only while its element is in a document: it is built on connect and
//! removed when the element leaves (worker terminated, listeners dropped), so the pool never
//! keeps a detached element alive; reconnecting rebuilds it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use python_runner_protocol::js::describe_error as describe;
use python_runner_protocol::{ArchiveSpec, ErrorKind, FromWorker, RunOptions, ToWorker, Transport};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use web_sys::{
    CustomEvent, CustomEventInit, HtmlElement, HtmlInputElement, KeyboardEvent, ShadowRoot,
};

use crate::archive;
use crate::bindings::{self, RunnerHost};
use crate::code;
use crate::listener::Listener;
use crate::machine::{Effect, ElementEvent, Machine, Status, STOP_GRACE_MS};
use crate::spare::{self, Owner};
use crate::view::View;
use crate::worker_client::{choose_transport, WorkerClient, WorkerEvent};

/// Identifies one element instance in the pool.
pub type InstanceId = u32;

/// Attributes whose changes the element reacts to.
pub const OBSERVED_ATTRIBUTES: &[&str] = &["hide-code", "manual"];

/// Where Pyodide is loaded from when `pyodide-url` is absent: the official CDN, pinned.
pub const DEFAULT_PYODIDE_URL: &str = "https://cdn.jsdelivr.net/pyodide/v314.0.7/full/";

struct Instance {
    host: HtmlElement,
    view: View,
    machine: Machine,
    worker: Option<WorkerClient>,
    /// The archive this element waits for (shows its download progress meanwhile).
    archive_url: Option<String>,
    _clicks: [Listener; 2],
    waiting_for_document: Option<Listener>,
}

/// Instances by id: a short list (a page has a handful of elements), smaller in wasm than a map.
struct Pool(Vec<(InstanceId, Instance)>);

impl Pool {
    fn get(&self, id: &InstanceId) -> Option<&Instance> {
        self.0
            .iter()
            .find(|(key, _)| key == id)
            .map(|(_, instance)| instance)
    }

    fn get_mut(&mut self, id: &InstanceId) -> Option<&mut Instance> {
        self.0
            .iter_mut()
            .find(|(key, _)| key == id)
            .map(|(_, instance)| instance)
    }

    fn contains_key(&self, id: &InstanceId) -> bool {
        self.get(id).is_some()
    }

    fn insert(&mut self, id: InstanceId, instance: Instance) {
        self.remove(&id);
        self.0.push((id, instance));
    }

    fn remove(&mut self, id: &InstanceId) -> Option<Instance> {
        let index = self.0.iter().position(|(key, _)| key == id)?;
        Some(self.0.swap_remove(index).1)
    }

    fn iter(&self) -> std::slice::Iter<'_, (InstanceId, Instance)> {
        self.0.iter()
    }
}

thread_local! {
    static INSTANCES: RefCell<Pool> = const { RefCell::new(Pool(Vec::new())) };
    static NEXT_ID: Cell<InstanceId> = const { Cell::new(1) };
    static WORKER_SOURCE: RefCell<JsValue> = const { RefCell::new(JsValue::UNDEFINED) };
    static WASM_MODULE: RefCell<JsValue> = const { RefCell::new(JsValue::UNDEFINED) };
    static WORKER_URL: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// How many instances the pool holds (elements in a document, or detached less than a microtask ago).
pub fn live_instance_count() -> usize {
    INSTANCES.with(|instances| instances.borrow().0.len())
}

/// Stores the worker's module source, a JS string (for [`worker_url`]), and the compiled wasm module it instantiates.
pub fn set_worker_code(source: js_sys::JsString, wasm_module: JsValue) {
    WORKER_SOURCE.with(|cell| *cell.borrow_mut() = source.into());
    WASM_MODULE.with(|cell| *cell.borrow_mut() = wasm_module);
}

/// A Blob URL for the worker module, created once per page and shared by all elements.
fn worker_url() -> Result<String, JsValue> {
    WORKER_URL.with(|cell| {
        if let Some(url) = cell.borrow().as_ref() {
            return Ok(url.clone());
        }
        let source = WORKER_SOURCE.with(|source| source.borrow().clone());
        let options = web_sys::BlobPropertyBag::new();
        options.set_type("text/javascript");
        let blob = web_sys::Blob::new_with_str_sequence_and_options(
            &js_sys::Array::of1(&source),
            &options,
        )?;
        let url = web_sys::Url::create_object_url_with_blob(&blob)?;
        *cell.borrow_mut() = Some(url.clone());
        Ok(url)
    })
}

/// A new element's id. Its instance (view, state, worker) is built when it is connected and
/// dropped when it leaves the document, so elements that are never connected, or were removed,
/// hold nothing here and can be garbage-collected.
pub fn new_id() -> InstanceId {
    NEXT_ID.with(|next| {
        let id = next.get();
        next.set(id + 1);
        id
    })
}

fn insert(id: InstanceId, shadow: &ShadowRoot) -> Result<(), JsValue> {
    let host: HtmlElement = shadow.host().unchecked_into();
    let mut view = View::build(shadow)?;
    view.set_code_hidden(host.has_attribute("hide-code"));
    view.set_status(Machine::default().status(), true);
    let clicks = [
        Listener::new(view.run_button(), "click", move |_| {
            update(id, |instance| instance.machine.run_requested());
        })?,
        Listener::new(view.stop_button(), "click", move |_| {
            update(id, |instance| instance.machine.stop_requested());
        })?,
    ];
    INSTANCES.with(|instances| {
        instances.borrow_mut().insert(
            id,
            Instance {
                host,
                view,
                machine: Machine::default(),
                worker: None,
                archive_url: None,
                _clicks: clicks,
                waiting_for_document: None,
            },
        )
    });
    Ok(())
}

/// The element was connected: build its instance if needed, start its worker, and read its
/// code when the document allows. Properties set before the element was defined are applied
/// first, from a microtask (they set attributes, which a lifecycle callback must not do).
pub fn connected(id: InstanceId, host: &HtmlElement) {
    if bindings::has_early_properties(host) {
        let host = host.clone();
        wasm_bindgen_futures::spawn_local(async move {
            bindings::upgrade_early_properties(&host);
            if host.is_connected() {
                connect_now(id, &host);
            }
        });
        return;
    }
    connect_now(id, host);
}

fn connect_now(id: InstanceId, host: &HtmlElement) {
    let exists = INSTANCES.with(|instances| instances.borrow().contains_key(&id));
    if !exists {
        let Some(shadow) = host.shadow_root() else {
            return;
        };
        if let Err(error) = insert(id, &shadow) {
            web_sys::console::error_2(&"python-runner: could not build the element".into(), &error);
            return;
        }
    }
    let manual = host.has_attribute("manual");
    update(id, |instance| instance.machine.connected(manual));
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
            Ok(listener) => with_instance(id, |instance| {
                instance.waiting_for_document = Some(listener);
            }),
            Err(error) => web_sys::console::error_1(&error),
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
        let detached = INSTANCES.with(|instances| {
            instances
                .borrow()
                .get(&id)
                .is_some_and(|instance| !instance.host.is_connected())
        });
        if detached {
            update(id, |instance| instance.machine.disconnected());
            // Dropping the instance terminates its worker and removes its listeners.
            let empty = INSTANCES.with(|instances| {
                let mut instances = instances.borrow_mut();
                instances.remove(&id);
                instances.0.is_empty()
            });
            if empty {
                spare::clear();
            }
        }
    });
}

/// An observed attribute changed.
pub fn attribute_changed(id: InstanceId, name: &str, value: Option<&str>) {
    with_instance(id, |instance| match name {
        "hide-code" => instance.view.set_code_hidden(value.is_some()),
        "manual" => instance.machine.set_manual(value.is_some()),
        _ => {}
    });
}

/// The `code` property was set.
pub fn code_property_changed(host: &HtmlElement) {
    if let Some(id) = find(host) {
        update(id, read_code);
    }
}

/// The `code` property's value: the code that runs.
pub fn code_of(host: &HtmlElement) -> String {
    if let Some(code) = host.unchecked_ref::<RunnerHost>().code_property() {
        return code;
    }
    find(host)
        .and_then(|id| {
            INSTANCES.with(|instances| {
                instances
                    .borrow()
                    .get(&id)
                    .and_then(|instance| instance.machine.code().map(str::to_string))
            })
        })
        .unwrap_or_else(|| code_from_children(host))
}

/// The `state` property's value.
pub fn state_of(host: &HtmlElement) -> String {
    find(host)
        .and_then(|id| {
            INSTANCES.with(|instances| {
                instances
                    .borrow()
                    .get(&id)
                    .map(|instance| instance.machine.status().as_str().to_string())
            })
        })
        .unwrap_or_else(|| "idle".into())
}

/// `run()`: runs the code (again).
pub fn run(host: &HtmlElement) {
    if let Some(id) = find(host) {
        update(id, |instance| instance.machine.run_requested());
    }
}

/// `stop()`: stops the code running.
pub fn stop(host: &HtmlElement) {
    if let Some(id) = find(host) {
        update(id, |instance| instance.machine.stop_requested());
    }
}

/// The `activeTransport` property: how the current worker waits for the page, once it is ready.
pub fn active_transport_of(host: &HtmlElement) -> JsValue {
    find(host)
        .and_then(|id| {
            INSTANCES.with(|instances| {
                let instances = instances.borrow();
                let instance = instances.get(&id)?;
                instance.worker.as_ref()?;
                matches!(
                    instance.machine.status(),
                    Status::Ready | Status::Running | Status::Done
                )
                .then(|| instance.machine.transport().wire_name())
            })
        })
        .map_or(JsValue::NULL, JsValue::from)
}

fn find(host: &HtmlElement) -> Option<InstanceId> {
    INSTANCES.with(|instances| {
        instances
            .borrow()
            .iter()
            .find(|(_, instance)| instance.host == *host)
            .map(|(id, _)| *id)
    })
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

fn read_code(instance: &mut Instance) -> Vec<Effect> {
    let code = match instance.host.unchecked_ref::<RunnerHost>().code_property() {
        Some(code) => code,
        None => code_from_children(&instance.host),
    };
    instance.view.show_code(&code);
    instance.machine.code_changed(code)
}

fn with_instance(id: InstanceId, action: impl FnOnce(&mut Instance)) {
    INSTANCES.with(|instances| {
        if let Some(instance) = instances.borrow_mut().get_mut(&id) {
            action(instance);
        }
    });
}

/// Feeds one input to an instance's machine and carries out the effects. Events are
/// dispatched from a microtask, after every borrow and every `custom-elements` lock is released.
fn update(id: InstanceId, input: impl FnOnce(&mut Instance) -> Vec<Effect>) {
    let mut events = Vec::new();
    let mut host = None;
    with_instance(id, |instance| {
        let mut effects = input(instance);
        while !effects.is_empty() {
            let mut follow_up = Vec::new();
            for effect in effects {
                follow_up.extend(apply(id, instance, effect, &mut events));
            }
            effects = follow_up;
        }
        host = Some(instance.host.clone());
    });
    if let (Some(host), false) = (host, events.is_empty()) {
        wasm_bindgen_futures::spawn_local(async move {
            for event in events {
                dispatch(&host, event);
            }
        });
    }
}

fn apply(
    id: InstanceId,
    instance: &mut Instance,
    effect: Effect,
    events: &mut Vec<ElementEvent>,
) -> Vec<Effect> {
    let result = match effect {
        Effect::SpawnWorker => match start_worker(id, &instance.host) {
            Ok((worker, ready)) => {
                instance.worker = Some(worker);
                // Announced before any run is sent, so the worker holds runs until it is unpacked.
                let mut follow_up = announce_archive(id, instance);
                if let Some((version, transport)) = ready {
                    // A spare that has already booted: the element is ready at once.
                    follow_up.extend(worker_ready(instance, version, transport));
                }
                return follow_up;
            }
            Err(reason) => return instance.machine.worker_crashed(&reason),
        },
        Effect::ShowInput { .. } => instance
            .view
            .show_input(move |event| on_input_event(id, event)),
        Effect::HideInput => {
            instance.view.hide_input();
            Ok(())
        }
        Effect::SendReply { seq, reply } => {
            let sent = match &instance.worker {
                Some(worker) => worker.reply(seq, &reply).map_err(|error| describe(&error)),
                None => Err("no worker".to_string()),
            };
            if let Err(reason) = sent {
                return instance.machine.worker_crashed(&reason);
            }
            Ok(())
        }
        Effect::Interrupt { run } => {
            if let Some(worker) = &instance.worker {
                worker.interrupt(run);
            }
            Ok(())
        }
        Effect::StartStopTimer { run } => {
            wasm_bindgen_futures::spawn_local(async move {
                delay(STOP_GRACE_MS).await;
                update(id, |instance| instance.machine.stop_grace_over(run));
            });
            Ok(())
        }
        Effect::TerminateWorker => {
            instance.worker = None;
            Ok(())
        }
        Effect::SendRun { id: run_id, code } => {
            let sent = match &instance.worker {
                Some(worker) => worker
                    .send(&ToWorker::Run {
                        id: run_id,
                        code,
                        options: run_options(&instance.host),
                    })
                    .map_err(|error| describe(&error)),
                None => Err("no worker".to_string()),
            };
            if let Err(reason) = sent {
                return instance.machine.worker_crashed(&reason);
            }
            warm_spare(instance);
            Ok(())
        }
        Effect::ClearOutput => {
            instance.view.clear_output();
            Ok(())
        }
        Effect::AppendOutput(parts) => {
            let first_change = instance.view.append(&parts);
            schedule_render(id, instance, first_change);
            Ok(())
        }
        Effect::ShowError(message) => {
            let first_change = instance.view.show_error(&message);
            schedule_render(id, instance, first_change);
            Ok(())
        }
        Effect::SetStatus(status) => {
            instance
                .view
                .set_status(status, instance.machine.python_available());
            instance.host.set_attribute("state", status.as_str())
        }
        Effect::Dispatch(event) => {
            events.push(event);
            Ok(())
        }
    };
    if let Err(error) = result {
        web_sys::console::error_2(
            &"python-runner: could not update the element".into(),
            &error,
        );
    }
    Vec::new()
}

/// A worker for element `id`: the spare if one matches (with its version and transport if it
/// has booted), else a new one.
fn start_worker(
    id: InstanceId,
    host: &HtmlElement,
) -> Result<(WorkerClient, Option<(String, Transport)>), String> {
    let pyodide_url = pyodide_url(host)?;
    let transport = choose_transport(preferred_transport(host));
    if let Some(adopted) = spare::take(&pyodide_url, transport, id) {
        // Whoever needed this one (a restart, most likely) may well need the next one soon.
        refill_spare(pyodide_url, transport);
        return Ok((adopted.client, adopted.ready));
    }
    let owner: Owner = Rc::new(Cell::new(Some(id)));
    Ok((spawn_worker(&pyodide_url, transport, owner, 0)?, None))
}

/// Starts a worker whose events go to the element in `owner`, or to the spare pool (as spare
/// `serial`) while `owner` is empty.
fn spawn_worker(
    pyodide_url: &str,
    transport: Transport,
    owner: Owner,
    serial: u32,
) -> Result<WorkerClient, String> {
    let script_url = worker_url().map_err(|error| describe(&error))?;
    let wasm_module = WASM_MODULE.with(|cell| cell.borrow().clone());
    WorkerClient::spawn(
        &script_url,
        &wasm_module,
        pyodide_url,
        transport,
        move |event| match owner.get() {
            Some(id) => on_worker_event(id, event),
            None => spare::on_event(serial, event),
        },
    )
    .map_err(|error| format!("could not start a Web Worker: {}", describe(&error)))
}

/// The `transport` attribute: a transport to use instead of the best available one.
fn preferred_transport(host: &HtmlElement) -> Option<Transport> {
    Transport::from_wire(host.get_attribute("transport")?.trim())
}

/// The element's worker is ready: tell its machine, show the transport, and make sure a spare
/// is warming up for the next Stop that needs a fresh Python (a little later, so it does not
/// compete with the code about to run).
fn worker_ready(instance: &mut Instance, version: String, transport: Transport) -> Vec<Effect> {
    instance
        .view
        .set_diagnostics(&diagnostics(&version, transport));
    let effects = instance.machine.worker_ready(version, transport);
    warm_spare(instance);
    effects
}

/// Makes sure a spare is warming up for the next Stop that needs a fresh Python, if code is
/// running in a ready worker (so a page whose code never runs pays nothing, and the spare never
/// competes with the page's first Pyodide load); a little later, so it does not compete with the
/// code that just started either.
fn warm_spare(instance: &Instance) {
    if instance.machine.status() != Status::Running {
        return;
    }
    if instance.archive_url.is_some() {
        // The run waits for the archive: the spare would compete with unpacking and the run's
        // start. It is warmed when the archive has been delivered.
        return;
    }
    if let (Ok(pyodide_url), Some(worker)) = (pyodide_url(&instance.host), &instance.worker) {
        refill_spare(pyodide_url, worker.transport());
    }
}

/// Starts a spare for `pyodide_url` and `transport` after [`SPARE_DELAY_MS`], unless one exists
/// by then or the page has no elements left.
fn refill_spare(pyodide_url: String, transport: Transport) {
    wasm_bindgen_futures::spawn_local(async move {
        delay(SPARE_DELAY_MS).await;
        if live_instance_count() > 0 {
            spare::ensure(&pyodide_url, transport, |owner, serial| {
                spawn_worker(&pyodide_url, transport, owner, serial)
            });
        }
    });
}

/// How long after code starts running (or a spare is taken) the next spare starts booting.
const SPARE_DELAY_MS: u32 = 300;

fn diagnostics(version: &str, transport: Transport) -> String {
    let how = match transport {
        Transport::Atomics => "input() and Stop through shared memory (Atomics; the page is cross-origin isolated)",
        Transport::Jspi => "input() through JavaScript Promise Integration; Stop restarts Python when code is busy (the page is not cross-origin isolated)",
        Transport::ServiceWorker => "input() through python-runner's service worker; Stop restarts Python when code is busy",
        Transport::None => "input() is not available here, and Stop restarts Python",
    };
    ["Pyodide ", version, ": ", how].concat()
}

/// Shows new output: at once if the log was last rendered more than a frame ago (output that
/// trickles in appears without delay), else at the next animation frame, or earlier when the
/// status changes (a flood of output updates the DOM once per frame). `first_change` says the
/// log was in step with the DOM before this change; otherwise a render is already due.
fn schedule_render(id: InstanceId, instance: &mut Instance, first_change: bool) {
    if !first_change {
        return;
    }
    if instance.view.rendered_within_a_frame() {
        render_next_frame(id);
    } else {
        instance.view.render();
    }
}

fn render_next_frame(id: InstanceId) {
    let frame = window_callback(|window, resolve| {
        let _ = window.request_animation_frame(resolve);
    });
    wasm_bindgen_futures::spawn_local(async move {
        frame.await;
        with_instance(id, |instance| instance.view.render());
    });
}

/// A promise of `milliseconds` passing (`setTimeout`, no closure to keep).
async fn delay(milliseconds: u32) {
    window_callback(|window, resolve| {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            resolve,
            i32::try_from(milliseconds).unwrap_or(i32::MAX),
        );
    })
    .await;
}

/// Resolves when the window calls back the function `register` hands it (a timer, a frame):
/// the promise's own `resolve` is the callback, so there is no closure to keep.
fn window_callback(
    register: impl FnOnce(&web_sys::Window, &js_sys::Function),
) -> impl std::future::Future<Output = ()> {
    let mut register = Some(register);
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let (Some(window), Some(register)) = (web_sys::window(), register.take()) {
            register(&window, &resolve);
        }
    });
    async move {
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
}

/// Keys in the input field: Enter sends the line; Ctrl+C with nothing selected stops the code.
/// Pasting several lines sends them at once: Python hands them to the next `input()` calls.
fn on_input_event(id: InstanceId, event: web_sys::Event) {
    if event.type_() == "paste" {
        let pasted = js_sys::Reflect::get(&event, &"clipboardData".into())
            .ok()
            .filter(JsValue::is_object)
            .and_then(|data| {
                let get_data: js_sys::Function = js_sys::Reflect::get(&data, &"getData".into())
                    .ok()?
                    .dyn_into()
                    .ok()?;
                get_data
                    .call1(&data, &"text/plain".into())
                    .ok()?
                    .as_string()
            })
            .unwrap_or_default();
        if pasted.contains('\n') {
            event.prevent_default();
            let pasted = pasted.replace("\r\n", "\n");
            update(id, |instance| match instance.view.input_value() {
                Some(typed) => instance
                    .machine
                    .input_submitted([typed.as_str(), &pasted].concat()),
                None => Vec::new(),
            });
        }
        return;
    }
    let Some(event) = event.dyn_ref::<KeyboardEvent>() else {
        return;
    };
    let key = event.key();
    if key == "Enter" && !event.is_composing() {
        event.prevent_default();
        update(id, |instance| match instance.view.input_value() {
            Some(line) => instance.machine.input_submitted(line),
            None => Vec::new(),
        });
    } else if event.ctrl_key() && key.eq_ignore_ascii_case("c") && !has_selection(event) {
        event.prevent_default();
        update(id, |instance| instance.machine.stop_requested());
    }
}

fn has_selection(event: &KeyboardEvent) -> bool {
    let Some(input) = event
        .target()
        .and_then(|target| target.dyn_into::<HtmlInputElement>().ok())
    else {
        return false;
    };
    matches!(
        (input.selection_start(), input.selection_end()),
        (Ok(Some(start)), Ok(Some(end))) if start != end
    )
}

/// If the element has a `src`, tells its (new) worker that an archive is coming and delivers it
/// once the page has it (downloaded once per page and URL, checked against `integrity`).
fn announce_archive(id: InstanceId, instance: &mut Instance) -> Vec<Effect> {
    let host = &instance.host;
    let Some(src) = host
        .get_attribute("src")
        .filter(|src| !src.trim().is_empty())
    else {
        return Vec::new();
    };
    let base = host.base_uri().ok().flatten().unwrap_or_default();
    let url = match web_sys::Url::new_with_base(src.trim(), &base) {
        Ok(url) => url.href(),
        Err(_) => {
            let message = ["src \"", &src, "\" is not a valid URL"].concat();
            return instance.machine.archive_failed(message);
        }
    };
    let format = match ArchiveSpec::format_for(&url, host.get_attribute("format").as_deref()) {
        Ok(format) => format,
        Err(reason) => {
            let message = ["Could not load the archive ", &url, ": ", &reason].concat();
            return instance.machine.archive_failed(message);
        }
    };
    let spec = ArchiveSpec {
        url: url.clone(),
        format,
        extract_dir: ArchiveSpec::extract_dir_for(host.get_attribute("extract-dir").as_deref()),
    };
    if let Some(worker) = &instance.worker {
        if let Err(error) = worker.send(&ToWorker::Archive { spec }) {
            return instance.machine.worker_crashed(&describe(&error));
        }
    }
    let integrity = host
        .get_attribute("integrity")
        .filter(|value| !value.trim().is_empty());
    instance.archive_url = Some(url.clone());
    wasm_bindgen_futures::spawn_local(async move {
        let mut result = archive::bytes(&url).await;
        if let (Ok(buffer), Some(integrity)) = (&result, &integrity) {
            if let Err(message) = archive::check_integrity(&url, buffer, integrity).await {
                result = Err(message);
            }
        }
        update(id, |instance| {
            if instance.archive_url.take().is_some() {
                instance.view.set_progress(None);
            }
            let Some(worker) = &instance.worker else {
                return Vec::new();
            };
            let sent = match &result {
                Ok(buffer) => worker.send_archive(&url, buffer),
                Err(message) => worker.send(&ToWorker::ArchiveData {
                    url: url.clone(),
                    error: Some(message.clone()),
                }),
            };
            match (result, sent) {
                (_, Err(error)) => instance.machine.worker_crashed(&describe(&error)),
                (Err(message), Ok(())) => instance.machine.archive_failed(message),
                (Ok(_), Ok(())) => {
                    warm_spare(instance);
                    Vec::new()
                }
            }
        });
    });
    Vec::new()
}

/// Download progress of the archive at `url`, shown by every element waiting for it.
pub fn archive_progress(url: &str, received: u64, total: Option<u64>) {
    let name = url
        .split(['?', '#'])
        .next()
        .and_then(|path| path.rsplit('/').next())
        .unwrap_or(url);
    let text = archive::describe_progress(name, received, total);
    INSTANCES.with(|instances| {
        for (_, instance) in instances.borrow_mut().0.iter_mut() {
            if instance.archive_url.as_deref() == Some(url) {
                instance.view.set_progress(Some(text.clone()));
            }
        }
    });
}

/// The run options from the element's attributes: `entry`, `install-imports`, `package-index`.
fn run_options(host: &HtmlElement) -> RunOptions {
    let attribute = |name: &str| {
        host.get_attribute(name)
            .map(|value| value.trim().to_string())
            .filter(|value| !value.is_empty())
    };
    let base = host.base_uri().ok().flatten().unwrap_or_default();
    RunOptions {
        entry: attribute("entry"),
        install_imports: host.has_attribute("install-imports"),
        // micropip appends `/<project>/` itself.
        package_index: attribute("package-index").map(|index| {
            let url = web_sys::Url::new_with_base(&index, &base).map_or(index, |url| url.href());
            url.trim_end_matches('/').to_string()
        }),
    }
}

/// `pyodide-url` (or the pinned CDN) resolved against the page, ending in `/`.
fn pyodide_url(host: &HtmlElement) -> Result<String, String> {
    let attribute = host
        .get_attribute("pyodide-url")
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_PYODIDE_URL.into());
    let base = host.base_uri().ok().flatten().unwrap_or_default();
    let url = web_sys::Url::new_with_base(attribute.trim(), &base)
        .map_err(|_| ["pyodide-url \"", &attribute, "\" is not a valid URL"].concat())?;
    let mut href = url.href();
    if !href.ends_with('/') {
        href.push('/');
    }
    Ok(href)
}

fn on_worker_event(id: InstanceId, event: WorkerEvent) {
    update(id, |instance| match event {
        WorkerEvent::Message(FromWorker::Ready {
            protocol,
            pyodide_version,
            transport,
        }) => {
            if protocol == python_runner_protocol::PROTOCOL_VERSION {
                worker_ready(instance, pyodide_version, transport)
            } else {
                instance.machine.worker_failed(
                    None,
                    python_runner_protocol::ErrorPayload::new(
                        ErrorKind::Protocol,
                        format!(
                            "The worker speaks protocol version {protocol}, the element version {}",
                            python_runner_protocol::PROTOCOL_VERSION
                        ),
                    ),
                )
            }
        }
        WorkerEvent::Message(FromWorker::Output { id, parts }) => {
            instance.machine.worker_output(id, parts)
        }
        WorkerEvent::Message(FromWorker::Waiting { id, seq, reason }) => {
            instance.machine.worker_waiting(id, seq, reason)
        }
        WorkerEvent::Message(FromWorker::ArchiveFailed { error }) => {
            instance.machine.archive_failed(error.message)
        }
        WorkerEvent::Message(FromWorker::Done { id }) => instance.machine.worker_done(id),
        WorkerEvent::Message(FromWorker::Failed { id, error }) => {
            instance.machine.worker_failed(id, error)
        }
        WorkerEvent::Crashed(reason) => instance.machine.worker_crashed(&reason),
    });
}

fn dispatch(host: &HtmlElement, event: ElementEvent) {
    let (name, detail) = match &event {
        ElementEvent::Ready { pyodide_version } => (
            "ready",
            object(&[("pyodideVersion", pyodide_version.into())]),
        ),
        ElementEvent::Done { exception, stopped } => (
            "done",
            object(&[
                (
                    "exception",
                    exception.as_deref().map_or(JsValue::NULL, JsValue::from),
                ),
                ("stopped", (*stopped).into()),
            ]),
        ),
        ElementEvent::Output { parts } => {
            let parts = parts
                .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
                .unwrap_or_default();
            ("output", object(&[("parts", parts)]))
        }
        ElementEvent::Error { kind, message } => (
            "error",
            object(&[
                ("kind", kind.wire_name().into()),
                ("message", message.into()),
            ]),
        ),
    };
    let init = CustomEventInit::new();
    init.set_detail(&detail);
    if let Ok(event) = CustomEvent::new_with_event_init_dict(name, &init) {
        // A listener's exception is reported by the browser; nothing to do here.
        let _ = host.dispatch_event(&event);
    }
}

fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let object = js_sys::Object::new();
    for (key, value) in entries {
        let _ = js_sys::Reflect::set(&object, &(*key).into(), value);
    }
    object.into()
}
