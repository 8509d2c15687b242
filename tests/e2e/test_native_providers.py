"""Native providers through the official OpenAI SDK: every default model of every ready provider
(natives.READY), plain and streamed, with the simulator's usage; embeddings as the SDK asks for
them (base64); errors injected in the simulators, as the SDK classes and OpenAI codes.

The gateway is `native_gateway` (conftest.py): one simulator per provider, its channel serving the
provider's default models, plus a channel with a wrong key for the upstream-auth case.
"""

from __future__ import annotations

import base64
import json
import struct

import time

import httpx
import openai
import pytest

import natives
from natives import BY_NAME, ErrorCase
from support import sdk_client


def _msgs(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


# One key and one SDK client for the whole module (a fresh key per test costs more than the
# test): usage rows are told apart by request id.


@pytest.fixture(scope="module")
def native_key(native_admin) -> dict:
    return native_admin.create_key("test_native_providers")


@pytest.fixture(scope="module")
def native_client(native_gateway, native_key):
    c = sdk_client(native_gateway.base_url, native_key["key"])
    yield c
    c.close()


def _row(admin, key_id: int, request_id: str, timeout: float = 5.0) -> dict:
    """The usage row of one request (rows are written in batches: poll)."""
    assert request_id, "x-request-id missing"
    deadline = time.monotonic() + timeout
    while True:
        rows = [r for r in admin.usage(key_id, limit=50) if r["request_id"] == request_id]
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.03)
    assert len(rows) == 1, f"exactly one usage row for request {request_id}: {rows}"
    return rows[0]


def _check_ok_row(row: dict, model: str, prompt: int, completion: int, stream: bool) -> None:
    """A successful chat's usage row: the upstream's exact counts."""
    assert row["requested_model"] == model
    assert row["status"] == 200 and row["stream"] is stream
    assert (row["prompt_tokens"], row["completion_tokens"]) == (prompt, completion)
    assert row["estimated"] is False, "the upstream reported usage"


def _check_usage(u, prompt: int, completion: int) -> None:
    assert (u.prompt_tokens, u.completion_tokens, u.total_tokens) == (
        prompt, completion, prompt + completion,
    )


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    },
}


def _check_weather_call(c) -> None:
    """The simulators' answer to WEATHER_TOOL: one call with fixed arguments."""
    assert c.choices[0].finish_reason == "tool_calls"
    call = c.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Paris", "unit": "celsius"}


def _check_content_filter(client, model: str, text: str, stream: bool):
    """The answer to `text` finishes with content_filter (streamed: once, usage still last);
    returns the non-streamed completion."""
    msgs = _msgs(text)
    if not stream:
        c = client.chat.completions.create(model=model, messages=msgs)
        assert c.choices[0].finish_reason == "content_filter"
        return c
    chunks = list(client.chat.completions.create(
        model=model, messages=msgs, stream=True, stream_options={"include_usage": True},
    ))
    finishes = [c.choices[0].finish_reason for c in chunks
                if c.choices and c.choices[0].finish_reason]
    assert finishes == ["content_filter"], finishes
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    return None


def _broken_stream(client, model: str, text: str):
    """Streams `text` to a failure after the 200: (the stream, the chunks received before)."""
    stream = client.chat.completions.create(model=model, messages=_msgs(text), stream=True)
    got = []
    # Closed on the way out: an abandoned response of the shared client, collected while
    # httpcore holds its pool lock, deadlocks the next request.
    with stream, pytest.raises(openai.APIError) as ei:
        for c in stream:
            got.append(c)
    assert not isinstance(ei.value, openai.APIStatusError), "the 200 was already sent"
    return stream, got


def test_default_models_listed(native_client: openai.OpenAI) -> None:
    """Channels without `models` serve their provider's defaults: exactly the names tested here."""
    ids = {m.id for m in native_client.models.list()}
    want = {m for n in natives.READY for m in n.default_models + list(n.bad_models())}
    want |= set(natives.OPENAI_MODELS)
    assert ids == want, (sorted(ids - want), sorted(want - ids))


