"""The official anthropic SDK's Messages API against modelgate: text whole and streamed,
the beta surface passed through (body, headers, raw stream bytes), a tool use turn, a
provider's error as the SDK's exception class, a stream cut mid-way, the gateway's headers
on a raw response, and count_tokens."""

import anthropic

from common import KEY, MODEL, URL, error_report, http_client, run

client = anthropic.Anthropic(
    base_url=URL, api_key=KEY, max_retries=0, timeout=30, http_client=http_client()
)
SAY_HI = [{"role": "user", "content": "Say hi"}]
TOOLS = [
    {
        "name": "get_weather",
        "description": "The weather in a city.",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
]
ASK_WEATHER = [{"role": "user", "content": "What is the weather in Paris?"}]


def usage(u):
    return u.model_dump(exclude_none=True)


def streamed(**ask):
    """The SDK's stream helper: event types, text, and the final message it assembles."""
    with client.messages.stream(**ask) as stream:
        types = [event.type for event in stream]
        final = stream.get_final_message()
    return {
        "types": types,
        "text": "".join(b.text for b in final.content if b.type == "text"),
        "content": [b.model_dump(exclude_none=True) for b in final.content],
        "stop_reason": final.stop_reason,
        "usage": usage(final.usage),
    }


def text():
    whole = client.messages.create(model=MODEL, max_tokens=100, system="Be terse.", messages=SAY_HI)
    return {
        "type": whole.type,
        "model": whole.model,
        "text": whole.content[0].text,
        "stop_reason": whole.stop_reason,
        "usage": usage(whole.usage),
        "stream": streamed(model=MODEL, max_tokens=100, system="Be terse.", messages=SAY_HI),
    }


# What Claude Code-like clients send through the beta surface: a beta header, cached system
# blocks and fields only Anthropic knows.
BETA = dict(
    model=MODEL,
    max_tokens=100,
    betas=["context-management-2025-06-27"],
    system=[{"type": "text", "text": "Be terse.", "cache_control": {"type": "ephemeral"}}],
    context_management={"edits": []},
    messages=SAY_HI,
)


def passthrough():
    whole = client.beta.messages.create(**BETA)
    with client.beta.messages.with_streaming_response.create(stream=True, **BETA) as response:
        raw = b"".join(response.iter_bytes()).decode("utf-8")
    return {
        "text": whole.content[0].text,
        "usage": usage(whole.usage),
        "raw_stream": raw,
        "stream": streamed(model=MODEL, max_tokens=100, messages=SAY_HI),
    }


def tools():
    first = client.messages.create(model=MODEL, max_tokens=100, tools=TOOLS, messages=ASK_WEATHER)
    call = next(b for b in first.content if b.type == "tool_use")
    stream = streamed(model=MODEL, max_tokens=100, tools=TOOLS, messages=ASK_WEATHER)
    turn = ASK_WEATHER + [
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": call.id, "content": "18 degrees and sunny"}
            ],
        },
    ]
    answer = client.messages.create(model=MODEL, max_tokens=100, tools=TOOLS, messages=turn)
    return {
        "stop_reason": first.stop_reason,
        "tool_use": {"id": call.id, "name": call.name, "input": call.input},
        "stream": stream,
        "answer": answer.content[0].text,
        "answer_stop_reason": answer.stop_reason,
    }


def error():
    try:
        client.messages.create(model=MODEL, max_tokens=100, messages=SAY_HI)
    except anthropic.APIStatusError as e:
        return error_report(e)
    return {"error_class": None}


def cut():
    """A stream the provider breaks off: the text before the break, then what the SDK raised."""
    text = ""
    try:
        with client.messages.stream(model=MODEL, max_tokens=100, messages=SAY_HI) as stream:
            for piece in stream.text_stream:
                text += piece
    except Exception as e:  # whatever the SDK raises is the observation
        return {"text": text, "message": str(e), **error_report(e)}
    return {"text": text, "error_class": None}


def attempts():
    """One call through with_raw_response: the gateway's headers and the parsed message."""
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=100, messages=SAY_HI)
    message = raw.parse()
    headers = {k: raw.headers.get(k) for k in ("x-modelgate-attempts", "x-modelgate-provider")}
    return {"headers": headers, "text": message.content[0].text, "usage": usage(message.usage)}


def count():
    counted = client.messages.count_tokens(model=MODEL, system="Be terse.", messages=SAY_HI)
    return {"input_tokens": counted.input_tokens}


run(
    {
        "text": text,
        "passthrough": passthrough,
        "tools": tools,
        "error": error,
        "cut": cut,
        "attempts": attempts,
        "count": count,
    }
)
