"""Watch mode: rapid-fire and clustered shares on a rolling window, alerts on crossings, to stdout, a JSONL
file and a webhook (a local HTTP server on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pyarrow as pa

import echoscope
from echoscope.collect.watch import Watcher, WatchParams, evaluate

T0 = dt.datetime(2024, 10, 1, 12, 0, tzinfo=dt.timezone.utc)


def make_study(tmp_path) -> echoscope.Study:
    """Target 'hot': 3 posts, each reposted by the same 10 accounts 1-5 s after posting (30 rapid reposts by a
    tight group). Target 'calm': 3 posts, each reposted by 10 different accounts 10-20 minutes later. A
    third, old burst on 'calm' lies outside the 1-hour window."""
    posts = []
    for i in range(3):
        posts.append(("hot", f"h{i}", T0 + dt.timedelta(minutes=10 * i), "original", None))
        posts.append(("calm", f"c{i}", T0 + dt.timedelta(minutes=10 * i), "original", None))
        for a in range(10):
            posts.append((f"amp{a}", f"rh{i}-{a}", T0 + dt.timedelta(minutes=10 * i, seconds=1 + a * 0.4), "repost",
                          f"h{i}"))
            posts.append((f"fan{i}-{a}", f"rc{i}-{a}", T0 + dt.timedelta(minutes=10 * i + 10 + a), "repost", f"c{i}"))
    posts.append(("calm", "old", T0 - dt.timedelta(hours=5), "original", None))
    for a in range(30):
        posts.append((f"bot{a}", f"ro{a}", T0 - dt.timedelta(hours=5) + dt.timedelta(seconds=1), "repost", "old"))
    t = pa.table({"account_id": [p[0] for p in posts], "post_id": [p[1] for p in posts],
                  "created_at": pa.array([p[2] for p in posts], pa.timestamp("us", "UTC")),
                  "kind": [p[3] for p in posts], "ref_post_id": [p[4] for p in posts]})
    s = echoscope.init_study(tmp_path / "s")
    s.load_arrow({"posts": t}, platform="bluesky")
    s.set_targets(pa.table({"account_id": ["hot", "calm"], "handle": ["hot.example", "calm.example"]}))
    return s


def test_evaluate_window_shares(tmp_path):
    s = make_study(tmp_path)
    ev = evaluate(s, WatchParams(window_s=3600))
    rows = {r["target"]: r for r in ev["targets"]}
    # the window ends at the newest engagement (rc2-9 at 12:39) and starts an hour earlier: the old burst is out
    assert rows["hot"]["engagements"] == 30 and rows["calm"]["engagements"] == 30
    assert rows["hot"]["rapid_fire"] == 30 and rows["hot"]["rapid_fire_share"] == 1.0
    assert rows["calm"]["rapid_fire"] == 0
    # every pair of the 10 amplifiers co-reposted 3 posts within 60 s: all 30 engagements are clustered;
    # the calm target's fans each engaged once, so no pair repeats
    assert rows["hot"]["clustered"] == 30 and rows["calm"]["clustered"] == 0
    ev_hot = rows["hot"]["evidence"]
    assert len(ev_hot["clustered_pairs"]) == 10 and ev_hot["clustered_pairs"][0]["posts"] == 3
    assert ev_hot["rapid_fire_examples"][0]["latency_s"] == 1.0


def test_cli_once_alerts_to_jsonl_and_webhook(tmp_path, cli):
    s = make_study(tmp_path)
    got: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

    srv = HTTPServer(("127.0.0.1", 0), Hook)
    th = threading.Thread(target=lambda: [srv.handle_request() for _ in range(2)], daemon=True)
    th.start()
    out = tmp_path / "alerts.jsonl"
    res = cli("watch", s.path, "--once", "--window", "1h", "--jsonl", out,
              "--webhook", f"http://127.0.0.1:{srv.server_port}/hook")
    th.join(10)
    srv.server_close()
    assert res.exit_code == 3  # alerting
    assert "ALERT rapid_fire_share @hot.example: 100.0%" in res.stdout
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(a["alert"], a["target"]) for a in lines] == [("rapid_fire_share", "hot"), ("clustered_share", "hot")]
    assert got == lines  # the webhook received the same alerts
    assert lines[0]["evidence"]["rapid_fire_actors"][0]["engagements"] == 3


def test_alerts_only_on_crossings(tmp_path):
    s = make_study(tmp_path)
    seen: list[dict] = []
    w = Watcher(s, WatchParams(window_s=3600), [seen.append])
    w.tick()
    w.tick()  # still above the threshold: no new alert
    assert len(seen) == 2
    w.tick(now=T0 + dt.timedelta(hours=3))  # nothing in the window: below again
    w.tick()  # crosses again
    assert len(seen) == 4


def test_cli_json_is_json_lines_with_a_header_and_a_status_per_evaluation(tmp_path, cli):
    # the reported bug: --json printed indented objects one after another (no JSON Lines reader could read
    # them) and nothing at all until an alert fired
    s = make_study(tmp_path)
    res = cli("watch", s.path, "--json", "--ticks", "2", "--every", "0", "--window", "1h")
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    docs = [json.loads(x) for x in lines]  # every line is one complete JSON object (indented ones fail here)
    assert [d["event"] for d in docs] == ["watching", "alert", "alert", "status", "status"]
    head = docs[0]
    assert head["study"] == str(s.path) and head["window_s"] == 3600 and head["threshold"] == 0.3
    assert head["targets"] == 2 and head["parameters"]["rapid_s"] == 10.0
    first, second = docs[3], docs[4]
    # 2 target posts x 3 + 60 reposts + 30 old reposts + 1 old post = 97 posts stored; the window holds 30
    # engagements of each target (the old burst is 5 hours earlier)
    assert first["events_seen"] == 97 and first["new_events"] is None and second["new_events"] == 0
    assert first["engagements_in_window"] == 60 and first["targets_in_window"] == 2
    # both shares of 'hot' are 100%; a tie goes to the first measure (rapid-fire)
    assert first["highest"] == {"target": "hot", "handle": "hot.example", "measure": "rapid_fire_share",
                                "share": 1.0, "engagements": 30}
    assert first["alerts"] == 2 and first["last_alert"]["alert"] == "clustered_share"
    assert second["alerts"] == 2  # still above the threshold: no new alert, but a status line all the same
    assert res.stderr == ""  # --json: nothing but the stream


def test_cli_says_it_is_watching_while_nothing_alerts(tmp_path, cli):
    s = make_study(tmp_path)
    # a threshold nobody reaches: no alert, yet a header and one status line per evaluation (stderr)
    res = cli("watch", s.path, "--ticks", "2", "--every", "0", "--threshold", "1", "--min-engagements", "100")
    assert res.exit_code == 0 and res.stdout == ""
    err = res.stderr.splitlines()
    assert err[0].startswith(f"watching {s.path}: 2 target(s), window 3600 s, evaluated every 0 s")
    assert len(err) == 3 and all("seen 97 events" in x and "60 engagements on 2 target(s)" in x for x in err[1:])
    assert "(+0)" in err[2] and "alerts: 0" in err[2]
    res = cli("watch", s.path, "--json", "--once", "--threshold", "1", "--min-engagements", "100")
    assert res.exit_code == 0
    assert [json.loads(x)["event"] for x in res.stdout.splitlines()] == ["watching", "status"]
    quiet = cli("watch", s.path, "--ticks", "1", "--every", "0", "--quiet", "--min-engagements", "100")
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout == ""


def test_alerts_name_accounts_by_handle_with_ids_beside_them_in_json(tmp_path, cli):
    # the amplifiers' profiles are in the study: a person reads @Amp_0, the JSON Lines keep amp0 beside it
    s = make_study(tmp_path)
    s.load_arrow({"accounts": pa.table({"account_id": [f"amp{a}" for a in range(10)],
                                        "handle": [f"Amp_{a}" for a in range(10)]})}, platform="bluesky")
    res = cli("watch", s.path, "--once", "--window", "1h", "--quiet")
    assert res.exit_code == 3
    alert = res.stdout.splitlines()[0]
    # every amplifier reposted each of the 3 posts within 5 s: top rapid actors are amp0.. by id order, x3 each
    assert "top rapid actors: @Amp_0 x3, @Amp_1 x3" in alert and "@Amp_0 + @Amp_1 (3 posts)" in alert
    assert "amp0" not in alert and "amp1 " not in alert
    res = cli("watch", s.path, "--once", "--window", "1h", "--json")
    docs = [json.loads(x) for x in res.stdout.splitlines()]
    ev = next(d for d in docs if d["event"] == "alert")["evidence"]
    assert ev["rapid_fire_actors"][0] == {"actor_id": "amp0", "handle": "Amp_0", "engagements": 3,
                                          "median_latency_s": ev["rapid_fire_actors"][0]["median_latency_s"]}
    assert (ev["clustered_pairs"][0]["a"], ev["clustered_pairs"][0]["handle_a"]) == ("amp0", "Amp_0")
    assert ev["rapid_fire_examples"][0]["handle"] == "Amp_0"
