"""Issue 4: Claude and Gemini through every official SDK.

- the `openai` SDK against claude/gemini models on anthropic/gemini channels (chat, stream,
  tools; the plain chat and stream of every default model are in test_native_providers.py);
- the `anthropic` SDK (`client.messages.create`, plain and streamed) against the gateway's
  `/v1/messages`, backed by an anthropic channel and by an OpenAI-dialect channel;
- the `google-genai` SDK (`generate_content`, `generate_content_stream`, `embed_content`) against
  the gateway's `…/models/{model}:generateContent|streamGenerateContent` (v1, the SDK's default,
  and v1beta), backed by a gemini channel and by an OpenAI-dialect channel.

Every answer is checked against the simulator's deterministic reply and usage, and against the
gateway's usage row (endpoint `messages` / `generateContent`).
"""

from __future__ import annotations

import json

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gt

import natives
from support import SIM_CHUNKS, TOOL_ARGUMENTS

CLAUDE = "claude-sonnet-4-5-20250929"
GEMINI = "gemini-2.0-flash"
GPT = "gpt-4o"



def _needs(provider: str):
    return pytest.mark.skipif(
        provider not in natives.BY_NAME,
        reason=f"the {provider} adapter or simulator is not committed yet",
    )


NEEDS_CLAUDE, NEEDS_GEMINI = _needs("anthropic"), _needs("gemini")

WEATHER = {
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
}
PARIS = {"location": "Paris", "unit": "celsius"}


def _reply(model: str, text: str) -> str:
    """The simulator behind `model` on the native gateway, and its deterministic reply."""
    if model.startswith("claude"):
        return natives.ANTHROPIC.reply(model, text)
    if model.startswith("gemini"):
        return natives.GEMINI.reply(model, text)
    return f"Hello from openai {model}: {text}"


def _prompt_tokens(text: str) -> int:
    """One user message: every simulator here counts characters / 4 + 3."""
    return len(text) // 4 + 3


def _one_row(admin, key_id: int) -> dict:
    rows = admin.wait_usage(key_id)
    assert len(rows) == 1, f"exactly one usage row per request: {rows}"
    return rows[0]


def _check_row(row: dict, *, endpoint: str, model: str, prompt: int, completion: int,
               stream: bool) -> None:
    assert row["endpoint"] == endpoint, row
    assert row["requested_model"] == model, row
    assert row["status"] == 200 and row["error_code"] is None, row
    assert row["stream"] is stream, row
    assert (row["prompt_tokens"], row["completion_tokens"]) == (prompt, completion), row
    assert row["estimated"] is False, row


# ---- the openai SDK: tools on claude and gemini models --------------------------------------

OPENAI_TOOL = {"type": "function", "function": WEATHER}


@pytest.mark.parametrize("model", [pytest.param(CLAUDE, marks=NEEDS_CLAUDE),
                                   pytest.param(GEMINI, marks=NEEDS_GEMINI)])
def test_openai_sdk_tool_call(native_client: openai.OpenAI, model: str) -> None:
    c = native_client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "weather in Paris?"}],
        tools=[OPENAI_TOOL],
    )
    choice = c.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    assert calls[0].type == "function" and calls[0].id
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == PARIS
    assert c.usage is not None and c.usage.completion_tokens > 0


@pytest.mark.parametrize("model", [pytest.param(CLAUDE, marks=NEEDS_CLAUDE),
                                   pytest.param(GEMINI, marks=NEEDS_GEMINI)])
def test_openai_sdk_tool_call_stream(native_client: openai.OpenAI, model: str) -> None:
    with native_client.chat.completions.stream(
        model=model, messages=[{"role": "user", "content": "weather in Paris?"}],
        tools=[OPENAI_TOOL], stream_options={"include_usage": True},
    ) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].finish_reason == "tool_calls"
    calls = final.choices[0].message.tool_calls
    assert len(calls) == 1 and calls[0].id
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == PARIS
    assert final.usage is not None and final.usage.completion_tokens > 0


