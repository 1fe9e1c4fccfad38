"""The play server over HTTP, without a browser: the page, the tab check, and every bad request answered with a
one-line JSON message (never a traceback), on a session with the stand-in simulator."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
import torch
from play_support import FakeSim, make_session

from rla_gym.play.server import PlayServer

TAB, OTHER = "tab-test-00000001", "tab-test-00000002"


@pytest.fixture
def served(random_bundle_dir, tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    server = PlayServer(("127.0.0.1", 0))
    server.open(lambda: make_session(random_bundle_dir, tmp_path / "videos", FakeSim()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.close()
    thread.join(10)
    torch.set_num_threads(threads)


def call(server: PlayServer, action: str, body: dict | bytes | None = None, tab: str | None = TAB) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps({"tab": tab, **(body or {})}).encode()
    request = urllib.request.Request(f"{server.url}api/{action}", data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def get(server: PlayServer, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"{server.url}{path.lstrip('/')}", timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def assert_message(status: int, reply: dict, expected_status: int, words: str) -> None:
    assert status == expected_status, (status, reply)
    assert reply["ok"] is False and words in reply["error"], reply
    assert "\n" not in reply["error"] and "Traceback" not in reply["error"]


def test_the_page_is_served(served):
    status, page = get(served, "/")
    assert status == 200 and b"<title>rla-gym play</title>" in page and b'api("claim"' in page


def test_a_claim_returns_the_state_with_both_worlds_frames(served):
    status, reply = call(served, "claim")
    assert status == 200 and reply["ok"], reply
    state = reply["state"]
    assert state["simulator"] == "FakeSim" and state["chunks"] == 0 and len(state["joints"]) == 5
    for name in ("world_model", "simulator", "demo"):
        assert state["frames"][name].startswith("data:image/png;base64,"), name
    status, reply = call(served, "step", {"targets": state["targets"]})
    assert reply["ok"] and reply["state"]["chunks"] == 1 and reply["state"]["last"]["source"] == "keys"
    assert reply["state"]["frames"]["world_model"] != state["frames"]["world_model"]


def test_a_second_tab_gets_a_message_until_it_takes_over(served):
    assert call(served, "claim")[1]["ok"]
    assert_message(*call(served, "claim", tab=OTHER), 400, "open in another browser tab")
    assert_message(*call(served, "act", {"source": "demo"}, tab=OTHER), 400, "does not hold the session")
    status, reply = call(served, "claim", {"take_over": True}, tab=OTHER)
    assert reply["ok"], reply
    assert_message(*call(served, "ping"), 400, "took this session over")


@pytest.mark.parametrize(
    ("action", "body", "status", "words"),
    [
        ("step", {"targets": [99, 0, 0, 0, 0]}, 400, "joint 1: target 99 is outside its range"),
        ("step", {"targets": "up"}, 400, "expected 5 joint targets"),
        ("start", {"kind": "demo", "demo": 40}, 400, "demo 40 out of range"),
        ("policy", {"kind": "rl", "path": "/nonexistent"}, 400, "RL checkpoint: no folder at /nonexistent"),
        ("act", {"source": "rl"}, 400, "no RL checkpoint"),
        ("video", {}, 400, "nothing to save yet"),
        ("step", b"{not json", 400, "request body: expected a JSON object"),
        ("step", b"[1, 2]", 400, "request body: expected a JSON object"),
        ("launch", {}, 404, "no API call /api/launch"),
    ],
)
def test_bad_requests_answer_with_one_line(served, action, body, status, words):
    assert call(served, "claim")[1]["ok"]
    assert_message(*call(served, action, body), status, words)


def test_an_unforeseen_failure_is_one_line_on_the_page_and_a_traceback_in_the_log(served, caplog, monkeypatch):
    assert call(served, "claim")[1]["ok"]

    def broken(*args, **kwargs):
        raise RuntimeError("the model fell over")

    monkeypatch.setattr(served.session.env, "step", broken)
    with caplog.at_level("ERROR", logger="rla_gym.play.server"):
        reply = call(served, "act", {"source": "demo"})
    assert_message(*reply, 500, "internal error in act: RuntimeError: the model fell over")
    assert any(r.exc_info for r in caplog.records), "the traceback belongs in the terminal's log"


def test_a_saved_video_is_served_and_nothing_else_is(served):
    assert call(served, "claim")[1]["ok"]
    call(served, "act", {"source": "demo"})
    status, reply = call(served, "video")
    assert reply["ok"], reply
    status, data = get(served, reply["video"]["url"])
    assert status == 200 and data[4:8] == b"ftyp", "an mp4"
    assert get(served, "/videos/..%2Fmanifest.json")[0] == 404
    assert get(served, "/etc/passwd")[0] == 404
