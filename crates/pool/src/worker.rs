//! One worker: an event loop over its own connections, their deadlines and its inbox.
//!
//! It must never block on a socket, and it is the only thread that touches its connections.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::handler::{CloseReason, Handler, Next, Readiness};
use crate::slab::{Key, Slab};
use crate::{BuildError, Shared};

const WAKER: Token = Token(usize::MAX);
const EVENTS_PER_POLL: usize = 1024;

struct Entry<C> {
    stream: TcpStream,
    conn: C,
    /// The deadline the handler asked for last.
    deadline: Option<Instant>,
    /// The earliest timer queued for this entry. Timers are only queued when the deadline moves
    /// earlier than this, so a connection whose deadline keeps moving later (the usual keep-alive
    /// pattern) has one heap entry, not one per request.
    queued: Option<Instant>,
    /// Registered with the poller: only once the first call has had to wait.
    registered: bool,
    /// Queued to resume after the next round's events (it yielded), with what events said
    /// about it meanwhile: it is called once then, not once per event as well.
    resume: Option<Readiness>,
}

#[derive(Clone, Copy)]
enum Call {
    Ready(Readiness),
    Timeout,
    Drain,
}

pub(crate) struct Worker<H: Handler> {
    index: usize,
    poll: Poll,
    waker: Arc<Waker>,
    inbox: Receiver<TcpStream>,
    handler: H,
    shared: Arc<Shared>,
    conns: Slab<Entry<H::Conn>>,
    timers: BinaryHeap<Reverse<(Instant, Key)>>,
    drain_timeout: Duration,
    /// Set once the inbox is disconnected: the instant by which every connection must be gone.
    drain_deadline: Option<Instant>,
    tick_at: Option<Instant>,
    forced_closed: u64,
    /// Connections that yielded their turn: resumed after the next round's events.
    yielded: Vec<Key>,
}

