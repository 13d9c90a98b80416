//! Response bodies as a queue of segments: ranges of a source (an open file, or a worker's
//! cached copy of one) and bytes the server made (a multipart part head, a generated page), so
//! that a `multipart/byteranges` body interleaves part heads with ranges of the file and each
//! file range can still go by `sendfile`.
//!
//! This module says which bytes come next ([`FileBody::next`]) and reads them when the caller
//! needs them in memory ([`FileBody::peek_chunk`]); the transport decides how they reach the
//! socket. It must not touch sockets, nor decide which bytes a response needs.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use http_core::range::{ByteRange, Multipart};

#[derive(Debug)]
enum Segment {
    /// Bytes made by the server, and how many are already sent.
    Bytes(Cow<'static, [u8]>, usize),
    /// Bytes `offset..end` of the source still to send.
    Range { offset: u64, end: u64 },
}

/// The segments still to send, the first kept apart: a body of one range or one page, nearly
/// every body, is made without an allocation (a one-element queue cost one a response).
#[derive(Debug, Default)]
struct Segments {
    /// The next segment; `None` only when `rest` is empty too.
    first: Option<Segment>,
    rest: VecDeque<Segment>,
}

impl Segments {
    /// Room for `n` segments, the first apart.
    fn with_capacity(n: usize) -> Self {
        Self {
            first: None,
            rest: VecDeque::with_capacity(n.saturating_sub(1)),
        }
    }

    fn push_back(&mut self, segment: Segment) {
        match self.first {
            None => self.first = Some(segment),
            Some(_) => self.rest.push_back(segment),
        }
    }

    fn front(&self) -> Option<&Segment> {
        self.first.as_ref()
    }

    fn front_mut(&mut self) -> Option<&mut Segment> {
        self.first.as_mut()
    }

    fn pop_front(&mut self) {
        self.first = self.rest.pop_front();
    }

    fn iter(&self) -> impl Iterator<Item = &Segment> {
        self.first.iter().chain(&self.rest)
    }
}

/// Where a body's ranges come from.
#[derive(Debug)]
pub enum Source {
    /// An open file.
    File(File),
    /// A file the worker's cache keeps open, shared with it (sent by offsets, so its position
    /// is never used).
    Shared(Arc<File>),
    /// Bytes in memory: a worker's cached copy of a small file, or a compressed copy (a vector
    /// behind the `Arc`, so that a copy made in a `Vec` is shared without being copied again).
    Memory(Arc<Vec<u8>>),
}

impl Source {
    /// The open file the bytes are read from, its own or shared with the cache.
    fn file(&self) -> Option<&File> {
        match self {
            Self::File(file) => Some(file),
            Self::Shared(file) => Some(file),
            Self::Memory(_) => None,
        }
    }
}

/// The next bytes of a body.
#[derive(Debug)]
pub enum Next<'a> {
    /// In memory.
    Bytes(&'a [u8]),
    /// `len` bytes of `file` from `offset`: for `sendfile`, or to be read.
    File {
        /// The file.
        file: &'a File,
        /// Where they start.
        offset: u64,
        /// How many.
        len: u64,
    },
}

/// A body still to be sent: ranges of a source, possibly between server-made bytes.
#[derive(Debug)]
pub struct FileBody {
    source: Option<Source>,
    segments: Segments,
}

impl FileBody {
    /// The bytes `offset..offset + len` of `source`.
    pub fn range(source: Source, offset: u64, len: u64) -> Self {
        let mut segments = Segments::default();
        if len > 0 {
            segments.push_back(Segment::Range {
                offset,
                end: offset + len,
            });
        }
        Self {
            source: Some(source),
            segments,
        }
    }

    /// A `multipart/byteranges` body laid out by `layout`.
    pub fn multipart(source: Source, layout: Multipart) -> Self {
        let mut segments = Segments::with_capacity(layout.parts.len() * 2 + 1);
        for (head, ByteRange { start, end }) in layout.parts {
            segments.push_back(Segment::Bytes(Cow::Owned(head), 0));
            segments.push_back(Segment::Range {
                offset: start,
                end: end + 1,
            });
        }
        segments.push_back(Segment::Bytes(Cow::Owned(layout.trailer), 0));
        Self {
            source: Some(source),
            segments,
        }
    }

    /// Bytes the server made, such as a generated page.
    pub fn bytes(bytes: Cow<'static, [u8]>) -> Self {
        let mut segments = Segments::default();
        if !bytes.is_empty() {
            segments.push_back(Segment::Bytes(bytes, 0));
        }
        Self {
            source: None,
            segments,
        }
    }

    /// Whether it reads from an open file, whose descriptor it holds until it is dropped (a
    /// file shared with the cache counts too: the cache may let it go first).
    pub fn holds_file(&self) -> bool {
        self.source.as_ref().and_then(Source::file).is_some()
    }

    /// The next bytes to send; `None` once the body is done.
    pub fn next(&self) -> Option<Next<'_>> {
        match self.segments.front()? {
            Segment::Bytes(bytes, sent) => Some(Next::Bytes(bytes.get(*sent..)?)),
            Segment::Range { offset, end } => match self.source.as_ref()? {
                Source::Memory(bytes) => {
                    let range = usize::try_from(*offset).ok()?..usize::try_from(*end).ok()?;
                    Some(Next::Bytes(bytes.get(range)?))
                }
                source => Some(Next::File {
                    file: source.file()?,
                    offset: *offset,
                    len: end - offset,
                }),
            },
        }
    }

