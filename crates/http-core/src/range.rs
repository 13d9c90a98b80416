//! Byte ranges (RFC 9110 §14): the `Range` field against a representation's length, and the
//! layout of a `multipart/byteranges` body.
//!
//! Pure: lengths come in, ranges and byte layouts go out. Whether `If-Range` lets a range apply
//! is [`crate::conditional::if_range_allows`]; sending is the caller's business.

use std::fmt::Write as _;

use crate::bytes::{digit, split_once};

/// Most ranges served in one response; more are answered with the whole representation, which
/// defeats "many small ranges" amplification (RFC 9110 §14.2, security considerations).
pub const MAX_RANGES: usize = 16;

/// An inclusive byte range `start..=end`, always inside the representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive).
    pub end: u64,
}

impl ByteRange {
    /// Number of bytes.
    pub fn len(&self) -> u64 {
        // `start <= end < u64::MAX` for every range `parse` makes, so this never saturates.
        self.end.saturating_sub(self.start).saturating_add(1)
    }

    /// Never true: a range has at least one byte. (For the `len`/`is_empty` convention.)
    pub fn is_empty(&self) -> bool {
        false
    }

    /// `Content-Range` value: `bytes start-end/complete`.
    pub fn content_range(&self, complete: u64) -> String {
        format!("bytes {}-{}/{complete}", self.start, self.end)
    }
}

/// What to do with a `Range` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ranges {
    /// Ignore it and send the whole representation (`200`): the field is malformed, has another
    /// unit, asks for too many ranges, or asks for overlapping ranges or more bytes than exist.
    Whole,
    /// Send these ranges (`206`), in the order asked. One range is a plain partial response,
    /// several a `multipart/byteranges` one.
    Partial(Vec<ByteRange>),
    /// No range overlaps the representation (`416` with `Content-Range: bytes */len`).
    Unsatisfiable,
}

/// Interprets a `Range` value for a representation of `len` bytes.
pub fn parse(value: &[u8], len: u64) -> Ranges {
    let value = value.trim_ascii();
    let Some((unit, set)) = split_once(value, b'=') else {
        return Ranges::Whole;
    };
    if !unit.trim_ascii().eq_ignore_ascii_case(b"bytes") {
        return Ranges::Whole;
    }
    let mut specs = Vec::new();
    for item in set.split(|&b| b == b',') {
        let item = item.trim_ascii();
        if item.is_empty() {
            continue; // empty list elements are allowed (RFC 9110 §5.6.1)
        }
        if specs.len() == MAX_RANGES {
            return Ranges::Whole;
        }
        match parse_spec(item) {
            Some(spec) => specs.push(spec),
            None => return Ranges::Whole,
        }
    }
    if specs.is_empty() {
        return Ranges::Whole;
    }
    let ranges: Vec<ByteRange> = specs.into_iter().filter_map(|s| s.resolve(len)).collect();
    if ranges.is_empty() {
        return Ranges::Unsatisfiable;
    }
    if ranges.len() > 1 {
        let total = ranges
            .iter()
            .try_fold(0u64, |sum, r| sum.checked_add(r.len()));
        if total.is_none_or(|total| total > len) || overlapping(&ranges) {
            return Ranges::Whole;
        }
    }
    Ranges::Partial(ranges)
}

/// A range spec before it meets the length.
#[derive(Debug, Clone, Copy)]
enum Spec {
    /// `first-last` or `first-`.
    From { first: u64, last: Option<u64> },
    /// `-suffix`.
    Suffix(u64),
}

impl Spec {
    fn resolve(self, len: u64) -> Option<ByteRange> {
        match self {
            Self::From { first, last } => {
                if first >= len {
                    return None;
                }
                let last_byte = len.checked_sub(1)?;
                let end = last.map_or(last_byte, |l| l.min(last_byte));
                Some(ByteRange { start: first, end })
            }
            Self::Suffix(n) => {
                if n == 0 {
                    return None;
                }
                Some(ByteRange {
                    start: len.saturating_sub(n),
                    end: len.checked_sub(1)?,
                })
            }
        }
    }
}

