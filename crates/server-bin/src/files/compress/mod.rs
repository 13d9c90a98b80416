//! On-the-fly compression: text files are compressed once per coding (br, zstd, gzip) by a few
//! background threads and then served from one process-wide cache ([`cache`]) for as long as the
//! bytes they were made from are still the file's.
//!
//! The split of work is the point of this module. A worker only looks up: a hit is served from
//! memory; a miss is served as identity at once, and the file is queued (a bounded queue; a key
//! already queued or being compressed is not queued again; a full queue drops the job, counted,
//! and a later request queues it again). A worker never compresses, never reads a file to
//! verify a copy, never waits for a compression thread, and never blocks on the queue. The
//! compression threads run at a lower scheduling priority (nice [`NICE`]), so that on a busy
//! machine the workers win the CPU and a burst of new files delays nobody; they are joined at
//! shutdown.
//!
//! A file is compressed only if its identity is settled ([`is_settled`]) and is still the one
//! the worker served; a thread checks it again after reading. It reads the file in pieces of
//! [`READ_CHUNK`], hashing them and feeding the encoder, which writes into the entry itself, room
//! for which is reserved in the cache as it grows (so the copy is never copied, and never held
//! outside the cache's bound). Besides compressing, the threads verify copies: they read a file
//! again and compare its hash with the one its copies were made from (a copy whose file has other
//! bytes is dropped), when a worker's hit finds a copy due (the cache says when) and every
//! [`cache::SWEEP_EVERY`] for copies in recent use. A copy not verified within
//! [`cache::FRESH_FOR`] is not served: whatever way a file changed, its compressed
//! representations are never older than that.
//!
//! This module must not build responses or negotiate (`respond` does), nor decide levels at run
//! time (they come from the configuration).

pub mod cache;
pub mod codec;

use std::fs::{File, Metadata};
use std::hash::Hasher;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError, select};
use http_core::encoding::Coding;

use self::cache::{CompressedCache, Copy, ENTRY_OVERHEAD, Found, Key, Made, Reservation};
use self::codec::{Encoder, Levels};
use crate::files::cache::{Identity, is_settled};
use crate::files::resolve::{Root, open_file};
use crate::files::root::SwappableRoot;
use crate::metrics::Metrics;

/// Files smaller than this are sent as they are: a few hundred bytes saved do not pay for the
/// client's decoding, and most of such a response is its head anyway.
pub const MIN_SIZE: u64 = 1024;

/// Files waiting for a compression thread, at most.
pub const QUEUE_JOBS: usize = 1024;

/// The nice value of the compression threads (workers run at 0).
pub const NICE: i32 = 10;

/// How long shutdown waits for a compression thread to finish the file in its hands.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Compression threads at most, whatever the number of workers: each holds an encoder's working
/// memory outside the cache's bound (up to about 16 MiB at the default levels, see [`codec`]),
/// and a few already compress a site's new files faster than they are usually asked for.
pub const MAX_THREADS: usize = 4;

/// Bytes read from a file at a time, to compress or to verify it.
pub const READ_CHUNK: usize = 128 * 1024;

/// Room a compression reserves in the cache at a time as its output grows.
pub const RESERVE_STEP: usize = 256 * 1024;

/// A copy that may grow to this size is written into a buffer of [`MAPPED_CAPACITY`].
const MAPPED_FROM: usize = 1 << 20;

/// Address space (not memory: only what is written is) taken for a large copy while it is
/// made. The allocator (glibc: any request of 32 MiB or more) maps so large a request on its
/// own, so the copy, shrunk in place when done, stays a mapping of its own and its pages go
/// back to the system when it is evicted. Made among the encoders' short-lived buffers in the
/// thread's heap instead, copies left holes there that the heap kept: measured with a 64 MiB
/// cache and one compression thread, 139 MiB resident at the peak against 86 MiB this way.
const MAPPED_CAPACITY: usize = 32 << 20;

/// The page size, and the allocator's header in front of a mapped block.
const PAGE: usize = 4096;
const MAPPED_HEADER: usize = 16;

/// A compressed body must be at least this fraction (1/N) smaller than the file to be kept;
/// otherwise the identity is served and the file is not compressed again.
const MIN_SAVING_DIVISOR: u64 = 20;

/// What `--compress*` configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The codings offered, in the server's order of preference (br, zstd, gzip).
    pub codings: Vec<Coding>,
    /// The level of each.
    pub levels: Levels,
    /// The cache's bound in bytes.
    pub cache_bytes: usize,
    /// Larger files are sent as they are.
    pub max_size: u64,
}

