//! One TLS connection's record layer, driven by the worker's event loop: a rustls
//! `ServerConnection` fed from and flushed to the non-blocking socket (`read_tls`/`write_tls`),
//! never waiting on it. The handshake is driven by [`Session::handshake`] until it completes;
//! then reads hand plaintext to the caller's buffer, and writes take plaintext while rustls's
//! send buffer ([`SEND_BUFFER`]) has room, so a client that stops reading holds at most that
//! much encrypted output, and the caller sees `WouldBlock` as from a plain socket.
//!
//! Memory: an idle session costs about 7.5 KiB, all of it rustls's, and rustls 0.23's buffered
//! API has no call that gives any of it back: 4 KiB for received ciphertext, kept from the
//! first read on (`DeframerVecBuffer::prepare_read` resizes it to 4 KiB whenever it is empty,
//! never to nothing), 1.2 KiB of connection state, 1.1 KiB of traffic keys, 0.6 KiB of
//! handshake bookkeeping allocated up front. Its unbuffered API leaves the buffers to the
//! caller, which could drop them while idle (the 4 KiB), at the price of driving the record
//! layer by hand.
//!
//! It tells plain HTTP from TLS by the first byte (a TLS record starts with `0x16`, a
//! handshake), so that the connection can answer a `400` naming HTTPS instead of an opaque
//! alert. This module must not parse HTTP nor decide responses or deadlines.

use std::io::{self, BufRead, Write};
use std::sync::Arc;

use pool::would_block;
use rustls::{ServerConfig, ServerConnection};

use crate::metrics::tls::Failure;
use crate::transport::socket::{READ_CHUNK, Raw, Socket};

/// Encrypted bytes waiting for the socket, at most (rustls's default, stated here because the
/// memory per connection depends on it). Four full records: enough for one `writev` to fill a
/// socket buffer's worth of progress. One record (16 KiB) would hold less for a stalled
/// client, but cost 22% more server CPU per 1 MiB response (one worker pinned, wrk -t1 -c10,
/// 5 alternating rounds: 472 against 388 µs), and a stalled connection held about as much
/// (36 against 33 KiB, `scripts/bench/tls_memory.py`): the socket takes most of rustls's
/// buffer before it fills, so what stays is on average far less than the bound.
pub const SEND_BUFFER: usize = 64 * 1024;

/// Plaintext one TLS record carries at most (RFC 8446 §5.1, and rustls's record size unless a
/// `max_fragment_size` is set, which ours never is): a write of `n` such blocks goes out as `n`
/// full records, and whatever is written beyond them as one short record of its own.
pub const RECORD_PLAINTEXT: usize = 16 * 1024;

/// Ciphertext one read may consume without yielding a byte of plaintext. A handshake flight is
/// far smaller; a client streaming records that decrypt to nothing (empty or padding-only
/// records, warnings) past this is closed rather than allowed to hold the worker.
const MAX_BARREN_CIPHERTEXT: usize = 256 * 1024;

/// The first byte of a TLS handshake record (RFC 8446 §5.1, `ContentType.handshake`).
const HANDSHAKE_RECORD: u8 = 0x16;

/// Where a handshake stands after [`Session::handshake`].
#[derive(Debug)]
pub enum Handshake {
    /// Complete: plaintext may follow (some may already be buffered).
    Done,
    /// Waiting for the client (or for room in the socket to send the server's flight).
    Pending,
    /// The client spoke plain HTTP; these are the bytes it sent first.
    PlainHttp(Vec<u8>),
    /// The handshake failed (an alert has been sent if the socket took it).
    Failed(Failure),
    /// The client closed, or the socket failed, before the handshake completed.
    Closed,
}

/// The reason a rustls error stands for.
pub fn failure_of(e: &rustls::Error) -> Failure {
    use rustls::Error as E;
    match e {
        E::PeerIncompatible(_) => Failure::Incompatible,
        E::NoApplicationProtocol => Failure::NoApplicationProtocol,
        E::AlertReceived(_) => Failure::AlertReceived,
        _ => Failure::Malformed,
    }
}

/// A TLS connection's state.
#[derive(Debug)]
pub struct Session {
    conn: ServerConnection,
    /// Some ciphertext has arrived (the handshake's time limit runs from then).
    received: bool,
}

impl Session {
    /// A session for a new connection.
    ///
    /// # Errors
    ///
    /// When rustls cannot start one (it has no certificate resolver, say).
    pub fn new(config: &Arc<ServerConfig>) -> Result<Self, rustls::Error> {
        let mut conn = ServerConnection::new(Arc::clone(config))?;
        conn.set_buffer_limit(Some(SEND_BUFFER));
        Ok(Self {
            conn,
            received: false,
        })
    }

    /// Whether the handshake is still going on.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Whether any ciphertext has arrived.
    pub fn has_received(&self) -> bool {
        self.received
    }

