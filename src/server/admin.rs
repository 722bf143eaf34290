//! The admin listener (`admin_listen`): `GET /metrics` in Prometheus' text
//! format, and nothing else. Pingora's stock Prometheus service answered any
//! method and path with the metrics, and logged a malformed request's raw
//! bytes (an `Authorization` header included) at ERROR. Here every other
//! path is a 404 and every other method a 405, and a request that is not
//! HTTP closes the connection with its error kind logged at debug, never its
//! bytes. The admin API will live here too.

use async_trait::async_trait;
use bytes::Bytes;
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ReusedHttpStream};
use pingora::http::ResponseHeader;
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use pingora_prometheus::prometheus::{self, Encoder, TextEncoder};
use std::sync::Arc;

pub struct Admin;

impl Admin {
    /// The status and body for one request head.
    fn answer(session: &ServerSession) -> (u16, &'static str, Vec<u8>) {
        let req = session.req_header();
        let get = req.method == http::Method::GET || req.method == http::Method::HEAD;
        match (req.uri.path(), get) {
            ("/metrics", true) => {
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
            ("/metrics", false) => (405, "text/plain", b"only GET /metrics\n".to_vec()),
            _ => (
                404,
                "text/plain",
                b"not found: the admin listener serves GET /metrics\n".to_vec(),
            ),
        }
    }

    async fn respond(session: &mut ServerSession) -> pingora::Result<()> {
        let (status, content_type, body) = Self::answer(session);
        let mut head = ResponseHeader::build_no_case(status, Some(3))?;
        head.insert_header(http::header::CONTENT_TYPE, content_type)?;
        head.insert_header(http::header::CONTENT_LENGTH, body.len())?;
        if status == 405 {
            head.insert_header(http::header::ALLOW, "GET, HEAD")?;
        }
        session.write_response_header(Box::new(head)).await?;
        session.write_response_body(Bytes::from(body), true).await
    }
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
        if let Err(e) = Self::respond(&mut session).await {
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