    /// Marks `n` bytes of [`FileBody::next`] as sent (at most what it offered).
    pub fn advance(&mut self, n: usize) {
        let done = match self.segments.front_mut() {
            Some(Segment::Bytes(bytes, sent)) => {
                *sent = (*sent + n).min(bytes.len());
                *sent == bytes.len()
            }
            Some(Segment::Range { offset, end }) => {
                *offset = (*offset + n as u64).min(*end);
                offset == end
            }
            None => false,
        };
        if done {
            self.segments.pop_front();
        }
    }

    /// Bytes not yet sent.
    pub fn remaining(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Bytes(bytes, sent) => (bytes.len() - sent) as u64,
                Segment::Range { offset, end } => end - offset,
            })
            .sum()
    }

    /// Appends the whole remaining body to `buf` (for small bodies).
    ///
    /// # Errors
    ///
    /// Any read error, or `UnexpectedEof` if the file has shrunk since it was opened; `buf` is
    /// then left as it was.
    pub fn read_into(mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        let start = buf.len();
        while let Some(next) = self.next() {
            let read = match next {
                Next::Bytes(bytes) => {
                    buf.extend_from_slice(bytes);
                    Ok(bytes.len())
                }
                Next::File { file, offset, len } => usize::try_from(len)
                    .map_err(|_| io::ErrorKind::InvalidInput.into())
                    .and_then(|len| read_at(file, offset, len, buf)),
            };
            match read {
                Ok(n) => self.advance(n),
                Err(e) => {
                    buf.truncate(start);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Appends the next at most `max` bytes of the body to `buf`, from the next segment alone,
    /// without counting them as gone: for transports that must see the bytes (TLS encrypts
    /// them, HTTP/2 frames them), where `sendfile` cannot serve. The caller calls
    /// [`FileBody::advance`] for what it has really sent, and may drop the rest (TLS does while
    /// its socket is full) to read it again later. Returns how many were appended; 0 once the
    /// body is done.
    ///
    /// # Errors
    ///
    /// Read errors, and `UnexpectedEof` if the file has shrunk: the promised length can no
    /// longer be met, so the caller must end the response abnormally.
    pub fn peek_chunk(&self, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        Ok(match self.next() {
            None => 0,
            Some(Next::Bytes(bytes)) => {
                let n = bytes.len().min(max);
                buf.extend_from_slice(bytes.get(..n).unwrap_or_default());
                n
            }
            Some(Next::File { file, offset, len }) => {
                let want = usize::try_from(len).map_or(max, |len| len.min(max));
                read_at(file, offset, want, buf)?
            }
        })
    }
}

/// Appends `want` bytes of `file` from `offset` to `buf` (fewer if one read gives fewer).
fn read_at(file: &File, offset: u64, want: usize, buf: &mut Vec<u8>) -> io::Result<usize> {
    let at = buf.len();
    buf.resize(at + want, 0);
    let read = loop {
        match file.read_at(buf.get_mut(at..).unwrap_or_default(), offset) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => break other,
        }
    };
    let n = *read.as_ref().unwrap_or(&0);
    buf.truncate(at + n);
    match read {
        Ok(0) if want > 0 => Err(io::ErrorKind::UnexpectedEof.into()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(mut body: FileBody, chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let n = body.peek_chunk(&mut out, chunk).unwrap();
            if n == 0 {
                break;
            }
            body.advance(n);
        }
        assert_eq!(body.remaining(), 0);
        out
    }

    #[test]
    fn a_multipart_body_interleaves_part_heads_with_ranges_of_the_source() {
        let source = Source::Memory(Arc::new(b"0123456789".to_vec()));
        let ranges = [
            ByteRange { start: 1, end: 2 },
            ByteRange { start: 7, end: 8 },
        ];
        let layout = Multipart::new(&ranges, 10, "text/plain", "B").unwrap();
        let body = FileBody::multipart(source, layout);
        let text = String::from_utf8(drain(body, 3)).unwrap();
        let parts: Vec<&str> = text.split("--B").collect();
        assert!(parts[1].ends_with("\r\n\r\n12\r\n"), "{text:?}");
        assert!(parts[2].ends_with("\r\n\r\n78\r\n"), "{text:?}");
        assert_eq!(parts[3], "--\r\n");
    }

    #[test]
    fn a_peeked_chunk_counts_as_gone_only_once_advanced_past() {
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, b"abcdef").unwrap();
        let mut body = FileBody::range(Source::File(file), 0, 6);
        let (mut first, mut again) = (Vec::new(), Vec::new());
        assert_eq!(body.peek_chunk(&mut first, 4).unwrap(), 4);
        assert_eq!(body.peek_chunk(&mut again, 4).unwrap(), 4);
        assert_eq!(
            (&first[..], &again[..], body.remaining()),
            (&b"abcd"[..], &b"abcd"[..], 6)
        );
        // Only part was sent: the rest is read again.
        body.advance(1);
        let mut rest = Vec::new();
        assert_eq!(body.peek_chunk(&mut rest, 100).unwrap(), 5);
        assert_eq!(rest, b"bcdef");
    }

    #[test]
    fn a_file_that_shrank_is_an_unexpected_end() {
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, b"abc").unwrap();
        let mut body = FileBody::range(Source::File(file), 1, 10);
        let mut out = Vec::new();
        assert_eq!(body.peek_chunk(&mut out, 100).unwrap(), 2);
        body.advance(2);
        let err = body.peek_chunk(&mut out, 100).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(out, b"bc");
    }

    #[test]
    fn advancing_through_bytes_and_ranges_ends_the_body() {
        let mut body = FileBody::bytes(Cow::Borrowed(b"hello"));
        assert!(matches!(body.next(), Some(Next::Bytes(b"hello"))));
        body.advance(2);
        assert!(matches!(body.next(), Some(Next::Bytes(b"llo"))));
        body.advance(3);
        assert!(body.next().is_none());
        assert!(FileBody::bytes(Cow::Borrowed(b"")).next().is_none());
    }
}
