//! The admin listener (`admin_listen`): `GET /metrics` in Prometheus' text
//! format, and, with `auth.admin_key` set, the admin API: team keys
//! (`/admin/keys...`) and `POST /admin/instances/{id}/reset`. Pingora's
//! stock Prometheus service answered any method and path with the metrics,
//! and logged a malformed request's raw bytes (an `Authorization` header
//! included) at ERROR. Here every other path is a 404, and a request that
//! is not HTTP closes the connection with its error kind logged at debug,
//! never its bytes. Admin calls need `Authorization: Bearer <admin_key>`,
//! compared in constant time; without `admin_key` the API is off (404).

use crate::gateway::State;
use crate::teams::{admin_keys, AdminError};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ReusedHttpStream};
use pingora::http::ResponseHeader;
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use pingora_prometheus::prometheus::{self, Encoder, TextEncoder};
use serde_json::{json, Value};
use std::sync::Arc;

/// The largest admin request body (a key's settings are a few hundred bytes).
const MAX_BODY: usize = 64 * 1024;

pub struct Admin {
    state: Arc<State>,
}

/// An answer: status, content type, body.
type Answer = (u16, &'static str, Vec<u8>);

impl Admin {
    pub fn new(state: Arc<State>) -> Self {
        Self { state }
    }

    fn metrics(session: &ServerSession) -> Answer {
        let req = session.req_header();
        if req.method != http::Method::GET && req.method != http::Method::HEAD {
            return (405, "text/plain", b"only GET /metrics\n".to_vec());
        }
        let encoder = TextEncoder::new();
        let mut body = Vec::new();
        match encoder.encode(&prometheus::gather(), &mut body) {
            Ok(()) => (200, "text/plain; version=0.0.4", body),
            Err(_) => (
                500,
                "text/plain",
                b"metrics could not be encoded\n".to_vec(),
            ),
        }
    }

    /// One admin API call, once the admin key was checked.
    async fn api(&self, session: &mut ServerSession) -> Answer {
        let req = session.req_header();
        let (method, path) = (req.method.clone(), req.uri.path().to_string());
        if let Some(id) =
            (path.strip_prefix("/admin/instances/")).and_then(|rest| rest.strip_suffix("/reset"))
        {
            return match method == http::Method::POST {
                true => self.reset(id),
                false => error(405, "method_not_allowed", "POST to reset an instance"),
            };
        }
        let body = match read_body(session).await {
            Ok(body) => body,
            Err(answer) => return answer,
        };
        let state = self.state.clone();
        let call =
            tokio::task::spawn_blocking(move || admin_keys(&state.teams, &method, &path, &body));
        match call.await {
            Ok(Some(Ok((status, value)))) => (status, "application/json", value.to_string().into()),
            Ok(Some(Err(e))) => admin_error(&e),
            Ok(None) => error(
                404,
                "unknown_url",
                "see /admin/keys and /admin/instances/{id}/reset",
            ),
            Err(_) => error(500, "internal_error", "internal error"),
        }
    }

    /// Clear an instance's cooldowns and close its breaker.
    fn reset(&self, id: &str) -> Answer {
        // Ids of an `api_keys` list hold a `#`, sent as `%23`.
        let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy();
        let id = id.as_ref();
        let Some(i) = self.state.upstreams.iter().position(|u| &*u.id == id) else {
            return error(
                404,
                "instance_not_found",
                "no instance has that id (see /health)",
            );
        };
        self.state.router.health().reset(i);
        log::info!("instance {id}: cooldowns cleared and breaker closed (admin API)");
        let body = json!({ "id": id, "reset": true });
        (200, "application/json", body.to_string().into())
    }

    async fn answer(&self, session: &mut ServerSession) -> Answer {
        let path = session.req_header().uri.path();
        if path == "/metrics" {
            return Self::metrics(session);
        }
        let teams = &self.state.teams;
        if !path.starts_with("/admin/") || !teams.admin_enabled() {
            return (
                404,
                "text/plain",
                b"not found: the admin listener serves GET /metrics, and /admin/... with auth.admin_key set\n".to_vec(),
            );
        }
        if !teams.is_admin(&session.req_header().headers) {
            return error(
                401,
                "invalid_api_key",
                "send the admin key: Authorization: Bearer <admin_key>",
            );
        }
        self.api(session).await
    }

    async fn respond(&self, session: &mut ServerSession) -> pingora::Result<()> {
        let (status, content_type, body) = self.answer(session).await;
        if !session.is_body_done() {
            // A body left unread (a refused call) would be read as the
            // next request.
            session.set_keepalive(None);
        }
        let mut head = ResponseHeader::build_no_case(status, Some(3))?;
        head.insert_header(http::header::CONTENT_TYPE, content_type)?;
        head.insert_header(http::header::CONTENT_LENGTH, body.len())?;
        if status == 405 {
            head.insert_header(http::header::ALLOW, "GET, HEAD, POST, PATCH, DELETE")?;
        }
        session.write_response_header(Box::new(head)).await?;
        session.write_response_body(Bytes::from(body), true).await
    }
}

/// The request body, up to [`MAX_BODY`].
async fn read_body(session: &mut ServerSession) -> Result<Bytes, Answer> {
    let mut body = BytesMut::new();
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) if body.len() + chunk.len() <= MAX_BODY => {
                body.extend_from_slice(&chunk)
            }
            Ok(Some(_)) => {
                session.set_keepalive(None);
                return Err(error(
                    413,
                    "request_too_large",
                    "admin bodies are at most 64 KiB",
                ));
            }
            Ok(None) => return Ok(body.freeze()),
            Err(_) => {
                session.set_keepalive(None);
                return Err(error(
                    400,
                    "malformed_request",
                    "the request body could not be read",
                ));
            }
        }
    }
}

fn admin_error(e: &AdminError) -> Answer {
    let (status, code) = match e {
        AdminError::Invalid(_) => (400, "invalid_request"),
        AdminError::NotFound(_) => (404, "key_not_found"),
        AdminError::NameTaken(_) => (409, "name_taken"),
        AdminError::FileKey(_) => (409, "defined_in_file"),
        AdminError::NoStore | AdminError::Store(_) => (503, "store_unavailable"),
        AdminError::Internal => (500, "internal_error"),
    };
    if let AdminError::Store(inner) = e {
        log::warn!("admin API: {inner}");
    }
    error(status, code, &e.to_string())
}

/// An error in OpenAI's envelope.
fn error(status: u16, code: &str, message: &str) -> Answer {
    let kind = match status {
        401 => "authentication_error",
        404 => "not_found_error",
        500 | 503 => "server_error",
        _ => "invalid_request_error",
    };
    let body: Value =
        json!({"error": {"message": message, "type": kind, "code": code, "param": null}});
    (status, "application/json", body.to_string().into())
}

#[async_trait]
impl HttpServerApp for Admin {
    async fn process_new_http(
        self: &Arc<Self>,
        mut session: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        match session.read_request().await {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                // The error's context holds the raw request bytes: not logged.
                log::debug!(
                    "admin listener: unreadable request ({})",
                    e.etype().as_str()
                );
                return None;
            }
        }
        if *shutdown.borrow() {
            session.set_keepalive(None);
        }
        if let Err(e) = self.respond(&mut session).await {
            log::debug!(
                "admin listener: response not delivered ({})",
                e.etype().as_str()
            );
            return None;
        }
        let settings = HttpPersistentSettings::for_session(&session);
        let reusable = session.finish().await.ok().flatten()?;
        Some(ReusedHttpStream::from_reusable_stream(reusable, settings))
    }
}
