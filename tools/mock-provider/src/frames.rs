//! A streamed reply built whole before it is sent: the Anthropic and Gemini
//! streams, a few dozen events each. Each event is marked with whether
//! `--chunk-delay-ms` applies before it, so the pacing task treats these
//! streams and the lazily produced OpenAI ones alike.

use bytes::{BufMut, Bytes, BytesMut};

/// The events of one reply, in order.
#[derive(Default)]
pub struct Frames {
    /// (paced before it, the framed event)
    events: Vec<(bool, Bytes)>,
    next: usize,
}

impl Frames {
    /// Adds an event sent right after the previous one.
    pub fn push(&mut self, event: Bytes) {
        self.events.push((false, event));
    }

    /// Adds an event sent `--chunk-delay-ms` after the previous one.
    pub fn push_paced(&mut self, event: Bytes) {
        self.events.push((true, event));
    }

    pub fn is_done(&self) -> bool {
        self.next >= self.events.len()
    }

    pub fn paced_before_next(&self) -> bool {
        self.events.get(self.next).is_some_and(|(paced, _)| *paced)
    }

    /// How many events there are (for tests and sizing).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.events.len()
    }
}

impl Iterator for Frames {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        let (_, event) = self.events.get(self.next)?;
        self.next += 1;
        Some(event.clone())
    }
}

/// `event: <name>\ndata: <json>\n\n`: Anthropic's framing, which names every
/// event (its clients dispatch on the `event:` line).
pub fn named_event(name: &str, json: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(name.len() + json.len() + 16);
    out.put_slice(b"event: ");
    out.put_slice(name.as_bytes());
    out.put_slice(b"\ndata: ");
    out.put_slice(json);
    out.put_slice(b"\n\n");
    out.freeze()
}

/// `data: <json>\r\n\r\n`: Gemini's framing, data lines only, ended with
/// CRLFs as Google's servers send them (a parser must take either ending).
pub fn crlf_event(json: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(json.len() + 10);
    out.put_slice(b"data: ");
    out.put_slice(json);
    out.put_slice(b"\r\n\r\n");
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_keep_order_and_pacing_marks() {
        let mut frames = Frames::default();
        frames.push(Bytes::from_static(b"a"));
        frames.push_paced(Bytes::from_static(b"b"));
        assert_eq!(frames.len(), 2);
        assert!(!frames.paced_before_next());
        assert_eq!(frames.next().as_deref(), Some(&b"a"[..]));
        assert!(frames.paced_before_next());
        assert_eq!(frames.next().as_deref(), Some(&b"b"[..]));
        assert!(frames.is_done() && !frames.paced_before_next());
        assert_eq!(frames.next(), None);
    }

    #[test]
    fn framings() {
        assert_eq!(
            &named_event("ping", br#"{"type":"ping"}"#)[..],
            b"event: ping\ndata: {\"type\":\"ping\"}\n\n"
        );
        assert_eq!(&crlf_event(b"{}")[..], b"data: {}\r\n\r\n");
    }
}
