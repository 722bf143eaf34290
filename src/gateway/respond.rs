//! Responses the gateway writes itself: errors in the client's dialect, and
//! the local JSON endpoints. Every one carries `x-request-id`.

use super::cors;
use super::headers::{add_routed, Routed, X_REQUEST_ID};
use super::GatewayError;
use crate::observe::RequestCtx;
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::protocols::http::ServerSession;
use pingora::ErrorType;
use pingora_timeout::fast_timeout::fast_timeout;

/// Write a complete JSON response.
pub async fn json(
    session: &mut ServerSession,
    ctx: &mut RequestCtx,
    status: u16,
    body: Bytes,
) -> pingora::Result<()> {
    json_with(session, ctx, status, body, |_| Ok(())).await
}

async fn json_with(
    session: &mut ServerSession,
    ctx: &mut RequestCtx,
    status: u16,
    body: Bytes,
    extra: impl FnOnce(&mut ResponseHeader) -> pingora::Result<()>,
) -> pingora::Result<()> {
    let mut h = own_head(ctx, status)?;
    h.insert_header(http::header::CONTENT_TYPE, "application/json")?;
    h.insert_header(http::header::CONTENT_LENGTH, body.len())?;
    extra(&mut h)?;
    let written = match write_head(session, h).await {
        Ok(()) => session.write_response_body(body, true).await,
        Err(e) => Err(e),
    };
    if written.is_err() {
        // A response cut short (or never begun) leaves the connection in
        // no state for another request.
        session.set_keepalive(None);
    }
    written
}

/// Write a response head within the session's write timeout, as Pingora
/// bounds body writes (not head writes): a client that pipelines requests
/// and never reads would otherwise hold its connection forever on a full
/// send buffer.
pub async fn write_head(session: &mut ServerSession, head: ResponseHeader) -> pingora::Result<()> {
    let Some(within) = session.get_write_timeout() else {
        return session.write_response_header(Box::new(head)).await;
    };
    match fast_timeout(within, session.write_response_header(Box::new(head))).await {
        Ok(written) => written,
        Err(_) => Err(pingora::Error::explain(
            ErrorType::WriteTimedout,
            "writing the response head",
        )),
    }
}

/// Answer a CORS preflight from an allowed origin: 204 with the
/// `Access-Control-*` headers.
pub async fn preflight(session: &mut ServerSession, ctx: &mut RequestCtx) -> pingora::Result<()> {
    let mut h = own_head(ctx, 204)?;
    cors::add_preflight(&mut h, session.req_header())?;
    write_head(session, h).await
}

/// The head of a response the gateway writes itself, with what every one
/// carries (`x-request-id`, CORS for an allowed origin), recorded as sent.
fn own_head(ctx: &mut RequestCtx, status: u16) -> pingora::Result<ResponseHeader> {
    let mut h = ResponseHeader::build_no_case(status, Some(8 + ctx.rate_limit.len()))?;
    h.insert_header(X_REQUEST_ID, ctx.request_id.as_str())?;
    if let Some(allow) = &ctx.cors {
        cors::add(&mut h, allow)?;
    }
    for (name, value) in &ctx.rate_limit {
        h.insert_header(name.clone(), value.clone())?;
    }
    ctx.status = status;
    ctx.first_byte.get_or_insert_with(std::time::Instant::now);
    Ok(h)
}

/// Write `err` as the response, unless a response already started (a
/// `100 Continue` is not a start: the final status still follows it).
pub async fn error(
    session: &mut ServerSession,
    ctx: &mut RequestCtx,
    err: &GatewayError,
) -> pingora::Result<()> {
    if session
        .response_written()
        .is_some_and(|h| !h.status.is_informational())
    {
        return Ok(());
    }
    ctx.note = Some(err.to_string());
    let retry_after = err.retry_after_secs();
    // Routed headers only once an upstream was tried; the ids are cheap Arcs.
    let routed = ctx
        .instance
        .clone()
        .zip(ctx.upstream_model.clone())
        .filter(|_| ctx.attempts > 0);
    let (request_id, attempts) = (ctx.request_id.clone(), ctx.attempts);
    let body = err.envelope(ctx.dialect);
    json_with(session, ctx, err.status(), body, |h| {
        if let Some(secs) = retry_after {
            h.insert_header(http::header::RETRY_AFTER, secs)?;
        }
        if let Some((instance, model)) = &routed {
            let routed = Routed {
                request_id: &request_id,
                instance,
                model,
                attempts,
            };
            add_routed(h, &routed)?;
        }
        Ok(())
    })
    .await
}

/// Write `err` for a request that could not be served; a client that is
/// gone by then is only logged.
pub async fn fail(session: &mut ServerSession, ctx: &mut RequestCtx, err: &GatewayError) {
    if let Err(e) = error(session, ctx, err).await {
        log::debug!(
            "request {}: error response not delivered: {}",
            ctx.request_id,
            e.etype().as_str()
        );
    }
}
