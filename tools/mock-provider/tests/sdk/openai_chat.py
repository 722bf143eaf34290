"""The openai SDK against the mock's OpenAI paths (unchanged by the other dialects):
a chat completion, a streamed one with usage, and the model list."""

import openai

from mock import URL, reply

MODEL = "mock-small"
client = openai.OpenAI(base_url=f"{URL}/v1", api_key="k", max_retries=0, timeout=20)
ASK = dict(model=MODEL, messages=[{"role": "user", "content": "Say hi"}])

completion = client.chat.completions.create(**ASK)
assert completion.choices[0].message.content == reply(MODEL), completion
assert completion.usage.completion_tokens == 18, completion.usage

chunks = list(client.chat.completions.create(**ASK, stream=True,
                                             stream_options={"include_usage": True}))
text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
assert text == reply(MODEL), text
assert chunks[-1].usage.total_tokens == completion.usage.total_tokens, chunks[-1]

assert [m.id for m in client.models.list()] == ["mock-small", "mock-large", "mock-embed"]
print("openai: ok")
