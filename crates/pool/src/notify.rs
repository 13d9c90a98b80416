//! Waking a connection from another thread.
//!
//! A handler that gives a connection's work to another thread (a large directory listing
//! rendered in the background, say) asks the [`Context`] of a call for a [`Notifier`]; its
//! [`Notifier::notify`], from any thread, makes the worker that owns the connection call
//! [`Handler::ready`](crate::Handler::ready) for it soon, whether or not it waits with a
//! deadline.
//!
//! Bounded: a notify puts the connection's key (slot and generation) on its worker's queue of
//! at most `Builder::notify_capacity` keys and wakes the worker. A connection is on the queue at
//! most once: its notifiers share a flag that a notify sets and the worker clears when it calls
//! for it, so a flood of notifies costs no more than one. When the queue is full, the notify
//! sets the worker's overflow flag instead, and the worker then looks at the flag of every
//! connection that has a notifier: no wake-up is lost. A key carries its slot's generation, so a
//! notify for a connection that closed meanwhile never reaches one that reuses its slot; a closed
//! connection's flag stays set, so its notifiers do nothing at all.
//!
//! A connection that never asks for a notifier costs a word for its empty flag cell and nothing
//! per call. This module must not call a handler or touch a connection: the worker does, in its
//! round.

use std::cell::OnceCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use mio::Waker;

use crate::slab::Key;

/// How many keys a worker's queue of notices holds unless the builder says otherwise: 16 KiB
/// per worker (a key and crossbeam's stamp per slot).
pub(crate) const NOTIFY_CAPACITY: usize = 1024;

/// What the pool tells a handler about the connection it is calling.
#[derive(Debug)]
pub struct Context<'a> {
    key: Key,
    board: &'a Arc<Board>,
    notice: &'a Notice,
}

impl Context<'_> {
    /// A handle, for any thread, that makes this worker call
    /// [`Handler::ready`](crate::Handler::ready) for this connection soon. The first one of a
    /// connection allocates its flag; each one after costs two reference counts.
    pub fn notifier(&self) -> Notifier {
        let pending = self
            .notice
            .0
            .get_or_init(|| Arc::new(AtomicBool::new(false)));
        Notifier {
            key: self.key,
            pending: Arc::clone(pending),
            board: Arc::clone(self.board),
        }
    }
}

/// Wakes one connection from any thread: see [`Context::notifier`].
#[derive(Debug, Clone)]
pub struct Notifier {
    key: Key,
    /// Set by a notify, cleared by the worker when it calls for it; set for good once the
    /// connection has closed.
    pending: Arc<AtomicBool>,
    board: Arc<Board>,
}

impl Notifier {
    /// Makes the worker call [`Handler::ready`](crate::Handler::ready) for the connection soon
    /// (once for every notify made before that call began, however many); nothing once the
    /// connection has closed. Never blocks.
    pub fn notify(&self) {
        // Loaded first: a flood would otherwise write the line on every notify.
        if self.pending.load(Ordering::Acquire) || self.pending.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Err(TrySendError::Full(_)) = self.board.queue.try_send(self.key) {
            // Set, then wake: the worker looks at the flag after its wake-up.
            self.board.overflowed.store(true, Ordering::Release);
        }
        // A failed wake (the worker has exited, or the wake-up's counter is full) leaves the
        // key for its next round.
        let _ = self.board.waker.wake();
    }
}

/// A worker's side that notifiers share.
#[derive(Debug)]
pub(crate) struct Board {
    queue: Sender<Key>,
    waker: Arc<Waker>,
    /// A notify found the queue full.
    overflowed: AtomicBool,
}

/// A connection's notice flag, made when it first asks for a notifier.
#[derive(Debug, Default)]
pub(crate) struct Notice(OnceCell<Arc<AtomicBool>>);

impl Notice {
    /// Whether the connection was notified since it was last called for a notice; clears it.
    pub(crate) fn take(&self) -> bool {
        self.0.get().is_some_and(|pending| {
            pending.load(Ordering::Acquire) && pending.swap(false, Ordering::AcqRel)
        })
    }

    /// The connection has closed: its notifiers do nothing from now on.
    pub(crate) fn retire(&self) {
        if let Some(pending) = self.0.get() {
            pending.store(true, Ordering::Release);
        }
    }
}

