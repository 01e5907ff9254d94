"""Mastodon collection against a local HTTP server (127.0.0.1 only) speaking the documented REST API and the
server-sent-events streaming API, with Mastodon.py as the client. The server answers a bounded number of
requests and stops with the test."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import echoscope
from echoscope.collect.mastodon import MastodonCollector
from echoscope.errors import SourceError

T = {"id": "10", "username": "embassy", "acct": "embassy", "display_name": "The Embassy",
     "created_at": "2019-10-01T00:00:00.000Z", "followers_count": 119000, "following_count": 1,
     "statuses_count": 2, "note": "", "avatar": "https://local/a.png", "url": "https://local/@embassy",
     "locked": False, "bot": False, "fields": [], "emojis": []}


def acct(i: str) -> dict:
    return {"id": i, "username": f"u{i}", "acct": f"u{i}@far.example", "display_name": f"U{i}",
            "created_at": "2024-09-30T00:00:00.000Z", "followers_count": 1, "following_count": 500,
            "statuses_count": 10, "note": "", "avatar": "https://local/missing.png", "url": f"https://far/@u{i}",
            "locked": False, "bot": False, "fields": [], "emojis": []}


def status(i: str, account: dict, created: str, **kw) -> dict:
    s = {"id": i, "created_at": created, "in_reply_to_id": None, "in_reply_to_account_id": None,
         "sensitive": False, "spoiler_text": "", "visibility": "public", "language": "en",
         "uri": f"https://local/statuses/{i}", "url": f"https://local/@x/{i}", "replies_count": 0,
         "reblogs_count": 0, "favourites_count": 0, "content": f"<p>status {i}</p>", "reblog": None,
         "account": account, "media_attachments": [], "mentions": [], "tags": [], "emojis": [], "card": None,
         "poll": None}
    s.update(kw)
    return s


S1 = status("100", T, "2024-10-01T12:00:00.000Z", reblogs_count=2, favourites_count=2, replies_count=1)
REPLY = status("101", acct("21"), "2024-10-01T12:00:30.000Z", in_reply_to_id="100", in_reply_to_account_id="10")
STREAM_BOOST = status("102", acct("23"), "2024-10-01T12:00:05.000Z", reblog=S1, content="")
STREAM_OTHER = status("103", acct("24"), "2024-10-01T12:00:06.000Z")
ROUTES = {
    "/api/v1/instance": {"uri": "local", "title": "local", "version": "4.3.0",
                         "urls": {"streaming_api": None}},
    "/api/v1/accounts/lookup": T,
    "/api/v1/accounts/10/statuses": [S1],
    "/api/v1/statuses/100/reblogged_by": [acct("21"), acct("22")],
    "/api/v1/statuses/100/favourited_by": [acct("22"), acct("25")],
    "/api/v1/statuses/100/context": {"ancestors": [], "descendants": [REPLY]},
    "/api/v1/timelines/public": [],
}


class Api(BaseHTTPRequestHandler):
    requests: list[str] = []

    def log_message(self, *a):  # quiet
        pass

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path.rstrip("/")
        Api.requests.append(path)
        if path == "/api/v1/streaming/public":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for ev in (STREAM_OTHER, STREAM_BOOST):
                self.wfile.write(f"event: update\ndata: {json.dumps(ev)}\n\n".encode())
                self.wfile.flush()
            return  # the stream ends; the client reconnects later (bounded by the test)
        if path == "/api/v1/accounts/lookup" and "acct=nobody" in self.path:
            body, code = {"error": "Record not found"}, 404
        elif path in ROUTES:
            body, code = ROUTES[path], 200
        else:
            body, code = {"error": "not found"}, 404
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    ROUTES["/api/v1/instance"]["urls"]["streaming_api"] = f"http://127.0.0.1:{srv.server_port}"
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    srv.server_close()


def test_poll_and_stream(tmp_path, server):
    study = echoscope.init_study(tmp_path / "s")
    col = MastodonCollector(study, instance=server, targets=["@embassy"], stream=True, poll_s=0.5, max_rounds=2)
    stats = col.run()
    assert stats["targets"] == {"10": "embassy"}
    assert stats["rounds"] == 2
    posts = {r["post_id"]: r for r in study.sql("SELECT post_id, kind, ref_post_id, created_at FROM posts").to_pylist()}
    # the target's status, the reply from its context, boosts by 21 and 22 (reblogged_by: no time) and, if the
    # stream delivered it, 23's boost with its time; the unrelated streamed status (103) is not kept
    assert {"100", "101", "reblog:21:100", "reblog:22:100"} <= set(posts)
    assert "103" not in posts
    assert posts["reblog:21:100"]["created_at"] is None  # reblogged_by does not say when
    assert posts["101"]["kind"] == "reply"
    likes = sorted(r["account_id"] for r in study.sql("SELECT account_id FROM likes").to_pylist())
    assert likes == ["22", "25"]
    # the second poll round found the same objects again: nothing was added twice
    assert study.sql("SELECT count(*) n FROM posts WHERE post_id LIKE 'reblog:%'").to_pylist()[0]["n"] in (2, 3)
    assert stats["duplicates"] >= 5
    acc = {r["account_id"]: r
           for r in study.sql("SELECT account_id, handle, followers_count FROM accounts").to_pylist()}
    assert acc["10"]["followers_count"] == 119000 and acc["21"]["handle"] == "u21@far.example"


def test_stream_boost_kept_with_time(tmp_path, server):
    study = echoscope.init_study(tmp_path / "s")
    col = MastodonCollector(study, instance=server, targets=["10"], stream=False, max_rounds=1)
    col.resolve_targets()
    col.on_update(STREAM_OTHER)  # neither by nor about a target
    col.on_update(STREAM_BOOST)  # a boost of the target's status
    col.commit()
    rows = study.sql("SELECT post_id, created_at FROM posts WHERE kind = 'repost'").to_pylist()
    assert [(r["post_id"], r["created_at"].isoformat()) for r in rows] == [
        ("reblog:23:100", "2024-10-01T12:00:05+00:00")]


def test_unknown_target_is_a_clear_error(tmp_path, server):
    study = echoscope.init_study(tmp_path / "s")
    col = MastodonCollector(study, instance=server, targets=["@nobody"], stream=False, max_rounds=1)
    with pytest.raises(SourceError, match="cannot look up @nobody"):
        col.run()
