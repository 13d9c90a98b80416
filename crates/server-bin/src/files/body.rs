//! Response bodies taken from files: copied behind the head when small, sent with `sendfile`
//! from the page cache when large, or written from a worker's cached copy. A body is a queue of
//! segments, so that a `multipart/byteranges` response interleaves part heads (bytes) with
//! ranges of the source, each file range still going by `sendfile`. This module must not decide
//! which bytes a response needs.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use http_core::range::{ByteRange, Multipart};
use rustix::fd::AsFd;
use rustix::io::Errno;

/// Bodies up to this size are copied into the write buffer behind the head, so head and body
/// leave in one write; larger ones go by `sendfile` after the head.
pub const INLINE_BODY_MAX: u64 = 16 * 1024;

/// Largest single `sendfile` call; how much one connection may send per turn is the caller's
/// allowance.
const SENDFILE_CHUNK: usize = 1 << 20;

#[derive(Debug)]
enum Segment {
    /// Bytes made by the server (a multipart part head), and how many are already sent.
    Bytes(Vec<u8>, usize),
    /// Bytes `offset..end` of the source still to send.
    Range { offset: u64, end: u64 },
}

/// Where a body's bytes come from.
#[derive(Debug)]
pub enum Source {
    /// An open file.
    File(File),
    /// Bytes in memory: a worker's cached copy of a small file, or a compressed copy (a vector
    /// behind the `Arc`, so that a copy made in a `Vec` is shared without being copied again).
    Memory(Arc<Vec<u8>>),
}

/// A body still to be sent: ranges of a source, possibly between server-made bytes.
#[derive(Debug)]
pub struct FileBody {
    source: Source,
    segments: VecDeque<Segment>,
}

/// What a call to [`FileBody::send`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Everything has been sent.
    Done,
    /// The socket cannot take more now.
    Blocked,
    /// The allowance for this call is used up; the socket may take more.
    Paused,
}

impl FileBody {
    /// The bytes `offset..offset + len` of `source`.
    pub fn range(source: Source, offset: u64, len: u64) -> Self {
        let mut segments = VecDeque::with_capacity(1);
        if len > 0 {
            segments.push_back(Segment::Range {
                offset,
                end: offset + len,
            });
        }
        Self { source, segments }
    }

    /// A `multipart/byteranges` body laid out by `layout`.
    pub fn multipart(source: Source, layout: Multipart) -> Self {
        let mut segments = VecDeque::with_capacity(layout.parts.len() * 2 + 1);
        for (head, ByteRange { start, end }) in layout.parts {
            segments.push_back(Segment::Bytes(head, 0));
            segments.push_back(Segment::Range {
                offset: start,
                end: end + 1,
            });
        }
        segments.push_back(Segment::Bytes(layout.trailer, 0));
        Self { source, segments }
    }

    /// The next bytes to send when they are in memory (a cached file), so the caller can write
    /// them in the same call as the head before them.
    pub fn memory_front(&self) -> Option<&[u8]> {
        match (&self.source, self.segments.front()?) {
            (Source::Memory(bytes), Segment::Range { offset, end }) => {
                bytes.get(usize::try_from(*offset).ok()?..usize::try_from(*end).ok()?)
            }
            _ => None,
        }
    }

    /// Marks `n` bytes of [`FileBody::memory_front`] as sent.
    pub fn advance_memory(&mut self, n: usize) {
        if let Some(Segment::Range { offset, end }) = self.segments.front_mut() {
            *offset = (*offset + n as u64).min(*end);
            if offset == end {
                self.segments.pop_front();
            }
        }
    }