impl Settings {
    /// Compression threads for `workers` workers: a quarter of them, at least one and at most
    /// [`MAX_THREADS`]. They are background work; the workers come first.
    pub fn threads(workers: usize) -> usize {
        (workers / 4).clamp(1, MAX_THREADS)
    }
}

/// Whether a `Content-Type` names text-like content that compresses well (images, audio, video,
/// fonts in WOFF and archives are compressed already).
pub fn is_compressible(content_type: &str) -> bool {
    let essence = match content_type.as_bytes().iter().position(|&b| b == b';') {
        Some(semicolon) => content_type.get(..semicolon).unwrap_or_default(),
        None => content_type,
    }
    .trim_ascii();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence,
            "application/json"
                | "application/xml"
                | "application/yaml"
                | "application/toml"
                | "application/wasm"
                | "image/x-icon"
                | "image/bmp"
                | "font/ttf"
                | "font/otf"
        )
}

/// What a compression thread is asked to do.
#[derive(Debug, Clone, Copy)]
enum Task {
    /// Compress one file version into one coding.
    Compress(Key),
    /// Check that the copies of a file version were made from the bytes it has now.
    Verify(Identity),
}

impl Task {
    /// Gives up the claim the cache gave for this task.
    fn unclaim(self, cache: &CompressedCache) {
        match self {
            Self::Compress(key) => cache.abandon(&key),
            Self::Verify(identity) => cache.unclaim_verify(identity),
        }
    }
}

/// One task, and the file it is about: its path under the tree the worker resolved it in (the
/// thread reads the same release, even if the root has been swapped since).
#[derive(Debug)]
struct Job {
    root: Arc<Root>,
    rel: Box<str>,
    task: Task,
}

/// What the workers use: the settings, the cache and the queue. Shared through the context.
#[derive(Debug)]
pub struct Compression {
    settings: Settings,
    /// The `ETag` suffix of each coding's output (`br.6`): the level is part of it, because
    /// another level makes other bytes, which must not carry the same strong tag.
    tags: [String; 3],
    cache: Arc<CompressedCache>,
    queue: Sender<Job>,
    metrics: Arc<Metrics>,
}

impl Compression {
    /// The codings offered, in the server's order of preference.
    pub fn codings(&self) -> &[Coding] {
        &self.settings.codings
    }

    /// Whether a file of `content_type` and `len` bytes is served compressed (when the client
    /// accepts it), and so varies with `Accept-Encoding`.
    pub fn applies(&self, content_type: &str, len: u64) -> bool {
        (MIN_SIZE..=self.settings.max_size).contains(&len) && is_compressible(content_type)
    }

    /// The `ETag` suffix of `coding`'s output.
    pub fn tag(&self, coding: Coding) -> &str {
        &self.tags[tag_index(coding)]
    }

    /// The cached `coding` of the file at `rel` whose metadata (taken from the descriptor the
    /// worker opened) is `meta`, if it was verified recently enough. `None` means: serve the
    /// identity. On a miss the file is queued for compression, unless it is already, changed too
    /// recently to be told apart from its next version, or lost its copy too recently; a copy
    /// due for verification is queued for that.
    ///
    /// The key holds no root, and needs none: the identity (device, inode, size, times) names
    /// the bytes of the file the request opened beneath its own root, whatever tree holds it. A
    /// hit after a swap of the root is a file that the new tree holds too (the same inode, as a
    /// release hard-linked from the last one shares), so its bytes are the new release's.
    pub fn lookup(
        &self,
        root: &Arc<Root>,
        rel: &str,
        meta: &Metadata,
        coding: Coding,
    ) -> Option<Arc<Vec<u8>>> {
        let key = Key {
            identity: Identity::of_metadata(meta),
            coding,
        };
        let settled = is_settled(meta, SystemTime::now());
        let counters = &self.metrics.compression;
        match self.cache.find(&key, Instant::now(), settled) {
            Found::Fresh { body, verify } => {
                counters.hit(coding);
                if verify {
                    self.queue(root, rel, Task::Verify(key.identity));
                }
                Some(body)
            }
            Found::Unverified { verify } => {
                counters.miss(coding);
                if verify {
                    self.queue(root, rel, Task::Verify(key.identity));
                }
                None
            }
            Found::Missing { compress } => {
                counters.miss(coding);
                if compress {
                    self.queue(root, rel, Task::Compress(key));
                }
                None
            }
            Found::Cooling => {
                counters.refused();
                None
            }
            Found::NotWorth => None,
        }
    }

