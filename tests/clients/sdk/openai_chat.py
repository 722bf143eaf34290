"""The official openai SDK's chat.completions against modelgate: text whole and streamed
(with include_usage), a tool call whole and streamed then the turn carrying its result, an
image as a data URL, a provider's error as the SDK's exception class, a stream cut
mid-way, and the gateway's headers on a raw response."""

import json

import openai

from common import KEY, MODEL, PNG, URL, error_report, http_client, run

client = openai.OpenAI(
    base_url=f"{URL}/v1", api_key=KEY, max_retries=0, timeout=30, http_client=http_client()
)
STREAM = {"stream": True, "stream_options": {"include_usage": True}}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
ASK_WEATHER = [{"role": "user", "content": "What is the weather in Paris?"}]


def usage(u):
    return u.model_dump(exclude_none=True) if u is not None else None


def collect(chunks):
    """Text, tool calls (by index, arguments joined), finish reason and usage of a stream."""
    text, calls, finish, last_usage, count = "", {}, None, None, 0
    for chunk in chunks:
        count += 1
        if chunk.usage is not None:
            last_usage = usage(chunk.usage)
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
            for call in choice.delta.tool_calls or []:
                entry = calls.setdefault(call.index, {"id": None, "name": "", "arguments": ""})
                entry["id"] = call.id or entry["id"]
                if call.function is not None:
                    entry["name"] += call.function.name or ""
                    entry["arguments"] += call.function.arguments or ""
    for entry in calls.values():
        entry["arguments"] = json.loads(entry["arguments"])
    return {
        "text": text,
        "tool_calls": [calls[i] for i in sorted(calls)],
        "finish": finish,
        "usage": last_usage,
        "chunks": count,
    }


def text():
    messages = [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Say hi"},
    ]
    whole = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=100)
    streamed = collect(client.chat.completions.create(model=MODEL, messages=messages, **STREAM))
    return {
        "object": whole.object,
        "model": whole.model,
        "text": whole.choices[0].message.content,
        "finish": whole.choices[0].finish_reason,
        "usage": usage(whole.usage),
        "stream": streamed,
    }


def tools():
    whole = client.chat.completions.create(model=MODEL, messages=ASK_WEATHER, tools=TOOLS)
    message = whole.choices[0].message
    call = message.tool_calls[0]
    streamed = collect(
        client.chat.completions.create(model=MODEL, messages=ASK_WEATHER, tools=TOOLS, **STREAM)
    )
    turn = ASK_WEATHER + [
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
        {"role": "tool", "tool_call_id": call.id, "content": "18 degrees and sunny"},
    ]
    answer = client.chat.completions.create(model=MODEL, messages=turn, tools=TOOLS)
    return {
        "finish": whole.choices[0].finish_reason,
        "tool_call": {
            "id": call.id,
            "name": call.function.name,
            "arguments": json.loads(call.function.arguments),
        },
        "stream": streamed,
        "answer": answer.choices[0].message.content,
    }


def image():
    content = [
        {"type": "text", "text": "What is in this image?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
    ]
    whole = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": content}]
    )
    return {"text": whole.choices[0].message.content, "png": PNG}


def error():
    try:
        client.chat.completions.create(model=MODEL, messages=ASK_WEATHER)
    except openai.APIStatusError as e:
        return error_report(e)
    return {"error_class": None}


def cut():
    """A stream the provider breaks off: the text before the break, then what the SDK raised."""
    text = ""
    try:
        for chunk in client.chat.completions.create(model=MODEL, messages=ASK_WEATHER, **STREAM):
            for choice in chunk.choices:
                text += choice.delta.content or ""
    except Exception as e:  # whatever the SDK raises is the observation
        return {"text": text, "message": str(e), **error_report(e)}
    return {"text": text, "error_class": None}


def attempts():
    """One call through with_raw_response: the gateway's headers and the parsed reply."""
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=ASK_WEATHER)
    completion = raw.parse()
    headers = {k: raw.headers.get(k) for k in ("x-modelgate-attempts", "x-modelgate-provider")}
    return {"headers": headers, "text": completion.choices[0].message.content}


run(
    {
        "text": text,
        "tools": tools,
        "image": image,
        "error": error,
        "cut": cut,
        "attempts": attempts,
    }
)