    /// Whether the body goes by `sendfile` (so the head before it may wait to share a packet).
    pub fn is_file(&self) -> bool {
        matches!(self.source, Source::File(_))
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
    pub fn read_into(self, buf: &mut Vec<u8>) -> io::Result<()> {
        let start = buf.len();
        for segment in &self.segments {
            let read = match segment {
                Segment::Bytes(bytes, sent) => {
                    buf.extend_from_slice(&bytes[*sent..]);
                    Ok(())
                }
                Segment::Range { offset, end } => match &self.source {
                    Source::File(file) => {
                        let at = buf.len();
                        let len = usize::try_from(end - offset)
                            .map_err(|_| io::ErrorKind::InvalidInput)?;
                        buf.resize(at + len, 0);
                        file.read_exact_at(&mut buf[at..], *offset)
                    }
                    Source::Memory(bytes) => {
                        buf.extend_from_slice(&bytes[*offset as usize..*end as usize]);
                        Ok(())
                    }
                },
            };
            if let Err(e) = read {
                buf.truncate(start);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Appends the next at most `max` bytes of the body to `buf` and counts them as gone: for
    /// transports that must see the bytes (TLS encrypts them), where `sendfile` cannot serve.
    /// Returns how many were appended; 0 once the body is done.
    ///
    /// # Errors
    ///
    /// Read errors, and `UnexpectedEof` if the file has shrunk (as for [`FileBody::send`]).
    pub fn read_chunk(&mut self, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        let Self { source, segments } = self;
        while let Some(segment) = segments.front_mut() {
            let n = match segment {
                Segment::Bytes(bytes, sent) => {
                    let end = bytes.len().min(*sent + max);
                    buf.extend_from_slice(&bytes[*sent..end]);
                    let n = end - *sent;
                    *sent = end;
                    if *sent == bytes.len() {
                        segments.pop_front();
                    }
                    n
                }
                Segment::Range { offset, end } => {
                    let want = usize::try_from(*end - *offset).map_or(max, |left| left.min(max));
                    let n = match source {
                        Source::File(file) => {
                            let at = buf.len();
                            buf.resize(at + want, 0);
                            let read = loop {
                                match file.read_at(&mut buf[at..], *offset) {
                                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                                    other => break other,
                                }
                            };
                            let n = *read.as_ref().unwrap_or(&0);
                            buf.truncate(at + n);
                            match read {
                                Ok(0) if want > 0 => {
                                    return Err(io::ErrorKind::UnexpectedEof.into());
                                }
                                Ok(n) => n,
                                Err(e) => return Err(e),
                            }
                        }
                        Source::Memory(bytes) => {
                            let from = *offset as usize;
                            buf.extend_from_slice(&bytes[from..from + want]);
                            want
                        }
                    };
                    *offset += n as u64;
                    if *offset == *end {
                        segments.pop_front();
                    }
                    n
                }
            };
            if n > 0 || max == 0 {
                return Ok(n);
            }
        }
        Ok(0)
    }

    /// Sends until done, until the socket would block, or until `allowance` bytes have gone,
    /// adding the bytes sent to `sent_bytes`.
    ///
    /// # Errors
    ///
    /// Socket errors, and `UnexpectedEof` if the file has shrunk: the promised Content-Length
    /// can no longer be met, so the caller must close the connection.
    pub fn send(
        &mut self,
        socket: impl AsFd,
        sent_bytes: &mut u64,
        allowance: u64,
    ) -> io::Result<Sent> {
        let mut left = allowance;
        while let Some(segment) = self.segments.front_mut() {
            if left == 0 {
                return Ok(Sent::Paused);
            }
            let most = usize::try_from(left).unwrap_or(usize::MAX);
            let progress = match segment {
                Segment::Bytes(bytes, sent) => {
                    let end = bytes.len().min(*sent + most);
                    rustix::io::write(&socket, &bytes[*sent..end]).map(|n| {
                        *sent += n;
                        (n, *sent == bytes.len())
                    })
                }
                Segment::Range { offset, end } => match &self.source {
                    Source::File(file) => {
                        let want = usize::try_from(*end - *offset)
                            .unwrap_or(usize::MAX)
                            .min(SENDFILE_CHUNK)
                            .min(most);
                        match rustix::fs::sendfile(&socket, file, Some(offset), want) {
                            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                            result => result.map(|n| (n, *offset == *end)),
                        }
                    }
                    Source::Memory(bytes) => {
                        let stop = (*end).min(*offset + left);
                        let rest = &bytes[*offset as usize..stop as usize];
                        rustix::io::write(&socket, rest).map(|n| {
                            *offset += n as u64;
                            (n, *offset == *end)
                        })
                    }
                },
            };
            match progress {
                Ok((n, finished)) => {
                    *sent_bytes += n as u64;
                    left = left.saturating_sub(n as u64);
                    if finished {
                        self.segments.pop_front();
                    }
                }
                Err(Errno::AGAIN) => return Ok(Sent::Blocked),
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Sent::Done)
    }
}
