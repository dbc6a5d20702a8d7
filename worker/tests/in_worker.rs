//! The worker crate inside a real dedicated worker: loading Pyodide, its failure, and running code.
//!
//! The success test needs a Pyodide distribution served with CORS; `cargo bundle test` passes its
//! URL at compile time in `PYTHON_RUNNER_TEST_PYODIDE_URL` (the test checks it is set there).

use std::cell::RefCell;
use std::rc::Rc;

use python_runner_protocol::ErrorKind;
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
    )
    .await
    else {
        panic!("loading Pyodide from a closed port must fail");
    };
    assert_eq!(error.kind, ErrorKind::PyodideLoad);
    assert_eq!(
        error.message,
        "Could not load Pyodide from http://127.0.0.1:9/nope/: TypeError: Failed to fetch dynamically imported module: http://127.0.0.1:9/nope/pyodide.mjs"
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
    let (run_code, version) = python_runner_worker::boot(
        url,
        &python_files(),
        &python_runner_worker::channel::Channel::None,
    )
    .await
    .unwrap_or_else(|error| panic!("boot failed: {error:?}"));
    assert_eq!(version, "314.0.7");
    let events = Rc::new(RefCell::new(Vec::<(String, String)>::new()));
    let send_event = {
        let events = events.clone();
        Closure::<dyn FnMut(String, String) -> JsValue>::new(move |kind: String, data: String| {
            events.borrow_mut().push((kind, data));
            JsValue::UNDEFINED
        })
    };
    run_code
        .call2(
            &JsValue::NULL,
            &"print('hé', 1)\nimport sys; print('e', file=sys.stderr)".into(),
            send_event.as_ref(),
        )
        .expect_throw("run_code");
    // print() writes the text and the newline separately; a change of type flushes both parts.
    assert_eq!(
        events.borrow().as_slice(),
        [
            (
                "output".to_string(),
                r#"{"parts": [{"type": "stdout", "text": "hé 1\n"}, {"type": "stderr", "text": "e"}]}"#
                    .to_string()
            ),
            (
                "output".to_string(),
                r#"{"parts": [{"type": "stderr", "text": "\n"}]}"#.to_string()
            ),
        ]
    );
}
