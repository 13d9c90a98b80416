//! Validators and conditional requests (RFC 9110 §8.8, §13).

use std::io::Write;

use http_core::date::parse_http_date;

use crate::support::{MappedWriter, Site, TestServer, read_response, set_mtime};

const OLD_DATE: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
const FUTURE_DATE: &str = "Fri, 01 Jan 2100 00:00:00 GMT";

#[test]
fn file_responses_carry_a_strong_etag_last_modified_and_accept_ranges() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let r = server.get("/test.html", "");
    let etag = r.header("etag").expect("ETag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"),
        "{etag}"
    );
    assert!(r.header("last-modified").is_some());
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(
        server.get("/test.html", "").header("etag"),
        Some(etag),
        "stable between requests"
    );
}

#[test]
fn if_none_match_with_the_current_tag_is_304_without_a_body() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let first = server.get("/test.html", "");
    let etag = first.header("etag").unwrap();
    for value in [
        etag.to_owned(),
        format!("W/{etag}"),
        format!("\"nope\", {etag}"),
        "*".to_owned(),
    ] {
        let r = server.get("/test.html", &format!("If-None-Match: {value}\r\n"));
        assert_eq!(r.status, 304, "{value}");
        assert!(r.body.is_empty());
        assert_eq!(
            r.header("content-length"),
            None,
            "a 304 has no Content-Length of the body"
        );
        assert_eq!(r.header("etag"), Some(etag));
        assert_eq!(r.header("last-modified"), first.header("last-modified"));
        assert_eq!(r.header("cache-control"), Some("no-cache"));
        assert!(r.header("date").is_some());
    }
    assert_eq!(
        server
            .get("/test.html", "If-None-Match: \"nope\"\r\n")
            .status,
        200
    );
}

#[test]
fn tag_lists_split_over_several_lines_are_read_as_one() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let etag = server
        .get("/test.html", "")
        .header("etag")
        .unwrap()
        .to_owned();
    let split = |name: &str| format!("{name}: \"other\"\r\n{name}: {etag}\r\n");
    let r = server.get("/test.html", &split("If-None-Match"));
    assert_eq!(r.status, 304);
    assert_eq!(server.get("/test.html", &split("If-Match")).status, 200);
    let neither = "If-Match: \"other\"\r\nIf-Match: \"another\"\r\n";
    assert_eq!(server.get("/test.html", neither).status, 412);
}

#[test]
fn a_304_keeps_the_connection_usable() {
    use std::io::{BufReader, Write};
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let etag = server
        .get("/test.html", "")
        .header("etag")
        .unwrap()
        .to_owned();
    let mut reader = BufReader::new(server.connect());
    let conditional =
        format!("GET /test.html HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n");
    reader.get_mut().write_all(conditional.as_bytes()).unwrap();
    reader
        .get_mut()
        .write_all(b"GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let first = crate::support::read_response(&mut reader, false).unwrap();
    let second = crate::support::read_response(&mut reader, false).unwrap();
    assert_eq!((first.status, second.status), (304, 200));
    assert_eq!(second.body, b"body { color: red }\n");
}

#[test]
fn if_modified_since_gives_304_unless_if_none_match_says_otherwise() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let last_modified = server
        .get("/test.html", "")
        .header("last-modified")
        .unwrap()
        .to_owned();
    let ims = |date: &str| {
        server
            .get("/test.html", &format!("If-Modified-Since: {date}\r\n"))
            .status
    };
    assert_eq!(ims(&last_modified), 304);
    assert_eq!(ims(FUTURE_DATE), 304);
    assert_eq!(ims(OLD_DATE), 200);
    assert_eq!(ims("not a date"), 200, "an invalid date is ignored");
    let both = format!("If-None-Match: \"other\"\r\nIf-Modified-Since: {FUTURE_DATE}\r\n");
    assert_eq!(
        server.get("/test.html", &both).status,
        200,
        "If-None-Match takes precedence"
    );
}

#[test]
fn failed_if_match_or_if_unmodified_since_is_412() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let etag = server
        .get("/test.html", "")
        .header("etag")
        .unwrap()
        .to_owned();
    assert_eq!(
        server.get("/test.html", "If-Match: \"other\"\r\n").status,
        412
    );
    assert_eq!(
        server
            .get("/test.html", &format!("If-Match: {etag}\r\n"))
            .status,
        200
    );
    assert_eq!(
        server
            .get(
                "/test.html",
                &format!("If-Unmodified-Since: {OLD_DATE}\r\n")
            )
            .status,
        412
    );
    assert_eq!(
        server
            .get(
                "/test.html",
                &format!("If-Unmodified-Since: {FUTURE_DATE}\r\n")
            )
            .status,
        200
    );
    let r = server.get("/test.html", "If-Match: \"other\"\r\n");
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

