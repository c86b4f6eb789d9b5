//! Server-Sent Events, parsed by the rules of the WHATWG HTML standard
//! ("Event stream interpretation"):
//! - lines end with CR, LF or CRLF (a CRLF split across parts is one end);
//! - a leading U+FEFF (BOM) at the start of the stream is dropped;
//! - an empty line dispatches the event being built, if it has data;
//! - `:` starts a comment; `field:value` drops one space after the colon;
//!   a line without a colon is a field with an empty value;
//! - `data` lines are joined with `\n`; `event` sets the type (default
//!   `message`); `id` sets the last event id unless it holds NUL and, like
//!   the reconnection time set by `retry` (ASCII digits only), it carries
//!   over to later events; other fields are ignored;
//! - an event not ended by an empty line when the stream ends is discarded;
//! - bytes are decoded as UTF-8 with invalid sequences replaced by U+FFFD.
//!
//! As an extension LLM servers rely on, an event whose data is exactly
//! `[DONE]` can end the stream (see [`SseDecoder::new`]).

use super::error::StreamError;

/// The data of the event OpenAI-style servers send last.
pub const DONE_DATA: &str = "[DONE]";
const BOM: &[u8] = b"\xEF\xBB\xBF";
const DEFAULT_TYPE: &str = "message";

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event` field, or `message`.
    pub event: String,
    /// The `data` lines joined with `\n`.
    pub data: String,
    /// The last event id seen so far on the stream (empty if none).
    pub id: String,
    /// The last valid `retry` value seen so far on the stream, in ms.
    pub retry: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct SseDecoder {
    /// The unfinished line.
    line: Vec<u8>,
    /// The previous part ended with CR: an LF starting the next one belongs to it.
    after_cr: bool,
    /// No line finished yet (the BOM may start the first one).
    first_line: bool,
    data: String,
    event_type: String,
    last_id: String,
    retry: Option<u64>,
    stop_at_done: bool,
    done: bool,
    max_event: Option<usize>,
}

impl SseDecoder {
    /// `stop_at_done`: an event whose data is `[DONE]` is not handed out and
    /// ends the stream (later bytes are ignored).
    /// `max_event`: the most bytes an event's data plus the line being read
    /// may hold.
    pub fn new(stop_at_done: bool, max_event: Option<usize>) -> Self {
        SseDecoder {
            line: Vec::new(),
            after_cr: false,
            first_line: true,
            data: String::new(),
            event_type: String::new(),
            last_id: String::new(),
            retry: None,
            stop_at_done,
            done: false,
            max_event,
        }
    }

    /// Whether a `[DONE]` event ended the stream.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Bytes held for the event being built and the line being read.
    pub fn buffered(&self) -> usize {
        self.line.len() + self.data.len()
    }

    /// Hands each event completed by `data` to `emit`.
    pub fn feed_with<E, F>(&mut self, data: &[u8], mut emit: F) -> Result<(), E>
    where
        E: From<StreamError>,
        F: FnMut(SseEvent) -> Result<(), E>,
    {
        let mut rest = data;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while !self.done {
            let Some(at) = memchr::memchr2(b'\r', b'\n', rest) else {
                break;
            };
            if self.line.is_empty() {
                // Measured as a buffered line would be, so where the parts
                // are cut cannot decide whether the limit is hit.
                self.check_size(at)?;
                self.process_line(&rest[..at], &mut emit)?;
            } else {
                self.check_size(self.line.len() + at)?;
                self.line.extend_from_slice(&rest[..at]);
                let line = std::mem::take(&mut self.line);
                let result = self.process_line(&line, &mut emit);
                self.line = line;
                super::release_line(&mut self.line);
                result?;
            }
            let mut end = at + 1;
            if rest[at] == b'\r' {
                match rest.get(end) {
                    Some(b'\n') => end += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            rest = &rest[end..];
        }
        if !self.done && !rest.is_empty() {
            self.check_size(self.line.len() + rest.len())?;
            self.line.extend_from_slice(rest);
        }
        Ok(())
    }

    /// Ends the stream: an event without its closing empty line is
    /// discarded, as the standard says. Never fails; the signature matches
    /// the other decoders.
    pub fn finish(&mut self) -> Result<(), StreamError> {
        self.line = Vec::new();
        self.data = String::new();
        self.event_type.clear();
        Ok(())
    }

    /// The events completed by `data`.
    pub fn feed(&mut self, data: &[u8]) -> Result<Vec<SseEvent>, StreamError> {
        let mut events = Vec::new();
        self.feed_with(data, |event| {
            events.push(event);
            Ok::<(), StreamError>(())
        })?;
        Ok(events)
    }

    fn check_size(&self, line_len: usize) -> Result<(), StreamError> {
        match self.max_event {
            Some(limit) if self.data.len() + line_len > limit => {
                Err(StreamError::EventTooLong { limit })
            }
            _ => Ok(()),
        }
    }

    fn process_line<E, F>(&mut self, mut line: &[u8], emit: &mut F) -> Result<(), E>
    where
        E: From<StreamError>,
        F: FnMut(SseEvent) -> Result<(), E>,
    {
        if std::mem::take(&mut self.first_line) {
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if line.is_empty() {
            return self.dispatch(emit);
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                self.data.push_str(&String::from_utf8_lossy(value));
                self.data.push('\n');
                self.check_size(0)?;
            }
            b"event" => self.event_type = String::from_utf8_lossy(value).into_owned(),
            b"id" if !value.contains(&0) => {
                self.last_id = String::from_utf8_lossy(value).into_owned()
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // Digits too many for u64 are no sensible delay: ignored.
                if let Some(ms) = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()) {
                    self.retry = Some(ms);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch<E, F>(&mut self, emit: &mut F) -> Result<(), E>
    where
        F: FnMut(SseEvent) -> Result<(), E>,
    {
        let event_type = std::mem::take(&mut self.event_type);
        if self.data.is_empty() {
            return Ok(());
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the `\n` after the last data line
        if self.stop_at_done && data == DONE_DATA {
            self.done = true;
            self.line = Vec::new();
            return Ok(());
        }
        emit(SseEvent {
            event: if event_type.is_empty() {
                DEFAULT_TYPE.to_owned()
            } else {
                event_type
            },
            data,
            id: self.last_id.clone(),
            retry: self.retry,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(parts: &[&[u8]]) -> Vec<SseEvent> {
        let mut d = SseDecoder::new(true, None);
        let mut out = Vec::new();
        for p in parts {
            out.extend(d.feed(p).unwrap());
        }
        d.finish().unwrap();
        out
    }

    fn ev(event: &str, data: &str, id: &str, retry: Option<u64>) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
            id: id.into(),
            retry,
        }
    }

    #[test]
    fn fields_comments_and_line_ends() {
        let stream = b"\xEF\xBB\xBF: hi\r\nevent: add\rdata:a\r\ndata: b\nid: 7\nretry: 15\nbogus\n\ndata\n\nretry: x\nid: a\0b\ndata: c\n\n";
        let want = vec![
            ev("add", "a\nb", "7", Some(15)),
            ev("message", "", "7", Some(15)),
            ev("message", "c", "7", Some(15)),
        ];
        assert_eq!(events(&[stream]), want);
        let singles: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(events(&singles), want);
    }

    #[test]
    fn crlf_split_across_parts_ends_one_line() {
        // Were the LF taken as a second line end, "x" would be dispatched alone.
        assert_eq!(
            events(&[b"data: x\r", b"\ndata: y\r\n\r", b"\n"]),
            vec![ev("message", "x\ny", "", None)]
        );
    }

    #[test]
    fn done_ends_the_stream_and_unfinished_event_is_dropped() {
        assert_eq!(
            events(&[b"data: 1\n\ndata: [DONE]\n\ndata: 2\n\n"]),
            vec![ev("message", "1", "", None)]
        );
        assert_eq!(
            events(&[b"data: 1\n\ndata: 2\n"]),
            vec![ev("message", "1", "", None)]
        );
        let mut d = SseDecoder::new(false, None);
        assert_eq!(
            d.feed(b"data: [DONE]\n\n").unwrap(),
            vec![ev("message", "[DONE]", "", None)]
        );
    }

    #[test]
    fn limit_bounds_data_and_pending_line() {
        let mut d = SseDecoder::new(true, Some(8));
        assert!(d.feed(b"data: 12\n").is_ok());
        assert_eq!(
            d.feed(b"data: 1"),
            Err(StreamError::EventTooLong { limit: 8 })
        );
    }

    #[test]
    fn limit_does_not_depend_on_where_parts_are_cut() {
        // Found by the streaming_decoders fuzz target: a line that arrived
        // whole was not measured, the same line cut in two was.
        for stream in [
            &b"data: 1234567\n\n"[..],
            b"retry: 123456789\n",
            b": long comment\n",
        ] {
            let limited = |parts: &[&[u8]]| {
                let mut d = SseDecoder::new(true, Some(8));
                parts.iter().try_for_each(|p| d.feed(p).map(drop))
            };
            let whole = limited(&[stream]);
            assert_eq!(whole, Err(StreamError::EventTooLong { limit: 8 }));
            for cut in 1..stream.len() {
                let (a, b) = stream.split_at(cut);
                assert_eq!(limited(&[a, b]), whole, "cut at {cut}");
            }
        }
    }
}
