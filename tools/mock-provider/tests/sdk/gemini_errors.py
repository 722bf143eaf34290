"""The google-genai SDK against mocks started with --fail-every 1: a 429 is a ClientError
RESOURCE_EXHAUSTED whose RetryInfo says 1s; a 503 is a ServerError UNAVAILABLE."""

import os

from google import genai
from google.genai import errors, types

from mock import URL, raises

MODEL = "gemini-2.5-flash"


def generate(url):
    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=url))
    return lambda: client.models.generate_content(model=MODEL, contents="hi")


error = raises(errors.ClientError, generate(URL))
assert (error.code, error.status) == (429, "RESOURCE_EXHAUSTED"), error
retry = error.details["error"]["details"][0]
assert retry == {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}, retry

error = raises(errors.ServerError, generate(os.environ["MOCK_UNAVAILABLE_URL"]))
assert (error.code, error.status) == (503, "UNAVAILABLE"), error
print("gemini errors: ok")
