"""The Python side of the contract in `contract.json`: parameters, events and replies.

The worker's native tests (`worker/src/contract.rs`) and the bundle's (`bundle/tests/templates.rs`,
for the library's `makeRunnerCallback`) read the same file, so the three copies cannot drift apart.
"""

import base64
import builtins
import inspect
import json
from pathlib import Path
from typing import Any

import pytest

import pyodide_worker_runner.runner
from pyodide_worker_runner import Runner, run_code
from pyodide_worker_runner.imports import install_for_run
from pyodide_worker_runner.runner import _reply

CONTRACT = json.loads((Path(__file__).parent / "contract.json").read_text(encoding="utf-8"))
EVENTS = {event["name"]: event for event in CONTRACT["events"]}


def parameters(function: Any) -> list[str]:
    """The names of `function`'s parameters, in order."""
    return list(inspect.signature(function).parameters)


def test_entry_points_take_the_arguments_in_the_contracts_order() -> None:
    assert parameters(run_code) == CONTRACT["run_code"]
    assert parameters(install_for_run) == CONTRACT["install_for_run"]


@pytest.mark.parametrize("case", CONTRACT["run_code_returns"], ids=lambda case: case["program"])
def test_run_code_returns_what_ended_the_program(case: dict[str, Any]) -> None:
    assert run_code(case["program"], Host()) == case["json"]


class Host:
    """Plays the worker: records `(event_type, data)`, answers blocking events at once."""

    def __init__(self) -> None:
        self.answers = {"input": '{"message":"Bob"}', "sleep": '{"message":null}'}
        self.events: list[tuple[str, Any]] = []
        self.pictures: list[bytes | None] = []
        """Per event, send's third argument, or None when send had two."""

    def __call__(self, event_type: str, json_text: str, *picture: bytes) -> object:
        self.events.append((event_type, json.loads(json_text)))
        self.pictures.append(picture[0] if picture else None)
        return self.answers.get(event_type)


@pytest.mark.parametrize("name", list(EVENTS))
def test_run_code_sends_each_event_with_the_contracts_data(name: str) -> None:
    event = EVENTS[name]
    host = Host()
    run_code(event["program"], host)
    assert (name, event["data"]) in host.events, host.events


@pytest.mark.parametrize("name", list(EVENTS))
def test_the_runner_callback_gets_the_same_events(name: str) -> None:
    # The callback that makeRunnerCallback implements: data as a dict, plain replies.
    event = EVENTS[name]
    events: list[tuple[str, Any]] = []

    def callback(event_type: str, data: dict[str, Any]) -> object:
        events.append((event_type, data))
        return CONTRACT["callback_replies"].get(event_type)

    Runner(callback=callback).run(event["program"])
    assert (name, event["data"]) in events, events


PICTURE = CONTRACT["picture"]
PICTURE_BYTES = base64.b64decode(PICTURE["bytes"]["base64"])


def test_run_code_sends_a_picture_as_the_contract_says() -> None:
    host = Host()
    run_code(PICTURE["program"], host)
    assert host.events == [("output", PICTURE["data"])]
    assert host.pictures == [PICTURE_BYTES]
    assert len(PICTURE_BYTES) == PICTURE["bytes"]["length"]
    assert PICTURE_BYTES.startswith(b"\x89PNG")


def test_events_without_a_picture_have_no_third_argument() -> None:
    host = Host()
    run_code(f"print('a')\n{PICTURE['program']}print('b')", host)
    assert [part["type"] for _, data in host.events for part in data["parts"]] == [
        "stdout",
        "image",
        "stdout",
    ]
    assert host.pictures == [None, PICTURE_BYTES, None]


def test_the_runner_callback_gets_a_pictures_bytes_in_its_part() -> None:
    events: list[tuple[str, Any]] = []
    Runner(callback=lambda event_type, data: events.append((event_type, data))).run(
        PICTURE["program"]
    )
    [part] = PICTURE["data"]["parts"]
    assert events == [("output", {"parts": [{**part, "bytes": PICTURE_BYTES}]})]


def test_the_runner_callbacks_input_reply_is_the_line() -> None:
    events: list[tuple[str, Any]] = []

    def callback(event_type: str, data: dict[str, Any]) -> object:
        events.append((event_type, data))
        return CONTRACT["callback_replies"].get(event_type)

    Runner(callback=callback).run("print(repr(input()))")
    line = CONTRACT["callback_replies"]["input"]
    assert ("output", {"parts": [{"type": "stdout", "text": f"{line[:-1]!r}\n"}]}) in events


def test_every_contract_event_has_replies() -> None:
    assert {reply["event"] for reply in CONTRACT["replies"]} == set(EVENTS)


@pytest.mark.parametrize(
    "reply", CONTRACT["replies"], ids=lambda reply: f"{reply['event']}-{reply['json']}"
)
def test_replies_do_what_the_contract_says(
    reply: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(pyodide_worker_runner.runner, "_real_sleep", slept.append)
    event, expected = reply["event"], reply["python"]
    data = EVENTS[event]["data"]

    if "raises" in expected:
        with pytest.raises(getattr(builtins, expected["raises"])) as raised:
            _reply(event, data, reply["json"])
        if "message" in expected:
            assert str(raised.value) == expected["message"]
        if "message_constant" in expected:
            message = getattr(pyodide_worker_runner.runner, expected["message_constant"])
            assert str(raised.value) == message
    else:
        assert _reply(event, data, reply["json"]) == expected["returns"]
    assert slept == ([data["seconds"]] if expected.get("sleeps") else [])
