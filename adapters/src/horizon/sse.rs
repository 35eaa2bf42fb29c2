//! An incremental parser of Server-Sent Events (the WHATWG "event stream interpretation"), as
//! Horizon sends them: bytes in, whole events out, sans IO.
//!
//! Lines end in LF, CRLF or a lone CR (a CR at the end of one chunk followed by LF at the start
//! of the next is one line end). `:` starts a comment. `data` lines are joined with LF; `id`
//! sets the last event id (kept across events, ignored when it contains NUL); `retry` takes
//! ASCII digits only; a blank line dispatches the event if it has data. Unknown fields are
//! ignored. A leading UTF-8 BOM is skipped.
//!
//! Limits: a line longer than [`LINE_BYTES_MAX`] or an event with more than
//! [`EVENT_BYTES_MAX`] bytes of data is an error (a peer fault): a Horizon record is a few KiB.

use std::fmt;

/// The UTF-8 byte order mark, skipped once at the start of a stream.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The longest line accepted.
pub const LINE_BYTES_MAX: usize = 1 << 20;
/// The most data one event may carry.
pub const EVENT_BYTES_MAX: usize = 4 << 20;

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The `event:` field, `message` when absent.
    pub event: String,
    /// The `data:` lines joined with LF.
    pub data: String,
    /// The last event id in force when the event was dispatched (Horizon's paging token on page
    /// streams; empty on object streams).
    pub id: String,
}

/// The stream broke the format's limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SseError {
    LineTooLong { bytes: usize },
    EventTooLarge { bytes: usize },
    NotUtf8,
}

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SseError::LineTooLong { bytes } => write!(f, "event stream line of {bytes} bytes (limit {LINE_BYTES_MAX})"),
            SseError::EventTooLarge { bytes } => {
                write!(f, "event stream event of {bytes} bytes of data (limit {EVENT_BYTES_MAX})")
            }
            SseError::NotUtf8 => f.write_str("event stream is not UTF-8"),
        }
    }
}

impl std::error::Error for SseError {}

/// The parser's state between chunks. See the module doc.
#[derive(Clone, Debug, Default)]
pub struct Parser {
    line: Vec<u8>,
    /// The previous chunk ended in CR: a LF first in the next one ends nothing.
    after_cr: bool,
    /// How many bytes of a leading BOM have been seen; `started` once the stream is past it.
    bom_matched: usize,
    started: bool,
    event: String,
    data: String,
    has_data: bool,
    last_id: String,
    retry_ms: Option<u64>,
}

impl Parser {
    pub fn new() -> Parser {
        Parser::default()
    }

    /// The last event id seen (to resume with `Last-Event-ID`).
    pub fn last_event_id(&self) -> &str {
        &self.last_id
    }

    /// The reconnection time the server asked for, if any.
    pub fn retry_ms(&self) -> Option<u64> {
        self.retry_ms
    }

