//! Unit tests of `cache`.

use std::fs;

use super::*;

fn setup() -> (tempfile::TempDir, Root) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.txt"), "one").unwrap();
    let root = Root::open(&dir.path().canonicalize().unwrap()).unwrap();
    (dir, root)
}

/// A wall-clock time long after any file in the test was written.
fn later() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

fn fill(cache: &mut FileCache, root: &Root, now: Instant) {
    let meta = fs::metadata(root.path().join("a.txt")).unwrap();
    let contents = Arc::new(fs::read(root.path().join("a.txt")).unwrap());
    cache.insert(root, "/a.txt", "a.txt", &meta, contents, now, later());
}

#[test]
fn a_file_changed_within_the_racy_window_is_not_cached() {
    let (_dir, root) = setup();
    let mut cache = FileCache::default();
    let meta = fs::metadata(root.path().join("a.txt")).unwrap();
    let contents = Arc::new(fs::read(root.path().join("a.txt")).unwrap());
    cache.insert(
        &root,
        "/a.txt",
        "a.txt",
        &meta,
        contents,
        Instant::now(),
        SystemTime::now(),
    );
    assert_eq!(cache.bytes(), 0);
}

#[test]
fn an_unchanged_file_is_a_hit() {
    let (_dir, root) = setup();
    let mut cache = FileCache::default();
    let now = Instant::now();
    fill(&mut cache, &root, now);
    let hit = cache.get(&root, "/a.txt", now).unwrap();
    assert_eq!(&**hit.contents.bytes().unwrap(), b"one");
    // Its type is kept with it, found from the file's name.
    assert_eq!(hit.content_type, "text/plain; charset=utf-8");
}

#[test]
fn every_lookup_is_tallied_as_a_hit_or_a_miss() {
    let (_dir, root) = setup();
    let mut cache = FileCache::default();
    let now = Instant::now();
    assert!(cache.get(&root, "/a.txt", now).is_none());
    fill(&mut cache, &root, now);
    assert!(cache.get(&root, "/a.txt", now).is_some());
    assert!(cache.get(&root, "/a.txt", now).is_some());
    assert!(cache.get(&root, "/b.txt", now).is_none());
    // Past its age an entry is a miss, as a stale one is.
    assert!(cache.get(&root, "/a.txt", now + MAX_AGE).is_none());
    assert_eq!(cache.tally(), (2, 3));
}

#[test]
fn a_rewrite_of_the_same_size_is_a_miss() {
    let (_dir, root) = setup();
    let mut cache = FileCache::default();
    let now = Instant::now();
    fill(&mut cache, &root, now);
    fs::write(root.path().join("a.txt"), "two").unwrap();
    assert!(cache.get(&root, "/a.txt", now).is_none());
    assert_eq!(cache.bytes(), 0, "the stale entry is dropped");
    // Starting over keeps the instance; the watches it removed end with events of their
    // own, which are no change.
    fill(&mut cache, &root, now);
    cache.recheck();
    assert_eq!(
        &**cache
            .get(&root, "/a.txt", now)
            .unwrap()
            .contents
            .bytes()
            .unwrap(),
        b"two"
    );
    fs::write(root.path().join("a.txt"), "six").unwrap();
    cache.recheck();
    assert!(cache.get(&root, "/a.txt", now).is_none());
}

#[test]
fn the_change_queue_is_read_by_the_first_hit_after_each_recheck() {
    let (_dir, root) = setup();
    let mut cache = FileCache::default();
    let now = Instant::now();
    fill(&mut cache, &root, now);
    assert!(cache.get(&root, "/a.txt", now).is_some());
    fs::write(root.path().join("a.txt"), "two").unwrap();
    // Later hits of the same round trust the reading the first one made...
    assert!(cache.get(&root, "/a.txt", now).is_some());
    // ...and the first hit of the next round (or of a new connection) reads the queue.
    cache.recheck();
    assert!(cache.get(&root, "/a.txt", now).is_none());
    assert_eq!(cache.bytes(), 0);
}

