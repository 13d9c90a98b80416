//! Response bodies taken from files: copied behind the head when small, sent with `sendfile`
//! from the page cache when large. It must not decide which bytes a response needs.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use rustix::fd::AsFd;

/// Bodies up to this size are copied into the write buffer behind the head, so head and body
/// leave in one write; larger ones go by `sendfile` after the head.
pub const INLINE_BODY_MAX: u64 = 16 * 1024;

/// Largest single `sendfile` call, so one large download cannot monopolise a worker while the
/// socket buffer keeps accepting data.
const SENDFILE_CHUNK: usize = 1 << 20;

/// A byte range of an open file still to be sent.
#[derive(Debug)]
pub struct FileBody {
    file: File,
    offset: u64,
    end: u64,
}

/// What a call to [`FileBody::send`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Everything has been sent.
    Done,
    /// The socket cannot take more now.
    Blocked,
}

impl FileBody {
    /// The bytes `offset..offset + len` of `file`.
    pub fn new(file: File, offset: u64, len: u64) -> Self {
        Self {
            file,
            offset,
            end: offset + len,
        }
    }

    /// Bytes not yet sent.
    pub fn remaining(&self) -> u64 {
        self.end - self.offset
    }

    /// Appends the whole remaining range to `buf` (for small bodies).
    ///
    /// # Errors
    ///
    /// Any read error, or `UnexpectedEof` if the file has shrunk since it was opened.
    pub fn read_into(mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        let start = buf.len();
        let len = usize::try_from(self.remaining()).map_err(|_| io::ErrorKind::InvalidInput)?;
        buf.resize(start + len, 0);
        let read = self.file.read_exact_at(&mut buf[start..], self.offset);
        if read.is_err() {
            buf.truncate(start);
        }
        self.offset = self.end;
        read
    }

    /// Sends with `sendfile` until done or until the socket would block, adding the bytes sent
    /// to `sent_bytes`.
    ///
    /// # Errors
    ///
    /// Socket errors, and `UnexpectedEof` if the file has shrunk: the promised Content-Length
    /// can no longer be met, so the caller must close the connection.
    pub fn send(&mut self, socket: impl AsFd, sent_bytes: &mut u64) -> io::Result<Sent> {
        while self.offset < self.end {
            let want = usize::try_from(self.remaining())
                .unwrap_or(usize::MAX)
                .min(SENDFILE_CHUNK);
            match rustix::fs::sendfile(&socket, &self.file, Some(&mut self.offset), want) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => *sent_bytes += n as u64,
                Err(rustix::io::Errno::AGAIN) => return Ok(Sent::Blocked),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Sent::Done)
    }
}
