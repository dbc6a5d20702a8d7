//! Component tests of `<python-runner>` in a real browser: attributes → state → shadow DOM.
//!
//! The worker here is a tiny scripted stand-in (`FAKE_WORKER`) that speaks the real protocol, so
//! these tests pin the element alone; the real worker and Pyodide are covered end to end in `tests/`.

use std::time::Duration;

use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;
use web_sys::{HtmlElement, ShadowRoot};

wasm_bindgen_test_configure!(run_in_browser);

/// Answers `init` with `ready` (or `failed` for URLs containing `/fail/`) and echoes each run's
/// code back as stdout, then `done`. Code starting with `ASK` waits for input (wait 9) instead,
/// asked with transport `jspi`, and echoes the reply message it gets.
const FAKE_WORKER: &str = r#"
let running = null;
self.onmessage = (event) => {
  const message = event.data;
  if (message.type === "init") {
    if (message.pyodide_url.includes("/fail/")) {
      self.postMessage({ type: "failed", id: null, error: { kind: "pyodide_load",
        message: "Could not load Pyodide from " + message.pyodide_url + ": test", detail: null } });
    } else {
      self.postMessage({ type: "ready", protocol: message.protocol, pyodide_version: "fake",
        transport: message.transport, warm: false });
    }
  } else if (message.type === "run" && message.code.startsWith("ASK")) {
    running = message.id;
    self.postMessage({ type: "output", id: running, parts: [{ type: "input_prompt", text: "? " }] });
    self.postMessage({ type: "waiting", id: running, seq: 9, reason: "input" });
  } else if (message.type === "reply" && message.seq === 9) {
    self.postMessage({ type: "output", id: running, parts: [{ type: "stdout", text: message.reply }] });
    self.postMessage({ type: "done", id: running });
  } else if (message.type === "run") {
    self.postMessage({ type: "output", id: message.id, parts: [{ type: "stdout", text: message.code }] });
    self.postMessage({ type: "done", id: message.id });
  }
};
"#;

fn setup() {
    python_runner_element::boot(FAKE_WORKER.into(), JsValue::UNDEFINED);
}

fn document() -> web_sys::Document {
    web_sys::window()
        .and_then(|window| window.document())
        .expect_throw("a document")
}

/// Mounts HTML in a fresh container and returns the first `<python-runner>` in it.
fn mount(html: &str) -> HtmlElement {
    let container = document().create_element("div").expect_throw("div");
    container.set_inner_html(html);
    document()
        .body()
        .expect_throw("body")
        .append_child(&container)
        .expect_throw("append");
    container
        .query_selector("python-runner")
        .expect_throw("query")
        .expect_throw("an element")
        .unchecked_into()
}

fn shadow(element: &HtmlElement) -> ShadowRoot {
    element.shadow_root().expect_throw("an open shadow root")
}

fn inner(element: &HtmlElement, selector: &str) -> Option<HtmlElement> {
    shadow(element)
        .query_selector(selector)
        .expect_throw("query")
        .map(JsCast::unchecked_into)
}

fn state(element: &HtmlElement) -> String {
    element.get_attribute("state").unwrap_or_default()
}

/// How long a wait gives up after: the fake worker answers at once, but a machine busy with builds is slow.
const WAIT_LIMIT: Duration = Duration::from_secs(5);
/// How often a wait checks its condition.
const POLL: Duration = Duration::from_millis(10);

async fn sleep(duration: Duration) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .expect_throw("window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                &resolve,
                duration.as_millis() as i32,
            )
            .expect_throw("setTimeout");
    });
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .expect_throw("timer");
}

/// Checks `check` every [`POLL`] until it gives a value, and returns that; panics after [`WAIT_LIMIT`] naming
/// `what` it waited for and what `check` saw instead (its `Err`).
async fn wait_until<T>(what: &str, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = js_sys::Date::now() + WAIT_LIMIT.as_secs_f64() * 1000.0;
    loop {
        match check() {
            Ok(value) => return value,
            Err(seen) if js_sys::Date::now() >= deadline => {
                panic!("waited {WAIT_LIMIT:?} for {what}, but {seen}")
            }
            Err(_) => sleep(POLL).await,
        }
    }
}

async fn wait_for_state(element: &HtmlElement, wanted: &str) {
    wait_until(&format!("state {wanted:?}"), || {
        let now = state(element);
        if now == wanted {
            Ok(())
        } else {
            Err(format!("the state is {now:?}"))
        }
    })
    .await;
}

/// Records the `detail` of every `kind` event the element fires while this lives (the listener is removed on drop).
struct Events {
    element: HtmlElement,
    kind: &'static str,
    details: js_sys::Array,
    listener: Closure<dyn FnMut(web_sys::CustomEvent)>,
}