#[test]
fn a_replaced_or_removed_file_is_a_miss() {
    let (_dir, root) = setup();
    let mut cache = FileCache::default();
    let now = Instant::now();
    fill(&mut cache, &root, now);
    fs::write(root.path().join("b.txt"), "one").unwrap();
    fs::rename(root.path().join("b.txt"), root.path().join("a.txt")).unwrap();
    assert!(cache.get(&root, "/a.txt", now).is_none());
    fill(&mut cache, &root, now);
    fs::remove_file(root.path().join("a.txt")).unwrap();
    cache.recheck();
    assert!(cache.get(&root, "/a.txt", now).is_none());
}

#[test]
fn an_entry_for_a_name_through_a_symlink_out_of_the_root_is_never_a_hit() {
    let (_dir, root) = setup();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("a.txt"), "out").unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join("d")).unwrap();
    let meta = fs::metadata(root.path().join("d/a.txt")).unwrap();
    let mut cache = FileCache::default();
    let now = Instant::now();
    let out = Arc::new(b"out".to_vec());
    cache.insert(&root, "/d/a.txt", "d/a.txt", &meta, out, now, later());
    assert!(cache.get(&root, "/d/a.txt", now).is_none());
}

#[test]
fn a_deploy_that_swaps_a_directory_is_a_miss_at_once() {
    let (_dir, root) = setup();
    for (version, text) in [("site", "old!"), ("next", "new!")] {
        fs::create_dir(root.path().join(version)).unwrap();
        fs::write(root.path().join(version).join("page.html"), text).unwrap();
    }
    let rel = "site/page.html";
    let meta = fs::metadata(root.path().join(rel)).unwrap();
    let mut cache = FileCache::default();
    let now = Instant::now();
    let old = Arc::new(b"old!".to_vec());
    cache.insert(&root, "/site/page.html", rel, &meta, old, now, later());
    assert!(cache.get(&root, "/site/page.html", now).is_some());
    fs::rename(root.path().join("site"), root.path().join("site.old")).unwrap();
    fs::rename(root.path().join("next"), root.path().join("site")).unwrap();
    cache.recheck();
    assert!(cache.get(&root, "/site/page.html", now).is_none());
}

#[test]
fn a_file_reached_through_a_symlink_inside_the_root_is_not_cached() {
    let (_dir, root) = setup();
    std::os::unix::fs::symlink(".", root.path().join("here")).unwrap();
    let meta = fs::metadata(root.path().join("here/a.txt")).unwrap();
    let mut cache = FileCache::default();
    let now = Instant::now();
    let one = Arc::new(b"one".to_vec());
    cache.insert(&root, "/here/a.txt", "here/a.txt", &meta, one, now, later());
    assert_eq!(cache.bytes(), 0);
}

#[test]
fn a_write_through_a_hard_link_outside_the_root_is_a_miss() {
    let (dir, root) = setup();
    let outside = dir
        .path()
        .parent()
        .unwrap()
        .join(format!("hard-link-{}", std::process::id()));
    fs::hard_link(root.path().join("a.txt"), &outside).unwrap();
    let mut cache = FileCache::default();
    let now = Instant::now();
    fill(&mut cache, &root, now);
    assert!(cache.get(&root, "/a.txt", now).is_some());
    fs::write(&outside, "TWO").unwrap();
    cache.recheck();
    let miss = cache.get(&root, "/a.txt", now).is_none();
    fs::remove_file(&outside).unwrap();
    assert!(miss);
}

#[test]
fn a_directory_swapped_for_a_symlink_out_of_the_root_is_a_miss() {
    let (_dir, root) = setup();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("a.txt"), "out").unwrap();
    fs::create_dir(root.path().join("d")).unwrap();
    fs::write(root.path().join("d/a.txt"), "one").unwrap();
    let meta = fs::metadata(root.path().join("d/a.txt")).unwrap();
    let mut cache = FileCache::default();
    let now = Instant::now();
    let one = Arc::new(b"one".to_vec());
    cache.insert(&root, "/d/a.txt", "d/a.txt", &meta, one, now, later());
    assert_eq!(cache.bytes(), 3);
    fs::rename(root.path().join("d"), root.path().join("old")).unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join("d")).unwrap();
    // The name leads out of the root now: a miss, which full resolution refuses.
    assert!(cache.get(&root, "/d/a.txt", now).is_none());
}

