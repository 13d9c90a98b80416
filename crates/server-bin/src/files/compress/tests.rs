//! Unit tests of `compress`.

use std::fs;

use super::*;

/// A root holding `app.js` (changed long ago so it has settled).
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

/// A root for the threads' own checks, leading to the tree at `dir`.
fn swappable(dir: &std::path::Path) -> Arc<SwappableRoot> {
    Arc::new(SwappableRoot::open(dir.canonicalize().unwrap()).unwrap())
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

/// Pseudo-random bytes from `symbols` values: they shrink by a little (about log2 of
/// `symbols` over 8), or not at all with 256.
fn noise(len: usize, symbols: u64) -> Vec<u8> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % symbols) as u8
        })
        .collect()
}

fn key_of(meta: &Metadata, coding: Coding) -> Key {
    Key {
        identity: Identity::of_metadata(meta),
        coding,
    }
}

/// Runs [`compress_file`] for `app.js` into `cache`.
fn compress_app(root: &Root, key: Key, cache: &CompressedCache) -> Result<(Made, bool), Skip> {
    let mut buf = vec![0; READ_CHUNK];
    let level = Levels::default().of(key.coding);
    compress_file(root, "app.js", key, level, cache, &mut buf)
        .map(|(made, _reservation, too_large)| (made, too_large))
}

/// Looks `coding` up until it is compressed, at most ten seconds (a loaded machine starves
/// the low-priority thread).
fn wait_for(
    c: &Compression,
    root: &Arc<Root>,
    meta: &Metadata,
    coding: Coding,
) -> Option<Arc<Vec<u8>>> {
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
    let (dir, root, meta) = fixture(&text);
    let metrics = Arc::new(Metrics::new(1));
    let (c, threads) = start(settings(), swappable(dir.path()), Arc::clone(&metrics), 1).unwrap();
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
    let metrics = Arc::new(Metrics::new(1));
    let (c, threads) = start(settings(), swappable(dir.path()), metrics, 1).unwrap();
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
    let cache = CompressedCache::new(1 << 20);
    let result = compress_app(&root, key_of(&meta, Coding::Gzip), &cache);
    assert!(matches!(result, Err(Skip::Changed)));
    assert_eq!(cache.stats().bytes, 0, "the reservation is given back");
}

#[test]
fn incompressible_bytes_are_remembered_as_not_worth_it() {
    let (_dir, root, meta) = fixture(&noise(4096, 256));
    let cache = CompressedCache::new(1 << 20);
    let result = compress_app(&root, key_of(&meta, Coding::Gzip), &cache);
    assert!(matches!(result, Ok((Made::NotWorth, false))));
}

#[test]
fn a_copy_larger_than_its_share_of_the_cache_is_refused_before_it_is_finished() {
    // Shrinks by about a tenth: kept, were the cache large enough.
    let text = noise(256 * 1024, 150);
    let (_dir, root, meta) = fixture(&text);
    let roomy = CompressedCache::new(4 << 20);
    let made = compress_app(&root, key_of(&meta, Coding::Br), &roomy);
    assert!(matches!(made, Ok((Made::Copy(_), false))));
    let small = CompressedCache::new(256 * 1024);
    let refused = compress_app(&root, key_of(&meta, Coding::Br), &small);
    assert!(matches!(refused, Ok((Made::NotWorth, true))));
}

#[test]
fn a_compression_makes_room_by_evicting_and_stays_within_the_bound() {
    let text = script();
    let (dir, root, meta) = fixture(&text);
    let capacity = 64 * 1024;
    let cache = CompressedCache::new(capacity);
    let now = Instant::now();
    // Copies of other files fill the cache.
    for n in 0..8u8 {
        let other = dir.path().join(format!("f{n}"));
        fs::write(&other, [n]).unwrap();
        let key = key_of(&fs::metadata(&other).unwrap(), Coding::Br);
        let filler = Made::Copy(Copy {
            body: Arc::new(vec![n; capacity / 8 - ENTRY_OVERHEAD - 8]),
            source: 0,
            verified: now,
            rel: "app.js".into(),
        });
        cache.insert(key, filler, cache.reserve(0, now).unwrap(), now);
    }
    let key = key_of(&meta, Coding::Br);
    let mut buf = vec![0; READ_CHUNK];
    let (made, reservation, _) = compress_file(&root, "app.js", key, 6, &cache, &mut buf)
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(cache.stats().bytes <= capacity);
    cache.insert(key, made, reservation, now);
    let stats = cache.stats();
    assert!(stats.bytes <= capacity, "{stats:?}");
    let Found::Fresh { body, .. } = cache.find(&key, now, false) else {
        panic!("stored")
    };
    assert_eq!(body.capacity(), body.len(), "no spare room is kept");
    assert_eq!(codec::decompress(Coding::Br, &body).unwrap(), text);
}