@pytest.mark.parametrize("provider,model", natives.chat_params("chat"))
def test_chat(native_client, native_admin, native_key, provider: str, model: str) -> None:
    n = BY_NAME[provider]
    text = f"tell me about {model} please"
    msgs = _msgs(text)
    c = native_client.chat.completions.create(model=model, messages=msgs)
    assert c.object == "chat.completion"
    assert c.model == model
    assert len(c.choices) == 1
    choice = c.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content, "empty answer"
    if n.reply:
        assert choice.message.content == n.reply(model, text)
    assert choice.finish_reason == "stop"
    assert c.usage is not None
    prompt, completion = n.prompt_tokens(msgs), n.completion_tokens(model)
    _check_usage(c.usage, prompt, completion)
    row = _row(native_admin, native_key["id"], c._request_id)
    assert row["endpoint"] == "chat/completions" and row["error_code"] is None
    _check_ok_row(row, model, prompt, completion, stream=False)


@pytest.mark.parametrize("provider,model", natives.chat_params("chat-stream"))
def test_chat_stream(native_client, native_admin, native_key, provider: str, model: str) -> None:
    n = BY_NAME[provider]
    text = f"stream about {model} please"
    msgs = _msgs(text)
    stream = native_client.chat.completions.create(
        model=model, messages=msgs, stream=True, stream_options={"include_usage": True}
    )
    rid = stream.response.headers.get("x-request-id")
    assert stream.response.headers["content-type"].startswith("text/event-stream")
    chunks = list(stream)
    assert chunks, "no chunk"
    content = "".join(ch.delta.content or "" for c in chunks for ch in c.choices)
    assert content, "empty answer"
    if n.reply:
        assert content == n.reply(model, text)
    with_usage = [i for i, c in enumerate(chunks) if c.usage is not None]
    assert with_usage == [len(chunks) - 1], f"usage on the last chunk only: {with_usage}"
    last = chunks[-1]
    assert last.choices == []
    body = chunks[:-1]
    assert all(len(c.choices) == 1 for c in body), [c.choices for c in body]
    finishes = [c.choices[0].finish_reason for c in body if c.choices[0].finish_reason]
    assert finishes == ["stop"], finishes
    roles = [c.choices[0].delta.role for c in body if c.choices[0].delta.role]
    assert roles == ["assistant"], roles
    assert len({c.id for c in chunks}) == 1, "every chunk shares one id"
    assert {c.model for c in chunks} == {model}
    prompt, completion = n.prompt_tokens(msgs), n.completion_tokens(model)
    _check_usage(last.usage, prompt, completion)
    _check_ok_row(_row(native_admin, native_key["id"], rid), model, prompt, completion, True)