/// A worker's queue of notices.
#[derive(Debug)]
pub(crate) struct Notices {
    queue: Receiver<Key>,
    board: Arc<Board>,
}

impl Notices {
    /// A queue of at most `capacity` keys (at least one), whose notifiers wake `waker`.
    pub(crate) fn new(capacity: usize, waker: Arc<Waker>) -> Self {
        let (sender, queue) = crossbeam_channel::bounded(capacity.max(1));
        let board = Arc::new(Board {
            queue: sender,
            waker,
            overflowed: AtomicBool::new(false),
        });
        Self { queue, board }
    }

    /// The context of a call for connection `key`, whose notice flag is `notice`.
    pub(crate) fn context<'a>(&'a self, key: Key, notice: &'a Notice) -> Context<'a> {
        Context {
            key,
            board: &self.board,
            notice,
        }
    }

    /// Whether notices wait (so the worker must not sleep).
    pub(crate) fn waiting(&self) -> bool {
        !self.queue.is_empty() || self.board.overflowed.load(Ordering::Acquire)
    }

    /// The keys on the queue now, in the order they came: at most as many as were there when
    /// this began, so that a thread notifying in a loop cannot keep the worker here.
    pub(crate) fn queued(&self) -> impl Iterator<Item = Key> {
        let now = self.queue.len();
        self.queue.try_iter().take(now)
    }

    /// Whether a notify found the queue full since the last look; clears it.
    pub(crate) fn take_overflow(&self) -> bool {
        let overflowed = &self.board.overflowed;
        overflowed.load(Ordering::Acquire) && overflowed.swap(false, Ordering::AcqRel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notices(capacity: usize) -> (Notices, mio::Poll) {
        let poll = mio::Poll::new().unwrap();
        let waker = Arc::new(Waker::new(poll.registry(), mio::Token(0)).unwrap());
        (Notices::new(capacity, waker), poll)
    }

    fn key(index: u32) -> Key {
        Key {
            index,
            generation: 7,
        }
    }

    #[test]
    fn a_connection_is_queued_once_however_often_it_is_notified_before_its_call() {
        let (notices, _poll) = notices(4);
        let notice = Notice::default();
        let notifier = notices.context(key(1), &notice).notifier();
        let other = notices.context(key(1), &notice).notifier();
        for _ in 0..1000 {
            notifier.notify();
            other.clone().notify();
        }
        assert_eq!(notices.queued().collect::<Vec<_>>(), [key(1)]);
        assert!(notice.take(), "notified");
        assert!(!notice.take(), "cleared by the call");
        notifier.notify();
        assert_eq!(notices.queued().collect::<Vec<_>>(), [key(1)], "again");
    }

    #[test]
    fn a_full_queue_keeps_no_more_keys_and_flags_the_overflow_instead() {
        let (notices, _poll) = notices(4);
        let flags: Vec<Notice> = (0..100).map(|_| Notice::default()).collect();
        for (i, notice) in (0..).zip(&flags) {
            notices.context(key(i), notice).notifier().notify();
        }
        assert!(notices.waiting());
        assert_eq!(notices.queued().count(), 4);
        assert!(notices.take_overflow());
        assert!(!notices.take_overflow(), "cleared");
        assert!(
            flags.iter().all(Notice::take),
            "every connection's flag says it was notified"
        );
        assert!(!notices.waiting());
    }

    #[test]
    fn the_notifiers_of_a_closed_connection_do_nothing() {
        let (notices, _poll) = notices(4);
        let notice = Notice::default();
        let notifier = notices.context(key(1), &notice).notifier();
        notice.retire();
        notifier.notify();
        assert!(!notices.waiting());
        assert_eq!(notices.queued().count(), 0);
    }

    #[test]
    fn a_connection_that_never_asks_is_never_taken_as_notified() {
        let (notices, _poll) = notices(1);
        let (first, second, never) = (Notice::default(), Notice::default(), Notice::default());
        notices.context(key(1), &first).notifier().notify();
        notices.context(key(2), &second).notifier().notify();
        assert!(notices.take_overflow(), "the second found the queue full");
        assert!(!never.take());
        assert!(first.take() && second.take());
    }
}
