//! Malformed and refused requests: each gets its status, a short body, and the connection is
//! closed when the stream can no longer be trusted; the server keeps serving others.

use std::io::{BufRead, BufReader, Read, Write};
use std::time::{Duration, Instant};

use crate::support::{Site, TestServer, read_response};

/// Sends `request` on its own connection; returns the response and whether the server then
/// closed the connection.
fn answer(server: &TestServer, request: &[u8]) -> (u16, Option<String>, bool) {
    let mut reader = BufReader::new(server.connect());
    reader.get_mut().write_all(request).unwrap();
    let r = read_response(&mut reader, false).expect("a response");
    if r.status >= 400 {
        assert!(
            r.body.starts_with(r.status.to_string().as_bytes()),
            "body names the status: {:?}",
            r.body
        );
    }
    let mut rest = Vec::new();
    let closed = reader.read_to_end(&mut rest).is_ok() && rest.is_empty();
    (r.status, r.header("allow").map(str::to_owned), closed)
}

#[test]
fn malformed_requests_get_400_and_close_and_the_next_client_is_served() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &["--idle-timeout", "30s"]);
    let cases: &[&[u8]] = &[
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",                                // no Host
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",          // two Hosts
        b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",                   // not a host
        b"GET / HTTP/1.1\r\nHost: user@a/b\r\n\r\n",              // not a host
        b"GET / HTTP/1.1\r\nHost: a:b\r\n\r\n",                   // not a port
        b"GET / HTTP/1.1\r\nHost : t\r\n\r\n",                    // space before colon
        b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n  folded\r\n\r\n", // obs-fold
        b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n",        // NUL in a value
        b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 tls hello\r\n\r\n",
    ];
    for request in cases {
        let (status, _, closed) = answer(&server, request);
        assert_eq!(status, 400, "{:?}", String::from_utf8_lossy(request));
        assert!(
            closed,
            "connection left open after {:?}",
            String::from_utf8_lossy(request)
        );
    }
    let ok = server.request("GET /test.html HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(ok.status, 200);
}

#[test]
fn a_head_refused_for_its_head_gets_a_response_without_content() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let cases: &[(&[u8], &str)] = &[
        (b"HEAD / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400"),
        (b"HEAD / HTTP/1.1\r\n\r\n", "400"),
        (b"HEAD / HTTP/1.2\r\nHost: a\r\n\r\n", "505"),
    ];
    for (request, status) in cases {
        let raw = server.raw(request);
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with(&format!("HTTP/1.1 {status} ")), "{text:?}");
        // The head says how long a GET's body would be, and nothing follows it.
        assert!(!text.contains("Content-Length: 0\r\n"), "{text:?}");
        assert!(
            text.ends_with("\r\n\r\n"),
            "content after the head: {text:?}"
        );
    }
}

#[test]
fn bad_targets_get_400_and_keep_the_connection() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let mut reader = BufReader::new(server.connect());
    for target in ["/a%00b", "/a%2fb", "/%zz", "/%FF", "*", "ftp://h/x"] {
        reader
            .get_mut()
            .write_all(format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
            .unwrap();
        let r = read_response(&mut reader, false).unwrap();
        assert_eq!(r.status, 400, "{target}");
    }
}

#[test]
fn methods_other_than_get_and_head_are_refused_with_allow() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    for method in ["POST", "PUT", "DELETE", "PATCH", "TRACE", "PROPFIND"] {
        let (status, allow, _) = answer(
            &server,
            format!("{method} /test.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(status, 405, "{method}");
        assert_eq!(allow.as_deref(), Some("GET, HEAD, OPTIONS"), "{method}");
    }
    let (status, _, closed) = answer(&server, b"BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!((status, closed), (501, true));
}

#[test]
fn unsupported_versions_get_505() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    for version in ["HTTP/2.0", "HTTP/3", "HTTP/0.9"] {
        let (status, _, closed) = answer(
            &server,
            format!("GET / {version}\r\nHost: t\r\n\r\n").as_bytes(),
        );
        assert_eq!((status, closed), (505, true), "{version}");
    }
}

#[test]
fn oversized_request_lines_get_414_and_heads_431() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(9000));
    assert_eq!(answer(&server, long_target.as_bytes()).0, 414);
    let big_field = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nCookie: {}\r\n\r\n",
        "c".repeat(17_000)
    );
    assert_eq!(answer(&server, big_field.as_bytes()).0, 431);
    let mut many = String::from("GET / HTTP/1.1\r\nHost: t\r\n");
    for i in 0..120 {
        many.push_str(&format!("X-{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(answer(&server, many.as_bytes()).0, 431);
}

#[test]
fn a_get_with_a_body_is_answered_then_closed() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let (status, _, closed) = answer(
        &server,
        b"GET /test.html HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!((status, closed), (200, true));
}

#[test]
fn an_incomplete_head_times_out_with_408() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &["--header-timeout", "300ms"]);
    let started = Instant::now();
    let (status, _, closed) = answer(&server, b"GET /test.html HTTP/1.1\r\nHost: t\r\n");
    assert_eq!((status, closed), (408, true));
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "408 before the timeout"
    );
}

