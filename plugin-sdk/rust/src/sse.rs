//! Server-sent events: the WHATWG parser the streaming helpers read model answers
//! with, on its own so it can be fed from any byte source.

/// One server-sent event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// Its `event:` type; `message` when the stream names none.
    pub event: String,
    /// Its `data:` lines, joined with `\n`.
    pub data: String,
    /// Its `id:`, when given.
    pub id: Option<String>,
}

/// A server-sent-events parser (WHATWG rules): feed it bytes as they arrive, split
/// anywhere (inside a line or a UTF-8 sequence), and take the complete events.
///
/// ```
/// use dingtalk_bot_sdk::http::SseParser;
///
/// let mut p = SseParser::default();
/// assert!(p.feed(b"data: {\"a\":").is_empty());
/// let events = p.feed(b"1}\r\n\r\n: keep-alive\n\ndata: [DONE]\n\n");
/// assert_eq!(events.len(), 2);
/// assert_eq!(events[0].data, "{\"a\":1}");
/// assert_eq!(events[1].data, "[DONE]");
/// ```
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    after_cr: bool,
    data: Option<String>,
    event: Option<String>,
    id: Option<String>,
}

impl SseParser {
    /// Add bytes; the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        let mut events = Vec::new();
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\r' | b'\n' => {
                    self.after_cr = b == b'\r';
                    let line = std::mem::take(&mut self.line);
                    events.extend(self.line_done(&String::from_utf8_lossy(&line)));
                }
                _ => self.line.push(b),
            }
        }
        events
    }

    /// The end of the stream: an event whose blank line never came is dispatched
    /// (servers that close right after the last `data:` line exist).
    pub fn finish(&mut self) -> Option<Event> {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            if let Some(e) = self.line_done(&String::from_utf8_lossy(&line)) {
                return Some(e);
            }
        }
        self.line_done("")
    }

    fn line_done(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            // A blank line ends the event; its type never leaks into the next one.
            let event = self.event.take();
            let data = self.data.take()?;
            return Some(Event {
                event: event.unwrap_or_else(|| "message".to_owned()),
                data,
                id: self.id.clone(),
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "event" => self.event = Some(value.to_owned()),
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<Event> {
        let mut p = SseParser::default();
        let mut out: Vec<Event> = chunks.iter().flat_map(|c| p.feed(c)).collect();
        out.extend(p.finish());
        out
    }

    #[test]
    fn events_split_anywhere_arrive_whole() {
        let text = "data: 你好\r\n\r\nevent: x\nid: 7\ndata: a\ndata: b\n\n";
        let bytes = text.as_bytes();
        let whole = all(&[bytes]);
        for cut in 0..bytes.len() {
            assert_eq!(all(&[&bytes[..cut], &bytes[cut..]]), whole, "cut at {cut}");
        }
        assert_eq!(whole[0].data, "你好");
        assert_eq!(whole[1].event, "x");
        assert_eq!(whole[1].id.as_deref(), Some("7"));
        assert_eq!(whole[1].data, "a\nb");
    }

    #[test]
    fn comments_and_lone_carriage_returns_are_handled() {
        let events = all(&[b": ping\r\rdata:x\rdata\r\r"]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "x\n");
    }

    #[test]
    fn an_event_without_its_blank_line_is_kept_at_the_end() {
        assert_eq!(all(&[b"data: last"])[0].data, "last");
        assert!(all(&[b"event: only\n\n"]).is_empty());
    }
}
