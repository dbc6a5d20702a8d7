//! Snapshot of the wire format: one value of every message variant, serialized to JSON.
//!
//! If this test fails you changed the wire format: bump `PROTOCOL_VERSION` and update the snapshot.

use python_runner_protocol::json::Json;
use python_runner_protocol::*;

fn every_variant() -> (Vec<ToWorker>, Vec<FromWorker>) {
    let to_worker = vec![
        ToWorker::Init {
            protocol: PROTOCOL_VERSION,
            pyodide_url: "/pyodide/".into(),
            transport: Transport::Atomics,
            service_worker: None,
            snapshot: Snapshot::Use,
        },
        ToWorker::Init {
            protocol: PROTOCOL_VERSION,
            pyodide_url: "/pyodide/".into(),
            transport: Transport::ServiceWorker,
            service_worker: Some(ServiceWorkerRoute {
                scope: "https://a.test/".into(),
                channel: "c-1".into(),
            }),
            snapshot: Snapshot::Off,
        },
        ToWorker::Init {
            protocol: PROTOCOL_VERSION,
            pyodide_url: "/pyodide/".into(),
            transport: Transport::None,
            service_worker: None,
            snapshot: Snapshot::Make,
        },
        ToWorker::Run {
            id: 7,
            code: "print(1)".into(),
            options: RunOptions::default(),
        },
        ToWorker::Run {
            id: 8,
            code: String::new(),
            options: RunOptions {
                entry: Some("mypkg.main".into()),
                install_imports: true,
                package_index: Some("https://a.test/simple/".into()),
                session: "e3".into(),
                fresh_session: true,
            },
        },
        ToWorker::Archive {
            spec: ArchiveSpec {
                url: "https://a.test/p.zip".into(),
                format: "zip".into(),
                extract_dir: "/home/pyodide".into(),
            },
        },
        ToWorker::ArchiveData {
            url: "https://a.test/p.zip".into(),
            error: None,
        },
        ToWorker::ArchiveData {
            url: "https://a.test/p.zip".into(),
            error: Some("HTTP 404".into()),
        },
        ToWorker::Cancel { id: 7 },
        ToWorker::Reply {
            seq: 3,
            reply: Reply::Message(Some("Bob".into())).to_json(),
        },
    ];
    let from_worker = vec![
        FromWorker::Ready {
            protocol: PROTOCOL_VERSION,
            pyodide_version: "314.0.7".into(),
            transport: Transport::Jspi,
            warm: true,
        },
        FromWorker::SnapshotMade {
            bytes: 31_457_408.0,
            make_ms: 30.5,
            key: "https://cdn.example/pyodide/python-runner-snapshot/314.0.7/0.1.0/00ff".into(),
        },
        FromWorker::Loading {
            received: 1_048_576.0,
            total: 12_582_912.0,
        },
        FromWorker::Waiting {
            id: 7,
            seq: 3,
            reason: WaitReason::Input,
        },
        FromWorker::Waiting {
            id: 7,
            seq: 4,
            reason: WaitReason::Sleep,
        },
        FromWorker::Waiting {
            id: 7,
            seq: 5,
            reason: WaitReason::Drain,
        },
        FromWorker::Output {
            id: 7,
            parts: vec![
                OutputPart::new(PartKind::Stdout, "1\n"),
                OutputPart::new(PartKind::Traceback, "Traceback"),
                OutputPart::new(PartKind::Notice, "Python was restarted"),
                OutputPart {
                    mime: Some("image/png".into()),
                    ..OutputPart::new(PartKind::Image, "Figure 1: Sales")
                },
            ],
        },
        FromWorker::ArchiveFailed {
            error: ErrorPayload {
                kind: ErrorKind::Archive,
                message: "Could not unpack".into(),
                detail: None,
            },
        },
        FromWorker::Done {
            id: 7,
            exception: None,
        },
        FromWorker::Done {
            id: 8,
            exception: Some(PythonException {
                type_name: "KeyboardInterrupt".into(),
                message: String::new(),
            }),
        },
        FromWorker::Failed {
            id: None,
            error: ErrorPayload {
                kind: ErrorKind::PyodideLoad,
                message: "could not load".into(),
                detail: Some("404".into()),
            },
        },
    ];
    (to_worker, from_worker)
}

