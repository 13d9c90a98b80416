//! Listings read lately, shared by every worker, and the gate on reading directories.
//!
//! A directory's entries (the first [`MAX_ENTRIES`](super::MAX_ENTRIES) in the default order,
//! looked at with `statx`) are kept for [`FRESH_FOR`] under the directory's identity: device,
//! inode, modification and change times, and the path it was reached by. A listing asked for
//! again within that time, in any order, costs a sort and a page instead of reading the
//! directory (about 140 ms for 300,000 names). An entry added, removed or renamed changes the
//! directory's times, so it shows at once; a file's size or time changing inside shows at most
//! [`FRESH_FOR`] late. At most [`MAX_BYTES`] of entries are kept; the oldest go first.
//!
//! Reading a directory holds a worker for as long as it takes, so at most `workers / 2`
//! directories (one at least) are read at once, process-wide: a client looping over a huge
//! directory through many connections can hold no more than half the workers, and the request
//! past the limit is refused ([`Busy`], answered `503` with `Retry-After`).
//!
//! It must not make the page (`page`) nor decide whether a listing is allowed (the exchange).

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustix::fd::OwnedFd;

use super::read::{Entry, read_entries};
use crate::files::resolve::Root;

/// How long entries read are reused: as late as a file's size or time may show.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// Entries kept at most, counted by their names and keys plus a fixed cost each.
pub const MAX_BYTES: usize = 16 << 20;

/// What one entry costs besides its name and key (the struct, the allocations' headers).
const ENTRY_OVERHEAD: usize = 96;

/// A directory's entries, as read at one instant.
#[derive(Debug)]
pub struct Listed {
    /// In the default order (directories first, then names in natural order).
    pub entries: Vec<Entry>,
    /// Entries left out by the cap.
    pub skipped: usize,
    read_at: Instant,
    bytes: usize,
}

/// Too many directories are being read at once: try again shortly.
#[derive(Debug, PartialEq, Eq)]
pub struct Busy;

/// Why no listing came.
#[derive(Debug)]
pub enum Unlisted {
    /// See [`Busy`].
    Busy(Busy),
    /// The directory could not be read.
    Io(io::Error),
}

/// Which directory, as it is now: any change to its entries changes the times.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Identity {
    dev: u64,
    ino: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    /// Symlinks inside are looked up through this path.
    rel: String,
}

/// The cache and the read gate, one per process.
#[derive(Debug)]
pub struct ListingCache {
    kept: Mutex<Kept>,
    reading: AtomicUsize,
    max_reading: usize,
}

#[derive(Debug, Default)]
struct Kept {
    by_dir: HashMap<Identity, Arc<Listed>>,
    bytes: usize,
}

