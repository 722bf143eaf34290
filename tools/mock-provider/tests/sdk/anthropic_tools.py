"""The anthropic SDK against a mock started with --tool-calls: a request with tools gets a
tool_use block (plain and streamed alike), the tool_result gets text quoting it."""

import anthropic

from mock import URL, reply

MODEL = "claude-sonnet-4-6"
WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
}
QUESTION = {"role": "user", "content": "Weather in Paris?"}
ASK = dict(model=MODEL, max_tokens=256, tools=[WEATHER], messages=[QUESTION])
client = anthropic.Anthropic(base_url=URL, api_key="k", max_retries=0, timeout=20)

message = client.messages.create(**ASK)
assert message.stop_reason == "tool_use", message
(use,) = message.content
assert use.type == "tool_use" and use.id.startswith("toolu_"), use
assert (use.name, use.input) == ("get_weather", {"city": "example", "days": 1}), use

with client.messages.stream(**ASK) as stream:
    streamed = stream.get_final_message()
assert streamed.stop_reason == "tool_use", streamed
assert [(b.type, b.id, b.name, b.input) for b in streamed.content] == [
    ("tool_use", use.id, use.name, use.input)
], streamed.content

result = {"type": "tool_result", "tool_use_id": use.id, "content": "Sunny, 21 °C"}
history = [
    QUESTION,
    {"role": "assistant", "content": [{"type": "tool_use", "id": use.id, "name": use.name,
                                       "input": use.input}]},
    {"role": "user", "content": [result]},
]
answer = client.messages.create(**{**ASK, "messages": history})
assert answer.stop_reason == "end_turn", answer
text = answer.content[0].text
assert text.startswith('Got the tool result: "Sunny, 21 °C".') and MODEL in text, text
with client.messages.stream(**{**ASK, "messages": history}) as stream:
    assert "".join(stream.text_stream) == text

# tool_choice none: the usual text.
plain = client.messages.create(**ASK, tool_choice={"type": "none"})
assert plain.content[0].text == reply(MODEL), plain
print("anthropic tools: ok")
