//! One worker: an event loop over its own connections, their deadlines, its inbox and the
//! listening sockets it accepts from.
//!
//! This module owns the loop: the poll, the dispatch of events and of other threads' notices
//! (`notify.rs`), the calls of the handler (each contained, so that a panic closes one
//! connection), timers, the drain and closing. Accepting,
//! refusals, hand-offs and take-overs are `accept.rs`'s; which connection is called when, and
//! how long to sleep, are the rules of `schedule.rs`, which this loop applies.
//!
//! It must never block on a socket, and it is the only thread that touches its connections.

mod accept;
mod schedule;

use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};
use mio::event::Event;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};

use self::accept::Acceptor;
pub(crate) use self::accept::{Peer, Refusals};
use self::schedule::{ROUND, Schedule, Step, Turn, Turns};
use crate::handler::{CloseReason, Handler, Next, Readiness};
use crate::notify::{Notice, Notices};
use crate::slab::{Key, Slab};
use crate::watchdog::Shift;
use crate::{BuildError, Shared, affinity};

const WAKER: Token = Token(usize::MAX);
const EVENTS_PER_POLL: usize = 1024;

/// What a worker is made from, besides its handler.
pub(crate) struct Setup<'a> {
    pub(crate) index: usize,
    pub(crate) inbox: Receiver<TcpStream>,
    pub(crate) handoffs: Receiver<TcpStream>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) drain_timeout: Duration,
    pub(crate) notify_capacity: usize,
    pub(crate) max_connections: usize,
    pub(crate) listeners: &'a Arc<Vec<Vec<std::net::TcpListener>>>,
    pub(crate) refusals: Option<Refusals>,
    /// The CPU to pin the worker to, if any (`affinity.rs`).
    pub(crate) cpu: Option<usize>,
}

struct Entry<C> {
    stream: TcpStream,
    conn: C,
    /// Its deadline and its place among the yielded.
    turn: Turn,
    /// Registered with the poller: only once the first call has had to wait.
    registered: bool,
    /// Whether another thread asked for it to be called (once it has a notifier).
    notice: Notice,
}

#[derive(Clone, Copy)]
enum Call {
    Ready(Readiness),
    Timeout,
    Drain,
}

pub(crate) struct Worker<H: Handler> {
    waker: Arc<Waker>,
    inbox: Receiver<TcpStream>,
    /// Connections other workers accepted and passed on (already counted in this one's load).
    handoffs: Receiver<TcpStream>,
    acceptor: Acceptor,
    conns: Conns<H>,
    drain_timeout: Duration,
    /// Set once the inbox is disconnected: the instant by which every connection must be gone.
    drain_deadline: Option<Instant>,
    tick_at: Option<Instant>,
    /// The CPU it pins itself to when it starts to run.
    cpu: Option<usize>,
}

/// The connections, the handler that runs them and their schedule: everything a call needs,
/// apart from the acceptor, which passes each new connection in.
struct Conns<H: Handler> {
    index: usize,
    poll: Poll,
    handler: H,
    shared: Arc<Shared>,
    slab: Slab<Entry<H::Conn>>,
    schedule: Schedule,
    notices: Notices,
    forced_closed: u64,
}

impl<C> Turns for Slab<Entry<C>> {
    fn turn(&mut self, key: Key) -> Option<&mut Turn> {
        self.get_mut(key).map(|entry| &mut entry.turn)
    }
}

impl<H: Handler> Worker<H> {
    pub(crate) fn new(setup: Setup<'_>, handler: H) -> Result<Self, BuildError> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let notices = Notices::new(setup.notify_capacity, Arc::clone(&waker));
        let acceptor = Acceptor::new(
            setup.index,
            setup.listeners,
            poll.registry(),
            Arc::clone(&setup.shared),
            setup.max_connections,
            setup.refusals,
        )?;
        Ok(Self {
            waker,
            inbox: setup.inbox,
            handoffs: setup.handoffs,
            acceptor,
            conns: Conns {
                index: setup.index,
                poll,
                handler,
                shared: setup.shared,
                slab: Slab::new(),
                schedule: Schedule::default(),
                notices,
                forced_closed: 0,
            },
            drain_timeout: setup.drain_timeout,
            drain_deadline: None,
            tick_at: None,
            cpu: setup.cpu,
        })
    }

    pub(crate) fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    /// Tells the worker how to reach every worker (itself included), and gives it its shift
    /// with the watchdog if there is one, before it runs.
    pub(crate) fn meet(&mut self, peers: Vec<Peer>, shift: Option<Shift>) {
        self.acceptor.meet(peers, shift);
    }

