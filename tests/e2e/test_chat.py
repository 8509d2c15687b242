"""Chat completions through the official SDK: plain answers, streams, tools, models, ids."""

from __future__ import annotations

import json
import uuid

import openai
import pytest

import support
from support import MODELS
from support import SIM_CHUNKS, TOOL_ARGUMENTS

FLAVOUR_MODELS = ["gpt-4", "moonshot-v1-8k", "step-1-8k"]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}


def _messages(text: str) -> list[dict]:
    return [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": text},
    ]


@pytest.mark.parametrize("model", FLAVOUR_MODELS)
def test_chat_non_stream(client: openai.OpenAI, model: str) -> None:
    flavor, upstream = MODELS[model]
    msgs = _messages(f"ping {model}")
    c = client.chat.completions.create(model=model, messages=msgs)
    assert c.object == "chat.completion"
    assert len(c.choices) == 1
    choice = c.choices[0]
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == support.sim_reply(flavor, upstream, f"ping {model}")
    assert c.usage is not None
    assert c.usage.prompt_tokens == support.sim_prompt_tokens(msgs)
    assert c.usage.completion_tokens == SIM_CHUNKS
    assert c.usage.total_tokens == c.usage.prompt_tokens + SIM_CHUNKS
    assert c._request_id, "x-request-id missing"


def test_chat_max_tokens_truncates(client: openai.OpenAI) -> None:
    c = client.chat.completions.create(
        model="gpt-3.5-turbo", messages=_messages("cut me short"), max_tokens=2
    )
    assert c.choices[0].finish_reason == "length"
    assert c.usage is not None and c.usage.completion_tokens == 2


def test_request_id_is_echoed(client: openai.OpenAI, admin, api_key) -> None:
    rid = f"e2e-{uuid.uuid4()}"
    c = client.chat.completions.create(
        model="gpt-3.5-turbo",
        messages=_messages("id please"),
        extra_headers={"x-request-id": rid},
    )
    assert c._request_id == rid
    rows = admin.wait_usage(api_key["id"])
    assert [r["request_id"] for r in rows] == [rid]


def test_request_id_generated_when_absent(client: openai.OpenAI) -> None:
    a = client.chat.completions.create(model="gpt-3.5-turbo", messages=_messages("a"))
    b = client.chat.completions.create(model="gpt-3.5-turbo", messages=_messages("b"))
    assert a._request_id and b._request_id and a._request_id != b._request_id


def _collect(stream) -> tuple[str, list]:
    chunks = list(stream)
    text = "".join(
        (ch.delta.content or "") for chunk in chunks for ch in chunk.choices if ch.delta
    )
    return text, chunks


@pytest.mark.parametrize("model", FLAVOUR_MODELS)
def test_stream_with_usage(client: openai.OpenAI, model: str) -> None:
    flavor, upstream = MODELS[model]
    msgs = _messages(f"stream {model}")
    stream = client.chat.completions.create(
        model=model, messages=msgs, stream=True, stream_options={"include_usage": True}
    )
    assert stream.response.headers.get("x-request-id")
    assert stream.response.headers["content-type"].startswith("text/event-stream")
    text, chunks = _collect(stream)
    assert text == support.sim_reply(flavor, upstream, f"stream {model}")
    with_usage = [i for i, c in enumerate(chunks) if c.usage is not None]
    assert with_usage == [len(chunks) - 1], f"usage must be on the last chunk only: {with_usage}"
    last = chunks[-1]
    assert last.choices == []
    assert last.usage.prompt_tokens == support.sim_prompt_tokens(msgs)
    assert last.usage.completion_tokens == SIM_CHUNKS
    assert last.usage.total_tokens == last.usage.prompt_tokens + SIM_CHUNKS
    # Every other chunk carries exactly one choice; roles are not repeated; one finish reason.
    body = chunks[:-1]
    assert all(len(c.choices) == 1 for c in body)
    roles = [c.choices[0].delta.role for c in body if c.choices[0].delta.role]
    assert roles == ["assistant"], roles
    finishes = [c.choices[0].finish_reason for c in body if c.choices[0].finish_reason]
    assert finishes == ["stop"], finishes
    assert len({c.id for c in chunks}) == 1, "every chunk must share one id"
    for c in chunks:
        # Native usage placements (Moonshot's choices[0].usage, StepFun's per-chunk usage) are
        # not passed through.
        for ch in c.choices:
            assert "usage" not in (ch.model_extra or {}), ch


