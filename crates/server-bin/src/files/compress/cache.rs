//! The process-wide cache of compressed representations, shared by every worker and the
//! compression threads: bounded in bytes, least recently used evicted first, keyed by a file's
//! identity and the coding.
//!
//! The bound counts every entry (its body and its bookkeeping) and the output of every
//! compression in progress, which reserves room as it writes ([`Reservation`]), evicting to get
//! it: the cache's memory stays within the bound however many threads compress at once. (What the
//! encoders hold while they work is not in it; `codec` bounds that.)
//!
//! The key is the identity the serving worker read from the descriptor it opened beneath the
//! root (device, inode, size, modification and change times), so a file that was rewritten,
//! replaced or touched has a new key, and its old entries are never hit again and age out. But
//! bytes can change without the identity: only the first write through a shared mapping (`mmap`)
//! updates the times. So each copy also keeps a hash of the bytes it was made from and when those
//! were last seen to be the file's ("verified"), and is served only within [`FRESH_FOR`] of that;
//! a hit on an older copy is answered with the identity. Verifying (reading the file again and
//! hashing it) is the compression threads' work, much cheaper than compressing; this module says
//! which files are due (one hit past [`REVERIFY_AFTER`], and through [`CompressedCache::due`]
//! those used within [`KEEP_WARM`], so that a file asked for now and then keeps its copy
//! servable), records the outcome, and drops copies whose file now has other bytes.
//!
//! Admission: a copy may take at most 1/[`ADMIT_DIVISOR`] of the cache; one that would take more
//! is remembered as not worth making, like one that barely shrinks. An evicted copy leaves a
//! marker that keeps its file from being compressed again for [`RECOMPRESS_AFTER`], twice as long
//! each time the same copy is evicted again (up to [`RECOMPRESS_AFTER_MAX`]): a working set larger
//! than the cache settles on the part that fits instead of keeping the threads recompressing.
//!
//! It also remembers which keys are being compressed ("pending") and which files are being
//! verified, so that a hot file is queued once, not once per request. It must not compress, read
//! files or decide what is compressible.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::mem::size_of;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use http_core::encoding::Coding;

use crate::files::cache::Identity;

/// A copy is served only this long after its source bytes were last verified.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// A copy verified longer ago than this is verified again (well before [`FRESH_FOR`] runs out,
/// so that a file in use keeps being served compressed).
pub const REVERIFY_AFTER: Duration = Duration::from_millis(500);

/// How often [`CompressedCache::due`] looks for copies to verify.
pub const SWEEP_EVERY: Duration = Duration::from_millis(250);

/// Copies used within this long are kept verified without waiting for a hit.
pub const KEEP_WARM: Duration = Duration::from_secs(30);

/// Source bytes one sweep asks to verify at most (the most recently used files first); past it,
/// a copy is verified on its next hit instead.
pub const SWEEP_SOURCE_BYTES: u64 = 16 << 20;

/// Entries one sweep looks at, at most (it holds the lock meanwhile).
pub const SWEEP_ENTRIES: usize = 1024;

/// A copy may take at most this fraction (1/N) of the cache; so the reservations of as many
/// compressions at once as there can be threads (`super::MAX_THREADS`) always fit together.
pub const ADMIT_DIVISOR: usize = 4;

/// An evicted copy is not made again for this long...
pub const RECOMPRESS_AFTER: Duration = Duration::from_secs(10);

/// ...doubled each time it is evicted again, up to this.
pub const RECOMPRESS_AFTER_MAX: Duration = Duration::from_secs(640);

/// What the cache is asked about: one coding of one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// The file version.
    pub identity: Identity,
    /// The coding.
    pub coding: Coding,
}

/// Bytes charged per entry on top of its body and path: the key twice (the map and the recency
/// order), the entry, the recency stamp, the shared body's vector and reference counts, and an
/// allowance for the hash table's spare slots and the B-tree's half-empty nodes. It is an
/// estimate that errs high, so the bound holds.
pub const ENTRY_OVERHEAD: usize = 2 * size_of::<Key>()
    + size_of::<Entry>()
    + size_of::<u64>()
    + size_of::<Vec<u8>>()
    + 2 * size_of::<usize>()
    + 64;

