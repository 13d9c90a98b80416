//! Reading a directory for its listing: every name (in `getdents` batches), ranked by the
//! listing's default order, of which only the first [`MAX_ENTRIES`] are kept and looked at
//! (`statx` relative to the directory's descriptor, never by a path that could lead elsewhere).
//!
//! Hidden names, symlinks whose target leaves the root, special files and names that are not
//! UTF-8 (no request could reach them) are left out. It must not make the page.

use std::collections::BinaryHeap;
use std::io;

use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, Dir, FileType, StatxFlags};

use super::MAX_ENTRIES;
use crate::files::resolve::Root;

/// One entry shown.
#[derive(Debug)]
pub struct Entry {
    /// Its natural-order key (see [`natural_key`]).
    pub key: Vec<u8>,
    /// Its name.
    pub name: String,
    /// A directory (or a symlink to one inside the root).
    pub is_dir: bool,
    /// Its size in bytes (of the target, for a symlink).
    pub size: u64,
    /// Its modification time, in seconds since the Unix epoch.
    pub modified: u64,
}

/// The entries to show, in order, and how many were left out by the cap.
pub fn read_entries(root: &Root, dir: OwnedFd, rel: &str) -> io::Result<(Vec<Entry>, usize)> {
    let mut dir = Dir::new(dir)?;
    // (not a directory, natural key, name): the tuple's order is the listing's order. The
    // first `MAX_ENTRIES` in that order are kept in a max-heap, so a directory of any size
    // costs memory for that many; a name that would not make the cut is dropped without an
    // allocation (its key is built in a buffer reused from name to name).
    let mut names: BinaryHeap<(bool, Vec<u8>, String)> = BinaryHeap::new();
    let mut skipped = 0;
    let mut key = Vec::new();
    while let Some(item) = dir.read() {
        let item = item?;
        let Ok(name) = item.file_name().to_str() else {
            continue;
        };
        if name.starts_with('.') {
            continue; // hidden, and `.` and `..`
        }
        // The type from readdir costs nothing; a symlink's is known only after the cap.
        let not_dir = item.file_type() != FileType::Directory;
        natural_key(name, &mut key);
        if names.len() == MAX_ENTRIES {
            skipped += 1;
            let Some(mut last) = names.peek_mut() else {
                continue;
            };
            if (not_dir, key.as_slice(), name) >= (last.0, last.1.as_slice(), last.2.as_str()) {
                continue;
            }
            last.0 = not_dir;
            std::mem::swap(&mut last.1, &mut key);
            name.clone_into(&mut last.2);
        } else {
            names.push((not_dir, key.clone(), name.to_owned()));
        }
    }
    let fd = dir.fd()?;
    let mask = StatxFlags::TYPE | StatxFlags::SIZE | StatxFlags::MTIME;
    let mut entries = Vec::with_capacity(names.len());
    for (_, key, name) in names.into_vec() {
        let Ok(st) = rustix::fs::statx(fd, name.as_str(), AtFlags::SYMLINK_NOFOLLOW, mask) else {
            continue; // gone since readdir
        };
        let (kind, size, modified) = match FileType::from_raw_mode(st.stx_mode.into()) {
            FileType::Symlink => {
                // Where it leads, looked up as a request for it would be: inside the root only.
                let path = if rel == "." {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                let Ok(target) = root.stat_beneath(&path) else {
                    continue;
                };
                (
                    FileType::from_raw_mode(target.st_mode),
                    u64::try_from(target.st_size).unwrap_or(0),
                    u64::try_from(target.st_mtime).unwrap_or(0),
                )
            }
            kind => (
                kind,
                st.stx_size,
                u64::try_from(st.stx_mtime.tv_sec).unwrap_or(0),
            ),
        };
        if !matches!(kind, FileType::Directory | FileType::RegularFile) {
            continue;
        }
        entries.push(Entry {
            key,
            name,
            is_dir: kind == FileType::Directory,
            size,
            modified,
        });
    }
    entries
        .sort_unstable_by(|a, b| (!a.is_dir, &a.key, &a.name).cmp(&(!b.is_dir, &b.key, &b.name)));
    Ok((entries, skipped))
}

/// Writes into `key` (emptied first) a key whose byte order is case-insensitive natural order:
/// runs of digits compare as numbers (`2` before `10`), other characters by their lowercase.
/// Computed once per name, so ranking many names compares bytes rather than re-parsing them
/// (names equal under it, such as `a01` and `a1`, are ordered by the name itself).
pub fn natural_key(name: &str, key: &mut Vec<u8>) {
    key.clear();
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        if c.is_ascii_digit() {
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let (run, after) = rest.split_at(end);
            let digits = run.trim_start_matches('0');
            // `0` marks a number where a digit would sort; its length then its digits make
            // byte order numeric order. Digits never appear in the key otherwise.
            key.push(b'0');
            key.extend_from_slice(
                &u32::try_from(digits.len())
                    .unwrap_or(u32::MAX)
                    .to_be_bytes(),
            );
            key.extend_from_slice(digits.as_bytes());
            rest = after;
        } else {
            let mut utf8 = [0u8; 4];
            for lower in c.to_lowercase() {
                key.extend_from_slice(lower.encode_utf8(&mut utf8).as_bytes());
            }
            rest = &rest[c.len_utf8()..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Vec<u8> {
        let mut key = Vec::new();
        natural_key(name, &mut key);
        key
    }

    #[test]
    fn numbers_in_names_sort_by_value_and_letters_ignore_case() {
        let mut names = [
            "file10", "File2", "file1", "file02b", "file2a", "a", "B", "Éa", "éb",
        ];
        names.sort_by_key(|name| (key(name), *name));
        assert_eq!(
            names,
            [
                "a", "B", "file1", "File2", "file2a", "file02b", "file10", "Éa", "éb"
            ]
        );
        assert_eq!(key("x01"), key("x1"));
        assert!(key("a") < key("a0"));
        assert!(key("a9") < key("a10"));
        assert!(key("a99z") < key("a100"));
    }
}