@pytest.mark.parametrize("model", FLAVOUR_MODELS)
def test_stream_without_usage(client: openai.OpenAI, model: str) -> None:
    flavor, upstream = MODELS[model]
    stream = client.chat.completions.create(
        model=model, messages=_messages(f"quiet {model}"), stream=True
    )
    text, chunks = _collect(stream)
    assert text == support.sim_reply(flavor, upstream, f"quiet {model}")
    assert all(c.usage is None for c in chunks), [c.usage for c in chunks]
    assert all(len(c.choices) == 1 for c in chunks), "no usage-only chunk without include_usage"
    assert chunks[-1].choices[0].finish_reason == "stop"
    for c in chunks:
        for ch in c.choices:
            assert "usage" not in (ch.model_extra or {}), ch


@pytest.mark.parametrize("model", FLAVOUR_MODELS)
def test_raw_stream_framing(http, api_key, model: str) -> None:
    """The wire: `data:` events only, `[DONE]` last, and the response then closes."""
    with http.stream(
        "POST",
        "/v1/chat/completions",
        json={
            "model": model,
            "messages": _messages("frame"),
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        headers={"Authorization": f"Bearer {api_key['key']}"},
    ) as r:
        assert r.status_code == 200
        lines = list(r.iter_lines())
    assert not any(line.startswith("event:") for line in lines), lines
    events = list(support.sse_data(iter(lines)))
    assert events[-1] == "[DONE]"
    assert events.count("[DONE]") == 1
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"] == [] and "usage" in chunks[-1]
    assert sum("usage" in c and c["usage"] is not None for c in chunks) == 1


@pytest.mark.parametrize("model", FLAVOUR_MODELS)
def test_tool_call_non_stream(client: openai.OpenAI, model: str) -> None:
    c = client.chat.completions.create(
        model=model, messages=_messages("weather in Paris?"), tools=[WEATHER_TOOL]
    )
    choice = c.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    call = calls[0]
    assert call.type == "function"
    assert call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Paris", "unit": "celsius"}


def test_tool_choice_none_answers_text(client: openai.OpenAI) -> None:
    c = client.chat.completions.create(
        model="gpt-3.5-turbo",
        messages=_messages("no tools"),
        tools=[WEATHER_TOOL],
        tool_choice="none",
    )
    assert c.choices[0].finish_reason == "stop"
    assert c.choices[0].message.tool_calls is None


@pytest.mark.parametrize("model", FLAVOUR_MODELS)
def test_tool_call_stream_helper(client: openai.OpenAI, model: str) -> None:
    """The SDK's stream helper accumulates the tool-call fragments of every flavour."""
    done_args = []
    with client.chat.completions.stream(
        model=model,
        messages=_messages("weather in Paris?"),
        tools=[WEATHER_TOOL],
        stream_options={"include_usage": True},
    ) as stream:
        for event in stream:
            if event.type == "tool_calls.function.arguments.done":
                done_args.append((event.name, event.arguments))
        final = stream.get_final_completion()
    assert done_args == [("get_weather", TOOL_ARGUMENTS)]
    msg = final.choices[0].message
    assert final.choices[0].finish_reason == "tool_calls"
    assert msg.role == "assistant"
    assert len(msg.tool_calls) == 1
    call = msg.tool_calls[0]
    assert call.id.startswith("call_"), call.id  # not glued from repeated ids
    assert call.function.name == "get_weather"  # not "get_weatherget_weather"
    assert call.function.arguments == TOOL_ARGUMENTS
    assert json.loads(call.function.arguments) == {"location": "Paris", "unit": "celsius"}
    assert final.usage is not None and final.usage.completion_tokens == max(SIM_CHUNKS, 2)


def test_tool_result_round_trip(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(
        model="gpt-4", messages=_messages("weather?"), tools=[WEATHER_TOOL]
    )
    call = first.choices[0].message.tool_calls[0]
    msgs = _messages("weather?") + [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "18C sunny"},
    ]
    second = client.chat.completions.create(model="gpt-4", messages=msgs, tools=[WEATHER_TOOL])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == support.sim_reply(
        "openai", "gpt-4-0613", "tool result: 18C sunny"
    )


def test_models_list_and_retrieve(client: openai.OpenAI) -> None:
    ids = sorted(m.id for m in client.models.list())
    assert ids == sorted(MODELS), ids
    m = client.models.retrieve("gpt-4")
    assert m.id == "gpt-4" and m.object == "model"
    assert m.owned_by == "openai"
    assert client.models.retrieve("step-1-8k").owned_by == "stepfun"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_models_list_respects_key_allow_list(gateway, make_key) -> None:
    k = make_key(models=["gpt-4", "step-1-8k"])
    c = openai.OpenAI(base_url=gateway.base_url, api_key=k["key"], max_retries=0)
    assert sorted(m.id for m in c.models.list()) == ["gpt-4", "step-1-8k"]
    with pytest.raises(openai.NotFoundError):
        c.models.retrieve("gpt-3.5-turbo")


def test_health_endpoints(http) -> None:
    assert http.get("/healthz").status_code == 200
    r = http.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.headers.get("x-request-id")


@pytest.mark.parametrize("model", FLAVOUR_MODELS)
def test_n_choices(client: openai.OpenAI, model: str) -> None:
    flavor, upstream = MODELS[model]
    want = support.sim_reply(flavor, upstream, "two")
    msgs = [{"role": "user", "content": "two"}]
    c = client.chat.completions.create(model=model, messages=msgs, n=2)
    assert [ch.message.content for ch in c.choices] == [want, want]
    assert c.usage.completion_tokens == 2 * SIM_CHUNKS
    stream = client.chat.completions.create(
        model=model, messages=msgs, n=2, stream=True, stream_options={"include_usage": True}
    )
    texts: dict[int, str] = {}
    roles: dict[int, list] = {}
    usage = []
    for chunk in stream:
        if chunk.usage:
            usage.append(chunk.usage)
        for ch in chunk.choices:
            texts[ch.index] = texts.get(ch.index, "") + (ch.delta.content or "")
            if ch.delta.role:
                roles.setdefault(ch.index, []).append(ch.delta.role)
    assert texts == {0: want, 1: want}
    assert roles == {0: ["assistant"], 1: ["assistant"]}
    assert len(usage) == 1 and usage[0].completion_tokens == 2 * SIM_CHUNKS


def test_include_usage_false_has_no_usage_chunk(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-4",
        messages=_messages("no usage"),
        stream=True,
        stream_options={"include_usage": False},
    )
    chunks = list(stream)
    assert all(c.usage is None and len(c.choices) == 1 for c in chunks)


def test_moonshot_temperature_is_clamped(client: openai.OpenAI) -> None:
    # Moonshot accepts [0, 1]; OpenAI clients may send up to 2.
    c = client.chat.completions.create(
        model="moonshot-v1-8k", messages=_messages("warm"), temperature=1.5
    )
    assert c.choices[0].finish_reason == "stop"


def test_async_client_stream(gateway, api_key) -> None:
    import asyncio

    async def run() -> tuple[str, object]:
        async with openai.AsyncOpenAI(
            base_url=gateway.base_url, api_key=api_key["key"], max_retries=0
        ) as c:
            stream = await c.chat.completions.create(
                model="step-1-8k",
                messages=_messages("async"),
                stream=True,
                stream_options={"include_usage": True},
            )
            text, usage = "", None
            async for chunk in stream:
                text += "".join(ch.delta.content or "" for ch in chunk.choices)
                usage = chunk.usage or usage
            return text, usage

    text, usage = asyncio.run(run())
    assert text == support.sim_reply("stepfun", "step-1-8k", "async")
    assert usage is not None and usage.completion_tokens == SIM_CHUNKS