#[test]
fn rewriting_a_file_changes_its_etag_and_revalidation_then_fails() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let before = server
        .get("/test.html", "")
        .header("etag")
        .unwrap()
        .to_owned();
    // Same size, new bytes: only the modification time (in nanoseconds) can tell.
    site.write("test.html", b"<h1>TEST</h1>\n");
    let after = server.get("/test.html", "");
    assert_ne!(after.header("etag"), Some(before.as_str()));
    assert_eq!(after.body, b"<h1>TEST</h1>\n");
    assert_eq!(
        server
            .get("/test.html", &format!("If-None-Match: {before}\r\n"))
            .status,
        200
    );
}

#[test]
fn a_file_dated_in_the_future_is_last_modified_no_later_than_now() {
    let site = Site::new();
    let path = site.write("future.txt", b"from the future\n");
    let year_2100 = std::time::UNIX_EPOCH + std::time::Duration::from_secs(4_102_444_800);
    set_mtime(&path, year_2100);
    let server = TestServer::start(&site.root(), &[]);
    for r in [
        server.get("/future.txt", ""),
        server.head("/future.txt", ""),
    ] {
        assert_eq!(r.status, 200);
        let seconds = |field| parse_http_date(r.header(field).unwrap().as_bytes()).unwrap();
        assert!(
            seconds("last-modified") <= seconds("date"),
            "Last-Modified {:?} after Date {:?}",
            r.header("last-modified"),
            r.header("date")
        );
    }
}

#[test]
fn a_file_rewritten_with_its_mtime_set_back_gets_a_new_etag() {
    // Issue 10, §5: `cp -p` and build tools rewrite a file in place and set its modification
    // time back; with the same size, only the change time (which cannot be set) tells.
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let path = site.root().join("test.html");
    let before = server.get("/test.html", "");
    let etag = before.header("etag").unwrap().to_owned();
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    site.write("test.html", b"<h1>TEST</h1>\n");
    set_mtime(&path, mtime);
    let after = server.get("/test.html", "");
    assert_eq!(after.body, b"<h1>TEST</h1>\n");
    assert_eq!(
        after.header("last-modified"),
        before.header("last-modified")
    );
    assert_ne!(after.header("etag"), Some(etag.as_str()));
    assert_eq!(
        server
            .get("/test.html", &format!("If-None-Match: {etag}\r\n"))
            .status,
        200
    );
}

#[test]
fn cache_control_is_configurable_and_errors_are_never_stored() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &["--cache-control", "public, max-age=3600"]);
    assert_eq!(
        server.get("/test.html", "").header("cache-control"),
        Some("public, max-age=3600")
    );
    assert_eq!(
        server.get("/missing", "").header("cache-control"),
        Some("no-store")
    );
}

#[test]
fn head_matches_get_for_conditional_responses() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let etag = server
        .get("/test.html", "")
        .header("etag")
        .unwrap()
        .to_owned();
    let inm = format!("If-None-Match: {etag}\r\n");
    let (get, head) = (
        server.get("/test.html", &inm),
        server.head("/test.html", &inm),
    );
    assert_eq!((get.status, head.status), (304, 304));
    assert_eq!(get.header("etag"), head.header("etag"));
}

#[test]
fn a_cached_file_rewritten_in_place_is_never_served_stale() {
    let site = Site::new();
    // One worker, so every fetch goes through the same worker's cache.
    let server = TestServer::start(&site.root(), &["--threads", "1"]);
    for i in 0..100 {
        // Same size every time: only the file's times can tell the versions apart.
        let body = format!("<h1>version {i:04}</h1>\n");
        site.write("test.html", body.as_bytes());
        let r = server.get("/test.html", "");
        assert_eq!(
            r.body,
            body.as_bytes(),
            "stale copy served after rewrite {i}"
        );
    }
}

