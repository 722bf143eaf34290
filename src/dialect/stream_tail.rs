//! The last few KiB of a stream passed through as it is: whose last bytes
//! tell whether an event was left half-written, and which name the
//! response a Responses stream is about and the sequence number its next
//! event must carry, so that an event of the gateway's own can end a
//! broken stream in the client's terms. Its usage is `StreamUsage`'s
//! job, which reads the whole stream. Pure.

/// The first `"id":"resp_…"` in `buf`.
fn find_response_id(buf: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"\"id\":\"resp_";
    let at = buf.windows(KEY.len()).position(|w| w == KEY)? + KEY.len() - "resp_".len();
    let rest = &buf[at..];
    let end = rest.iter().position(|&b| b == b'"')?;
    let id = std::str::from_utf8(&rest[..end]).ok()?;
    (id.len() <= 256).then(|| id.to_string())
}

/// The last few KiB of an SSE stream: whose last bytes tell whether an
/// event was left half-written.
#[derive(Default)]
pub struct StreamTail {
    buf: Vec<u8>,
    /// A Responses stream: its response id is looked for until found, so
    /// that an event of ours can name the same response.
    responses: bool,
    response_id: Option<String>,
}

const KEEP: usize = 4096;

impl StreamTail {
    /// For a Responses stream (see [`StreamTail::response_id`]).
    pub fn for_responses() -> Self {
        Self {
            responses: true,
            ..Self::default()
        }
    }

    /// The id of the Response a Responses stream is about, from its first
    /// event that names it (`response.created`).
    pub fn response_id(&self) -> Option<&str> {
        self.response_id.as_deref()
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.keep(chunk);
        if self.responses && self.response_id.is_none() {
            self.response_id = find_response_id(&self.buf);
        }
    }

    fn keep(&mut self, chunk: &[u8]) {
        if chunk.len() >= KEEP {
            self.buf.clear();
            self.buf.extend_from_slice(&chunk[chunk.len() - KEEP..]);
            return;
        }
        if self.buf.len() + chunk.len() > 2 * KEEP {
            let cut = self.buf.len() + chunk.len() - KEEP;
            self.buf.drain(..cut.min(self.buf.len()));
        }
        self.buf.extend_from_slice(chunk);
    }

    /// What must precede an event of ours so that a half-written event
    /// before it is closed first.
    pub fn separator(&self) -> &'static [u8] {
        match self.buf.as_slice() {
            [] | [.., b'\n', b'\n'] => b"",
            [.., b'\n'] => b"\n",
            _ => b"\n\n",
        }
    }

    /// The `sequence_number` an event added after the stream's last one
    /// should carry (Responses streams number their events), 0 if none
    /// was seen.
    pub fn next_sequence_number(&self) -> u64 {
        const KEY: &[u8] = b"\"sequence_number\":";
        let Some(at) = (self.buf.windows(KEY.len())).rposition(|w| w == KEY) else {
            return 0;
        };
        let digits = self.buf[at + KEY.len()..]
            .iter()
            .skip_while(|b| b.is_ascii_whitespace())
            .take_while(|b| b.is_ascii_digit())
            .fold(0u64, |n, d| {
                n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
            });
        digits.saturating_add(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_responses_stream_tells_its_id_and_its_next_sequence_number() {
        let mut tail = StreamTail::for_responses();
        assert_eq!(tail.next_sequence_number(), 0);
        tail.push(b"event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_abc\",\"object\":\"response\"}}\n\n");
        assert_eq!(tail.response_id(), Some("resp_abc"));
        tail.push(b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":7,\"delta\":\"x\"}\n\n");
        assert_eq!(tail.next_sequence_number(), 8);
        tail.push(b"event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\": 8,\"response\":{\"usage\":{\"input_tokens\":9,\"output_tokens\":3,\"total_tokens\":12}}}\n\n");
        assert_eq!(tail.next_sequence_number(), 9);
    }

    #[test]
    fn separator_closes_a_partial_event() {
        let mut t = StreamTail::default();
        assert_eq!(t.separator(), b"");
        t.push(b"data: {}\n\n");
        assert_eq!(t.separator(), b"");
        t.push(b"data: {\"par");
        assert_eq!(t.separator(), b"\n\n");
        t.push(b"tial\"}\n");
        assert_eq!(t.separator(), b"\n");
        t.push(b"\n");
        assert_eq!(t.separator(), b"");
    }
}
