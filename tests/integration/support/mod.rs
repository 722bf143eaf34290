//! Test support for the integration binary: a programmable mock upstream speaking the
//! OpenAI (chat completions and Responses), Anthropic Messages and Gemini wire formats,
//! chosen by request path (`mock`, `behaviour`, with `reply`, `wire`, `dialect`,
//! `answer`, `openai`, `responses`, `anthropic`, `gemini` behind it), a throwaway TLS CA
//! (`tls`), a harness that runs the real `modelgate` binary (`gateway`, `process`) and
//! client helpers (`client`). No product code is linked in: tests talk to the gateway
//! over sockets, like a user.

// Not every test module uses every helper.
#![allow(dead_code, unused_imports)]

mod answer;
mod anthropic;
mod behaviour;
mod cli;
mod client;
mod dialect;
mod gateway;
mod gemini;
mod mock;
mod openai;
mod process;
mod reply;
mod responses;
mod teams;
mod tls;
mod usage;
mod wire;

pub use behaviour::Behaviour;
pub use cli::{assert_tool_output_sent, cli_bin, posted, run_cli};
pub use client::{
    anthropic_body, anthropic_event, assert_openai_error, chat_body, chat_stream_body, gemini_body,
    gemini_frame, header, http_client, post_json, read_sse_events, sse_data, try_read_sse_events,
    usage_only,
};
pub use gateway::{
    closed_base_url, instances_yaml, provider_yaml, typed_provider_yaml, write_file, Gateway,
    GatewayBuilder,
};
pub use gemini::MOCK_THOUGHT_SIGNATURE;
pub use mock::{bases, MockUpstream, RecordedRequest, SentEvent};
pub use openai::{error_envelope, MOCK_PROMPT_TOKENS};
pub use process::{run_modelgate, run_modelgate_in, Listening, MODELGATE};
pub use teams::{
    admin, admin_as, create_key, metric, metrics_text, reset_secs, start_with_admin,
    wait_requests_done, KeptConnection, ADMIN_KEY,
};
pub use tls::TestCa;
pub use usage::{
    admin_call, create_key_as, settled_metrics, usage_report, wait_for_usage, Successor,
};
