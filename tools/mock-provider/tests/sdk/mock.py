"""What the SDK scripts share: where the mock is (set by tests/sdk.rs) and what it answers."""

import os

URL = os.environ["MOCK_URL"]
KEY = os.environ.get("MOCK_KEY", "unused")


def reply(model):
    """The mock's usual reply text for `model` (18 words)."""
    return (
        f"Hello! This is a mock reply from {model}. "
        "No real model was called; the gateway round trip works."
    )


def raises(error_class, call):
    """Runs `call` and returns the `error_class` it must raise."""
    try:
        call()
    except error_class as error:
        return error
    raise AssertionError(f"expected {error_class.__name__}")