    /// Runs until shutdown; returns how many connections the drain deadline closed.
    pub(crate) fn run(mut self) -> u64 {
        let mut events = Events::with_capacity(EVENTS_PER_POLL);
        // On its own thread: affinity is per thread. Steering a socket to a CPU the worker is
        // not on would only send it the connections another CPU is better placed to serve.
        if let Some(cpu) = self.cpu {
            match affinity::pin_current_thread(cpu) {
                Ok(()) => self.acceptor.steer_to(cpu),
                Err(err) => eprintln!(
                    "pool-worker-{}: not pinned to CPU {cpu} ({err}); it runs on any CPU",
                    self.conns.index
                ),
            }
        }
        loop {
            self.acceptor.round_ends();
            // A round that had events ends by letting the other threads runnable on this CPU go
            // first. Where clients, a proxy or the other workers share the cores, the requests
            // they send meanwhile are then waiting for the next round; a worker that went
            // straight on would be preempted in the middle of a round, and the connections it
            // had not reached would wait a whole time slice (measured: p99 8 ms against 1.1 ms,
            // docs/benchmarks.md). Alone on its CPU, the call returns at once. It comes before
            // the poll's timeout is taken, so time spent yielded does not delay a deadline.
            if !events.is_empty() {
                std::thread::yield_now();
            }
            let now = Instant::now();
            let work_now = self.conns.schedule.has_yielded()
                || self.conns.notices.waiting()
                || self.acceptor.has_work(now);
            let wake_at = [
                self.conns.schedule.next_timer(),
                self.tick_at,
                self.drain_deadline,
                self.acceptor.paused_until(),
            ];
            let timeout = schedule::poll_timeout(now, work_now, wake_at);
            let polled = self.conns.poll.poll(&mut events, timeout);
            self.acceptor.round_begins();
            if let Err(err) = polled {
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // The poller itself failed: nothing can be served any more by this worker.
                eprintln!("pool-worker-{}: poll failed: {err}", self.conns.index);
                break;
            }
            let now = Instant::now();
            for step in ROUND {
                self.step(step, &events, now);
            }
            if self.drain_is_over(now) {
                break;
            }
        }
        self.leave()
    }

    /// One step of a round.
    fn step(&mut self, step: Step, events: &Events, now: Instant) {
        match step {
            Step::Events => {
                for event in events {
                    self.event(event, now);
                }
            }
            Step::Notices => self.conns.notices(now),
            Step::Accept => {
                let first = self.first_call();
                self.acceptor
                    .accept(now, &mut |stream| self.conns.open(stream, first, now));
            }
            Step::Resume => {
                for key in self.conns.schedule.take_yielded() {
                    let Some(readiness) = self.conns.slab.turn(key).and_then(Turn::resume) else {
                        continue;
                    };
                    self.conns.call(key, Call::Ready(readiness), now);
                }
            }
            Step::Handoffs => self.take_handoffs(now),
            Step::Inbox => self.take_inbox(now),
            Step::Timers => {
                while let Some(key) = self.conns.schedule.next_due(now, &mut self.conns.slab) {
                    self.conns.call(key, Call::Timeout, now);
                }
            }
            Step::Tick => self.tick_at = self.conns.handler.tick(now),
        }
    }

    fn event(&mut self, event: &Event, now: Instant) {
        if event.token() == WAKER || self.acceptor.listener_event(event.token()) {
            return;
        }
        let key = Key::from_token(event.token());
        let readiness = Readiness {
            read_closed: event.is_read_closed(),
        };
        // A connection waiting for its resumed turn keeps what the event said for then.
        if let Some(readiness) = self.conns.slab.turn(key).and_then(|t| t.event(readiness)) {
            self.conns.call(key, Call::Ready(readiness), now);
        }
    }

    /// The first call of a connection that arrives now.
    fn first_call(&self) -> Call {
        match self.drain_deadline {
            Some(_) => Call::Drain,
            None => Call::Ready(Readiness::default()),
        }
    }

    /// Once draining: whether the worker is done (nothing left, or the deadline passed, which
    /// closes what is left).
    fn drain_is_over(&mut self, now: Instant) -> bool {
        let Some(deadline) = self.drain_deadline else {
            return false;
        };
        if self.conns.slab.len() == 0 && !self.late_handoffs(now) {
            return true;
        }
        if now >= deadline {
            self.conns.close_all(CloseReason::DrainDeadline);
            return true;
        }
        false
    }

    /// After the loop: closes what was passed on too late to be served (the drain deadline
    /// closed the rest, or the poller failed), which is then no longer counted (none can come
    /// after the wait); the handler's last tick. Returns how many the drain deadline closed.
    fn leave(mut self) -> u64 {
        let index = self.conns.index;
        self.conns.shared.close_handoffs(index);
        while self.conns.shared.handoffs_in_flight(index) {
            std::thread::yield_now();
        }
        while let Ok(stream) = self.handoffs.try_recv() {
            drop(stream);
            self.conns.shared.active.fetch_sub(1, Ordering::AcqRel);
            self.conns.shared.sub_load(index, 1);
        }
        self.conns.handler.tick(Instant::now());
        self.conns.forced_closed
    }

    /// Before a drained worker leaves: waits for hand-offs that began before its gate closed
    /// (a send takes no time: nothing blocks in it) and opens what came. Whether it has
    /// connections again.
    fn late_handoffs(&mut self, now: Instant) -> bool {
        while self.conns.shared.handoffs_in_flight(self.conns.index) {
            std::thread::yield_now();
        }
        self.take_handoffs(now);
        self.conns.slab.len() > 0
    }

