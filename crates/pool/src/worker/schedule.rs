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
    /// Connections another thread notified (`notify.rs`), called as an event would have them,
    /// each at most once a round.
    Notices,
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
pub(super) const ROUND: [Step; 8] = [
    Step::Events,
    Step::Notices,
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
/// connection that yielded, notices waiting, or accepting that has work), else until the earliest of `wake_at`
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    impl Turns for BTreeMap<Key, Turn> {
        fn turn(&mut self, key: Key) -> Option<&mut Turn> {
            self.get_mut(&key)
        }
    }

    const KEY: Key = Key {
        index: 0,
        generation: 0,
    };
    const OPEN: Readiness = Readiness { read_closed: false };
    const CLOSED: Readiness = Readiness { read_closed: true };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn position(step: Step) -> usize {
        ROUND.iter().position(|&s| s == step).expect("in the round")
    }

    #[test]
    fn a_round_calls_ready_connections_then_new_ones_then_those_that_yielded_and_ticks_last() {
        assert!(position(Step::Events) < position(Step::Notices));
        assert!(position(Step::Notices) < position(Step::Accept));
        assert!(position(Step::Accept) < position(Step::Resume));
        assert_eq!(position(Step::Tick), ROUND.len() - 1);
        for step in [Step::Handoffs, Step::Inbox, Step::Timers] {
            assert!(position(step) < position(Step::Tick), "{step:?}");
        }
    }

    #[test]
    fn a_connection_that_yielded_is_called_once_in_its_turn_with_what_its_events_said() {
        struct Case {
            name: &'static str,
            events: &'static [Readiness],
            resumed_with: Readiness,
        }
        let cases = [
            Case {
                name: "no event meanwhile",
                events: &[],
                resumed_with: Readiness::default(),
            },
            Case {
                name: "three events, one of them the peer's close",
                events: &[OPEN, CLOSED, OPEN],
                resumed_with: CLOSED,
            },
        ];
        for case in cases {
            let (mut schedule, mut turn) = (Schedule::default(), Turn::default());
            assert_eq!(turn.event(Readiness::default()), Some(Readiness::default()));
            schedule.after_call(KEY, &mut turn, Next::Yield);
            for &event in case.events {
                assert_eq!(
                    turn.event(event),
                    None,
                    "{}: called before its turn",
                    case.name
                );
            }
            assert_eq!(schedule.take_yielded(), [KEY], "{}", case.name);
            assert!(!schedule.has_yielded(), "{}", case.name);
            assert_eq!(turn.resume(), Some(case.resumed_with), "{}", case.name);
            assert_eq!(turn.resume(), None, "{}: a second turn", case.name);
            assert_eq!(
                turn.event(CLOSED),
                Some(CLOSED),
                "{}: held after",
                case.name
            );
        }
    }

    #[test]
    fn a_connection_that_yields_again_before_its_turn_is_listed_once() {
        let (mut schedule, mut turn) = (Schedule::default(), Turn::default());
        schedule.after_call(KEY, &mut turn, Next::Yield);
        // The drain calls every connection, those waiting for their turn too.
        schedule.after_call(KEY, &mut turn, Next::Yield);
        assert_eq!(schedule.take_yielded(), [KEY]);
        assert!(turn.resume().is_some());
        schedule.after_call(KEY, &mut turn, Next::Yield);
        assert_eq!(
            schedule.take_yielded(),
            [KEY],
            "listed again after its turn"
        );
    }

    #[test]
    fn timers_are_queued_only_when_a_deadline_moves_earlier_and_fire_once_at_the_last_one_asked() {
        struct Case {
            name: &'static str,
            /// What the calls returned, in order: a deadline in milliseconds, `None` for a
            /// wait without one, `Some(YIELD)` for a yield.
            calls: &'static [Option<u64>],
            /// Timers on the heap after the calls.
            queued: usize,
            /// When the connection is due, in milliseconds.
            due: Option<u64>,
        }
        const YIELD: u64 = u64::MAX;
        let cases = [
            Case {
                name: "a keep-alive deadline that keeps moving later",
                calls: &[Some(10), Some(20), Some(30)],
                queued: 1,
                due: Some(30),
            },
            Case {
                name: "a deadline moved earlier",
                calls: &[Some(30), Some(10)],
                queued: 2,
                due: Some(10),
            },
            Case {
                name: "earlier, then later again",
                calls: &[Some(20), Some(10), Some(30)],
                queued: 2,
                due: Some(30),
            },
            Case {
                name: "no deadline",
                calls: &[None],
                queued: 0,
                due: None,
            },
            Case {
                name: "a deadline given up",
                calls: &[Some(10), None],
                queued: 1,
                due: None,
            },
            Case {
                name: "a yield drops the deadline",
                calls: &[Some(10), Some(YIELD)],
                queued: 1,
                due: None,
            },
            Case {
                name: "a wait after a yield asks afresh",
                calls: &[Some(10), Some(YIELD), Some(20)],
                queued: 1,
                due: Some(20),
            },
        ];
        let t0 = Instant::now();
        for case in cases {
            let mut schedule = Schedule::default();
            let mut turns = BTreeMap::from([(KEY, Turn::default())]);
            for &call in case.calls {
                let next = match call {
                    Some(YIELD) => Next::Yield,
                    at => Next::Wait(at.map(|at| t0 + ms(at))),
                };
                schedule.after_call(KEY, turns.get_mut(&KEY).unwrap(), next);
            }
            assert_eq!(schedule.timers.len(), case.queued, "{}", case.name);
            let mut due = Vec::new();
            for at in 0..=40 {
                while let Some(key) = schedule.next_due(t0 + ms(at), &mut turns) {
                    assert_eq!(key, KEY);
                    due.push(at);
                }
            }
            assert_eq!(due, Vec::from_iter(case.due), "{}", case.name);
            assert_eq!(schedule.next_timer(), None, "{}: a timer left", case.name);
        }
    }

    #[test]
    fn the_timers_of_a_closed_connection_are_dropped() {
        let t0 = Instant::now();
        let mut schedule = Schedule::default();
        let mut turns = BTreeMap::from([(KEY, Turn::default())]);
        schedule.after_call(KEY, turns.get_mut(&KEY).unwrap(), Next::Wait(Some(t0)));
        turns.clear();
        assert_eq!(schedule.next_due(t0 + ms(1), &mut turns), None);
        assert_eq!(schedule.next_timer(), None);
    }

    #[test]
    fn the_worker_sleeps_until_the_earliest_wake_up_unless_it_has_work_now() {
        let now = Instant::now();
        let at = |n| Some(now + ms(n));
        #[rustfmt::skip]
        let cases = [
            // (name, work now, [timer, tick, drain deadline, accept pause], timeout)
            ("nothing to wait for",            false, [None; 4],                        None),
            ("the next timer",                 false, [at(5), at(9), at(9), at(9)],     Some(ms(5))),
            ("the handler's tick",             false, [at(9), at(5), at(9), at(9)],     Some(ms(5))),
            ("the drain deadline",             false, [at(9), at(9), at(5), at(9)],     Some(ms(5))),
            ("the end of an accept pause",     false, [at(9), at(9), at(9), at(5)],     Some(ms(5))),
            ("one of them alone",              false, [None, None, at(7), None],        Some(ms(7))),
            ("a wake-up already past",         false, [Some(now - ms(3)), None, None, None], Some(ms(0))),
            ("work now, with timers",          true,  [at(5), at(5), at(5), at(5)],     Some(ms(0))),
            ("work now, nothing else",         true,  [None; 4],                        Some(ms(0))),
        ];
        for (name, work_now, wake_at, expected) in cases {
            assert_eq!(poll_timeout(now, work_now, wake_at), expected, "{name}");
        }
    }
}
