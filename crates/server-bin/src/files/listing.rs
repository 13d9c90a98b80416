//! Directory listings (opt-in with `--listing`): an HTML page naming a directory's entries,
//! directories first, then names in case-insensitive natural order (`file2` before `file10`),
//! with size and modification time and a link to the parent.
//!
//! The directory arrives as a descriptor that resolution opened race-free beneath the root, and
//! every entry is looked at relative to it (`statx`), never by a path that could lead elsewhere.
//! The work is bounded before it starts: names are read (no system call per entry), at most
//! [`MAX_ENTRIES`] are chosen, and only those are looked at; the page says how many were left
//! out. Names are HTML-escaped and links percent-encoded, so no file name can inject markup or a
//! link elsewhere. Hidden names are never listed, nor symlinks whose target leaves the root,
//! special files, or names that are not UTF-8 (no request could reach them). It must not decide
//! whether a listing is allowed; `respond` does.

use std::fmt::Write as _;
use std::io;

use http_core::date::Civil;
use http_core::target::encode_path;
use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, Dir, FileType, StatxFlags};

use crate::files::resolve::Root;

/// Entries shown at most; the rest are counted in a closing line.
pub const MAX_ENTRIES: usize = 10_000;

struct Entry {
    key: Vec<u8>,
    name: String,
    is_dir: bool,
    size: u64,
    modified: u64,
}

/// Renders the listing of the directory `dir`, found at `rel` under `root` (`.` for the root)
/// and reached at the decoded URL path `url_path`.
///
/// # Errors
///
/// When the directory cannot be read.
pub fn render(root: &Root, dir: OwnedFd, rel: &str, url_path: &str) -> io::Result<String> {
    let (entries, skipped) = read_entries(root, dir, rel)?;
    Ok(page(url_path, &entries, skipped))
}

