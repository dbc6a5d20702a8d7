//! The worker crate inside a real dedicated worker: loading Pyodide, its failure, and running code.
//!
//! The success test needs a Pyodide distribution served with CORS; `cargo bundle test` passes its
//! URL at compile time in `PYTHON_RUNNER_TEST_PYODIDE_URL` (the test checks it is set there).

use std::cell::RefCell;
use std::rc::Rc;

use python_runner_protocol::{ErrorKind, Reply, Transport};
use python_runner_worker::channel::Channel;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[wasm_bindgen_test]
fn runs_in_a_dedicated_worker() {
    assert!(js_sys::global()
        .dyn_into::<web_sys::DedicatedWorkerGlobalScope>()
        .is_ok());
}

#[wasm_bindgen_test]
async fn unreachable_pyodide_is_a_clear_load_error() {
    let url = "http://127.0.0.1:9/nope/";
    let Err(error) = python_runner_worker::boot(
        url,
        &js_sys::Object::new(),
        &python_runner_worker::channel::Channel::None,
        false,
    )
    .await
    else {
        panic!("loading Pyodide from a closed port must fail");
    };
    assert_eq!(error.kind, ErrorKind::PyodideLoad);
    // The browser's own words follow ours: Chromium's, then Firefox's.
    assert!(
        [
            "Could not load Pyodide from http://127.0.0.1:9/nope/: TypeError: Failed to fetch dynamically imported module: http://127.0.0.1:9/nope/pyodide.mjs",
            "Could not load Pyodide from http://127.0.0.1:9/nope/: TypeError: error loading dynamically imported module: http://127.0.0.1:9/nope/pyodide.mjs",
        ]
        .contains(&error.message.as_str()),
        "unexpected message: {}",
        error.message
    );
}

/// The helper package, as the bundle embeds it.
fn python_files() -> js_sys::Object {
    let files = js_sys::Object::new();
    for (path, text) in [
        (
            "pyodide_worker_runner/__init__.py",
            include_str!("../../python/src/pyodide_worker_runner/__init__.py"),
        ),
        (
            "pyodide_worker_runner/imports.py",
            include_str!("../../python/src/pyodide_worker_runner/imports.py"),
        ),
        (
            "pyodide_worker_runner/matplotlib_backend.py",
            include_str!("../../python/src/pyodide_worker_runner/matplotlib_backend.py"),
        ),
        (
            "pyodide_worker_runner/pictures.py",
            include_str!("../../python/src/pyodide_worker_runner/pictures.py"),
        ),
        (
            "pyodide_worker_runner/output.py",
            include_str!("../../python/src/pyodide_worker_runner/output.py"),
        ),
        (
            "pyodide_worker_runner/runner.py",
            include_str!("../../python/src/pyodide_worker_runner/runner.py"),
        ),
    ] {
        js_sys::Reflect::set(&files, &path.into(), &text.into()).expect_throw("set");
    }
    files
}

#[wasm_bindgen_test]
async fn loads_pyodide_and_runs_code_with_output_events() {
    let Some(url) = option_env!("PYTHON_RUNNER_TEST_PYODIDE_URL") else {
        panic!("set PYTHON_RUNNER_TEST_PYODIDE_URL (cargo bundle test does) to a CORS-enabled Pyodide URL");
    };
    let python_runner_worker::Booted {
        run_code, version, ..
    } = python_runner_worker::boot(
        url,
        &python_files(),
        &python_runner_worker::channel::Channel::None,
        false,
    )
    .await
    .unwrap_or_else(|error| panic!("boot failed: {error:?}"));
    assert_eq!(version, "314.0.7");
    let events = Rc::new(RefCell::new(Vec::<(String, String)>::new()));
    let pictures = Rc::new(RefCell::new(Vec::<Vec<u8>>::new()));
    let send_event = {
        let (events, pictures) = (events.clone(), pictures.clone());
        Closure::<dyn FnMut(String, String, JsValue) -> JsValue>::new(
            move |kind: String, data: String, picture: JsValue| {
                events.borrow_mut().push((kind, data));
                if let Some(bytes) = picture.dyn_ref::<js_sys::Uint8Array>() {
                    pictures.borrow_mut().push(bytes.to_vec());
                }
                JsValue::UNDEFINED
            },
        )
    };
    run_code
        .call2(
            &JsValue::NULL,
            &"print('hé', 1)\nimport sys; print('e', file=sys.stderr)".into(),
            send_event.as_ref(),
        )
        .expect_throw("run_code");
    // The first completed line of a run is sent at once; the stderr line written right after it
    // waits for the end of the run (lines within 50 ms of a flush are batched).
    assert_eq!(
        events.borrow().as_slice(),
        [
            (
                "output".to_string(),
                r#"{"parts": [{"type": "stdout", "text": "hé 1\n"}]}"#.to_string()
            ),
            (
                "output".to_string(),
                r#"{"parts": [{"type": "stderr", "text": "e\n"}]}"#.to_string()
            ),
        ]
    );
    assert!(pictures.borrow().is_empty());
    // A picture: its own output event, its bytes (a Uint8Array) send's third argument.
    events.borrow_mut().clear();
    let program = "class Dot:\n    def _repr_png_(self):\n        return b'\\x89PNG fake'\n\ndisplay(Dot(), alt='A dot')\n";
    run_code
        .call2(&JsValue::NULL, &program.into(), send_event.as_ref())
        .expect_throw("run_code");
    assert_eq!(
        events.borrow().as_slice(),
        [(
            "output".to_string(),
            r#"{"parts": [{"type": "image", "text": "A dot", "mime": "image/png"}]}"#.to_string()
        )]
    );
    assert_eq!(pictures.borrow().as_slice(), [b"\x89PNG fake".to_vec()]);
}