    /// Queues `task` (claimed in the cache) without waiting: when the queue is full or the
    /// threads have stopped (shutdown), the claim is given up and a later request tries again.
    fn queue(&self, root: &Arc<Root>, rel: &str, task: Task) {
        let job = Job {
            root: Arc::clone(root),
            rel: rel.into(),
            task,
        };
        match self.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => {
                job.task.unclaim(&self.cache);
                self.metrics.compression.queue_full();
            }
            Err(TrySendError::Disconnected(job)) => job.task.unclaim(&self.cache),
        }
    }

    /// Counts `bytes` not sent thanks to a compressed response.
    pub fn saved(&self, bytes: u64) {
        self.metrics.compression.saved(bytes);
    }
}

fn tag_index(coding: Coding) -> usize {
    match coding {
        Coding::Br => 0,
        Coding::Zstd => 1,
        Coding::Gzip => 2,
    }
}

/// The compression threads, joined at shutdown.
#[derive(Debug)]
pub struct Compressors {
    threads: Vec<JoinHandle<()>>,
    /// Dropped to tell the threads to stop: they see it disconnected.
    stop: Option<Sender<()>>,
}

impl Compressors {
    /// Tells the threads to stop after the file in their hands; queued files are dropped.
    pub fn stop(&mut self) {
        self.stop = None;
    }

    /// Stops the threads and waits for them, at most [`JOIN_TIMEOUT`]; returns how many did not
    /// end in time (they are left to the process exit).
    pub fn finish(mut self) -> usize {
        self.stop();
        let deadline = Instant::now() + JOIN_TIMEOUT;
        while self.threads.iter().any(|t| !t.is_finished()) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        let (done, late): (Vec<_>, Vec<_>) =
            self.threads.drain(..).partition(JoinHandle::is_finished);
        for thread in done {
            // A panic is contained per file (`run`); one here would be in the loop itself, and
            // the thread is gone either way.
            let _ = thread.join();
        }
        late.len()
    }
}

/// Starts `threads` compression threads for `settings`; the copies due for verification are
/// checked beneath the tree `root` leads to then.
///
/// # Errors
///
/// When a thread cannot be spawned.
pub fn start(
    settings: Settings,
    root: Arc<SwappableRoot>,
    metrics: Arc<Metrics>,
    threads: usize,
) -> io::Result<(Compression, Compressors)> {
    let cache = Arc::new(CompressedCache::new(settings.cache_bytes));
    let (queue, jobs) = crossbeam_channel::bounded::<Job>(QUEUE_JOBS);
    let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
    let levels = settings.levels;
    let mut compressors = Compressors {
        threads: Vec::with_capacity(threads),
        stop: Some(stop),
    };
    for i in 0..threads {
        let thread = Compressor {
            jobs: jobs.clone(),
            stopped: stopped.clone(),
            root: Arc::clone(&root),
            cache: Arc::clone(&cache),
            metrics: Arc::clone(&metrics),
            levels,
        };
        let spawned = thread::Builder::new()
            .name(format!("compress-{i}"))
            .spawn(move || thread.run());
        match spawned {
            Ok(handle) => compressors.threads.push(handle),
            Err(e) => {
                compressors.finish();
                return Err(e);
            }
        }
    }
    let tags = Coding::ALL.map(|c| format!("{}.{}", c.token(), levels.of(c)));
    let compression = Compression {
        settings,
        tags,
        cache,
        queue,
        metrics,
    };
    Ok((compression, compressors))
}

/// One compression thread's state.
struct Compressor {
    jobs: Receiver<Job>,
    stopped: Receiver<()>,
    root: Arc<SwappableRoot>,
    cache: Arc<CompressedCache>,
    metrics: Arc<Metrics>,
    levels: Levels,
}

impl Compressor {
    fn run(self) {
        // Linux keeps a nice value per thread: this lowers this thread only. Failing to lower
        // it is harmless.
        let _ = rustix::process::setpriority_process(None, NICE);
        // Reused for every file: the only buffer a thread holds between files.
        let mut buf = vec![0; READ_CHUNK];
        loop {
            if matches!(self.stopped.try_recv(), Err(TryRecvError::Disconnected)) {
                return;
            }
            let due = self.cache.due(Instant::now());
            if !due.is_empty() {
                let root = self.root.current();
                for (identity, rel) in due {
                    self.verify(&root, &rel, identity, &mut buf);
                }
            }
            select! {
                recv(self.stopped) -> _ => return,
                recv(self.jobs) -> job => match job {
                    Ok(Job { root, rel, task: Task::Compress(key) }) => {
                        self.compress(&root, &rel, key, &mut buf);
                    }
                    Ok(Job { root, rel, task: Task::Verify(identity) }) => {
                        self.verify(&root, &rel, identity, &mut buf);
                    }
                    Err(_) => return,
                },
                default(cache::SWEEP_EVERY) => {}
            }
            let stats = self.cache.stats();
            self.metrics
                .compression
                .cache(stats.bytes, stats.entries, stats.evicted);
        }
    }

