//! Every JS-facing part of the worker: the `worker_boot` export, `postMessage`/`onmessage`,
//! the dynamic import of Pyodide, and the few Pyodide calls we make.
//!
//! Everything here is thin: decisions live in `dispatch.rs` and text in `python.rs`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Int32Array, Object, Promise, Reflect};
use python_runner_protocol::js::describe_error as describe;
use python_runner_protocol::js::JsObject;
use python_runner_protocol::{
    ArchiveSpec, DecodeError, ErrorKind, ErrorPayload, FromWorker, OutputPart, PythonException,
    RunId, RunOptions, ToWorker, Transport, WaitReason, WaitSeq, ATTACHMENT, DRAIN_BYTES,
    DRAIN_MESSAGES,
};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::channel::Channel;
use crate::contract::{InstallForRunArgs, PythonEvent, RunCodeArgs};
use crate::dispatch::{Dispatcher, Effect};
use crate::python;

#[wasm_bindgen(inline_js = "export function import_module(url) { return import(url); }")]
extern "C" {
    /// `import(url)`: wasm-bindgen has no dynamic import of its own.
    fn import_module(url: &str) -> Promise;
}

#[wasm_bindgen]
extern "C" {
    /// The namespace object of `pyodide.mjs`.
    type PyodideModule;
    #[wasm_bindgen(method, getter, js_name = loadPyodide)]
    fn load_pyodide(this: &PyodideModule) -> JsValue;

    /// The object `loadPyodide` resolves to.
    #[derive(Clone)]
    type Pyodide;
    #[wasm_bindgen(method, getter)]
    fn version(this: &Pyodide) -> JsValue;
    #[wasm_bindgen(method, catch)]
    fn pyimport(this: &Pyodide, name: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, getter, js_name = FS)]
    fn fs(this: &Pyodide) -> PyodideFs;
    #[wasm_bindgen(method, js_name = setInterruptBuffer)]
    fn set_interrupt_buffer(this: &Pyodide, buffer: &Int32Array);
    #[wasm_bindgen(method, catch, js_name = unpackArchive)]
    fn unpack_archive(
        this: &Pyodide,
        buffer: &JsValue,
        format: &str,
        options: &Object,
    ) -> Result<JsValue, JsValue>;

    /// `pyodide.FS`, Emscripten's file system.
    type PyodideFs;
    #[wasm_bindgen(method, catch, js_name = mkdirTree)]
    fn mkdir_tree(this: &PyodideFs, path: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn readdir(this: &PyodideFs, path: &str) -> Result<js_sys::Array, JsValue>;
    #[wasm_bindgen(method, catch, js_name = writeFile)]
    fn write_file(this: &PyodideFs, path: &str, data: &str) -> Result<(), JsValue>;

    /// The helper module `pyodide_worker_runner` (a PyProxy).
    type RunnerModule;
    #[wasm_bindgen(method, getter)]
    fn run_code(this: &RunnerModule) -> Function;
}

/// Worker-wide state, shared by the message handler and the boot task.
struct WorkerState {
    dispatcher: Dispatcher,
    python_files: Object,
    /// The `Init` message's attachment (the Atomics transport's shared memory), until the boot
    /// uses it.
    init_attachment: JsValue,
    /// `pyodide_worker_runner.run_code`, once Pyodide is ready.
    run_code: Option<Function>,
    /// The loaded Pyodide, once ready.
    pyodide: Option<Pyodide>,
    /// The bytes of the announced archive (an `ArrayBuffer`), until they are unpacked.
    archive_bytes: JsValue,
    /// Called by Python for each runner event.
    send_event: Closure<dyn FnMut(String, String) -> JsValue>,
    session: Rc<Session>,
}

/// What Python's events need while code runs (borrowed from inside a synchronous run, so it
/// lives apart from [`WorkerState`]).
struct Session {
    current_run: Cell<RunId>,
    last_wait: Cell<WaitSeq>,
    channel: RefCell<Channel>,
    /// Output messages and bytes posted since the page last confirmed it took them (a drain).
    undrained: Cell<(u32, usize)>,
}

