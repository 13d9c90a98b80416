//! Unit tests of `cache`.

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

/// A copy of `len` bytes made from source bytes hashing to `source`, verified at `at`.
fn copy(len: usize, source: u64, at: Instant) -> Made {
    Made::Copy(Copy {
        body: Arc::new(vec![7; len]),
        source,
        verified: at,
        rel: "f".into(),
    })
}

fn store(cache: &CompressedCache, key: Key, made: Made, now: Instant) {
    let reservation = cache.reserve(0, now).unwrap();
    cache.insert(key, made, reservation, now);
}

/// The cost of a copy of `len` bytes stored by [`copy`].
fn cost(len: usize) -> usize {
    ENTRY_OVERHEAD + len + "f".len()
}

fn is_fresh(found: &Found) -> bool {
    matches!(found, Found::Fresh { .. })
}

#[test]
fn a_stored_copy_is_found_and_other_codings_are_not() {
    let cache = CompressedCache::new(1 << 20);
    let (k, now) = (key(1), Instant::now());
    assert_eq!(
        cache.find(&k, now, false),
        Found::Missing { compress: false }
    );
    store(&cache, k, copy(10, 1, now), now);
    assert_eq!(
        cache.find(&k, now, true),
        Found::Fresh {
            body: Arc::new(vec![7; 10]),
            verify: false
        }
    );
    let gzip = Key {
        coding: Coding::Gzip,
        ..k
    };
    assert_eq!(
        cache.find(&gzip, now, true),
        Found::Missing { compress: true }
    );
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
    let (coding, now) = (Coding::Br, Instant::now());
    store(
        &cache,
        Key {
            identity: old,
            coding,
        },
        copy(3, 1, now),
        now,
    );
    let found = cache.find(
        &Key {
            identity: new,
            coding,
        },
        now,
        false,
    );
    assert_eq!(found, Found::Missing { compress: false });
}

#[test]
fn a_copy_is_served_only_within_its_freshness_and_verified_before_it_runs_out() {
    let cache = CompressedCache::new(1 << 20);
    let (k, t0) = (key(1), Instant::now());
    store(&cache, k, copy(10, 1, t0), t0);
    assert!(is_fresh(&cache.find(&k, t0 + REVERIFY_AFTER / 2, false)));
    // Half-way, a hit claims the verification, once.
    let later = t0 + REVERIFY_AFTER;
    let found = cache.find(&k, later, false);
    assert!(
        matches!(found, Found::Fresh { verify: true, .. }),
        "{found:?}"
    );
    assert!(matches!(
        cache.find(&k, later, false),
        Found::Fresh { verify: false, .. }
    ));
    // Past the bound it is not served, however often asked for.
    assert_eq!(
        cache.find(&k, t0 + FRESH_FOR, false),
        Found::Unverified { verify: false }
    );
    // Verified again (the bytes read from `at` on are the same): fresh from `at`.
    let at = t0 + FRESH_FOR;
    assert_eq!(
        cache.verified(k.identity, 1, at),
        Verified {
            kept: 1,
            dropped: 0
        }
    );
    assert!(is_fresh(&cache.find(&k, at + REVERIFY_AFTER / 2, false)));
    // A verification that ended unclaimed can be claimed again.
    let found = cache.find(&k, at + REVERIFY_AFTER, false);
    assert!(
        matches!(found, Found::Fresh { verify: true, .. }),
        "{found:?}"
    );
    cache.unclaim_verify(k.identity);
    let found = cache.find(&k, at + REVERIFY_AFTER, false);
    assert!(
        matches!(found, Found::Fresh { verify: true, .. }),
        "{found:?}"
    );
}

#[test]
fn a_copy_made_from_other_bytes_than_the_file_has_is_dropped() {
    let cache = CompressedCache::new(1 << 20);
    let (br, now) = (key(1), Instant::now());
    let gzip = Key {
        coding: Coding::Gzip,
        ..br
    };
    store(&cache, br, copy(10, 1, now), now);
    store(&cache, gzip, copy(10, 2, now), now);
    let outcome = cache.verified(br.identity, 2, now);
    assert_eq!(
        outcome,
        Verified {
            kept: 1,
            dropped: 1
        }
    );
    assert_eq!(
        cache.find(&br, now, false),
        Found::Missing { compress: false }
    );
    assert!(is_fresh(&cache.find(&gzip, now, false)));
    cache.forget(br.identity);
    assert_eq!(
        cache.find(&gzip, now, false),
        Found::Missing { compress: false }
    );
    assert_eq!(cache.stats().bytes, 0);
}

#[test]
fn the_least_recently_used_goes_first_and_the_bound_counts_bookkeeping() {
    let entry = cost(1000);
    // Four copies (each within its share), and room for the marker an evicted one leaves.
    let cache = CompressedCache::new(4 * entry + 2 * ENTRY_OVERHEAD);
    let (a, b, c, d, e) = (key(1), key(2), key(3), key(4), key(5));
    let now = Instant::now();
    for k in [a, b, c, d] {
        store(&cache, k, copy(1000, 1, now), now);
    }
    assert_eq!(
        cache.stats(),
        Stats {
            bytes: 4 * entry,
            entries: 4,
            evicted: 0
        }
    );
    // `a` is used again, so `b` is now the oldest.
    assert!(is_fresh(&cache.find(&a, now, false)));
    store(&cache, e, copy(1000, 1, now), now);
    let stats = cache.stats();
    assert_eq!((stats.evicted, stats.entries), (1, 5), "b is a marker now");
    assert_eq!(stats.bytes, 4 * entry + ENTRY_OVERHEAD);
    assert_eq!(cache.find(&b, now, true), Found::Cooling);
    for k in [a, c, d, e] {
        assert!(is_fresh(&cache.find(&k, now, false)));
    }
}

