//! Promises of time passing: a delay (`setTimeout`) and the next animation frame, with no
//! closure to keep (the promise's own `resolve` is the callback).

use std::future::Future;

/// Resolves after `milliseconds`.
pub async fn delay(milliseconds: u32) {
    window_callback(|window, resolve| {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            resolve,
            i32::try_from(milliseconds).unwrap_or(i32::MAX),
        );
    })
    .await;
}

/// Resolves at the next animation frame.
pub async fn next_frame() {
    window_callback(|window, resolve| {
        let _ = window.request_animation_frame(resolve);
    })
    .await;
}

/// Resolves when the window calls back the function `register` hands it.
fn window_callback(
    register: impl FnOnce(&web_sys::Window, &js_sys::Function),
) -> impl Future<Output = ()> {
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