@pytest.mark.parametrize("model", [
    pytest.param(CLAUDE, id=CLAUDE, marks=NEEDS_CLAUDE),
    pytest.param(GEMINI, id=GEMINI, marks=NEEDS_GEMINI),
])
def test_openai_sdk_tool_stream_helper_events(native_client: openai.OpenAI, model: str) -> None:
    """The SDK's stream helper announces the finished arguments of the call."""
    done = []
    with native_client.chat.completions.stream(
        model=model, messages=[{"role": "user", "content": "weather in Paris?"}],
        tools=[OPENAI_TOOL],
    ) as stream:
        for event in stream:
            if event.type == "tool_calls.function.arguments.done":
                done.append((event.name, json.loads(event.arguments)))
    assert done == [("get_weather", PARIS)]


@pytest.mark.parametrize("model", [pytest.param(CLAUDE, marks=NEEDS_CLAUDE),
                                   pytest.param(GEMINI, marks=NEEDS_GEMINI)])
def test_openai_sdk_tool_result_round_trip(native_client: openai.OpenAI, model: str) -> None:
    msgs = [{"role": "user", "content": "weather in Paris?"}]
    first = native_client.chat.completions.create(model=model, messages=msgs, tools=[OPENAI_TOOL])
    call = first.choices[0].message.tool_calls[0]
    msgs += [
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": call.id, "type": "function",
            "function": {"name": call.function.name, "arguments": call.function.arguments},
        }]},
        {"role": "tool", "tool_call_id": call.id, "content": "18C sunny"},
    ]
    second = native_client.chat.completions.create(model=model, messages=msgs, tools=[OPENAI_TOOL])
    assert second.choices[0].finish_reason == "stop"
    text = second.choices[0].message.content
    assert text.startswith(_reply(model, "tool result: ")), text
    assert "18C sunny" in text


# ---- the anthropic SDK against /v1/messages --------------------------------------------------


@pytest.fixture
def claude_sdk(native_gateway, native_key):
    c = anthropic.Anthropic(
        api_key=native_key["key"], base_url=native_gateway.url, max_retries=0, timeout=30
    )
    yield c
    c.close()


BACKENDS_MESSAGES = [pytest.param(CLAUDE, id="anthropic-channel", marks=NEEDS_CLAUDE),
                     pytest.param(GPT, id="openai-channel")]


@pytest.mark.parametrize("model", BACKENDS_MESSAGES)
def test_anthropic_sdk_messages(claude_sdk, native_admin, native_key, model: str) -> None:
    text = f"hello {model} through messages"
    m = claude_sdk.messages.create(
        model=model, max_tokens=256, messages=[{"role": "user", "content": text}]
    )
    assert m.type == "message" and m.role == "assistant"
    assert m.model == model
    assert m.id
    assert [b.type for b in m.content] == ["text"]
    assert m.content[0].text == _reply(model, text)
    assert m.stop_reason == "end_turn"
    assert (m.usage.input_tokens, m.usage.output_tokens) == (_prompt_tokens(text), SIM_CHUNKS)
    row = _one_row(native_admin, native_key["id"])
    _check_row(row, endpoint="messages", model=model, prompt=_prompt_tokens(text),
               completion=SIM_CHUNKS, stream=False)


@pytest.mark.parametrize("model", BACKENDS_MESSAGES)
def test_anthropic_sdk_messages_stream(claude_sdk, native_admin, native_key, model: str) -> None:
    text = f"stream {model} through messages"
    with claude_sdk.messages.stream(
        model=model, max_tokens=256, messages=[{"role": "user", "content": text}]
    ) as s:
        streamed = "".join(s.text_stream)
        final = s.get_final_message()
    assert streamed == _reply(model, text)
    assert final.content[0].text == streamed
    assert final.stop_reason == "end_turn"
    assert final.model == model
    assert final.usage.output_tokens == SIM_CHUNKS
    row = _one_row(native_admin, native_key["id"])
    _check_row(row, endpoint="messages", model=model, prompt=_prompt_tokens(text),
               completion=SIM_CHUNKS, stream=True)


