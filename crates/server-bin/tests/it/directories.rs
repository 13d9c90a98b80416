//! Directory listings (`--listing`) and names that need escaping.

use crate::compression::{accept, decode};
use crate::support::{Site, TestServer};

fn listing_site() -> Site {
    let site = Site::new();
    site.write("files/b.txt", b"bbb");
    site.write("files/a b#c?d%e+f.txt", b"special");
    site.write("files/café.txt", b"unicode");
    site.write("files/<em>.txt", b"markup");
    site.write("files/sub/inner.txt", b"inner");
    site.write("files/.secret", b"hidden");
    site.write("files/.hidden-dir/x", b"hidden");
    site
}

#[test]
fn without_listing_a_directory_without_index_is_403() {
    let site = listing_site();
    let server = TestServer::start(&site.root(), &[]);
    let r = server.get("/files/", "");
    assert_eq!(r.status, 403);
    let body = String::from_utf8(r.body).unwrap();
    assert!(body.starts_with("403 Forbidden\n"), "{body}");
    // The visitor learns the folder cannot be shown; the operator's option goes to stderr.
    assert!(body.contains("not list folders"), "{body}");
    assert!(!body.contains("--listing"), "{body}");
    assert!(!body.contains("b.txt") && !body.contains("files"), "{body}");
    assert!(
        server.wait_for_stderr("listing   off (--listing to enable)"),
        "{}",
        server.stderr()
    );
    assert!(
        server.wait_for_stderr("--listing would list such folders"),
        "{}",
        server.stderr()
    );
}