#[test]
fn an_evicted_copy_is_made_again_only_after_a_cooldown_that_doubles() {
    let capacity = 8 * cost(1000);
    let cache = CompressedCache::new(capacity);
    let (a, t0) = (key(1), Instant::now());
    // A reservation of (nearly) everything evicts every copy.
    let evict_all = |now| drop(cache.reserve(capacity - ENTRY_OVERHEAD, now).unwrap());
    store(&cache, a, copy(1000, 1, t0), t0);
    evict_all(t0);
    assert_eq!(cache.find(&a, t0, true), Found::Cooling);
    let t1 = t0 + RECOMPRESS_AFTER;
    assert_eq!(cache.find(&a, t1, true), Found::Missing { compress: true });
    store(&cache, a, copy(1000, 1, t1), t1);
    // Evicted again: twice as long.
    evict_all(t1);
    assert_eq!(cache.find(&a, t1 + RECOMPRESS_AFTER, true), Found::Cooling);
    let t2 = t1 + 2 * RECOMPRESS_AFTER;
    assert_eq!(cache.find(&a, t2, true), Found::Missing { compress: true });
}

#[test]
fn a_copy_over_a_share_of_the_cache_is_remembered_as_not_worth_it() {
    let capacity = 64 * 1024;
    let cache = CompressedCache::new(capacity);
    let (k, now) = (key(1), Instant::now());
    store(&cache, k, copy(cache.admit_max(), 1, now), now);
    assert_eq!(cache.find(&k, now, true), Found::NotWorth);
    assert_eq!(cache.stats().bytes, ENTRY_OVERHEAD);
}

#[test]
fn compressions_in_progress_count_against_the_bound() {
    let c = cost(4000);
    let capacity = 8 * c;
    let cache = CompressedCache::new(capacity);
    let (a, now) = (key(1), Instant::now());
    store(&cache, a, copy(4000, 1, now), now);
    let mut first = cache.reserve(capacity / 2, now).unwrap();
    assert_eq!(cache.stats().bytes, c + capacity / 2);
    // Growing past what is free evicts `a`...
    assert!(first.grow(capacity / 2 - c / 2, now));
    assert_eq!(cache.find(&a, now, true), Found::Cooling);
    // ...but nothing evicts what another compression holds.
    let second = cache.reserve(c / 4, now).unwrap();
    assert!(cache.reserve(c, now).is_none());
    assert!(!first.grow(c, now));
    drop(second);
    assert_eq!(cache.stats().bytes, ENTRY_OVERHEAD + first.bytes());
    // Stored, the reservation becomes the entry's cost.
    cache.insert(key(2), copy(100, 1, now), first, now);
    assert_eq!(cache.stats().bytes, ENTRY_OVERHEAD + cost(100));
}

#[test]
fn a_key_is_claimed_once_until_stored_or_abandoned_and_only_when_settled() {
    let cache = CompressedCache::new(1 << 20);
    let (a, b, now) = (key(1), key(2), Instant::now());
    assert_eq!(
        cache.find(&a, now, false),
        Found::Missing { compress: false }
    );
    assert_eq!(cache.find(&a, now, true), Found::Missing { compress: true });
    assert_eq!(
        cache.find(&a, now, true),
        Found::Missing { compress: false }
    );
    store(&cache, a, Made::NotWorth, now);
    assert_eq!(cache.find(&a, now, true), Found::NotWorth);
    assert_eq!(cache.find(&b, now, true), Found::Missing { compress: true });
    cache.abandon(&b);
    assert_eq!(cache.find(&b, now, true), Found::Missing { compress: true });
}

#[test]
fn replacing_an_entry_keeps_the_byte_count_exact() {
    let cache = CompressedCache::new(1 << 20);
    let (k, now) = (key(1), Instant::now());
    store(&cache, k, copy(100, 1, now), now);
    store(&cache, k, copy(50, 1, now), now);
    store(&cache, k, Made::NotWorth, now);
    assert_eq!(cache.stats().bytes, ENTRY_OVERHEAD);
    assert_eq!(cache.find(&k, now, true), Found::NotWorth);
}

#[test]
fn a_sweep_claims_recently_used_copies_due_for_verification() {
    let cache = CompressedCache::new(1 << 20);
    let (fresh, due, cold, t0) = (key(1), key(2), key(3), Instant::now());
    let sweep = |now| -> Vec<Identity> { cache.due(now).into_iter().map(|(i, _)| i).collect() };
    store(&cache, cold, copy(10, 1, t0), t0);
    let later = t0 + KEEP_WARM;
    store(&cache, due, copy(10, 1, t0), later);
    let now = later + REVERIFY_AFTER;
    store(&cache, fresh, copy(10, 1, now), now);
    assert_eq!(
        sweep(now),
        [due.identity],
        "not the fresh one, nor the cold one"
    );
    assert!(sweep(now).is_empty(), "one sweep per period");
    assert!(sweep(now + SWEEP_EVERY).is_empty(), "claimed already");
    cache.unclaim_verify(due.identity);
    assert!(sweep(now + 2 * SWEEP_EVERY).contains(&due.identity));
}
