//! A per-worker cache of small files (contents and metadata), so that a hit costs no system
//! call instead of open, fstat, read and close.
//!
//! A file is cached only when the path to it has no symlink (checked beneath the root with
//! `RESOLVE_NO_SYMLINKS`), so the directories a lookup of it walks are exactly the ones its
//! path names; each of them, from the root down, and the file itself are watched with inotify
//! before the file's identity (device, inode, size, modification and change times) is checked
//! once more against what was read. No name is ever followed out of the root: the watched
//! objects were all opened beneath it. (Revalidating each hit by looking the path up again costs
//! three system calls; keeping a descriptor of the file's directory and checking only the last
//! name costs one but serves the old tree after a directory on the path is swapped.)
//!
//! What is noticed at once: a change made through a system call that inotify reports puts an
//! event in the queue before that call returns, and any event empties the whole cache. Those are
//! a `write` or truncation of the file, through any name (a hard link outside the root too); a
//! change of its times, permissions or owner; its removal or renaming; and a creation, removal or
//! rename in any directory on its path (such as a deploy that swaps a directory).
//!
//! What is noticed late, and how late: inotify reports no write through a shared memory mapping
//! (`mmap`; the first one changes the file's times, later ones to the same pages nothing), no
//! mount or unmount over the file or a directory on its path (a bind mount), and no change made
//! by another machine on a network file system. A cached copy is therefore never served more
//! than [`MAX_AGE`] after its bytes were read: past it the file is looked up, read and watched
//! again. So such a change shows within [`MAX_AGE`] (plus a round, below).
//!
//! The queue is read by the first hit after [`FileCache::recheck`], which the worker calls
//! after each round of events and for each new connection; the other hits of a round trust that
//! reading. So a request sent after a change is never answered from the copy before it, unless
//! it reached the worker during the round that read the queue, after the reading, on a
//! connection already open (pipelined behind another request, or sent while the worker was
//! still busy with that round): such a request can be one round late. A round is microseconds
//! on an idle worker; under load it is bounded by the turns of its connections (at most 1,024
//! ready at once, each at most 16 responses, or over HTTP/2 100 if all but 16 come from this
//! cache, or 1 MiB). (h2o's open-file cache also lives for one turn of its event loop; nginx's
//! `open_file_cache` and lighttpd's stat cache trust a file for a second.) Reading the queue on
//! every hit cost a third of a cached keep-alive request's system calls. The reading for a new
//! connection has no test: a test cannot make a change land inside one round.
//!
//! Timestamps are only as fine as the kernel's clock tick (unless it has multigrain timestamps,
//! Linux 6.13+), so two same-size writes within one tick could share an identity. A file that
//! changed less than [`RACY_WINDOW`] ago is therefore never cached (git calls such entries
//! "racily clean"): it is served from disk until it has settled.
//!
//! Entries belong to one tree of the root ([`Root::id`]): a request served from another (a
//! deploy swapped the root's path, `files::root`) empties the cache before it looks, since the
//! watches are on the old tree, which such a swap does not touch.
//!
//! Each worker's cache has one inotify instance for its whole life, made when the worker is;
//! when none can be made (past `fs.inotify.max_user_instances`, 128 by default, counted per
//! user), that worker caches nothing, and the first such worker says so on stderr at start.
//!
//! A file too large to keep in memory is kept open instead, at most [`MAX_OPEN`] of them per
//! worker: a hit sends it from its descriptor (by `sendfile`, or read in chunks for TLS and
//! HTTP/2), an `fstat` in place of the `openat2`, `statx` and `close` of every request, as
//! lighttpd's and nginx's open-file caches do. Its bytes are read as they are when sent, so
//! each hit checks the descriptor's identity against the length and validators it will send
//! (a rewrite in place is a miss at once, whatever the queue says). Files kept open are closed
//! once aged ([`FileCache::recheck`], which also says when the next one ages, so that an idle
//! worker wakes for it), so a deleted file's space is not held for longer than that.
//!
//! Only files without precompressed sidecars are cached; whether a large file has sidecars is
//! probed again at most every [`SIDECAR_RECHECK`]. Each worker owns its cache: no locks. It must
//! not decide what is cacheable beyond size; `respond` does.

use std::collections::{HashMap, HashSet};
use std::fs::{File, Metadata};
use std::mem::MaybeUninit;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustix::fd::{AsRawFd, OwnedFd};
use rustix::fs::Stat;
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::io::Errno;