#[test]
fn a_cached_file_replaced_by_rename_or_removed_is_noticed() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &["--threads", "1"]);
    assert_eq!(server.get("/test.html", "").body, b"<h1>test</h1>\n");
    let staged = site.write("staged.tmp", b"<h1>new!</h1>\n");
    std::fs::rename(staged, site.root().join("test.html")).unwrap();
    assert_eq!(server.get("/test.html", "").body, b"<h1>new!</h1>\n");
    std::fs::remove_file(site.root().join("test.html")).unwrap();
    assert_eq!(server.get("/test.html", "").status, 404);
}

#[test]
fn a_sidecar_added_next_to_a_cached_file_is_served_within_a_second() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &["--threads", "1"]);
    assert_eq!(
        server
            .get("/style.css", "Accept-Encoding: gzip\r\n")
            .header("content-encoding"),
        None
    );
    site.write("style.css.gz", b"GZ");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let r = server.get("/style.css", "Accept-Encoding: gzip\r\n");
        if r.header("content-encoding") == Some("gzip") {
            assert_eq!(r.body, b"GZ");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new sidecar was never served"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_settled_file_served_from_the_cache_is_refreshed_when_rewritten() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &["--threads", "1"]);
    site.write("settled.html", b"<h1>old</h1>\n");
    // Past the cache's racy window, so that the next fetches fill and then hit the cache.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut kept = server.held("/settled.html");
    let mut fetch_kept = || {
        let request = b"GET /settled.html HTTP/1.1\r\nHost: t\r\n\r\n";
        kept.get_mut().write_all(request).unwrap();
        read_response(&mut kept, false).unwrap().body
    };
    assert_eq!(fetch_kept(), b"<h1>old</h1>\n");
    assert_eq!(server.get("/settled.html", "").body, b"<h1>old</h1>\n");
    site.write("settled.html", b"<h1>new</h1>\n");
    // On a connection that stayed open (the worker reads the change queue each round), and on
    // a new one.
    assert_eq!(fetch_kept(), b"<h1>new</h1>\n");
    assert_eq!(server.get("/settled.html", "").body, b"<h1>new</h1>\n");
}

#[test]
fn a_cached_file_changed_through_a_shared_mapping_is_served_new_within_a_second() {
    // Writes through a mapping raise no inotify event: the copy's age bounds them.
    let site = Site::new();
    let server = TestServer::start(&site.root(), &["--threads", "1"]);
    let path = site.write("mapped.html", b"<h1>version 0</h1>\n");
    let mut mapped = MappedWriter::open(&path);
    mapped.write(b"<h1>version 1</h1>\n");
    // Past the racy window of the first write (the one that changes the times), so that the
    // next fetches fill and then hit the cache.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for _ in 0..2 {
        assert_eq!(server.get("/mapped.html", "").body, b"<h1>version 1</h1>\n");
    }
    mapped.write(b"<h1>version 2</h1>\n");
    let written = std::time::Instant::now();
    // The bound (a second) and a margin for the instant a worker takes as now.
    let bound = std::time::Duration::from_millis(1250);
    while written.elapsed() < bound * 2 {
        let sent = std::time::Instant::now();
        let body = server.get("/mapped.html", "").body;
        if body == b"<h1>version 1</h1>\n" {
            assert!(
                sent < written + bound,
                "old bytes {:?} after",
                sent - written
            );
        } else {
            assert_eq!(body, b"<h1>version 2</h1>\n");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn an_idle_server_closes_a_deleted_large_file_it_kept_open() {
    // A file too large for memory is kept open by the worker that served it, and a deleted
    // file's disk space is freed only when its last descriptor closes. A worker that gets no
    // further request must still close it once it has aged (a second), not at its next round.
    let site = Site::new();
    site.write_big("big.bin", 1024 * 1024);
    let path = site.root().join("big.bin");
    // A file changed within the last second is never cached (its identity could not tell two
    // versions apart).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let server = TestServer::start(&site.root(), &["--threads", "1", "--access-log", "off"]);
    let held = || {
        std::fs::read_dir(format!("/proc/{}/fd", server.pid()))
            .unwrap()
            .filter_map(|fd| std::fs::read_link(fd.unwrap().path()).ok())
            .any(|target| target.to_string_lossy().contains("big.bin"))
    };
    assert_eq!(server.get("/big.bin", "Connection: close\r\n").status, 200);
    assert!(held(), "the file is not kept open: the test shows nothing");
    std::fs::remove_file(&path).unwrap();
    assert!(
        crate::support::wait_until(std::time::Duration::from_secs(5), || !held()),
        "the deleted file is still open five seconds later"
    );
}