impl Events {
    fn record(element: &HtmlElement, kind: &'static str) -> Events {
        let details = js_sys::Array::new();
        let listener = {
            let details = details.clone();
            Closure::<dyn FnMut(web_sys::CustomEvent)>::new(move |event: web_sys::CustomEvent| {
                details.push(&event.detail());
            })
        };
        element
            .add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref())
            .expect_throw("listen");
        Events {
            element: element.clone(),
            kind,
            details,
            listener,
        }
    }

    fn count(&self) -> u32 {
        self.details.length()
    }

    fn detail(&self, index: u32) -> JsValue {
        self.details.get(index)
    }

    /// Waits until `count` events in all have come.
    async fn wait_for(&self, count: u32) {
        wait_until(&format!("{count} {} event(s)", self.kind), || {
            if self.count() >= count {
                Ok(())
            } else {
                Err(format!("{} came", self.count()))
            }
        })
        .await;
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self
            .element
            .remove_event_listener_with_callback(self.kind, self.listener.as_ref().unchecked_ref());
    }
}

fn output_chunks(element: &HtmlElement) -> Vec<(String, String)> {
    let output = inner(element, ".output").expect_throw("output");
    let children = |parent: &web_sys::Element| {
        let list = parent.children();
        (0..list.length())
            .filter_map(|index| list.item(index))
            .collect::<Vec<_>>()
    };
    // Lines are rendered in blocks (`div.block`); `div.dropped` counts lines no longer shown.
    children(&output)
        .into_iter()
        .flat_map(|child| match child.class_name().as_str() {
            "block" => children(&child),
            "dropped" if child.has_attribute("hidden") => Vec::new(),
            _ => vec![child],
        })
        .map(|child| (child.class_name(), child.text_content().unwrap_or_default()))
        .collect()
}

#[wasm_bindgen_test]
fn shadow_dom_has_code_toolbar_and_log() {
    setup();
    let element = mount("<python-runner manual>print(1)</python-runner>");
    let button = inner(&element, "button.run").expect_throw("a Run button");
    assert_eq!(button.text_content().as_deref(), Some("Run"));
    assert_eq!(button.get_attribute("type").as_deref(), Some("button"));
    let output = inner(&element, ".output").expect_throw("an output region");
    assert_eq!(output.get_attribute("role").as_deref(), Some("log"));
    assert!(inner(&element, "pre.source").is_some());
}

#[wasm_bindgen_test]
async fn runs_text_code_and_shows_it_as_text() {
    setup();
    let element = mount(
        "<python-runner pyodide-url='/ok/'>\n    print(\"&lt;b&gt;x&lt;/b&gt;\")\n</python-runner>",
    );
    wait_for_state(&element, "done").await;
    assert_eq!(
        output_chunks(&element),
        vec![("stdout".to_string(), "print(\"<b>x</b>\")\n".to_string())]
    );
    assert!(
        inner(&element, ".output b").is_none(),
        "output must not be parsed as HTML"
    );
    assert_eq!(
        inner(&element, "pre.source")
            .and_then(|source| source.text_content())
            .as_deref(),
        Some("print(\"<b>x</b>\")")
    );
}

#[wasm_bindgen_test]
async fn script_child_wins_over_text() {
    setup();
    let element = mount(
        "<python-runner pyodide-url='/ok/'><script type='text/python'>if 1 < 2: print('<b>')</script></python-runner>",
    );
    wait_for_state(&element, "done").await;
    assert_eq!(
        output_chunks(&element),
        vec![("stdout".to_string(), "if 1 < 2: print('<b>')\n".to_string())]
    );
}

#[wasm_bindgen_test]
async fn manual_waits_for_run_and_run_replaces_output() {
    setup();
    let element = mount("<python-runner manual pyodide-url='/ok/'>x = 1</python-runner>");
    let done = Events::record(&element, "done");
    wait_for_state(&element, "ready").await;
    assert_eq!(output_chunks(&element), vec![]);
    assert_eq!(done.count(), 0, "a manual element ran before Run");
    inner(&element, "button.run").expect_throw("Run").click();
    done.wait_for(1).await;
    wait_for_state(&element, "done").await;
    // The second run must happen: its own done event, and the state done again after it.
    inner(&element, "button.run").expect_throw("Run").click();
    done.wait_for(2).await;
    wait_for_state(&element, "done").await;
    assert_eq!(done.count(), 2, "two clicks on Run, two runs");
    assert_eq!(
        output_chunks(&element),
        vec![("stdout".to_string(), "x = 1\n".to_string())]
    );
}

#[wasm_bindgen_test]
async fn code_property_set_before_connecting() {
    setup();
    let element: HtmlElement = document()
        .create_element("python-runner")
        .expect_throw("create")
        .unchecked_into();
    element
        .set_attribute("pyodide-url", "/ok/")
        .expect_throw("attribute");
    js_sys::Reflect::set(&element, &"code".into(), &"print(6*7)".into()).expect_throw("code");
    assert_eq!(
        js_sys::Reflect::get(&element, &"code".into())
            .expect_throw("get")
            .as_string()
            .as_deref(),
        Some("print(6*7)")
    );
    document()
        .body()
        .expect_throw("body")
        .append_child(&element)
        .expect_throw("append");
    wait_for_state(&element, "done").await;
    assert_eq!(
        output_chunks(&element),
        vec![("stdout".to_string(), "print(6*7)".to_string())]
    );
}

