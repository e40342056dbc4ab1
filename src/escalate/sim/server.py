"""The HTTP face of the simulated API: a ThreadingHTTPServer speaking the real wire format.

Routes, auth, ``request-id`` headers, error bodies, SSE framing, faults and the
request log live here; what a request *means* lives in ``Simulator``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from escalate.errors import EscalateError
from escalate.sim.errors import ApiError, invalid
from escalate.sim.messages import sse_events, sse_frame
from escalate.sim.pagination import paginate
from escalate.sim.requestlog import safe_headers
from escalate.sim.simulator import Simulator

MAX_BODY = 32 * 1024 * 1024
BATCH_MAX_BODY = 256 * 1024 * 1024
ORGANIZATION_ID = "5c5a6b3e-0e6f-4a43-9a7e-0d1f3a5e51c1"
RATE_LIMITS = {"requests": 4000, "input-tokens": 2_000_000, "output-tokens": 400_000}
STREAM_ERROR_AFTER = 4  # events before an injected mid-stream error: message_start, ping, block start, delta


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: object) -> None:  # the request log replaces stderr noise
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing ----------------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        sim = self.server.sim
        request_id = sim.ids.request()
        split = urlsplit(self.path)
        record: dict = {
            "time": sim.clock.iso(sim.clock.now()),
            "method": method,
            "path": split.path,
            "query": split.query or None,
            "headers": safe_headers(self.headers),
            "request_id": request_id,
            "body": None,
            "stream": False,
            "model": None,
            "status": None,
            "usage": None,
            "cost_usd": 0.0,
            "cost_usd_exact": "0",
            "error": None,
            "fault": None,
        }
        self._record = record
        self._logged = False
        try:
            body = self._read_body(split.path)
            record["body"] = body
            if isinstance(body, dict):
                record["model"] = body.get("model")
                record["stream"] = bool(body.get("stream"))
            self._authenticate()
            self._route(method, split.path, parse_qs(split.query), body, record)
        except ApiError as exc:
            record["status"] = exc.status
            record["error"] = {"type": exc.error_type, "message": exc.message}
            self._send_json(exc.status, exc.body(request_id), request_id, exc.headers)
        except (BrokenPipeError, ConnectionResetError):
            record["error"] = {"type": "client_disconnected", "message": "the client closed the connection"}
        except Exception as exc:  # a sim bug: answer like the real API would, keep the traceback in the log
            record["status"] = 500
            record["error"] = {"type": "api_error", "message": repr(exc), "traceback": traceback.format_exc()}
            error = ApiError(500, "Internal server error", headers={"x-should-retry": "false"})
            self._send_json(500, error.body(request_id), request_id, error.headers)
        finally:
            self._log()

    def _log(self) -> None:
        # Called right before the last bytes of a response are written, so a client never
        # sees a response the log does not hold yet.
        if not self._logged:
            self._logged = True
            self.server.sim.log.append(self._record)

    def _read_body(self, path: str) -> object:
        length = int(self.headers.get("content-length") or 0)
        limit = BATCH_MAX_BODY if path.startswith("/v1/messages/batches") else MAX_BODY
        if length > limit:
            self.rfile.read(length)
            raise ApiError(413, "Request exceeds the maximum allowed number of bytes.")
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise invalid(
                "There was an error parsing the body of your request: it is not valid JSON."
            ) from None

    def _authenticate(self) -> None:
        key = self.headers.get("x-api-key")
        auth = self.headers.get("authorization") or ""
        if not key and auth.lower().startswith("bearer "):
            key = auth[7:].strip()
        if not key:
            raise ApiError(401, "x-api-key header is required")
        required = self.server.sim.required_key
        if required is not None and key != required:
            raise ApiError(401, "invalid x-api-key")

    def _headers(self, request_id: str, extra: dict | None = None) -> None:
        self.send_header("request-id", request_id)
        self.send_header("anthropic-organization-id", ORGANIZATION_ID)
        # Generous, constant rate limits in the real header names (the sim never throttles unless told).
        sim = self.server.sim
        reset = sim.clock.iso(sim.clock.now() + 60).split(".")[0] + "Z"
        for kind, limit in RATE_LIMITS.items():
            self.send_header(f"anthropic-ratelimit-{kind}-limit", str(limit))
            self.send_header(
                f"anthropic-ratelimit-{kind}-remaining", str(limit - (1 if kind == "requests" else 0))
            )
            self.send_header(f"anthropic-ratelimit-{kind}-reset", reset)
        for name, value in (extra or {}).items():
            self.send_header(name, value)

    def _send_json(self, status: int, payload: object, request_id: str, extra: dict | None = None) -> None:
        text = json.dumps(payload, ensure_ascii=False)
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (a script's tool input): JSON's \uXXXX escapes carry it
            data = json.dumps(payload).encode("ascii")
        self._send_bytes(status, data, "application/json", request_id, extra)

    def _send_bytes(
        self, status: int, data: bytes, ctype: str, request_id: str, extra: dict | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self._headers(request_id, extra)
        self.end_headers()
        self._log()
        self.wfile.write(data)

    # -- routes ------------------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict, body: object, record: dict) -> None:
        sim = self.server.sim
        rid = record["request_id"]
        parts = [unquote(p) for p in path.rstrip("/").split("/")[1:]]
        if parts[:1] != ["v1"]:
            raise ApiError(404, f"Not found: {method} {path}")
        rest = parts[1:]
        if method == "POST" and rest == ["messages"]:
            return self._messages(_object(body), record)
        if method == "POST" and rest == ["messages", "count_tokens"]:
            model, tokens = sim.count_tokens(_object(body))
            record["model"], record["status"] = model.id, 200
            record["usage"] = {"input_tokens": tokens}
            return self._send_json(200, {"input_tokens": tokens}, rid)
        if method == "GET" and rest == ["models"]:
            return self._send_json(200, self._list_models(query), rid, _ok(record))
        if method == "GET" and len(rest) == 2 and rest[0] == "models":
            model = sim.catalogue.get(rest[1])
            if model is None:
                raise ApiError(404, f"model: {rest[1]}")
            return self._send_json(200, model.to_api(), rid, _ok(record))
        if rest[:2] == ["messages", "batches"]:
            return self._batches(method, rest[2:], query, body, record)
        raise ApiError(404, f"Not found: {method} {path}")

    def _list_models(self, query: dict) -> dict:
        wanted = query.get("lifecycle[]") or query.get("lifecycle") or ["active", "deprecated"]
        models = [m.to_api() for m in self.server.sim.catalogue.models if m.lifecycle in wanted]
        return paginate(models, query)

    def _batches(self, method: str, rest: list[str], query: dict, body: object, record: dict) -> None:
        store = self.server.sim.batches
        rid = record["request_id"]
        if method == "POST" and not rest:
            return self._send_json(200, store.create(_object(body)), rid, _ok(record))
        if method == "GET" and not rest:
            return self._send_json(200, store.list(query), rid, _ok(record))
        if method == "GET" and len(rest) == 1:
            return self._send_json(200, store.retrieve(rest[0]), rid, _ok(record))
        if method == "POST" and len(rest) == 2 and rest[1] == "cancel":
            return self._send_json(200, store.cancel(rest[0]), rid, _ok(record))
        if method == "DELETE" and len(rest) == 1:
            return self._send_json(200, store.delete(rest[0]), rid, _ok(record))
        if method == "GET" and len(rest) == 2 and rest[1] == "results":
            data = store.results(rest[0])
            _ok(record)
            return self._send_bytes(200, data, "application/binary", rid)
        raise ApiError(404, f"Not found: {method} /v1/messages/batches/{'/'.join(rest)}")

    def _messages(self, body: dict, record: dict) -> None:
        sim = self.server.sim
        rid = record["request_id"]
        n, faults = sim.next_faults(body.get("model") if isinstance(body.get("model"), str) else None)
        record["messages_request"] = n
        if faults:
            record["fault"] = [f.spec for f in faults]
        delay = sum(f.delay_s for f in faults)
        if delay:
            time.sleep(delay)
        stream = bool(body.get("stream"))
        for fault in faults:
            if fault.status or (fault.stream_error and not stream):
                raise fault.error()
        answer = sim.respond(body)
        record.update(answer.decision)
        record["model"] = answer.model.id
        record["status"] = 200
        if any(f.malformed_body or f.drop_connection for f in faults):
            return self._billed_but_unreadable(answer, faults, stream, record)
        if not stream:
            record["usage"] = answer.message["usage"]
            record["cost_usd"], record["cost_usd_exact"] = float(answer.cost), str(answer.cost)
            record["message_id"] = answer.message["id"]
            return self._send_json(200, answer.message, rid)
        broken = next((f for f in faults if f.stream_error), None)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self._headers(rid)
        self.end_headers()
        self.close_connection = True
        record["message_id"] = answer.message["id"]
        events = list(sse_events(answer.message))
        for i, (event, data) in enumerate(events):
            if i == len(events) - 1 and broken is None:
                record["usage"] = answer.message["usage"]
                record["cost_usd"], record["cost_usd_exact"] = float(answer.cost), str(answer.cost)
                self._log()
            if broken is not None and i == STREAM_ERROR_AFTER:
                # Not billed here: the client never sees the final usage of a broken stream.
                record["stream_error"] = broken.stream_error
                self._log()
                self.wfile.write(sse_frame("error", broken.stream_error_body()))
                self.wfile.flush()
                return
            self.wfile.write(sse_frame(event, data))
        self.wfile.flush()

    def _billed_but_unreadable(self, answer: Any, faults: list, stream: bool, record: dict) -> None:
        """The request was processed and billed; the client gets no readable answer."""
        record["usage"] = answer.message["usage"]
        record["cost_usd"], record["cost_usd_exact"] = float(answer.cost), str(answer.cost)
        record["message_id"] = answer.message["id"]
        rid = record["request_id"]
        if any(f.drop_connection for f in faults):
            record["fault_effect"] = "connection dropped after billing"
            self._log()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        record["fault_effect"] = "malformed body"
        if not stream:
            whole = json.dumps(answer.message).encode("utf-8")
            return self._send_bytes(200, whole[: len(whole) // 2], "application/json", rid)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Connection", "close")
        self._headers(rid)
        self.end_headers()
        self.close_connection = True
        events = list(sse_events(answer.message))
        self.wfile.write(sse_frame(*events[0]))  # message_start reads well; the next event does not
        self._log()
        self.wfile.write(b'event: content_block_start\ndata: {"type": "content_block_start", "ind\n\n')
        self.wfile.flush()


def _object(body: object) -> dict:
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    return body


def _ok(record: dict) -> None:
    record["status"] = 200


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    sim: Simulator

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request, client_address) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Close kept-alive client connections, so a stopped sim really stops answering."""
        with self.connections_lock:
            open_now = list(self.connections)
        for conn in open_now:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class SimServer:
    """A running simulated API on ``host:port`` (port 0 = a free port); ``url`` is the base URL."""

    def __init__(self, sim: Simulator, host: str = "127.0.0.1", port: int = 0):
        try:
            self.httpd = _HTTPServer((host, port), _Handler)
        except OSError as exc:
            raise EscalateError(
                f"cannot listen on {host}:{port} ({exc.strerror}); pass --port 0 for a free port"
            ) from None
        self.httpd.sim = sim
        self.sim = sim
        self.host, self.port = self.httpd.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        sim.base_url = self.url
        self._thread: threading.Thread | None = None

    def start(self) -> SimServer:
        """Serve in a daemon thread (tests); ``serve_forever`` blocks instead (the CLI)."""
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="escalate-sim", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
        self.httpd.drop_connections()
        self.httpd.server_close()