@pytest.mark.parametrize(
    "provider,model",
    [pytest.param(n.provider, n.chat_models[0], id=n.provider) for n in natives.READY],
)
def test_stream_without_usage(native_client, provider: str, model: str) -> None:
    stream = native_client.chat.completions.create(
        model=model, messages=_msgs("no usage please"), stream=True
    )
    chunks = list(stream)
    assert all(c.usage is None for c in chunks), [c.usage for c in chunks]
    assert all(len(c.choices) == 1 for c in chunks), "no usage-only chunk without include_usage"
    assert "".join(c.choices[0].delta.content or "" for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


@pytest.mark.parametrize("provider,model", natives.embed_params("embeddings"))
def test_embeddings_sdk(native_client, native_admin, native_key, provider: str, model: str):
    """The SDK asks for base64 by default and decodes it: the vectors arrive whole."""
    n = BY_NAME[provider]
    dims, batch = n.embed_models[model]
    inputs = ["The quick brown fox", "jumps over the lazy dog", "ok"][:batch]
    r = native_client.embeddings.create(model=model, input=inputs)
    assert r.object == "list"
    assert r.model == model
    assert [d.index for d in r.data] == list(range(len(inputs)))
    for d in r.data:
        assert d.object == "embedding"
        assert isinstance(d.embedding, list) and len(d.embedding) == dims
        assert all(isinstance(x, float) for x in d.embedding[:8])
        assert any(x != 0.0 for x in d.embedding)
    if len(inputs) > 1:
        assert r.data[0].embedding != r.data[1].embedding
    if n.embed_tokens:
        assert r.usage.prompt_tokens == n.embed_tokens(inputs)
        assert r.usage.total_tokens == r.usage.prompt_tokens
    single = native_client.embeddings.create(model=model, input="The quick brown fox")
    assert len(single.data) == 1
    assert single.data[0].embedding == pytest.approx(r.data[0].embedding, rel=1e-6)
    rows = [_row(native_admin, native_key["id"], x._request_id) for x in (r, single)]
    assert {r_["endpoint"] for r_ in rows} == {"embeddings"}
    assert all(r_["status"] == 200 and r_["requested_model"] == model for r_ in rows)
    assert sorted(r_["prompt_tokens"] for r_ in rows) == sorted(
        [r.usage.prompt_tokens, single.usage.prompt_tokens]
    )


@pytest.mark.parametrize("provider,model", natives.embed_params("embeddings-wire"))
def test_embeddings_base64_wire(native_gateway, native_key, provider: str, model: str) -> None:
    """On the wire: base64 of little-endian float32 when asked, the same numbers as `float`."""
    dims, batch = BY_NAME[provider].embed_models[model]
    inputs = ["a b c d", "e f"][:batch]
    headers = {"Authorization": f"Bearer {native_key['key']}"}
    with httpx.Client(base_url=native_gateway.url, timeout=20, headers=headers) as h:
        b = h.post("/v1/embeddings", json={"model": model, "input": inputs,
                                           "encoding_format": "base64"})
        f = h.post("/v1/embeddings", json={"model": model, "input": inputs,
                                           "encoding_format": "float"})
    assert b.status_code == 200, b.text
    assert f.status_code == 200, f.text
    assert len(b.json()["data"]) == len(inputs)
    for bd, fd in zip(b.json()["data"], f.json()["data"], strict=True):
        assert isinstance(bd["embedding"], str)
        raw = base64.b64decode(bd["embedding"])
        assert len(raw) == 4 * dims
        vec = struct.unpack(f"<{dims}f", raw)
        assert list(vec) == pytest.approx(fd["embedding"], rel=1e-6, abs=1e-7)


def _check_error(e: openai.APIStatusError, case: ErrorCase) -> None:
    assert type(e) is case.exc, (type(e), e.status_code, e.body)
    assert e.status_code == case.status, (e.status_code, e.body)
    body = e.response.json()
    assert set(body) == {"error"}, body
    assert {"message", "type", "param", "code"} <= set(body["error"]), body
    assert body["error"]["message"]
    assert e.code == case.code, body
    assert e.request_id


@pytest.mark.parametrize("provider,case,stream", natives.error_params())
def test_mapped_error(
    native_client, native_admin, native_key, provider: str, case: ErrorCase, stream: bool
) -> None:
    n = BY_NAME[provider]
    model = n.model_for(case)
    with pytest.raises(openai.APIStatusError) as ei:
        r = native_client.chat.completions.create(
            model=model, messages=_msgs(f"please {case.text}"), stream=stream
        )
        if stream:
            list(r)
    _check_error(ei.value, case)
    for secret in (n.key.split("|")[-1].split(".")[-1], n.bad_key.split("|")[-1].split(".")[-1]):
        assert secret not in ei.value.response.text, "channel secret leaked"
    row = _row(native_admin, native_key["id"], ei.value.request_id)
    assert row["status"] == case.status, row
    assert row["stream"] is stream


# ---- provider specifics ----------------------------------------------------------------------


@pytest.mark.skipif("hunyuan" not in BY_NAME, reason="hunyuan not ready")
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_hunyuan_sensitive_finish_is_content_filter(native_client, stream: bool) -> None:
    """Output moderation (`FinishReason: sensitive`) stops the answer: `content_filter`."""
    _check_content_filter(native_client, "hunyuan-lite", "tell me sim_error:sensitive", stream)


@pytest.mark.skipif("hunyuan" not in BY_NAME, reason="hunyuan not ready")
def test_hunyuan_mid_stream_error(native_client, native_admin, native_key) -> None:
    """`ErrorMsg` after the first frame: the SDK raises after the text received so far."""
    stream, got = _broken_stream(native_client, "hunyuan-lite", "break sim_error:stream4000")
    assert got, "the chunk before the failure reaches the client"
    row = _row(native_admin, native_key["id"], stream.response.headers["x-request-id"])
    assert row["status"] >= 500 and row["stream"] is True, row


@pytest.mark.skipif("hunyuan" not in BY_NAME, reason="hunyuan not ready")
def test_hunyuan_tool_call(native_client) -> None:
    c = native_client.chat.completions.create(
        model="hunyuan-pro", messages=_msgs("weather in Paris?"), tools=[WEATHER_TOOL]
    )
    _check_weather_call(c)


@pytest.mark.skipif("zhipu" not in BY_NAME, reason="zhipu not ready")
def test_zhipu_embedding2_refuses_lists(native_client) -> None:
    """embedding-2 embeds one text per request: a list of several is a 400 on `input`."""
    with pytest.raises(openai.BadRequestError) as ei:
        native_client.embeddings.create(model="embedding-2", input=["one", "two"])
    assert ei.value.param == "input"


@pytest.mark.skipif("zhipu" not in BY_NAME, reason="zhipu not ready")
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_zhipu_sensitive_finish_is_content_filter(native_client, stream: bool) -> None:
    _check_content_filter(native_client, "glm-4", "tell me sim_finish:sensitive", stream)


@pytest.mark.skipif("spark" not in BY_NAME, reason="spark not ready")
def test_spark_tool_call(native_client) -> None:
    """Spark Max takes functions; the SDK gets an OpenAI tool call (aggregated from frames)."""
    c = native_client.chat.completions.create(
        model="SparkDesk-v3.5", messages=_msgs("weather in Paris?"), tools=[WEATHER_TOOL]
    )
    _check_weather_call(c)


@pytest.mark.skipif("spark" not in BY_NAME, reason="spark not ready")
def test_spark_mid_stream_moderation(native_client) -> None:
    """10014 (output withheld) after two text frames: the SDK raises after those chunks."""
    _, got = _broken_stream(native_client, "SparkDesk-v3.5", "say sim_error:10014")
    assert got, "the chunks before the failure reach the client"


@pytest.mark.skipif("qianfan" not in BY_NAME, reason="qianfan not ready")
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_qianfan_unsafe_answer_is_content_filter(native_client, stream: bool) -> None:
    """`need_clear_history: true` (input or output judged unsafe) finishes with content_filter."""
    c = _check_content_filter(native_client, "ERNIE-3.5-8K", "tell me sim_unsafe", stream)
    if not stream:
        assert c.choices[0].message.content


@pytest.mark.skipif("gemini" not in BY_NAME, reason="gemini not ready")
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_gemini_safety_finish_is_content_filter(native_client, stream: bool) -> None:
    """`finishReason: SAFETY` (HTTP 200) finishes the answer with content_filter."""
    _check_content_filter(native_client, "gemini-2.0-flash", "tell me sim_error:SAFETY", stream)


@pytest.mark.skipif("dashscope" not in BY_NAME, reason="dashscope not ready")
def test_dashscope_mid_stream_error(native_client, native_admin, native_key) -> None:
    """An `event:error` frame after two result frames: the SDK raises after those chunks, and the
    usage of the chunks received (cumulative in DashScope frames) is still logged."""
    text = "go sim_dashscope_error:Throttling.RateQuota;after=2"
    stream, got = _broken_stream(native_client, "qwen-plus", text)
    assert len(got) == 2, got
    row = _row(native_admin, native_key["id"], stream.response.headers["x-request-id"])
    assert (row["status"], row["stream"], row["completion_tokens"]) == (429, True, 2), row


@pytest.mark.skipif("dashscope" not in BY_NAME, reason="dashscope not ready")
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_dashscope_tool_call(native_client, stream: bool) -> None:
    msgs = _msgs("weather in Paris?")
    if stream:
        with native_client.chat.completions.stream(
            model="qwen-plus", messages=msgs, tools=[WEATHER_TOOL]
        ) as s:
            for _ in s:
                pass
            c = s.get_final_completion()
    else:
        c = native_client.chat.completions.create(
            model="qwen-plus", messages=msgs, tools=[WEATHER_TOOL]
        )
    _check_weather_call(c)


@pytest.mark.skipif("dashscope" not in BY_NAME, reason="dashscope not ready")
def test_dashscope_vision_model_reads_images(native_client) -> None:
    """qwen-vl-plus goes to the multimodal service with its image parts converted."""
    c = native_client.chat.completions.create(
        model="qwen-vl-plus",
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        ]}],
    )
    assert c.choices[0].message.content == "Hello from dashscope qwen-vl-plus: what is this?"
    # 64 tokens per image, on top of the text's count, as the simulator documents.
    assert c.usage.prompt_tokens == len("what is this?") // 4 + 3 + 64
