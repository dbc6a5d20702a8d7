//! The library's blocking reads inside a real dedicated worker: the Atomics channel's framing
//! (sync-message's), its timeout, the stale-message drop of `SyncExtras`, and a service-worker
//! channel with no service worker behind it.
#![cfg(target_arch = "wasm32")]

use js_sys::{Int32Array, Object, Reflect, SharedArrayBuffer, Uint8Array};
use python_runner_library::{read_call_message, read_message, write_message_atomics};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

/// `makeAtomicsChannel({bufferSize})`, as the page builds it.
fn atomics_channel(buffer_size: u32) -> JsValue {
    let channel = Object::new();
    let set = |key: &str, value: &JsValue| Reflect::set(&channel, &key.into(), value).is_ok();
    assert!(set("type", &"atomics".into()));
    assert!(set(
        "data",
        &Uint8Array::new(&SharedArrayBuffer::new(buffer_size)).into()
    ));
    assert!(set(
        "meta",
        &Int32Array::new(&SharedArrayBuffer::new(8)).into()
    ));
    channel.into()
}

fn field(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap_or_default()
}

#[wasm_bindgen_test]
fn an_atomics_message_round_trips_and_the_slot_empties() {
    let channel = atomics_channel(1024);
    assert!(write_message_atomics(&channel, r#"{"message":"héllo ☃"}"#).is_ok());
    let message = read_message(&channel, "any", None, Some(50.0), Some(50.0)).unwrap_or_default();
    assert_eq!(
        field(&message, "message").as_string().as_deref(),
        Some("héllo ☃")
    );
    let nothing = read_message(&channel, "any", None, Some(20.0), Some(60.0)).unwrap_or_default();
    assert!(nothing.is_null());
}

#[wasm_bindgen_test]
fn a_message_too_big_for_the_buffer_is_refused_with_sync_messages_words() {
    let channel = atomics_channel(8);
    let error = write_message_atomics(&channel, r#"{"message":"too long"}"#)
        .err()
        .and_then(|error| error.dyn_into::<js_sys::Error>().ok())
        .map(|error| String::from(error.message()));
    assert_eq!(
        error.as_deref(),
        Some("Message is too big, increase bufferSize when making channel.")
    );
}

#[wasm_bindgen_test]
fn check_interrupt_ends_a_read() {
    let channel = atomics_channel(64);
    let check = js_sys::Function::new_no_args("return true");
    let result = read_message(&channel, "id", Some(check), Some(10.0), None).unwrap_or_default();
    assert!(result.is_null());
}

#[wasm_bindgen_test]
fn a_late_interrupt_for_another_read_is_dropped() {
    let channel = atomics_channel(256);
    // The page interrupted sleep "call-1" just after it ended; the worker now reads "call-2".
    assert!(write_message_atomics(&channel, r#"{"interrupted":true,"id":"call-1"}"#).is_ok());
    let result = read_call_message(&channel, "call-2", Some(80.0)).unwrap_or_default();
    assert!(
        result.is_null(),
        "the stale interrupt must not be delivered"
    );
    assert!(write_message_atomics(&channel, r#"{"message":7,"id":"call-2"}"#).is_ok());
    let result = read_call_message(&channel, "call-2", Some(1000.0)).unwrap_or_default();
    assert_eq!(field(&result, "message").as_f64(), Some(7.0));
}

#[wasm_bindgen_test]
fn a_service_worker_channel_without_its_service_worker_fails_after_the_grace_period() {
    let channel = Object::new();
    let _ = Reflect::set(&channel, &"type".into(), &"serviceWorker".into());
    let _ = Reflect::set(
        &channel,
        &"baseUrl".into(),
        &"/__SyncMessageServiceWorkerInput__".into(),
    );
    let _ = Reflect::set(&channel, &"timeout".into(), &100.into());
    let started = js_sys::Date::now();
    let error = read_message(&channel.into(), "id-1", None, Some(50.0), None)
        .err()
        .unwrap_or_default();
    let failure = field(&error, "serviceWorkerError");
    assert_eq!(
        field(&failure, "url").as_string().as_deref(),
        Some("/__SyncMessageServiceWorkerInput__/read")
    );
    let status = field(&failure, "status").as_f64().unwrap_or(200.0);
    assert!(status != 200.0 && status != 408.0, "status {status}");
    assert!(js_sys::Date::now() - started >= 100.0);
}