use crate::files::resolve::Root;

/// Largest file kept in the cache where response bodies are encrypted (TLS): the copy is what
/// TLS needs anyway, and a hit spares the open, `fstat`, reads and close. One worker pinned,
/// `wrk -t1 -c50` over TLS (`TLS=1 scripts/bench/cache_size.py`, 4 alternating rounds),
/// medians of the server's CPU per request from the cache against from disk: 16 KiB 9.5
/// against 11.7 µs, 32 KiB 13.9 against 16.9, 64 KiB 26.8 against 30.3, 128 KiB 56.8 against
/// 61.2. Kept at 64 KiB: twice that would halve the files [`CAPACITY`] holds.
pub const MAX_FILE: u64 = 64 * 1024;

/// Largest file kept in the cache where bodies go by `sendfile` (plain TCP): past it, copying
/// the cached bytes into the socket costs more than the `openat2`, `statx` and `close` that
/// serving from the page cache adds (a hit costs 5 system calls per keep-alive request, a
/// miss 8, at every size). One worker pinned, `wrk -t1 -c50`, server CPU per request from the
/// cache against by `sendfile` (`scripts/bench/cache_size.py`, medians of two runs of 3 and 5
/// rounds): 16 KiB 5.9 against 7.7 µs (under 16 KiB a miss is read and copied too), 24 KiB
/// 6.8 against 7.1, 32 KiB 8.7 against 8.8 and 8.3 against 7.2, 48 KiB 9.9 against 8.1,
/// 64 KiB 11.2 against 9.8 and 10.9 against 9.4, 128 KiB 20.9 against 15.3; requests a second
/// followed (64 KiB: 24.3k against 25.6k and 15.1k against 17.4k).
pub const MAX_FILE_SENDFILE: u64 = 24 * 1024;

/// Bytes of file contents one worker keeps at most.
pub const CAPACITY: usize = 8 * 1024 * 1024;

/// Files one worker keeps open at most (counted by `fd_limit`, and none when the open-file limit
/// binds). A pinned 64 KiB keep-alive response went from 6 system calls (recv, openat2,
/// statx, send, sendfile, close) to 4 (recv, fstat, send, sendfile; lighttpd makes 5: recv,
/// two setsockopt, writev, sendfile).
pub const MAX_OPEN: usize = 16;

/// A file whose change time is more recent than this is not cached.
pub const RACY_WINDOW: Duration = Duration::from_secs(1);

/// A cached copy is served for at most this long after its bytes were read, whatever the
/// inotify queue says: the bound on changes inotify does not report (see the module doc).
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// Inotify watches one worker's cache adds at most; when an insert finds them all used (by
/// entries since evicted, too), the cache starts over empty.
pub const MAX_WATCHES: usize = 1024;

/// Files remembered as having no sidecars at most (per worker).
pub const MAX_NO_SIDECARS: usize = 4096;

/// How long "this file has no sidecars" is trusted for a file too large to cache.
pub const SIDECAR_RECHECK: Duration = Duration::from_secs(1);

/// Whether a worker has said that it has no inotify instance (once per process).
static SAID_NO_INOTIFY: AtomicBool = AtomicBool::new(false);