/// The entries to show, in order, and how many were left out by the cap.
fn read_entries(root: &Root, dir: OwnedFd, rel: &str) -> io::Result<(Vec<Entry>, usize)> {
    let mut dir = Dir::new(dir)?;
    // (not a directory, natural key, name): the tuple's order is the listing's order.
    let mut names: Vec<(bool, Vec<u8>, String)> = Vec::new();
    while let Some(item) = dir.read() {
        let item = item?;
        let Ok(name) = item.file_name().to_str() else {
            continue;
        };
        if name.starts_with('.') {
            continue; // hidden, and `.` and `..`
        }
        // The type from readdir costs nothing; a symlink's is known only after the cap.
        let is_dir = item.file_type() == FileType::Directory;
        names.push((!is_dir, natural_key(name), name.to_owned()));
    }
    let skipped = names.len().saturating_sub(MAX_ENTRIES);
    if skipped > 0 {
        names.select_nth_unstable(MAX_ENTRIES);
        names.truncate(MAX_ENTRIES);
    }
    let fd = dir.fd()?;
    let mask = StatxFlags::TYPE | StatxFlags::SIZE | StatxFlags::MTIME;
    let mut entries = Vec::with_capacity(names.len());
    for (_, key, name) in names {
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

/// A key whose byte order is case-insensitive natural order: runs of digits compare as numbers
/// (`2` before `10`), other characters by their lowercase. Computed once per name, so sorting
/// tens of thousands of names compares bytes rather than re-parsing them (names equal under it,
/// such as `a01` and `a1`, are ordered by the name itself).
fn natural_key(name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 8);
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
    key
}

fn page(url_path: &str, entries: &[Entry], skipped: usize) -> String {
    let shown = if url_path == "/" {
        "/".to_owned()
    } else {
        format!("{url_path}/")
    };
    let title = escape_html(&shown);
    let mut html = String::with_capacity(1024 + entries.len() * 160);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Index of {title}</title>\n<style>\n\
         body{{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem}}\n\
         table{{border-collapse:collapse;width:100%}}\n\
         th,td{{text-align:left;padding:.25rem .75rem;border-bottom:1px solid #ddd}}\n\
         .size{{text-align:right;font-variant-numeric:tabular-nums}}\n\
         </style>\n</head>\n<body>\n<h1>Index of {title}</h1>\n<table>\n\
         <thead><tr><th>Name</th><th class=\"size\">Size</th><th>Modified (UTC)</th></tr></thead>\n<tbody>\n"
    );
    if url_path != "/" {
        html.push_str(
            "<tr><td><a href=\"../\">../</a></td><td class=\"size\"></td><td></td></tr>\n",
        );
    }
    for entry in entries {
        let slash = if entry.is_dir { "/" } else { "" };
        // `./` keeps a name such as `a:b` from reading as a URL scheme.
        let href = escape_html(&format!("./{}{slash}", encode_path(&entry.name)));
        let name = escape_html(&entry.name);
        let size = if entry.is_dir {
            "-".to_owned()
        } else {
            entry.size.to_string()
        };
        let t = Civil::from_unix(entry.modified);
        let _ = writeln!(
            html,
            "<tr><td><a href=\"{href}\">{name}{slash}</a></td><td class=\"size\">{size}</td>\
             <td>{}-{:02}-{:02} {:02}:{:02}</td></tr>",
            t.year, t.month, t.day, t.hour, t.minute
        );
    }
    html.push_str("</tbody>\n</table>\n");
    if skipped > 0 {
        let _ = writeln!(html, "<p>{skipped} more entries not shown.</p>");
    }
    html.push_str("</body>\n</html>\n");
    html
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::fs;

    use rustix::fs::{Mode, OFlags};

    use super::*;

    fn fixture() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("b-dir")).unwrap();
        fs::create_dir_all(root.join("A-dir")).unwrap();
        fs::create_dir_all(root.join(".hidden-dir")).unwrap();
        fs::write(root.join("z.txt"), "zz").unwrap();
        fs::write(root.join("c.txt"), "c").unwrap();
        fs::write(root.join(".env"), "secret").unwrap();
        fs::write(root.join("<img src=x onerror=alert(1)>.html"), "").unwrap();
        fs::write(root.join("a b#c?d%.txt"), "").unwrap();
        fs::write(dir.path().join("outside.txt"), "").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.txt"), root.join("escape.txt"))
            .unwrap();
        std::os::unix::fs::symlink("b-dir", root.join("link-dir")).unwrap();
        let root = Root::open(&root.canonicalize().unwrap()).unwrap();
        (dir, root)
    }

    fn listing(root: &Root, rel: &str, url_path: &str) -> String {
        let path = root.path().join(rel);
        let dir = rustix::fs::open(&path, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty());
        render(root, dir.unwrap(), rel, url_path).unwrap()
    }

    fn position(html: &str, needle: &str) -> usize {
        html.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing in {html}"))
    }

    #[test]
    fn directories_come_first_then_names_ignoring_case() {
        let (_dir, root) = fixture();
        let html = listing(&root, ".", "/");
        let pos = |needle| position(&html, needle);
        assert!(pos(">A-dir/<") < pos(">b-dir/<"));
        assert!(
            pos(">b-dir/<") < pos(">link-dir/<"),
            "a symlink to a directory"
        );
        assert!(pos(">link-dir/<") < pos(">c.txt<"));
        assert!(pos(">c.txt<") < pos(">z.txt<"));
        assert!(
            html.contains("<td class=\"size\">2</td>"),
            "the size of z.txt"
        );
    }

    #[test]
    fn numbers_in_names_sort_by_value_and_letters_ignore_case() {
        let mut names = [
            "file10", "File2", "file1", "file02b", "file2a", "a", "B", "Éa", "éb",
        ];
        names.sort_by_key(|name| (natural_key(name), *name));
        assert_eq!(
            names,
            [
                "a", "B", "file1", "File2", "file2a", "file02b", "file10", "Éa", "éb"
            ]
        );
        assert_eq!(natural_key("x01"), natural_key("x1"));
        assert!(natural_key("a") < natural_key("a0"));
        assert!(natural_key("a9") < natural_key("a10"));
        assert!(natural_key("a99z") < natural_key("a100"));
    }

    #[test]
    fn hidden_names_and_escaping_symlinks_are_not_listed() {
        let (_dir, root) = fixture();
        let html = listing(&root, ".", "/");
        assert!(!html.contains(".env") && !html.contains(".hidden-dir"));
        assert!(!html.contains("escape.txt"));
    }

    #[test]
    fn names_are_escaped_in_text_and_encoded_in_links() {
        let (_dir, root) = fixture();
        let html = listing(&root, ".", "/");
        assert!(!html.contains("<img"));
        assert!(html.contains(">&lt;img src=x onerror=alert(1)&gt;.html<"));
        assert!(html.contains("href=\"./%3Cimg%20src=x%20onerror=alert(1)%3E.html\""));
        assert!(html.contains("href=\"./a%20b%23c%3Fd%25.txt\""));
    }

    #[test]
    fn only_subdirectories_link_to_their_parent() {
        let (_dir, root) = fixture();
        assert!(!listing(&root, ".", "/").contains("href=\"../\""));
        let sub = listing(&root, "A-dir", "/A-dir");
        assert!(sub.contains("href=\"../\""));
        assert!(sub.contains("<title>Index of /A-dir/</title>"));
    }

    #[test]
    fn a_huge_directory_shows_the_first_entries_in_order_and_says_how_many_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let extra = 25;
        for i in 0..MAX_ENTRIES + extra {
            fs::write(dir.path().join(format!("f{i}")), "").unwrap();
        }
        fs::create_dir(dir.path().join("zz-dir")).unwrap();
        let root = Root::open(&dir.path().canonicalize().unwrap()).unwrap();
        let html = listing(&root, ".", "/");
        assert_eq!(html.matches("<tr><td><a href=").count(), MAX_ENTRIES);
        assert!(html.contains(&format!("<p>{} more entries not shown.</p>", extra + 1)));
        assert!(position(&html, ">zz-dir/<") < position(&html, ">f0<"));
        assert!(position(&html, ">f9<") < position(&html, ">f10<"));
        let last_shown = format!(">f{}<", MAX_ENTRIES - 2);
        assert!(
            html.contains(&last_shown),
            "natural order decides who is cut"
        );
        assert!(!html.contains(&format!(">f{}<", MAX_ENTRIES - 1)));
    }
}