#[test]
fn when_the_watches_run_out_the_cache_starts_over_instead_of_refusing() {
    let (_dir, root) = setup();
    let mut cache = FileCache::default();
    let now = Instant::now();
    for i in 0..MAX_WATCHES {
        let rel = format!("f{i}");
        fs::write(root.path().join(&rel), "x").unwrap();
        let meta = fs::metadata(root.path().join(&rel)).unwrap();
        let key = format!("/{rel}");
        cache.insert(
            &root,
            &key,
            &rel,
            &meta,
            Arc::new(b"x".to_vec()),
            now,
            later(),
        );
    }
    fill(&mut cache, &root, now);
    assert!(
        cache.get(&root, "/a.txt", now).is_some(),
        "cached after starting over"
    );
    assert!(cache.watches.as_ref().unwrap().added.len() < MAX_WATCHES);
}

#[test]
fn no_sidecars_is_remembered_for_a_while() {
    let mut cache = FileCache::default();
    let now = Instant::now();
    assert!(!cache.has_no_sidecars("big.bin", now));
    cache.note_no_sidecars("big.bin", now);
    assert!(cache.has_no_sidecars("big.bin", now));
    assert!(!cache.has_no_sidecars("big.bin", now + SIDECAR_RECHECK));
    for i in 0..MAX_NO_SIDECARS * 2 {
        cache.note_no_sidecars(&format!("f{i}"), now);
        assert!(cache.no_sidecars.len() <= MAX_NO_SIDECARS);
    }
}

#[test]
fn a_copy_is_never_served_longer_than_its_maximum_age() {
    // Whatever inotify says: some changes raise no event (a write through a mapping, a
    // mount over the file).
    let (_dir, root) = setup();
    let mut cache = FileCache::default();
    let now = Instant::now();
    fill(&mut cache, &root, now);
    assert!(
        cache
            .get(&root, "/a.txt", now + MAX_AGE - Duration::from_millis(1))
            .is_some()
    );
    assert!(cache.get(&root, "/a.txt", now + MAX_AGE).is_none());
    assert_eq!(cache.bytes(), 0, "the old copy is dropped");
}

#[test]
fn nothing_found_in_one_tree_of_the_root_is_a_hit_for_a_request_served_from_another() {
    let (_dir, old) = setup();
    let (_next, new) = setup();
    fs::write(new.path().join("a.txt"), "two").unwrap();
    let mut cache = FileCache::default();
    let now = Instant::now();
    fill(&mut cache, &old, now);
    cache.note_no_sidecars("big.js", now);
    // The new tree's directories were never watched: nothing tells the cache it changed.
    assert!(cache.get(&new, "/a.txt", now).is_none());
    assert!(!cache.has_no_sidecars("big.js", now));
    assert_eq!(cache.bytes(), 0);
    fill(&mut cache, &new, now);
    assert_eq!(
        &**cache
            .get(&new, "/a.txt", now)
            .unwrap()
            .contents
            .bytes()
            .unwrap(),
        b"two"
    );
}

#[test]
fn without_an_inotify_instance_nothing_is_cached_and_that_is_said_once() {
    let (_dir, root) = setup();
    let said = AtomicBool::new(false);
    let mut cache = FileCache::with_instance(|| Err(Errno::MFILE), &said);
    let now = Instant::now();
    fill(&mut cache, &root, now);
    assert!(cache.get(&root, "/a.txt", now).is_none());
    assert_eq!(cache.bytes(), 0);
    assert!(
        said.load(Ordering::Relaxed),
        "said when the worker was made"
    );
    assert_eq!(no_inotify_notice(Errno::MFILE, &said), None, "said once");
    let fresh = AtomicBool::new(false);
    let notice = no_inotify_notice(Errno::MFILE, &fresh).unwrap();
    assert!(notice.contains("fs.inotify.max_user_instances"), "{notice}");
    assert!(notice.contains("without the small-file cache"), "{notice}");
}

#[test]
fn capacity_is_kept_by_evicting() {
    let (_dir, root) = setup();
    let mut cache = FileCache::default();
    let now = Instant::now();
    let big = vec![0u8; MAX_FILE as usize];
    fs::write(root.path().join("big"), &big).unwrap();
    let meta = fs::metadata(root.path().join("big")).unwrap();
    let contents = Arc::new(big);
    for i in 0..(CAPACITY / MAX_FILE as usize) * 2 {
        cache.insert(
            &root,
            &format!("/k{i}"),
            "big",
            &meta,
            Arc::clone(&contents),
            now,
            later(),
        );
        assert!(cache.bytes() <= CAPACITY);
    }
    assert_eq!(cache.bytes(), CAPACITY);
}