/// What must not have changed for a cached copy to be served (here, and in the compressed
/// cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Identity {
    /// The identity of the file `m` describes.
    pub fn of_metadata(m: &Metadata) -> Self {
        Self {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The identity of the file `s` describes.
    pub fn of_stat(s: &Stat) -> Self {
        Self {
            dev: s.st_dev,
            ino: s.st_ino,
            size: u64::try_from(s.st_size).unwrap_or(u64::MAX),
            mtime: (s.st_mtime, s.st_mtime_nsec as i64),
            ctime: (s.st_ctime, s.st_ctime_nsec as i64),
        }
    }
}

/// Whether the file `meta` describes last changed at least [`RACY_WINDOW`] before `wall` (the
/// current time), so that its identity tells its versions apart.
pub fn is_settled(meta: &Metadata, wall: SystemTime) -> bool {
    let changed = u64::try_from(meta.ctime()).ok().map(|secs| {
        UNIX_EPOCH + Duration::new(secs, u32::try_from(meta.ctime_nsec()).unwrap_or(0))
    });
    changed
        .and_then(|changed| wall.duration_since(changed).ok())
        .is_some_and(|age| age >= RACY_WINDOW)
}

/// What a hit serves: cheap to hand out (no string is copied per request).
#[derive(Debug, Clone)]
pub struct Hit {
    /// The counters' name of the file: `/` and the path under the root the request resolved
    /// to (`/docs/index.html` for `/docs/`), made once for every hit.
    pub name: Arc<str>,
    /// Metadata of the cached version.
    pub meta: Metadata,
    /// Its whole contents, or the file kept open.
    pub contents: Contents,
    /// Its `Content-Type`, from its name (found once: ~200 instructions a request).
    pub content_type: &'static str,
}

/// What a cache entry holds of its file.
#[derive(Debug, Clone)]
pub enum Contents {
    /// Every byte, read once: a file up to the cache's in-memory limit.
    Bytes(Arc<Vec<u8>>),
    /// The file, open: a larger one, sent from its descriptor.
    Open(Arc<File>),
}

impl Contents {
    /// The bytes held in memory, if that is how the file is kept.
    pub fn bytes(&self) -> Option<&Arc<Vec<u8>>> {
        match self {
            Self::Bytes(bytes) => Some(bytes),
            Self::Open(_) => None,
        }
    }

    /// Bytes of memory it holds.
    fn memory(&self) -> usize {
        self.bytes().map_or(0, |bytes| bytes.len())
    }
}

/// The path under the root of the file counted as `name` (a [`Hit::name`]): `docs/index.html`
/// for `/docs/index.html`.
pub fn rel(name: &str) -> &str {
    name.get(1..).unwrap_or_default()
}

/// A cached file.
#[derive(Debug)]
struct Entry {
    hit: Hit,
    /// [`MAX_AGE`] after its bytes were read.
    expires: Instant,
}

/// One worker's cache, keyed by request path.
#[derive(Debug)]
pub struct FileCache {
    /// Looked up on every request, so hashed with foldhash's randomly seeded fast hash rather
    /// than SipHash: a client cannot choose its keys, only paths of files that exist.
    entries: foldhash::HashMap<String, Entry>,
    bytes: usize,
    /// The keys of the entries that keep their file open (at most `max_open`).
    open: Vec<String>,
    max_open: usize,
    /// Watching the cached files and their paths; `None` when the worker has no inotify
    /// instance, and then nothing is cached.
    watches: Option<Watches>,
    /// Files too large to cache that had no sidecars, and until when that is trusted: a large
    /// download would otherwise probe for `.br` and `.gz` on every request.
    no_sidecars: HashMap<String, Instant>,
    /// The inotify queue has been read since the last [`FileCache::recheck`].
    checked: bool,
    /// The [`Root::id`] of the tree everything here was found in.
    root: Option<u64>,
    /// Hits served and lookups missed so far: read before and after a request, they tell
    /// whether it was answered from memory alone (`Service::answered_from_memory`).
    hits: u64,
    misses: u64,
    /// Largest file kept: [`MAX_FILE`], or [`MAX_FILE_SENDFILE`] where every body goes by
    /// sendfile.
    max_file: u64,
}

impl Default for FileCache {
    /// A cache with an inotify instance of its own, or, when none can be made, one that caches
    /// nothing (said once per process on stderr).
    fn default() -> Self {
        let init = || inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK);
        Self::with_instance(init, &SAID_NO_INOTIFY)
    }
}

/// The line a server prints, once, when a worker has no inotify instance; `None` when it was
/// said already (`said` records it).
pub fn no_inotify_notice(error: Errno, said: &AtomicBool) -> Option<String> {
    if said.swap(true, Ordering::Relaxed) {
        return None;
    }
    let hint = match error {
        // The per-user limit on instances, not on descriptors.
        Errno::MFILE => " (fs.inotify.max_user_instances reached)",
        _ => "",
    };
    Some(format!(
        "http-server: a worker has no inotify instance: {error}{hint}; such workers serve every \
         file from disk, without the small-file cache"
    ))
}

/// The inotify instance watching every cached file and the directories on its path.
#[derive(Debug)]
struct Watches {
    fd: OwnedFd,
    /// Watch descriptors added (the kernel gives one per inode, so this counts inodes).
    added: HashSet<i32>,
}

