//! The system calls a connection's bytes go through, behind one small trait so that the layers
//! above can be tested over memory: `recv`, `sendmsg` (with `MSG_MORE` to hold a segment back for
//! the bytes that follow), `sendfile`, half-closing, and asking how much input waits unread.
//!
//! The calls go straight to the kernel through rustix rather than through the C library, whose
//! `recv` and `send` are thread cancellation points costing two more calls each. This module
//! must not decide what to send or when.

use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::net::{IpAddr, Shutdown};

use mio::net::TcpStream;
use rustix::net::{RecvFlags, SendAncillaryBuffer, SendFlags};

/// Bytes asked of the socket per read (plain data, or TLS ciphertext).
pub const READ_CHUNK: usize = 4096;

/// A connected, non-blocking stream socket: `WouldBlock` when it cannot go on now.
pub trait Socket {
    /// Reads into `buf`; `Ok(0)` when the peer has closed its side.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when nothing waits; socket errors.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes the `parts` in order, as one call; with `more`, the last segment may be held back
    /// for bytes that follow at once (`MSG_MORE`). A closed peer is an error, never `SIGPIPE`.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the send buffer is full; socket errors.
    fn send(&mut self, parts: &[IoSlice<'_>], more: bool) -> io::Result<usize>;

    /// Sends `len` bytes of `file` from `offset` without copying them through user space.
    ///
    /// # Errors
    ///
    /// As [`Socket::send`]; `Ok(0)` when the file has no bytes at `offset` any more.
    fn sendfile(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize>;

    /// Shuts the write side: the FIN follows what was sent (and a segment held back by
    /// `MSG_MORE` leaves with it).
    fn shutdown_write(&mut self);

    /// How many received bytes wait unread in the kernel.
    ///
    /// # Errors
    ///
    /// When the kernel cannot say.
    fn unread(&self) -> io::Result<usize>;

    /// The peer's address (a system call: ask once per connection).
    fn peer_ip(&self) -> Option<IpAddr>;
}

impl Socket for TcpStream {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (n, _) = rustix::net::recv(&*self, buf, RecvFlags::empty())?;
        Ok(n)
    }

    fn send(&mut self, parts: &[IoSlice<'_>], more: bool) -> io::Result<usize> {
        let flags = match more {
            true => SendFlags::NOSIGNAL | SendFlags::MORE,
            false => SendFlags::NOSIGNAL,
        };
        let sent = match parts {
            [one] => rustix::net::send(&*self, one, flags),
            parts => {
                let mut no_control = SendAncillaryBuffer::default();
                rustix::net::sendmsg(&*self, parts, &mut no_control, flags)
            }
        };
        Ok(sent?)
    }

    fn sendfile(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        let mut offset = offset;
        Ok(rustix::fs::sendfile(&*self, file, Some(&mut offset), len)?)
    }

    fn shutdown_write(&mut self) {
        let _ = self.shutdown(Shutdown::Write);
    }

    fn unread(&self) -> io::Result<usize> {
        Ok(rustix::io::ioctl_fionread(self).map(|n| n as usize)?)
    }

    fn peer_ip(&self) -> Option<IpAddr> {
        self.peer_addr().ok().map(|a| a.ip())
    }
}

/// A [`Socket`] as `std::io`'s `Read` and `Write`, for rustls's `read_tls` and `write_tls`.
pub struct Raw<'a, S: Socket>(pub &'a mut S);

impl<S: Socket> Read for Raw<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.recv(buf)
    }
}

impl<S: Socket> Write for Raw<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.send(&[IoSlice::new(buf)], false)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.send(bufs, false)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An in-memory socket for the tests of the layers above: input arrives in the chunks the test
/// queued (a read takes what is queued, across chunks, as far as its buffer goes, as from a
/// kernel's receive buffer; an empty queue is `WouldBlock`, or the end of stream once the test
/// closed it); output is kept, and refused with `WouldBlock` once `room` bytes
/// are taken, as from a client that stopped reading.
#[cfg(test)]
#[derive(Debug, Default)]
pub struct MemorySocket {
    /// Chunks still to be read.
    pub input: std::collections::VecDeque<Vec<u8>>,
    /// After the queued chunks, a read returns the end of stream.
    pub eof: bool,
    /// Everything written.
    pub output: Vec<u8>,
    /// Bytes the socket still takes before answering `WouldBlock` (`None`: without limit).
    pub room: Option<usize>,
    /// The write side has been shut.
    pub shut: bool,
    /// Calls that sent with `MSG_MORE`.
    pub held_back: usize,
    /// The address the peer has.
    pub peer: Option<IpAddr>,
    /// Calls to `recv` and to `send`, as system calls would be counted.
    pub recvs: usize,
    /// See `recvs`.
    pub sends: usize,
}

#[cfg(test)]
impl MemorySocket {
    /// Queues `bytes` as one chunk of input.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.input.push_back(bytes.to_vec());
    }

    fn take(&mut self, n: usize) -> io::Result<usize> {
        let n = self.room.map_or(n, |room| room.min(n));
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if let Some(room) = &mut self.room {
            *room -= n;
        }
        Ok(n)
    }
}

#[cfg(test)]
impl Socket for MemorySocket {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recvs += 1;
        if self.input.is_empty() {
            return match self.eof {
                true => Ok(0),
                false => Err(io::ErrorKind::WouldBlock.into()),
            };
        }
        // As a kernel's receive buffer: what has arrived, across the chunks, as far as `buf`
        // takes it (a codec may take a read shorter than asked for as a drained socket).
        let mut n = 0;
        while let Some(chunk) = self.input.front_mut() {
            let take = chunk.len().min(buf.len() - n);
            if take == 0 {
                break;
            }
            buf[n..n + take].copy_from_slice(&chunk[..take]);
            chunk.drain(..take);
            n += take;
            if chunk.is_empty() {
                self.input.pop_front();
            }
        }
        Ok(n)
    }

    fn send(&mut self, parts: &[IoSlice<'_>], more: bool) -> io::Result<usize> {
        self.sends += 1;
        let all: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
        let n = self.take(all.len())?;
        self.output.extend_from_slice(&all[..n]);
        self.held_back += usize::from(more);
        Ok(n)
    }

    fn sendfile(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0; len];
        let read = file.read_at(&mut buf, offset)?;
        if read == 0 {
            return Ok(0);
        }
        let n = self.take(read)?;
        self.output.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn shutdown_write(&mut self) {
        self.shut = true;
    }

    fn unread(&self) -> io::Result<usize> {
        Ok(self.input.iter().map(Vec::len).sum())
    }

    fn peer_ip(&self) -> Option<IpAddr> {
        self.peer
    }
}