#[test]
fn an_idle_keep_alive_connection_is_closed_silently() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &["--idle-timeout", "300ms"]);
    let mut reader = server.held("/test.html");
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert!(
        rest.is_empty(),
        "an idle close sends nothing: {:?}",
        String::from_utf8_lossy(&rest)
    );
}

#[test]
fn a_date_with_a_multibyte_character_gets_an_answer_not_a_dropped_connection() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    for field in ["If-Modified-Since", "If-Unmodified-Since", "If-Range"] {
        // Each pair of bytes in turn becomes one two-byte character (the length stays right),
        // so every field boundary the parser slices at falls inside one somewhere.
        for at in 0.."Sun, 06 Nov 1994 08:49:37 GMT".len() - 1 {
            let mut date = String::from("Sun, 06 Nov 1994 08:49:37 GMT");
            date.replace_range(at..at + 2, "é");
            let r = server.get(
                "/test.html",
                &format!("{field}: {date}\r\nRange: bytes=0-1\r\n"),
            );
            assert!(
                matches!(r.status, 200 | 206),
                "{field}: {date} gave {}",
                r.status
            );
        }
    }
}

#[test]
fn a_panic_while_preparing_a_response_is_a_500_one_line_and_a_log_entry() {
    let site = Site::new();
    let server = TestServer::start_with_env(
        &site.root(),
        &["--threads", "1"],
        &[("HTTP_SERVER_PANIC_PATH", "/boom"), ("RUST_BACKTRACE", "1")],
    );
    let started = Instant::now();
    for _ in 0..50 {
        let r = server.get("/boom", "");
        assert_eq!(r.status, 500);
        assert_eq!(r.header("connection"), Some("close"));
        assert_eq!(r.body, b"500 Internal Server Error\n");
    }
    assert_eq!(
        server.get("/test.html", "").status,
        200,
        "the worker lives on"
    );
    assert!(server.wait_for_log("\"GET /boom HTTP/1.1\" 500"));
    assert!(server.wait_for_stderr("panic in"), "{}", server.stderr());
    let stderr = server.stderr();
    let reports = stderr.lines().filter(|l| l.contains("panic in")).count();
    // One a second at most: a slow machine that takes longer over the 50 may print more.
    let seconds = usize::try_from(started.elapsed().as_secs()).unwrap_or(usize::MAX);
    assert!(
        (1..=seconds.saturating_add(1).min(49)).contains(&reports),
        "{reports} reports in {seconds} s: {stderr}"
    );
    assert!(!stderr.contains("backtrace"), "{stderr}");
    let metrics = server.get("/-/metrics", "");
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains("http_server_handler_panics_total 50"),
        "{text}"
    );
}

#[test]
fn a_client_that_sends_a_request_and_shuts_its_side_is_answered_and_closed_at_once() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &["--idle-timeout", "30s"]);
    for _ in 0..20 {
        let mut stream = server.connect();
        let started = Instant::now();
        stream
            .write_all(b"GET /test.html HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut out = Vec::new();
        stream.read_to_end(&mut out).unwrap();
        assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
        // The end of stream came with the request: not noticed, the server would wait out
        // the idle timeout.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "closed after {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_long_download_does_not_run_out_the_header_timeout_of_what_follows_it() {
    let site = Site::new();
    let big = site.write_big("big.bin", 4 << 20);
    let server = TestServer::start(&site.root(), &["--header-timeout", "1s"]);
    // A spare CRLF after the head, which is to be ignored (RFC 9112 §2.2).
    let mut stream = server.connect();
    stream
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(stream);
    // Read the big body slowly, for longer than the header timeout.
    let started = Instant::now();
    let mut line = String::new();
    let mut length = 0;
    while line != "\r\n" {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length: ") {
            length = v.trim().parse().unwrap();
        }
    }
    assert_eq!(length, big.len());
    let mut body = vec![0u8; length];
    for chunk in body.chunks_mut(256 * 1024) {
        reader.read_exact(chunk).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(started.elapsed() > Duration::from_millis(1500));
    assert!(body == big);
    // Nothing more may come: no 408 for a head that never started.
    reader
        .get_mut()
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut extra = [0u8; 64];
    match reader.read(&mut extra) {
        Ok(n) => panic!(
            "unasked-for bytes: {:?}",
            String::from_utf8_lossy(&extra[..n])
        ),
        Err(e) => assert!(matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
    }
    // And the connection still serves.
    reader
        .get_mut()
        .write_all(b"GET /test.html HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut reader, false).unwrap().status, 200);
}
