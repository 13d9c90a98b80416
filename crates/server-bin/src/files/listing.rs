//! Directory listings (opt-in with `--listing`): an HTML page naming a directory's entries,
//! directories first, then by name, with size and modification time and a link to the parent.
//!
//! Names are HTML-escaped and links percent-encoded, so no file name can inject markup or a
//! link elsewhere. Hidden names are never listed, nor symlinks whose target leaves the root or
//! names that are not UTF-8 (no request could reach them). It must not decide whether a
//! listing is allowed; `respond` does.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;
use std::time::UNIX_EPOCH;

use http_core::date::Civil;
use http_core::target::encode_path;

/// Entries shown at most; the rest are counted in a closing line.
pub const MAX_ENTRIES: usize = 10_000;

struct Entry {
    name: String,
    is_dir: bool,
    size: u64,
    modified: u64,
}

/// Renders the listing of `dir` (canonical, inside `root`), reached at the decoded URL path
/// `url_path`.
///
/// # Errors
///
/// When the directory cannot be read.
pub fn render(root: &Path, dir: &Path, url_path: &str) -> io::Result<String> {
    let mut entries = Vec::new();
    let mut skipped = 0usize;
    for item in fs::read_dir(dir)? {
        let Ok(item) = item else { continue };
        let Ok(name) = item.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        // Follow symlinks, but only to targets inside the root.
        let path = item.path();
        let Ok(target) = path.canonicalize() else {
            continue;
        };
        if !target.starts_with(root) {
            continue;
        }
        let Ok(meta) = fs::metadata(&target) else {
            continue;
        };
        if entries.len() == MAX_ENTRIES {
            skipped += 1;
            continue;
        }
        entries.push(Entry {
            name,
            is_dir: meta.is_dir(),
            size: meta.len(),
            modified: meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs()),
        });
    }
    entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
    Ok(page(url_path, &entries, skipped))
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
    use super::*;

    fn fixture() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("b-dir")).unwrap();
        fs::create_dir_all(root.join("a-dir")).unwrap();
        fs::create_dir_all(root.join(".hidden-dir")).unwrap();
        fs::write(root.join("z.txt"), "zz").unwrap();
        fs::write(root.join("c.txt"), "c").unwrap();
        fs::write(root.join(".env"), "secret").unwrap();
        fs::write(root.join("<img src=x onerror=alert(1)>.html"), "").unwrap();
        fs::write(root.join("a b#c?d%.txt"), "").unwrap();
        fs::write(dir.path().join("outside.txt"), "").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.txt"), root.join("escape.txt"))
            .unwrap();
        let root = root.canonicalize().unwrap();
        (dir, root)
    }

    #[test]
    fn directories_come_first_then_names_in_order() {
        let (_dir, root) = fixture();
        let html = render(&root, &root, "/").unwrap();
        let pos = |needle: &str| {
            html.find(needle)
                .unwrap_or_else(|| panic!("{needle} missing"))
        };
        assert!(pos(">a-dir/<") < pos(">b-dir/<"));
        assert!(pos(">b-dir/<") < pos(">c.txt<"));
        assert!(pos(">c.txt<") < pos(">z.txt<"));
        assert!(
            html.contains("<td class=\"size\">2</td>"),
            "the size of z.txt"
        );
    }

    #[test]
    fn hidden_names_and_escaping_symlinks_are_not_listed() {
        let (_dir, root) = fixture();
        let html = render(&root, &root, "/").unwrap();
        assert!(!html.contains(".env") && !html.contains(".hidden-dir"));
        assert!(!html.contains("escape.txt"));
    }

    #[test]
    fn names_are_escaped_in_text_and_encoded_in_links() {
        let (_dir, root) = fixture();
        let html = render(&root, &root, "/").unwrap();
        assert!(!html.contains("<img"));
        assert!(html.contains(">&lt;img src=x onerror=alert(1)&gt;.html<"));
        assert!(html.contains("href=\"./%3Cimg%20src=x%20onerror=alert(1)%3E.html\""));
        assert!(html.contains("href=\"./a%20b%23c%3Fd%25.txt\""));
    }

    #[test]
    fn only_subdirectories_link_to_their_parent() {
        let (_dir, root) = fixture();
        assert!(!render(&root, &root, "/").unwrap().contains("href=\"../\""));
        let sub = render(&root, &root.join("a-dir"), "/a-dir").unwrap();
        assert!(sub.contains("href=\"../\""));
        assert!(sub.contains("<title>Index of /a-dir/</title>"));
    }
}