/// A compressed copy, and what it was made from.
#[derive(Debug)]
pub struct Copy {
    /// The compressed bytes (shared with the responses sending them).
    pub body: Arc<Vec<u8>>,
    /// The hash of the source bytes ([`CompressedCache::hasher`]).
    pub source: u64,
    /// When the source bytes were last seen to be the file's.
    pub verified: Instant,
    /// The file's path under the root, to verify it by.
    pub rel: Box<str>,
}

/// What a compression thread stores for a key.
#[derive(Debug)]
pub enum Made {
    /// A copy.
    Copy(Copy),
    /// Compressing this version does not pay (it barely shrinks, or would take too large a share
    /// of the cache): send the identity, and do not compress it again.
    NotWorth,
}

/// What a worker is to do for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Serve this copy (verified within [`FRESH_FOR`]). `verify`: the caller has claimed the
    /// file's verification and must queue it (or [`CompressedCache::unclaim_verify`]).
    Fresh { body: Arc<Vec<u8>>, verify: bool },
    /// Serve the identity: the copy has not been verified within [`FRESH_FOR`]. `verify` as
    /// above.
    Unverified { verify: bool },
    /// Serve the identity: no copy. `compress`: the caller has claimed the key and must queue
    /// it (or [`CompressedCache::abandon`]).
    Missing { compress: bool },
    /// Serve the identity: this version is not worth compressing.
    NotWorth,
    /// Serve the identity: the copy was evicted too recently to be made again.
    Cooling,
}

#[derive(Debug)]
enum State {
    Copy(Copy),
    NotWorth,
    /// The copy was evicted; it is not made again before `until`.
    Cooling {
        until: Instant,
    },
}

#[derive(Debug)]
struct Entry {
    state: State,
    /// The recency stamp, a key of `Inner::order`.
    used: u64,
    /// When it was last looked up (or stored).
    used_at: Instant,
    /// How long the key stays [`State::Cooling`] once its copy is evicted.
    cooldown: Duration,
}

impl Entry {
    fn cost(&self) -> usize {
        ENTRY_OVERHEAD
            + match &self.state {
                State::Copy(copy) => copy.body.capacity() + copy.rel.len(),
                State::NotWorth | State::Cooling { .. } => 0,
            }
    }
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Key, Entry>,
    /// Recency stamp to key, oldest first.
    order: BTreeMap<u64, Key>,
    clock: u64,
    /// The entries' cost.
    held: usize,
    /// Bytes reserved by compressions in progress.
    reserved: usize,
    /// Copies evicted since the last [`CompressedCache::stats`].
    evicted: u64,
    pending: HashSet<Key>,
    verifying: HashSet<Identity>,
    next_sweep: Option<Instant>,
}

impl Inner {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn remove(&mut self, key: &Key) -> Option<Entry> {
        let old = self.entries.remove(key)?;
        self.order.remove(&old.used);
        self.held -= old.cost();
        Some(old)
    }

    /// Stores `entry` as the most recently used.
    fn put(&mut self, key: Key, mut entry: Entry) {
        entry.used = self.tick();
        self.held += entry.cost();
        self.order.insert(entry.used, key);
        self.entries.insert(key, entry);
    }

    /// Evicts the least recently used entry: a copy becomes a cooling marker (the most recent
    /// entry, so that it is remembered a while), a marker goes. False when nothing is left.
    fn evict_one(&mut self, now: Instant) -> bool {
        let Some((_, oldest)) = self.order.first_key_value() else {
            return false;
        };
        let oldest = *oldest;
        let Some(mut entry) = self.remove(&oldest) else {
            return false;
        };
        if matches!(entry.state, State::Copy(_)) {
            entry.state = State::Cooling {
                until: now + entry.cooldown,
            };
            self.evicted += 1;
            self.put(oldest, entry);
        }
        true
    }

    /// Evicts until `more` bytes fit within `capacity`; whether they do (they cannot when
    /// reservations, which nothing evicts, leave too little; then nothing is evicted).
    fn make_room(&mut self, more: usize, capacity: usize, now: Instant) -> bool {
        if self.reserved + more > capacity {
            return false;
        }
        while self.held + self.reserved + more > capacity {
            if !self.evict_one(now) {
                return false;
            }
        }
        true
    }

