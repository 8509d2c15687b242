"""The gateway's bodies against the OpenAI OpenAPI spec (../shared/reference/openai/openapi.yaml).

The spec is pre-processed as the protocols doc (§1.1) says, then component schemas are checked
with jsonschema (Draft 2020-12) and a `referencing` registry for the `#/components/...` refs.
"""

from __future__ import annotations

import copy
import json

import pytest

import support
from support import SpecValidator

MSGS = [{"role": "user", "content": "validate me"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
        },
    }
]
FLAVOUR_MODELS = ["gpt-4", "moonshot-v1-8k", "step-1-8k"]


def _auth(key: dict) -> dict:
    return {"Authorization": f"Bearer {key['key']}"}


# ---- the validator itself ------------------------------------------------------------------


def test_spec_preprocessing(spec: SpecValidator) -> None:
    stack = [spec.spec]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            assert node.get("nullable") is not True, "nullable: true left in the spec"
            for k in ("exclusiveMinimum", "exclusiveMaximum"):
                assert not isinstance(node.get(k), bool), f"boolean {k} left in the spec"
            if isinstance(node.get("required"), list):
                assert len(node["required"]) == len(set(map(str, node["required"])))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


GOOD_COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1741569952,
    "model": "gpt-4",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hi", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}

GOOD_CHUNK = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1741569952,
    "model": "gpt-4",
    "choices": [{"index": 0, "delta": {"content": "Hi"}, "logprobs": None, "finish_reason": None}],
}


def test_validator_accepts_known_good_bodies(spec: SpecValidator) -> None:
    spec.check("CreateChatCompletionResponse", GOOD_COMPLETION)
    spec.check("CreateChatCompletionStreamResponse", GOOD_CHUNK)
    spec.check(
        "ErrorResponse",
        {"error": {"message": "m", "type": "invalid_request_error", "param": None, "code": None}},
    )
    spec.check("Model", {"id": "m", "object": "model", "created": 1, "owned_by": "me"})


@pytest.mark.parametrize(
    "schema,body,path,value",
    [
        ("CreateChatCompletionResponse", GOOD_COMPLETION, ["choices", 0, "finish_reason"], "end_turn"),
        ("CreateChatCompletionResponse", GOOD_COMPLETION, ["object"], "chat.completion.chunk"),
        ("CreateChatCompletionResponse", GOOD_COMPLETION, ["choices", 0, "message", "role"], "bot"),
        ("CreateChatCompletionResponse", GOOD_COMPLETION, ["usage", "prompt_tokens"], "1"),
        ("CreateChatCompletionStreamResponse", GOOD_CHUNK, ["choices", 0, "finish_reason"], ""),
        ("CreateChatCompletionStreamResponse", GOOD_CHUNK, ["choices", 0, "delta", "role"], ""),
        ("CreateChatCompletionStreamResponse", GOOD_CHUNK, ["created"], None),
    ],
)
def test_validator_rejects_broken_bodies(spec: SpecValidator, schema, body, path, value) -> None:
    broken = copy.deepcopy(body)
    node = broken
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    assert spec.errors(schema, broken), f"{schema} accepted {path}={value!r}"


@pytest.mark.parametrize("missing", ["type", "message", "param", "code"])
def test_validator_rejects_error_without_field(spec: SpecValidator, missing) -> None:
    err = {"message": "m", "type": "invalid_request_error", "param": None, "code": None}
    del err[missing]
    assert spec.errors("ErrorResponse", {"error": err})


def test_validator_rejects_model_list_without_object(spec: SpecValidator) -> None:
    assert spec.errors("ListModelsResponse", {"data": []})
    assert spec.errors("Model", {"id": "m", "object": "model", "created": 1})


# ---- the gateway's bodies ------------------------------------------------------------------


@pytest.mark.parametrize("tools", [False, True], ids=["text", "tool"])
@pytest.mark.parametrize(
    "model",
    [
        "gpt-4",
        "moonshot-v1-8k",
        "step-1-8k",
    ],
)
def test_chat_completion_matches_spec(spec, http, api_key, model, tools) -> None:
    body = {"model": model, "messages": MSGS}
    if tools:
        body["tools"] = TOOLS
    r = http.post("/v1/chat/completions", json=body, headers=_auth(api_key))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    spec.check("CreateChatCompletionResponse", r.json())
    # The same body with an Anthropic-style finish reason must not pass.
    broken = r.json()
    broken["choices"][0]["finish_reason"] = "end_turn"
    assert spec.errors("CreateChatCompletionResponse", broken)


