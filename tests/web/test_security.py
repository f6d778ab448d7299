"""Every refusal of ``podium serve`` over raw HTTP and the event stream (SSE) and a WebSocket handshake.

The server is a real ``podium serve`` process on 127.0.0.1; the requests are made by hand, the way a page
on another site, a DNS-rebinding page or a local process without the token would make them.
"""

from __future__ import annotations

import base64
import os
import re
import socket

import pytest

from tests.web.conftest import Served, httpx

EVIL = "http://evil.example"


def raw(served: Served, request: bytes) -> bytes:
    """Send bytes to the server and read the status line and headers it answers with."""
    host, port = served.host.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return data


PATHS = ["/", "/api/info", "/api/conversations", "/static/app.js", "/api/files?path="]


@pytest.mark.parametrize("path", PATHS)
def test_without_the_token_every_path_is_refused(served: Served, path: str) -> None:
    with served.client(authorization="") as c:
        r = c.get(path)
    assert r.status_code == 401
    assert "token" in r.json()["error"]


def test_a_wrong_token_is_refused_in_every_place_it_may_be(served: Served) -> None:
    wrong = served.token[:-2] + ("AA" if not served.token.endswith("AA") else "BB")
    with served.client(authorization=f"Bearer {wrong}") as c:
        assert c.get("/api/info").status_code == 401
    with served.client(authorization="", cookie=f"podium_token={wrong}") as c:
        assert c.get("/api/info").status_code == 401
    with served.client(authorization="") as c:
        assert c.get(f"/?token={wrong}").status_code == 401