@pytest.mark.parametrize("model", BACKENDS_MESSAGES)
def test_anthropic_sdk_stream_input_tokens(claude_sdk, model: str) -> None:
    """anthropic 0.49 reads input_tokens only from `message_start`. An Anthropic channel's own
    events pass through, so the count is the provider's; a converted stream states the gateway's
    own count there (the upstream's arrives only at the end) and the exact one in
    `message_delta`."""
    text = f"count {model} input"
    with claude_sdk.messages.stream(
        model=model, max_tokens=256, messages=[{"role": "user", "content": text}]
    ) as s:
        final = s.get_final_message()
    if model == CLAUDE:
        assert final.usage.input_tokens == _prompt_tokens(text)
        return
    assert final.usage.input_tokens > 0
    events = list(claude_sdk.messages.create(
        model=model, max_tokens=256, stream=True, messages=[{"role": "user", "content": text}],
    ))
    start = [e for e in events if e.type == "message_start"][0]
    assert start.message.usage.input_tokens == final.usage.input_tokens
    delta = [e for e in events if e.type == "message_delta"][0]
    assert delta.usage.model_dump()["input_tokens"] == _prompt_tokens(text)


@pytest.mark.parametrize("model", BACKENDS_MESSAGES)
def test_anthropic_sdk_raw_event_order(claude_sdk, model: str) -> None:
    """`stream=True` on create: Anthropic's named events in their documented order."""
    events = list(claude_sdk.messages.create(
        model=model, max_tokens=256, stream=True,
        messages=[{"role": "user", "content": "order please"}],
    ))
    kinds = [e.type for e in events if e.type != "ping"]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"], kinds
    assert kinds[1] == "content_block_start" and "content_block_stop" in kinds, kinds
    assert set(kinds[2:kinds.index("content_block_stop")]) == {"content_block_delta"}, kinds
    delta = [e for e in events if e.type == "message_delta"][0]
    assert delta.delta.stop_reason == "end_turn"
    assert delta.usage.output_tokens == SIM_CHUNKS


@pytest.mark.parametrize("model", BACKENDS_MESSAGES)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_anthropic_sdk_tool_use(claude_sdk, model: str, stream: bool) -> None:
    kwargs = dict(model=model, max_tokens=256, tools=[{
        "name": WEATHER["name"], "description": WEATHER["description"],
        "input_schema": WEATHER["parameters"],
    }], messages=[{"role": "user", "content": "weather in Paris?"}])
    if stream:
        with claude_sdk.messages.stream(**kwargs) as s:
            m = s.get_final_message()
    else:
        m = claude_sdk.messages.create(**kwargs)
    assert m.stop_reason == "tool_use"
    uses = [b for b in m.content if b.type == "tool_use"]
    assert len(uses) == 1, m.content
    assert uses[0].name == "get_weather" and uses[0].id
    assert uses[0].input == PARIS


@pytest.mark.parametrize("model,text", [
    pytest.param(CLAUDE, "sim_error:rate_limit_error", id="anthropic-channel",
                 marks=NEEDS_CLAUDE),
    pytest.param(GPT, "sim_fault:status=429;retry_after=1", id="openai-channel"),
])
def test_anthropic_sdk_rate_limit(claude_sdk, model: str, text: str) -> None:
    with pytest.raises(anthropic.RateLimitError) as ei:
        claude_sdk.messages.create(
            model=model, max_tokens=64, messages=[{"role": "user", "content": text}]
        )
    assert ei.value.status_code == 429
    body = ei.value.body
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error", body