@pytest.mark.parametrize("tools", [False, True], ids=["text", "tool"])
@pytest.mark.parametrize("usage", [False, True], ids=["plain", "include_usage"])
@pytest.mark.parametrize("model", FLAVOUR_MODELS)
def test_stream_chunks_match_spec(spec, http, api_key, model, usage, tools) -> None:
    body: dict = {"model": model, "messages": MSGS, "stream": True}
    if usage:
        body["stream_options"] = {"include_usage": True}
    if tools:
        body["tools"] = TOOLS
    r, events = support.raw_stream(http, api_key["key"], body)
    assert r.status_code == 200
    assert events and events[-1] == "[DONE]"
    for data in events[:-1]:
        spec.check("CreateChatCompletionStreamResponse", json.loads(data))


def test_models_match_spec(spec, http, api_key) -> None:
    r = http.get("/v1/models", headers=_auth(api_key))
    assert r.status_code == 200
    spec.check("ListModelsResponse", r.json())
    assert r.json()["data"], "no models listed"
    r = http.get("/v1/models/gpt-4", headers=_auth(api_key))
    assert r.status_code == 200
    spec.check("Model", r.json())


def _error_cases(api_key: dict, admin, make_key) -> list[tuple[str, dict]]:
    revoked = make_key()
    admin.revoke_key(revoked["id"])
    limited = make_key(models=["gpt-3.5-turbo"])
    return [
        ("401 no key", {"json": {"model": "gpt-4", "messages": MSGS}}),
        ("401 bad key", {"json": {"model": "gpt-4", "messages": MSGS},
                         "headers": {"Authorization": "Bearer sk-nope-nope-nope"}}),
        ("400 bad json", {"content": b"{", "headers": _auth(api_key)}),
        ("400 no messages", {"json": {"model": "gpt-4"}, "headers": _auth(api_key)}),
        ("403 revoked", {"json": {"model": "gpt-4", "messages": MSGS}, "headers": _auth(revoked)}),
        ("403 model", {"json": {"model": "gpt-4", "messages": MSGS}, "headers": _auth(limited)}),
        ("404 model", {"json": {"model": "nope", "messages": MSGS}, "headers": _auth(api_key)}),
        ("502 upstream", {"json": {"model": "gpt-3.5-turbo", "messages": [
            {"role": "user", "content": "sim_fault:status=500"}]}, "headers": _auth(api_key)}),
        ("503 upstream", {"json": {"model": "gpt-3.5-turbo", "messages": [
            {"role": "user", "content": "sim_fault:status=503"}]}, "headers": _auth(api_key)}),
        ("429 upstream", {"json": {"model": "gpt-3.5-turbo", "messages": [
            {"role": "user", "content": "sim_fault:status=429"}]}, "headers": _auth(api_key)}),
    ]


def test_error_bodies_match_spec(spec, http, api_key, admin, make_key) -> None:
    seen = []
    for name, kwargs in _error_cases(api_key, admin, make_key):
        r = http.post("/v1/chat/completions", **kwargs)
        assert r.status_code == int(name.split()[0]), (name, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/json"), name
        spec.check("ErrorResponse", r.json())
        seen.append(r.status_code)
    r = http.get("/v1/models/nope", headers=_auth(api_key))
    assert r.status_code == 404
    spec.check("ErrorResponse", r.json())
    assert len(seen) == 10


def test_mid_stream_error_event_matches_spec(spec, http, api_key) -> None:
    r, events = support.raw_stream(
        http,
        api_key["key"],
        {
            "model": "gpt-3.5-turbo",
            "stream": True,
            "messages": [{"role": "user", "content": "sim_fault:reset_mid_stream=2"}],
        },
    )
    assert r.status_code == 200
    assert "[DONE]" not in events, "a failed stream must not look complete"
    last = json.loads(events[-1])
    spec.check("ErrorResponse", last)
    for data in events[:-1]:
        spec.check("CreateChatCompletionStreamResponse", json.loads(data))