    /// Feeds a chunk; appends every event it completes to `out`. After an error the stream must
    /// be dropped (the parser's state is unspecified).
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<Event>) -> Result<(), SseError> {
        if chunk.is_empty() {
            return Ok(());
        }
        if !self.started {
            // The BOM is matched byte by byte, so a split across chunks is still one BOM; the
            // bytes of a partial match are data.
            while self.bom_matched < BOM.len() {
                match chunk.first() {
                    None => return Ok(()),
                    Some(&b) if b == BOM[self.bom_matched] => {
                        self.bom_matched += 1;
                        chunk = &chunk[1..];
                    }
                    Some(_) => {
                        self.line.extend_from_slice(&BOM[..self.bom_matched]);
                        break;
                    }
                }
            }
            self.started = true;
        }
        if self.after_cr && !chunk.is_empty() {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while let Some(end) = chunk.iter().position(|b| *b == b'\n' || *b == b'\r') {
            if self.line.len() + end > LINE_BYTES_MAX {
                return Err(SseError::LineTooLong { bytes: self.line.len() + end });
            }
            self.line.extend_from_slice(&chunk[..end]);
            let is_cr = chunk[end] == b'\r';
            chunk = &chunk[end + 1..];
            if is_cr {
                match chunk.first() {
                    Some(b'\n') => chunk = &chunk[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, out)?;
            self.line = line;
            self.line.clear();
        }
        if self.line.len() + chunk.len() > LINE_BYTES_MAX {
            return Err(SseError::LineTooLong { bytes: self.line.len() + chunk.len() });
        }
        self.line.extend_from_slice(chunk);
        Ok(())
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<Event>) -> Result<(), SseError> {
        if line.is_empty() {
            if self.has_data {
                out.push(Event {
                    event: if self.event.is_empty() { "message".to_owned() } else { std::mem::take(&mut self.event) },
                    data: std::mem::take(&mut self.data),
                    id: self.last_id.clone(),
                });
            }
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let line = std::str::from_utf8(line).map_err(|_| SseError::NotUtf8)?;
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event),
            "data" => {
                let bytes = self.data.len() + value.len() + 1;
                if bytes > EVENT_BYTES_MAX {
                    return Err(SseError::EventTooLarge { bytes });
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => value.clone_into(&mut self.last_id),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry_ms = value.parse().ok();
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_chunks(chunks: &[&[u8]]) -> (Vec<Event>, Parser) {
        let mut parser = Parser::new();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out).unwrap();
        }
        (out, parser)
    }

    #[test]
    fn horizon_preamble_records_and_goodbye() {
        let text = b"retry: 1000\nevent: open\ndata: \"hello\"\n\nid: 5-1\ndata: {\"a\":1}\n\n:\n\nretry: 10\nevent: close\ndata: \"byebye\"\n\n";
        let (events, parser) = parse_chunks(&[text]);
        assert_eq!(events.len(), 3);
        assert_eq!(
            (events[0].event.as_str(), events[0].data.as_str(), events[0].id.as_str()),
            ("open", "\"hello\"", "")
        );
        assert_eq!(
            (events[1].event.as_str(), events[1].data.as_str(), events[1].id.as_str()),
            ("message", "{\"a\":1}", "5-1")
        );
        assert_eq!((events[2].event.as_str(), events[2].id.as_str()), ("close", "5-1"));
        assert_eq!(parser.retry_ms(), Some(10));
        assert_eq!(parser.last_event_id(), "5-1");
    }

    #[test]
    fn any_split_and_any_line_ending_give_the_same_events() {
        let lf = b"id: 1\ndata: a\ndata: b\n\ndata:c\n\n".to_vec();
        let crlf = b"id: 1\r\ndata: a\r\ndata: b\r\n\r\ndata:c\r\n\r\n".to_vec();
        let cr = b"id: 1\rdata: a\rdata: b\r\rdata:c\r\r".to_vec();
        let (expected, _) = parse_chunks(&[&lf]);
        assert_eq!(expected[0].data, "a\nb");
        assert_eq!(expected[1].data, "c");
        for text in [lf, crlf, cr] {
            for split in 0..=text.len() {
                let (events, _) = parse_chunks(&[&text[..split], &text[split..]]);
                assert_eq!(events, expected, "split at {split} of {:?}", String::from_utf8_lossy(&text));
            }
            let bytes: Vec<&[u8]> = text.chunks(1).collect();
            assert_eq!(parse_chunks(&bytes).0, expected);
        }
    }

    #[test]
    fn the_bom_and_empty_chunks_do_not_depend_on_the_split() {
        // Only the first BOM is skipped; a second one is part of the first line's field name
        // (an unknown field, so no event). Found by the horizon_decode fuzz target.
        let text = b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\ndata: y\r\n\r\n";
        let (expected, _) = parse_chunks(&[text]);
        assert_eq!(expected.len(), 1);
        assert_eq!(expected[0].data, "y");
        for split in 0..=text.len() {
            let (events, _) = parse_chunks(&[&text[..split], &[], &text[split..]]);
            assert_eq!(events, expected, "split at {split}");
        }
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(parse_chunks(&bytes).0, expected);
        // An empty chunk between the CR and the LF of one line end does not make it two.
        let (events, _) = parse_chunks(&[b"data: a\r", b"", b"\ndata: b\n\n"]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "a\nb");
    }

    #[test]
    fn fields_edge_cases() {
        let (events, parser) = parse_chunks(&[
            b"\xEF\xBB\xBFdata\n\nid: a\0b\ndata: x\n\nretry: 5s\nevent\ndata:  two spaces\nfoo: bar\n\n",
        ]);
        assert_eq!(events[0].data, "", "a bare `data` line is empty data");
        assert_eq!(events[1].id, "", "an id with NUL is ignored");
        assert_eq!(events[2].data, " two spaces", "only one space is stripped");
        assert_eq!(events[2].event, "message");
        assert_eq!(parser.retry_ms(), None, "retry takes digits only");
        let (none, _) = parse_chunks(&[b"event: x\nid: 1\n\n"]);
        assert!(none.is_empty(), "no data, no event");
    }

    #[test]
    fn limits_are_errors() {
        let mut parser = Parser::new();
        let long = vec![b'a'; LINE_BYTES_MAX + 1];
        assert!(matches!(parser.feed(&long, &mut Vec::new()), Err(SseError::LineTooLong { .. })));
        let mut parser = Parser::new();
        let line = format!("data: {}\n", "x".repeat(LINE_BYTES_MAX - 10));
        let mut result = Ok(());
        for _ in 0..5 {
            result = result.and(parser.feed(line.as_bytes(), &mut Vec::new()));
        }
        assert!(matches!(result, Err(SseError::EventTooLarge { .. })));
        assert_eq!(Parser::new().feed(b"data: \xFF\n", &mut Vec::new()), Err(SseError::NotUtf8));
    }
}
