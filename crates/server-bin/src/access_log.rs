//! The access log: one line per request on stdout, in Combined or Common Log Format followed by
//! the duration in microseconds.
//!
//! Lines collect in a per-worker buffer and are written in batches (no syscall per request):
//! when the buffer passes [`FLUSH_BYTES`], at most [`FLUSH_INTERVAL`] after the oldest unwritten
//! line, and when the worker exits. Client-supplied fields are escaped so that no request can
//! forge or split a line. This module must not decide what a request's status or size was.

use std::io::{self, Write as _};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use http_core::date::Civil;

use crate::config::LogFormat;

/// Unwritten lines are written at most this long after the oldest of them.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// A buffer this full is written at once.
pub const FLUSH_BYTES: usize = 32 * 1024;

/// The most bytes of a client-supplied field that are logged; longer values are cut with `...`
/// so one request cannot write a 16 KiB line.
const MAX_FIELD: usize = 1024;

/// One finished request, as the log sees it.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The client's address.
    pub remote: Option<IpAddr>,
    /// When the request arrived, in seconds since the Unix epoch.
    pub time: u64,
    /// The request line as received (empty when none could be read).
    pub request_line: &'a [u8],
    /// The response status.
    pub status: u16,
    /// Body bytes sent.
    pub bytes: u64,
    /// The `Referer` field.
    pub referer: &'a [u8],
    /// The `User-Agent` field.
    pub user_agent: &'a [u8],
    /// From the first byte of the request to the last byte of the response.
    pub duration: Duration,
}

/// A worker's log buffer.
#[derive(Debug)]
pub struct AccessLog {
    format: LogFormat,
    buf: Vec<u8>,
    oldest: Option<Instant>,
}

impl AccessLog {
    /// An empty buffer writing `format`.
    pub fn new(format: LogFormat) -> Self {
        Self {
            format,
            buf: Vec::new(),
            oldest: None,
        }
    }

    /// Whether lines are written at all.
    pub fn enabled(&self) -> bool {
        self.format != LogFormat::Off
    }

    /// Adds one line, writing the buffer out if it is full.
    pub fn record(&mut self, entry: &Entry<'_>, now: Instant) {
        if !self.enabled() {
            return;
        }
        format_line(&mut self.buf, self.format, entry);
        self.oldest.get_or_insert(now);
        if self.buf.len() >= FLUSH_BYTES {
            self.flush();
        }
    }

    /// Writes the buffer if its oldest line is due; returns when it will next be due.
    pub fn flush_if_due(&mut self, now: Instant) -> Option<Instant> {
        let due = self.oldest? + FLUSH_INTERVAL;
        if now >= due {
            self.flush();
            None
        } else {
            Some(due)
        }
    }

    /// Writes every buffered line.
    pub fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let mut out = io::stdout().lock();
        // A closed stdout (`| head`) must not stop the server; the lines are dropped.
        let _ = out.write_all(&self.buf).and_then(|()| out.flush());
        self.buf.clear();
        self.oldest = None;
    }
}

/// `host - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 2326 "referer" "agent" 153`
fn format_line(buf: &mut Vec<u8>, format: LogFormat, e: &Entry<'_>) {
    let t = Civil::from_unix(e.time);
    let remote = e.remote.map_or_else(|| "-".to_owned(), |ip| ip.to_string());
    let _ = write!(
        buf,
        "{remote} - - [{:02}/{}/{}:{:02}:{:02}:{:02} +0000] \"",
        t.day, t.month_name, t.year, t.hour, t.minute, t.second
    );
    escape_into(buf, e.request_line);
    let _ = write!(buf, "\" {} {}", e.status, e.bytes);
    if format == LogFormat::Combined {
        buf.extend_from_slice(b" \"");
        escape_into(buf, e.referer);
        buf.extend_from_slice(b"\" \"");
        escape_into(buf, e.user_agent);
        buf.push(b'"');
    }
    let _ = writeln!(buf, " {}", e.duration.as_micros());
}

/// A client-supplied field, escaped and cut at [`MAX_FIELD`]; an empty field is logged as `-`.
fn escape_into(buf: &mut Vec<u8>, field: &[u8]) {
    if field.is_empty() {
        buf.push(b'-');
        return;
    }
    let (field, cut) = match field.get(..MAX_FIELD) {
        Some(head) if field.len() > MAX_FIELD => (head, true),
        _ => (field, false),
    };
    escape_bytes(buf, field);
    if cut {
        buf.extend_from_slice(b"...");
    }
}

/// `text` as the access log prints it, for other output read by people and scripts (the
/// shutdown summary), so that a name from a client can neither split a line nor reach a
/// terminal as a control sequence.
pub fn escape(text: &[u8]) -> String {
    let mut buf = Vec::with_capacity(text.len());
    escape_bytes(&mut buf, text);
    // Every byte is printable ASCII now, so each is exactly one char.
    buf.into_iter().map(char::from).collect()
}

/// Escapes `"`, `\`, control bytes and non-ASCII as nginx does (`\"`, `\\`, `\xHH`); the result
/// is printable ASCII.
fn escape_bytes(buf: &mut Vec<u8>, text: &[u8]) {
    for &b in text {
        match b {
            b'"' | b'\\' => buf.extend_from_slice(&[b'\\', b]),
            0x20..=0x7E => buf.push(b),
            _ => {
                let _ = write!(buf, "\\x{b:02X}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(format: LogFormat, entry: &Entry<'_>) -> String {
        let mut buf = Vec::new();
        format_line(&mut buf, format, entry);
        String::from_utf8(buf).unwrap()
    }

    fn entry<'a>(request_line: &'a [u8], user_agent: &'a [u8]) -> Entry<'a> {
        Entry {
            remote: Some("127.0.0.1".parse().unwrap()),
            time: 784_111_777,
            request_line,
            status: 200,
            bytes: 42,
            referer: b"",
            user_agent,
            duration: Duration::from_micros(153),
        }
    }

    #[test]
    fn combined_format_has_every_field() {
        assert_eq!(
            line(LogFormat::Combined, &entry(b"GET / HTTP/1.1", b"curl/8.0")),
            "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET / HTTP/1.1\" 200 42 \"-\" \"curl/8.0\" 153\n"
        );
    }

    #[test]
    fn common_format_leaves_out_referer_and_agent() {
        assert_eq!(
            line(LogFormat::Common, &entry(b"GET / HTTP/1.1", b"curl/8.0")),
            "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET / HTTP/1.1\" 200 42 153\n"
        );
    }

    #[test]
    fn injected_quotes_and_line_breaks_stay_inside_one_field() {
        let text = line(
            LogFormat::Combined,
            &entry(b"GET / HTTP/1.1", b"x\" 500 \"evil\r\nforged \\ \xff"),
        );
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains(r#""x\" 500 \"evil\x0D\x0Aforged \\ \xFF" 153"#),
            "{text}"
        );
    }

    #[test]
    fn long_fields_are_cut() {
        let long = vec![b'a'; MAX_FIELD * 4];
        let text = line(LogFormat::Combined, &entry(b"GET / HTTP/1.1", &long));
        assert!(text.len() < MAX_FIELD + 200, "{}", text.len());
        assert!(text.contains("aaa...\""));
    }
}
