//! The response body type: a whole JSON document, an SSE event stream that is
//! produced frame by frame as hyper polls it (no delay configured: the lazy
//! OpenAI stream, or the prebuilt Anthropic and Gemini `Frames`), or a
//! channel fed by a pacing task (with `--chunk-delay-ms`).
//!
//! Every SSE event travels as its own body frame, so hyper writes it with
//! chunked transfer encoding as soon as it is produced.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

use crate::frames::Frames;
use crate::sse::EventStream;

/// Body of every response the mock sends.
pub enum MockBody {
    /// A complete payload with a known length (sent with `content-length`).
    Full(Option<Bytes>),
    /// SSE events generated lazily, one frame per event, without pauses.
    Events(EventStream),
    /// SSE events built beforehand, one frame per event, without pauses.
    Frames(Frames),
    /// SSE events pushed by a task that sleeps between them.
    Paced(mpsc::Receiver<Bytes>),
}

impl MockBody {
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        MockBody::Full(Some(bytes.into()))
    }
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let frame = match self.get_mut() {
            MockBody::Full(bytes) => bytes.take(),
            MockBody::Events(events) => events.next(),
            MockBody::Frames(frames) => frames.next(),
            MockBody::Paced(rx) => match rx.poll_recv(cx) {
                Poll::Ready(next) => next,
                Poll::Pending => return Poll::Pending,
            },
        };
        Poll::Ready(frame.map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        match self {
            MockBody::Full(bytes) => bytes.is_none(),
            MockBody::Events(events) => events.is_done(),
            MockBody::Frames(frames) => frames.is_done(),
            MockBody::Paced(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            MockBody::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            MockBody::Full(None) => SizeHint::with_exact(0),
            MockBody::Events(_) | MockBody::Frames(_) | MockBody::Paced(_) => SizeHint::default(),
        }
    }
}

/// A stream of SSE events `sse_response` can send whole or paced.
pub trait EventSource: Iterator<Item = Bytes> + Send + 'static {
    fn is_done(&self) -> bool;
    /// Whether `--chunk-delay-ms` applies before the next event.
    fn paced_before_next(&self) -> bool;
    /// The unpaced body.
    fn into_body(self) -> MockBody;
}

impl EventSource for EventStream {
    fn is_done(&self) -> bool {
        EventStream::is_done(self)
    }
    fn paced_before_next(&self) -> bool {
        EventStream::paced_before_next(self)
    }
    fn into_body(self) -> MockBody {
        MockBody::Events(self)
    }
}

impl EventSource for Frames {
    fn is_done(&self) -> bool {
        Frames::is_done(self)
    }
    fn paced_before_next(&self) -> bool {
        Frames::paced_before_next(self)
    }
    fn into_body(self) -> MockBody {
        MockBody::Frames(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn full_body_has_exact_size_and_one_frame() {
        let body = MockBody::full("hello");
        assert_eq!(body.size_hint().exact(), Some(5));
        let collected = body.collect().await.expect("infallible").to_bytes();
        assert_eq!(&collected[..], b"hello");
    }

    #[tokio::test]
    async fn paced_body_forwards_channel_frames_in_order() {
        let (tx, rx) = mpsc::channel(4);
        tx.send(Bytes::from_static(b"a")).await.expect("send");
        tx.send(Bytes::from_static(b"b")).await.expect("send");
        drop(tx);
        let mut body = MockBody::Paced(rx);
        let mut seen = Vec::new();
        while let Some(frame) = body.frame().await {
            let data = frame.expect("infallible").into_data().expect("data frame");
            seen.push(data);
        }
        assert_eq!(
            seen,
            vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]
        );
    }
}