fn parse_spec(item: &[u8]) -> Option<Spec> {
    let (first, last) = split_once(item, b'-')?;
    if first.is_empty() {
        return Some(Spec::Suffix(number(last)?));
    }
    let first = number(first)?;
    let last = if last.is_empty() {
        None
    } else {
        Some(number(last)?)
    };
    if last.is_some_and(|l| l < first) {
        return None; // invalid spec: the whole field is ignored (RFC 9110 §14.1.1)
    }
    Some(Spec::From { first, last })
}

/// `1*DIGIT`, saturating: a position past any real length behaves like a very large one.
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        Some(acc.saturating_mul(10).saturating_add(u64::from(digit(b)?)))
    })
}

fn overlapping(ranges: &[ByteRange]) -> bool {
    let mut sorted = ranges.to_vec();
    sorted.sort_by_key(|r| r.start);
    sorted
        .windows(2)
        .any(|w| matches!(w, [a, b] if b.start <= a.end))
}

/// The byte layout of a `multipart/byteranges` body (RFC 9110 §14.6): before each range, its
/// part head; after the last, the closing delimiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart {
    /// Each range with the bytes that precede it.
    pub parts: Vec<(Vec<u8>, ByteRange)>,
    /// The closing delimiter.
    pub trailer: Vec<u8>,
    /// The body's total length, for `Content-Length`.
    pub content_length: u64,
    /// The response's `Content-Type`.
    pub content_type: String,
}

