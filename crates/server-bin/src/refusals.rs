//! The main thread's loop while the workers serve: it answers `503` to the connections the
//! workers accepted over the connection limit, lingers on them until their clients have closed,
//! and returns when a signal asks the server to stop. It must not serve requests (the workers
//! accept and serve; see the `pool` crate).
//!
//! A connection to the TLS port is answered in TLS: the handshake completes, then the `503`
//! goes encrypted, then `close_notify`, as nginx's `limit_conn` answers over HTTPS. A plaintext
//! `503` there is what a TLS client cannot read (curl: "wrong version number"), and closing
//! without a word (what nginx does past `worker_connections`) leaves the client guessing
//! (curl: `SSL_ERROR_SYSCALL`); a browser shows this `503` and a client can retry after
//! `Retry-After`. It costs the main thread a handshake per refused client, within the same
//! bounds as the rest (the lingering cap at once, [`TLS_REJECT_LINGER`] each). The port a
//! connection came to tells which it is, as it tells the workers: with TLS on, every port but the
//! plain-HTTP redirect listener's speaks TLS.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::Receiver;
use http_core::Version;
use http_core::date::HttpDate;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::error::ServeError;
use crate::exchange::{Body, reply};
use crate::http1::encode;
use crate::metrics::Metrics;
use crate::transport::tls::Tls;
use crate::transport::tls::session::Session;
use crate::transport::{Handshake, Transport};

/// The token of the loop's one waker (mio allows one per poller): signals wake it to stop the
/// loop, workers when they send a refused connection.
pub const WAKE: Token = Token(0);
/// Lingering refused connections have tokens from here on.
const FIRST_LINGERING: usize = 1;

/// Refused connections waiting for this loop at once; while it is full, workers at the limit
/// leave new connections in the kernel's backlog. A low open-file limit makes it fewer
/// (`fd_limit`): the channel is made with the budget's bound.
pub const QUEUE: usize = 64;

/// Refused connections kept open at once while their request is read and discarded; a low
/// open-file limit makes it fewer (`fd_limit`), past it a refused client gets its `503` and is
/// closed at once.
pub const MAX_LINGERING: usize = 256;

/// How long a refused connection may linger before it is closed regardless.
const REJECT_LINGER: Duration = Duration::from_secs(1);

/// The same for a refused TLS connection, whose handshake takes a round trip or two more
/// before the `503` can be sent.
const TLS_REJECT_LINGER: Duration = Duration::from_secs(2);

/// Answers the connections that arrive on `refused` until `stop` is set (and the [`WAKE`]
/// waker fires), keeping at most `max_lingering` open at once; with `tls`, those that came to a
/// TLS port are answered in TLS.
///
/// # Errors
///
/// Only when the poller itself fails.
pub fn refusal_loop(
    poll: &mut Poll,
    refused: &Receiver<TcpStream>,
    max_lingering: usize,
    metrics: &Metrics,
    stop: &AtomicBool,
    tls: Option<&Tls>,
) -> io::Result<()> {
    let mut events = Events::with_capacity(64);
    let mut rejected = Rejected::new(FIRST_LINGERING, max_lingering, tls);
    loop {
        let timeout = rejected
            .next_deadline()
            .map(|t| t.saturating_duration_since(Instant::now()));
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if stop.load(Ordering::Acquire) {
            // Those still queued get their answer now; lingering ends with the loop.
            while let Ok(stream) = refused.try_recv() {
                metrics.refused();
                rejected.add(poll, stream);
            }
            return Ok(());
        }
        for event in &events {
            if event.token() != WAKE {
                rejected.ready(event.token());
            }
        }
        rejected.expire(Instant::now());
        // Checked on every wake-up: a failed wake delays one by a round at most.
        while let Ok(stream) = refused.try_recv() {
            metrics.refused();
            rejected.add(poll, stream);
        }
    }
}

/// Connections refused at the limit, answered `503` and lingering until the client has closed its
/// side (or their deadline passes). Closing with the client's request still unread would send a
/// reset, which can destroy the `503` before the client reads it.
struct Rejected<'t> {
    /// Indexed by token minus `first_token`; at most `max_lingering` long.
    slots: Vec<Option<Lingering>>,
    first_token: usize,
    max_lingering: usize,
    tls: Option<&'t Tls>,
}

/// One refused connection.
struct Lingering {
    stream: TcpStream,
    deadline: Instant,
    /// For a connection to a TLS port: its session, until the `503` has been sent in it.
    tls: Option<Box<TlsRefusal>>,
}

/// A refused TLS connection: the handshake, then the `503` and `close_notify`.
struct TlsRefusal {
    transport: Transport,
    answered: bool,
}

/// What a refused connection needs next.
enum Next {
    /// Nothing until its next event or its deadline.
    Wait,
    /// Done (or failed): close it.
    Close,
}

impl<'t> Rejected<'t> {
    fn new(first_token: usize, max_lingering: usize, tls: Option<&'t Tls>) -> Self {
        Self {
            slots: Vec::new(),
            first_token,
            max_lingering,
            tls,
        }
    }

    /// Whether `stream` came to a TLS port: any port but the plain-HTTP redirect listener's.
    fn is_tls(&self, stream: &TcpStream) -> bool {
        self.tls.is_some_and(|t| {
            t.redirect_port == 0
                || stream
                    .local_addr()
                    .is_ok_and(|a| a.port() != t.redirect_port)
        })
    }