def test_the_printed_url_sets_a_strict_httponly_cookie_and_drops_the_token_from_the_url(served: Served) -> None:
    with served.client(authorization="") as c:
        r = c.get(f"/c/abc?token={served.token}&x=1", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/c/abc?x=1"
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(f"podium_token={served.token};")
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        # the cookie alone is then enough
    with served.client(authorization="", cookie=f"podium_token={served.token}") as c:
        assert c.get("/api/info").status_code == 200


@pytest.mark.parametrize("path", ["/api/info", "/api/conversations", "/"])
def test_a_foreign_origin_is_refused_even_with_the_token(served: Served, path: str) -> None:
    with served.client(origin=EVIL) as c:
        r = c.get(path)
        assert r.status_code == 403
        assert "origin" in r.json()["error"]
        assert c.post("/api/conversations", json={}).status_code == 403


def test_a_cross_site_fetch_is_refused_even_without_an_origin(served: Served) -> None:
    with served.client(**{"sec-fetch-site": "cross-site"}) as c:
        assert c.get("/api/info").status_code == 403
    with served.client(**{"sec-fetch-site": "same-site"}) as c:
        assert c.get("/api/info").status_code == 403
    with served.client(**{"sec-fetch-site": "same-origin", "origin": served.base}) as c:
        assert c.get("/api/info").status_code == 200


def test_origin_null_and_lookalikes_are_refused(served: Served) -> None:
    for origin in ("null", served.base + ".evil.example", "https://" + served.host, served.base + "/"):
        with served.client(origin=origin) as c:
            assert c.get("/api/info").status_code == 403, origin


def test_a_foreign_host_is_refused_dns_rebinding(served: Served) -> None:
    port = served.host.split(":")[1]
    for host in (f"evil.example:{port}", "127.0.0.1", f"127.0.0.1:{int(port) + 1}"):
        with served.client(host=host) as c:
            r = c.get("/api/info")
        assert r.status_code in (400, 421), (host, r.status_code)
    with served.client(host=f"localhost:{port}") as c:
        assert c.get("/api/info").status_code == 200
    no_host = raw(served, f"GET /api/info HTTP/1.0\r\nAuthorization: Bearer {served.token}\r\n\r\n".encode())
    assert no_host.startswith(b"HTTP/1.1 421"), no_host[:40]


def test_the_event_stream_refuses_a_foreign_origin_and_a_missing_token(served: Served) -> None:
    cid = served.conversation()
    path = f"/api/conversations/{cid}/events"
    with served.client(origin=EVIL, accept="text/event-stream") as c, c.stream("GET", path) as r:
        assert r.status_code == 403
    with served.client(authorization="", accept="text/event-stream") as c, c.stream("GET", path) as r:
        assert r.status_code == 401
    with served.client(accept="text/event-stream") as c, c.stream("GET", path) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        first = next(r.iter_lines())
        assert first == ": connected"


def _upgrade(served: Served, origin: str | None, token: bool) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET /api/conversations/x/events HTTP/1.1",
        f"Host: {served.host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if origin:
        lines.append(f"Origin: {origin}")
    if token:
        lines.append(f"Cookie: podium_token={served.token}")
    return raw(served, ("\r\n".join(lines) + "\r\n\r\n").encode())


def test_a_websocket_handshake_from_a_foreign_origin_or_without_token_is_refused(served: Served) -> None:
    assert _upgrade(served, EVIL, token=True).startswith(b"HTTP/1.1 403")
    assert _upgrade(served, served.base, token=False).startswith(b"HTTP/1.1 401")
    # the server speaks no WebSocket at all: even a good handshake is not upgraded
    assert not _upgrade(served, served.base, token=True).startswith(b"HTTP/1.1 101")


def test_responses_carry_the_csp_and_no_sniff(served: Served) -> None:
    with served.client() as c:
        for path in ("/", "/api/info", "/static/app.js"):
            r = c.get(path)
            assert r.status_code == 200, path
            csp = r.headers["content-security-policy"]
            assert "script-src 'self'" in csp
            assert "unsafe-inline" not in csp
            assert "unsafe-eval" not in csp
            assert "frame-ancestors 'none'" in csp
            assert r.headers["x-content-type-options"] == "nosniff"
        page = c.get("/").text
    assert "<script>" not in page  # no inline script: every script has a src
    assert not re.search(r"<[^>]*\son[a-z]+=", page)  # no inline event handlers


def test_refusals_carry_the_security_headers_too(served: Served) -> None:
    with served.client(authorization="") as c:
        r = c.get("/api/info")
    assert r.status_code == 401
    assert "script-src 'self'" in r.headers["content-security-policy"]


# ---------------------------------------------------------------- the workspace


def test_files_outside_the_workspace_are_refused(served: Served, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text("top secret")
    ws = served.workspace
    (ws / "ok.txt").write_text("fine")
    (ws / "sub").mkdir(exist_ok=True)
    for name, target in (
        ("out-link", outside),
        ("secret-link.txt", outside / "secret.txt"),
        ("in-link", ws / "ok.txt"),
    ):
        if not (ws / name).is_symlink():
            (ws / name).symlink_to(target)
    with served.client() as c:
        assert c.get("/api/files", params={"kind": "file", "path": "ok.txt"}).json()["text"] == "fine"
        refused = [
            "../outside/secret.txt",
            "sub/../../secret.txt",
            str(outside / "secret.txt"),
            "/etc/passwd",
            "secret-link.txt",
            "out-link/secret.txt",
            "in-link",  # even a link that points inside is not followed
            "ok.txt\x00.png",
            "..\\secret.txt",
        ]
        for path in refused:
            r = c.get("/api/files", params={"kind": "file", "path": path})
            assert r.status_code == 403, (path, r.status_code, r.text)
            assert "top secret" not in r.text
        for path in ("..", "out-link", "/"):
            r = c.get("/api/files", params={"path": path})
            assert r.status_code == 403, path
        listing = c.get("/api/files", params={"path": ""}).json()["entries"]
    kinds = {e["name"]: e["kind"] for e in listing}
    assert kinds["out-link"] == "link"
    assert kinds["ok.txt"] == "file"


def test_a_fifo_or_a_device_is_refused_without_blocking(served: Served) -> None:
    fifo = served.workspace / "pipe"
    if not fifo.exists():
        os.mkfifo(fifo)
    with served.client() as c:
        r = c.get("/api/files", params={"kind": "file", "path": "pipe"})
        assert r.status_code == 403
        assert "regular file" in r.json()["error"]
        assert {"name": "pipe", "kind": "other", "size": None} in c.get("/api/files").json()["entries"]


def test_no_endpoint_moves_the_workspace(served: Served) -> None:
    with served.client() as c:
        before = c.get("/api/info").json()["workspace"]
        cid = served.conversation()
        c.patch(f"/api/conversations/{cid}", json={"workspace": "/", "title": "t"})
        c.post("/api/info", json={"workspace": "/"})
        c.post("/api/conversations", json={"workspace": "/"})
        assert c.get("/api/info").json()["workspace"] == before
        assert c.get("/api/files", params={"kind": "file", "path": "etc/passwd"}).status_code == 403


# ---------------------------------------------------------------- uploads


def test_uploads_are_size_limited_and_typed(served: Served) -> None:
    cid = served.conversation()
    big = base64.b64encode(b"\x89PNG" + b"0" * (10 * 1024 * 1024)).decode()
    with served.client() as c:
        url = f"/api/conversations/{cid}/messages"
        r = c.post(url, json={"text": "x", "attachments": [{"media_type": "image/png", "data": big}]})
        assert r.status_code == 413
        assert "MiB" in r.json()["error"]
        r = c.post(url, json={"text": "x", "attachments": [{"media_type": "text/html", "data": "PGI+"}]})
        assert r.status_code == 415
        r = c.post(url, json={"text": "x", "attachments": [{"media_type": "image/png", "data": "not base64!"}]})
        assert r.status_code == 400
        chunks = (b" " * (1024 * 1024) for _ in range(80))  # larger than any allowed body, sent without a length
        r = c.post(url, content=chunks)
        assert r.status_code == 413
        assert c.get(f"/api/conversations/{cid}").json()["messages"] == []  # nothing was half-written


def test_bad_requests_get_clear_errors(served: Served) -> None:
    cid = served.conversation()
    with served.client() as c:
        r = c.post(f"/api/conversations/{cid}/messages", content=b"not json")
        assert r.status_code == 400
        assert "JSON" in r.json()["error"]
        r = c.post(f"/api/conversations/{cid}/messages", json={"text": "   "})
        assert r.status_code == 400
        assert "empty" in r.json()["error"]
        assert c.get("/api/conversations/ffffffffffffffff").status_code == 404
        r = c.patch(f"/api/conversations/{cid}", json={"model": "nosuch:model"})
        assert r.status_code == 400
        r = c.post(f"/api/conversations/{cid}/approvals", json={"decisions": {"x": "allow"}})
        assert r.status_code == 404


def test_a_client_without_the_token_cannot_reach_the_server_from_a_script(served: Served) -> None:
    """The token is not guessable from anything the server gives without it."""
    with httpx.Client(base_url=served.base, timeout=5) as c:
        r = c.get("/")
        assert r.status_code == 401
        assert served.token not in r.text
        assert "set-cookie" not in r.headers