#[test]
fn files_over_the_limit_or_with_a_mismatched_length_are_not_cached() {
    let (_dir, root) = setup();
    let mut cache = FileCache::default();
    let now = Instant::now();
    let meta = fs::metadata(root.path().join("a.txt")).unwrap();
    cache.insert(
        &root,
        "/a.txt",
        "a.txt",
        &meta,
        Arc::new(b"on".to_vec()),
        now,
        later(),
    );
    assert_eq!(cache.bytes(), 0);
}

#[test]
fn a_cache_for_sendfile_keeps_files_up_to_its_own_smaller_limit() {
    let (_dir, root) = setup();
    let now = Instant::now();
    let files = [
        ("small", MAX_FILE_SENDFILE),
        ("over_sendfile", MAX_FILE_SENDFILE + 1),
        ("max", MAX_FILE),
        ("over_max", MAX_FILE + 1),
    ];
    for (name, size) in files {
        fs::write(root.path().join(name), vec![b'x'; size as usize]).unwrap();
    }
    for (by_sendfile, limit, kept) in [
        (true, MAX_FILE_SENDFILE, &["small"][..]),
        (false, MAX_FILE, &["small", "over_sendfile", "max"][..]),
    ] {
        let mut cache = FileCache::for_bodies(by_sendfile);
        // What a copied body may be served from here, and a body that could go by sendfile.
        assert_eq!(cache.max_file_for(false), limit);
        assert_eq!(cache.max_file_for(true), MAX_FILE_SENDFILE);
        for (name, _) in files {
            let meta = fs::metadata(root.path().join(name)).unwrap();
            let contents = Arc::new(fs::read(root.path().join(name)).unwrap());
            cache.insert(
                &root,
                &format!("/{name}"),
                name,
                &meta,
                contents,
                now,
                later(),
            );
        }
        let hits: Vec<&str> = files
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| cache.get(&root, &format!("/{name}"), now).is_some())
            .collect();
        assert_eq!(hits, kept, "by sendfile: {by_sendfile}");
    }
}

/// Keeps `name` (a file under `root`) open in `cache`, as a response past the in-memory
/// limit does.
fn keep_open(cache: &mut FileCache, root: &Root, name: &str, now: Instant) {
    let path = root.path().join(name);
    let file = Arc::new(fs::File::open(&path).unwrap());
    let meta = fs::metadata(&path).unwrap();
    cache.insert_open(root, &format!("/{name}"), name, &meta, file, now, later());
}

#[test]
fn a_file_past_the_memory_limit_is_kept_open_and_read_as_it_is_now() {
    let (_dir, root) = setup();
    let mut cache = FileCache::default();
    let now = Instant::now();
    keep_open(&mut cache, &root, "a.txt", now);
    let hit = cache.get(&root, "/a.txt", now).expect("kept");
    let Contents::Open(file) = hit.contents.clone() else {
        panic!("kept in memory");
    };
    let mut bytes = [0; 3];
    std::os::unix::fs::FileExt::read_exact_at(&*file, &mut bytes, 0).unwrap();
    assert_eq!(&bytes, b"one");
    assert_eq!(
        cache.bytes(),
        0,
        "an open file holds no memory of the cache's"
    );
    // A change drops it, and with it the cache's descriptor.
    drop(hit);
    assert_eq!(Arc::strong_count(&file), 2, "the cache holds it");
    fs::write(root.path().join("a.txt"), "two").unwrap();
    cache.recheck();
    assert!(cache.get(&root, "/a.txt", now).is_none());
    assert_eq!(Arc::strong_count(&file), 1, "the cache let the file go");
}

