//! The server's own HTML pages (directory listings, error pages for browsers): one shell in the
//! start page's look (`www/style.css`, compiled in, since a served folder has no stylesheet of
//! its own), and the escaping every text put into a page goes through.
//!
//! It must not decide what a page says, only how every page is built.

use std::fmt::Write as _;

/// The start page's stylesheet plus what the server's pages add: tables for listings, muted
/// notes, and colours that keep text at WCAG AA contrast (4.5:1) in both themes.
pub const STYLE: &str = concat!(
    include_str!("../../../www/style.css"),
    r#"main.listing { max-width: 56rem; }
.crumbs { overflow-wrap: anywhere; font-size: 1.6rem; }
.crumbs a { text-decoration-thickness: 1px; text-underline-offset: 0.2em; }
.crumbs a.home { display: inline-block; min-width: 2.75rem; min-height: 2.75rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.95rem; }
th, td { text-align: left; padding: 0.35rem 0.4rem; border-bottom: 1px solid rgb(127 127 127 / 25%); }
th { font-weight: 600; white-space: nowrap; }
th a { text-decoration: none; }
td.name { overflow-wrap: anywhere; }
.size, .modified { white-space: nowrap; font-variant-numeric: tabular-nums; }
.size { text-align: right; }
tbody tr:hover { background: rgb(127 127 127 / 10%); }
.note { color: #5d6570; }
.short { display: none; }
@media (prefers-color-scheme: dark) {
  :root { --accent: #82adff; }
  .note { color: #a3acb8; }
}
@media (max-width: 36rem) {
  .crumbs { font-size: 1.3rem; }
  .size, .modified { font-size: 0.85rem; }
  .long { display: none; }
  .short { display: inline; }
}
"#
);

/// A whole page: `title` in the tab, `body` (HTML, already escaped where it holds text from
/// elsewhere) inside `<main class="{class}">`, then `script`.
pub fn page(title: &str, class: &str, body: &str, script: &str) -> String {
    let mut html = String::with_capacity(STYLE.len() + body.len() + 512);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<link rel=\"icon\" href=\"data:,\">\n\
         <style>\n{STYLE}</style>\n</head>\n<body>\n<main class=\"{class}\">\n{body}</main>\n\
         {script}</body>\n</html>\n",
        escape(title)
    );
    html
}

/// `s` with the characters that could end an element, an attribute or an entity escaped.
pub fn escape(s: &str) -> String {
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

/// Whether an `Accept` field's values name `text/html` with a non-zero weight: what browsers
/// send when they navigate, and what `curl` and `wget` (`*/*`) do not.
pub fn accepted<'a>(accept: impl Iterator<Item = &'a [u8]>) -> bool {
    accept
        .flat_map(|line| line.split(|&b| b == b','))
        .any(|range| {
            let mut parts = range.split(|&b| b == b';');
            let media = parts.next().unwrap_or_default().trim_ascii();
            media.eq_ignore_ascii_case(b"text/html")
                && parts.all(|p| {
                    let p = p.trim_ascii();
                    !(p.len() >= 2 && p[..2].eq_ignore_ascii_case(b"q=") && is_zero(&p[2..]))
                })
        })
}

/// Whether a weight (`0`, `0.0`, `0.000`) is zero.
fn is_zero(q: &[u8]) -> bool {
    q.first() == Some(&b'0') && q.iter().skip(1).all(|&b| b == b'.' || b == b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_inject_markup() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let page = page("<b>", "x", "<p>hi</p>\n", "");
        assert!(page.contains("<title>&lt;b&gt;</title>"));
        assert!(page.contains("<main class=\"x\">\n<p>hi</p>\n</main>"));
    }

    #[test]
    fn browsers_accept_html_and_curl_does_not() {
        let yes = |v: &str| accepted([v.as_bytes()].into_iter());
        assert!(yes(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        ));
        assert!(yes("application/json, TEXT/HTML ; q=0.5"));
        assert!(!yes("*/*"));
        assert!(!yes("text/html;q=0"));
        assert!(!yes("text/html; q=0.000, text/plain"));
        assert!(!yes("text/htmlx"));
        assert!(!accepted(std::iter::empty()));
        // What a script or an image asks with.
        assert!(!yes("text/*"));
        assert!(!yes("image/avif,image/webp,*/*;q=0.8"));
        assert!(yes("TEXT/HTML; charset=utf-8"));
    }
}
