"""Every error status the gateway answers, as the official SDK sees it."""

from __future__ import annotations

import datetime as dt
import time

import httpx
import openai
import pytest

import support
from support import sdk_client

MSGS = [{"role": "user", "content": "hello"}]


def _fault(spec: str) -> list[dict]:
    return [{"role": "user", "content": f"please sim_fault:{spec} thanks"}]


def _check_body(e: openai.APIStatusError, *, type_: str | None = None, code: str | None = None):
    body = e.response.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert {"message", "type", "param", "code"} <= set(err), err
    assert isinstance(err["message"], str) and err["message"]
    if type_ is not None:
        assert err["type"] == type_, err
    if code is not None:
        assert err["code"] == code, err
        assert e.code == code
    assert e.request_id, "x-request-id missing on an error"
    return err


# ---- 400 -------------------------------------------------------------------------------------


def test_400_empty_messages(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as ei:
        client.chat.completions.create(model="gpt-4", messages=[])
    assert ei.value.status_code == 400
    assert ei.value.param == "messages"
    _check_body(ei.value, type_="invalid_request_error")


def test_400_missing_messages(client: openai.OpenAI) -> None:
    # The typed helper refuses to send a request without messages, so go one level down: the
    # SDK's own request path and error mapping, with a body that lacks `messages`.
    with pytest.raises(openai.BadRequestError) as ei:
        client.post("/chat/completions", body={"model": "gpt-4"}, cast_to=httpx.Response)
    assert ei.value.param == "messages"
    _check_body(ei.value, type_="invalid_request_error")


def test_400_missing_model(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as ei:
        client.post("/chat/completions", body={"messages": MSGS}, cast_to=httpx.Response)
    assert ei.value.param == "model"


def test_400_invalid_json(http, api_key) -> None:
    r = http.post(
        "/v1/chat/completions",
        content=b'{"model": "gpt-4", "messages": [',
        headers={"Authorization": f"Bearer {api_key['key']}", "content-type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"


# ---- 401 -------------------------------------------------------------------------------------


def test_401_unknown_key(gateway) -> None:
    c = sdk_client(gateway.base_url, "sk-not-a-real-key-123456")
    with pytest.raises(openai.AuthenticationError) as ei:
        c.chat.completions.create(model="gpt-4", messages=MSGS)
    assert ei.value.status_code == 401
    err = _check_body(ei.value, code="invalid_api_key")
    assert "sk-not-a-real-key-123456" not in err["message"], "the key must be masked"


def test_401_missing_key(http) -> None:
    r = http.post("/v1/chat/completions", json={"model": "gpt-4", "messages": MSGS})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key"
    assert http.get("/v1/models").status_code == 401


def test_401_admin_api_needs_admin_key(http, api_key) -> None:
    r = http.get("/admin/keys", headers={"Authorization": f"Bearer {api_key['key']}"})
    assert r.status_code == 401


# ---- 403 -------------------------------------------------------------------------------------


def test_403_revoked_key(gateway, admin, api_key, client: openai.OpenAI) -> None:
    client.chat.completions.create(model="gpt-3.5-turbo", messages=MSGS)  # works before
    assert admin.revoke_key(api_key["id"]) == {"id": api_key["id"], "revoked": True}
    with pytest.raises(openai.PermissionDeniedError) as ei:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=MSGS)
    assert ei.value.status_code == 403
    _check_body(ei.value, code="key_revoked")
    assert admin.key(api_key["id"])["revoked"] is True


def test_403_expired_key(gateway, make_key) -> None:
    past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)).isoformat()
    k = make_key(expires_at=past)
    c = sdk_client(gateway.base_url, k["key"])
    with pytest.raises(openai.PermissionDeniedError) as ei:
        c.chat.completions.create(model="gpt-3.5-turbo", messages=MSGS)
    _check_body(ei.value, code="key_expired")


def test_403_model_not_allowed(gateway, make_key) -> None:
    k = make_key(models=["gpt-3.5-turbo"])
    c = sdk_client(gateway.base_url, k["key"])
    assert c.chat.completions.create(model="gpt-3.5-turbo", messages=MSGS).choices
    with pytest.raises(openai.PermissionDeniedError) as ei:
        c.chat.completions.create(model="gpt-4", messages=MSGS)
    assert ei.value.param == "model"
    _check_body(ei.value, code="model_not_allowed")


def test_403_quota_exhausted(gateway, make_key, admin) -> None:
    # gpt-4 costs 30 µUSD per prompt token and 60 per completion token: one answer (5 completion
    # tokens alone are 300 µUSD) uses up a 300 µUSD quota.
    k = make_key(quota_usd=0.0003)
    c = sdk_client(gateway.base_url, k["key"])
    first = c.chat.completions.create(model="gpt-4", messages=MSGS)
    assert first.usage is not None
    with pytest.raises(openai.PermissionDeniedError) as ei:
        c.chat.completions.create(model="gpt-4", messages=MSGS)
    _check_body(ei.value, type_="insufficient_quota", code="insufficient_quota")
    rows = admin.wait_usage(k["id"], 2)
    assert sorted(r["status"] for r in rows) == [200, 403]


# ---- 404 -------------------------------------------------------------------------------------


def test_404_unknown_model(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as ei:
        client.chat.completions.create(model="no-such-model", messages=MSGS)
    assert ei.value.status_code == 404
    assert ei.value.param == "model"
    _check_body(ei.value, type_="invalid_request_error", code="model_not_found")


def test_404_unknown_url(http, api_key) -> None:
    r = http.get("/v1/nothing-here", headers={"Authorization": f"Bearer {api_key['key']}"})
    assert r.status_code == 404
    assert r.json()["error"]["type"] == "invalid_request_error"


# ---- 413 -------------------------------------------------------------------------------------


def test_413_body_too_large(tight_gateway, make_key) -> None:
    # The tight gateway accepts 4 KiB bodies.
    k = make_key(admin_api=tight_gateway.admin())
    c = sdk_client(tight_gateway.base_url, k["key"])
    assert c.chat.completions.create(model="gpt-3.5-turbo", messages=MSGS).choices
    with pytest.raises(openai.APIStatusError) as ei:
        c.chat.completions.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": "x" * 8000}]
        )
    assert type(ei.value) is openai.APIStatusError, type(ei.value)
    assert ei.value.status_code == 413
    _check_body(ei.value, type_="invalid_request_error", code="request_too_large")


# ---- 429 -------------------------------------------------------------------------------------


def test_429_key_rpm(gateway, make_key, admin) -> None:
    k = make_key(rpm=1)
    c = sdk_client(gateway.base_url, k["key"])
    assert c.chat.completions.create(model="gpt-3.5-turbo", messages=MSGS).choices
    with pytest.raises(openai.RateLimitError) as ei:
        c.chat.completions.create(model="gpt-3.5-turbo", messages=MSGS)
    assert ei.value.status_code == 429
    _check_body(ei.value, code="rate_limit_exceeded")
    retry_after = int(ei.value.response.headers["retry-after"])
    assert 1 <= retry_after <= 60, retry_after
    rows = admin.wait_usage(k["id"], 2)
    assert sorted((r["status"], r["error_code"]) for r in rows) == [
        (200, None),
        (429, "rate_limit_exceeded"),
    ]


def test_429_upstream_rate_limit(client: openai.OpenAI) -> None:
    # gpt-3.5-turbo has a single channel, so every upstream answered 429.
    with pytest.raises(openai.RateLimitError) as ei:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=_fault("status=429;retry_after=2"))
    assert ei.value.status_code == 429
    _check_body(ei.value)
    assert ei.value.response.headers["retry-after"] == "2"