/// Starts the worker. `queue` holds messages that arrived before the wasm was ready;
/// `python_files` maps paths like `pyodide_worker_runner/__init__.py` to their text.
/// Exported to JS by `bundle/runtime`, so crates that only borrow helpers from this one (the
/// library) do not carry the worker.
pub fn worker_boot(queue: js_sys::Array, python_files: Object) {
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&info.to_string().into());
        post(&FromWorker::Failed {
            id: None,
            error: ErrorPayload::new(
                ErrorKind::Worker,
                format!("the python-runner worker crashed: {info}"),
            ),
        });
    }));
    let session = Rc::new(Session {
        current_run: Cell::new(0),
        last_wait: Cell::new(0),
        channel: RefCell::new(Channel::None),
        undrained: Cell::new((0, 0)),
    });
    let send_event = {
        let session = session.clone();
        Closure::new(move |event_type: String, data_json: String| {
            on_python_event(&session, &event_type, &data_json)
        })
    };
    let state = Rc::new(RefCell::new(WorkerState {
        dispatcher: Dispatcher::default(),
        python_files,
        init_attachment: JsValue::UNDEFINED,
        run_code: None,
        pyodide: None,
        archive_bytes: JsValue::UNDEFINED,
        send_event,
        session,
    }));
    let handler_state = state.clone();
    let message_handler = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        on_message(&handler_state, event.data());
    });
    scope().set_onmessage(Some(message_handler.as_ref().unchecked_ref()));
    message_handler.forget(); // Leaks on purpose: the handler lives exactly as long as the worker.
    for message in queue.iter() {
        on_message(&state, message);
    }
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// The one encoder for messages to the element.
fn post(message: &FromWorker) {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    match message.serialize(&serializer) {
        Ok(value) => {
            if let Err(error) = scope().post_message(&value) {
                web_sys::console::error_2(&"python-runner: postMessage failed".into(), &error);
            }
        }
        Err(error) => web_sys::console::error_1(
            &[
                "python-runner: could not encode a message: ",
                &error.to_string(),
            ]
            .concat()
            .into(),
        ),
    }
}

/// The object a message carries beside its typed fields (see [`ATTACHMENT`]).
fn attachment(raw: &JsValue) -> JsValue {
    Reflect::get(raw, &ATTACHMENT.into()).unwrap_or_default()
}

/// The one decoder for messages from the element.
fn on_message(state: &Rc<RefCell<WorkerState>>, data: JsValue) {
    let raw = data.clone();
    let decoded = JsObject::new(data)
        .ok_or_else(|| DecodeError("not an object".into()))
        .and_then(|message| ToWorker::decode(&message));
    let effects = match decoded {
        Ok(message) => {
            let mut state = state.borrow_mut();
            match &message {
                ToWorker::Init { .. } => state.init_attachment = attachment(&raw),
                ToWorker::ArchiveData { error: None, .. } => {
                    state.archive_bytes = attachment(&raw);
                }
                _ => {}
            }
            state.dispatcher.on_message(message)
        }
        Err(error) => vec![Effect::Post(FromWorker::Failed {
            id: None,
            error: ErrorPayload::new(
                ErrorKind::Protocol,
                ["the worker received an unreadable message: ", &error.0].concat(),
            ),
        })],
    };
    apply(state, effects);
}

fn apply(state: &Rc<RefCell<WorkerState>>, effects: Vec<Effect>) {
    for effect in effects {
        match effect {
            Effect::Post(message) => post(&message),
            Effect::StartBoot {
                pyodide_url,
                transport,
                service_worker,
            } => {
                let state = state.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let (python_files, init_attachment) = {
                        let state = state.borrow();
                        (state.python_files.clone(), state.init_attachment.clone())
                    };
                    let channel =
                        Channel::new(transport, service_worker.as_ref(), &init_attachment);
                    let result = boot(&pyodide_url, &python_files, &channel).await;
                    let effects = {
                        let mut state = state.borrow_mut();
                        state.init_attachment = JsValue::UNDEFINED;
                        match result {
                            Ok((run_code, version, pyodide)) => {
                                let transport = channel.transport();
                                state.run_code = Some(run_code);
                                state.pyodide = Some(pyodide.unchecked_into());
                                *state.session.channel.borrow_mut() = channel;
                                state.dispatcher.on_booted(version, transport)
                            }
                            Err(error) => state.dispatcher.on_failed(error),
                        }
                    };
                    apply(&state, effects);
                });
            }
            Effect::Run { id, code, options } => run(state, id, code, options),
            Effect::Unpack { spec } => {
                let (pyodide, bytes) = {
                    let mut state = state.borrow_mut();
                    let bytes = std::mem::replace(&mut state.archive_bytes, JsValue::UNDEFINED);
                    (state.pyodide.clone(), bytes)
                };
                let result = match pyodide {
                    Some(pyodide) => unpack(&pyodide, &spec, &bytes),
                    None => Err(ErrorPayload::new(
                        ErrorKind::Internal,
                        "Pyodide is not ready",
                    )),
                };
                let effects = state.borrow_mut().dispatcher.on_unpacked(result);
                apply(state, effects);
            }
            Effect::Resolve { seq, reply } => {
                let session = state.borrow().session.clone();
                session.channel.borrow_mut().resolve(seq, &reply);
            }
        }
    }
}