    /// Opens what other workers passed on.
    fn take_handoffs(&mut self, now: Instant) {
        let first = self.first_call();
        while let Ok(stream) = self.handoffs.try_recv() {
            self.conns.open(stream, first, now);
        }
    }

    fn take_inbox(&mut self, now: Instant) {
        loop {
            match self.inbox.try_recv() {
                Ok(stream) => self.conns.open(stream, self.first_call(), now),
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

    fn start_drain(&mut self, now: Instant) {
        self.drain_deadline = Some(now + self.drain_timeout);
        self.conns.shared.close_handoffs(self.conns.index);
        self.acceptor.stop(self.conns.poll.registry());
        for key in self.conns.slab.keys() {
            self.conns.call(key, Call::Drain, now);
        }
    }
}

impl<H: Handler> Conns<H> {
    /// Takes a new socket and calls the handler at once: the request has usually arrived with
    /// the connection, and a connection served and closed in this first call never costs a
    /// registration with the poller (nor, since closing the socket removes it from the epoll set,
    /// a deregistration). Registration happens when a call first has to wait; the poller then
    /// reports any readiness that is already there, so nothing is missed.
    fn open(&mut self, stream: TcpStream, first: Call, now: Instant) {
        let handler = &mut self.handler;
        let opened = panic::catch_unwind(AssertUnwindSafe(|| handler.open(&stream, now)));
        let Ok(conn) = opened else {
            // There is no connection state to hand to `close`: the socket is just dropped.
            self.shared.active.fetch_sub(1, Ordering::AcqRel);
            self.shared.sub_load(self.index, 1);
            return;
        };
        let key = self.slab.insert(Entry {
            stream,
            conn,
            turn: Turn::default(),
            registered: false,
            notice: Notice::default(),
        });
        self.call(key, first, now);
    }

    /// Registers a connection that has to wait, once; one that cannot be registered is closed.
    fn register(&mut self, key: Key) {
        let Some(entry) = self.slab.get_mut(key) else {
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

    /// Calls the handler for one connection, containing any panic, and applies its answer.
    fn call(&mut self, key: Key, call: Call, now: Instant) {
        let Some(entry) = self.slab.get_mut(key) else {
            return; // a late event for a connection closed earlier in this round
        };
        let handler = &mut self.handler;
        let cx = self.notices.context(key, &entry.notice);
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            let (conn, stream) = (&mut entry.conn, &mut entry.stream);
            match call {
                Call::Ready(readiness) => handler.ready(conn, stream, readiness, now, &cx),
                Call::Timeout => handler.timeout(conn, stream, now, &cx),
                Call::Drain => handler.drain(conn, stream, now, &cx),
            }
        }));
        match result {
            Ok(next @ (Next::Wait(_) | Next::Yield)) => {
                self.schedule.after_call(key, &mut entry.turn, next);
                self.register(key);
            }
            Ok(Next::Close) => self.close(key, CloseReason::Done),
            Err(_) => self.close(key, CloseReason::Panicked),
        }
    }

    /// Calls every connection that another thread notified since its last call for a notice,
    /// as an event does (one waiting for its resumed turn gets that instead): those queued, each
    /// once, then, if the queue overflowed, every connection that has a notifier and was notified.
    fn notices(&mut self, now: Instant) {
        let queued: Vec<Key> = self.notices.queued().collect();
        for key in queued {
            self.notified(key, now);
        }
        if self.notices.take_overflow() {
            for key in self.slab.keys() {
                self.notified(key, now);
            }
        }
    }

    fn notified(&mut self, key: Key, now: Instant) {
        // A key whose connection closed finds no entry (its slot's generation has moved on).
        let Some(entry) = self.slab.get_mut(key) else {
            return;
        };
        if !entry.notice.take() {
            return;
        }
        if let Some(readiness) = entry.turn.event(Readiness::default()) {
            self.call(key, Call::Ready(readiness), now);
        }
    }

    fn close(&mut self, key: Key, reason: CloseReason) {
        // Dropping the stream closes the socket, which takes it out of the epoll set: no
        // deregistration call is needed (the socket is never duplicated).
        let Some(entry) = self.slab.remove(key) else {
            return;
        };
        entry.notice.retire();
        // The slot is free before the handler can send the FIN (in `close`): a client that
        // reconnects the moment it reads the end of stream must find room under the limit,
        // however long this thread is kept from going on after the FIN (issue 25).
        self.shared.active.fetch_sub(1, Ordering::AcqRel);
        self.shared.sub_load(self.index, 1);
        let handler = &mut self.handler;
        let (conn, mut stream) = (entry.conn, entry.stream);
        // A panic in `close` itself has nobody left to tell (the panic hook has reported it).
        let _ = panic::catch_unwind(AssertUnwindSafe(|| {
            handler.close(conn, &mut stream, reason);
        }));
        if reason == CloseReason::DrainDeadline {
            self.forced_closed += 1;
        }
    }

    fn close_all(&mut self, reason: CloseReason) {
        for key in self.slab.keys() {
            self.close(key, reason);
        }
    }
}
