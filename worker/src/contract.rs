//! The worker's side of the contract with the Python helper package: the arguments of `run_code`
//! and `install_for_run`, in Python's order, and the events Python sends through `send`. The
//! replies Python accepts are [`python_runner_protocol::Reply`]'s JSON.
//!
//! `python/tests/contract.json` describes the contract once; the tests here check this module and
//! `Reply` against it, as pytest (`python/tests/test_contract.py`) checks the Python side and the
//! bundle's tests (`bundle/tests/templates.rs`) the library's `makeRunnerCallback`.
//! Plain Rust, unit-tested natively; `entry.rs` makes the calls.

use python_runner_protocol::{DecodeError, OutputPart, WireObject};

/// The arguments of `run_code(source, send, filename, session, entry)`, named as in Python.
pub struct RunCodeArgs<T> {
    /// The program's source text.
    pub source: T,
    /// `send(event_type, json_text)`, called for each [`PythonEvent`].
    pub send: T,
    /// The file name the program runs as.
    pub filename: T,
    /// The key of the persistent `__main__` namespace.
    pub session: T,
    /// A module to run as `__main__` instead of `source`, or null.
    pub entry: T,
}

impl<T> RunCodeArgs<T> {
    /// The arguments in the order of Python's parameters.
    pub fn in_order(self) -> [T; 5] {
        [
            self.source,
            self.send,
            self.filename,
            self.session,
            self.entry,
        ]
    }
}

/// The arguments of `install_for_run(source, send, index_url)`, named as in Python.
pub struct InstallForRunArgs<T> {
    /// The program whose imports are installed.
    pub source: T,
    /// `send(event_type, json_text)`: progress arrives as "output" events.
    pub send: T,
    /// The package index to use instead of PyPI, or null.
    pub index_url: T,
}

impl<T> InstallForRunArgs<T> {
    /// The arguments in the order of Python's parameters.
    pub fn in_order(self) -> [T; 3] {
        [self.source, self.send, self.index_url]
    }
}

/// An event Python sends through `send(event_type, json_text)`.
#[derive(Debug, Clone, PartialEq)]
pub enum PythonEvent {
    /// `"output"`, `{"parts": [{"type", "text"}, …]}`: a batch of output. The reply is `undefined`
    /// or, when the page is behind, the reply to a backpressure wait.
    Output(Vec<OutputPart>),
    /// `"input"`, `{"prompt"}`: Python blocks until the reply (the line typed).
    Input {
        /// The prompt, already sent as an output part of its own.
        prompt: String,
    },
    /// `"sleep"`, `{"seconds"}`: Python blocks until the reply (the sleep is over).
    Sleep {
        /// How long, in seconds.
        seconds: f64,
    },
}

impl PythonEvent {
    /// The names of the events in the contract; others (sent by user code) get `undefined`.
    pub const NAMES: [&'static str; 3] = ["output", "input", "sleep"];

    /// The event's name.
    pub fn name(&self) -> &'static str {
        match self {
            PythonEvent::Output(_) => "output",
            PythonEvent::Input { .. } => "input",
            PythonEvent::Sleep { .. } => "sleep",
        }
    }