    fn copies_of(&self, identity: Identity) -> impl Iterator<Item = Key> + '_ {
        Coding::ALL
            .into_iter()
            .map(move |coding| Key { identity, coding })
            .filter(|key| {
                matches!(
                    self.entries.get(key).map(|e| &e.state),
                    Some(State::Copy(_))
                )
            })
    }
}

/// How full the cache is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Bytes held and reserved, bookkeeping included.
    pub bytes: usize,
    /// Entries held (markers included).
    pub entries: usize,
    /// Copies evicted since the previous call.
    pub evicted: u64,
}

/// What a verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verified {
    /// Copies made from the bytes the file still has.
    pub kept: u64,
    /// Copies made from other bytes, dropped.
    pub dropped: u64,
}

/// Room taken in the cache by a compression in progress, given back when dropped (or turned
/// into the entry by [`CompressedCache::insert`]).
#[derive(Debug)]
pub struct Reservation<'a> {
    cache: &'a CompressedCache,
    bytes: usize,
}

impl Reservation<'_> {
    /// Bytes reserved.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Reserves `more` bytes, evicting what it takes; false if they cannot fit (the rest is
    /// reserved by other compressions).
    pub fn grow(&mut self, more: usize, now: Instant) -> bool {
        let mut inner = self.cache.lock();
        if !inner.make_room(more, self.cache.capacity, now) {
            return false;
        }
        inner.reserved += more;
        self.bytes += more;
        true
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.cache.lock().reserved -= self.bytes;
        }
    }
}

/// The cache; one per process, behind an `Arc`.
#[derive(Debug)]
pub struct CompressedCache {
    inner: Mutex<Inner>,
    capacity: usize,
    /// Keys the source hashes (random per process: nobody outside can aim at a collision).
    hashes: RandomState,
}

impl CompressedCache {
    /// An empty cache holding at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::default(),
            capacity,
            hashes: RandomState::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update below leaves the maps consistent before anything that could panic (an
        // allocation), so a poisoned lock still guards a usable cache.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The hasher of source bytes: what a copy keeps and a verification compares.
    pub fn hasher(&self) -> DefaultHasher {
        self.hashes.build_hasher()
    }

    /// The most one entry may cost.
    pub fn admit_max(&self) -> usize {
        self.capacity / ADMIT_DIVISOR
    }

    /// What to do for `key` at `now`; the entry becomes the most recently used. A missing key is
    /// claimed for compression only if `settled` (its identity tells its versions apart).
    pub fn find(&self, key: &Key, now: Instant, settled: bool) -> Found {
        let mut inner = self.lock();
        let stamp = inner.tick();
        let Inner {
            entries,
            order,
            pending,
            verifying,
            ..
        } = &mut *inner;
        let Some(entry) = entries.get_mut(key) else {
            return Found::Missing {
                compress: settled && pending.insert(*key),
            };
        };
        order.remove(&entry.used);
        order.insert(stamp, *key);
        entry.used = stamp;
        entry.used_at = now;
        match &entry.state {
            State::Copy(copy) => {
                let age = now.saturating_duration_since(copy.verified);
                let verify = age >= REVERIFY_AFTER && verifying.insert(key.identity);
                match age < FRESH_FOR {
                    true => Found::Fresh {
                        body: Arc::clone(&copy.body),
                        verify,
                    },
                    false => Found::Unverified { verify },
                }
            }
            State::NotWorth => Found::NotWorth,
            State::Cooling { until } if now < *until => Found::Cooling,
            State::Cooling { .. } => Found::Missing {
                compress: settled && pending.insert(*key),
            },
        }
    }

    /// Gives up a claim to compress (the job could not be queued, or the file changed before it
    /// was read).
    pub fn abandon(&self, key: &Key) {
        self.lock().pending.remove(key);
    }

    /// Gives up a claim to verify.
    pub fn unclaim_verify(&self, identity: Identity) {
        self.lock().verifying.remove(&identity);
    }

    /// Room for a compression's output, `bytes` to start with, evicting what it takes; `None`
    /// if it cannot fit.
    pub fn reserve(&self, bytes: usize, now: Instant) -> Option<Reservation<'_>> {
        let mut reservation = Reservation {
            cache: self,
            bytes: 0,
        };
        reservation.grow(bytes, now).then_some(reservation)
    }

