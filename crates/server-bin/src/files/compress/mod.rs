//! On-the-fly compression: text files are compressed once per coding (br, zstd, gzip) by a few
//! background threads and then served from one process-wide cache ([`cache`]) until they change.
//!
//! The split of work is the point of this module. A worker only looks up: a hit is served from
//! memory; a miss is served as identity at once, and the file is queued (a bounded queue; a key
//! already queued or being compressed is not queued again; a full queue drops the job, counted,
//! and a later request queues it again). A worker never compresses, never waits for a
//! compression thread, and never blocks on the queue. The compression threads run at a lower
//! scheduling priority (nice [`NICE`]), so that on a busy machine the workers win the CPU and a
//! burst of new files delays nobody; they are joined at shutdown.
//!
//! A file is compressed only if its identity is settled ([`is_settled`]) and is still the one
//! the worker served, read beneath the root the worker's request used (a job carries it, so a
//! swap of the root in between changes nothing); a thread checks it again after reading, so
//! the cache only ever holds bytes made from exactly the version its key names.
//!
//! This module must not build responses or negotiate (`respond` does), nor decide levels at run
//! time (they come from the configuration).

pub mod cache;
pub mod codec;

use std::fs::Metadata;
use std::io;
use std::os::unix::fs::FileExt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError, select};
use http_core::encoding::Coding;

use self::cache::{CompressedCache, Found, Key};
use self::codec::Levels;
use crate::files::cache::{Identity, is_settled};
use crate::files::resolve::{Root, open_file};
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

/// A compressed body must be at least this fraction (1/N) smaller than the file to be kept;
/// otherwise the identity is served and the file is not compressed again.
const MIN_SAVING_DIVISOR: usize = 20;

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
    /// Compression threads for `workers` workers: a quarter of them, at least one. They are
    /// background work; the workers come first.
    pub fn threads(workers: usize) -> usize {
        (workers / 4).max(1)
    }
}

/// Whether a `Content-Type` names text-like content that compresses well (images, audio, video,
/// fonts in WOFF and archives are compressed already).
pub fn is_compressible(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
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

/// One file to compress into one coding.
#[derive(Debug)]
struct Job {
    /// The tree the worker resolved it in: the thread reads the same release, even if the root
    /// has been swapped since.
    root: Arc<Root>,
    /// Its path under that root.
    rel: String,
    key: Key,
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

    /// The cached `coding` of the file at `rel` under `root` whose metadata (taken from the
    /// descriptor the worker opened) is `meta`. `None` means: serve the identity. On a miss the
    /// file is queued for compression, unless it is already or changed too recently to be told
    /// apart from its next version.
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
    ) -> Option<Arc<[u8]>> {
        let key = Key {
            identity: Identity::of_metadata(meta),
            coding,
        };
        match self.cache.find(&key) {
            Found::Body(body) => {
                self.metrics.compression.hit(coding);
                Some(body)
            }
            Found::Identity => None,
            Found::Missing => {
                self.metrics.compression.miss(coding);
                if is_settled(meta, SystemTime::now()) && self.cache.claim(&key) {
                    let job = Job {
                        root: Arc::clone(root),
                        rel: rel.to_owned(),
                        key,
                    };
                    match self.queue.try_send(job) {
                        Ok(()) => {}
                        Err(TrySendError::Full(job)) => {
                            self.cache.abandon(&job.key);
                            self.metrics.compression.queue_full();
                        }
                        // The threads have stopped: shutdown is under way.
                        Err(TrySendError::Disconnected(job)) => self.cache.abandon(&job.key),
                    }
                }
                None
            }
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

/// Starts `threads` compression threads for `settings`.
///
/// # Errors
///
/// When a thread cannot be spawned.
pub fn start(
    settings: Settings,
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
    cache: Arc<CompressedCache>,
    metrics: Arc<Metrics>,
    levels: Levels,
}

impl Compressor {
    fn run(self) {
        // Linux keeps a nice value per thread: this lowers this thread only. Failing to lower
        // it is harmless.
        let _ = rustix::process::setpriority_process(None, NICE);
        loop {
            if matches!(self.stopped.try_recv(), Err(TryRecvError::Disconnected)) {
                return;
            }
            select! {
                recv(self.stopped) -> _ => return,
                recv(self.jobs) -> job => match job {
                    Ok(job) => self.compress(&job),
                    Err(_) => return,
                },
            }
        }
    }

    /// Compresses one file and stores the result. A file that changed, vanished or cannot be
    /// read is dropped: the next request for its new version queues that one.
    fn compress(&self, job: &Job) {
        let before = thread_cpu_time();
        let level = self.levels.of(job.key.coding);
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            compress_job(&job.root, &job.rel, job.key, level)
        }));
        self.metrics
            .compression
            .cpu(thread_cpu_time().saturating_sub(before));
        match result {
            Ok(Ok(body)) => {
                let inserted = self.cache.insert(job.key, body);
                self.metrics
                    .compression
                    .cache(inserted.bytes, inserted.entries, inserted.evicted);
            }
            // A panic in an encoder is a bug there; the panic hook has reported it, and this
            // file is dropped rather than the thread.
            Ok(Err(_)) | Err(_) => self.cache.abandon(&job.key),
        }
    }
}

