"""mlaction.httpcap against a loopback server through real `requests` sessions."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
import requests
from fakes.loopback import serving

from mlaction.github.transport import MAX_REPLY, Transport
from mlaction.httpcap import MIB, ReplyTooLarge, cap_replies, limit_of

ZEROS = gzip.compress(b"0" * (64 * MIB), compresslevel=9)  # about 64 KiB on the wire


class _Replies(BaseHTTPRequestHandler):
    """/N: N bytes, announced; /chunked/N: N bytes, chunked; /gzip: 64 MiB gzipped to ~64 KiB."""

    def do_GET(self) -> None:
        self.send_response(200)
        if self.path == "/gzip":
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(ZEROS)))
            self.end_headers()
            self.wfile.write(ZEROS)
            return
        chunked = self.path.startswith("/chunked/")
        size = int(self.path.rsplit("/", 1)[1])
        self.send_header(
            *("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(size))
        )
        self.end_headers()
        try:
            for start in range(0, size, MIB):
                data = b"x" * min(MIB, size - start)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serving(_Replies) as url:
        yield url


@pytest.fixture
def session() -> requests.Session:
    session = requests.Session()
    cap_replies(session, 2 * MIB)
    return session


@pytest.mark.parametrize("path", ["/%d", "/chunked/%d"])
def test_a_reply_within_the_limit_reads_as_usual(
    base: str, session: requests.Session, path: str
) -> None:
    response = session.get(base + path % (2 * MIB), timeout=10)

    assert response.content == b"x" * (2 * MIB)
    assert response.text[:3] == "xxx"


def test_an_announced_reply_over_the_limit_is_refused_unread(
    base: str, session: requests.Session
) -> None:
    with pytest.raises(ReplyTooLarge) as raised:
        session.get(f"{base}/{300 * MIB}", timeout=10)

    assert (
        str(raised.value)
        == "GET /314572800: the reply is larger than 2 MiB (Content-Length: 314,572,800)"
    )


def test_a_streamed_reply_is_cut_after_the_limit(base: str, session: requests.Session) -> None:
    with pytest.raises(ReplyTooLarge) as raised:
        session.get(f"{base}/chunked/{300 * MIB}", timeout=10)

    assert raised.value.declared is None
    assert raised.value.limit == 2 * MIB


def test_a_compressed_reply_counts_at_its_decoded_size(
    base: str, session: requests.Session
) -> None:
    with pytest.raises(ReplyTooLarge):
        session.get(f"{base}/gzip", timeout=10)  # 64 KiB sent, 64 MiB once decoded


def test_a_caller_that_streams_reads_what_it_chooses(base: str, session: requests.Session) -> None:
    with session.get(f"{base}/{300 * MIB}", timeout=10, stream=True) as response:
        assert len(response.raw.read(1024)) == 1024


def test_a_new_limit_replaces_the_old_one(session: requests.Session) -> None:
    cap_replies(session, 5 * MIB)

    assert limit_of(session) == 5 * MIB
    assert len(session.hooks["response"]) == 1


def test_the_github_transport_reads_with_a_limit() -> None:
    transport = Transport("token", repository="o/r")

    assert limit_of(transport._session) == MAX_REPLY == 64 * MIB
