"""A loopback server that answers every MLflow call with 400 MiB of MLflow-shaped JSON.

What a misbehaving proxy, or a run with an enormous payload, makes a tracking server send: the
body is `get-experiment-by-name`'s shape (`{"experiment": {..., "tags": [...]}}`), only 400 MiB
long, sent as it is generated (so the server itself holds 1 MiB), either chunked or announced by
Content-Length. `sent` counts the bytes written, so a test can tell how much the client read
before it hung up. Used by tests/integration/test_mlflow_reply_cap.py and
benchmarks/fail_closed_table.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

from fakes.loopback import serving

MIB = 1024 * 1024
HUGE = 400 * MIB
# One tag of about 1 MiB, repeated: `{"experiment": {..., "tags": [TAG, TAG, ...]}}` is what
# get-experiment-by-name answers, only larger.
TAG = b'{"key": "k", "value": "' + b"v" * (MIB - 40) + b'"}'


class HugeReplies(BaseHTTPRequestHandler):
    """Every call answered with HUGE bytes of MLflow-shaped JSON; counts what it sent."""

    announce = False  # True: a Content-Length header, else chunked transfer encoding
    sent: list[int]

    def _answer(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        head = b'{"experiment": {"experiment_id": "1", "name": "e", "tags": ['
        count = HUGE // (len(TAG) + 1)
        body_size = len(head) + count * (len(TAG) + 1) - 1 + len(b"]}}")
        if self.announce:
            self.send_header("Content-Length", str(body_size))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            self._write(head)
            for i in range(count):
                self._write((b"," if i else b"") + TAG)
            self._write(b"]}}")
            if not self.announce:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: what the limit is for

    def _write(self, data: bytes) -> None:
        if self.announce:
            self.wfile.write(data)
        else:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.sent.append(len(data))

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def huge_reply_server(announce: bool) -> Iterator[tuple[str, list[int]]]:
    """(base URL, the sizes of the pieces written so far)."""
    sent: list[int] = []
    handler = type("Huge", (HugeReplies,), {"announce": announce, "sent": sent})
    with serving(handler) as url:
        yield url, sent
