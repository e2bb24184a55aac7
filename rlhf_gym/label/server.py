"""The labelling app: a FastAPI server over one labelling folder, run by uvicorn.

| route | what |
|---|---|
| ``GET /`` , ``GET /stats`` | the labelling page and the statistics page (static HTML + JS) |
| ``GET /static/...`` | the pages' files (StaticFiles: nothing outside the package folder) |
| ``GET /api/next?labeller=NAME`` | the next pair for NAME, with progress |
| ``POST /api/label`` | ``{"pair", "labeller", "choice"}``: store it, answer with the next pair |
| ``POST /api/undo`` | ``{"labeller"}``: remove NAME's latest decision, answer with that pair |
| ``GET /api/stats`` | labels per labeller, agreement, the reward model's accuracy |

Who may come in: the server binds 127.0.0.1 by default and then accepts only requests whose
``Host`` is a loopback name (a web page elsewhere cannot reach it by DNS rebinding). Any
other address needs ``token``: every request must then carry it (``X-Label-Token`` header,
``?token=`` once, or the cookie that sets). POSTs must be ``application/json`` (a foreign
page cannot send that without a CORS preflight, which this server never grants) and at most
:data:`MAX_BODY` bytes. A bad request writes nothing and gets a 4xx with a one-line
``detail``.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from rlhf_gym.label.accuracy import AccuracyBoard
from rlhf_gym.label.clips import ClipLibrary
from rlhf_gym.label.queue import PairQueue
from rlhf_gym.label.store import CHOICES, LabelConflict, LabelStore, agreement, make_decision

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 4096
"""bytes: a label is under 200; anything larger is refused unread (413)"""
MAX_NAME = 64
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "[::1]", "::1"}
TOKEN_COOKIE = "label_token"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuses a non-loopback address without a token (the issue's rule)."""
    if not is_loopback(host) and not token:
        raise ValueError(
            f"binding {host} exposes the app to the network: give --token SECRET (every "
            "request must then carry it), or bind 127.0.0.1"
        )