#[test]
fn at_most_the_allowed_number_of_files_are_kept_open() {
    let (dir, root) = setup();
    for i in 0..=MAX_OPEN {
        fs::write(dir.path().join(format!("{i}.bin")), "x").unwrap();
    }
    let now = Instant::now();
    let mut cache = FileCache::default();
    for i in 0..=MAX_OPEN {
        keep_open(&mut cache, &root, &format!("{i}.bin"), now);
    }
    let open = (0..=MAX_OPEN)
        .filter(|i| cache.get(&root, &format!("/{i}.bin"), now).is_some())
        .count();
    assert_eq!(open, MAX_OPEN);
    // Once they have aged, the next file takes the place of one.
    let later_on = now + MAX_AGE;
    keep_open(&mut cache, &root, &format!("{MAX_OPEN}.bin"), later_on);
    assert!(
        cache
            .get(&root, &format!("/{MAX_OPEN}.bin"), later_on)
            .is_some()
    );
    // Where the open-file limit binds, none.
    let mut cache = FileCache::default().keeping_open(0);
    keep_open(&mut cache, &root, "0.bin", now);
    assert!(cache.get(&root, "/0.bin", now).is_none());
}

#[test]
fn a_file_kept_open_and_rewritten_in_place_is_a_miss_before_the_queue_is_read_again() {
    // Review of the open entries: the bytes are read as they are when sent, so the length and
    // validators must be checked against the descriptor, not only the queue.
    let (_dir, root) = setup();
    let mut cache = FileCache::default();
    let now = Instant::now();
    keep_open(&mut cache, &root, "a.txt", now);
    assert!(
        cache.get(&root, "/a.txt", now).is_some(),
        "the queue is read here"
    );
    fs::write(root.path().join("a.txt"), "XY").unwrap();
    assert!(
        cache.get(&root, "/a.txt", now).is_none(),
        "the old length would go out"
    );
}

#[test]
fn an_idle_worker_closes_its_aged_open_files_at_the_next_round() {
    let (_dir, root) = setup();
    let mut cache = FileCache::default();
    let long_ago = Instant::now().checked_sub(MAX_AGE * 2).unwrap();
    let path = root.path().join("a.txt");
    let file = Arc::new(fs::File::open(&path).unwrap());
    let meta = fs::metadata(&path).unwrap();
    cache.insert_open(
        &root,
        "/a.txt",
        "a.txt",
        &meta,
        Arc::clone(&file),
        long_ago,
        later(),
    );
    assert_eq!(Arc::strong_count(&file), 2, "kept");
    // A deleted file's space is freed only once its last descriptor closes.
    cache.recheck();
    assert_eq!(Arc::strong_count(&file), 1, "still open without a hit");
}

#[test]
fn a_copy_in_memory_is_not_replaced_by_the_open_file() {
    // A worker with clients over HTTP/2 keeps files up to 64 KiB in memory; a plain HTTP/1.1
    // request for one (sent by sendfile past 24 KiB) must not swap that copy for a descriptor.
    let (_dir, root) = setup();
    let mut cache = FileCache::default();
    let now = Instant::now();
    fill(&mut cache, &root, now);
    keep_open(&mut cache, &root, "a.txt", now);
    let hit = cache.get(&root, "/a.txt", now).unwrap();
    assert!(hit.contents.bytes().is_some(), "replaced by the open file");
}

#[test]
fn a_recheck_closes_the_aged_open_files_and_tells_when_the_next_ages() {
    let (_dir, root) = setup();
    let mut cache = FileCache::default();
    assert_eq!(
        cache.recheck(),
        None,
        "nothing kept open, nothing to wake for"
    );
    let now = Instant::now();
    let long_ago = now.checked_sub(MAX_AGE * 2).unwrap();
    // Written before either is cached: a change would empty the cache at the next recheck.
    fs::write(root.path().join("b.txt"), b"kept open").unwrap();
    let mut files = Vec::new();
    for (name, at) in [("a.txt", now), ("b.txt", long_ago)] {
        let path = root.path().join(name);
        let file = Arc::new(fs::File::open(&path).unwrap());
        let meta = fs::metadata(&path).unwrap();
        cache.insert_open(
            &root,
            &format!("/{name}"),
            name,
            &meta,
            Arc::clone(&file),
            at,
            later(),
        );
        files.push(file);
    }
    assert_eq!(
        Arc::strong_count(&files[1]),
        2,
        "the aged one is kept until a recheck"
    );
    assert_eq!(
        cache.recheck(),
        Some(now + MAX_AGE),
        "the next aging is the one still open"
    );
    assert_eq!(Arc::strong_count(&files[1]), 1, "the aged one is closed");
    assert_eq!(Arc::strong_count(&files[0]), 2, "the other is kept");
}