#[wasm_bindgen_test]
async fn hide_code_attribute_hides_the_source() {
    setup();
    let element = mount("<python-runner manual hide-code>x</python-runner>");
    assert!(inner(&element, "pre.source")
        .expect_throw("source")
        .hidden());
    element.remove_attribute("hide-code").expect_throw("remove");
    assert!(!inner(&element, "pre.source")
        .expect_throw("source")
        .hidden());
    assert!(js_sys::Reflect::get(&element, &"manual".into())
        .expect_throw("manual")
        .is_truthy());
}

#[wasm_bindgen_test]
async fn boot_failure_shows_error_and_fires_event() {
    setup();
    let element = mount("<python-runner pyodide-url='/fail/'>print(1)</python-runner>");
    let errors = Events::record(&element, "error");
    wait_for_state(&element, "error").await;
    errors.wait_for(1).await;
    let origin = web_sys::window()
        .expect_throw("window")
        .location()
        .origin()
        .expect_throw("origin");
    let expected = format!("Could not load Pyodide from {origin}/fail/: test");
    assert_eq!(
        output_chunks(&element),
        vec![("error".to_string(), expected.clone())]
    );
    assert_eq!(errors.count(), 1);
    let message =
        js_sys::Reflect::get(&errors.detail(0), &"message".into()).expect_throw("message");
    assert_eq!(message.as_string(), Some(expected));
    assert_eq!(
        js_sys::Reflect::get(&element, &"state".into())
            .expect_throw("state")
            .as_string()
            .as_deref(),
        Some("error")
    );
}

#[wasm_bindgen_test]
async fn removed_element_goes_idle_and_reconnecting_runs_again() {
    setup();
    let element = mount("<python-runner pyodide-url='/ok/'>print(3)</python-runner>");
    wait_for_state(&element, "done").await;
    let parent = element.parent_node().expect_throw("parent");
    element.remove();
    wait_for_state(&element, "idle").await;
    parent.append_child(&element).expect_throw("re-append");
    wait_for_state(&element, "done").await;
    assert_eq!(
        output_chunks(&element),
        vec![("stdout".to_string(), "print(3)\n".to_string())]
    );
}

#[wasm_bindgen_test]
async fn removed_elements_leave_the_registry() {
    setup();
    // Instances exist only while connected: created elements that are never appended hold nothing.
    let before = python_runner_element::live_instance_count();
    let container = document().create_element("div").expect_throw("div");
    container
        .set_inner_html(&"<python-runner manual pyodide-url='/ok/'>x</python-runner>".repeat(40));
    assert_eq!(python_runner_element::live_instance_count(), before);
    let body = document().body().expect_throw("body");
    body.append_child(&container).expect_throw("append");
    assert_eq!(python_runner_element::live_instance_count(), before + 40);
    container.remove();
    wait_until("the removed elements to leave the registry", || {
        let live = python_runner_element::live_instance_count();
        if live == before {
            Ok(())
        } else {
            Err(format!("{live} instances are live, {before} before"))
        }
    })
    .await;
}

#[wasm_bindgen_test]
async fn input_field_sends_the_line_as_a_reply_to_its_wait() {
    setup();
    let element = mount("<python-runner transport='jspi' pyodide-url='/ok/'>ASK</python-runner>");
    let field: web_sys::HtmlInputElement = wait_until("the input field", || {
        inner(&element, "input.stdin")
            .ok_or_else(|| format!("none is shown in state {:?}", state(&element)))
    })
    .await
    .unchecked_into();
    assert_eq!(
        field.get_attribute("aria-label").as_deref(),
        Some("Input for the program")
    );
    let stop = inner(&element, "button.stop").expect_throw("a Stop button");
    assert_eq!(stop.text_content().as_deref(), Some("Stop"));
    assert!(!stop
        .unchecked_ref::<web_sys::HtmlButtonElement>()
        .disabled());
    field.set_value("Zoë \"quoted\"");
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("Enter");
    let enter = web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init)
        .expect_throw("a keydown event");
    field.dispatch_event(&enter).expect_throw("dispatch");
    wait_for_state(&element, "done").await;
    assert!(
        inner(&element, "input.stdin").is_none(),
        "the field is gone"
    );
    assert_eq!(
        output_chunks(&element),
        vec![
            ("input_prompt".to_string(), "? ".to_string()),
            (
                "stdout".to_string(),
                r#"{"message":"Zoë \"quoted\""}"#.to_string()
            ),
        ]
    );
    assert_eq!(
        js_sys::Reflect::get(&element, &"activeTransport".into())
            .expect_throw("activeTransport")
            .as_string()
            .as_deref(),
        Some("jspi")
    );
}