    /// Reads event `name` (one of [`PythonEvent::NAMES`]; another is an invalid `event_type`)
    /// with its data.
    pub fn decode(name: &str, data: &impl WireObject) -> Result<Self, DecodeError> {
        Ok(match name {
            "output" => PythonEvent::Output(OutputPart::decode_list(data)?),
            "input" => PythonEvent::Input {
                prompt: data
                    .string("prompt")
                    .ok_or_else(|| DecodeError::missing("prompt"))?,
            },
            "sleep" => PythonEvent::Sleep {
                seconds: data
                    .number("seconds")
                    .ok_or_else(|| DecodeError::missing("seconds"))?,
            },
            _ => return Err(DecodeError::missing("event_type")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use python_runner_protocol::json::Json;
    use python_runner_protocol::{PartKind, Reply};
    use serde_json::Value;

    fn contract() -> Value {
        serde_json::from_str(include_str!("../../python/tests/contract.json"))
            .expect("python/tests/contract.json is JSON")
    }

    fn strings(value: &Value) -> Vec<&str> {
        value
            .as_array()
            .expect("a list")
            .iter()
            .map(|item| item.as_str().expect("a string"))
            .collect()
    }

    #[test]
    fn arguments_go_in_the_order_of_pythons_parameters() {
        let contract = contract();
        let run_code = RunCodeArgs {
            source: "source",
            send: "send",
            filename: "filename",
            session: "session",
            entry: "entry",
        };
        assert_eq!(run_code.in_order().to_vec(), strings(&contract["run_code"]));
        let install = InstallForRunArgs {
            source: "source",
            send: "send",
            index_url: "index_url",
        };
        assert_eq!(
            install.in_order().to_vec(),
            strings(&contract["install_for_run"])
        );
    }

    #[test]
    fn every_event_of_the_contract_decodes_to_its_data() {
        let contract = contract();
        let events = contract["events"].as_array().expect("events");
        let names: Vec<&str> = events
            .iter()
            .map(|event| event["name"].as_str().expect("name"))
            .collect();
        assert_eq!(names, PythonEvent::NAMES);
        for event in events {
            let name = event["name"].as_str().expect("name");
            let data = &event["data"];
            let decoded = PythonEvent::decode(name, &Json(data.clone()))
                .unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(decoded.name(), name);
            // Every field of the data is read, and read back as it was.
            let fields: Vec<&String> = data.as_object().expect("data").keys().collect();
            match decoded {
                PythonEvent::Output(parts) => {
                    assert_eq!(fields, ["parts"]);
                    let expected: Vec<OutputPart> =
                        serde_json::from_value(data["parts"].clone()).expect("parts");
                    assert_eq!(parts, expected);
                    assert!(parts.iter().all(|part| part.kind != PartKind::Other));
                }
                PythonEvent::Input { prompt } => {
                    assert_eq!(fields, ["prompt"]);
                    assert_eq!(Some(prompt.as_str()), data["prompt"].as_str());
                }
                PythonEvent::Sleep { seconds } => {
                    assert_eq!(fields, ["seconds"]);
                    assert_eq!(Some(seconds), data["seconds"].as_f64());
                }
            }
        }
        let unknown = PythonEvent::decode("custom", &Json(serde_json::json!({})));
        assert_eq!(unknown, Err(DecodeError::missing("event_type")));
    }

    #[test]
    fn a_picture_is_an_output_event_of_one_image_part() {
        let contract = contract();
        let data = &contract["picture"]["data"];
        let decoded = PythonEvent::decode("output", &Json(data.clone())).expect("decodes");
        let expected = OutputPart {
            mime: Some("image/png".into()),
            ..OutputPart::new(PartKind::Image, "Figure 1")
        };
        assert_eq!(decoded, PythonEvent::Output(vec![expected]));
    }

    #[test]
    fn what_run_code_returns_decodes_to_the_exception() {
        let contract = contract();
        for case in contract["run_code_returns"]
            .as_array()
            .expect("run_code_returns")
        {
            let Some(json) = case["json"].as_str() else {
                continue; // null: ran to the end, no exception
            };
            let value: Value = serde_json::from_str(json).expect("json");
            let exception = python_runner_protocol::PythonException::decode(&Json(value.clone()))
                .expect("decodes");
            assert_eq!(Some(exception.type_name.as_str()), value["type"].as_str());
            assert_eq!(Some(exception.message.as_str()), value["message"].as_str());
        }
    }

    /// The [`Reply`] a reply of the contract encodes.
    fn reply_of(json: &str) -> Reply {
        let value: Value = serde_json::from_str(json).expect("a reply is JSON");
        let object = value.as_object().expect("a reply is an object");
        assert_eq!(object.len(), 1, "{json}");
        match (
            object.get("message"),
            object.get("interrupted"),
            object.get("error"),
        ) {
            (Some(message), None, None) => Reply::Message(message.as_str().map(str::to_string)),
            (None, Some(Value::Bool(true)), None) => Reply::Interrupted,
            (None, None, Some(Value::String(error))) => Reply::Error(error.clone()),
            _ => panic!("not a reply of the contract: {json}"),
        }
    }

    #[test]
    fn replies_are_written_exactly_as_the_contract_says() {
        let contract = contract();
        let replies = contract["replies"].as_array().expect("replies");
        let mut seen = Vec::new();
        for reply in replies {
            let event = reply["event"].as_str().expect("event");
            assert!(PythonEvent::NAMES.contains(&event), "{event}");
            let Some(json) = reply["json"].as_str() else {
                assert!(reply["json"].is_null());
                continue; // undefined: nothing can answer
            };
            let decoded = reply_of(json);
            assert_eq!(decoded.to_json(), json);
            seen.push(decoded);
        }
        // Every kind of reply the worker writes is in the contract.
        let kinds: [fn(&Reply) -> bool; 4] = [
            |reply: &Reply| matches!(reply, Reply::Message(Some(_))),
            |reply: &Reply| matches!(reply, Reply::Message(None)),
            |reply: &Reply| matches!(reply, Reply::Interrupted),
            |reply: &Reply| matches!(reply, Reply::Error(_)),
        ];
        for (index, kind) in kinds.iter().enumerate() {
            assert!(seen.iter().any(kind), "reply kind {index} is missing");
        }
    }
}