#[wasm_bindgen_test]
fn atomics_replies_reach_only_the_wait_they_answer_and_stale_stops_are_dropped() {
    // The test runner serves its page with COOP/COEP, so SharedArrayBuffer exists here.
    let writer =
        python_runner_protocol::atomics::AtomicsWriter::new().expect_throw("a SharedArrayBuffer");
    let mut channel = Channel::new(Transport::Atomics, None, writer.buffer());
    assert_eq!(channel.transport(), Transport::Atomics);
    let over = Some(Reply::Message(None).to_json());

    // A reply to wait 1 that nobody read is not taken by wait 2 (a 30 ms sleep).
    let line = Reply::Message(Some("late".into())).to_json();
    writer.write(1, &line).expect_throw("write");
    assert_eq!(channel.sleep(2, 30.0).as_string(), over);

    let line = Reply::Message(Some("Zoë ✓".into())).to_json();
    writer.write(3, &line).expect_throw("write");
    assert_eq!(channel.wait_for_input(3).as_string(), Some(line));

    // Stop for run 7 interrupts a wait in run 7, even one that starts after the Stop.
    writer.interrupt(7);
    channel.begin_run(7);
    assert_eq!(
        channel.wait_for_input(4).as_string(),
        Some(Reply::Interrupted.to_json())
    );
    // A Stop for run 7 that lands after it ended does not touch run 8.
    writer.interrupt(7);
    channel.begin_run(8);
    assert_eq!(channel.sleep(5, 20.0).as_string(), over);
}

#[wasm_bindgen_test]
fn service_worker_transport_without_the_service_worker_explains() {
    let page = js_sys::Reflect::get(&js_sys::global(), &"location".into())
        .and_then(|location| js_sys::Reflect::get(&location, &"origin".into()))
        .ok()
        .and_then(|origin| origin.as_string())
        .expect_throw("location.origin");
    let page = format!("{page}/");
    let route = python_runner_protocol::ServiceWorkerRoute {
        scope: page,
        channel: "test".into(),
    };
    let mut channel = Channel::new(Transport::ServiceWorker, Some(&route), &JsValue::UNDEFINED);
    let reply = channel.wait_for_input(1).as_string().unwrap_or_default();
    assert!(
        reply.starts_with(r#"{"error":"input() needs python-runner's service worker, but it did not answer (status "#),
        "{reply}"
    );
    assert!(
        reply.contains("(not python-runner's service worker)"),
        "{reply}"
    );
    // A sleep still sleeps, without the service worker.
    let started = js_sys::Date::now();
    assert_eq!(
        channel.sleep(2, 50.0).as_string(),
        Some(Reply::Message(None).to_json())
    );
    assert!(js_sys::Date::now() - started >= 45.0);
}

/// A snapshot made by one Python restores the next: warm, with the helper package working and
/// its own random numbers.
#[wasm_bindgen_test]
async fn a_stored_snapshot_starts_the_next_python_warm() {
    let Some(url) = option_env!("PYTHON_RUNNER_TEST_PYODIDE_URL") else {
        panic!("set PYTHON_RUNNER_TEST_PYODIDE_URL (cargo bundle test does) to a CORS-enabled Pyodide URL");
    };
    let (bytes, _make_ms, key) = python_runner_worker::make_snapshot(url, &python_files())
        .await
        .unwrap_or_else(|error| panic!("making the snapshot failed: {error:?}"));
    // The page stores what the snapshot worker makes; here the same code stores it.
    assert!(
        python_runner_protocol::snapshot::store(&key, &bytes).await,
        "the snapshot ({} bytes) was not stored under {key}",
        bytes.length()
    );
    let mut draws = Vec::new();
    for _ in 0..2 {
        let booted = python_runner_worker::boot(
            url,
            &python_files(),
            &python_runner_worker::channel::Channel::None,
            true,
        )
        .await
        .unwrap_or_else(|error| panic!("warm boot failed: {error:?}"));
        assert!(booted.warm, "Python did not start from the snapshot");
        let state = booted
            .pyodide
            .run_python("import random, sys; f\"{sys.path.count('')} {random.random()}\"")
            .unwrap_or_else(|error| panic!("{error:?}"))
            .as_string()
            .unwrap_or_default();
        let (paths, draw) = state.split_once(' ').unwrap_or_default();
        assert_eq!(paths, "1", "'' is on sys.path {paths} times");
        draws.push(draw.to_string());
    }
    assert_ne!(
        draws[0], draws[1],
        "two warm starts drew the same random number"
    );
}
