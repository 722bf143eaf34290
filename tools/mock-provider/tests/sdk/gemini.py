"""The google-genai SDK against a mock started with --require-key, on the GA (/v1) and beta
(/v1beta) paths: generate_content,
generate_content_stream (text over 18 responses, finish reason and usage on the last),
count_tokens, models.list/get, and Google's answer to a wrong key."""

from google import genai
from google.genai import errors, types

from mock import KEY, URL, raises, reply

MODEL = "gemini-2.5-flash"
OPTIONS = types.HttpOptions(base_url=URL, timeout=20_000)
client = genai.Client(api_key=KEY, http_options=OPTIONS)

response = client.models.generate_content(model=MODEL, contents="Say hi")
assert response.text == reply(MODEL), response
(candidate,) = response.candidates
assert candidate.finish_reason == types.FinishReason.STOP, candidate
assert candidate.content.role == "model", candidate
usage = response.usage_metadata
assert usage.prompt_token_count > 0 and usage.candidates_token_count == 18, usage
assert usage.total_token_count == usage.prompt_token_count + 18, usage
assert response.model_version == MODEL and response.response_id, response

chunks = list(client.models.generate_content_stream(model=MODEL, contents="Say hi"))
assert len(chunks) == 18, len(chunks)
assert "".join(chunk.text for chunk in chunks) == reply(MODEL)
assert all(chunk.candidates[0].finish_reason is None for chunk in chunks[:-1]), chunks
last = chunks[-1]
assert last.candidates[0].finish_reason == types.FinishReason.STOP, last
assert last.usage_metadata.candidates_token_count == 18, last.usage_metadata
assert last.usage_metadata.total_token_count == usage.total_token_count, last.usage_metadata

count = client.models.count_tokens(model=MODEL, contents="Say hi")
assert count.total_tokens == usage.prompt_token_count, count

names = [model.name for model in client.models.list()]
assert names[:3] == ["models/mock-small", "models/mock-large", "models/mock-embed"], names
assert f"models/{MODEL}" in names, names
assert client.models.get(model=MODEL).name == f"models/{MODEL}"

# The SDK calls the GA API (/v1/models/…) by default; the beta one answers the same.
beta = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=URL, api_version="v1beta"))
assert beta.models.generate_content(model=MODEL, contents="Say hi").text == reply(MODEL)
streamed = beta.models.generate_content_stream(model=MODEL, contents="Say hi")
assert "".join(chunk.text for chunk in streamed) == reply(MODEL)
assert f"models/{MODEL}" in [model.name for model in beta.models.list()]

wrong = genai.Client(api_key="wrong", http_options=OPTIONS)
error = raises(
    errors.ClientError, lambda: wrong.models.generate_content(model=MODEL, contents="hi")
)
assert (error.code, error.status) == (400, "INVALID_ARGUMENT"), error
assert error.details["error"]["details"][0]["reason"] == "API_KEY_INVALID", error.details
print("gemini: ok")