impl<H: Handler> Worker<H> {
    pub(crate) fn new(
        index: usize,
        inbox: Receiver<TcpStream>,
        handler: H,
        shared: Arc<Shared>,
        drain_timeout: Duration,
    ) -> Result<Self, BuildError> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(Self {
            index,
            poll,
            waker,
            inbox,
            handler,
            shared,
            conns: Slab::new(),
            timers: BinaryHeap::new(),
            drain_timeout,
            drain_deadline: None,
            tick_at: None,
            forced_closed: 0,
            yielded: Vec::new(),
        })
    }

    pub(crate) fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    /// Runs until shutdown; returns how many connections the drain deadline closed.
    pub(crate) fn run(mut self) -> u64 {
        let mut events = Events::with_capacity(EVENTS_PER_POLL);
        loop {
            // Connections waiting for their next turn have work now: only look for events.
            let timeout = match self.yielded.is_empty() {
                true => self.poll_timeout(Instant::now()),
                false => Some(Duration::ZERO),
            };
            if let Err(err) = self.poll.poll(&mut events, timeout) {
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // The poller itself failed: nothing can be served any more by this worker.
                eprintln!("pool-worker-{}: poll failed: {err}", self.index);
                break;
            }
            let now = Instant::now();
            for event in &events {
                if event.token() == WAKER {
                    continue;
                }
                let key = Key::from_token(event.token());
                let readiness = Readiness {
                    read_closed: event.is_read_closed(),
                };
                if let Some(Some(waiting)) = self.conns.get_mut(key).map(|e| e.resume.as_mut()) {
                    // It has its turn after the others; keep what the event said for then.
                    waiting.read_closed |= readiness.read_closed;
                    continue;
                }
                self.call(key, Call::Ready(readiness), now);
            }
            // Those that yielded last round go after every connection that became ready, so a
            // pipelining flood or a fast download shares the worker instead of holding it.
            // (Slot keys carry a generation: a key whose connection closed meanwhile is ignored.)
            for key in std::mem::take(&mut self.yielded) {
                let Some(readiness) = self.conns.get_mut(key).and_then(|e| e.resume.take()) else {
                    continue;
                };
                self.call(key, Call::Ready(readiness), now);
            }
            // The inbox is checked every round, not only on a wake-up, so that a lost wake-up
            // can delay a socket by one round at most.
            self.take_inbox(now);
            self.expire_timers(now);
            self.tick_at = self.handler.tick(now);

            if let Some(deadline) = self.drain_deadline {
                if self.conns.len() == 0 {
                    break;
                }
                if now >= deadline {
                    self.close_all(CloseReason::DrainDeadline);
                    break;
                }
            }
        }
        self.handler.tick(Instant::now());
        self.forced_closed
    }

    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        let next_timer = self.timers.peek().map(|Reverse((at, _))| *at);
        [next_timer, self.tick_at, self.drain_deadline]
            .into_iter()
            .flatten()
            .min()
            .map(|at| at.saturating_duration_since(now))
    }

    fn take_inbox(&mut self, now: Instant) {
        loop {
            match self.inbox.try_recv() {
                Ok(stream) => self.open(stream, now),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => {
                    if self.drain_deadline.is_none() {
                        self.start_drain(now);
                    }
                    return;
                }
            }
        }
    }

    /// Takes a new socket and calls the handler at once: the request has usually arrived with
    /// the connection, and a connection served and closed in this first call never costs a
    /// registration with the poller (nor, since closing the socket removes it from the epoll set,
    /// a deregistration). Registration happens when a call first has to wait; the poller then
    /// reports any readiness that is already there, so nothing is missed.
    fn open(&mut self, stream: TcpStream, now: Instant) {
        let handler = &mut self.handler;
        let opened = panic::catch_unwind(AssertUnwindSafe(|| handler.open(&stream, now)));
        let Ok(conn) = opened else {
            // There is no connection state to hand to `close`: the socket is just dropped.
            self.shared.active.fetch_sub(1, Ordering::AcqRel);
            return;
        };
        let key = self.conns.insert(Entry {
            stream,
            conn,
            deadline: None,
            queued: None,
            registered: false,
            resume: None,
        });
        let first = match self.drain_deadline {
            Some(_) => Call::Drain,
            None => Call::Ready(Readiness::default()),
        };
        self.call(key, first, now);
    }

    /// Registers a connection that has to wait, once; one that cannot be registered is closed.
    fn register(&mut self, key: Key) {
        let Some(entry) = self.conns.get_mut(key) else {
            return;
        };
        if entry.registered {
            return;
        }
        let interest = Interest::READABLE | Interest::WRITABLE;
        match self
            .poll
            .registry()
            .register(&mut entry.stream, key.token(), interest)
        {
            Ok(()) => entry.registered = true,
            Err(_) => self.close(key, CloseReason::Done),
        }
    }

    fn start_drain(&mut self, now: Instant) {
        self.drain_deadline = Some(now + self.drain_timeout);
        for key in self.conns.keys() {
            self.call(key, Call::Drain, now);
        }
    }

    /// Calls the handler for one connection, containing any panic, and applies its answer.
    fn call(&mut self, key: Key, call: Call, now: Instant) {
        let Some(entry) = self.conns.get_mut(key) else {
            return; // a late event for a connection closed earlier in this round
        };
        let handler = &mut self.handler;
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            let (conn, stream) = (&mut entry.conn, &mut entry.stream);
            match call {
                Call::Ready(readiness) => handler.ready(conn, stream, readiness, now),
                Call::Timeout => handler.timeout(conn, stream, now),
                Call::Drain => handler.drain(conn, stream, now),
            }
        }));
        match result {
            Ok(Next::Wait(deadline)) => {
                entry.deadline = deadline;
                if let Some(at) = deadline
                    && entry.queued.is_none_or(|queued| at < queued)
                {
                    entry.queued = Some(at);
                    self.timers.push(Reverse((at, key)));
                }
                self.register(key);
            }
            Ok(Next::Yield) => {
                // A deadline asked for earlier may pass while the connection is busy; it will
                // ask for a fresh one when it next waits.
                entry.deadline = None;
                if entry.resume.is_none() {
                    entry.resume = Some(Readiness::default());
                    self.yielded.push(key);
                }
                self.register(key);
            }
            Ok(Next::Close) => self.close(key, CloseReason::Done),
            Err(_) => self.close(key, CloseReason::Panicked),
        }
    }

    fn expire_timers(&mut self, now: Instant) {
        while let Some(&Reverse((at, key))) = self.timers.peek() {
            if at > now {
                return;
            }
            self.timers.pop();
            let Some(entry) = self.conns.get_mut(key) else {
                continue;
            };
            if entry.queued != Some(at) {
                continue; // superseded by an earlier timer that has already been handled
            }
            entry.queued = None;
            match entry.deadline {
                Some(deadline) if deadline <= now => self.call(key, Call::Timeout, now),
                Some(later) => {
                    entry.queued = Some(later);
                    self.timers.push(Reverse((later, key)));
                }
                None => {}
            }
        }
    }

    fn close(&mut self, key: Key, reason: CloseReason) {
        // Dropping the stream closes the socket, which takes it out of the epoll set: no
        // deregistration call is needed (the socket is never duplicated).
        let Some(entry) = self.conns.remove(key) else {
            return;
        };
        let handler = &mut self.handler;
        let conn = entry.conn;
        // A panic in `close` itself has nobody left to tell (the panic hook has reported it).
        let _ = panic::catch_unwind(AssertUnwindSafe(|| handler.close(conn, reason)));
        self.shared.active.fetch_sub(1, Ordering::AcqRel);
        if reason == CloseReason::DrainDeadline {
            self.forced_closed += 1;
        }
    }

    fn close_all(&mut self, reason: CloseReason) {
        for key in self.conns.keys() {
            self.close(key, reason);
        }
    }
}
