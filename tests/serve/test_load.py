"""Load: 200 Alertmanager webhooks in 10 s, each acknowledged in time, runs deduplicated, none lost."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import httpx

from serve.harness import alert_payload

HOSTS = ["localhost", "127.0.0.2", "db-a", "db-b"]
GROUPS, RESENDS = 20, 10


def test_two_hundred_webhooks_in_ten_seconds(make_server, webhook_receiver):
    config = {
        "alertmanager": {"notify": [f"webhook:{webhook_receiver.hook_url}"]},
        "limits": {"rate_per_minute": 6000, "rate_burst": 400},
    }
    server = make_server(env=webhook_receiver.env(), config=config)
    answers: list[tuple[int, str, int, float]] = []  # (group, host, status, seconds), then run ids
    run_of: dict[int, set[str]] = defaultdict(set)
    lock = threading.Lock()
    start = time.monotonic() + 0.5

    def sender(group: int) -> None:
        host = HOSTS[group % len(HOSTS)]
        payload = alert_payload([f"{host}:9100"], group=f'{{}}:{{alertname="Kmem",group="{group}"}}')
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for n in range(RESENDS):  # one group resent every second: 20 groups -> 20 requests a second
                time.sleep(max(0.0, start + n + group / GROUPS - time.monotonic()))
                began = time.monotonic()
                reply = client.post("/hooks/alertmanager", json=payload)
                took = time.monotonic() - began
                with lock:
                    answers.append((group, host, reply.status_code, took))
                    if reply.status_code == 200:
                        run_of[group].update(r["run"] for r in reply.json()["runs"])

    threads = [threading.Thread(target=sender, args=(g,)) for g in range(GROUPS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    elapsed = time.monotonic() - start
    assert len(answers) == GROUPS * RESENDS and elapsed < 12, (len(answers), elapsed)
    assert all(status == 200 for _, _, status, _ in answers), [a for a in answers if a[2] != 200][:5]
    slowest = max(took for *_, took in answers)
    assert slowest < 3, f"slowest acknowledgement {slowest:.2f} s"
    # deduplicated: a group is one run, whatever Alertmanager resends
    assert all(len(ids) == 1 for ids in run_of.values()) and len(run_of) == GROUPS
    runs = {rid for ids in run_of.values() for rid in ids}
    docs = [server.wait_run(rid, timeout=240) for rid in runs]
    assert {d["state"] for d in docs} == {"done"}
    # one run per host at a time: a host's runs never overlap
    by_host = defaultdict(list)
    for d in docs:
        by_host[d["host"]].append((d["started"], d["finished"]))
    for spans in by_host.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), spans
    assert set(by_host) == set(HOSTS) and len(runs) <= GROUPS
    # none lost: every request audited, every run posted exactly once
    outcomes = [e["outcome"] for e in server.audit() if e["trigger"] == "alertmanager"]
    assert len(outcomes) == GROUPS * RESENDS + len(runs), outcomes  # each request, and each run's end
    assert set(outcomes) <= {"queued", "joined", "deduplicated", "done"}
    assert outcomes.count("queued") == outcomes.count("done") == len(runs)
    webhook_receiver.assert_clean()
    assert sorted(p["link"].rsplit("/", 1)[1] for p in webhook_receiver.payloads) == sorted(runs)