/// What, in a directory on a cached file's path, could make the path lead to other bytes.
const DIRECTORY_EVENTS: WatchFlags = WatchFlags::MODIFY
    .union(WatchFlags::ATTRIB)
    .union(WatchFlags::CLOSE_WRITE)
    .union(WatchFlags::MOVED_FROM)
    .union(WatchFlags::MOVED_TO)
    .union(WatchFlags::CREATE)
    .union(WatchFlags::DELETE)
    .union(WatchFlags::DELETE_SELF)
    .union(WatchFlags::MOVE_SELF)
    .union(WatchFlags::ONLYDIR);

/// What could change a cached file's bytes or metadata, through whatever name.
const FILE_EVENTS: WatchFlags = WatchFlags::MODIFY
    .union(WatchFlags::ATTRIB)
    .union(WatchFlags::CLOSE_WRITE)
    .union(WatchFlags::DELETE_SELF)
    .union(WatchFlags::MOVE_SELF);

impl Watches {
    /// Whether any event but the end of a watch this cache removed itself has arrived (the
    /// queue is drained).
    fn changed(&self) -> bool {
        let mut buf = [MaybeUninit::uninit(); 4096];
        let mut events = inotify::Reader::new(&self.fd, &mut buf);
        let mut any = false;
        // Ends when the queue is empty (`EAGAIN`: the instance does not block).
        while let Ok(event) = events.next() {
            any |= event.events() != ReadFlags::IGNORED;
        }
        any
    }

    /// Watches what `target` was opened on (through `/proc`, so no name is looked up again);
    /// false if that failed or the limit is reached.
    fn add(&mut self, target: &OwnedFd, events: WatchFlags) -> bool {
        let path = format!("/proc/self/fd/{}", target.as_raw_fd());
        match inotify::add_watch(&self.fd, path, events) {
            Ok(wd) => {
                self.added.insert(wd);
                self.added.len() <= MAX_WATCHES
            }
            Err(_) => false,
        }
    }

    /// Removes every watch and empties the queue, keeping the instance.
    fn reset(&mut self) {
        for wd in self.added.drain() {
            // Fails only for a watch the kernel ended already (its inode is gone).
            let _ = inotify::remove_watch(&self.fd, wd);
        }
        self.changed();
    }
}

impl FileCache {
    /// A cache watching through the instance `init` makes; without one it caches nothing, and
    /// says so on stderr unless `said` records that it was said already.
    fn with_instance(
        init: impl FnOnce() -> rustix::io::Result<OwnedFd>,
        said: &AtomicBool,
    ) -> Self {
        let watches = match init() {
            Ok(fd) => Some(Watches {
                fd,
                added: HashSet::new(),
            }),
            Err(error) => {
                if let Some(notice) = no_inotify_notice(error, said) {
                    eprintln!("{notice}");
                }
                None
            }
        };
        Self {
            entries: foldhash::HashMap::default(),
            bytes: 0,
            open: Vec::new(),
            max_open: MAX_OPEN,
            watches,
            no_sidecars: HashMap::new(),
            checked: false,
            hits: 0,
            misses: 0,
            root: None,
            max_file: MAX_FILE,
        }
    }

    /// A cache for a worker whose connections all send file bodies by `sendfile` (plain
    /// HTTP/1.1), or some of which copy them (TLS, HTTP/2): it keeps files up to
    /// [`MAX_FILE_SENDFILE`] or [`MAX_FILE`].
    pub fn for_bodies(all_by_sendfile: bool) -> Self {
        let mut cache = Self::default();
        if all_by_sendfile {
            cache.max_file = MAX_FILE_SENDFILE;
        }
        cache
    }

    /// The cache, keeping at most `files` open (at most [`MAX_OPEN`]; none where the
    /// open-file limit binds).
    #[must_use]
    pub fn keeping_open(mut self, files: usize) -> Self {
        self.max_open = files.min(MAX_OPEN);
        self
    }

    /// Largest cached file worth serving from here to a request whose body can go by
    /// `sendfile` or not: past [`MAX_FILE_SENDFILE`], `sendfile` costs less than a copy.
    pub fn max_file_for(&self, sendfile: bool) -> u64 {
        match sendfile {
            true => self.max_file.min(MAX_FILE_SENDFILE),
            false => self.max_file,
        }
    }

    /// The cached copy for request path `key` in the tree `root`, if nothing watched had
    /// changed when the queue was last read (it is read now if not since
    /// [`FileCache::recheck`]) and its bytes were read less than [`MAX_AGE`] before `now`. Any
    /// change empties the cache, and so does a request for another tree (every request asks
    /// here first).
    pub fn get(&mut self, root: &Root, key: &str, now: Instant) -> Option<Hit> {
        let hit = self.look_up(root, key, now);
        match hit {
            Some(_) => self.hits += 1,
            None => self.misses += 1,
        }
        hit
    }

