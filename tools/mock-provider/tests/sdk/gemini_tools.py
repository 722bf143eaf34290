"""The google-genai SDK against a mock started with --tool-calls: a functionCall with a
thoughtSignature (plain and streamed), text quoting the functionResponse sent back with
the signed call, and a 400 when the signature is dropped, as Gemini 3 answers."""

from google import genai
from google.genai import errors, types

from mock import URL, raises

MODEL = "gemini-3-pro-preview"
client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=URL, timeout=20_000))
weather = types.FunctionDeclaration(
    name="get_weather",
    description="Current weather in a city",
    parameters=types.Schema(
        type="OBJECT",
        properties={"city": types.Schema(type="STRING"), "days": types.Schema(type="INTEGER")},
        required=["city", "days"],
    ),
)
CONFIG = types.GenerateContentConfig(
    tools=[types.Tool(function_declarations=[weather])],
    automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
)
question = types.Content(role="user", parts=[types.Part(text="Weather in Paris?")])

response = client.models.generate_content(model=MODEL, contents=[question], config=CONFIG)
(call,) = response.function_calls
assert (call.name, call.args) == ("get_weather", {"city": "example", "days": 1}), call
(part,) = response.candidates[0].content.parts
assert part.thought_signature and part.thought_signature.startswith(b"\xfb\xef\xff"), part
assert response.candidates[0].finish_reason == types.FinishReason.STOP

(chunk,) = client.models.generate_content_stream(model=MODEL, contents=[question], config=CONFIG)
assert chunk.function_calls[0].args == call.args, chunk
assert chunk.candidates[0].content.parts[0].thought_signature == part.thought_signature

answer = types.Content(
    role="user",
    parts=[types.Part.from_function_response(name="get_weather", response={"result": "Sunny"})],
)
history = [question, response.candidates[0].content, answer]
follow_up = client.models.generate_content(model=MODEL, contents=history, config=CONFIG)
assert not follow_up.function_calls, follow_up
assert follow_up.text.startswith('Got the tool result: "{"result":"Sunny"}".'), follow_up.text

unsigned = types.Content(role="model", parts=[types.Part(function_call=call)])
error = raises(
    errors.ClientError,
    lambda: client.models.generate_content(
        model=MODEL, contents=[question, unsigned, answer], config=CONFIG
    ),
)
assert error.code == 400 and "thought_signature" in error.message, error
print("gemini tools: ok")
