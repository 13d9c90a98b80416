//! The process-wide cache of compressed representations, shared by every worker and the
//! compression threads: bounded in bytes (its own bookkeeping included), least recently used
//! evicted first, keyed by a file's identity and the coding.
//!
//! The key is the identity the serving worker read from the descriptor it opened beneath the
//! root (device, inode, size, modification and change times), so a file that changed in any way
//! has a new key and can never be answered with bytes made from its old contents; the old
//! entries are simply never hit again and age out. The compression threads check, before they
//! insert, that the bytes they compressed are those of that identity (see `super::compress_job`).
//!
//! It also remembers which keys are being compressed ("pending"), so that a hot file missing
//! from the cache is queued once, not once per request. It must not compress, read files or
//! decide what is compressible.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::mem::size_of;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use http_core::encoding::Coding;

use crate::files::cache::Identity;

/// What the cache is asked about: one coding of one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// The file version.
    pub identity: Identity,
    /// The coding.
    pub coding: Coding,
}

/// Bytes charged per entry on top of its body: the key twice (the map and the recency order),
/// the entry, the recency stamp, the reference counts of the shared body, and an allowance for
/// the hash table's spare slots and the B-tree's half-empty nodes. It is an estimate that errs
/// high, so the bound holds.
pub const ENTRY_OVERHEAD: usize =
    2 * size_of::<Key>() + size_of::<Entry>() + size_of::<u64>() + 2 * size_of::<usize>() + 64;

/// What the cache holds for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The compressed bytes.
    Body(Arc<[u8]>),
    /// Compressing this version does not pay (it barely shrinks, or would not fit in the
    /// cache): send the identity, and do not compress it again.
    Identity,
    /// Nothing yet.
    Missing,
}

#[derive(Debug)]
struct Entry {
    /// `None` for [`Found::Identity`].
    body: Option<Arc<[u8]>>,
    /// The recency stamp, a key of `Inner::order`.
    used: u64,
}

impl Entry {
    fn cost(&self) -> usize {
        ENTRY_OVERHEAD + self.body.as_ref().map_or(0, |b| b.len())
    }
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Key, Entry>,
    /// Recency stamp to key, oldest first.
    order: BTreeMap<u64, Key>,
    clock: u64,
    bytes: usize,
    pending: HashSet<Key>,
}

impl Inner {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn remove(&mut self, key: &Key) -> bool {
        match self.entries.remove(key) {
            Some(old) => {
                self.order.remove(&old.used);
                self.bytes -= old.cost();
                true
            }
            None => false,
        }
    }
}

/// What an insertion did to the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inserted {
    /// Entries evicted to make room.
    pub evicted: u64,
    /// Bytes held afterwards.
    pub bytes: usize,
    /// Entries held afterwards.
    pub entries: usize,
}

/// The cache; one per process, behind an `Arc`.
#[derive(Debug)]
pub struct CompressedCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl CompressedCache {
    /// An empty cache holding at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::default(),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update below leaves the maps consistent before anything that could panic (an
        // allocation), so a poisoned lock still guards a usable cache.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What is held for `key`; a hit becomes the most recently used entry.
    pub fn find(&self, key: &Key) -> Found {
        let mut inner = self.lock();
        let stamp = inner.tick();
        let Some(entry) = inner.entries.get_mut(key) else {
            return Found::Missing;
        };
        let old = std::mem::replace(&mut entry.used, stamp);
        let found = match &entry.body {
            Some(body) => Found::Body(Arc::clone(body)),
            None => Found::Identity,
        };
        inner.order.remove(&old);
        inner.order.insert(stamp, *key);
        found
    }

    /// Marks `key` as being compressed, unless it already is or is held: whether the caller
    /// should queue it. A claim ends with [`Self::insert`] or [`Self::abandon`].
    pub fn claim(&self, key: &Key) -> bool {
        let mut inner = self.lock();
        !inner.entries.contains_key(key) && inner.pending.insert(*key)
    }

    /// Gives up a claim (the job could not be queued, or the file changed before it was read).
    pub fn abandon(&self, key: &Key) {
        self.lock().pending.remove(key);
    }

