"""The anthropic SDK maps the mock's injected failures (--fail-every 1) to its exception
classes: 529 → OverloadedError (plain and streamed), 429 → RateLimitError with
retry-after; a body without max_tokens gets 400 invalid_request_error."""

import os

import anthropic

from mock import URL, raises

MODEL = "claude-sonnet-4-6"
ASK = dict(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Say hi"}])


def client(url):
    return anthropic.Anthropic(base_url=url, api_key="k", max_retries=0, timeout=20)


overloaded = client(URL)
error = raises(anthropic.OverloadedError, lambda: overloaded.messages.create(**ASK))
assert error.status_code == 529, error
body = error.response.json()
assert body["type"] == "error" and body["error"]["type"] == "overloaded_error", body


def stream():
    with overloaded.messages.stream(**ASK) as events:
        "".join(events.text_stream)


raises(anthropic.OverloadedError, stream)

limited = client(os.environ["MOCK_RATE_URL"])
error = raises(anthropic.RateLimitError, lambda: limited.messages.create(**ASK))
assert error.status_code == 429 and error.response.headers["retry-after"] == "1", error
assert error.response.json()["error"]["type"] == "rate_limit_error", error.response.text

# The typed method requires max_tokens; the SDK's raw post shows the mock checks it too.
healthy = client(os.environ["MOCK_PLAIN_URL"])
no_max = {"model": MODEL, "messages": ASK["messages"]}
error = raises(
    anthropic.BadRequestError, lambda: healthy.post("/v1/messages", body=no_max, cast_to=object)
)
assert error.response.json()["error"] == {
    "type": "invalid_request_error",
    "message": "max_tokens: Field required",
}, error.response.text
print("anthropic errors: ok")
