//! The listing as an HTML page: breadcrumbs from the served folder down, a table sortable by its
//! column heads (links, no JavaScript needed), sizes for people with the exact bytes in a
//! `title`, and modification times as `<time>` in UTC, which a few lines of inline script show in
//! the viewer's time zone (on a phone, the date alone). Dates and sizes never wrap, names may
//! break anywhere, so a 400 px wide phone shows the table without scrolling sideways.
//!
//! Names are HTML-escaped and links percent-encoded, so no file name can inject markup or a link
//! elsewhere. It must not read the directory.

use std::fmt::Write as _;

use http_core::date::Civil;
use http_core::target::encode_path;

use super::read::Entry;
use super::{Column, MAX_ENTRIES, Sort};
use crate::{html, human};

/// Shows each `<time>` in the viewer's time zone; without JavaScript the page says UTC.
const LOCAL_TIME_SCRIPT: &str = r#"<script>
const pad = n => String(n).padStart(2, "0");
for (const t of document.querySelectorAll("time")) {
  const d = new Date(t.dateTime);
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  t.querySelector(".long").textContent = `${day} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  t.querySelector(".short").textContent = day;
}
for (const zone of document.querySelectorAll(".zone")) zone.remove();
</script>
"#;

/// The page for `entries` of the folder at `url_path` of the served folder `root_name`, in
/// `sort`'s order, noting `skipped` entries left out.
pub fn page(
    root_name: &str,
    url_path: &str,
    entries: &[Entry],
    skipped: usize,
    sort: Sort,
) -> String {
    // The entries may be shared with other requests (`cache`): the order is of references.
    let mut entries: Vec<&Entry> = entries.iter().collect();
    sort.apply(&mut entries);
    let title = match url_path {
        "/" => format!("{root_name}/"),
        path => format!("{path}/ · {root_name}"),
    };
    let mut body = String::with_capacity(2048 + entries.len() * 300);
    let _ = write!(
        body,
        "<h1 class=\"crumbs\">{}</h1>\n<table>\n<thead><tr>",
        breadcrumbs(root_name, url_path)
    );
    for column in Column::ALL {
        head_cell(&mut body, column, sort);
    }
    body.push_str("</tr></thead>\n<tbody>\n");
    if url_path != "/" {
        body.push_str(
            "<tr><td class=\"name\"><a href=\"../\">../</a> <span class=\"note\">(parent folder)</span></td>\
             <td class=\"size\"></td><td class=\"modified\"></td></tr>\n",
        );
    }
    for entry in &entries {
        row(&mut body, entry);
    }
    if entries.is_empty() {
        body.push_str("<tr><td class=\"note\" colspan=\"3\">This folder is empty.</td></tr>\n");
    }
    body.push_str("</tbody>\n</table>\n");
    if skipped > 0 {
        let _ = writeln!(
            body,
            "<p class=\"note\">{skipped} more entries not shown (a listing shows at most \
             {MAX_ENTRIES}, the first in name order).</p>"
        );
    }
    html::page(&title, "listing", &body, LOCAL_TIME_SCRIPT)
}

/// A column head: a link to the other order of its column, marked when it is the current one.
fn head_cell(body: &mut String, column: Column, sort: Sort) {
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
        body,
        "<th class=\"{class}\"{aria}><a href=\"{}\">{}{arrow}</a>{zone}</th>",
        sort.link(column),
        column.label()
    );
}

/// One entry's row.
fn row(body: &mut String, entry: &Entry) {
    let slash = if entry.is_dir { "/" } else { "" };
    // `./` keeps a name such as `a:b` from reading as a URL scheme.
    let href = html::escape(&format!("./{}{slash}", encode_path(&entry.name)));
    let name = html::escape(&entry.name);
    let size = if entry.is_dir {
        "<td class=\"size\">—</td>".to_owned()
    } else {
        format!(
            "<td class=\"size\" title=\"{}\">{}</td>",
            human::count(entry.size, "byte"),
            human::size(entry.size)
        )
    };
    let t = Civil::from_unix(entry.modified);
    let day = format!("{:04}-{:02}-{:02}", t.year, t.month, t.day);
    let _ = writeln!(
        body,
        "<tr><td class=\"name\"><a href=\"{href}\">{name}{slash}</a></td>{size}\
         <td class=\"modified\"><time datetime=\"{day}T{:02}:{:02}:{:02}Z\">\
         <span class=\"long\">{day} {:02}:{:02}</span><span class=\"short\">{day}</span>\
         </time></td></tr>",
        t.hour, t.minute, t.second, t.hour, t.minute
    );
}

/// The served folder and each folder on the way to the one listed, each a link but the last.
/// The links are relative (`../../`), so the page also works under a path prefix added by a
/// proxy; the first is the served folder's name, a tap target of its own size.
fn breadcrumbs(root_name: &str, url_path: &str) -> String {
    let segments: Vec<&str> = url_path.split('/').filter(|s| !s.is_empty()).collect();
    let mut out = String::new();
    let crumb = |out: &mut String, levels_up: usize, text: &str, class: &str| {
        if levels_up == 0 {
            let _ = write!(out, "<span aria-current=\"page\">{text}</span>");
        } else {
            let _ = write!(
                out,
                "<a{class} href=\"{}\">{text}</a>",
                "../".repeat(levels_up)
            );
        }
    };
    let home = format!("{}/", html::escape(root_name));
    crumb(&mut out, segments.len(), &home, " class=\"home\"");
    for (i, segment) in segments.iter().enumerate() {
        let text = format!("{}/", html::escape(segment));
        crumb(&mut out, segments.len() - 1 - i, &text, "");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breadcrumbs_start_at_the_served_folder_and_link_every_folder_above() {
        assert_eq!(
            breadcrumbs("www", "/a/<b> c/d"),
            "<a class=\"home\" href=\"../../../\">www/</a><a href=\"../../\">a/</a>\
             <a href=\"../\">&lt;b&gt; c/</a><span aria-current=\"page\">d/</span>"
        );
        assert_eq!(
            breadcrumbs("my <site>", "/"),
            "<span aria-current=\"page\">my &lt;site&gt;/</span>"
        );
    }

    #[test]
    fn one_byte_is_one_byte() {
        let mut body = String::new();
        let entry = Entry {
            key: Vec::new(),
            name: "a".into(),
            is_dir: false,
            size: 1,
            modified: 0,
        };
        row(&mut body, &entry);
        assert!(body.contains("title=\"1 byte\">1 B<"), "{body}");
    }
}
