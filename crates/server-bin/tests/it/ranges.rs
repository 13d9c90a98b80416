//! Range requests (RFC 9110 §14): single, suffix and open ranges, 416, If-Range, multipart,
//! and real clients resuming downloads.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::support::{Site, TestServer, run_ok, set_mtime};

fn slice(data: &[u8], start: usize, end_inclusive: usize) -> &[u8] {
    &data[start..=end_inclusive]
}

#[test]
fn single_ranges_are_206_with_content_range() {
    let site = Site::new();
    let data = site.write_big("data.bin", 10_000);
    let server = TestServer::start(&site.root(), &[]);
    for (value, start, end) in [
        ("0-99", 0, 99),
        ("9000-", 9000, 9999),
        ("-10", 9990, 9999),
        ("5000-99999", 5000, 9999),
    ] {
        let r = server.get("/data.bin", &format!("Range: bytes={value}\r\n"));
        assert_eq!(r.status, 206, "{value}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {start}-{end}/10000").as_str()),
            "{value}"
        );
        assert_eq!(
            r.header("content-length"),
            Some((end - start + 1).to_string().as_str())
        );
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
        assert!(r.body == slice(&data, start, end), "{value}");
    }
}

#[test]
fn unsatisfiable_ranges_are_416_with_the_length() {
    let site = Site::new();
    site.write_big("data.bin", 10_000);
    let server = TestServer::start(&site.root(), &[]);
    for value in ["bytes=10000-", "bytes=20000-30000", "bytes=-0"] {
        let r = server.get("/data.bin", &format!("Range: {value}\r\n"));
        assert_eq!(r.status, 416, "{value}");
        assert_eq!(r.header("content-range"), Some("bytes */10000"), "{value}");
    }
}

#[test]
fn malformed_ranges_and_other_units_are_ignored() {
    let site = Site::new();
    site.write_big("data.bin", 10_000);
    let server = TestServer::start(&site.root(), &[]);
    for value in [
        "bytes=5-1",
        "bytes=abc",
        "items=0-5",
        "bytes=0-1,0-1",
        "bytes=0-9999,0-0",
    ] {
        let r = server.get("/data.bin", &format!("Range: {value}\r\n"));
        assert_eq!((r.status, r.body.len()), (200, 10_000), "{value}");
    }
    let seventeen: Vec<String> = (0..17)
        .map(|i| format!("{}-{}", i * 100, i * 100 + 9))
        .collect();
    let r = server.get(
        "/data.bin",
        &format!("Range: bytes={}\r\n", seventeen.join(",")),
    );
    assert_eq!(r.status, 200, "more than 16 ranges");
}

#[test]
fn if_range_honours_the_range_only_for_the_current_version() {
    let site = Site::new();
    site.write_big("data.bin", 10_000);
    // Settled an hour ago: its Last-Modified is a strong validator (RFC 9110 §8.8.2.2).
    set_mtime(&site.root().join("data.bin"), SystemTime::now() - HOUR);
    let server = TestServer::start(&site.root(), &[]);
    let full = server.get("/data.bin", "");
    let etag = full.header("etag").unwrap();
    let date = full.header("last-modified").unwrap();
    let with = |if_range: &str| {
        server
            .get(
                "/data.bin",
                &format!("Range: bytes=0-9\r\nIf-Range: {if_range}\r\n"),
            )
            .status
    };
    assert_eq!(with(etag), 206);
    assert_eq!(with(date), 206);
    assert_eq!(with("\"stale\""), 200);
    assert_eq!(
        with(&format!("W/{etag}")),
        200,
        "a weak tag never matches If-Range"
    );
    assert_eq!(with("Sun, 06 Nov 1994 08:49:37 GMT"), 200);
}