impl Multipart {
    /// Lays out `ranges` of a representation of `complete` bytes and type `content_type`.
    /// `boundary` must not occur in the content; a random 32-character token is what callers
    /// are expected to pass. `None` when the body's length would not fit in a `u64` (only for
    /// representations within a few kilobytes of 16 EiB; send the whole one instead).
    pub fn new(
        ranges: &[ByteRange],
        complete: u64,
        content_type: &str,
        boundary: &str,
    ) -> Option<Self> {
        let mut parts = Vec::with_capacity(ranges.len());
        let mut content_length: u64 = 0;
        for (i, range) in ranges.iter().enumerate() {
            let mut head = String::new();
            if i > 0 {
                head.push_str("\r\n");
            }
            let _ = write!(
                head,
                "--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: {}\r\n\r\n",
                range.content_range(complete)
            );
            content_length = content_length
                .checked_add(head.len() as u64)?
                .checked_add(range.len())?;
            parts.push((head.into_bytes(), *range));
        }
        let trailer = format!("\r\n--{boundary}--\r\n").into_bytes();
        content_length = content_length.checked_add(trailer.len() as u64)?;
        Some(Self {
            parts,
            trailer,
            content_length,
            content_type: format!("multipart/byteranges; boundary={boundary}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }

    #[test]
    fn range_table() {
        use Ranges::{Partial, Unsatisfiable, Whole};
        let len = 1000;
        let cases: Vec<(&str, Ranges)> = vec![
            // single ranges
            ("bytes=0-499", Partial(vec![r(0, 499)])),
            ("bytes=500-999", Partial(vec![r(500, 999)])),
            ("bytes=0-0", Partial(vec![r(0, 0)])),
            ("bytes=999-999", Partial(vec![r(999, 999)])),
            ("bytes=0-", Partial(vec![r(0, 999)])),
            ("bytes=900-", Partial(vec![r(900, 999)])),
            ("bytes=-1", Partial(vec![r(999, 999)])),
            ("bytes=-100", Partial(vec![r(900, 999)])),
            // the end is clamped, and so is a suffix longer than the file
            ("bytes=500-5000", Partial(vec![r(500, 999)])),
            ("bytes=0-99999999999999999999999", Partial(vec![r(0, 999)])),
            ("bytes=-5000", Partial(vec![r(0, 999)])),
            // spacing, case and empty list elements
            ("BYTES=0-1", Partial(vec![r(0, 1)])),
            ("bytes = 0-1", Partial(vec![r(0, 1)])),
            ("bytes=0-1, ,", Partial(vec![r(0, 1)])),
            (" bytes=,0-1 ", Partial(vec![r(0, 1)])),
            // several ranges, in the order asked
            ("bytes=0-9,20-29", Partial(vec![r(0, 9), r(20, 29)])),
            ("bytes=500-599, 0-99", Partial(vec![r(500, 599), r(0, 99)])),
            ("bytes=0-0,-1", Partial(vec![r(0, 0), r(999, 999)])),
            // unsatisfiable ranges are dropped; none left is 416
            ("bytes=0-9,2000-3000", Partial(vec![r(0, 9)])),
            ("bytes=1000-", Unsatisfiable),
            ("bytes=1000-2000", Unsatisfiable),
            ("bytes=-0", Unsatisfiable),
            ("bytes=1000-,2000-", Unsatisfiable),
            // malformed or other units: ignored
            ("", Whole),
            ("bytes", Whole),
            ("bytes=", Whole),
            ("bytes=abc", Whole),
            ("bytes=5", Whole),
            ("bytes=5-4", Whole),
            ("bytes=-", Whole),
            ("bytes=1-2-3", Whole),
            ("bytes=+1-2", Whole),
            ("bytes=0x10-20", Whole),
            ("bytes=0-1;x", Whole),
            ("items=0-1", Whole),
            ("bytes 0-1", Whole),
            ("bytes=0-9,5-", Whole),
            // overlapping or more bytes than the file: whole file
            ("bytes=0-499,400-599", Whole),
            ("bytes=0-999,0-0", Whole),
            ("bytes=-600,0-500", Whole),
            ("bytes=0-0,0-0", Whole),
        ];
        // Lengths near u64::MAX must not overflow the total.
        let huge = u64::MAX - 1;
        assert_eq!(parse(b"bytes=0-,-5", huge), Whole);
        assert!(cases.len() >= 30);
        for (value, expected) in cases {
            assert_eq!(parse(value.as_bytes(), len), expected, "{value:?}");
        }
    }

    #[test]
    fn at_most_sixteen_ranges() {
        let ranges = |n: u64| {
            (0..n)
                .map(|i| format!("{}-{}", i * 10, i * 10 + 1))
                .collect::<Vec<_>>()
                .join(",")
        };
        let sixteen = parse(format!("bytes={}", ranges(16)).as_bytes(), 1000);
        assert!(matches!(sixteen, Ranges::Partial(v) if v.len() == 16));
        assert_eq!(
            parse(format!("bytes={}", ranges(17)).as_bytes(), 1000),
            Ranges::Whole
        );
    }

    #[test]
    fn an_empty_representation_satisfies_no_range() {
        for value in ["bytes=0-", "bytes=0-0", "bytes=-1"] {
            assert_eq!(parse(value.as_bytes(), 0), Ranges::Unsatisfiable, "{value}");
        }
    }

    #[test]
    fn a_multipart_length_past_u64_is_refused_not_a_panic() {
        // Found by the `range` fuzz target: three ranges of an almost 16 EiB representation.
        let len = u64::MAX - 1;
        let Ranges::Partial(ranges) = parse(b"ByTeS=8-08,44-146,293-", len) else {
            panic!("three satisfiable ranges");
        };
        assert_eq!(Multipart::new(&ranges, len, "text/plain", "b"), None);
    }

    #[test]
    fn content_range_is_inclusive() {
        assert_eq!(r(0, 499).content_range(1000), "bytes 0-499/1000");
        assert_eq!(r(0, 499).len(), 500);
    }

    #[test]
    fn multipart_length_matches_the_bytes_it_describes() {
        let m = Multipart::new(
            &[r(0, 4), r(10, 19)],
            100,
            "text/plain; charset=utf-8",
            "B0UND",
        )
        .expect("a small body fits");
        let mut body = Vec::new();
        let content = [b'x'; 100];
        for (head, range) in &m.parts {
            body.extend_from_slice(head);
            body.extend_from_slice(&content[range.start as usize..=range.end as usize]);
        }
        body.extend_from_slice(&m.trailer);
        assert_eq!(body.len() as u64, m.content_length);
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with("--B0UND\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-4/100\r\n\r\nxxxxx\r\n--B0UND\r\n"));
        assert!(text.ends_with("\r\n--B0UND--\r\n"));
        assert_eq!(m.content_type, "multipart/byteranges; boundary=B0UND");
    }
}