    /// Stores `body` for `key` (`None`: compressing does not pay), ending its claim, and evicts
    /// the least recently used entries beyond the capacity. A body that could never fit is
    /// stored as `None`, so that it is not compressed again and again.
    pub fn insert(&self, key: Key, body: Option<Arc<[u8]>>) -> Inserted {
        let mut inner = self.lock();
        inner.pending.remove(&key);
        inner.remove(&key);
        let mut entry = Entry { body, used: 0 };
        if entry.cost() > self.capacity {
            entry.body = None;
        }
        let mut evicted = 0;
        while inner.bytes + entry.cost() > self.capacity {
            let Some((_, oldest)) = inner.order.pop_first() else {
                break;
            };
            // `order` no longer holds the stamp; `remove` finds nothing more to take out of it.
            inner.remove(&oldest);
            evicted += 1;
        }
        if inner.bytes + entry.cost() <= self.capacity {
            entry.used = inner.tick();
            inner.bytes += entry.cost();
            inner.order.insert(entry.used, key);
            inner.entries.insert(key, entry);
        }
        Inserted {
            evicted,
            bytes: inner.bytes,
            entries: inner.entries.len(),
        }
    }

    /// Bytes held, bookkeeping included.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn identity(n: u8) -> Identity {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, vec![n; usize::from(n) + 1]).unwrap();
        Identity::of_metadata(&fs::metadata(&path).unwrap())
    }

    fn key(n: u8) -> Key {
        Key {
            identity: identity(n),
            coding: Coding::Br,
        }
    }

    fn body(len: usize) -> Option<Arc<[u8]>> {
        Some(vec![7; len].into())
    }

    #[test]
    fn a_stored_body_is_found_and_other_codings_are_not() {
        let cache = CompressedCache::new(1 << 20);
        let k = key(1);
        assert_eq!(cache.find(&k), Found::Missing);
        cache.insert(k, body(10));
        assert_eq!(cache.find(&k), Found::Body(vec![7; 10].into()));
        let gzip = Key {
            coding: Coding::Gzip,
            ..k
        };
        assert_eq!(cache.find(&gzip), Found::Missing);
    }

    #[test]
    fn another_identity_of_the_same_file_is_a_miss() {
        let cache = CompressedCache::new(1 << 20);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, "one").unwrap();
        let old = Identity::of_metadata(&fs::metadata(&path).unwrap());
        fs::write(&path, "two").unwrap();
        let new = Identity::of_metadata(&fs::metadata(&path).unwrap());
        assert_ne!(old, new, "a rewrite in place changes the identity");
        let coding = Coding::Br;
        cache.insert(
            Key {
                identity: old,
                coding,
            },
            body(3),
        );
        assert_eq!(
            cache.find(&Key {
                identity: new,
                coding
            }),
            Found::Missing
        );
    }

    #[test]
    fn the_least_recently_used_goes_first_and_the_bound_counts_bookkeeping() {
        let entry = ENTRY_OVERHEAD + 100;
        let cache = CompressedCache::new(3 * entry);
        let (a, b, c, d) = (key(1), key(2), key(3), key(4));
        for k in [a, b, c] {
            assert_eq!(cache.insert(k, body(100)).evicted, 0);
        }
        assert_eq!(cache.bytes(), 3 * entry);
        // `a` is used again, so `b` is now the oldest.
        assert!(matches!(cache.find(&a), Found::Body(_)));
        let inserted = cache.insert(d, body(100));
        assert_eq!((inserted.evicted, inserted.entries), (1, 3));
        assert_eq!(cache.find(&b), Found::Missing);
        for k in [a, c, d] {
            assert!(matches!(cache.find(&k), Found::Body(_)));
        }
        assert!(cache.bytes() <= 3 * entry);
    }

    #[test]
    fn a_body_larger_than_the_cache_is_remembered_as_not_worth_it() {
        let cache = CompressedCache::new(ENTRY_OVERHEAD + 10);
        let k = key(1);
        cache.insert(k, body(11));
        assert_eq!(cache.find(&k), Found::Identity);
        assert_eq!(cache.bytes(), ENTRY_OVERHEAD);
    }

    #[test]
    fn a_key_is_claimed_once_until_stored_or_abandoned() {
        let cache = CompressedCache::new(1 << 20);
        let (a, b) = (key(1), key(2));
        assert!(cache.claim(&a));
        assert!(!cache.claim(&a), "already being compressed");
        cache.insert(a, body(1));
        assert!(!cache.claim(&a), "already held");
        assert!(cache.claim(&b));
        cache.abandon(&b);
        assert!(cache.claim(&b));
    }

    #[test]
    fn replacing_an_entry_keeps_the_byte_count_exact() {
        let cache = CompressedCache::new(1 << 20);
        let k = key(1);
        cache.insert(k, body(100));
        cache.insert(k, body(50));
        cache.insert(k, None);
        assert_eq!(cache.bytes(), ENTRY_OVERHEAD);
        assert_eq!(cache.find(&k), Found::Identity);
    }
}
