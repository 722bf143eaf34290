"""What the SDK scripts share. tests/integration/sdk_clients.rs runs each script with the
gateway's address, a gateway key and a model in the environment (GATEWAY_URL, GATEWAY_KEY,
MODEL) and a scenario name as the only argument; the script makes that scenario's calls
with the official SDK and prints one JSON line of what it observed. The Rust test asserts
on that line and on what the mock upstream received, so the scripts judge nothing."""

import json
import os
import sys

import httpx2

URL = os.environ["GATEWAY_URL"]
KEY = os.environ["GATEWAY_KEY"]
MODEL = os.environ["MODEL"]

# A 1x1 PNG, sent as a data URL or a base64 block.
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

# Every request the SDK put on the wire, in order: what the client really sent, to compare
# with what the upstream got.
SENT = []


def http_client():
    """An httpx2 client that records each request (proxies from the environment ignored:
    the gateway is on 127.0.0.1)."""

    def record(request):
        SENT.append(
            {
                "method": request.method,
                "url": str(request.url),
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": request.content.decode("utf-8", "replace"),
            }
        )

    return httpx2.Client(event_hooks={"request": [record]}, timeout=30, trust_env=False)


def error_report(error):
    """What a test needs to know of an SDK exception: its class, status and body."""
    response = getattr(error, "response", None)
    return {
        "error_class": type(error).__name__,
        "status": getattr(error, "status_code", None),
        "body": getattr(error, "body", None),
        "retry_after": response.headers.get("retry-after") if response is not None else None,
    }


def run(scenarios):
    """Runs the scenario named by argv[1] and prints its observations as one JSON line."""
    name = sys.argv[1]
    observed = scenarios[name]()
    observed["sent"] = SENT
    print(json.dumps(observed))
