"""The play page's HTTP server: Python's own `http.server`, the page, and a small JSON API, on 127.0.0.1.

    server = PlayServer(("127.0.0.1", 8000))  # binds now: a port in use raises OSError here
    server.open(lambda: PlaySession(...))     # builds the session on the worker thread
    server.serve_forever()

Requests are served on threads, but everything that touches the session (torch, ManiSkill: one env per process,
not thread-safe) runs on one worker thread, one request at a time. Every API call is a POST of a JSON object
naming the tab (`TabLock`); the answer is `{"ok": true, "state": ...}` with the session's summary and its frames as
PNG data URLs, or `{"ok": false, "error": "..."}`, a message for the page. A failure the session did not foresee
is logged with its traceback in the terminal; the page gets one line."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any

import numpy as np

from rla_gym.play.session import PlayError, PlaySession

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # bytes of a request body


def png_data_url(frame: np.ndarray | None) -> str | None:
    """(H, W, 3) uint8 -> a `data:image/png;base64,...` URL for an <img>."""
    if frame is None:
        return None
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def page_state(session: PlaySession) -> dict[str, Any]:
    """The session's summary and its three frames (world model, ManiSkill, the reference demo's)."""
    state = session.summary()
    sim = session.sim_frame.raw if session.sim_frame is not None else None
    demo = session.demo_frame() if session.wm_frame is not None else None
    state["frames"] = {"world_model": png_data_url(session.wm_frame), "simulator": png_data_url(sim)}
    state["frames"]["demo"] = png_data_url(demo)
    return state


class PlayServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, PlayHandler)
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="play-session")
        self.session: PlaySession | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def open(self, factory: Callable[[], PlaySession]) -> PlaySession:
        """Build the session on the worker thread (ManiSkill then lives on the thread that steps it)."""
        self.session = self.call(factory)
        return self.session

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.worker.submit(fn, *args).result()

    def close(self, timeout: float | None = None) -> bool:
        """Close the session on its worker thread, then the server; False if the session did not close within
        `timeout` s (its worker is then left behind: the caller exits the process)."""
        closed = True
        if self.session is not None:
            try:
                self.worker.submit(self.session.close).result(timeout)
            except FutureTimeout:
                closed = False
        self.worker.shutdown(wait=closed, cancel_futures=True)
        self.server_close()
        return closed


class PlayHandler(BaseHTTPRequestHandler):
    server: PlayServer
    server_version = "rla-gym-play"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (http.server's signature)
        log.debug("%s %s", self.address_string(), format % args)

    # ------------------------------------------------------------------ answers
    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, payload: dict[str, Any], status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    # ------------------------------------------------------------------ GET: the page and saved videos
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            page = files("rla_gym.play").joinpath("page.html").read_bytes()
            return self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
        if path == "/favicon.ico":
            return self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
        session = self.server.session
        if path.startswith("/videos/") and session is not None:
            name = path.removeprefix("/videos/")
            video = next((p for p in session.videos if p.name == name), None)  # only what this session wrote
            if video is not None and video.is_file():
                return self._send(HTTPStatus.OK, video.read_bytes(), "video/mp4")
        return self._json({"ok": False, "error": f"nothing at {path}"}, HTTPStatus.NOT_FOUND)

    # ------------------------------------------------------------------ POST /api/<action>
    def do_POST(self) -> None:
        action = self.path.split("?", 1)[0].removeprefix("/api/")
        handler = ACTIONS.get(action)
        if handler is None or not self.path.startswith("/api/"):
            return self._json({"ok": False, "error": f"no API call {self.path}"}, HTTPStatus.NOT_FOUND)
        try:
            request = self._body()
            payload = self.server.call(_run, self.server.session, action, handler, request)
        except PlayError as err:
            return self._json({"ok": False, "error": str(err)}, HTTPStatus.BAD_REQUEST)
        except Exception as err:  # the page gets one line, the terminal the traceback
            log.exception("play: %s failed", action)
            message = f"internal error in {action}: {type(err).__name__}: {err} (the traceback is in the terminal)"
            return self._json({"ok": False, "error": message}, HTTPStatus.INTERNAL_SERVER_ERROR)
        return self._json({"ok": True, **payload})

    def _body(self) -> dict[str, Any]:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            raise PlayError(f"request body: expected at most {MAX_BODY} bytes of JSON; got {length}")
        text = self.rfile.read(length).decode("utf-8", errors="replace") if length else "{}"
        try:
            request = json.loads(text)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            raise PlayError(f"request body: expected a JSON object; got {text[:60]!r}")
        return request


def _run(session: PlaySession | None, action: str, handler, request: dict[str, Any]) -> dict[str, Any]:
    """One API call on the worker thread: the tab check, the action, the new state."""
    if session is None:
        raise PlayError("the session is still loading; try again in a moment")
    tab = request.get("tab")
    if action == "claim":
        session.lock.claim(tab, take_over=bool(request.get("take_over")))
    elif action == "release":
        session.lock.release(tab)
        return {}
    else:
        session.lock.check(tab)
    extra = handler(session, request) or {}
    if action == "ping":
        return {}
    return {"state": page_state(session), **extra}


def _nothing(session: PlaySession, request: dict[str, Any]) -> None:
    """claim, release, ping: the tab check in `_run` is the whole call."""


def _start(session: PlaySession, request: dict[str, Any]) -> None:
    r = request
    session.start(r.get("kind", "demo"), r.get("demo", 0), r.get("frame", 0), r.get("seed", 0))


def _reset(session: PlaySession, request: dict[str, Any]) -> None:
    session.reset()


def _step(session: PlaySession, request: dict[str, Any]) -> None:
    session.step(request.get("targets"), request.get("source", "keys"))


def _act(session: PlaySession, request: dict[str, Any]) -> None:
    session.act(request.get("source"))


def _policy(session: PlaySession, request: dict[str, Any]) -> None:
    session.load_policy(request.get("kind"), request.get("path"))


def _video(session: PlaySession, request: dict[str, Any]) -> dict[str, Any]:
    path = session.save_video()
    return {"video": {"path": str(path.resolve()), "url": f"/videos/{path.name}"}}


# POST /api/<name>: each takes the session and the request's JSON object, and may add to the answer
ACTIONS: dict[str, Callable[[PlaySession, dict[str, Any]], dict[str, Any] | None]] = {
    "claim": _nothing,
    "release": _nothing,
    "ping": _nothing,
    "start": _start,
    "reset": _reset,
    "step": _step,
    "act": _act,
    "policy": _policy,
    "video": _video,
}
