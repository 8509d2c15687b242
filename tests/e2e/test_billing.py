"""Failover, usage rows and quota, checked through the admin API."""

from __future__ import annotations

import concurrent.futures as cf

import openai
import pytest

import support
from support import MODELS, PRICES, SIM_CHUNKS, sdk_client

MSGS = [{"role": "user", "content": "count my tokens please"}]


@pytest.mark.parametrize(
    "model,broken",
    [("gpt-4o", "openai-dead"), ("gpt-4-turbo", "openai-badkey")],
    ids=["dead-port", "upstream-401"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_failover_to_healthy_channel(client, admin, api_key, model, broken, stream) -> None:
    channels = admin.channels()
    assert channels[broken]["priority"] > channels["openai-backup"]["priority"]
    assert model in channels[broken]["models"]
    if stream:
        s = client.chat.completions.create(model=model, messages=MSGS, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in s if c.choices)
    else:
        c = client.chat.completions.create(model=model, messages=MSGS)
        text = c.choices[0].message.content
    assert text == support.sim_reply("openai", model, MSGS[-1]["content"])
    rows = admin.settled_usage(api_key["id"])
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["status"] == 200
    assert row["channel_id"] == channels["openai-backup"]["id"], (row, channels)
    assert row["upstream_model"] == model


@pytest.mark.parametrize("model", ["gpt-4", "moonshot-v1-8k", "step-1-8k"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_usage_row_of_success(client, admin, api_key, model, stream) -> None:
    flavor, upstream = MODELS[model]
    if stream:
        s = client.chat.completions.create(model=model, messages=MSGS, stream=True)
        rid = s.response.headers["x-request-id"]
        assert list(s)
    else:
        c = client.chat.completions.create(model=model, messages=MSGS)
        rid = c._request_id
    rows = admin.settled_usage(api_key["id"])
    assert len(rows) == 1, f"exactly one usage row per request: {rows}"
    r = rows[0]
    prompt = support.sim_prompt_tokens(MSGS)
    assert r["request_id"] == rid
    assert r["key_id"] == api_key["id"]
    assert r["endpoint"] == "chat/completions"
    assert r["requested_model"] == model
    assert r["upstream_model"] == upstream
    assert r["prompt_tokens"] == prompt
    assert r["completion_tokens"] == SIM_CHUNKS
    assert r["total_tokens"] == prompt + SIM_CHUNKS
    assert r["estimated"] is False, "the upstream reported usage; nothing is estimated"
    assert r["cost_micros"] == support.cost_micros(prompt, SIM_CHUNKS, PRICES[model])
    assert r["status"] == 200 and r["error_code"] is None
    assert r["stream"] is stream
    assert r["latency_ms"] >= 0
    assert r["ttft_ms"] is not None and 0 <= r["ttft_ms"] <= r["latency_ms"]
    assert r["channel_id"] is not None
    # The key's spend follows the usage log.
    assert admin.key(api_key["id"])["used_usd"] == pytest.approx(r["cost_micros"] / 1e6)


def test_usage_rows_newest_first_and_filtered(client, admin, api_key, make_key) -> None:
    other = make_key()
    sdk_client(client.base_url, other["key"]).chat.completions.create(
        model="gpt-3.5-turbo", messages=MSGS
    )
    ids = []
    for i in range(3):
        c = client.chat.completions.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": f"n{i}"}]
        )
        ids.append(c._request_id)
    rows = admin.settled_usage(api_key["id"], 3)
    assert [r["request_id"] for r in rows] == ids[::-1]
    assert {r["key_id"] for r in rows} == {api_key["id"]}
    assert len(admin.usage(api_key["id"], limit=2)) == 2


def test_rejected_requests_have_rows(client, admin, api_key) -> None:
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=MSGS)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4", messages=[])
    rows = admin.settled_usage(api_key["id"], 2)
    assert sorted((r["status"], r["cost_micros"]) for r in rows) == [(400, 0), (404, 0)]


def test_quota_holds_under_concurrency(gateway, make_key, admin) -> None:
    """Concurrent requests never spend past the quota by more than one request's cost."""
    model = "gpt-4"
    msgs = [{"role": "user", "content": "hi"}]
    one = support.cost_micros(support.sim_prompt_tokens(msgs), SIM_CHUNKS, PRICES[model])
    quota_micros = 2000  # room for a handful of 390 µUSD answers
    k = make_key(quota_usd=quota_micros / 1e6)
    c = sdk_client(gateway.base_url, k["key"])

    def call(_: int) -> int:
        try:
            c.chat.completions.create(model=model, messages=msgs, max_tokens=SIM_CHUNKS)
            return 200
        except openai.APIStatusError as e:
            return e.status_code

    with cf.ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(call, range(24)))
    ok, denied = statuses.count(200), statuses.count(403)
    assert ok + denied == len(statuses), statuses
    assert ok >= 1 and denied >= 1, statuses
    # Then one at a time until the key is refused: the quota must run out, not leak.
    for _ in range(10):
        status = call(0)
        statuses.append(status)
        if status == 403:
            break
    assert statuses[-1] == 403, statuses
    ok = statuses.count(200)
    rows = admin.wait_usage(k["id"], len(statuses))
    assert len(rows) == len(statuses), rows
    assert sum(r["status"] == 200 for r in rows) == ok
    assert all(r["cost_micros"] == one for r in rows if r["status"] == 200)
    assert all(r["error_code"] == "insufficient_quota" for r in rows if r["status"] == 403)
    spent = sum(r["cost_micros"] for r in rows)
    assert spent == ok * one
    assert spent <= quota_micros + one, (spent, quota_micros, one, statuses)
    used = admin.key(k["id"])["used_usd"]
    assert used == pytest.approx(spent / 1e6)


def test_client_disconnect_mid_stream_is_logged(client, admin, api_key) -> None:
    """A client that leaves mid-stream gets a 499 row (the upstream hangs, so only the
    disconnect can end the request)."""
    stream = client.chat.completions.create(
        model="gpt-3.5-turbo",
        messages=[{"role": "user", "content": "sim_fault:hang_mid_stream=2"}],
        stream=True,
    )
    it = iter(stream)
    first = next(it)
    assert first.choices and first.choices[0].delta.role == "assistant"
    stream.close()
    rows = admin.wait_usage(api_key["id"], timeout=8)
    assert len(rows) == 1, rows
    assert rows[0]["status"] == 499 and rows[0]["error_code"] == "client_closed", rows
    assert rows[0]["stream"] is True


def test_partial_stream_is_billed(client, admin, api_key) -> None:
    """Output delivered before an upstream failure is billed (from a local count when the
    upstream never reported usage)."""
    stream = client.chat.completions.create(
        model="gpt-3.5-turbo",
        messages=[{"role": "user", "content": "sim_fault:reset_mid_stream=3"}],
        stream=True,
    )
    text = ""
    with pytest.raises(openai.APIError):
        for chunk in stream:
            text += "".join(c.delta.content or "" for c in chunk.choices)
    assert text, "some text arrived before the failure"
    rows = admin.wait_usage(api_key["id"])
    assert len(rows) == 1, rows
    r = rows[0]
    assert r["status"] == 502
    assert r["completion_tokens"] >= 1 and r["prompt_tokens"] >= 1
    assert r["estimated"] is True
    assert r["cost_micros"] == support.cost_micros(
        r["prompt_tokens"], r["completion_tokens"], PRICES["gpt-3.5-turbo"]
    )
