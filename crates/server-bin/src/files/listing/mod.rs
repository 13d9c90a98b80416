//! Directory listings (opt-in with `--listing`): an HTML page in the start page's style naming a
//! directory's entries, directories first, then names in case-insensitive natural order (`file2`
//! before `file10`) unless the query asks for another order (`?sort=size&order=desc`). Reading
//! is [`read`]'s, the page [`page`]'s.
//!
//! The directory arrives as a descriptor that resolution opened race-free beneath the root, and
//! every entry is looked at relative to it (`statx`), never by a path that could lead elsewhere.
//! Memory and the calls per entry are bounded whatever the directory's size: every name is
//! read (in `getdents` batches) and ranked, but only the first [`MAX_ENTRIES`] in the
//! listing's order are kept, and only those are looked at (`statx`) and shown; the page says
//! how many were left out. Reading the names still takes time in proportion to the directory
//! (about 140 ms of a worker for 300,000 names on ext4, most of it in the kernel; nginx and
//! lighttpd read them too, and show them all). It must not decide whether a listing is allowed;
//! the exchange does.

pub mod cache;
mod page;
mod read;

use std::time::Instant;

use http_core::encoding::Coding;
use rustix::fd::OwnedFd;

use self::cache::Listed;
pub use self::cache::{ListingCache, Made, Unlisted};
use self::read::Entry;
use crate::files::resolve::Root;

/// Entries shown at most; the rest are counted in a closing line.
pub const MAX_ENTRIES: usize = 10_000;

/// Where a listing is asked for: the directory `dir`, found at `rel` under `root` (`.` for the
/// root), reached at the decoded URL path `url_path` with `query`; `root_name` names the served
/// folder.
pub struct Asked<'a> {
    pub root: &'a Root,
    pub dir: OwnedFd,
    pub rel: &'a str,
    pub url_path: &'a str,
    pub query: Option<&'a [u8]>,
    pub root_name: &'a str,
}

/// Renders the listing `asked` for, in the order its query asks for
/// (`sort=name|size|modified`, `order=asc|desc`), from the entries `cache` keeps if they are
/// fresh at `now`, compressed with `coding` if given (and the cache has room to do it).
///
/// # Errors
///
/// When too many directories are being read at once, or this one cannot be read.
pub fn render(
    cache: &ListingCache,
    asked: Asked<'_>,
    coding: Option<Coding>,
    now: Instant,
) -> Result<Made, Unlisted> {
    let sort = Sort::from_query(asked.query);
    let make = |listed: &Listed| {
        page::page(
            asked.root_name,
            asked.url_path,
            &listed.entries,
            listed.skipped,
            sort,
        )
    };
    let at = (asked.rel, asked.url_path);
    cache.page(asked.root, asked.dir, at, sort, coding, now, make)
}

/// The column a listing is sorted by (`?sort=name|size|modified`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    fn apply(self, entries: &mut [&Entry]) {
        match (self.column, self.ascending) {
            (Column::Name, true) => {}
            (Column::Name, false) => {
                entries.reverse();
                entries.sort_by_key(|e| !e.is_dir);
            }
            // A directory's own size says nothing about its contents: they stay by name.
            (Column::Size, ascending) => entries.sort_by(|a, b| {
                let size = |e: &&Entry| if e.is_dir { 0 } else { e.size };
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
        let asked = Asked {
            root,
            dir: dir.unwrap(),
            rel,
            url_path,
            query: query.map(str::as_bytes),
            root_name: "site",
        };
        let page = render(&ListingCache::new(1), asked, None, Instant::now()).unwrap();
        String::from_utf8(page.bytes.to_vec()).unwrap()
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
        assert!(html.contains("<title>site/</title>"), "{html}");
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
        assert!(sub.contains("<title>/A-dir/ · site</title>"), "{sub}");
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
            html.contains(
                "<time datetime=\"2024-02-29T13:05:09Z\"><span class=\"long\">2024-02-29 \
                 13:05</span><span class=\"short\">2024-02-29</span></time>"
            ),
            "{html}"
        );
        assert!(
            html.contains("(UTC)"),
            "without script the page says which zone"
        );
    }

    #[test]
    fn breadcrumbs_start_at_the_served_folder() {
        let (_dir, root) = fixture();
        let html = listing(&root, "A-dir", "/A-dir");
        assert!(
            html.contains(
                "<h1 class=\"crumbs\"><a class=\"home\" href=\"../\">site/</a>\
                 <span aria-current=\"page\">A-dir/</span></h1>"
            ),
            "{html}"
        );
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