def _labeller(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise HTTPException(422, f"labeller must be a name of 1 to {MAX_NAME} characters")
    if not value.isprintable():
        raise HTTPException(422, "labeller must be printable text")
    return value.strip()


async def _json_body(request: Request, keys: tuple[str, ...]) -> dict[str, Any]:
    """The request's JSON object with ``keys``, or a 4xx saying what is wrong."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(415, "send the body as application/json")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise HTTPException(413, f"body larger than {MAX_BODY} bytes")
    body = b""
    async for chunk in request.stream():  # also caps a body sent without a length
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"body larger than {MAX_BODY} bytes")
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise HTTPException(400, f"body is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise HTTPException(400, "body must be a JSON object")
    missing = [key for key in keys if key not in data]
    if missing:
        raise HTTPException(422, f"missing field(s): {', '.join(missing)}")
    return data


class LabelApp:
    """The folder's queue, store, clips and accuracy board behind the routes.

    Args:
        folder: the labelling folder (``pairs.jsonl`` in, ``labels.jsonl`` out).
        labels_per_pair: labellers asked about each pair.
        reward_model: a reward model to score on the labels so far (arm: a ``reward_fn.npz``;
            text: a reward-model directory), for the statistics page.
    """

    def __init__(
        self, folder: str | Path, labels_per_pair: int = 1, reward_model: str | None = None
    ) -> None:
        self.folder = Path(folder)
        self.store = LabelStore(self.folder)
        self.queue = PairQueue(self.folder, labels_per_pair)
        self.clips = ClipLibrary(self.folder)
        self.board = AccuracyBoard(self.folder, reward_model, self.clips)
        self.clip_lock = threading.Lock()

    def view(self, entry: dict[str, Any] | None) -> dict[str, Any] | None:
        """What the page shows of a pair: text as is, arm clips as frames."""
        if entry is None:
            return None
        if entry["kind"] == "text":
            return {key: entry[key] for key in ("pair", "kind", "prompt", "left", "right")}
        try:
            with self.clip_lock:  # one MjData per renderer
                clips = [self.clips.clip(entry["segments"], entry[s]) for s in ("left", "right")]
        except (OSError, ValueError, KeyError) as err:  # the folder's data, not the request
            raise HTTPException(500, f"cannot show pair {entry['pair']!r}: {err}") from err
        return {"pair": entry["pair"], "kind": "arm", "left": clips[0], "right": clips[1]}

    def answer(self, labeller: str, **extra: Any) -> dict[str, Any]:
        """The next pair for ``labeller`` and their progress (one round trip per label)."""
        answer = {"progress": self.queue.progress(labeller, self.store), **extra}
        try:
            answer["next"] = self.view(self.queue.next_for(labeller, self.store))
        except HTTPException as err:  # a label just stored stays confirmed: say what is wrong
            answer["next"], answer["problem"] = None, err.detail
        return answer

    def stats(self) -> dict[str, Any]:
        """Decisions per labeller and choice, agreement, and the reward model's accuracy."""
        decisions = self.store.decisions()
        per_labeller: dict[str, dict[str, int]] = {}
        for decision in decisions:
            counts = per_labeller.setdefault(decision.labeller, dict.fromkeys(CHOICES, 0))
            counts[decision.choice] += 1
        return {
            "pairs": len(self.queue.entries()),
            "decisions": len(decisions),
            "labellers": per_labeller,
            "agreement": agreement(decisions),
            "reward_model": self.board.report(decisions),
        }


def create_app(
    folder: str | Path,
    token: str | None = None,
    loopback_only: bool = True,
    labels_per_pair: int = 1,
    reward_model: str | None = None,
) -> FastAPI:
    """The FastAPI app over ``folder`` (see the module docstring for the rules).

    Args:
        folder: the labelling folder.
        token: the secret every request must carry (None: no token asked).
        loopback_only: accept only loopback ``Host`` headers (for a 127.0.0.1 bind).
        labels_per_pair: labellers asked about each pair.
        reward_model: scored on the labels for the statistics page (see :class:`LabelApp`).
    """
    state = LabelApp(folder, labels_per_pair, reward_model)
    app = FastAPI(title="rlhf-gym label", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.label = state

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        host = request.headers.get("host", "").rsplit(":", 1)[0]
        if loopback_only and host not in LOOPBACK_NAMES:
            return JSONResponse({"detail": f"host {host!r} is not this machine"}, 403)
        given = (
            request.headers.get("x-label-token")
            or request.query_params.get("token")
            or request.cookies.get(TOKEN_COOKIE)
        )
        if token and not (given and hmac.compare_digest(given.encode(), token.encode())):
            return JSONResponse({"detail": "a valid token is needed (?token=...)"}, 401)
        response = await call_next(request)
        if token and request.query_params.get("token"):
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        response.headers["Cache-Control"] = "no-store"
        return response

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/")
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/stats")
    def stats_page() -> FileResponse:
        return FileResponse(STATIC / "stats.html")

    @app.get("/api/next")
    def next_pair(labeller: str) -> dict[str, Any]:
        return state.answer(_labeller(labeller))

    @app.post("/api/label")
    async def label(request: Request) -> dict[str, Any]:
        data = await _json_body(request, ("pair", "labeller", "choice"))
        labeller = _labeller(data["labeller"])
        if data["choice"] not in CHOICES:
            raise HTTPException(422, f"choice must be one of {list(CHOICES)}")
        entry = state.queue.get(data["pair"]) if isinstance(data["pair"], str) else None
        if entry is None:
            raise HTTPException(404, f"unknown pair {data['pair']!r}")
        try:
            stored = state.store.add(make_decision(entry, labeller, data["choice"]))
        except LabelConflict as err:
            raise HTTPException(409, str(err)) from err
        return state.answer(labeller, stored=stored)

    @app.post("/api/undo")
    async def undo(request: Request) -> dict[str, Any]:
        labeller = _labeller((await _json_body(request, ("labeller",)))["labeller"])
        decision = state.store.undo(labeller)
        if decision is None:
            raise HTTPException(409, f"{labeller!r} has nothing to undo")
        answer = state.answer(labeller, undone=decision.pair, choice=decision.choice)
        answer["next"] = state.view(state.queue.get(decision.pair))  # show it again
        return answer

    @app.get("/api/stats")
    def stats() -> dict[str, Any]:
        return state.stats()

    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def make_server(app: FastAPI) -> Any:
    """A uvicorn server for ``app`` (``server.run(sockets=[bind(...)])`` serves it)."""
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    return uvicorn.Server(config)


@contextlib.contextmanager
def serving(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serves ``app`` from a background thread; yields its base URL (``http://host:port``).

    For tests, benchmarks and a training loop that shows its own pairs; the thread stops
    when the block ends.
    """
    sock = bind(host, port)
    server = make_server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the labelling server did not start")
            time.sleep(0.01)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
