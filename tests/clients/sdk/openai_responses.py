"""The official openai SDK's Responses API (client.responses) against modelgate: text from a
string input and from items, the stream helper (events, their order and numbering, when
each text delta arrived, the final response), a function call whole and streamed then the
turn carrying its output, a json_schema text format, the pass-through surface (a stored
response's id, the raw stream bytes), a provider's error and the gateway's own as the SDK's
exception classes, a stream cut mid-way, and the gateway's headers on a raw response."""

import json
import time

import openai

from common import KEY, MODEL, URL, error_report, http_client, run

client = openai.OpenAI(
    base_url=f"{URL}/v1", api_key=KEY, max_retries=0, timeout=30, http_client=http_client()
)
TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    }
]
ASK_WEATHER = [{"role": "user", "content": "What is the weather in Paris?"}]
# What Codex sends as input: the developer's instructions, then the user's turn, as items.
ITEMS = [
    {
        "type": "message",
        "role": "developer",
        "content": [{"type": "input_text", "text": "Be terse."}],
    },
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Say hi"}]},
]
SCHEMA = {
    "type": "json_schema",
    "name": "weather",
    "schema": {
        "type": "object",
        "properties": {"degrees": {"type": "integer"}},
        "required": ["degrees"],
        "additionalProperties": False,
    },
    "strict": True,
}


def usage(u):
    return u.model_dump(exclude_none=True) if u is not None else None


def whole(response):
    """What a test needs of a Response: its kind, text, items and usage."""
    return {
        "object": response.object,
        "id": response.id,
        "status": response.status,
        "model": response.model,
        "text": response.output_text,
        "output": [item.model_dump(exclude_none=True) for item in response.output],
        "usage": usage(response.usage),
    }


def streamed(**ask):
    """The SDK's stream helper: every event's type and sequence_number, when each text
    delta arrived (Unix seconds, to compare with the mock's send instants), then the final
    response it assembled, or what it raised."""
    events, delta_times, text, arguments = [], [], "", ""
    observed = {"events": events, "delta_times": delta_times}
    try:
        with client.responses.stream(**ask) as events_in:
            for event in events_in:
                events.append(
                    {"type": event.type, "sequence_number": getattr(event, "sequence_number", None)}
                )
                if event.type == "response.output_text.delta":
                    delta_times.append(time.time())
                    text += event.delta
                elif event.type == "response.function_call_arguments.delta":
                    arguments += event.delta
                elif event.type == "response.failed":
                    observed["failed"] = event.response.error.model_dump(exclude_none=True)
            observed["final"] = whole(events_in.get_final_response())
    except Exception as e:  # whatever the SDK raises is the observation
        observed.update({"message": str(e), **error_report(e)})
    observed["text"] = text
    observed["arguments"] = arguments
    return observed


def text():
    by_string = client.responses.create(
        model=MODEL, instructions="Be terse.", input="Say hi", max_output_tokens=100
    )
    by_items = client.responses.create(model=MODEL, input=ITEMS)
    return {"string": whole(by_string), "items": whole(by_items)}


def stream():
    return streamed(model=MODEL, input=ITEMS)


def call_of(response):
    return next(item for item in response.output if item.type == "function_call")


def described(call):
    """A function_call item, its arguments parsed."""
    return {
        "id": call.id,
        "call_id": call.call_id,
        "name": call.name,
        "arguments": json.loads(call.arguments),
        "status": call.status,
    }


def tools():
    """A call whole, then streamed; the streamed call and its output go back as items."""
    first = client.responses.create(model=MODEL, input=ASK_WEATHER, tools=TOOLS)
    call = call_of(first)
    with client.responses.stream(model=MODEL, input=ASK_WEATHER, tools=TOOLS) as events_in:
        types = [event.type for event in events_in]
        final = events_in.get_final_response()
    streamed_call = call_of(final)
    turn = ASK_WEATHER + [
        streamed_call.model_dump(exclude_none=True),
        {
            "type": "function_call_output",
            "call_id": streamed_call.call_id,
            "output": "18 degrees and sunny",
        },
    ]
    answer = client.responses.create(model=MODEL, input=turn, tools=TOOLS)
    return {
        "call": described(call),
        "stream": {"types": types, "call": described(streamed_call), "usage": usage(final.usage)},
        "answer": answer.output_text,
    }


def schema():
    response = client.responses.create(model=MODEL, input=ASK_WEATHER, text={"format": SCHEMA})
    return whole(response)


def passthrough():
    """A follow-up turn by id (state only OpenAI keeps), whole; then the raw stream bytes."""
    by_id = client.responses.create(
        model=MODEL, input="And tomorrow?", previous_response_id="resp_prev_123", store=True
    )
    with client.responses.with_streaming_response.create(
        model=MODEL, input=ITEMS, stream=True
    ) as response:
        raw = b"".join(response.iter_bytes()).decode("utf-8")
    return {"whole": whole(by_id), "raw_stream": raw}


def error():
    try:
        client.responses.create(model=MODEL, input=ASK_WEATHER)
    except openai.APIStatusError as e:
        return error_report(e)
    return {"error_class": None}


def stateless():
    """previous_response_id names state; a translating gateway keeps none."""
    try:
        client.responses.create(
            model=MODEL, input="And tomorrow?", previous_response_id="resp_prev_123"
        )
    except openai.APIStatusError as e:
        return error_report(e)
    return {"error_class": None}


def cut():
    return streamed(model=MODEL, input=ASK_WEATHER)


def attempts():
    """One call through with_raw_response: the gateway's headers and the parsed reply."""
    raw = client.responses.with_raw_response.create(model=MODEL, input=ASK_WEATHER)
    response = raw.parse()
    headers = {k: raw.headers.get(k) for k in ("x-modelgate-attempts", "x-modelgate-provider")}
    return {"headers": headers, "text": response.output_text}


run(
    {
        "text": text,
        "stream": stream,
        "tools": tools,
        "schema": schema,
        "passthrough": passthrough,
        "error": error,
        "stateless": stateless,
        "cut": cut,
        "attempts": attempts,
    }
)
