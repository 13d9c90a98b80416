//! The rules of a worker's round, apart from its sockets so that they can be tested alone: the
//! order of a round's steps, when a connection that yielded is called again and with what,
//! which deadline fires when, and how long the worker may sleep.
//!
//! It owns a connection's place in the schedule ([`Turn`]), the worker's timers and the list of
//! connections that yielded. It must not call a handler, touch a socket or read the clock: the
//! loop (`mod.rs`) asks it what to do, and does it at the instant it read.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use crate::handler::{Next, Readiness};
use crate::slab::Key;

/// A step of a round; [`ROUND`] says their order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// The poller's events: a connection that became ready is called at once, unless it waits
    /// for its resumed turn; a listener's event marks it as having connections waiting.
    Events,
    /// New connections are accepted, each called at once.
    Accept,
    /// The connections that yielded last round, each called once.
    Resume,
    /// Connections other workers accepted and passed on.
    Handoffs,
    /// Sockets handed in with `Pool::try_dispatch`; its disconnection starts the drain.
    Inbox,
    /// Connections whose deadline has passed.
    Timers,
    /// The handler's tick, after every other call of the round.
    Tick,
}

/// A round, in order. Connections that yielded go after every connection that became ready and
/// every new one, so that a pipelining flood or a fast download shares the worker instead of
/// holding it. Hand-offs and the inbox are looked at every round, not only on a wake-up, so
/// that a lost wake-up delays a socket by one round at most.
pub(super) const ROUND: [Step; 7] = [
    Step::Events,
    Step::Accept,
    Step::Resume,
    Step::Handoffs,
    Step::Inbox,
    Step::Timers,
    Step::Tick,
];

/// One connection's place in the schedule.
#[derive(Debug, Default)]
pub(super) struct Turn {
    /// The deadline the handler asked for last.
    deadline: Option<Instant>,
    /// The earliest timer queued for this connection. Timers are only queued when the deadline
    /// moves earlier than this, so a connection whose deadline keeps moving later (the usual
    /// keep-alive pattern) has one heap entry, not one per request.
    queued: Option<Instant>,
    /// Queued to resume after the next round's events (it yielded), with what events said
    /// about it meanwhile: it is called once then, not once per event as well.
    resume: Option<Readiness>,
}

impl Turn {
    /// An event for this connection: the readiness to call it with now, or `None` while it
    /// waits for its resumed turn, which then gets what the event said.
    pub(super) fn event(&mut self, readiness: Readiness) -> Option<Readiness> {
        match &mut self.resume {
            Some(waiting) => {
                waiting.read_closed |= readiness.read_closed;
                None
            }
            None => Some(readiness),
        }
    }

    /// Its resumed turn: what the events since it yielded said, or `None` when it has no turn
    /// due.
    pub(super) fn resume(&mut self) -> Option<Readiness> {
        self.resume.take()
    }
}

/// Where the schedule finds a connection's [`Turn`] by its key; `None` once it has closed.
pub(super) trait Turns {
    fn turn(&mut self, key: Key) -> Option<&mut Turn>;
}

/// The worker's timers and the connections that yielded.
#[derive(Debug, Default)]
pub(super) struct Schedule {
    timers: BinaryHeap<Reverse<(Instant, Key)>>,
    /// Connections that yielded their turn: resumed after the next round's events.
    yielded: Vec<Key>,
}

impl Schedule {
    /// Notes what a call of connection `key` returned ([`Next::Close`] leaves nothing to note).
    pub(super) fn after_call(&mut self, key: Key, turn: &mut Turn, next: Next) {
        match next {
            Next::Wait(deadline) => {
                turn.deadline = deadline;
                if let Some(at) = deadline
                    && turn.queued.is_none_or(|queued| at < queued)
                {
                    turn.queued = Some(at);
                    self.timers.push(Reverse((at, key)));
                }
            }
            Next::Yield => {
                // A deadline asked for earlier may pass while the connection is busy; it will
                // ask for a fresh one when it next waits.
                turn.deadline = None;
                if turn.resume.is_none() {
                    turn.resume = Some(Readiness::default());
                    self.yielded.push(key);
                }
            }
            Next::Close => {}
        }
    }

    /// The connections that yielded, in the order they did, for their resumed turns; the
    /// list starts afresh. (A key whose connection closed meanwhile finds no turn.)
    pub(super) fn take_yielded(&mut self) -> Vec<Key> {
        std::mem::take(&mut self.yielded)
    }

    /// Whether a connection waits for its resumed turn.
    pub(super) fn has_yielded(&self) -> bool {
        !self.yielded.is_empty()
    }

    /// The earliest timer queued.
    pub(super) fn next_timer(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// The next connection whose deadline has passed at `now`, to be called for it once. A
    /// timer whose connection's deadline moved later is queued again for then; one superseded
    /// by an earlier timer, or whose connection closed or dropped its deadline, is dropped.
    pub(super) fn next_due(&mut self, now: Instant, turns: &mut impl Turns) -> Option<Key> {
        while let Some(&Reverse((at, key))) = self.timers.peek() {
            if at > now {
                return None;
            }
            self.timers.pop();
            let Some(turn) = turns.turn(key) else {
                continue;
            };
            if turn.queued != Some(at) {
                continue; // superseded by an earlier timer that has already been handled
            }
            turn.queued = None;
            match turn.deadline {
                Some(deadline) if deadline <= now => return Some(key),
                Some(later) => {
                    turn.queued = Some(later);
                    self.timers.push(Reverse((later, key)));
                }
                None => {}
            }
        }
        None
    }
}

/// How long the worker may sleep in the poller: not at all while it has `work_now` (a
/// connection that yielded, or accepting that has work), else until the earliest of `wake_at`
/// (the next timer, the handler's tick, the drain deadline, the end of an accept pause).
/// `None`: until an event comes.
pub(super) fn poll_timeout(
    now: Instant,
    work_now: bool,
    wake_at: [Option<Instant>; 4],
) -> Option<Duration> {
    if work_now {
        return Some(Duration::ZERO);
    }
    wake_at
        .into_iter()
        .flatten()
        .min()
        .map(|at| at.saturating_duration_since(now))
}
