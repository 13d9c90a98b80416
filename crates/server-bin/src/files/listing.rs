//! Directory listings (opt-in with `--listing`): an HTML page in the start page's style naming a
//! directory's entries, directories first, then names in case-insensitive natural order (`file2`
//! before `file10`) unless the query asks for another order (`?sort=size&order=desc`, links in
//! the column heads, no JavaScript needed), with breadcrumbs, a link to the parent first, sizes
//! for people (exact bytes in a `title`) and modification times as `<time>` in UTC, which a few
//! lines of inline script show in the viewer's time zone.
//!
//! The directory arrives as a descriptor that resolution opened race-free beneath the root, and
//! every entry is looked at relative to it (`statx`), never by a path that could lead elsewhere.
//! Memory and the calls per entry are bounded whatever the directory's size: every name is
//! read (in `getdents` batches) and ranked, but only the first [`MAX_ENTRIES`] in the
//! listing's order are kept, and only those are looked at (`statx`) and shown; the page says
//! how many were left out. Reading the names still takes time in proportion to the directory
//! (about 140 ms of a worker for 300,000 names on ext4, most of it in the kernel; nginx and
//! lighttpd read them too, and show them all). Names are HTML-escaped and links
//! percent-encoded, so no file name can inject markup or a link elsewhere. Hidden names are
//! never listed, nor symlinks whose target leaves the root, special files, or names that are
//! not UTF-8 (no request could reach them). It must not decide whether a listing is allowed;
//! `respond` does.

use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::io;

use http_core::date::Civil;
use http_core::target::encode_path;
use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, Dir, FileType, StatxFlags};

use crate::files::resolve::Root;
use crate::human;

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
/// and reached at the decoded URL path `url_path`, in the order `query` asks for
/// (`sort=name|size|modified`, `order=asc|desc`).
///
/// # Errors
///
/// When the directory cannot be read.
pub fn render(
    root: &Root,
    dir: OwnedFd,
    rel: &str,
    url_path: &str,
    query: Option<&[u8]>,
) -> io::Result<String> {
    let (mut entries, skipped) = read_entries(root, dir, rel)?;
    Ok(page(
        url_path,
        &mut entries,
        skipped,
        Sort::from_query(query),
    ))
}

/// The entries to show, in order, and how many were left out by the cap.
fn read_entries(root: &Root, dir: OwnedFd, rel: &str) -> io::Result<(Vec<Entry>, usize)> {
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
fn natural_key(name: &str, key: &mut Vec<u8>) {
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

/// The column a listing is sorted by (`?sort=name|size|modified`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Name,
    Size,
    Modified,
}

impl Column {
    const ALL: [Self; 3] = [Self::Name, Self::Size, Self::Modified];

    fn token(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Size => "size",
            Self::Modified => "modified",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Name => "Name",
            Self::Size => "Size",
            Self::Modified => "Modified",
        }
    }

    /// Whether a first click sorts ascending: names A to Z, but the largest and the newest first.
    fn first_ascending(self) -> bool {
        self == Self::Name
    }
}

/// How to order the entries: a column, ascending or not. Directories always come first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sort {
    column: Column,
    ascending: bool,
}

impl Sort {
    /// Reads `sort=` and `order=` from a query string; anything else (or nothing) leaves the
    /// default, names in natural order.
    fn from_query(query: Option<&[u8]>) -> Self {
        let mut sort = Self {
            column: Column::Name,
            ascending: true,
        };
        for pair in query.unwrap_or_default().split(|&b| b == b'&') {
            match pair {
                b"sort=name" => sort.column = Column::Name,
                b"sort=size" => sort.column = Column::Size,
                b"sort=modified" => sort.column = Column::Modified,
                b"order=asc" => sort.ascending = true,
                b"order=desc" => sort.ascending = false,
                _ => {}
            }
        }
        sort
    }

    /// The query of a link that sorts by `column`: the other direction when it is the current
    /// column, else that column's usual first order.
    fn link(self, column: Column) -> String {
        let ascending = if column == self.column {
            !self.ascending
        } else {
            column.first_ascending()
        };
        let order = if ascending { "asc" } else { "desc" };
        format!("?sort={}&amp;order={order}", column.token())
    }

