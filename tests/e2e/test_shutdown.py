"""Graceful shutdown: SIGTERM while a stream is open lets it finish and keeps its usage row."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time

import httpx
import openai
import pytest

import support
from support import PRICES, SIM_KEYS


def _start(work_dir, slow_sim, name: str, grace_secs: int, admin_key=None) -> support.Gateway:
    db = work_dir / f"{name}.db"
    cfg = support.gateway_config(
        db_path=db,
        channels=[
            {
                "name": "openai-slow",
                "provider": "openai",
                "base_url": slow_sim.url + "/v1",
                "key": SIM_KEYS["sim-slow"],
                "models": ["gpt-4"],
            }
        ],
        admin_key=admin_key,
        prices=PRICES,
        server={"shutdown_grace_secs": grace_secs},
    )
    return support.start_gateway(name, cfg, work_dir, db)


def _usage_rows(db, key_id: int) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(
            "SELECT request_id, status, prompt_tokens, completion_tokens, stream, cost_micros, "
            "error_code FROM usage_logs WHERE key_id = ?",
            (key_id,),
        ).fetchall()
    finally:
        con.close()


def test_sigterm_drains_open_stream(work_dir, slow_sim) -> None:
    # No admin key configured: the gateway generates one and prints it once.
    gw = _start(work_dir, slow_sim, "gateway-shutdown", grace_secs=20)
    db = gw.db_path
    try:
        assert gw.admin_key.startswith("sk-"), gw.proc.stdout_lines
        assert gw.proc.stdout_lines[0].startswith("admin key"), "the key comes before the URL"
        key = gw.admin().create_key("shutdown")
        msgs = [{"role": "user", "content": "take your time"}]
        first = threading.Event()
        out: dict = {"events": [], "error": None, "status": None, "rid": None}

        def read() -> None:
            try:
                with httpx.stream(
                    "POST",
                    gw.url + "/v1/chat/completions",
                    json={"model": "gpt-4", "messages": msgs, "stream": True,
                          "stream_options": {"include_usage": True}},
                    headers={"Authorization": f"Bearer {key['key']}"},
                    timeout=30,
                ) as r:
                    out["status"] = r.status_code
                    out["rid"] = r.headers.get("x-request-id")
                    for data in support.sse_data(r.iter_lines()):
                        out["events"].append(data)
                        first.set()
            except Exception as e:  # noqa: BLE001 - reported below
                out["error"] = repr(e)
            finally:
                first.set()

        t = threading.Thread(target=read, daemon=True)
        t.start()
        assert first.wait(15), "no first chunk"
        assert out["error"] is None, out
        os.kill(gw.proc.pid, signal.SIGTERM)

        # New work is refused while the open stream drains.
        refused = False
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and not refused:
            try:
                r = httpx.get(gw.url + "/readyz", timeout=0.5)
                refused = r.status_code == 503
            except httpx.TransportError:
                refused = True
            time.sleep(0.05)
        assert refused, "the gateway kept accepting work after SIGTERM"

        t.join(30)
        assert not t.is_alive(), "the stream did not end"
        assert out["error"] is None, out
        assert out["status"] == 200
        events = out["events"]
        assert events[-1] == "[DONE]", events[-3:]
        chunks = [json.loads(e) for e in events[:-1]]
        assert not any("error" in c for c in chunks), chunks
        text = "".join(
            c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]
        )
        assert text == support.sim_reply("openai", "gpt-4", "take your time")
        assert chunks[-1]["usage"]["completion_tokens"] == 10

        code = gw.proc.popen.wait(timeout=30)
        assert code == 0, f"exit {code}\n{gw.proc.log_tail()}"
    finally:
        gw.proc.terminate()

    rows = _usage_rows(db, key["id"])
    prompt = support.sim_prompt_tokens(msgs)
    assert rows == [
        (out["rid"], 200, prompt, 10, 1, support.cost_micros(prompt, 10, PRICES["gpt-4"]), None)
    ]


def test_sigterm_grace_deadline_ends_stream_with_error(work_dir, slow_sim) -> None:
    """A stream still open when the grace period ends gets an error event, and is billed."""
    gw = _start(work_dir, slow_sim, "gateway-deadline", grace_secs=1, admin_key=support.ADMIN_KEY)
    try:
        key = gw.admin().create_key("deadline")
        c = support.sdk_client(gw.base_url, key["key"])
        stream = c.chat.completions.create(
            model="gpt-4", messages=[{"role": "user", "content": "slow"}], stream=True
        )
        received = []
        t0 = time.monotonic()
        with pytest.raises(openai.APIError) as ei:
            for chunk in stream:
                received.append(chunk)
                if len(received) == 1:
                    os.kill(gw.proc.pid, signal.SIGTERM)
        elapsed = time.monotonic() - t0
        assert not isinstance(ei.value, openai.APIStatusError)
        assert ei.value.code == "service_unavailable", ei.value.body
        assert 1 <= len(received) < 11, "the stream was cut at the deadline, not completed"
        assert 0.8 <= elapsed < 5, elapsed
        code = gw.proc.popen.wait(timeout=15)
        assert code == 0, f"exit {code}\n{gw.proc.log_tail()}"
    finally:
        gw.proc.terminate()
    rows = _usage_rows(gw.db_path, key["id"])
    assert len(rows) == 1, rows
    assert rows[0][1] == 503 and rows[0][6] == "shutdown", rows
