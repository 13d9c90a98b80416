//! The accept loop on the main thread: accept in batches until `WouldBlock`, hand each socket to
//! the pool, and answer `503` itself when the pool refuses one. It must not serve requests.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_core::date::HttpDate;
use http_core::{StatusCode, Version};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use pool::{DispatchError, Pool};

use crate::error::is_resource_exhaustion;
use crate::metrics::{Metrics, Refusal};
use crate::respond::Reply;

/// The token of the waker that signals use to stop the loop.
pub const STOP: Token = Token(0);
/// Listener `i` has token `FIRST_LISTENER + i`; lingering refused connections come after them.
const FIRST_LISTENER: usize = 1;

/// How long to pause accepting when the process is out of file descriptors: the pending
/// connections stay in the kernel's backlog, and spinning on `accept` would burn a core.
const FD_EXHAUSTED_BACKOFF: Duration = Duration::from_millis(100);

/// Refused connections kept open at once while their request is read and discarded.
pub const MAX_LINGERING: usize = 256;

/// How long a refused connection may linger before it is closed regardless.
const REJECT_LINGER: Duration = Duration::from_secs(1);

/// Accepts on every listener until `stop` is set (and the `STOP` waker fires).
///
/// # Errors
///
/// Only when the poller itself fails; accept errors are logged and survived.
pub fn accept_loop(
    poll: &mut Poll,
    listeners: &mut [TcpListener],
    pool: &mut Pool,
    metrics: &Metrics,
    stop: &AtomicBool,
) -> io::Result<()> {
    for (i, listener) in listeners.iter_mut().enumerate() {
        poll.registry()
            .register(listener, Token(FIRST_LISTENER + i), Interest::READABLE)?;
    }
    let mut events = Events::with_capacity(64);
    let mut paused_until: Option<Instant> = None;
    let mut last_warning: Option<Instant> = None;
    let mut rejected = Rejected::new(FIRST_LISTENER + listeners.len());
    let mut ready = vec![false; listeners.len()];
    loop {
        let wake_at = [paused_until, rejected.next_deadline()]
            .into_iter()
            .flatten()
            .min();
        let timeout = wake_at.map(|t| t.saturating_duration_since(Instant::now()));
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if stop.load(Ordering::Acquire) {
            return Ok(());
        }
        for event in &events {
            match event.token().0.checked_sub(FIRST_LISTENER) {
                Some(i) if i < listeners.len() => ready[i] = true,
                _ => rejected.ready(event.token()),
            }
        }
        rejected.expire(Instant::now());
        // Edge-triggered: after a pause there may be no new event, so retry on the timeout too.
        if paused_until.is_some_and(|t| Instant::now() >= t) {
            paused_until = None;
            ready.fill(true);
        }
        if paused_until.is_some() {
            continue;
        }
        for (listener, ready) in listeners.iter_mut().zip(&mut ready) {
            if !std::mem::take(ready) {
                continue;
            }
            loop {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if let Err(refused) = pool.try_dispatch(stream) {
                            metrics.refused(match refused {
                                DispatchError::Full(_) | DispatchError::ShuttingDown(_) => {
                                    Refusal::Overload
                                }
                                DispatchError::AtLimit(_) => Refusal::Limit,
                            });
                            rejected.add(poll, refused.into_stream());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if is_resource_exhaustion(&e) => {
                        let now = Instant::now();
                        if last_warning.is_none_or(|t| now >= t + Duration::from_secs(1)) {
                            eprintln!("http-server: accept: {e}; pausing accepts briefly");
                            last_warning = Some(now);
                        }
                        paused_until = Some(now + FD_EXHAUSTED_BACKOFF);
                        break;
                    }
                    // ECONNABORTED and the like concern one connection only.
                    Err(e) => eprintln!("http-server: accept: {e}"),
                }
            }
        }
    }
}

/// Connections the pool refused, answered `503` and lingering until the client has closed its
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
        Reply {
            version: Version::Http11,
            head_only: false,
            keep_alive: false,
            date: &date,
        }
        .status(
            &mut buf,
            StatusCode::SERVICE_UNAVAILABLE,
            &[("Retry-After", "1")],
        );
        let _ = stream.write_all(&buf);
        let _ = stream.shutdown(Shutdown::Write);

        let free = self.slots.iter().position(Option::is_none);
        let index = match free {
            Some(i) => i,
            None if self.slots.len() < MAX_LINGERING => {
                self.slots.push(None);
                self.slots.len() - 1
            }
            // Too many at once: close now and accept the risk of a reset for this one.
            None => return,
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