@NEEDS_CLAUDE
def test_anthropic_sdk_gateway_key_refused(native_gateway) -> None:
    c = anthropic.Anthropic(api_key="sk-not-a-gateway-key-0000", base_url=native_gateway.url,
                            max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as ei:
        c.messages.create(model=CLAUDE, max_tokens=64,
                          messages=[{"role": "user", "content": "hi"}])
    assert ei.value.body["error"]["type"] == "authentication_error", ei.value.body


# ---- the google-genai SDK against generateContent --------------------------------------------


def _genai(gateway, key: str, api_version: str | None) -> genai.Client:
    opts = gt.HttpOptions(
        base_url=gateway.url + "/", timeout=30_000,
        retry_options=gt.HttpRetryOptions(attempts=1),
        **({"api_version": api_version} if api_version else {}),
    )
    return genai.Client(api_key=key, http_options=opts)


BACKENDS_GENAI = [pytest.param(GEMINI, id="gemini-channel", marks=NEEDS_GEMINI),
                  pytest.param(GPT, id="openai-channel")]
VERSIONS = [pytest.param(None, id="v1-default"), pytest.param("v1beta", id="v1beta")]


@pytest.mark.parametrize("api_version", VERSIONS)
@pytest.mark.parametrize("model", BACKENDS_GENAI)
def test_genai_generate_content(native_gateway, native_admin, native_key, model: str,
                                api_version: str | None) -> None:
    client = _genai(native_gateway, native_key["key"], api_version)
    text = f"hello {model} through generateContent"
    r = client.models.generate_content(model=model, contents=text)
    assert r.text == _reply(model, text)
    assert r.candidates[0].finish_reason == gt.FinishReason.STOP
    u = r.usage_metadata
    assert (u.prompt_token_count, u.candidates_token_count, u.total_token_count) == (
        _prompt_tokens(text), SIM_CHUNKS, _prompt_tokens(text) + SIM_CHUNKS,
    )
    row = _one_row(native_admin, native_key["id"])
    _check_row(row, endpoint="generateContent", model=model, prompt=_prompt_tokens(text),
               completion=SIM_CHUNKS, stream=False)


@pytest.mark.parametrize("api_version", VERSIONS)
@pytest.mark.parametrize("model", BACKENDS_GENAI)
def test_genai_generate_content_stream(native_gateway, native_admin, native_key, model: str,
                                       api_version: str | None) -> None:
    client = _genai(native_gateway, native_key["key"], api_version)
    text = f"stream {model} through generateContent"
    chunks = list(client.models.generate_content_stream(model=model, contents=text))
    assert len(chunks) >= 2
    assert "".join(c.text or "" for c in chunks) == _reply(model, text)
    assert chunks[-1].candidates[0].finish_reason == gt.FinishReason.STOP
    u = chunks[-1].usage_metadata
    assert (u.prompt_token_count, u.candidates_token_count, u.total_token_count) == (
        _prompt_tokens(text), SIM_CHUNKS, _prompt_tokens(text) + SIM_CHUNKS,
    )
    row = _one_row(native_admin, native_key["id"])
    _check_row(row, endpoint="generateContent", model=model, prompt=_prompt_tokens(text),
               completion=SIM_CHUNKS, stream=True)


@pytest.mark.parametrize("model", BACKENDS_GENAI)
def test_genai_function_call(native_gateway, native_key, model: str) -> None:
    client = _genai(native_gateway, native_key["key"], None)
    cfg = gt.GenerateContentConfig(
        tools=[gt.Tool(function_declarations=[gt.FunctionDeclaration(**WEATHER)])],
        automatic_function_calling=gt.AutomaticFunctionCallingConfig(disable=True),
    )
    r = client.models.generate_content(model=model, contents="weather in Paris?", config=cfg)
    calls = r.function_calls
    assert calls and len(calls) == 1, r
    assert calls[0].name == "get_weather"
    assert calls[0].args == PARIS


@pytest.mark.parametrize("model", BACKENDS_GENAI)
def test_genai_rate_limit(native_gateway, native_key, model: str) -> None:
    client = _genai(native_gateway, native_key["key"], None)
    text = ("sim_error:RESOURCE_EXHAUSTED" if model.startswith("gemini")
            else "sim_fault:status=429;retry_after=1")
    with pytest.raises(genai_errors.ClientError) as ei:
        client.models.generate_content(model=model, contents=text)
    assert ei.value.code == 429
    assert ei.value.status == "RESOURCE_EXHAUSTED", ei.value.details


EMBED_BACKENDS = [pytest.param("text-embedding-004", 768, id="gemini-channel",
                               marks=NEEDS_GEMINI),
                  pytest.param("text-embedding-3-small", 8, id="openai-channel")]


@pytest.mark.parametrize("model,dims", EMBED_BACKENDS)
def test_genai_embed_content(native_gateway, native_key, model: str, dims: int) -> None:
    client = _genai(native_gateway, native_key["key"], None)
    r = client.models.embed_content(model=model, contents=["first text", "second text"])
    assert len(r.embeddings) == 2
    assert all(len(e.values) == dims for e in r.embeddings)
    assert r.embeddings[0].values != r.embeddings[1].values