    /// Orders entries that arrive in the default order (directories first, then natural order
    /// of names); the sorts are stable, so equal sizes or times keep that order.
    fn apply(self, entries: &mut [Entry]) {
        match (self.column, self.ascending) {
            (Column::Name, true) => {}
            (Column::Name, false) => {
                entries.reverse();
                entries.sort_by_key(|e| !e.is_dir);
            }
            // A directory's own size says nothing about its contents: they stay by name.
            (Column::Size, ascending) => entries.sort_by(|a, b| {
                let size = |e: &Entry| if e.is_dir { 0 } else { e.size };
                let by_size = size(a).cmp(&size(b));
                (!a.is_dir).cmp(&!b.is_dir).then(if ascending {
                    by_size
                } else {
                    by_size.reverse()
                })
            }),
            (Column::Modified, ascending) => entries.sort_by(|a, b| {
                let by_time = a.modified.cmp(&b.modified);
                (!a.is_dir).cmp(&!b.is_dir).then(if ascending {
                    by_time
                } else {
                    by_time.reverse()
                })
            }),
        }
    }
}

/// The look of the start page (`www/style.css`, compiled in because a listed folder has no
/// stylesheet of its own), plus the table. Dates and sizes never wrap, names may break
/// anywhere, so a 400 px wide phone shows the table without scrolling sideways.
const STYLE: &str = concat!(
    include_str!("../../../../www/style.css"),
    r#"main.listing { max-width: 56rem; }
.crumbs { overflow-wrap: anywhere; font-size: 1.6rem; }
.crumbs a { text-decoration-thickness: 1px; text-underline-offset: 0.2em; }
table { border-collapse: collapse; width: 100%; font-size: 0.95rem; }
th, td { text-align: left; padding: 0.35rem 0.4rem; border-bottom: 1px solid rgb(127 127 127 / 25%); }
th { font-weight: 600; white-space: nowrap; }
th a { text-decoration: none; }
td.name { overflow-wrap: anywhere; }
.size, .modified { white-space: nowrap; font-variant-numeric: tabular-nums; }
.size { text-align: right; }
tbody tr:hover { background: rgb(127 127 127 / 10%); }
.note { color: #6b7480; }
@media (max-width: 36rem) {
  .crumbs { font-size: 1.3rem; }
  .size, .modified { font-size: 0.85rem; }
}
"#
);

/// Shows each `<time>` in the viewer's time zone; without JavaScript the page says UTC.
const LOCAL_TIME_SCRIPT: &str = r#"<script>
const pad = n => String(n).padStart(2, "0");
for (const t of document.querySelectorAll("time")) {
  const d = new Date(t.dateTime);
  t.textContent = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
for (const zone of document.querySelectorAll(".zone")) zone.remove();
</script>
"#;

fn page(url_path: &str, entries: &mut [Entry], skipped: usize, sort: Sort) -> String {
    sort.apply(entries);
    let shown = if url_path == "/" {
        "/".to_owned()
    } else {
        format!("{url_path}/")
    };
    let title = escape_html(&shown);
    let mut html = String::with_capacity(STYLE.len() + 2048 + entries.len() * 240);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Index of {title}</title>\n<link rel=\"icon\" href=\"data:,\">\n\
         <style>\n{STYLE}</style>\n</head>\n<body>\n<main class=\"listing\">\n\
         <h1 class=\"crumbs\">Index of {}</h1>\n<table>\n<thead><tr>",
        breadcrumbs(url_path)
    );
    for column in Column::ALL {
        let class = column.token();
        let (arrow, aria) = match (column == sort.column, sort.ascending) {
            (false, _) => ("", ""),
            (true, true) => (" ▲", " aria-sort=\"ascending\""),
            (true, false) => (" ▼", " aria-sort=\"descending\""),
        };
        let zone = if column == Column::Modified {
            " <span class=\"zone\">(UTC)</span>"
        } else {
            ""
        };
        let _ = write!(
            html,
            "<th class=\"{class}\"{aria}><a href=\"{}\">{}{arrow}</a>{zone}</th>",
            sort.link(column),
            column.label()
        );
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    if url_path != "/" {
        html.push_str(
            "<tr><td class=\"name\"><a href=\"../\">../</a> <span class=\"note\">(parent folder)</span></td>\
             <td class=\"size\"></td><td class=\"modified\"></td></tr>\n",
        );
    }
    for entry in entries.iter() {
        let slash = if entry.is_dir { "/" } else { "" };
        // `./` keeps a name such as `a:b` from reading as a URL scheme.
        let href = escape_html(&format!("./{}{slash}", encode_path(&entry.name)));
        let name = escape_html(&entry.name);
        let size = if entry.is_dir {
            "<td class=\"size\">—</td>".to_owned()
        } else {
            format!(
                "<td class=\"size\" title=\"{} bytes\">{}</td>",
                entry.size,
                human::size(entry.size)
            )
        };
        let t = Civil::from_unix(entry.modified);
        let _ = writeln!(
            html,
            "<tr><td class=\"name\"><a href=\"{href}\">{name}{slash}</a></td>{size}\
             <td class=\"modified\"><time datetime=\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z\">\
             {:04}-{:02}-{:02} {:02}:{:02}</time></td></tr>",
            t.year,
            t.month,
            t.day,
            t.hour,
            t.minute,
            t.second,
            t.year,
            t.month,
            t.day,
            t.hour,
            t.minute
        );
    }
    if entries.is_empty() {
        html.push_str("<tr><td class=\"note\" colspan=\"3\">This folder is empty.</td></tr>\n");
    }
    html.push_str("</tbody>\n</table>\n");
    if skipped > 0 {
        let _ = writeln!(
            html,
            "<p class=\"note\">{skipped} more entries not shown (a listing shows at most \
             {MAX_ENTRIES}, the first in name order).</p>"
        );
    }
    html.push_str("</main>\n");
    html.push_str(LOCAL_TIME_SCRIPT);
    html.push_str("</body>\n</html>\n");
    html
}

/// `/` and each folder on the way to the one listed, each a link but the last. The links are
/// relative (`../../`), so the page also works under a path prefix added by a proxy.
fn breadcrumbs(url_path: &str) -> String {
    let segments: Vec<&str> = url_path.split('/').filter(|s| !s.is_empty()).collect();
    let mut out = String::new();
    let crumb = |out: &mut String, levels_up: usize, text: &str| {
        if levels_up == 0 {
            let _ = write!(out, "<span aria-current=\"page\">{text}</span>");
        } else {
            let _ = write!(out, "<a href=\"{}\">{text}</a>", "../".repeat(levels_up));
        }
    };
    crumb(&mut out, segments.len(), "/");
    for (i, segment) in segments.iter().enumerate() {
        let text = format!("{}/", escape_html(segment));
        crumb(&mut out, segments.len() - 1 - i, &text);
    }
    out
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
        sorted_listing(root, rel, url_path, None)
    }

    fn sorted_listing(root: &Root, rel: &str, url_path: &str, query: Option<&str>) -> String {
        let path = root.path().join(rel);
        let dir = rustix::fs::open(&path, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty());
        render(root, dir.unwrap(), rel, url_path, query.map(str::as_bytes)).unwrap()
    }

    /// The names in the order the page lists them.
    fn names(html: &str) -> Vec<&str> {
        html.split("<td class=\"name\"><a href=\"./")
            .skip(1)
            .map(|row| {
                let text = &row[row.find('>').unwrap() + 1..];
                &text[..text.find('<').unwrap()]
            })
            .collect()
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
            html.contains("<td class=\"size\" title=\"2 bytes\">2 B</td>"),
            "the size of z.txt"
        );
    }

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
        assert_eq!(names(&html).len(), MAX_ENTRIES);
        assert!(html.contains(&format!("{} more entries not shown", extra + 1)));
        assert!(position(&html, ">zz-dir/<") < position(&html, ">f0<"));
        assert!(position(&html, ">f9<") < position(&html, ">f10<"));
        let last_shown = format!(">f{}<", MAX_ENTRIES - 2);
        assert!(
            html.contains(&last_shown),
            "natural order decides who is cut"
        );
        assert!(!html.contains(&format!(">f{}<", MAX_ENTRIES - 1)));
    }

    /// Files with sizes and times that disagree with name order, and two directories.
    fn sortable() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        let at = |days: u64| std::time::UNIX_EPOCH + std::time::Duration::from_secs(days * 86_400);
        for (name, len, day) in [
            ("a.txt", 300, 20_000),
            ("b.txt", 100, 20_002),
            ("c.txt", 200, 20_001),
        ] {
            let file = fs::File::create(dir.path().join(name)).unwrap();
            file.set_len(len).unwrap();
            file.set_modified(at(day)).unwrap();
        }
        fs::create_dir(dir.path().join("y-dir")).unwrap();
        fs::create_dir(dir.path().join("x-dir")).unwrap();
        let root = Root::open(&dir.path().canonicalize().unwrap()).unwrap();
        (dir, root)
    }

    #[test]
    fn the_query_sorts_by_name_size_or_time_with_directories_first() {
        let (_dir, root) = sortable();
        let order = |query: &str| {
            let html = sorted_listing(&root, ".", "/", Some(query));
            names(&html)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(order(""), ["x-dir/", "y-dir/", "a.txt", "b.txt", "c.txt"]);
        assert_eq!(
            order("sort=name&order=desc"),
            ["y-dir/", "x-dir/", "c.txt", "b.txt", "a.txt"]
        );
        assert_eq!(
            order("sort=size&order=desc"),
            ["x-dir/", "y-dir/", "a.txt", "c.txt", "b.txt"]
        );
        assert_eq!(
            order("sort=size&order=asc"),
            ["x-dir/", "y-dir/", "b.txt", "c.txt", "a.txt"]
        );
        assert_eq!(
            order("order=asc&sort=modified")[2..],
            ["a.txt", "c.txt", "b.txt"]
        );
        assert_eq!(
            order("sort=modified&order=desc")[2..],
            ["b.txt", "c.txt", "a.txt"]
        );
        assert_eq!(
            order("sort=%3Cx%3E&order=sideways&x"),
            order(""),
            "junk is ignored"
        );
    }

    #[test]
    fn column_heads_link_to_the_other_order_of_their_column_and_mark_the_current_one() {
        let (_dir, root) = sortable();
        let html = listing(&root, ".", "/");
        assert!(html.contains("<th class=\"name\" aria-sort=\"ascending\"><a href=\"?sort=name&amp;order=desc\">Name ▲</a></th>"), "{html}");
        assert!(
            html.contains("<a href=\"?sort=size&amp;order=desc\">Size</a>"),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"?sort=modified&amp;order=desc\">Modified</a>"),
            "{html}"
        );
        let html = sorted_listing(&root, ".", "/", Some("sort=size&order=desc"));
        assert!(html.contains("<th class=\"size\" aria-sort=\"descending\"><a href=\"?sort=size&amp;order=asc\">Size ▼</a></th>"), "{html}");
        assert!(
            html.contains("<a href=\"?sort=name&amp;order=asc\">Name</a>"),
            "{html}"
        );
    }

    #[test]
    fn sizes_are_for_people_with_the_exact_bytes_in_a_title_and_times_are_utc_time_elements() {
        let dir = tempfile::tempdir().unwrap();
        let file = fs::File::create(dir.path().join("big.iso")).unwrap();
        file.set_len(209_715_200).unwrap();
        // 2024-02-29 13:05:09 UTC
        file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_709_211_909))
            .unwrap();
        let root = Root::open(&dir.path().canonicalize().unwrap()).unwrap();
        let html = listing(&root, ".", "/");
        assert!(
            html.contains("<td class=\"size\" title=\"209715200 bytes\">200 MiB</td>"),
            "{html}"
        );
        assert!(
            html.contains("<time datetime=\"2024-02-29T13:05:09Z\">2024-02-29 13:05</time>"),
            "{html}"
        );
        assert!(
            html.contains("(UTC)"),
            "without script the page says which zone"
        );
    }

    #[test]
    fn breadcrumbs_link_every_folder_above_with_relative_links() {
        let (_dir, root) = fixture();
        let html = listing(&root, "A-dir", "/A-dir");
        assert!(
            html.contains(
                "Index of <a href=\"../\">/</a><span aria-current=\"page\">A-dir/</span></h1>"
            ),
            "{html}"
        );
        assert_eq!(
            breadcrumbs("/a/<b> c/d"),
            "<a href=\"../../../\">/</a><a href=\"../../\">a/</a><a href=\"../\">&lt;b&gt; c/</a>\
             <span aria-current=\"page\">d/</span>"
        );
        assert_eq!(breadcrumbs("/"), "<span aria-current=\"page\">/</span>");
    }

    #[test]
    fn the_parent_link_comes_before_every_entry() {
        let (_dir, root) = fixture();
        let html = listing(&root, "b-dir", "/b-dir");
        assert!(html.contains("<a href=\"../\">../</a>"));
        let parent = position(&html, "<a href=\"../\">../</a>");
        assert!(html.contains("This folder is empty."));
        assert!(parent < position(&html, "This folder is empty."));
        let html = listing(&root, ".", "/");
        assert!(!html.contains("This folder is empty."));
    }
}