# ---- 5xx -------------------------------------------------------------------------------------


def test_502_upstream_500(client: openai.OpenAI, admin, api_key) -> None:
    with pytest.raises(openai.InternalServerError) as ei:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=_fault("status=500"))
    assert ei.value.status_code == 502
    err = _check_body(ei.value)
    assert "sk-up-openai-a" not in ei.value.response.text, "channel key leaked"
    assert err["type"] in ("upstream_error", "server_error")
    rows = admin.wait_usage(api_key["id"])
    assert [r["status"] for r in rows] == [502]


def test_502_upstream_reset_before_first_chunk(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as ei:
        client.chat.completions.create(
            model="gpt-3.5-turbo", messages=_fault("reset_before_first_chunk"), stream=True
        )
    assert ei.value.status_code == 502


def test_502_upstream_unparsable_answer(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as ei:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=_fault("malformed=1"))
    assert ei.value.status_code == 502


def test_503_upstream_503(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as ei:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=_fault("status=503"))
    assert ei.value.status_code == 503
    _check_body(ei.value, type_="server_error")
    assert ei.value.response.headers.get("retry-after")


def test_504_upstream_hangs(tight_gateway, make_key) -> None:
    # The tight gateway waits 1 s for the upstream's first byte.
    k = make_key(admin_api=tight_gateway.admin())
    c = sdk_client(tight_gateway.base_url, k["key"])
    t0 = time.monotonic()
    with pytest.raises(openai.InternalServerError) as ei:
        c.chat.completions.create(model="gpt-3.5-turbo", messages=_fault("hang"))
    assert ei.value.status_code == 504
    _check_body(ei.value, code="upstream_timeout")
    assert time.monotonic() - t0 < 10


def test_504_stream_upstream_hangs(tight_gateway, make_key) -> None:
    k = make_key(admin_api=tight_gateway.admin())
    c = sdk_client(tight_gateway.base_url, k["key"])
    with pytest.raises(openai.InternalServerError) as ei:
        c.chat.completions.create(model="gpt-3.5-turbo", messages=_fault("hang"), stream=True)
    assert ei.value.status_code == 504


# ---- failures after the first byte ---------------------------------------------------------


@pytest.mark.parametrize(
    "spec,code",
    [("reset_mid_stream=2", "bad_upstream_response"), ("malformed=2", "bad_upstream_response")],
)
def test_mid_stream_failure_raises(client: openai.OpenAI, admin, api_key, spec, code) -> None:
    stream = client.chat.completions.create(
        model="gpt-3.5-turbo", messages=_fault(spec), stream=True
    )
    received = []
    with pytest.raises(openai.APIError) as ei:
        for chunk in stream:
            received.append(chunk)
    assert not isinstance(ei.value, openai.APIStatusError), "the 200 was already sent"
    assert len(received) >= 1, "chunks before the failure must reach the client"
    assert ei.value.code == code
    assert isinstance(ei.value.body, dict) and ei.value.body.get("type"), ei.value.body
    rows = admin.wait_usage(api_key["id"])
    assert len(rows) == 1 and rows[0]["status"] == 502 and rows[0]["stream"] is True, rows


def test_mid_stream_idle_timeout(tight_gateway, make_key) -> None:
    k = make_key(admin_api=tight_gateway.admin())
    c = sdk_client(tight_gateway.base_url, k["key"])
    stream = c.chat.completions.create(
        model="gpt-3.5-turbo", messages=_fault("hang_mid_stream=2"), stream=True
    )
    received = []
    with pytest.raises(openai.APIError) as ei:
        for chunk in stream:
            received.append(chunk)
    assert len(received) >= 1
    assert ei.value.code == "upstream_timeout"
    rows = tight_gateway.admin().wait_usage(k["id"])
    assert [r["status"] for r in rows] == [504]


def test_error_usage_rows_are_written(client: openai.OpenAI, admin, api_key) -> None:
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=MSGS)
    rows = admin.settled_usage(api_key["id"])
    assert len(rows) == 1, rows
    r = rows[0]
    assert r["status"] == 404
    assert r["error_code"] == "model_not_found"
    assert r["requested_model"] == "no-such-model"
    assert r["cost_micros"] == 0 and r["total_tokens"] == 0
    assert r["key_id"] == api_key["id"]