    /// Runs `work` on this thread's clock, with a panic contained to it (a panic in an encoder
    /// is a bug there; the panic hook has reported it, and this one file is given up rather
    /// than the thread).
    fn timed<T>(&self, work: impl FnOnce() -> T) -> Option<T> {
        let before = thread_cpu_time();
        let result = panic::catch_unwind(AssertUnwindSafe(work));
        self.metrics
            .compression
            .cpu(thread_cpu_time().saturating_sub(before));
        result.ok()
    }

    /// Compresses one file and stores the result. A file that changed, vanished or cannot be
    /// read is dropped: the next request for its new version queues that one.
    fn compress(&self, root: &Root, rel: &str, key: Key, buf: &mut [u8]) {
        let level = self.levels.of(key.coding);
        let made = self.timed(|| compress_file(root, rel, key, level, &self.cache, buf));
        match made {
            Some(Ok((made, reservation, too_large))) => {
                if too_large {
                    self.metrics.compression.refused();
                }
                self.cache.insert(key, made, reservation, Instant::now());
            }
            Some(Err(_)) | None => self.cache.abandon(&key),
        }
    }

    /// Checks the copies of the file version `identity` against the bytes the file at `rel`
    /// has now.
    fn verify(&self, root: &Root, rel: &str, identity: Identity, buf: &mut [u8]) {
        let hashed = self.timed(|| hash_file(root, rel, identity, &self.cache, buf));
        match hashed {
            Some(Ok((source, from))) => {
                let outcome = self.cache.verified(identity, source, from);
                self.metrics.compression.verified(outcome.dropped);
            }
            // That version is gone: its copies can never be verified, nor asked for by a
            // request that found the file as it is now.
            Some(Err(_)) => self.cache.forget(identity),
            None => self.cache.unclaim_verify(identity),
        }
    }
}

/// Why a job was dropped.
#[derive(Debug)]
enum Skip {
    /// The file is not the version the key names, or changed while being read.
    Changed,
    Io,
    /// The cache has no room left for the output: compressions in progress hold it.
    NoRoom,
}

/// Opens the file at `rel` if it is still the version `identity` names.
fn open_version(root: &Root, rel: &str, identity: Identity) -> Result<File, Skip> {
    let (file, meta) = open_file(root, rel).map_err(|_| Skip::Io)?;
    if !meta.is_file() || Identity::of_metadata(&meta) != identity {
        return Err(Skip::Changed);
    }
    Ok(file)
}

/// Reads the first `len` bytes of `file` into `buf` piece by piece, handing each to `take` and
/// then hashing it into `hasher`. `Ok(false)`: `take` refused a piece (it keeps the reason).
fn read_pieces(
    file: &File,
    len: u64,
    buf: &mut [u8],
    hasher: &mut impl Hasher,
    mut take: impl FnMut(&[u8]) -> io::Result<()>,
) -> Result<bool, Skip> {
    let mut offset = 0;
    while offset < len {
        let want = usize::try_from(len - offset).map_or(buf.len(), |left| left.min(buf.len()));
        let piece = &mut buf[..want];
        // Shorter than its identity says: it changed under us.
        file.read_exact_at(piece, offset)
            .map_err(|_| Skip::Changed)?;
        if take(piece).is_err() {
            return Ok(false);
        }
        hasher.write(piece);
        offset += want as u64;
    }
    Ok(true)
}

/// Checks, after reading, that the file is still the version `identity` names and that it had
/// settled when the reading began at `read_at` (so a write during the reading, which moves the
/// change time past it, is seen).
fn check_after(file: &File, identity: Identity, read_at: SystemTime) -> Result<(), Skip> {
    let after = file.metadata().map_err(|_| Skip::Io)?;
    match Identity::of_metadata(&after) == identity && is_settled(&after, read_at) {
        true => Ok(()),
        false => Err(Skip::Changed),
    }
}

/// The hash of the bytes the file at `rel` has now, if it is still the version `identity`
/// names, and the instant the reading began (the bytes were the file's at least then).
fn hash_file(
    root: &Root,
    rel: &str,
    identity: Identity,
    cache: &CompressedCache,
    buf: &mut [u8],
) -> Result<(u64, Instant), Skip> {
    let file = open_version(root, rel, identity)?;
    let (from, read_at) = (Instant::now(), SystemTime::now());
    let mut hasher = cache.hasher();
    read_pieces(&file, identity.size(), buf, &mut hasher, |_| Ok(()))?;
    check_after(&file, identity, read_at)?;
    Ok((hasher.finish(), from))
}

