//! Serving files: status, headers, bodies, keep-alive, pipelining, HTTP/1.0.

use std::io::{BufReader, Read, Write};

use crate::support::{Site, TestServer, read_response, segments_in};

#[test]
fn get_returns_the_file_with_type_length_and_validators() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let r = server.request("GET /test.html HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"<h1>test</h1>\n");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("content-length"), Some("14"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    assert!(
        r.header("last-modified")
            .is_some_and(|v| v.ends_with(" GMT"))
    );
    assert!(r.header("date").is_some_and(|v| v.ends_with(" GMT")));
    assert!(
        r.header("server")
            .is_some_and(|v| v.starts_with("http-server/"))
    );
    assert_eq!(r.header("connection"), None);
}

#[test]
fn directory_with_slash_serves_its_index() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let root = server.request("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        (root.status, root.body.as_slice()),
        (200, &b"<h1>home</h1>\n"[..])
    );
    let docs = server.request("GET /docs/ HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        (docs.status, docs.body.as_slice()),
        (200, &b"<h1>docs</h1>\n"[..])
    );
}

#[test]
fn directory_without_slash_redirects_keeping_the_query() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let r = server.request("GET /docs?page=2 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/docs/?page=2"));
}

#[test]
fn directory_without_index_is_forbidden() {
    let site = Site::new();
    site.write("empty/.keep", b"");
    let server = TestServer::start(&site.root(), &[]);
    assert_eq!(
        server
            .request("GET /empty/ HTTP/1.1\r\nHost: t\r\n\r\n")
            .status,
        403
    );
}

#[test]
fn missing_file_is_404_with_a_short_uncacheable_body() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let r = server.request("GET /nope.html HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 404);
    assert_eq!(r.body, b"404 Not Found\n");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

#[test]
fn head_has_the_get_headers_and_no_body() {
    let site = Site::new();
    site.write_big("big.bin", 100_000);
    let server = TestServer::start(&site.root(), &[]);
    for path in ["/test.html", "/big.bin", "/nope"] {
        let get = server.request(&format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n"));
        let raw = server.raw(
            format!("HEAD {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(raw.len(), head_end, "HEAD {path} sent a body");
        let head = read_response(&mut &raw[..], true).unwrap();
        assert_eq!(head.status, get.status);
        for field in ["content-type", "content-length", "last-modified"] {
            assert_eq!(head.header(field), get.header(field), "{field} of {path}");
        }
    }
}

#[test]
fn three_requests_share_one_connection() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let mut reader = BufReader::new(server.connect());
    for (path, body) in [
        ("/test.html", "<h1>test</h1>\n"),
        ("/style.css", "body { color: red }\n"),
        ("/", "<h1>home</h1>\n"),
    ] {
        reader
            .get_mut()
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
            .unwrap();
        let r = read_response(&mut reader, false).expect("the connection stays open");
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, body.as_bytes()),
            "{path}"
        );
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let mut reader = BufReader::new(server.connect());
    reader
        .get_mut()
        .write_all(
            b"GET /test.html HTTP/1.1\r\nHost: t\r\n\r\n\
              HEAD /style.css HTTP/1.1\r\nHost: t\r\n\r\n\
              GET /nope HTTP/1.1\r\nHost: t\r\n\r\n\
              GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let first = read_response(&mut reader, false).unwrap();
    let second = read_response(&mut reader, true).unwrap();
    let third = read_response(&mut reader, false).unwrap();
    let fourth = read_response(&mut reader, false).unwrap();
    assert_eq!(
        (first.status, first.body.as_slice()),
        (200, &b"<h1>test</h1>\n"[..])
    );
    assert_eq!(
        (second.status, second.header("content-length")),
        (200, Some("20"))
    );
    assert_eq!(third.status, 404);
    assert_eq!(
        (fourth.status, fourth.body.as_slice()),
        (200, &b"<h1>home</h1>\n"[..])
    );
    assert_eq!(fourth.header("connection"), Some("close"));
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "nothing after the last response");
}

#[test]
fn http10_closes_unless_keep_alive_is_asked_for() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let raw = server.raw(b"GET /test.html HTTP/1.0\r\n\r\n");
    let r = read_response(&mut &raw[..], false).unwrap();
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"<h1>test</h1>\n"[..])
    );
    assert_eq!(r.header("connection"), Some("close"));

    let mut reader = BufReader::new(server.connect());
    for _ in 0..2 {
        reader
            .get_mut()
            .write_all(b"GET /test.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        let r = read_response(&mut reader, false).unwrap();
        assert_eq!(r.header("connection"), Some("keep-alive"));
    }
}