#[test]
fn a_browser_gets_error_pages_and_curl_gets_short_text() {
    let site = listing_site();
    let server = TestServer::start(&site.root(), &[]);
    let accept = "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n";
    for (path, status) in [("/missing.html", 404), ("/files/", 403)] {
        let page = server.get(path, accept);
        assert_eq!(page.status, status);
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(page.header("vary"), Some("Accept"));
        let html = String::from_utf8(page.body).unwrap();
        assert!(html.starts_with("<!doctype html>"), "{html}");
        assert!(html.contains("<a href=\"/\">"), "a way home: {html}");
        assert!(!html.contains("--listing"), "{html}");
        let text = server.get(path, "Accept: */*\r\n");
        assert_eq!(text.status, status);
        assert_eq!(
            text.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert!(
            String::from_utf8(text.body)
                .unwrap()
                .starts_with(&status.to_string())
        );
    }
}

#[test]
fn pages_the_server_makes_answer_preconditions_as_having_no_validators() {
    let site = listing_site();
    // One worker: each response is counted before the next request is read.
    let server = TestServer::start(&site.root(), &["--listing", "--threads", "1"]);
    for path in ["/files/", "/-/metrics"] {
        assert_eq!(
            server.get(path, "If-Match: \"x\"\r\n").status,
            412,
            "{path}"
        );
        assert_eq!(server.get(path, "If-Match: *\r\n").status, 200, "{path}");
        let r = server.get(path, "If-None-Match: *\r\n");
        assert_eq!(r.status, 304, "{path}");
        assert!(r.body.is_empty(), "{path}");
        assert_eq!(
            server.get(path, "If-None-Match: \"x\"\r\n").status,
            200,
            "{path}"
        );
    }
    // The listing's 200s and its 304, as a file's are; not the 412.
    let metrics = String::from_utf8(server.get("/-/metrics", "").body).unwrap();
    let counted = "http_server_resource_requests_total{path=\"/files/\"} 3\n";
    assert!(metrics.contains(counted), "{metrics}");
}

#[test]
fn listing_shows_entries_directories_first_with_a_parent_link() {
    let site = listing_site();
    let server = TestServer::start(&site.root(), &["--listing"]);
    let r = server.get("/files/", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let html = String::from_utf8(r.body).unwrap();
    // The folder's path, then the served folder's name (the test root is called `root`).
    assert!(html.contains("<title>/files/ · root</title>"), "{html}");
    assert!(
        html.contains("<a class=\"home\" href=\"../\">root/</a>"),
        "{html}"
    );
    assert!(html.contains("href=\"../\""));
    let pos = |s: &str| {
        html.find(s)
            .unwrap_or_else(|| panic!("{s} missing from {html}"))
    };
    assert!(
        pos(">sub/<") < pos(">a b#c?d%e+f.txt<"),
        "directories first"
    );
    assert!(pos(">a b#c?d%e+f.txt<") < pos(">b.txt<"));
    assert!(
        html.contains("<td class=\"size\" title=\"3 bytes\">3 B</td>"),
        "the size of b.txt"
    );
    assert!(
        !html.contains(".secret") && !html.contains(".hidden-dir"),
        "dotfiles are never listed"
    );
    assert!(
        html.contains("&lt;em&gt;.txt") && !html.contains("<em>"),
        "names are escaped"
    );
}

#[test]
fn every_link_in_a_listing_leads_to_its_file() {
    let site = listing_site();
    let server = TestServer::start(&site.root(), &["--listing"]);
    let html = String::from_utf8(server.get("/files/", "").body).unwrap();
    let hrefs: Vec<&str> = html
        .split("href=\"./")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert_eq!(hrefs.len(), 5, "{hrefs:?}");
    for href in hrefs {
        let path = format!("/files/{}", href.replace("&amp;", "&"));
        let r = server.get(&path, "");
        assert_eq!(r.status, 200, "{path}");
    }
    let r = server.get("/files/caf%C3%A9.txt", "");
    assert_eq!(r.body, b"unicode");
}

#[test]
fn a_directory_without_slash_redirects_before_listing() {
    let site = listing_site();
    let server = TestServer::start(&site.root(), &["--listing"]);
    let r = server.get("/files/sub", "");
    assert_eq!((r.status, r.header("location")), (301, Some("/files/sub/")));
    assert_eq!(server.get("/files/sub/", "").status, 200);
}

#[test]
fn sort_links_reorder_the_listing_without_javascript() {
    let site = Site::new();
    site.write("files/small.txt", b"1");
    site.write("files/large.txt", &[b'x'; 3000]);
    site.write("files/medium.txt", b"12345");
    site.write("files/sub/x", b"");
    let server = TestServer::start(&site.root(), &["--listing"]);
    let order = |query: &str| {
        let html = String::from_utf8(server.get(&format!("/files/{query}"), "").body).unwrap();
        let names: Vec<String> = html
            .split("<td class=\"name\"><a href=\"./")
            .skip(1)
            .map(|row| row[..row.find('"').unwrap()].to_owned())
            .collect();
        (html, names)
    };
    let (html, names) = order("");
    assert_eq!(names, ["sub/", "large.txt", "medium.txt", "small.txt"]);
    assert!(
        html.contains("href=\"?sort=size&amp;order=desc\""),
        "{html}"
    );
    let (html, names) = order("?sort=size&order=desc");
    assert_eq!(names, ["sub/", "large.txt", "medium.txt", "small.txt"]);
    assert!(html.contains("title=\"3000 bytes\">2.93 KiB<"), "{html}");
    let (_, names) = order("?sort=size&order=asc");
    assert_eq!(names, ["sub/", "small.txt", "medium.txt", "large.txt"]);
    let (_, names) = order("?sort=name&order=desc");
    assert_eq!(names, ["sub/", "small.txt", "medium.txt", "large.txt"]);
}

#[test]
fn the_startup_block_says_when_listings_are_on() {
    let site = listing_site();
    let server = TestServer::start(&site.root(), &["--listing"]);
    assert!(
        server.wait_for_stderr("listing   on"),
        "{}",
        server.stderr()
    );
}

#[test]
fn a_listing_comes_compressed_to_clients_that_accept_it() {
    // Issue 26: the listing page itself was never compressed (a listing of 10,000 entries is
    // 2.6 MB of HTML).
    let site = listing_site();
    for i in 0..200 {
        site.write(&format!("files/many/file-{i}.txt"), b"x");
    }
    let server = TestServer::start(&site.root(), &["--listing"]);
    let plain = server.get("/files/many/", "");
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
    assert_eq!(plain.header("content-encoding"), None);
    for coding in ["br", "zstd", "gzip"] {
        let r = server.get("/files/many/", &accept(coding));
        assert_eq!(r.header("content-encoding"), Some(coding));
        assert_eq!(r.header("vary"), Some("Accept-Encoding"));
        assert!(
            r.body.len() < plain.body.len() / 4,
            "{coding}: {}",
            r.body.len()
        );
        assert_eq!(decode(coding, &r.body), plain.body, "{coding}");
        let head = server.head("/files/many/", &accept(coding));
        assert_eq!(head.header("content-length"), r.header("content-length"));
        assert_eq!(head.header("content-encoding"), Some(coding));
    }
    // Without compression, nothing varies.
    let off = TestServer::start(&site.root(), &["--listing", "--compress", "off"]);
    let r = off.get("/files/many/", &accept("gzip"));
    assert_eq!(
        (r.header("content-encoding"), r.header("vary")),
        (None, None)
    );
    assert_eq!(r.body, plain.body);
}
