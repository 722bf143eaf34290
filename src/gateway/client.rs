//! The client's side of a connection: its request body, read whole and
//! bounded, and watching for it to leave while the gateway waits on an
//! upstream.

use super::GatewayError;
use bytes::BytesMut;
use pingora::protocols::http::ServerSession;
use pingora::ErrorType;
use pingora_timeout::fast_timeout::fast_timeout;
use std::time::Duration;

/// The whole request body: 413 past `limit` (checked against
/// `Content-Length` before reading a byte, and again while reading chunked),
/// 408 if it does not arrive whole within `within` or stalls for `stall`.
pub async fn read_body(
    session: &mut ServerSession,
    limit: u64,
    within: Duration,
    stall: Duration,
) -> Result<bytes::Bytes, GatewayError> {
    let too_large = GatewayError::BodyTooLarge { limit };
    let declared = session
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        session.set_keepalive(None);
        return Err(too_large);
    }
    let expects_continue = session
        .req_header()
        .headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects_continue {
        session
            .write_continue_response()
            .await
            .map_err(|_| GatewayError::Internal)?;
    }
    session.set_read_timeout(Some(stall.min(within)));
    let mut buf = BytesMut::with_capacity(declared.map_or(16 * 1024, |n| n as usize));
    let read = fast_timeout(within, async {
        loop {
            match session.read_request_body().await {
                Ok(Some(chunk)) => {
                    if (buf.len() + chunk.len()) as u64 > limit {
                        return Err(too_large);
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(()),
                Err(e) if e.etype() == &ErrorType::ReadTimedout => return Err(too_slow(within)),
                Err(_) => {
                    return Err(GatewayError::InvalidJson(
                        "the request body could not be read completely".into(),
                    ))
                }
            }
        }
    })
    .await;
    match read {
        Ok(Ok(())) => Ok(buf.freeze()),
        Ok(Err(e)) => {
            session.set_keepalive(None);
            Err(e)
        }
        Err(_) => {
            session.set_keepalive(None);
            Err(too_slow(within))
        }
    }
}

/// 408 for a body slower than `connections.body`.
fn too_slow(within: Duration) -> GatewayError {
    GatewayError::RequestTimeout {
        part: "body",
        limit_s: within.as_secs().max(1),
    }
}

/// Resolves when the client closes its connection (never if it stays).
pub async fn gone(session: &mut ServerSession) {
    loop {
        match session.read_body_or_idle(true).await {
            Err(_) => return,
            Ok(Some(_)) => continue,
            Ok(None) => std::future::pending::<()>().await,
        }
    }
}
