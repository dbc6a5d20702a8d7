//! Snapshot of the wire format: one value of every message variant, serialized to JSON.
//!
//! If this test fails you changed the wire format: bump `PROTOCOL_VERSION` and update the snapshot.

use python_runner_protocol::*;

fn every_variant() -> (Vec<ToWorker>, Vec<FromWorker>) {
    let to_worker = vec![
        ToWorker::Init {
            protocol: PROTOCOL_VERSION,
            pyodide_url: "/pyodide/".into(),
        },
        ToWorker::Run {
            id: 7,
            code: "print(1)".into(),
        },
    ];
    let from_worker = vec![
        FromWorker::Ready {
            protocol: PROTOCOL_VERSION,
            pyodide_version: "314.0.7".into(),
        },
        FromWorker::Output {
            id: 7,
            parts: vec![
                OutputPart {
                    kind: PartKind::Stdout,
                    text: "1\n".into(),
                },
                OutputPart {
                    kind: PartKind::Traceback,
                    text: "Traceback".into(),
                },
            ],
        },
        FromWorker::Done { id: 7 },
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
