//! The main thread's loop while the workers serve: it answers `503` to the connections the
//! workers accepted over the connection limit, lingers on them until their clients have closed,
//! and returns when a signal asks the server to stop. It must not serve requests (the workers
//! accept and serve; see the `pool` crate).

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

/// The token of the loop's one waker (mio allows one per poller): signals wake it to stop the
/// loop, workers when they send a refused connection.
pub const WAKE: Token = Token(0);
/// Lingering refused connections have tokens from here on.
const FIRST_LINGERING: usize = 1;

/// Refused connections waiting for this loop at once; while it is full, workers at the limit
/// leave new connections in the kernel's backlog.
pub const QUEUE: usize = 64;

/// Refused connections kept open at once while their request is read and discarded.
pub const MAX_LINGERING: usize = 256;

/// How long a refused connection may linger before it is closed regardless.
const REJECT_LINGER: Duration = Duration::from_secs(1);

/// Answers the connections that arrive on `refused` until `stop` is set (and the [`WAKE`]
/// waker fires).
///
/// # Errors
///
/// Only when the poller itself fails.
pub fn refusal_loop(
    poll: &mut Poll,
    refused: &Receiver<TcpStream>,
    metrics: &Metrics,
    stop: &AtomicBool,
) -> io::Result<()> {
    let mut events = Events::with_capacity(64);
    let mut rejected = Rejected::new(FIRST_LINGERING);
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
/// side (or [`REJECT_LINGER`] passes). Closing with the client's request still unread would send
/// a reset, which can destroy the `503` before the client reads it.
struct Rejected {
    /// Indexed by token minus `first_token`; at most [`MAX_LINGERING`] long.
    slots: Vec<Option<(TcpStream, Instant)>>,
    first_token: usize,
}

impl Rejected {
    fn new(first_token: usize) -> Self {
        Self {
            slots: Vec::new(),
            first_token,
        }
    }

    /// Answers `stream` with `503`, `Retry-After: 1` and `Connection: close`, shuts its write
    /// side and keeps it to read what the client sent. Nothing here may block: the response is
    /// small enough for the send buffer of a fresh connection.
    fn add(&mut self, poll: &Poll, mut stream: TcpStream) {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let date = HttpDate::from_unix(secs);
        let mut buf = Vec::with_capacity(256);
        let response = reply::error(ServeError::Unavailable, false);
        encode::head(&mut buf, &response, &date, Version::Http11, false);
        if let Body::Bytes(text) = &response.body {
            buf.extend_from_slice(text);
        }
        let _ = stream.write_all(&buf);
        let _ = stream.shutdown(Shutdown::Write);

        let free = self.slots.iter().position(Option::is_none);
        let index = match free {
            Some(i) => i,
            None if self.slots.len() < MAX_LINGERING => {
                self.slots.push(None);
                self.slots.len() - 1
            }
            // Too many at once: close now. What the client has sent so far (a request, 16 KiB
            // at most) is read first, so that the close is a FIN behind the 503 rather than a
            // reset that may destroy it.
            None => {
                let mut scratch = [0u8; 2048];
                for _ in 0..8 {
                    if !matches!(stream.read(&mut scratch), Ok(n) if n > 0) {
                        break;
                    }
                }
                return;
            }
        };
        let token = Token(self.first_token + index);
        if poll
            .registry()
            .register(&mut stream, token, Interest::READABLE)
            .is_ok()
        {
            self.slots[index] = Some((stream, Instant::now() + REJECT_LINGER));
            self.ready(token);
        }
    }

    /// Reads and discards; closes on EOF or error.
    fn ready(&mut self, token: Token) {
        let Some(slot) = token
            .0
            .checked_sub(self.first_token)
            .and_then(|i| self.slots.get_mut(i))
        else {
            return;
        };
        let Some((stream, _)) = slot else { return };
        let mut scratch = [0u8; 2048];
        loop {
            match stream.read(&mut scratch) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        *slot = None;
    }

    fn expire(&mut self, now: Instant) {
        for slot in &mut self.slots {
            if slot.as_ref().is_some_and(|(_, deadline)| *deadline <= now) {
                *slot = None;
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.slots
            .iter()
            .flatten()
            .map(|(_, deadline)| *deadline)
            .min()
    }
}
