//! Listings made lately, shared by every worker, and the gate on reading directories.
//!
//! A directory's entries (the first [`MAX_ENTRIES`](super::MAX_ENTRIES) in the default order,
//! looked at with `statx`) are kept for [`FRESH_FOR`] under the directory's identity: device,
//! inode, modification and change times, and the path it was reached by; so are the pages made
//! from them, by order and URL path. A listing asked for again within that time costs a look-up
//! (a page already made) or a sort and a page (another order), instead of reading the directory
//! (about 140 ms for 300,000 names) and making the page (about 5 ms for 10,000 entries). An
//! entry added, removed or renamed changes the directory's times, so it shows at once; a file's
//! size or time changing inside shows at most [`FRESH_FOR`] late. At most [`MAX_BYTES`] of
//! entries and pages are kept; the oldest go first.
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

use http_core::encoding::Coding;

use super::Sort;
use super::read::{Entry, read_entries};
use crate::files::compress::{
    self,
    codec::{self, Levels},
};
use crate::files::resolve::Root;

/// How long entries read are reused: as late as a file's size or time may show.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// Entries kept at most, counted by their names and keys plus a fixed cost each.
pub const MAX_BYTES: usize = 16 << 20;

/// The levels a listing is compressed at, on the worker that asked for it: fast ones, as the
/// page is made again each time its entries are read.
const LISTING_LEVELS: Levels = Levels {
    br: 4,
    zstd: 3,
    gzip: 5,
};

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

/// Which page: a directory in an order, reached at a URL path (the page names it).
type PageKey = (Identity, Sort, String);

/// A page made, with the instant its entries were read (it is as fresh as they are), and its
/// compressed copies made so far.
#[derive(Debug)]
struct Page {
    html: Arc<Vec<u8>>,
    read_at: Instant,
    coded: Vec<(Coding, Arc<Vec<u8>>)>,
}

impl Page {
    fn bytes(&self) -> usize {
        self.html.len() + self.coded.iter().map(|(_, c)| c.len()).sum::<usize>()
    }
}

/// A listing's bytes, compressed with `coding` if `Some`.
#[derive(Debug)]
pub struct Made {
    pub bytes: Arc<Vec<u8>>,
    pub coding: Option<Coding>,
}

#[derive(Debug, Default)]
struct Kept {
    by_dir: HashMap<Identity, Arc<Listed>>,
    pages: HashMap<PageKey, Page>,
    bytes: usize,
}

