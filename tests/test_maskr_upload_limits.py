"""Maskr's 50 MB limit is enforced while the body is read, never by holding it: a body
whose Content-Length is over the limit is refused before a byte of it is read, a file that
grows past the limit is refused (or, in a batch, dropped) as it arrives, and a web process
answering a 51 MB upload stays within a few MB of its usual memory."""

from __future__ import annotations

import http.client
import io
import json
import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadhandler import FileUploadHandler, MemoryFileUploadHandler, TemporaryFileUploadHandler
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParser

from billing.models import LedgerEntry
from jobs.api.uploads import LimitedUploadHandler, OversizedFile, TooManyFiles, UploadTooLarge
from jobs.models import Job
from tests import images, maskr
from tests.conftest import answers, worker_env
from tests.flows import wait_until
from tests.ports import free_port

BOUNDARY = "maskrlimitsboundary"
MB = 2**20
CHUNK = 64 * 1024


def part(name: str, filename: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


END = f"\r\n--{BOUNDARY}--\r\n".encode()


def multipart(files: list[tuple[str, str, bytes]]) -> bytes:
    body = b""
    for i, (name, filename, data) in enumerate(files):
        body += (b"\r\n" if i else b"") + part(name, filename) + data
    return body + END


# -- the handler, on a parser fed from a stream -----------------------------------------------


class CountingHandler(FileUploadHandler):
    """Stands after ours and counts the bytes it is handed (where Django's own would store them)."""

    def __init__(self, request=None):
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        return raw_data

    def file_complete(self, file_size):
        return None


def parse(body: bytes, limited: dict, content_length: int | None = None):
    request = HttpRequest()
    ours = LimitedUploadHandler(request, **limited)
    counter = CountingHandler(request)
    request.upload_handlers = [ours, counter, MemoryFileUploadHandler(request), TemporaryFileUploadHandler(request)]
    stream = io.BytesIO(body)
    meta = {
        "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
        "CONTENT_LENGTH": str(len(body) if content_length is None else content_length),
    }
    parser = MultiPartParser(meta, stream, request.upload_handlers)
    return parser, stream, counter


def test_a_body_over_the_limit_is_refused_before_it_is_read():
    body = multipart([("file", "a.png", b"x" * (2 * MB))])
    parser, stream, counter = parse(body, {"field": "file", "max_request_bytes": MB, "max_file_bytes": MB})
    with pytest.raises(UploadTooLarge):
        parser.parse()
    assert stream.tell() == 0 and counter.received == 0


def test_a_file_growing_past_the_limit_is_refused_as_it_arrives():
    body = multipart([("file", "a.png", b"x" * (8 * MB))])
    parser, stream, counter = parse(body, {"field": "file", "max_request_bytes": 10 * MB, "max_file_bytes": MB})
    with pytest.raises(UploadTooLarge):
        parser.parse()
    assert counter.received <= MB  # nothing past the limit was handed on
    assert stream.tell() <= MB + 4 * CHUNK  # and the rest of the body was never read


def test_in_a_batch_a_file_past_the_limit_is_dropped_in_its_place():
    files = [("files", "a.png", b"a" * 1000), ("files", "big.png", b"b" * (3 * MB)), ("files", "c.png", b"c" * 10)]
    parser, _, counter = parse(
        multipart(files), {"field": "files", "max_request_bytes": 10 * MB, "max_file_bytes": MB, "batch": True}
    )
    _, uploaded = parser.parse()
    got = uploaded.getlist("files")
    assert [f.name for f in got] == ["a.png", "big.png", "c.png"]
    assert isinstance(got[1], OversizedFile) and got[1].limit_bytes == MB
    assert got[0].read() == b"a" * 1000 and got[2].read() == b"c" * 10
    assert counter.received <= 1000 + MB + 10  # the big file's bytes past the limit went nowhere


def test_the_51st_file_of_a_batch_stops_the_reading():
    files = [("files", f"{i}.png", b"x" * 100_000) for i in range(60)]
    body = multipart(files)
    parser, stream, _ = parse(
        body, {"field": "files", "max_request_bytes": 10 * MB, "max_file_bytes": MB, "max_files": 50}
    )
    with pytest.raises(TooManyFiles):
        parser.parse()
    assert stream.tell() < 51 * 100_500 + 2 * CHUNK  # not a byte past the 51st file's first chunk


# -- over HTTP ----------------------------------------------------------------------------------


def stream_upload(
    url: str, key: str, path: str, field: str, file_bytes: int, parse: bool = True
) -> tuple[int, dict | str, int]:
    """POST one file of `file_bytes` zero bytes, sent a chunk at a time from one reused block
    (no 51 MB string is built), stopping as soon as the server answers. Returns the status,
    the JSON body (the text without `parse`) and how many bytes of the request body had been
    sent by then."""
    host, port = url.removeprefix("http://").split(":")
    head, tail = part(field, "big.png"), END
    total = len(head) + file_bytes + len(tail)
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(
        (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {total}\r\n\r\n"
        ).encode()
    )
    block = b"\0" * CHUNK

    def pieces():
        yield head
        left = file_bytes
        while left:
            yield block[: min(left, CHUNK)]
            left -= min(left, CHUNK)
        yield tail

    sent, pending = 0, b""
    source = pieces()
    sock.setblocking(False)
    try:
        while True:
            readable, writable, _ = select.select([sock], [sock], [], 30)
            if readable:
                break  # answered
            if not pending:
                pending = next(source, None)
                if pending is None:
                    break  # all sent
            n = sock.send(pending)
            sent, pending = sent + n, pending[n:]
    except (BrokenPipeError, ConnectionResetError):
        pass
    sock.setblocking(True)
    sock.settimeout(60)
    response = http.client.HTTPResponse(sock)
    response.begin()
    raw = response.read()
    body = json.loads(raw) if parse else raw.decode()
    sock.close()
    return response.status, body, sent


def nothing_charged(account) -> None:
    assert not Job.objects.exists() and not LedgerEntry.objects.filter(kind="debit").exists()
    account.refresh_from_db()
    assert account.balance == 100


@pytest.mark.django_db(transaction=True)
def test_a_51_mb_upload_is_a_413_answered_before_the_body_is_sent(live_server, account):
    status, body, sent = stream_upload(live_server.url, account.raw_key, maskr.UPLOAD, "file", 51 * MB)
    assert status == 413 and body == {"detail": "Image exceeds the maximum file size limit (50 MB)."}
    assert sent < 8 * MB, sent  # what the socket buffers took before the answer came
    nothing_charged(account)


@pytest.mark.django_db(transaction=True)
def test_a_batch_over_its_body_limit_is_a_413(live_server, account, settings):
    settings.MASKR_BATCH_MAX_BYTES = 4 * MB
    status, body, sent = stream_upload(live_server.url, account.raw_key, maskr.BATCH, "files", 5 * MB)
    assert status == 413 and body == {"detail": "The request exceeds the maximum batch size limit (4 MB)."}
    nothing_charged(account)


@pytest.mark.django_db(transaction=True)
def test_a_file_just_over_the_limit_is_a_413(live_server, account, settings):
    settings.MAX_INPUT_BYTES = MB
    r = maskr.upload(live_server.url, account.raw_key, images.png() + b"\0" * MB)  # body within the framing allowance
    assert r.status_code == 413 and r.json() == {"detail": "Image exceeds the maximum file size limit (1 MB)."}
    nothing_charged(account)


# -- memory of a real web process -------------------------------------------------------------


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.fixture
def gunicorn(transactional_db, live_server, tmp_path):
    port = free_port()
    env = worker_env(live_server.url, LOG_LEVEL="WARNING")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "upscaler_platform.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            "2",
        ],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        stdout=open(tmp_path / "gunicorn.log", "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(f"{base}/healthz", timeout=2), 60, "the web server", interval=0.3)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert len(children) == 1, children
        yield base, int(children[0])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize(
    "file_bytes",
    [51 * MB, 50 * MB + 32 * 1024],  # over the Content-Length limit; within it, so read until the file passes 50 MB
    ids=["refused-from-its-length", "refused-while-reading"],
)
def test_a_web_process_answering_a_51_mb_upload_stays_small(gunicorn, account, file_bytes):
    base, worker_pid = gunicorn
    key = account.raw_key
    for _ in range(2):  # warm: every module of the path imported, a multipart body parsed
        assert maskr.upload(base, None, images.png()).status_code == 401
        assert maskr.upload(base, key, b"not an image").status_code == 400
    before = peak_rss_kb(worker_pid)
    status, body, _ = stream_upload(base, key, maskr.UPLOAD, "file", file_bytes)
    assert status == 413 and body == {"detail": "Image exceeds the maximum file size limit (50 MB)."}
    grown_mb = (peak_rss_kb(worker_pid) - before) / 1024
    assert grown_mb < 16, f"the web process's peak memory grew by {grown_mb:.1f} MB"
    nothing_charged(account)