#[test]
fn connection_close_is_honoured() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let raw = server.raw(b"GET /test.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut rest = &raw[..];
    let r = read_response(&mut rest, false).unwrap();
    assert_eq!(r.header("connection"), Some("close"));
    assert!(
        rest.is_empty(),
        "the pipelined request after close must not be answered"
    );
}

/// The last response on a connection leaves in the same packet as the FIN (nginx's
/// `tcp_nopush` does the same): one packet fewer for the client to take in per connection,
/// which is most of what a `Connection: close` request costs it on a fast network.
#[test]
fn a_final_response_shares_its_last_packet_with_the_fin() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    // A keep-alive exchange: the handshake's packets, any early ACK, and the response.
    let kept = server.held("/test.html");
    let expected = segments_in(kept.get_ref());
    // A plain close (nothing unread) and an error, which shuts the write side to linger.
    for (path, status) in [("/test.html", "200"), ("/missing", "404")] {
        let mut closed = server.connect();
        let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        closed.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        closed.read_to_end(&mut raw).unwrap();
        assert!(raw.starts_with(format!("HTTP/1.1 {status} ").as_bytes()));
        assert_eq!(
            segments_in(&closed),
            expected,
            "{path}: the FIN came in a packet of its own"
        );
    }
}

/// A closing request that fills one of the server's reads (4,096 bytes) may have bytes behind
/// it still in the socket. Closing over them would reset the connection, which can destroy the
/// response on its way; the server delivers the response and its FIN, then discards the rest.
#[test]
fn a_closing_request_with_bytes_behind_it_gets_its_response_and_a_clean_end() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let head = "GET /test.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Pad: ";
    for size in [1024, 2048, 4096] {
        let pad = "p".repeat(size - head.len() - 4);
        let request = format!("{head}{pad}\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
        let mut stream = server.connect();
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        let end = stream.read_to_end(&mut raw);
        let r = read_response(&mut &raw[..], false);
        assert_eq!(
            r.map(|r| (r.status, r.body)),
            Some((200, b"<h1>test</h1>\n".to_vec())),
            "{size}-byte request"
        );
        assert!(
            end.is_ok(),
            "{size}-byte request: the connection ended in {end:?}"
        );
    }
}

#[test]
fn large_files_arrive_byte_exact() {
    let site = Site::new();
    let data = site.write_big("big.bin", 5 * 1024 * 1024 + 3);
    let server = TestServer::start(&site.root(), &[]);
    let r = server.request("GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert!(r.body == data, "body differs");
}

#[test]
fn options_lists_the_allowed_methods() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    for target in ["/test.html", "*"] {
        let r = server.request(&format!("OPTIONS {target} HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert_eq!(r.status, 204, "{target}");
        assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
        assert_eq!(r.header("content-length"), None);
    }
}

#[test]
fn resource_names_with_special_characters_are_served() {
    let site = Site::new();
    site.write("a b#c?d%e+f/café.txt", b"special\n");
    let server = TestServer::start(&site.root(), &[]);
    let r = server.request("GET /a%20b%23c%3Fd%25e+f/caf%C3%A9.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"special\n"[..]));
}