impl Kept {
    /// Drops what is no longer fresh at `now`, then the oldest, until `more` bytes fit.
    fn make_room(&mut self, more: usize, now: Instant) {
        let fresh = |read_at: Instant| now.saturating_duration_since(read_at) < FRESH_FOR;
        let Self {
            by_dir,
            pages,
            bytes,
        } = self;
        by_dir.retain(|_, l| {
            let keep = fresh(l.read_at);
            if !keep {
                *bytes -= l.bytes;
            }
            keep
        });
        pages.retain(|_, p| {
            let keep = fresh(p.read_at);
            if !keep {
                *bytes -= p.bytes();
            }
            keep
        });
        while *bytes + more > MAX_BYTES {
            let oldest_dir = by_dir.iter().min_by_key(|(_, l)| l.read_at);
            let oldest_page = pages.iter().min_by_key(|(_, p)| p.read_at);
            let dir_first = match (oldest_dir, oldest_page) {
                (Some((_, l)), Some((_, p))) => l.read_at <= p.read_at,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if dir_first {
                if let Some(id) = oldest_dir.map(|(id, _)| id.clone()) {
                    *bytes -= by_dir.remove(&id).map_or(0, |l| l.bytes);
                }
            } else if let Some(key) = oldest_page.map(|(key, _)| key.clone()) {
                *bytes -= pages.remove(&key).map_or(0, |p| p.bytes());
            }
        }
    }
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

    /// The page of `dir`, found at `rel` under `root` and reached at `url_path`, in `sort`'s
    /// order: a kept one if fresh at `now`, else made by `make` from the entries (kept ones if
    /// fresh, else read now, if a place among the readers is free). Compressed with `coding`
    /// when one is given and a place among the readers is free for it (else as it is).
    ///
    /// # Errors
    ///
    /// [`Unlisted::Busy`] when too many directories are being read; [`Unlisted::Io`] when the
    /// directory cannot be read.
    #[allow(clippy::too_many_arguments)] // one call site, every argument named there
    pub(super) fn page(
        &self,
        root: &Root,
        dir: OwnedFd,
        (rel, url_path): (&str, &str),
        sort: Sort,
        coding: Option<Coding>,
        now: Instant,
        make: impl FnOnce(&Listed) -> String,
    ) -> Result<Made, Unlisted> {
        let id = identity(&dir, rel).map_err(Unlisted::Io)?;
        let key = (id, sort, url_path.to_owned());
        let kept = self.lock().pages.get(&key).and_then(|page| {
            let fresh = now.saturating_duration_since(page.read_at) < FRESH_FOR;
            let coded = page.coded.iter().find(|(c, _)| Some(*c) == coding);
            fresh.then(|| {
                (
                    Arc::clone(&page.html),
                    page.read_at,
                    coded.map(|(_, b)| b.clone()),
                )
            })
        });
        let (html, read_at) = match kept {
            Some((_, _, Some(coded))) => {
                return Ok(Made {
                    bytes: coded,
                    coding,
                });
            }
            Some((html, read_at, None)) => (html, read_at),
            None => {
                let listed = self.entries(root, dir, key.0.clone(), now)?;
                let html = Arc::new(make(&listed).into_bytes());
                let page = Page {
                    html: Arc::clone(&html),
                    read_at: listed.read_at,
                    coded: Vec::new(),
                };
                self.keep_page(key.clone(), page, now);
                (html, listed.read_at)
            }
        };
        let identity = Made {
            bytes: html,
            coding: None,
        };
        let Some(coding) = coding.filter(|_| identity.bytes.len() as u64 >= compress::MIN_SIZE)
        else {
            return Ok(identity);
        };
        // Compressing a large page costs a worker as reading a directory does.
        let Some(_compressing) = self.enter() else {
            return Ok(identity);
        };
        let level = LISTING_LEVELS.of(coding);
        let Ok(coded) = codec::compress(coding, level, &identity.bytes) else {
            return Ok(identity);
        };
        let coded = Arc::new(coded);
        let mut kept = self.lock();
        let kept = &mut *kept;
        if let Some(page) = kept.pages.get_mut(&key)
            && page.read_at == read_at
            && kept.bytes + coded.len() <= MAX_BYTES
        {
            kept.bytes += coded.len();
            page.coded.push((coding, Arc::clone(&coded)));
        }
        Ok(Made {
            bytes: coded,
            coding: Some(coding),
        })
    }

    /// Keeps `page` under `key`, within the bound.
    fn keep_page(&self, key: PageKey, page: Page, now: Instant) {
        let bytes = page.bytes();
        if bytes > MAX_BYTES {
            return;
        }
        let mut kept = self.lock();
        kept.make_room(bytes, now);
        kept.bytes += bytes;
        if let Some(old) = kept.pages.insert(key, page) {
            kept.bytes -= old.bytes();
        }
    }

    /// The entries of the directory `id`: kept ones if fresh at `now`, else read from `dir`.
    fn entries(
        &self,
        root: &Root,
        dir: OwnedFd,
        id: Identity,
        now: Instant,
    ) -> Result<Arc<Listed>, Unlisted> {
        if let Some(listed) = self.lock().by_dir.get(&id)
            && now.saturating_duration_since(listed.read_at) < FRESH_FOR
        {
            return Ok(Arc::clone(listed));
        }
        let _reading = self.enter().ok_or(Unlisted::Busy(Busy))?;
        let (entries, skipped) = read_entries(root, dir, &id.rel).map_err(Unlisted::Io)?;
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
        let mut kept = self.lock();
        if bytes <= MAX_BYTES {
            kept.make_room(bytes, now);
            kept.bytes += bytes;
            if let Some(old) = kept.by_dir.insert(id, Arc::clone(&listed)) {
                kept.bytes -= old.bytes;
            }
        }
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

    /// Bytes of entries and pages kept now.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

/// The identity of the directory open as `dir`, reached at `rel`.
fn identity(dir: &OwnedFd, rel: &str) -> io::Result<Identity> {
    let st = rustix::fs::fstat(dir)?;
    let nanos = |secs: i64, nsec: u64| i128::from(secs) * 1_000_000_000 + i128::from(nsec);
    Ok(Identity {
        dev: st.st_dev,
        ino: st.st_ino,
        mtime_ns: nanos(st.st_mtime, st.st_mtime_nsec),
        ctime_ns: nanos(st.st_ctime, st.st_ctime_nsec),
        rel: rel.to_owned(),
    })
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

    const BY_NAME: Sort = Sort {
        column: super::super::Column::Name,
        ascending: true,
    };

    /// The entries of the root reached at `rel`, through the cache.
    fn entries(cache: &ListingCache, root: &Root, rel: &str, now: Instant) -> Arc<Listed> {
        let dir = open(root);
        let id = identity(&dir, rel).unwrap();
        cache.entries(root, dir, id, now).unwrap()
    }

    /// The page of the root in `sort`'s order, made as the names joined.
    fn page(cache: &ListingCache, root: &Root, sort: Sort, now: Instant) -> Arc<Vec<u8>> {
        let names = |l: &Listed| names(l).join(",");
        let made = cache.page(root, open(root), (".", "/"), sort, None, now, names);
        made.unwrap().bytes
    }

    fn names(listed: &Listed) -> Vec<&str> {
        listed.entries.iter().map(|e| e.name.as_str()).collect()
    }

    #[test]
    fn a_listing_asked_again_within_the_freshness_is_not_read_again() {
        let (_dir, root) = fixture(3);
        let cache = ListingCache::new(2);
        let now = Instant::now();
        let first = entries(&cache, &root, ".", now);
        // A size change inside does not change the directory: the kept entries are reused...
        fs::write(root.path().join("f1.txt"), "longer").unwrap();
        let again = entries(&cache, &root, ".", now);
        assert!(Arc::ptr_eq(&first, &again));
        // ...until they are no longer fresh.
        let later = entries(&cache, &root, ".", now + FRESH_FOR);
        assert!(!Arc::ptr_eq(&first, &later));
        let size = |l: &Listed| l.entries.iter().find(|e| e.name == "f1.txt").unwrap().size;
        assert_eq!((size(&first), size(&later)), (1, 6));
    }

    #[test]
    fn an_entry_added_or_removed_shows_at_once() {
        let (_dir, root) = fixture(2);
        let cache = ListingCache::new(2);
        let now = Instant::now();
        assert_eq!(
            page(&cache, &root, BY_NAME, now).as_slice(),
            b"f0.txt,f1.txt"
        );
        fs::write(root.path().join("new.txt"), "").unwrap();
        fs::remove_file(root.path().join("f0.txt")).unwrap();
        assert_eq!(
            page(&cache, &root, BY_NAME, now).as_slice(),
            b"f1.txt,new.txt"
        );
    }

    #[test]
    fn a_page_is_made_once_per_order_while_fresh() {
        let (_dir, root) = fixture(2);
        let cache = ListingCache::new(2);
        let now = Instant::now();
        let first = page(&cache, &root, BY_NAME, now);
        assert!(Arc::ptr_eq(&first, &page(&cache, &root, BY_NAME, now)));
        let desc = Sort {
            ascending: false,
            ..BY_NAME
        };
        assert!(!Arc::ptr_eq(&first, &page(&cache, &root, desc, now)));
        let later = page(&cache, &root, BY_NAME, now + FRESH_FOR);
        assert!(!Arc::ptr_eq(&first, &later));
        assert_eq!(first, later);
    }

    #[test]
    fn a_compressed_copy_is_made_once_and_kept_with_its_page() {
        let (_dir, root) = fixture(200);
        let cache = ListingCache::new(2);
        let now = Instant::now();
        let names = |l: &Listed| names(l).join(",");
        let get = |coding| {
            let made = cache.page(&root, open(&root), (".", "/"), BY_NAME, coding, now, names);
            made.unwrap()
        };
        let plain = get(None);
        assert_eq!(plain.coding, None);
        let gzip = get(Some(Coding::Gzip));
        assert_eq!(gzip.coding, Some(Coding::Gzip));
        assert_eq!(
            codec::decompress(Coding::Gzip, &gzip.bytes).unwrap(),
            *plain.bytes
        );
        assert!(Arc::ptr_eq(&gzip.bytes, &get(Some(Coding::Gzip)).bytes));
        // Counted in the bound: the entries, the page and its copy.
        let entries = cache.lock().by_dir.values().map(|l| l.bytes).sum::<usize>();
        assert_eq!(
            cache.bytes(),
            entries + plain.bytes.len() + gzip.bytes.len()
        );
        // Too small to be worth it, or no reader free: as it is.
        let (_small_dir, small) = fixture(2);
        let made = cache.page(
            &small,
            open(&small),
            (".", "/"),
            BY_NAME,
            Some(Coding::Br),
            now,
            names,
        );
        assert_eq!(made.unwrap().coding, None);
        let _held = cache.enter().unwrap();
        let made = cache.page(
            &root,
            open(&root),
            (".", "/"),
            BY_NAME,
            Some(Coding::Br),
            now,
            names,
        );
        assert_eq!(made.unwrap().coding, None);
    }

    #[test]
    fn reading_past_the_limit_is_refused_until_a_reader_is_done() {
        let (_dir, root) = fixture(1);
        let cache = ListingCache::new(2);
        let made = |l: &Listed| names(l).join(",");
        let held = cache.enter().unwrap();
        let refused = cache.page(
            &root,
            open(&root),
            (".", "/"),
            BY_NAME,
            None,
            Instant::now(),
            made,
        );
        assert!(matches!(refused, Err(Unlisted::Busy(Busy))), "{refused:?}");
        drop(held);
        page(&cache, &root, BY_NAME, Instant::now());
        // A kept listing needs no reader.
        let _held = cache.enter().unwrap();
        page(&cache, &root, BY_NAME, Instant::now());
        assert_eq!(ListingCache::new(8).max_reading, 4);
    }

    #[test]
    fn memory_stays_within_the_bound_and_stale_entries_go_first() {
        let (_dir, root) = fixture(50);
        let cache = ListingCache::new(2);
        let now = Instant::now();
        let one = entries(&cache, &root, ".", now).bytes;
        assert!(one > 50 * ENTRY_OVERHEAD);
        // The same directory under many paths: each is kept, within the bound.
        for i in 0..(MAX_BYTES / one + 10) {
            entries(&cache, &root, &format!("./{i}"), now);
            assert!(cache.bytes() <= MAX_BYTES);
        }
        assert!(cache.bytes() + one > MAX_BYTES);
        // Once stale, they make way for a new one.
        entries(&cache, &root, "new", now + FRESH_FOR);
        assert_eq!(cache.bytes(), one);
    }
}
