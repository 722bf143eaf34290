//! Reading an upstream body in batches: wait for one chunk, then take every
//! chunk that is already readable without waiting, and hand them on as one
//! buffer. The bytes are the same; the client just gets them in one write
//! instead of one write (and one allocation) per upstream chunk. Nothing is
//! held back: batching stops at the first read that would wait.

use super::connector::UpSession;
use bytes::{Bytes, BytesMut};
use futures::FutureExt;

/// Largest batch handed on in one write.
const BATCH_LIMIT: usize = 64 * 1024;

/// The end of the body, or an error, met while batching: returned by the
/// next call, after the batch before it.
#[derive(Default)]
pub struct BodyBatches {
    stash: Option<pingora::Result<Option<Bytes>>>,
}

impl BodyBatches {
    pub async fn next(&mut self, conn: &mut UpSession) -> pingora::Result<Option<Bytes>> {
        if let Some(stashed) = self.stash.take() {
            return stashed;
        }
        let mut buf = match conn.read_body_ref().await? {
            Some(first) => BytesMut::from(first),
            None => return Ok(None),
        };
        while buf.len() < BATCH_LIMIT {
            match conn.read_body_ref().now_or_never() {
                None => break,
                Some(Ok(Some(more))) => buf.extend_from_slice(more),
                Some(Ok(None)) => {
                    self.stash = Some(Ok(None));
                    break;
                }
                Some(Err(e)) => {
                    self.stash = Some(Err(e));
                    break;
                }
            }
        }
        Ok(Some(buf.freeze()))
    }
}
