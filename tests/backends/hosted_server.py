"""A small HTTP server on 127.0.0.1 that speaks a hosted API's JSON formats, for tests of the real client code.

``local_api(routes)`` starts a ``ThreadingHTTPServer`` at a free port in a thread, yields it, and shuts it down.
Each route is (regex on the path, handler); a handler gets the parsed JSON body and the request headers and returns
(status, JSON body, extra headers). Every request is recorded (path, headers, body) so a test can check what
reached the server. The answers come from a real model the test passes in, never from fixed figures.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

Handler = Callable[[dict, dict], "tuple[int, Any, dict[str, str]]"]


class LocalAPI:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()


@contextlib.contextmanager
def local_api(routes: list[tuple[str, Handler]]) -> Iterator[LocalAPI]:
    compiled = [(re.compile(pattern), handler) for pattern, handler in routes]
    api: LocalAPI

    class RequestHandler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep the test output clean
            pass

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            body = json.loads(raw or b"{}")
            headers = {k.lower(): v for k, v in self.headers.items()}
            path = self.path
            with api.lock:
                api.requests.append({"path": path, "headers": headers, "body": body})
            for pattern, handler in compiled:
                if pattern.fullmatch(path.split("?")[0]):
                    status, answer, extra = handler(body, headers)
                    break
            else:
                status, answer, extra = 404, {"error": f"no route for {path}"}, {}
            data = json.dumps(answer).encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
    server.daemon_threads, server.block_on_close = False, True  # server_close() waits for every handler thread
    api = LocalAPI(server)
    thread = threading.Thread(target=server.serve_forever, name="local-api", daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