    /// [`FileCache::get`], without the tally.
    fn look_up(&mut self, root: &Root, key: &str, now: Instant) -> Option<Hit> {
        self.use_tree(root);
        let entry = self.entries.get(key)?;
        if now >= entry.expires {
            self.remove(key);
            return None;
        }
        let hit = entry.hit.clone();
        let watches = self.watches.as_ref()?;
        if !self.checked {
            self.checked = true;
            if watches.changed() {
                self.clear();
                return None;
            }
        }
        // A file kept open is read as it is when sent: its length and validators must still
        // be its own, whatever the queue could not say yet (a rewrite in this round, a write
        // through a mapping). One `fstat`, where a miss costs three calls.
        if let Contents::Open(file) = &hit.contents
            && !rustix::fs::fstat(&**file)
                .is_ok_and(|s| Identity::of_stat(&s) == Identity::of_metadata(&hit.meta))
        {
            self.remove(key);
            return None;
        }
        Some(hit)
    }

    /// How many hits this cache has served, and how many lookups it missed.
    pub fn tally(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    /// Makes the next hit read the inotify queue: requests that arrive from now on may have
    /// been sent after a change the last reading did not see. With files kept open, the
    /// queue is read now and those past their age are closed, so that an idle worker does not
    /// keep a deleted file (and its disk space) until its next hit. Returns when the first file
    /// still kept open ages, if any: the worker calls this again then, even with no request
    /// to wake it.
    pub fn recheck(&mut self) -> Option<Instant> {
        self.checked = false;
        if self.open.is_empty() {
            return None;
        }
        if let Some(watches) = &self.watches {
            self.checked = true;
            if watches.changed() {
                self.clear();
                return None;
            }
        }
        let now = Instant::now();
        let mut aged = Vec::new();
        let mut next: Option<Instant> = None;
        for key in &self.open {
            match self.entries.get(key) {
                Some(entry) if now < entry.expires => {
                    next = Some(next.map_or(entry.expires, |n| n.min(entry.expires)));
                }
                _ => aged.push(key.clone()),
            }
        }
        for key in aged {
            self.remove(&key);
        }
        next
    }

    /// Forgets everything, keeping the inotify instance: after a panic may have left the cache
    /// half-updated. (Making a new cache would hold two instances a moment, and at the limit
    /// the new one could not be made.)
    pub fn reset(&mut self) {
        self.clear();
        self.no_sidecars.clear();
        self.root = None;
    }

    /// Starts over empty, sidecar probes included, unless everything was found in `root`.
    fn use_tree(&mut self, root: &Root) {
        if self.root != Some(root.id()) {
            self.clear();
            self.no_sidecars.clear();
            self.root = Some(root.id());
        }
    }

    /// Forgets every entry, and the watches with them.
    fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
        self.open.clear();
        if let Some(watches) = &mut self.watches {
            watches.reset();
        }
    }

    /// Watches `rel`'s directories (the root's too) and the file, then checks the file is still
    /// the one described by `identity`, reached without symlinks. After this, any change that
    /// inotify reports raises an event.
    fn watch(&mut self, root: &Root, rel: &str, identity: Identity) -> bool {
        if self
            .watches
            .as_ref()
            .is_some_and(|w| w.added.len() >= MAX_WATCHES)
        {
            // Watches outlive the entries evicted since: start over rather than stop caching.
            self.clear();
        }
        let Some(watches) = &mut self.watches else {
            return false;
        };
        let mut directories = vec!["."];
        directories.extend(rel.match_indices('/').filter_map(|(i, _)| rel.get(..i)));
        for dir in directories {
            let Ok(fd) = root.open_without_symlinks(dir, true) else {
                return false;
            };
            if !watches.add(&fd, DIRECTORY_EVENTS) {
                return false;
            }
        }
        let Ok(file) = root.open_without_symlinks(rel, false) else {
            return false;
        };
        if !watches.add(&file, FILE_EVENTS) {
            return false;
        }
        rustix::fs::fstat(&file).is_ok_and(|s| Identity::of_stat(&s) == identity)
    }

