//! The worker's entry and life: `worker_boot`, the one decoder of the element's messages, the
//! effects the dispatcher asks for, and runs (entered through `callPromising` under JSPI).
//!
//! Decisions live in `dispatch.rs`, starting Python in `boot.rs`, Python's events in
//! `events.rs`, and every JS shape in `js.rs`.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Object, Promise};
use python_runner_protocol::js::describe_error as describe;
use python_runner_protocol::js::JsObject;
use python_runner_protocol::{
    DecodeError, ErrorKind, ErrorPayload, FromWorker, OutputPart, PythonException, RunId,
    RunOptions, ToWorker, Transport,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::MessageEvent;

use crate::boot::{boot, make_snapshot, unpack};
use crate::channel::Channel;
use crate::contract::{InstallForRunArgs, RunCodeArgs};
use crate::dispatch::{Dispatcher, Effect};
use crate::events::Session;
use crate::js::{
    attachment, post, post_transferring, ImportsModule, PyCallable, Pyodide, RunnerModule,
};
use crate::python;

/// Worker-wide state, shared by the message handler and the boot task.
struct WorkerState {
    dispatcher: Dispatcher,
    python_files: Object,
    /// The `Init` message's attachment (the Atomics transport's shared memory), until the boot
    /// uses it.
    init_attachment: JsValue,
    /// `pyodide_worker_runner.run_code`, once Pyodide is ready.
    run_code: Option<PyCallable>,
    /// The loaded Pyodide, once ready.
    pyodide: Option<Pyodide>,
    /// The bytes of the announced archive (an `ArrayBuffer`), until they are unpacked.
    archive_bytes: JsValue,
    /// Called by Python for each runner event.
    send_event: Closure<dyn FnMut(String, String, JsValue) -> JsValue>,
    session: Rc<Session>,
}

/// Starts the worker. `queue` holds messages that arrived before the wasm was ready;
/// `python_files` maps paths like `pyodide_worker_runner/__init__.py` to their text.
/// Exported to JS by `bundle/runtime`, so crates that only borrow helpers from this one (the
/// library) do not carry the worker.
pub fn worker_boot(queue: js_sys::Array, python_files: Object) {
    std::panic::set_hook(Box::new(|info| {
        let text = python_runner_protocol::js::panic_text(info);
        web_sys::console::error_1(&text.as_str().into());
        post(&FromWorker::Failed {
            id: None,
            error: ErrorPayload::new(
                ErrorKind::Worker,
                ["the python-runner worker crashed: ", &text].concat(),
            ),
        });
    }));
    let session = Rc::new(Session::default());
    let send_event = {
        let session = session.clone();
        Closure::new(
            move |event_type: String, data_json: String, bytes: JsValue| {
                session.on_python_event(&event_type, &data_json, bytes)
            },
        )
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
    crate::js::on_messages(&message_handler);
    message_handler.forget(); // Leaks on purpose: the handler lives exactly as long as the worker.
    for message in queue.iter() {
        on_message(&state, message);
    }
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
            Effect::MakeSnapshot { pyodide_url } => {
                let python_files = state.borrow().python_files.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    match make_snapshot(&pyodide_url, &python_files).await {
                        Ok((bytes, make_ms, key)) => post_transferring(
                            &FromWorker::SnapshotMade {
                                bytes: f64::from(bytes.length()),
                                make_ms,
                                key,
                            },
                            &bytes,
                        ),
                        Err(error) => post(&FromWorker::Failed { id: None, error }),
                    }
                });
            }
            Effect::StartBoot {
                pyodide_url,
                transport,
                service_worker,
                snapshot,
            } => {
                let state = state.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let (python_files, init_attachment) = {
                        let state = state.borrow();
                        (state.python_files.clone(), state.init_attachment.clone())
                    };
                    let channel =
                        Channel::new(transport, service_worker.as_ref(), &init_attachment);
                    let result = boot(&pyodide_url, &python_files, &channel, snapshot).await;
                    let effects = {
                        let mut state = state.borrow_mut();
                        state.init_attachment = JsValue::UNDEFINED;
                        match result {
                            Ok(booted) => {
                                let transport = channel.transport();
                                state.run_code = Some(booted.run_code);
                                state.pyodide = Some(booted.pyodide);
                                *state.session.channel.borrow_mut() = channel;
                                state
                                    .dispatcher
                                    .on_booted(booted.version, transport, booted.warm)
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
        start_run(state, id, &code, &options);
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
                parts: vec![OutputPart::new(
                    python_runner_protocol::PartKind::Install,
                    text,
                )],
            });
        }
        start_run(&state, id, &code, &options);
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
    let install = module.unchecked_into::<ImportsModule>().install_for_run();
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
fn start_run(state: &Rc<RefCell<WorkerState>>, id: RunId, code: &str, options: &RunOptions) {
    let (run_code, send_event, session, pyodide) = {
        let state = state.borrow();
        (
            state.run_code.clone(),
            state.send_event.as_ref().clone(),
            state.session.clone(),
            state.pyodide.clone(),
        )
    };
    if let (true, Some(pyodide)) = (options.fresh_session, pyodide) {
        let reset = pyodide.pyimport(python::RUNNER_MODULE).and_then(|module| {
            module
                .unchecked_into::<RunnerModule>()
                .reset_session(&options.session)
        });
        if let Err(error) = reset {
            web_sys::console::error_1(
                &["python-runner: reset_session: ", &describe(&error)]
                    .concat()
                    .into(),
            );
        }
    }
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
        session: options.session.as_str().into(),
        entry: options
            .entry
            .as_deref()
            .map_or(JsValue::NULL, JsValue::from),
    }
    .in_order()
    .iter()
    .collect();
    if transport == Transport::Jspi {
        let started = run_code
            .call_promising()
            .ok_or_else(|| JsValue::from("run_code has no callPromising"))
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