/// Why a job was dropped.
#[derive(Debug)]
enum Skip {
    /// The file is not the version the key names, or changed while being read.
    Changed,
    Io,
}

/// Reads the file at `rel` if it is still the version `key` names and has settled, and
/// compresses it. `None`: compressing does not pay.
fn compress_job(root: &Root, rel: &str, key: Key, level: u32) -> Result<Option<Arc<[u8]>>, Skip> {
    let (file, meta) = open_file(root, rel).map_err(|_| Skip::Io)?;
    if !meta.is_file() || Identity::of_metadata(&meta) != key.identity {
        return Err(Skip::Changed);
    }
    // A write after this instant moves the change time past it; one before it left a change
    // time that the settled check below requires to be a whole racy window older.
    let read_at = SystemTime::now();
    let len = usize::try_from(meta.len()).map_err(|_| Skip::Io)?;
    let mut contents = vec![0; len];
    file.read_exact_at(&mut contents, 0)
        .map_err(|_| Skip::Changed)?;
    let after = file.metadata().map_err(|_| Skip::Io)?;
    if Identity::of_metadata(&after) != key.identity || !is_settled(&after, read_at) {
        return Err(Skip::Changed);
    }
    let packed = codec::compress(key.coding, level, &contents).map_err(|_| Skip::Io)?;
    if packed.len() + len / MIN_SAVING_DIVISOR >= len {
        return Ok(None);
    }
    Ok(Some(packed.into()))
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
mod tests {
    use std::fs;

    use super::*;

    /// A root holding `app.js` (compressible text, changed long ago so it has settled).
    fn fixture(text: &[u8]) -> (tempfile::TempDir, Arc<Root>, Metadata) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.js");
        fs::write(&path, text).unwrap();
        let root = Arc::new(Root::open(&dir.path().canonicalize().unwrap()).unwrap());
        // The change time cannot be set back; wait out the racy window instead.
        thread::sleep(crate::files::cache::RACY_WINDOW);
        let meta = fs::metadata(&path).unwrap();
        (dir, root, meta)
    }

    fn settings() -> Settings {
        Settings {
            codings: vec![Coding::Br, Coding::Zstd, Coding::Gzip],
            levels: Levels::default(),
            cache_bytes: 1 << 20,
            max_size: 8 << 20,
        }
    }

    fn script() -> Vec<u8> {
        "export function add(a, b) { return a + b; }\n"
            .repeat(100)
            .into_bytes()
    }

    /// Looks `coding` up until it is compressed, at most ten seconds (a loaded machine starves
    /// the low-priority thread).
    fn wait_for(
        c: &Compression,
        root: &Arc<Root>,
        meta: &Metadata,
        coding: Coding,
    ) -> Option<Arc<[u8]>> {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Some(body) = c.lookup(root, "app.js", meta, coding) {
                return Some(body);
            }
            thread::sleep(Duration::from_millis(10));
        }
        None
    }

    #[test]
    fn compressible_types_are_text_like() {
        for yes in [
            "text/html; charset=utf-8",
            "text/javascript; charset=utf-8",
            "application/json; charset=utf-8",
            "application/manifest+json; charset=utf-8",
            "image/svg+xml; charset=utf-8",
            "application/wasm",
        ] {
            assert!(is_compressible(yes), "{yes}");
        }
        for no in ["image/png", "font/woff2", "application/gzip", "video/mp4"] {
            assert!(!is_compressible(no), "{no}");
        }
    }

    #[test]
    fn a_miss_is_identity_then_the_compressed_body_arrives_and_decodes() {
        let text = script();
        let (_dir, root, meta) = fixture(&text);
        let metrics = Arc::new(Metrics::new(1));
        let (c, threads) = start(settings(), Arc::clone(&metrics), 1).unwrap();
        assert_eq!(c.lookup(&root, "app.js", &meta, Coding::Zstd), None);
        let body = wait_for(&c, &root, &meta, Coding::Zstd).expect("compressed within 10 s");
        assert_eq!(codec::decompress(Coding::Zstd, &body).unwrap(), text);
        let s = metrics.snapshot().compression;
        assert!(s.misses[1] >= 1 && s.hits[1] == 1, "{s:?}");
        assert_eq!(
            s.cache_entries, 1,
            "compressed once, however often asked for"
        );
        assert!(s.cache_bytes > body.len() as u64);
        assert!(s.cpu_seconds > 0.0);
        assert_eq!(threads.finish(), 0);
    }

    #[test]
    fn a_rewritten_file_is_never_answered_with_the_old_bytes() {
        let (dir, root, meta) = fixture(&script());
        let (c, threads) = start(settings(), Arc::new(Metrics::new(1)), 1).unwrap();
        assert!(c.lookup(&root, "app.js", &meta, Coding::Br).is_none());
        assert!(wait_for(&c, &root, &meta, Coding::Br).is_some());
        let new = "export const x = 1;\n".repeat(100);
        fs::write(dir.path().join("app.js"), &new).unwrap();
        let new_meta = fs::metadata(dir.path().join("app.js")).unwrap();
        assert_eq!(c.lookup(&root, "app.js", &new_meta, Coding::Br), None);
        // Just written: not compressed until it has settled.
        thread::sleep(Duration::from_millis(100));
        assert_eq!(c.lookup(&root, "app.js", &new_meta, Coding::Br), None);
        thread::sleep(crate::files::cache::RACY_WINDOW);
        let body = wait_for(&c, &root, &new_meta, Coding::Br).expect("the new version");
        assert_eq!(
            codec::decompress(Coding::Br, &body).unwrap(),
            new.as_bytes()
        );
        threads.finish();
    }

    #[test]
    fn a_job_for_a_version_that_is_gone_stores_nothing() {
        let (dir, root, meta) = fixture(&script());
        fs::write(dir.path().join("app.js"), "changed").unwrap();
        let key = Key {
            identity: Identity::of_metadata(&meta),
            coding: Coding::Gzip,
        };
        assert!(matches!(
            compress_job(&root, "app.js", key, 6),
            Err(Skip::Changed)
        ));
    }

    #[test]
    fn incompressible_bytes_are_remembered_as_identity() {
        // Pseudo-random bytes do not shrink.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let (_dir, root, meta) = fixture(&noise);
        let key = Key {
            identity: Identity::of_metadata(&meta),
            coding: Coding::Gzip,
        };
        assert!(matches!(compress_job(&root, "app.js", key, 6), Ok(None)));
    }

    #[test]
    fn threads_stop_when_told_even_with_files_queued() {
        let (_dir, root, meta) = fixture(&script());
        let (c, mut threads) = start(settings(), Arc::new(Metrics::new(1)), 2).unwrap();
        threads.stop();
        let _ = c.lookup(&root, "app.js", &meta, Coding::Br);
        let started = Instant::now();
        assert_eq!(threads.finish(), 0);
        assert!(started.elapsed() < JOIN_TIMEOUT);
    }

    #[test]
    fn a_job_reads_the_tree_its_request_was_resolved_in() {
        // Two releases of `app.js`, as before and after a deploy swapped the root.
        let (_old_dir, old_root, old_meta) = fixture(&script());
        let new_text = "export const release = 2;\n".repeat(100);
        let new_dir = tempfile::tempdir().unwrap();
        fs::write(new_dir.path().join("app.js"), &new_text).unwrap();
        let new_root = Arc::new(Root::open(new_dir.path()).unwrap());
        thread::sleep(crate::files::cache::RACY_WINDOW);
        let new_meta = fs::metadata(new_dir.path().join("app.js")).unwrap();
        let (c, threads) = start(settings(), Arc::new(Metrics::new(1)), 1).unwrap();
        let new = wait_for(&c, &new_root, &new_meta, Coding::Gzip).expect("the new release");
        assert_eq!(
            codec::decompress(Coding::Gzip, &new).unwrap(),
            new_text.as_bytes()
        );
        let old = wait_for(&c, &old_root, &old_meta, Coding::Gzip).expect("the old release");
        assert_eq!(codec::decompress(Coding::Gzip, &old).unwrap(), script());
        threads.finish();
    }

    #[test]
    fn the_etag_suffix_names_the_level() {
        let mut s = settings();
        s.levels = Levels::parse("br=4").unwrap();
        let (c, threads) = start(s, Arc::new(Metrics::new(1)), 1).unwrap();
        assert_eq!(c.tag(Coding::Br), "br.4");
        assert_eq!(
            c.tag(Coding::Gzip),
            format!("gzip.{}", Levels::default().gzip)
        );
        assert!(c.applies("text/css", MIN_SIZE) && !c.applies("text/css", MIN_SIZE - 1));
        assert!(!c.applies("text/css", (8 << 20) + 1));
        threads.finish();
    }
}
