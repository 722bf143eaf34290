"""The anthropic SDK against a mock started with --require-key: messages.create,
messages.stream (text and the final message's usage), the raw event sequence, the beta
path, count_tokens, the models list, both key headers and the 401."""

import anthropic

from mock import KEY, URL, raises, reply

MODEL = "claude-sonnet-4-6"
ASK = dict(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Say hi"}])
client = anthropic.Anthropic(base_url=URL, api_key=KEY, max_retries=0, timeout=20)

message = client.messages.create(**ASK)
assert message.id.startswith("msg_"), message.id
assert (message.type, message.role, message.model) == ("message", "assistant", MODEL)
assert [block.type for block in message.content] == ["text"], message.content
assert message.content[0].text == reply(MODEL), message.content[0].text
assert message.stop_reason == "end_turn", message.stop_reason
usage = message.usage
assert usage.input_tokens > 0 and usage.output_tokens == 18, usage
assert usage.cache_creation_input_tokens == 0 and usage.cache_read_input_tokens == 0, usage

with client.messages.stream(**ASK) as stream:
    text = "".join(stream.text_stream)
    final = stream.get_final_message()
assert text == reply(MODEL), text
assert final.content[0].text == text and final.stop_reason == "end_turn", final
assert final.usage.output_tokens == 18, final.usage
assert final.usage.input_tokens == usage.input_tokens, final.usage

# The raw events (the SDK drops `ping`): one text block in 18 deltas, then the stop.
events = [event.type for event in client.messages.create(**ASK, stream=True)]
assert events == (
    ["message_start", "content_block_start"]
    + ["content_block_delta"] * 18
    + ["content_block_stop", "message_delta", "message_stop"]
), events

beta = client.beta.messages.create(**ASK)
assert beta.content[0].text == reply(MODEL), beta
# What Claude Code calls: POST /v1/messages?beta=true.
claude_code = client.messages.create(**ASK, extra_query={"beta": "true"})
assert claude_code.content[0].text == reply(MODEL), claude_code

count = client.messages.count_tokens(model=MODEL, messages=ASK["messages"])
assert count.input_tokens == usage.input_tokens, count

ids = [model.id for model in client.models.list()]
assert ids[:3] == ["mock-small", "mock-large", "mock-embed"] and MODEL in ids, ids
assert client.models.retrieve(MODEL).id == MODEL

# The key as a bearer token (ANTHROPIC_AUTH_TOKEN, what Claude Code sends) works too.
bearer = anthropic.Anthropic(base_url=URL, api_key=None, auth_token=KEY, max_retries=0)
assert bearer.messages.create(**ASK).content[0].text == reply(MODEL)

wrong = anthropic.Anthropic(base_url=URL, api_key="wrong", max_retries=0)
error = raises(anthropic.AuthenticationError, lambda: wrong.messages.create(**ASK))
assert error.status_code == 401, error
assert error.response.json()["error"]["type"] == "authentication_error", error.response.text
print("anthropic messages: ok")