/// Loads Pyodide, installs the helper package, and returns `run_code` (called as
/// `run_code(code, send_event)`), the Pyodide version and the Pyodide object.
pub async fn boot(
    pyodide_url: &str,
    python_files: &Object,
    channel: &Channel,
) -> Result<(Function, String, JsValue), ErrorPayload> {
    let load_error = |reason: String| {
        ErrorPayload::new(
            ErrorKind::PyodideLoad,
            python::load_error_message(pyodide_url, &reason),
        )
    };
    let module_url = python::module_url(pyodide_url);
    let module: PyodideModule = JsFuture::from(import_module(&module_url))
        .await
        .map_err(|error| load_error(describe(&error)))?
        .unchecked_into();
    let load_pyodide: Function = module
        .load_pyodide()
        .dyn_into()
        .map_err(|_| load_error(python::not_pyodide_reason(&module_url)))?;
    let options = Object::new();
    js_sys::Reflect::set(&options, &"indexURL".into(), &pyodide_url.into())
        .map_err(|error| load_error(describe(&error)))?;
    let promise: Promise = load_pyodide
        .call1(&JsValue::NULL, &options)
        .map_err(|error| load_error(describe(&error)))?
        .unchecked_into();
    let pyodide: Pyodide = JsFuture::from(promise)
        .await
        .map_err(|error| load_error(describe(&error)))?
        .unchecked_into();
    let runner: RunnerModule = install_helper(&pyodide, python_files)
        .map_err(|reason| {
            ErrorPayload::new(
                ErrorKind::Internal,
                format!("could not install the python-runner helper package: {reason}"),
            )
        })?
        .unchecked_into();
    if let Channel::Atomics(reader) = channel {
        pyodide.set_interrupt_buffer(&reader.interrupt_buffer());
    }
    let version = pyodide.version().as_string().unwrap_or_default();
    Ok((runner.run_code(), version, pyodide.into()))
}

/// Writes the helper package (`python_files`: relative path → text) into Pyodide's
/// site-packages and imports it; returns the module. Also makes Pyodide's interrupt buffer
/// lossless (`interrupts.rs`). Harmless to repeat on one Pyodide.
pub fn install_helper(pyodide: &JsValue, python_files: &Object) -> Result<JsValue, String> {
    crate::interrupts::make_interrupts_atomic(pyodide);
    let pyodide: &Pyodide = pyodide.unchecked_ref();
    let install_error = |error: JsValue| describe(&error);
    let fs = pyodide.fs();
    // Found in the file system: the first `runPython` of a fresh Pyodide costs ~25 ms.
    let site_packages = fs
        .readdir("/lib")
        .ok()
        .and_then(|entries| {
            entries
                .iter()
                .find_map(|entry| python::site_packages_in(&entry.as_string()?))
        })
        .unwrap_or_else(|| python::FALLBACK_INSTALL_FOLDER.to_string());
    for entry in Object::entries(python_files).iter() {
        let entry: js_sys::Array = entry.unchecked_into();
        let (Some(relative_path), Some(text)) =
            (entry.get(0).as_string(), entry.get(1).as_string())
        else {
            continue;
        };
        let (directory, path) = python::install_paths(&site_packages, &relative_path);
        fs.mkdir_tree(&directory).map_err(install_error)?;
        fs.write_file(&path, &text).map_err(install_error)?;
    }
    pyodide
        .pyimport(python::HELPER_MODULE)
        .map_err(install_error)
}

/// Unpacks the author's archive into its folder and puts the folder first on `sys.path`.
fn unpack(pyodide: &Pyodide, spec: &ArchiveSpec, bytes: &JsValue) -> Result<(), ErrorPayload> {
    let fail = |reason: String| {
        ErrorPayload::new(
            ErrorKind::Archive,
            python::unpack_error_message(&spec.url, &spec.format, &reason),
        )
    };
    let options = Object::new();
    Reflect::set(
        &options,
        &"extractDir".into(),
        &spec.extract_dir.as_str().into(),
    )
    .map_err(|error| fail(describe(&error)))?;
    pyodide
        .unpack_archive(bytes, &spec.format, &options)
        .map_err(|error| fail(python::last_line(&describe(&error))))?;
    let prepare = pyodide
        .pyimport(python::RUNNER_MODULE)
        .and_then(|module| Reflect::get(&module, &"add_to_path".into()))
        .and_then(|add| {
            add.unchecked_into::<Function>()
                .call1(&JsValue::NULL, &spec.extract_dir.as_str().into())
        });
    prepare
        .map(drop)
        .map_err(|error| fail(python::last_line(&describe(&error))))
}