/// Where an encoder writes: the entry's body, within room reserved in the cache as it grows, up
/// to the size past which the copy would not be kept.
struct Sink<'a> {
    out: Vec<u8>,
    reservation: Reservation<'a>,
    /// The entry's bookkeeping, reserved first.
    overhead: usize,
    /// The output must stay below this to pay (a saving of at least 1/[`MIN_SAVING_DIVISOR`]).
    pays_below: usize,
    /// The output may take this much at most within the cache's share for one copy.
    fits_up_to: usize,
    /// Why the output was refused, once it was.
    refused: Option<Refused>,
}

/// Why a sink refused more output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    DoesNotPay,
    TooLarge,
    NoRoom,
}

impl Write for Sink<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let len = self.out.len() + bytes.len();
        let refused = if len >= self.pays_below {
            Some(Refused::DoesNotPay)
        } else if len > self.fits_up_to {
            Some(Refused::TooLarge)
        } else {
            let (need, reserved) = (self.overhead + len, self.reservation.bytes());
            let more = need.saturating_sub(reserved);
            // A step at a time, but never more than the largest copy this one may become.
            let most = self.overhead + self.fits_up_to.min(self.pays_below);
            let step = more.max(RESERVE_STEP.min(most.saturating_sub(reserved)));
            let grown = more == 0 || self.reservation.grow(step, Instant::now());
            (!grown).then_some(Refused::NoRoom)
        };
        if let Some(refused) = refused {
            self.refused = Some(refused);
            return Err(io::Error::other("the compressed copy is refused"));
        }
        self.out.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Compresses the file at `rel` if it is still the version `key` names and has settled, into
/// room reserved in `cache`. Returns what to store, the room it takes, and whether it was
/// refused for taking too large a share of the cache.
fn compress_file<'a>(
    root: &Root,
    rel: &str,
    key: Key,
    level: u32,
    cache: &'a CompressedCache,
    buf: &mut [u8],
) -> Result<(Made, Reservation<'a>, bool), Skip> {
    let file = open_version(root, rel, key.identity)?;
    let len = key.identity.size();
    let (from, read_at) = (Instant::now(), SystemTime::now());
    let overhead = ENTRY_OVERHEAD + rel.len();
    let reservation = cache.reserve(overhead, from).ok_or(Skip::NoRoom)?;
    let pays_below = usize::try_from(len - len / MIN_SAVING_DIVISOR).map_err(|_| Skip::Io)?;
    let fits_up_to = cache.admit_max().saturating_sub(overhead);
    let most = pays_below.min(fits_up_to + 1);
    let mut sink = Sink {
        // Never grown, so never moved: room for the most worth keeping, of which only what is
        // written takes memory.
        out: Vec::with_capacity(match most >= MAPPED_FROM {
            true => MAPPED_CAPACITY,
            false => most,
        }),
        reservation,
        overhead,
        pays_below,
        fits_up_to,
        refused: None,
    };
    let mut hasher = cache.hasher();
    let finished = {
        let mut encoder = Encoder::new(key.coding, level, len, &mut sink).map_err(|_| Skip::Io)?;
        let read = read_pieces(&file, len, buf, &mut hasher, |piece| encoder.write(piece))?;
        read && encoder.finish().is_ok()
    };
    let Sink {
        mut out,
        reservation,
        refused,
        ..
    } = sink;
    match refused {
        Some(Refused::DoesNotPay) => return Ok((Made::NotWorth, reservation, false)),
        Some(Refused::TooLarge) => return Ok((Made::NotWorth, reservation, true)),
        Some(Refused::NoRoom) => return Err(Skip::NoRoom),
        None if !finished => return Err(Skip::Io),
        None => {}
    }
    check_after(&file, key.identity, read_at)?;
    // In place: the allocator gives the tail back without copying the body. A mapping of its
    // own is whole pages, its first bytes the allocator's header: ask for exactly that, so the
    // capacity the cache charges is what the copy takes.
    match out.capacity() == MAPPED_CAPACITY {
        true => out.shrink_to((out.len() + MAPPED_HEADER).next_multiple_of(PAGE) - MAPPED_HEADER),
        false => out.shrink_to_fit(),
    }
    let copy = Copy {
        body: Arc::new(out),
        source: hasher.finish(),
        verified: from,
        rel: rel.into(),
    };
    Ok((Made::Copy(copy), reservation, false))
}

/// CPU time used by the calling thread so far.
fn thread_cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

#[cfg(test)]
mod tests;
