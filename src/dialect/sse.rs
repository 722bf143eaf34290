//! Server-sent events, decoded from bytes pushed in any split: the framing
//! every streamed dialect shares. Lines end in `\n` or `\r\n`, an empty line
//! ends an event, its `data:` lines (the space after the colon optional) are
//! joined, `event: error` marks an error; comments and other fields are
//! skipped. An event larger than [`MAX_EVENT`] is refused, so a broken
//! upstream cannot make the gateway buffer without bound. [`SseDriven`] is
//! the loop every streamed translator runs over the decoder: bytes in,
//! events out, an oversized event failing the stream, the last event
//! flushed at end of body.

/// The largest SSE event held while incomplete.
pub const MAX_EVENT: usize = 1 << 20;

/// The upstream's SSE framing, fed bytes: lines end in `\n` or `\r\n`, an
/// empty line ends an event, its `data:` lines (the space after the colon
/// optional) are joined, `event: error` marks an error; comments and other
/// fields are skipped. A bare `\r` line end, which the SSE grammar allows
/// but no provider sends, is not recognised. Written by hand: the SSE
/// crates known to us (eventsource-stream and the like) adapt an async
/// `Stream`, while the gateway's body filter needs a synchronous parser it
/// can push each body chunk into.
#[derive(Default)]
pub struct SseDecoder {
    buf: Vec<u8>,
    /// Where the first line not yet consumed starts.
    start: usize,
    /// Up to where `buf` is known to hold no `\n` after `start`.
    scanned: usize,
    /// Bytes of the current event's complete lines.
    size: usize,
    data: Vec<u8>,
    has_data: bool,
    is_error: bool,
}

/// One complete upstream event.
pub struct SseEvent {
    pub data: Vec<u8>,
    pub is_error: bool,
}

pub enum Decoded {
    Event(SseEvent),
    NeedMore,
    TooLarge,
}

impl SseDecoder {
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    pub fn next_event(&mut self) -> Decoded {
        loop {
            let Some(found) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') else {
                self.scanned = self.buf.len();
                let pending = self.buf.len() - self.start;
                if self.size + pending > MAX_EVENT {
                    return Decoded::TooLarge;
                }
                return Decoded::NeedMore;
            };
            let (from, to) = (self.start, self.scanned + found);
            self.start = to + 1;
            self.scanned = self.start;
            self.size += to + 1 - from;
            if self.size > MAX_EVENT {
                return Decoded::TooLarge;
            }
            if let Some(event) = self.line(from, to) {
                return Decoded::Event(event);
            }
        }
    }

    /// At end of file: the bytes left form a last line and end the event.
    pub fn flush(&mut self) -> Option<SseEvent> {
        let (from, to) = (self.start, self.buf.len());
        self.start = to;
        self.scanned = to;
        if from < to {
            if let Some(event) = self.line(from, to) {
                return Some(event);
            }
        }
        self.dispatch()
    }

    fn line(&mut self, from: usize, to: usize) -> Option<SseEvent> {
        let line = &self.buf[from..to];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return self.dispatch();
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => (&line[..colon], &line[colon + 1..]),
            None => (line, &[][..]),
        };
        let value = value.strip_prefix(b" ").unwrap_or(value);
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => self.is_error = value == b"error",
            // A comment (empty field name), `id`, `retry`, or garbage.
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        self.size = 0;
        let is_error = std::mem::take(&mut self.is_error);
        if !std::mem::take(&mut self.has_data) {
            return None;
        }
        let data = std::mem::take(&mut self.data);
        Some(SseEvent { data, is_error })
    }
}

/// A streamed translator driven by an [`SseDecoder`]: it says what an event
/// means and how the stream fails; the loop that feeds it is written once,
/// here.
pub trait SseDriven {
    /// The decoder of the upstream's stream.
    fn decoder(&mut self) -> &mut SseDecoder;
    /// The stream has ended: nothing more is written.
    fn is_done(&self) -> bool;
    /// Appends the client's events for one upstream event.
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<u8>);
    /// Appends the client dialect's error event and ends the stream.
    fn on_failure(&mut self, message: &str, out: &mut Vec<u8>);

    /// Takes the next bytes of the upstream's stream (any split) and
    /// translates every event they complete, until the stream ends.
    fn feed_events(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.is_done() {
            return;
        }
        self.decoder().push(bytes);
        while !self.is_done() {
            match self.decoder().next_event() {
                Decoded::Event(event) => self.on_event(&event, out),
                Decoded::NeedMore => return,
                Decoded::TooLarge => {
                    let message = format!("upstream stream event larger than {MAX_EVENT} bytes");
                    self.on_failure(&message, out);
                }
            }
        }
    }

    /// The upstream's body ended: a last event without its blank line
    /// still counts. Whether the stream is still open, for the caller to
    /// close it its own way.
    fn flush_events(&mut self, out: &mut Vec<u8>) -> bool {
        if self.is_done() {
            return false;
        }
        if let Some(event) = self.decoder().flush() {
            self.on_event(&event, out);
        }
        !self.is_done()
    }
}