#[test]
fn if_range_with_a_date_not_a_second_before_the_response_sends_the_whole_file() {
    // Issue 10, §5: a file rewritten within the second of its Last-Modified has two versions
    // under one date; a range of the new one must not be spliced onto the old. A modification
    // time in the future stands in, without a race against the clock, for "this very second".
    let site = Site::new();
    let data = site.write_big("data.bin", 10_000);
    set_mtime(&site.root().join("data.bin"), SystemTime::now() + HOUR);
    let server = TestServer::start(&site.root(), &[]);
    let date = server
        .get("/data.bin", "")
        .header("last-modified")
        .unwrap()
        .to_owned();
    let r = server.get(
        "/data.bin",
        &format!("Range: bytes=0-9\r\nIf-Range: {date}\r\n"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, data);
    // The same request with the tag is still a range: only the date is refused.
    let etag = server
        .get("/data.bin", "")
        .header("etag")
        .unwrap()
        .to_owned();
    let r = server.get(
        "/data.bin",
        &format!("Range: bytes=0-9\r\nIf-Range: {etag}\r\n"),
    );
    assert_eq!(r.status, 206);
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn two_ranges_come_as_multipart_byteranges() {
    let site = Site::new();
    let data = site.write_big("data.txt", 5_000);
    let server = TestServer::start(&site.root(), &[]);
    let r = server.get("/data.txt", "Range: bytes=0-9, 4000-4099\r\n");
    assert_eq!(r.status, 206);
    let content_type = r.header("content-type").unwrap();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .expect("multipart content type");
    assert!(boundary.len() >= 16, "a long random boundary: {boundary}");
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );

    // Walk the parts strictly.
    let mut body = BufReader::new(&r.body[..]);
    let mut parts = Vec::new();
    loop {
        let mut delimiter = String::new();
        body.read_line(&mut delimiter).unwrap();
        if delimiter == "\r\n" {
            continue; // the CRLF that ends the previous part's data
        }
        if delimiter == format!("--{boundary}--\r\n") {
            break;
        }
        assert_eq!(delimiter, format!("--{boundary}\r\n"));
        let mut fields = Vec::new();
        loop {
            let mut line = String::new();
            body.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            fields.push(line.trim_end().to_owned());
        }
        let range = fields
            .iter()
            .find_map(|f| f.strip_prefix("Content-Range: bytes "))
            .unwrap()
            .to_owned();
        assert!(
            fields.contains(&"Content-Type: text/plain; charset=utf-8".to_owned()),
            "{fields:?}"
        );
        let (span, total) = range.split_once('/').unwrap();
        assert_eq!(total, "5000");
        let (start, end) = span.split_once('-').unwrap();
        let (start, end): (usize, usize) = (start.parse().unwrap(), end.parse().unwrap());
        let mut bytes = vec![0u8; end - start + 1];
        body.read_exact(&mut bytes).unwrap();
        assert!(bytes == slice(&data, start, end));
        parts.push((start, end));
    }
    assert_eq!(parts, [(0, 9), (4000, 4099)]);
}

#[test]
fn large_multipart_bodies_go_out_whole() {
    let site = Site::new();
    let data = site.write_big("big.bin", 3_000_000);
    let server = TestServer::start(&site.root(), &[]);
    let r = server.get("/big.bin", "Range: bytes=0-999999,2000000-2999999\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    let find = |needle: &[u8]| {
        r.body
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
    };
    let first = find(b"Content-Range: bytes 0-999999/3000000\r\n\r\n") + 41;
    assert!(r.body[first..first + 1_000_000] == data[..1_000_000]);
    let second = find(b"Content-Range: bytes 2000000-2999999/3000000\r\n\r\n") + 48;
    assert!(r.body[second..second + 1_000_000] == data[2_000_000..]);
}

#[test]
fn head_gives_the_same_headers_as_get_for_ranges() {
    let site = Site::new();
    site.write_big("data.bin", 10_000);
    let server = TestServer::start(&site.root(), &[]);
    for value in ["bytes=0-99", "bytes=99999-", "bytes=0-1,5-6"] {
        let range = format!("Range: {value}\r\n");
        let (get, head) = (
            server.get("/data.bin", &range),
            server.head("/data.bin", &range),
        );
        assert_eq!(get.status, head.status, "{value}");
        for field in ["content-range", "content-length", "etag", "accept-ranges"] {
            assert_eq!(get.header(field), head.header(field), "{field} for {value}");
        }
        if get.status == 206 && value.contains(',') {
            // Boundaries are random per response; the type is the same apart from them.
            assert!(
                head.header("content-type")
                    .unwrap()
                    .starts_with("multipart/byteranges; boundary=")
            );
        }
    }
}

#[test]
fn curl_fetches_a_range() {
    let site = Site::new();
    let data = site.write_big("data.bin", 100_000);
    let server = TestServer::start(&site.root(), &[]);
    let out = run_ok(
        Command::new("curl")
            .args(["-sS", "--fail", "--max-time", "20", "-r", "1000-1999"])
            .arg(server.url("/data.bin")),
    );
    assert!(out.stdout == data[1000..2000]);
}

#[test]
fn wget_resumes_a_half_downloaded_file_byte_exact() {
    let site = Site::new();
    let data = site.write_big("download.bin", 20 * 1024 * 1024);
    let server = TestServer::start(&site.root(), &[]);
    let dest = site.outside().join("resume");
    fs::create_dir_all(&dest).unwrap();
    fs::write(dest.join("download.bin"), &data[..data.len() / 2]).unwrap();
    run_ok(
        Command::new("wget")
            .args(["-q", "-c", "--tries=1", "--timeout=20", "-P"])
            .arg(&dest)
            .arg(server.url("/download.bin")),
    );
    let resumed = fs::read(dest.join("download.bin")).unwrap();
    assert_eq!(resumed.len(), data.len());
    assert!(resumed == data, "resumed file differs");
    // The server was asked for the second half only.
    let second_half = format!("\" 206 {} ", data.len() / 2);
    assert!(
        server.wait_for_log(&second_half),
        "{:?}",
        server.stdout_lines()
    );
}