    /// Answers `stream`: a plain one with `503` at once (see [`answer_plain`]), a TLS one once
    /// its handshake completes; keeps it to read what the client sends.
    fn add(&mut self, poll: &Poll, mut stream: TcpStream) {
        let tls = match self.tls {
            Some(t) if self.is_tls(&stream) => match Session::new(&t.refusal_config) {
                Ok(session) => Some(Box::new(TlsRefusal {
                    transport: Transport::tls(session),
                    answered: false,
                })),
                Err(_) => return,
            },
            _ => {
                answer_plain(&mut stream);
                None
            }
        };
        let free = self.slots.iter().position(Option::is_none);
        let index = match free {
            Some(i) => i,
            None if self.slots.len() < self.max_lingering => {
                self.slots.push(None);
                self.slots.len() - 1
            }
            // Too many at once: close now. A TLS client gets no handshake. Of a plain one, what
            // it has sent so far (a request, 16 KiB at most) is read first, so that the close is
            // a FIN behind the 503 rather than a reset that may destroy it.
            None => {
                if tls.is_none() {
                    let mut scratch = [0u8; 2048];
                    for _ in 0..8 {
                        if !matches!(stream.read(&mut scratch), Ok(n) if n > 0) {
                            break;
                        }
                    }
                }
                return;
            }
        };
        let token = Token(self.first_token + index);
        let (interest, linger) = match tls {
            // The handshake writes as well as reads, and a write may have to wait.
            Some(_) => (Interest::READABLE | Interest::WRITABLE, TLS_REJECT_LINGER),
            None => (Interest::READABLE, REJECT_LINGER),
        };
        if poll
            .registry()
            .register(&mut stream, token, interest)
            .is_ok()
        {
            self.slots[index] = Some(Lingering {
                stream,
                deadline: Instant::now() + linger,
                tls,
            });
            self.ready(token);
        }
    }

    /// Moves the connection on; closes it on EOF, error, or once it is done.
    fn ready(&mut self, token: Token) {
        let Some(slot) = token
            .0
            .checked_sub(self.first_token)
            .and_then(|i| self.slots.get_mut(i))
        else {
            return;
        };
        let Some(lingering) = slot else { return };
        let next = match &mut lingering.tls {
            Some(tls) => match tls.drive(&mut lingering.stream) {
                Ok(next) => next,
                // Plain HTTP on the TLS port: it gets the plain answer, and lingers as such.
                Err(PlainHttp) => {
                    lingering.tls = None;
                    answer_plain(&mut lingering.stream);
                    discard_input(&mut lingering.stream)
                }
            },
            None => discard_input(&mut lingering.stream),
        };
        if matches!(next, Next::Close) {
            *slot = None;
        }
    }

    fn expire(&mut self, now: Instant) {
        for slot in &mut self.slots {
            if slot.as_ref().is_some_and(|l| l.deadline <= now) {
                *slot = None;
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.slots.iter().flatten().map(|l| l.deadline).min()
    }
}

/// A client that sent plain HTTP to a TLS port.
struct PlainHttp;

impl TlsRefusal {
    /// Completes the handshake, sends the `503` and `close_notify`, then reads and discards
    /// until the client closes.
    fn drive(&mut self, stream: &mut TcpStream) -> Result<Next, PlainHttp> {
        match self.transport.handshake(stream) {
            Handshake::Done => {}
            Handshake::Pending => return Ok(Next::Wait),
            Handshake::PlainHttp(_) => return Err(PlainHttp),
            Handshake::Failed(_) | Handshake::Closed => return Ok(Next::Close),
        }
        if !self.answered {
            self.answered = true;
            // Far smaller than the session's send buffer, so it is taken whole; the FIN follows
            // the close_notify.
            if self.transport.write(stream, &[&refusal()], false).is_err() {
                return Ok(Next::Close);
            }
            self.transport.shutdown(stream);
        }
        loop {
            match self.transport.discard(stream) {
                Ok(0) => return Ok(Next::Close),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Next::Wait),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Ok(Next::Close),
            }
        }
    }
}

/// `503` with `Retry-After: 1` and `Connection: close`.
fn refusal() -> Vec<u8> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let date = HttpDate::from_unix(secs);
    let mut buf = Vec::with_capacity(256);
    let response = reply::error(ServeError::Unavailable, reply::Audience::default());
    encode::head(&mut buf, &response, &date, Version::Http11, false);
    if let Body::Bytes(text) = &response.body {
        buf.extend_from_slice(text);
    }
    buf
}

/// Writes the [`refusal`] and shuts the write side. Nothing here may block: the response is
/// small enough for the send buffer of a fresh connection.
fn answer_plain(stream: &mut TcpStream) {
    let _ = stream.write_all(&refusal());
    let _ = stream.shutdown(Shutdown::Write);
}

/// Reads and discards what the client sends: [`Next::Close`] on EOF or error.
fn discard_input(stream: &mut TcpStream) -> Next {
    let mut scratch = [0u8; 2048];
    loop {
        match stream.read(&mut scratch) {
            Ok(0) => return Next::Close,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Next::Close,
        }
    }
}
