//! A file version's validators as a response carries them: its strong `ETag` (inode, size and
//! the modification and change times, plus the representation's tag) and its `Last-Modified`.
//!
//! Both are formatted once per version and worker thread, not per response: a worker keeps the
//! last [`KEPT`] versions it served, each found again only by exactly the values its tag is
//! made of, so a kept value is the one that formatting again would give. (Formatting them was
//! about 1,550 of the 16,000 instructions of a cached 1 KiB response over HTTP/2, callgrind.)
//!
//! It must not decide what the validators mean for a request; that is
//! [`http_core::conditional`].

use std::cell::RefCell;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

use http_core::date::HttpDate;
use http_core::etag::ETag;

/// File versions whose validators a worker thread keeps.
const KEPT: usize = 32;

/// A representation's validators.
#[derive(Debug, Clone)]
pub struct Validated {
    /// Its strong entity tag.
    pub etag: ETag,
    /// Its modification time in seconds, as preconditions compare it.
    pub last_modified: u64,
    /// The same, as `Last-Modified` sends it.
    pub last_modified_date: HttpDate,
}

/// What a tag is made of: inode, size, and the modification and change times in seconds and
/// nanoseconds.
type Version = [i64; 6];

#[derive(Debug)]
struct Kept {
    version: Version,
    tag: Option<Box<str>>,
    validated: Validated,
}

thread_local! {
    static KEPT_VALIDATORS: RefCell<[Option<Kept>; KEPT]> = const { RefCell::new([const { None }; KEPT]) };
}

/// The validators of the representation of the file version `meta` told apart by `tag` (its
/// coding, see [`ETag::for_file`]), for a response dated `date`.
pub fn of(meta: &Metadata, tag: Option<&str>, date: &HttpDate) -> Validated {
    let last_modified = last_modified(meta, date);
    let version: Version = [
        meta.ino() as i64,
        meta.len() as i64,
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
    ];
    let slot = (meta.ino() ^ meta.len()).wrapping_add(tag.map_or(0, |t| t.len() as u64 + 1))
        as usize
        % KEPT;
    KEPT_VALIDATORS.with_borrow_mut(|kept| {
        if let Some(k) = &kept[slot]
            && k.version == version
            && k.tag.as_deref() == tag
            && k.validated.last_modified == last_modified
        {
            return k.validated.clone();
        }
        let validated = Validated {
            etag: etag(meta, tag),
            last_modified,
            last_modified_date: HttpDate::from_unix(last_modified),
        };
        kept[slot] = Some(Kept {
            version,
            tag: tag.map(Box::from),
            validated: validated.clone(),
        });
        validated
    })
}

/// The strong `ETag` of a representation: the file version's, plus `tag` for encoded ones.
fn etag(meta: &Metadata, tag: Option<&str>) -> ETag {
    let nanos = |secs: i64, nsec: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsec);
    ETag::for_file(
        meta.ino(),
        meta.len(),
        nanos(meta.mtime(), meta.mtime_nsec()),
        nanos(meta.ctime(), meta.ctime_nsec()),
        tag,
    )
}

/// A representation's modification time for validators and `Last-Modified`, in seconds. A
/// file dated in the future (a clock set wrong, timestamps kept from an archive) counts as
/// modified now: a Last-Modified later than Date is forbidden (RFC 9110 §8.8.2.1), and a client
/// that kept the future date would take every later version for unmodified.
fn last_modified(meta: &Metadata, date: &HttpDate) -> u64 {
    u64::try_from(meta.mtime())
        .unwrap_or(0)
        .min(date.unix_secs())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::*;

    fn now() -> HttpDate {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        HttpDate::from_unix(secs)
    }

    #[test]
    fn kept_validators_are_the_ones_made_afresh_for_every_version_and_tag() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let date = now();
        let mut seen = Vec::new();
        // More versions and tags than are kept, each asked for twice: a kept value must never
        // stand for another version.
        for i in 0..(KEPT as u64 * 3) {
            fs::write(&path, vec![b'x'; (i % 7) as usize]).unwrap();
            let mtime = UNIX_EPOCH + Duration::from_secs(1_000_000 + i);
            fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(mtime)
                .unwrap();
            let meta = fs::metadata(&path).unwrap();
            for tag in [None, Some("gzip"), Some("br")] {
                for _ in 0..2 {
                    let got = of(&meta, tag, &date);
                    assert_eq!(got.etag, etag(&meta, tag));
                    assert_eq!(got.last_modified, 1_000_000 + i);
                    assert_eq!(got.last_modified_date, HttpDate::from_unix(1_000_000 + i));
                }
                seen.push(of(&meta, tag, &date).etag);
            }
        }
        let distinct: std::collections::HashSet<_> = seen.iter().collect();
        assert_eq!(distinct.len(), seen.len());
    }

    #[test]
    fn a_rewrite_of_the_same_size_dated_back_gets_a_new_tag() {
        // As `cp -p` or a build tool leaves it: the size and the modification time the same,
        // only the change time moves.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let date = now();
        let mtime = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut tags = Vec::new();
        for contents in ["aaaa", "bbbb", "cccc"] {
            fs::write(&path, contents).unwrap();
            let file = fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(mtime).unwrap();
            let meta = fs::metadata(&path).unwrap();
            let got = of(&meta, None, &date);
            assert_eq!(got.etag, etag(&meta, None));
            tags.push(got.etag);
            // The change time has a clock tick to move by.
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(tags[0] != tags[1] && tags[1] != tags[2], "{tags:?}");
    }

    #[test]
    fn a_file_dated_after_the_response_is_taken_as_modified_then() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, "x").unwrap();
        let future = SystemTime::now() + Duration::from_secs(86_400);
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(future)
            .unwrap();
        let meta = fs::metadata(&path).unwrap();
        let date = now();
        assert_eq!(of(&meta, None, &date).last_modified, date.unix_secs());
        // A later response moves with its own date, though the version is kept.
        let later = HttpDate::from_unix(date.unix_secs() + 5);
        assert_eq!(of(&meta, None, &later).last_modified, date.unix_secs() + 5);
    }
}