def test_upstream_fault_spec_reaches_sim(client: openai.OpenAI) -> None:
    """Sanity check of the fault plumbing: a bad spec is the simulator's 400, passed on."""
    with pytest.raises(openai.BadRequestError) as ei:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=_fault("bogus"))
    assert "sim_fault" in str(ei.value)


def test_support_cost_arithmetic() -> None:
    assert support.cost_micros(3, 5, (30.0, 60.0)) == 390
    assert support.cost_micros(1, 0, (0.5, 1.5)) == 1  # 0.5 µUSD rounds half up


def test_400_from_upstream_is_passed_on(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as ei:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=_fault("status=400"))
    _check_body(ei.value, type_="invalid_request_error")


def test_503_passes_upstream_retry_after(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as ei:
        client.chat.completions.create(
            model="gpt-3.5-turbo", messages=_fault("status=503;retry_after=7")
        )
    assert ei.value.status_code == 503
    assert ei.value.response.headers["retry-after"] == "7"


def test_405_wrong_method(http, api_key) -> None:
    r = http.get("/v1/chat/completions", headers={"Authorization": f"Bearer {api_key['key']}"})
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert r.headers.get("x-request-id")


@pytest.mark.parametrize(
    "body,param",
    [
        ({"name": ""}, "name"),
        ({"name": "x", "quota_usd": -1}, "quota_usd"),
        ({"name": "x", "rpm": 0}, "rpm"),
        ({"name": "x", "bogus": 1}, None),
        ({"name": "x", "expires_at": "tomorrow"}, None),
    ],
)
def test_admin_rejects_bad_key_requests(admin, body, param) -> None:
    r = admin.http.post("/admin/keys", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


def test_admin_revoke_unknown_key(admin) -> None:
    r = admin.http.delete("/admin/keys/987654321")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "key_not_found"