    /// Stores what was `made` for `key`, ending its claim and turning `reservation` into the
    /// entry, and evicts the least recently used entries beyond the capacity. A copy that costs
    /// more than [`Self::admit_max`] is stored as not worth making.
    pub fn insert(&self, key: Key, made: Made, mut reservation: Reservation<'_>, now: Instant) {
        let mut inner = self.lock();
        inner.pending.remove(&key);
        inner.reserved -= reservation.bytes;
        reservation.bytes = 0;
        // A copy made again after an eviction will wait twice as long if evicted again.
        let cooldown = match inner.remove(&key) {
            Some(Entry {
                state: State::Cooling { .. },
                cooldown,
                ..
            }) => (cooldown * 2).min(RECOMPRESS_AFTER_MAX),
            Some(old) => old.cooldown,
            None => RECOMPRESS_AFTER,
        };
        let mut entry = Entry {
            state: match made {
                Made::Copy(copy) => State::Copy(copy),
                Made::NotWorth => State::NotWorth,
            },
            used: 0,
            used_at: now,
            cooldown,
        };
        if entry.cost() > self.admit_max() {
            entry.state = State::NotWorth;
        }
        if inner.make_room(entry.cost(), self.capacity, now) {
            inner.put(key, entry);
        }
    }

    /// Records that the file `identity` names had bytes hashing to `source` when read from
    /// `at` on: its copies made from those bytes are fresh from `at`, the others are dropped.
    /// Ends the claim to verify.
    pub fn verified(&self, identity: Identity, source: u64, at: Instant) -> Verified {
        let mut inner = self.lock();
        inner.verifying.remove(&identity);
        let keys: Vec<Key> = inner.copies_of(identity).collect();
        let mut outcome = Verified::default();
        for key in keys {
            let same = match inner.entries.get_mut(&key).map(|e| &mut e.state) {
                Some(State::Copy(copy)) if copy.source == source => {
                    copy.verified = copy.verified.max(at);
                    true
                }
                _ => false,
            };
            if same {
                outcome.kept += 1;
            } else {
                inner.remove(&key);
                outcome.dropped += 1;
            }
        }
        outcome
    }

    /// Drops every copy of `identity`: the file no longer has it (changed or gone), so they
    /// can never be verified again. Ends the claim to verify.
    pub fn forget(&self, identity: Identity) {
        let mut inner = self.lock();
        inner.verifying.remove(&identity);
        let keys: Vec<Key> = inner.copies_of(identity).collect();
        for key in keys {
            inner.remove(&key);
        }
    }

    /// The files to verify now (at most once per [`SWEEP_EVERY`]; empty otherwise): those
    /// with a copy used within [`KEEP_WARM`] and verified more than [`REVERIFY_AFTER`] ago, the
    /// most recently used first, within [`SWEEP_SOURCE_BYTES`]. Each is claimed: the caller
    /// must queue it or [`Self::unclaim_verify`].
    pub fn due(&self, now: Instant) -> Vec<(Identity, Box<str>)> {
        let mut inner = self.lock();
        if inner.next_sweep.is_some_and(|next| now < next) {
            return Vec::new();
        }
        inner.next_sweep = Some(now + SWEEP_EVERY);
        let Inner {
            entries,
            order,
            verifying,
            ..
        } = &mut *inner;
        let mut due = Vec::new();
        let mut budget = SWEEP_SOURCE_BYTES;
        for key in order.values().rev().take(SWEEP_ENTRIES) {
            let Some(entry) = entries.get(key) else {
                continue;
            };
            let State::Copy(copy) = &entry.state else {
                continue;
            };
            // Copies are in the order of their use (markers are not): the rest are older.
            if now.saturating_duration_since(entry.used_at) > KEEP_WARM {
                break;
            }
            let size = key.identity.size();
            if now.saturating_duration_since(copy.verified) < REVERIFY_AFTER || size > budget {
                continue;
            }
            if verifying.insert(key.identity) {
                budget -= size;
                due.push((key.identity, copy.rel.clone()));
            }
        }
        due
    }

    /// How full the cache is, and the copies evicted since the previous call.
    pub fn stats(&self) -> Stats {
        let mut inner = self.lock();
        Stats {
            bytes: inner.held + inner.reserved,
            entries: inner.entries.len(),
            evicted: std::mem::take(&mut inner.evicted),
        }
    }
}

#[cfg(test)]
mod tests;