    /// The negotiated version (`TLSv1.3`, `TLSv1.2`), as nginx's `$ssl_protocol` names it.
    pub fn version(&self) -> Option<&'static str> {
        match self.conn.protocol_version()? {
            rustls::ProtocolVersion::TLSv1_3 => Some("TLSv1.3"),
            rustls::ProtocolVersion::TLSv1_2 => Some("TLSv1.2"),
            _ => Some("TLS"),
        }
    }

    /// The negotiated ALPN protocol, if the client offered ALPN.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// Drives the handshake as far as the socket allows: reads the client's flights, sends the
    /// server's. Ciphertext read past the client's last flight stays buffered in rustls for
    /// [`Session::read`].
    pub fn handshake(&mut self, s: &mut impl Socket) -> Handshake {
        let mut raw = [0u8; READ_CHUNK];
        loop {
            match self.flush(s) {
                Ok(_) if !self.conn.is_handshaking() => return Handshake::Done,
                Ok(true) => {}
                Ok(false) => return Handshake::Pending,
                Err(_) => return Handshake::Closed,
            }
            let n = match s.recv(&mut raw) {
                Ok(0) => return Handshake::Closed,
                Ok(n) => n,
                Err(e) if would_block(&e) => return Handshake::Pending,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Handshake::Closed,
            };
            let chunk = raw.get(..n).unwrap_or_default();
            if !self.received && chunk.first() != Some(&HANDSHAKE_RECORD) {
                return Handshake::PlainHttp(chunk.to_vec());
            }
            self.received = true;
            if let Err(e) = self.feed(chunk) {
                // rustls has queued the alert that tells the client why.
                let _ = self.flush(s);
                return match e {
                    Fed::Tls(e) => Handshake::Failed(failure_of(&e)),
                    Fed::Io => Handshake::Closed,
                };
            }
        }
    }

    /// Hands ciphertext to rustls and processes it.
    fn feed(&mut self, mut rest: &[u8]) -> Result<(), Fed> {
        while !rest.is_empty() {
            self.conn.read_tls(&mut rest).map_err(|_| Fed::Io)?;
            self.conn.process_new_packets().map_err(Fed::Tls)?;
        }
        Ok(())
    }

    /// Moves encrypted output to the socket. `Ok(true)` when none is left, `Ok(false)` when
    /// the socket is full.
    ///
    /// # Errors
    ///
    /// Socket errors other than `WouldBlock`.
    pub fn flush(&mut self, s: &mut impl Socket) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut Raw(s)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if would_block(&e) => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Reads from the socket until some plaintext arrives, appending it to `out`. `Ok(0)` when
    /// the client has closed.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the socket has nothing more now; socket errors; `InvalidData` when
    /// the TLS protocol fails (an alert has been sent if the socket took it) or the client
    /// streams ciphertext that yields no plaintext.
    pub fn read(&mut self, s: &mut impl Socket, out: &mut Vec<u8>) -> io::Result<usize> {
        let mut raw = [0u8; READ_CHUNK];
        let mut barren = 0;
        loop {
            match self.take_plaintext(out) {
                Plain::Got(n) => return Ok(n),
                Plain::Closed => return Ok(0),
                Plain::None => {}
            }
            self.flush(s)?;
            let n = match s.recv(&mut raw) {
                Ok(0) => return Ok(0),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            barren += n;
            if barren > MAX_BARREN_CIPHERTEXT {
                return Err(io::ErrorKind::InvalidData.into());
            }
            let mut rest = raw.get(..n).unwrap_or_default();
            let mut got = 0;
            while !rest.is_empty() {
                self.conn.read_tls(&mut rest)?;
                if self.conn.process_new_packets().is_err() {
                    let _ = self.flush(s);
                    return Err(io::ErrorKind::InvalidData.into());
                }
                // Take plaintext as it comes, so rustls's own plaintext limit is never hit.
                match self.take_plaintext(out) {
                    Plain::Got(more) => got += more,
                    Plain::Closed if got == 0 => return Ok(0),
                    Plain::Closed | Plain::None => {}
                }
            }
            // A TLS 1.3 session ticket, or an alert, may be owed.
            self.flush(s)?;
            if got > 0 {
                return Ok(got);
            }
        }
    }

    /// Moves the plaintext rustls holds to the end of `out`, straight from rustls's buffer: the
    /// input grows by what arrived, not by a read's worth of room each time (which doubled a
    /// busy connection's input buffer to 8 KiB, kept until it idles).
    fn take_plaintext(&mut self, out: &mut Vec<u8>) -> Plain {
        let start = out.len();
        let mut reader = self.conn.reader();
        loop {
            let taken = match reader.fill_buf() {
                Ok(chunk) if !chunk.is_empty() => {
                    out.extend_from_slice(chunk);
                    chunk.len()
                }
                Err(e) if would_block(&e) && out.len() > start => {
                    return Plain::Got(out.len() - start);
                }
                Err(e) if would_block(&e) => return Plain::None,
                // A clean close_notify (nothing more) or EOF without one (an error): the client
                // is done sending; what arrived before still counts.
                _ if out.len() > start => return Plain::Got(out.len() - start),
                _ => return Plain::Closed,
            };
            reader.consume(taken);
        }
    }

    /// Encrypts what of `data` the send buffer takes, and sends what the socket takes.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the buffer is full and the socket takes nothing; socket errors.
    pub fn write(&mut self, s: &mut impl Socket, data: &[u8]) -> io::Result<usize> {
        let mut n = self.conn.writer().write(data)?;
        if n == 0 && !data.is_empty() {
            if !self.flush(s)? {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            n = self.conn.writer().write(data)?;
        }
        Ok(n)
    }

    /// Queues `close_notify` and sends what the socket takes (the connection closes next).
    pub fn close(&mut self, s: &mut impl Socket) {
        self.conn.send_close_notify();
        let _ = self.flush(s);
    }
}

/// Why feeding ciphertext failed.
enum Fed {
    Io,
    Tls(rustls::Error),
}

enum Plain {
    Got(usize),
    None,
    Closed,
}