#[test]
fn wire_format_snapshot() {
    let (to_worker, from_worker) = every_variant();
    let json = serde_json::to_string_pretty(&serde_json::json!({
        "version": PROTOCOL_VERSION,
        "attachment_key": ATTACHMENT,
        "to_worker": to_worker,
        "from_worker": from_worker,
    }))
    .expect("protocol types serialize");
    let snapshot_path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wire_format.json");
    let committed = std::fs::read_to_string(snapshot_path).unwrap_or_default();
    if committed.trim() != json.trim() {
        std::fs::write(snapshot_path, &json).expect("writing snapshot");
        panic!("wire format changed: bump PROTOCOL_VERSION if needed; snapshot rewritten, re-run");
    }
}

#[test]
fn messages_round_trip() {
    let (to_worker, from_worker) = every_variant();
    for message in to_worker {
        let json = serde_json::to_string(&message).expect("serialize");
        let back: ToWorker = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, message);
    }
    for message in from_worker {
        let json = serde_json::to_string(&message).expect("serialize");
        let back: FromWorker = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, message);
    }
}

#[test]
fn unknown_part_kind_reads_as_other() {
    let part: OutputPart =
        serde_json::from_str(r#"{"type": "snoop", "text": "x"}"#).expect("deserialize");
    assert_eq!(part.kind, PartKind::Other);
}

#[test]
fn decode_reads_back_what_serde_writes() {
    let (to_worker, from_worker) = every_variant();
    for message in to_worker {
        let json = Json(serde_json::to_value(&message).expect("serialize"));
        assert_eq!(ToWorker::decode(&json), Ok(message));
    }
    for message in from_worker {
        let json = Json(serde_json::to_value(&message).expect("serialize"));
        assert_eq!(FromWorker::decode(&json), Ok(message));
    }
    for kind in [
        ErrorKind::PyodideLoad,
        ErrorKind::Protocol,
        ErrorKind::Worker,
        ErrorKind::Internal,
        ErrorKind::Python,
    ] {
        let name = serde_json::to_value(kind).expect("serialize");
        assert_eq!(name.as_str(), Some(kind.wire_name()));
        assert_eq!(ErrorKind::from_wire(kind.wire_name()), Some(kind));
    }
}

#[test]
fn decode_rejects_malformed_messages_clearly() {
    let check = |json: serde_json::Value, expected: &str| {
        let error = FromWorker::decode(&Json(json)).expect_err("must fail");
        assert_eq!(error.to_string(), expected);
    };
    check(serde_json::json!({}), "missing or invalid field `type`");
    check(
        serde_json::json!({"type": "nope"}),
        "unknown message type `nope`",
    );
    check(
        serde_json::json!({"type": "done", "id": -1}),
        "missing or invalid field `id`",
    );
    check(
        serde_json::json!({"type": "done", "id": 1.5}),
        "missing or invalid field `id`",
    );
    check(
        serde_json::json!({"type": "output", "id": 1, "parts": [{"type": "stdout"}]}),
        "missing or invalid field `text`",
    );
    assert_eq!(
        FromWorker::decode(&Json(
            serde_json::json!({"type": "output", "id": 2, "parts": [{"type": "snoop", "text": "x"}]})
        )),
        Ok(FromWorker::Output {
            id: 2,
            parts: vec![OutputPart::new(PartKind::Other, "x")]
        })
    );
}

#[test]
fn replies_are_json_that_any_parser_reads_back() {
    let long: String = "Wörld ✓ 日本 ".repeat(100_000);
    let samples = [
        "",
        "Bob",
        "quote \" backslash \\ slash /",
        "tab\tnewline\ncr\r",
        "\u{0}\u{1}\u{1f}\u{7f}",
        "emoji 🐍 and surrogate-free astral 𝄞",
        long.as_str(),
    ];
    for text in samples {
        let json = Reply::Message(Some(text.to_string())).to_json();
        let parsed: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(parsed, serde_json::json!({ "message": text }));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&Reply::Error(text.into()).to_json())
                .expect("valid JSON"),
            serde_json::json!({ "error": text })
        );
    }
}