/// A place among the directories being read, given back when dropped.
struct Reading<'a>(&'a AtomicUsize);

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl ListingCache {
    /// A cache for a server of `workers` workers.
    pub fn new(workers: usize) -> Self {
        Self {
            kept: Mutex::default(),
            reading: AtomicUsize::new(0),
            max_reading: (workers / 2).max(1),
        }
    }

    /// The entries of `dir`, found at `rel` under `root`: kept ones if fresh at `now`, else
    /// read now (if a place among the readers is free).
    ///
    /// # Errors
    ///
    /// [`Unlisted::Busy`] when too many directories are being read; [`Unlisted::Io`] when the
    /// directory cannot be read.
    pub fn get(
        &self,
        root: &Root,
        dir: OwnedFd,
        rel: &str,
        now: Instant,
    ) -> Result<Arc<Listed>, Unlisted> {
        let st = rustix::fs::fstat(&dir).map_err(|e| Unlisted::Io(e.into()))?;
        let nanos = |secs: i64, nsec: u64| i128::from(secs) * 1_000_000_000 + i128::from(nsec);
        let id = Identity {
            dev: st.st_dev,
            ino: st.st_ino,
            mtime_ns: nanos(st.st_mtime, st.st_mtime_nsec),
            ctime_ns: nanos(st.st_ctime, st.st_ctime_nsec),
            rel: rel.to_owned(),
        };
        if let Some(listed) = self.lock().by_dir.get(&id)
            && now.saturating_duration_since(listed.read_at) < FRESH_FOR
        {
            return Ok(Arc::clone(listed));
        }
        let _reading = self.enter().ok_or(Unlisted::Busy(Busy))?;
        let (entries, skipped) = read_entries(root, dir, rel).map_err(Unlisted::Io)?;
        let bytes = entries
            .iter()
            .map(|e| e.name.len() + e.key.len() + ENTRY_OVERHEAD)
            .sum();
        let listed = Arc::new(Listed {
            entries,
            skipped,
            read_at: now,
            bytes,
        });
        self.keep(id, Arc::clone(&listed), now);
        Ok(listed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a place among the readers, if one is free.
    fn enter(&self) -> Option<Reading<'_>> {
        let before = self.reading.fetch_add(1, Ordering::AcqRel);
        let place = Reading(&self.reading);
        (before < self.max_reading).then_some(place)
    }

    /// Keeps `listed` under `id`: stale entries go first, then the oldest, until it fits.
    fn keep(&self, id: Identity, listed: Arc<Listed>, now: Instant) {
        if listed.bytes > MAX_BYTES {
            return;
        }
        let mut kept = self.lock();
        let Kept { by_dir, bytes } = &mut *kept;
        by_dir.retain(|_, l| {
            let fresh = now.saturating_duration_since(l.read_at) < FRESH_FOR;
            if !fresh {
                *bytes -= l.bytes;
            }
            fresh
        });
        while *bytes + listed.bytes > MAX_BYTES {
            let Some(oldest) = by_dir
                .iter()
                .min_by_key(|(_, l)| l.read_at)
                .map(|(id, _)| id.clone())
            else {
                break;
            };
            if let Some(gone) = by_dir.remove(&oldest) {
                *bytes -= gone.bytes;
            }
        }
        *bytes += listed.bytes;
        if let Some(old) = by_dir.insert(id, listed) {
            *bytes -= old.bytes;
        }
    }

    /// Bytes of entries kept now.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use rustix::fs::{Mode, OFlags};

    use super::*;

    fn fixture(names: usize) -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(&root).unwrap();
        for i in 0..names {
            fs::write(root.join(format!("f{i}.txt")), "x").unwrap();
        }
        let root = Root::open(&root.canonicalize().unwrap()).unwrap();
        (dir, root)
    }

    fn open(root: &Root) -> OwnedFd {
        rustix::fs::open(
            root.path(),
            OFlags::RDONLY | OFlags::DIRECTORY,
            Mode::empty(),
        )
        .unwrap()
    }

    fn names(listed: &Listed) -> Vec<&str> {
        listed.entries.iter().map(|e| e.name.as_str()).collect()
    }

    #[test]
    fn a_listing_asked_again_within_the_freshness_is_not_read_again() {
        let (_dir, root) = fixture(3);
        let cache = ListingCache::new(2);
        let now = Instant::now();
        let first = cache.get(&root, open(&root), ".", now).unwrap();
        // A size change inside does not change the directory: the kept entries are reused...
        fs::write(root.path().join("f1.txt"), "longer").unwrap();
        let again = cache.get(&root, open(&root), ".", now).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        // ...until they are no longer fresh.
        let later = cache.get(&root, open(&root), ".", now + FRESH_FOR).unwrap();
        assert!(!Arc::ptr_eq(&first, &later));
        let size = |l: &Listed| l.entries.iter().find(|e| e.name == "f1.txt").unwrap().size;
        assert_eq!((size(&first), size(&later)), (1, 6));
    }

    #[test]
    fn an_entry_added_or_removed_shows_at_once() {
        let (_dir, root) = fixture(2);
        let cache = ListingCache::new(2);
        let now = Instant::now();
        let first = cache.get(&root, open(&root), ".", now).unwrap();
        assert_eq!(names(&first), ["f0.txt", "f1.txt"]);
        fs::write(root.path().join("new.txt"), "").unwrap();
        fs::remove_file(root.path().join("f0.txt")).unwrap();
        let again = cache.get(&root, open(&root), ".", now).unwrap();
        assert_eq!(names(&again), ["f1.txt", "new.txt"]);
    }

    #[test]
    fn reading_past_the_limit_is_refused_until_a_reader_is_done() {
        let (_dir, root) = fixture(1);
        let cache = ListingCache::new(2);
        let held = cache.enter().unwrap();
        let refused = cache.get(&root, open(&root), ".", Instant::now());
        assert!(matches!(refused, Err(Unlisted::Busy(Busy))), "{refused:?}");
        drop(held);
        assert!(cache.get(&root, open(&root), ".", Instant::now()).is_ok());
        // A kept listing needs no reader.
        let _held = cache.enter().unwrap();
        assert!(cache.get(&root, open(&root), ".", Instant::now()).is_ok());
        assert_eq!(ListingCache::new(8).max_reading, 4);
    }

    #[test]
    fn memory_stays_within_the_bound_and_stale_entries_go_first() {
        let (_dir, root) = fixture(50);
        let cache = ListingCache::new(2);
        let now = Instant::now();
        let one = cache.get(&root, open(&root), ".", now).unwrap().bytes;
        assert!(one > 50 * ENTRY_OVERHEAD);
        // The same directory under many paths: each is kept, within the bound.
        for i in 0..(MAX_BYTES / one + 10) {
            cache
                .get(&root, open(&root), &format!("./{i}"), now)
                .unwrap();
            assert!(cache.bytes() <= MAX_BYTES);
        }
        assert!(cache.bytes() + one > MAX_BYTES);
        // Once stale, they make way for a new one.
        cache
            .get(&root, open(&root), "new", now + FRESH_FOR)
            .unwrap();
        assert_eq!(cache.bytes(), one);
    }
}