/// Runs code, after installing its imports when asked to.
fn run(state: &Rc<RefCell<WorkerState>>, id: RunId, code: String, options: RunOptions) {
    let (pyodide, send_event, session) = {
        let state = state.borrow();
        (
            state.pyodide.clone(),
            state.send_event.as_ref().clone(),
            state.session.clone(),
        )
    };
    session.current_run.set(id);
    if !options.install_imports {
        start_run(state, id, &code, options.entry.as_deref());
        return;
    }
    // Install what the code imports first (async: micropip downloads), then run it.
    let state = state.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let installed = match pyodide {
            Some(pyodide) => {
                install_imports(
                    &pyodide,
                    &code,
                    &send_event,
                    options.package_index.as_deref(),
                )
                .await
            }
            None => Err(JsValue::from("Pyodide is not ready")),
        };
        if let Err(error) = installed {
            // install_for_run reports failed installs itself; this is anything else.
            let text = [
                "Could not install the imports: ",
                &python::last_line(&describe(&error)),
                "\n",
            ]
            .concat();
            post(&FromWorker::Output {
                id,
                parts: vec![OutputPart {
                    kind: python_runner_protocol::PartKind::Install,
                    text,
                }],
            });
        }
        start_run(&state, id, &code, options.entry.as_deref());
    });
}

/// `await pyodide_worker_runner.imports.install_for_run(code, send, index)`.
async fn install_imports(
    pyodide: &Pyodide,
    code: &str,
    send_event: &JsValue,
    package_index: Option<&str>,
) -> Result<(), JsValue> {
    let module = pyodide.pyimport(python::IMPORTS_MODULE)?;
    let install: Function = Reflect::get(&module, &"install_for_run".into())?.dyn_into()?;
    let arguments: js_sys::Array = InstallForRunArgs {
        source: code.into(),
        send: send_event.clone(),
        index_url: package_index.map_or(JsValue::NULL, JsValue::from),
    }
    .in_order()
    .iter()
    .collect();
    let coroutine = install.apply(&JsValue::NULL, &arguments)?;
    // A PyProxy of a coroutine is a thenable: Promise.resolve runs it to completion.
    JsFuture::from(Promise::resolve(&coroutine)).await.map(drop)
}

/// Runs code; Python posts output through `send_event` as it goes. With JSPI the run is entered
/// through `callPromising`, so Python can suspend on a promise while it waits for the page.
fn start_run(state: &Rc<RefCell<WorkerState>>, id: RunId, code: &str, entry: Option<&str>) {
    let (run_code, send_event, session) = {
        let state = state.borrow();
        (
            state.run_code.clone(),
            state.send_event.as_ref().clone(),
            state.session.clone(),
        )
    };
    let Some(run_code) = run_code else {
        post(&FromWorker::Failed {
            id: Some(id),
            error: ErrorPayload::new(ErrorKind::Internal, "Pyodide is not ready"),
        });
        return;
    };
    let transport = {
        let channel = session.channel.borrow();
        channel.begin_run(id);
        channel.transport()
    };
    let arguments: js_sys::Array = RunCodeArgs {
        source: code.into(),
        send: send_event,
        filename: python::FILENAME.into(),
        session: "".into(),
        entry: entry.map_or(JsValue::NULL, JsValue::from),
    }
    .in_order()
    .iter()
    .collect();
    if transport == Transport::Jspi {
        let started = Reflect::get(&run_code, &"callPromising".into())
            .and_then(|call| call.dyn_into::<Function>())
            .and_then(|call| call.apply(&run_code, &arguments));
        match started {
            Ok(promise) => {
                let state = state.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let result = JsFuture::from(Promise::resolve(&promise)).await;
                    finish_run(&state, id, result);
                });
            }
            Err(error) => finish_run(state, id, Err(error)),
        }
    } else {
        let result = run_code.apply(&JsValue::NULL, &arguments);
        finish_run(state, id, result);
    }
}