    /// Caches `contents` of the file at `rel` (with `meta`), read at `now`, for request path
    /// `key`, if it is small enough ([`FileCache::max_file`]), has not changed within
    /// [`RACY_WINDOW`] of `wall` (the current time), and can be watched (see the module doc),
    /// evicting other entries to stay within [`CAPACITY`].
    #[allow(
        clippy::too_many_arguments,
        reason = "each is one fact of the file cached"
    )]
    pub fn insert(
        &mut self,
        root: &Root,
        key: &str,
        rel: &str,
        meta: &Metadata,
        contents: Arc<Vec<u8>>,
        now: Instant,
        wall: SystemTime,
    ) {
        if contents.len() as u64 > self.max_file || contents.len() as u64 != meta.len() {
            return;
        }
        self.admit(root, key, rel, meta, Contents::Bytes(contents), now, wall);
    }

    /// Keeps `file`, open at `rel` with `meta`, for request path `key`, on the terms of
    /// [`FileCache::insert`] but for the size, while fewer than [`MAX_OPEN`] are kept. A copy
    /// kept in memory for other clients (over TLS or HTTP/2, which take larger ones than
    /// `sendfile` does) stays.
    #[allow(
        clippy::too_many_arguments,
        reason = "each is one fact of the file cached"
    )]
    pub fn insert_open(
        &mut self,
        root: &Root,
        key: &str,
        rel: &str,
        meta: &Metadata,
        file: Arc<File>,
        now: Instant,
        wall: SystemTime,
    ) {
        let in_memory = |e: &Entry| matches!(e.hit.contents, Contents::Bytes(_));
        if self.entries.get(key).is_some_and(in_memory) {
            return;
        }
        if self.open.len() >= self.max_open && !self.open.iter().any(|k| k == key) {
            // Full: an entry past its age makes room (else files asked for once would keep
            // their places until the next change, and the hot ones would never get one).
            let expired = |k: &String| self.entries.get(k).is_none_or(|e| now >= e.expires);
            match self.open.iter().find(|k| expired(k)).cloned() {
                Some(stale) => self.remove(&stale),
                None => return,
            }
        }
        self.admit(root, key, rel, meta, Contents::Open(file), now, wall);
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "each is one fact of the file cached"
    )]
    fn admit(
        &mut self,
        root: &Root,
        key: &str,
        rel: &str,
        meta: &Metadata,
        contents: Contents,
        now: Instant,
        wall: SystemTime,
    ) {
        if !is_settled(meta, wall) {
            return;
        }
        self.use_tree(root);
        let identity = Identity::of_metadata(meta);
        if !self.watch(root, rel, identity) {
            return;
        }
        self.remove(key);
        while self.bytes + contents.memory() > CAPACITY {
            // Any copy will do: a static site's hot set is small, and keys hash randomly. (A
            // file kept open frees no memory.)
            let Some(victim) = self
                .entries
                .iter()
                .find(|(_, e)| matches!(e.hit.contents, Contents::Bytes(_)))
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.remove(&victim);
        }
        self.bytes += contents.memory();
        if matches!(contents, Contents::Open(_)) {
            self.open.push(key.to_owned());
        }
        self.entries.insert(
            key.to_owned(),
            Entry {
                hit: Hit {
                    name: ["/", rel].concat().into(),
                    meta: meta.clone(),
                    contents,
                    content_type: http_core::mime::for_path(rel),
                },
                expires: now + MAX_AGE,
            },
        );
    }

    /// Whether the file at `rel` was seen without sidecars less than [`SIDECAR_RECHECK`] ago.
    pub fn has_no_sidecars(&self, rel: &str, now: Instant) -> bool {
        self.no_sidecars.get(rel).is_some_and(|&until| now < until)
    }

    /// Remembers that the file at `rel` has no sidecars, for [`SIDECAR_RECHECK`].
    pub fn note_no_sidecars(&mut self, rel: &str, now: Instant) {
        if self.no_sidecars.len() >= MAX_NO_SIDECARS {
            self.no_sidecars.retain(|_, until| now < *until);
            if self.no_sidecars.len() >= MAX_NO_SIDECARS {
                self.no_sidecars.clear();
            }
        }
        self.no_sidecars
            .insert(rel.to_owned(), now + SIDECAR_RECHECK);
    }

    fn remove(&mut self, key: &str) {
        if let Some(old) = self.entries.remove(key) {
            self.bytes -= old.hit.contents.memory();
            if matches!(old.hit.contents, Contents::Open(_)) {
                self.open.retain(|k| k != key);
            }
        }
    }

    /// Bytes of contents held.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests;