#[test]
fn a_large_copy_is_made_in_a_mapping_of_its_own_and_charged_as_whole_pages() {
    // Half of it: a copy that may grow past a mebibyte.
    let text = noise(2 << 20, 16);
    let (_dir, root, meta) = fixture(&text);
    let cache = CompressedCache::new(64 << 20);
    let key = key_of(&meta, Coding::Zstd);
    let mut buf = vec![0; READ_CHUNK];
    let Ok((Made::Copy(copy), ..)) = compress_file(&root, "app.js", key, 1, &cache, &mut buf)
    else {
        panic!("compressed")
    };
    let (len, capacity) = (copy.body.len(), copy.body.capacity());
    assert!(
        len < text.len() && capacity - len < PAGE,
        "{len} in {capacity}"
    );
    assert_eq!((capacity + MAPPED_HEADER) % PAGE, 0);
    assert_eq!(codec::decompress(Coding::Zstd, &copy.body).unwrap(), text);
}

#[test]
fn a_copy_keeps_the_hash_a_verification_of_the_same_bytes_finds() {
    let (dir, root, meta) = fixture(&script());
    let cache = CompressedCache::new(1 << 20);
    let key = key_of(&meta, Coding::Gzip);
    let Ok((Made::Copy(copy), _)) = compress_app(&root, key, &cache) else {
        panic!("compressed")
    };
    let mut buf = vec![0; 1000];
    let (source, _) = hash_file(&root, "app.js", key.identity, &cache, &mut buf)
        .unwrap_or_else(|_| panic!("hashed"));
    assert_eq!(source, copy.source, "read in other pieces, the same hash");
    fs::write(dir.path().join("app.js"), "changed").unwrap();
    let gone = hash_file(&root, "app.js", key.identity, &cache, &mut buf);
    assert!(matches!(gone, Err(Skip::Changed)));
}

#[test]
fn threads_stop_when_told_even_with_files_queued() {
    let (dir, root, meta) = fixture(&script());
    let metrics = Arc::new(Metrics::new(1));
    let (c, mut threads) = start(settings(), swappable(dir.path()), metrics, 2).unwrap();
    threads.stop();
    let _ = c.lookup(&root, "app.js", &meta, Coding::Br);
    let started = Instant::now();
    assert_eq!(threads.finish(), 0);
    assert!(started.elapsed() < JOIN_TIMEOUT);
}

#[test]
fn compression_threads_are_a_quarter_of_the_workers_within_bounds() {
    assert_eq!(Settings::threads(1), 1);
    assert_eq!(Settings::threads(8), 2);
    assert_eq!(Settings::threads(64), MAX_THREADS);
    assert_eq!(Settings::threads(1024), MAX_THREADS);
}

#[test]
fn a_job_reads_the_tree_its_request_was_resolved_in() {
    // Two releases of `app.js`, as before and after a deploy swapped the root.
    let (old_dir, old_root, old_meta) = fixture(&script());
    let new_text = "export const release = 2;\n".repeat(100);
    let new_dir = tempfile::tempdir().unwrap();
    fs::write(new_dir.path().join("app.js"), &new_text).unwrap();
    let new_root = Arc::new(Root::open(new_dir.path()).unwrap());
    thread::sleep(crate::files::cache::RACY_WINDOW);
    let new_meta = fs::metadata(new_dir.path().join("app.js")).unwrap();
    let metrics = Arc::new(Metrics::new(1));
    let (c, threads) = start(settings(), swappable(old_dir.path()), metrics, 1).unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings();
    s.levels = Levels::parse("br=4").unwrap();
    let (c, threads) = start(s, swappable(dir.path()), Arc::new(Metrics::new(1)), 1).unwrap();
    assert_eq!(c.tag(Coding::Br), "br.4");
    assert_eq!(
        c.tag(Coding::Gzip),
        format!("gzip.{}", Levels::default().gzip)
    );
    assert!(c.applies("text/css", MIN_SIZE) && !c.applies("text/css", MIN_SIZE - 1));
    assert!(!c.applies("text/css", (8 << 20) + 1));
    threads.finish();
}