fn finish_run(state: &Rc<RefCell<WorkerState>>, id: RunId, result: Result<JsValue, JsValue>) {
    let effects = match result {
        Ok(value) => {
            let exception = ended_by(&value);
            post(&FromWorker::Done { id, exception });
            state.borrow_mut().dispatcher.on_run_finished(id)
        }
        Err(error) => {
            // `run_code` turns every Python exception into output, so an error escaping it means
            // Python itself broke (e.g. Pyodide's "fatal error" after a JS stack overflow): this
            // worker is done for; the element replaces it on the next Run.
            let error =
                ErrorPayload::new(ErrorKind::Worker, python::crash_message(&describe(&error)));
            state.borrow_mut().dispatcher.on_failed(error)
        }
    };
    apply(state, effects);
}

/// The exception that ended a run: `run_code` returns it as JSON text of `{type, message}`
/// (see `contract.rs`), or `None` when the program ran to the end.
fn ended_by(result: &JsValue) -> Option<PythonException> {
    let value = js_sys::JSON::parse(&result.as_string()?).ok()?;
    PythonException::decode(&JsObject::new(value)?).ok()
}

/// Waits until the page has taken every output message posted so far ([`WaitReason::Drain`]),
/// so a program that prints faster than the page reads never queues more than
/// [`DRAIN_MESSAGES`] messages or [`DRAIN_BYTES`] of text. The reply goes to Python like a
/// sleep's (Stop raises `KeyboardInterrupt` there); where nothing can block, or the service
/// worker does not answer, Python does not wait (`undefined`).
fn drain(session: &Session, id: RunId) -> JsValue {
    let mut channel = session.channel.borrow_mut();
    if !channel.transport().can_block() {
        return JsValue::UNDEFINED;
    }
    let seq = begin_wait(session, &channel, id, WaitReason::Drain);
    channel.drain(seq)
}

/// Numbers a new wait of run `id` and tells the page, if the page can answer it.
fn begin_wait(session: &Session, channel: &Channel, id: RunId, reason: WaitReason) -> WaitSeq {
    let seq = session.last_wait.get().wrapping_add(1);
    session.last_wait.set(seq);
    if channel.transport().can_block() {
        post(&FromWorker::Waiting { id, seq, reason });
    }
    seq
}

/// Called by Python (`run_code`'s `send`) for each runner event, with the event's data as JSON
/// (see `contract.rs`). Returns the reply to `input` and `sleep` events (see `Channel`), and to an
/// `output` event that starts a drain; `undefined` otherwise.
fn on_python_event(session: &Session, event_type: &str, data_json: &str) -> JsValue {
    if !PythonEvent::NAMES.contains(&event_type) {
        return JsValue::UNDEFINED; // an event of the user's code: nothing to do
    }
    let event = js_sys::JSON::parse(data_json)
        .map_err(|error| describe(&error))
        .and_then(|value| {
            let data = JsObject::new(value).ok_or("not an object")?;
            PythonEvent::decode(event_type, &data).map_err(|error| error.0)
        });
    let event = match event {
        Ok(event) => event,
        Err(error) => {
            web_sys::console::error_1(
                &["python-runner: unreadable ", event_type, " event: ", &error]
                    .concat()
                    .into(),
            );
            return JsValue::UNDEFINED;
        }
    };
    let id = session.current_run.get();
    match event {
        // `input("")` puts an empty prompt: nothing to show, so no message.
        PythonEvent::Output(parts) if parts.iter().all(|part| part.text.is_empty()) => {
            JsValue::UNDEFINED
        }
        PythonEvent::Output(parts) => {
            let bytes = parts.iter().map(|part| part.text.len()).sum::<usize>();
            post(&FromWorker::Output { id, parts });
            let (messages, posted) = session.undrained.get();
            let (messages, posted) = (messages + 1, posted + bytes);
            if messages >= DRAIN_MESSAGES || posted >= DRAIN_BYTES {
                session.undrained.set((0, 0));
                return drain(session, id);
            }
            session.undrained.set((messages, posted));
            JsValue::UNDEFINED
        }
        PythonEvent::Input { .. } => {
            let mut channel = session.channel.borrow_mut();
            let seq = begin_wait(session, &channel, id, WaitReason::Input);
            channel.wait_for_input(seq)
        }
        PythonEvent::Sleep { seconds } => {
            let mut channel = session.channel.borrow_mut();
            let seq = begin_wait(session, &channel, id, WaitReason::Sleep);
            channel.sleep(seq, seconds * 1000.0)
        }
    }
}
