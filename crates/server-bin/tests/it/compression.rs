//! On-the-fly compression: text files compressed once per coding by background threads and
//! served from a shared cache. A miss is served as identity at once, so every test that wants
//! the compressed copy polls for it (a file must also have settled for a second before it is
//! compressed).

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::support::{MappedWriter, Response, Site, TestServer, run_ok, set_mtime};

/// How long a test waits for a compressed copy: the racy window (1 s) plus compression by a
/// low-priority thread on a loaded 2-core machine. A passing test waits about a second.
const COMPRESSED_WITHIN: Duration = Duration::from_secs(10);

/// About 100 KiB of script that compresses like real code (varied, repetitive).
fn script() -> Vec<u8> {
    let mut text = String::new();
    let mut i = 0u32;
    while text.len() < 100 * 1024 {
        text.push_str(&format!(
            "export function f{i}(a, b) {{ return a * {} + b.length - \"k{}\"; }}\n",
            i % 97,
            i.wrapping_mul(2_654_435_761) % 10_007
        ));
        i += 1;
    }
    text.into_bytes()
}

pub fn decode(coding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "br" => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        "zstd" => out = zstd::decode_all(body).unwrap(),
        "gzip" => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
        }
        other => panic!("unexpected coding {other}"),
    }
    out
}

/// `GET path` with `fields` until it comes back encoded as `coding`.
pub fn until_encoded(server: &TestServer, path: &str, fields: &str, coding: &str) -> Response {
    let end = Instant::now() + COMPRESSED_WITHIN;
    loop {
        let r = server.get(path, fields);
        assert_eq!(r.status, 200, "{path}");
        if r.header("content-encoding") == Some(coding) {
            return r;
        }
        assert!(
            Instant::now() < end,
            "{path} not served as {coding} within {COMPRESSED_WITHIN:?}; last: {:?}",
            r.headers
        );
        thread::sleep(Duration::from_millis(20));
    }
}

pub fn accept(coding: &str) -> String {
    format!("Accept-Encoding: {coding}\r\n")
}

#[test]
fn a_miss_is_served_as_identity_at_once_then_the_compressed_copy() {
    let site = Site::new();
    let js = script();
    site.write("app.js", &js);
    let server = TestServer::start(&site.root(), &[]);
    let all = "Accept-Encoding: gzip, deflate, br, zstd\r\n";
    let first = server.get("/app.js", all);
    assert_eq!(first.header("content-encoding"), None);
    assert_eq!(first.header("vary"), Some("Accept-Encoding"));
    assert_eq!(first.body, js);
    let r = until_encoded(&server, "/app.js", all, "br");
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert_eq!(
        r.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    assert!(r.body.len() < js.len() / 3, "{} bytes", r.body.len());
    assert_eq!(decode("br", &r.body), js);
}

#[test]
fn curl_compressed_receives_and_decodes_each_coding() {
    let site = Site::new();
    let js = script();
    site.write("app.js", &js);
    let server = TestServer::start(&site.root(), &[]);
    for coding in ["br", "zstd", "gzip"] {
        until_encoded(&server, "/app.js", &accept(coding), coding);
        let out = run_ok(
            Command::new("curl")
                .args(["-sS", "--fail", "--max-time", "20", "--compressed"])
                .args(["-H", &format!("Accept-Encoding: {coding}"), "-D", "-"])
                .arg(server.url("/app.js")),
        );
        let split = out
            .stdout
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap();
        let head = String::from_utf8_lossy(&out.stdout[..split]).to_ascii_lowercase();
        assert!(
            head.contains(&format!("content-encoding: {coding}\r\n")),
            "{head}"
        );
        assert!(out.stdout[split + 4..] == js[..], "curl decoded {coding}");
    }
}

#[test]
fn wget_without_accept_encoding_gets_identity() {
    let site = Site::new();
    let js = script();
    site.write("app.js", &js);
    let server = TestServer::start(&site.root(), &[]);
    // Compressed copies exist, so identity is a choice, not a miss.
    until_encoded(&server, "/app.js", &accept("gzip"), "gzip");
    let dest = site.outside().join("wget");
    fs::create_dir_all(&dest).unwrap();
    let out = run_ok(
        Command::new("wget")
            .args(["-S", "--tries=1", "--timeout=20", "-P"])
            .arg(&dest)
            .arg(server.url("/app.js")),
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        !log.to_ascii_lowercase().contains("content-encoding"),
        "{log}"
    );
    assert!(fs::read(dest.join("app.js")).unwrap() == js);
    let r = server.get("/app.js", "");
    assert_eq!(
        (r.header("content-encoding"), r.header("vary")),
        (None, Some("Accept-Encoding"))
    );
}

#[test]
fn a_file_rewritten_in_place_is_compressed_again_and_never_served_stale() {
    let site = Site::new();
    let old = script();
    let path = site.write("app.js", &old);
    let server = TestServer::start(&site.root(), &[]);
    let before = until_encoded(&server, "/app.js", &accept("br"), "br");
    assert_eq!(decode("br", &before.body), old);
    // Same size, same inode, new bytes: only the times tell.
    let new: Vec<u8> = old.iter().map(|b| b.to_ascii_uppercase()).collect();
    let mut file = fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.seek(SeekFrom::Start(0)).unwrap();
    file.write_all(&new).unwrap();
    drop(file);
    let end = Instant::now() + COMPRESSED_WITHIN;
    loop {
        let r = server.get("/app.js", &accept("br"));
        let body = match r.header("content-encoding") {
            Some(coding) => decode(coding, &r.body),
            None => r.body.clone(),
        };
        assert!(body == new, "stale bytes after the rewrite");
        assert_ne!(r.header("etag"), before.header("etag"));
        if r.header("content-encoding") == Some("br") {
            break;
        }
        assert!(Instant::now() < end, "the new version was never compressed");
        thread::sleep(Duration::from_millis(20));
    }
}

/// How long after a change no response may show the old bytes: the server's bound (a copy is
/// served at most a second after its bytes were last verified or read) and a margin for the
/// instant a worker takes as now.
const STALE_AT_MOST: Duration = Duration::from_millis(1250);

/// The body of `r`, decoded.
fn decoded(r: &Response) -> Vec<u8> {
    match r.header("content-encoding") {
        Some(coding) => decode(coding, &r.body),
        None => r.body.clone(),
    }
}

#[test]
fn a_file_changed_through_a_shared_mapping_shows_its_new_bytes_in_every_coding_within_a_second() {
    // Only the first write through a mapping changes the file's times: after that, neither its
    // identity nor its ETag changes, and inotify reports nothing. 16 KiB goes through the
    // small-file cache too; 200 KiB does not.
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    for (name, len) in [("small.js", 16 * 1024), ("large.js", 200 * 1024)] {
        let mut text = script();
        text.resize(len, b'\n');
        let path = site.write(name, &text);
        let url = format!("/{name}");
        let mut mapped = MappedWriter::open(&path);
        let first: Vec<u8> = text.iter().map(u8::to_ascii_uppercase).collect();
        mapped.write(&first);
        let made = until_encoded(&server, &url, &accept("gzip"), "gzip");
        assert!(decode("gzip", &made.body) == first, "{name}");
        let second: Vec<u8> = text
            .iter()
            .map(|b| b.to_ascii_uppercase().max(b'7'))
            .collect();
        mapped.write(&second);
        let written = Instant::now();
        let mut compressed = false;
        while !compressed || written.elapsed() < STALE_AT_MOST * 2 {
            for fields in [accept("gzip"), "Accept-Encoding: identity\r\n".to_owned()] {
                let sent = Instant::now();
                let r = server.get(&url, &fields);
                if r.header("content-encoding").is_some() {
                    // Else the second write changed the times after all (written back between
                    // the two by a `sync`?), and this test would not test what it says.
                    assert_eq!(
                        r.header("etag"),
                        made.header("etag"),
                        "{name}: same identity"
                    );
                }
                let body = decoded(&r);
                if body == first {
                    assert!(
                        sent < written + STALE_AT_MOST,
                        "{name}: old bytes {:?} after the change ({fields:?})",
                        sent - written
                    );
                } else {
                    assert!(body == second, "{name}: neither version");
                    compressed |= r.header("content-encoding") == Some("gzip");
                }
            }
            assert!(
                written.elapsed() < COMPRESSED_WITHIN,
                "{name}: the new bytes were never served compressed"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn every_representation_has_its_own_etag_and_revalidates_to_304() {
    let site = Site::new();
    site.write("app.js", &script());
    let server = TestServer::start(&site.root(), &[]);
    let mut tags = Vec::new();
    for coding in ["br", "zstd", "gzip"] {
        let r = until_encoded(&server, "/app.js", &accept(coding), coding);
        tags.push((accept(coding), r.header("etag").unwrap().to_owned()));
    }
    let identity = server.get("/app.js", "Accept-Encoding: identity\r\n");
    assert_eq!(identity.header("content-encoding"), None);
    tags.push((
        "Accept-Encoding: identity\r\n".to_owned(),
        identity.header("etag").unwrap().to_owned(),
    ));
    for (i, (_, a)) in tags.iter().enumerate() {
        assert!(a.starts_with('"') && a.ends_with('"'), "strong: {a}");
        for (_, b) in &tags[i + 1..] {
            assert_ne!(a, b);
        }
    }
    for (fields, tag) in &tags {
        let r = server.get("/app.js", &format!("{fields}If-None-Match: {tag}\r\n"));
        assert_eq!(r.status, 304, "{fields}");
        assert_eq!(r.header("etag"), Some(tag.as_str()));
        assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    }
    // Another coding's tag does not validate this one.
    let r = server.get(
        "/app.js",
        &format!("{}If-None-Match: {}\r\n", accept("gzip"), tags[0].1),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
}

#[test]
fn a_compressed_tag_revalidates_to_304_before_the_copy_is_made_again() {
    let site = Site::new();
    site.write("app.js", &script());
    let first = TestServer::start(&site.root(), &[]);
    let r = until_encoded(&first, "/app.js", &accept("br"), "br");
    let tag = r.header("etag").unwrap().to_owned();
    drop(first);
    // A new process has an empty cache; the tag still names the same bytes.
    let second = TestServer::start(&site.root(), &[]);
    let r = second.get(
        "/app.js",
        &format!("{}If-None-Match: {tag}\r\n", accept("br")),
    );
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some(tag.as_str()));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
}

#[test]
fn a_file_dated_in_the_future_counts_as_modified_now_for_its_compressed_tag_too() {
    let site = Site::new();
    let path = site.write("app.js", &script());
    let year_2100 = std::time::UNIX_EPOCH + Duration::from_secs(4_102_444_800);
    set_mtime(&path, year_2100);
    let first = TestServer::start(&site.root(), &[]);
    let tag = until_encoded(&first, "/app.js", &accept("br"), "br")
        .header("etag")
        .unwrap()
        .to_owned();
    drop(first);
    // With the cache empty, the tag is checked before any copy is made: If-Unmodified-Since a
    // day from now holds for a file that counts as modified now, so the tag decides (304).
    let second = TestServer::start(&site.root(), &[]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let tomorrow = http_core::date::HttpDate::from_unix(now + 86_400);
    let fields = format!(
        "{}If-None-Match: {tag}\r\nIf-Unmodified-Since: {}\r\n",
        accept("br"),
        tomorrow.as_str()
    );
    assert_eq!(second.get("/app.js", &fields).status, 304);
}

#[test]
fn head_and_ranges_agree_with_the_compressed_get() {
    let site = Site::new();
    site.write("app.js", &script());
    let server = TestServer::start(&site.root(), &[]);
    let get = until_encoded(&server, "/app.js", &accept("zstd"), "zstd");
    let head = server.head("/app.js", &accept("zstd"));
    for name in ["content-encoding", "content-length", "etag", "vary"] {
        assert_eq!(head.header(name), get.header(name), "{name}");
    }
    // Ranges apply to the compressed bytes, as for sidecars.
    let r = server.get(
        "/app.js",
        &format!("{}Range: bytes=10-19\r\n", accept("zstd")),
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-encoding"), Some("zstd"));
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 10-19/{}", get.body.len()).as_str())
    );
    assert_eq!(r.body, &get.body[10..20]);
    let tag = get.header("etag").unwrap();
    let r = server.get(
        "/app.js",
        &format!("{}Range: bytes=0-9\r\nIf-Range: {tag}\r\n", accept("zstd")),
    );
    assert_eq!((r.status, r.body.as_slice()), (206, &get.body[..10]));
}

#[test]
fn a_date_in_if_range_never_splices_one_coding_onto_another() {
    // Issue 27, finding 2: the identity and gzip representations share Last-Modified, so a
    // download begun as identity (its copy not ready yet) and resumed with the date in If-Range
    // got a 206 of the gzip bytes, and the client stitched a corrupt file.
    let site = Site::new();
    let body = script();
    site.write("app.js", &body);
    let server = TestServer::start(&site.root(), &[]);
    let first = server.get("/app.js", &accept("gzip"));
    assert_eq!(first.header("vary"), Some("Accept-Encoding"));
    let date = first.header("last-modified").unwrap().to_owned();
    until_encoded(&server, "/app.js", &accept("gzip"), "gzip");
    for fields in [accept("gzip"), String::new()] {
        let resumed = server.get(
            "/app.js",
            &format!("{fields}Range: bytes=2000-\r\nIf-Range: {date}\r\n"),
        );
        // The whole representation, as the validator cannot be trusted to name it.
        assert_eq!(resumed.status, 200, "{fields:?}");
        assert_eq!(resumed.header("content-range"), None);
    }
    // An entity tag names one coding, so it still lets the range apply.
    let gzip = until_encoded(&server, "/app.js", &accept("gzip"), "gzip");
    let tag = gzip.header("etag").unwrap();
    let resumed = server.get(
        "/app.js",
        &format!(
            "{}Range: bytes=10-19\r\nIf-Range: {tag}\r\n",
            accept("gzip")
        ),
    );
    assert_eq!(
        (resumed.status, resumed.body.as_slice()),
        (206, &gzip.body[10..20])
    );
    // A file that has no other coding keeps date-validated ranges.
    site.write("pixel.png", &body);
    let png = server.get("/pixel.png", "");
    let date = png.header("last-modified").unwrap();
    thread::sleep(Duration::from_millis(1100)); // a date is strong a second after the write
    let resumed = server.get(
        "/pixel.png",
        &format!("Range: bytes=2000-2009\r\nIf-Range: {date}\r\n"),
    );
    assert_eq!(
        (resumed.status, resumed.body.as_slice()),
        (206, &body[2000..2010])
    );
}

#[test]
fn small_binary_and_off_are_sent_as_they_are_without_vary() {
    let site = Site::new();
    site.write("small.js", &[b'x'; 1000]);
    site.write("pixel.png", &[0u8; 8192]);
    site.write("app.js", &script());
    let server = TestServer::start(&site.root(), &[]);
    let off = TestServer::start(&site.root(), &["--compress", "off"]);
    let asks = [
        (&server, "/small.js"),
        (&server, "/pixel.png"),
        (&off, "/app.js"),
    ];
    for round in 0..2 {
        for (server, path) in asks {
            let r = server.get(path, &accept("br, gzip"));
            assert_eq!(
                (r.header("content-encoding"), r.header("vary")),
                (None, None),
                "{path}"
            );
        }
        if round == 0 {
            // Anything queued would be compressed by now: the racy window, and some.
            thread::sleep(Duration::from_millis(1500));
        }
    }
    let only_gzip = TestServer::start(&site.root(), &["--compress", "gzip"]);
    until_encoded(&only_gzip, "/app.js", &accept("br, gzip;q=0.5"), "gzip");
}

#[test]
fn an_accepted_sidecar_wins_over_on_the_fly_output() {
    let site = Site::new();
    let js = script();
    let path = site.write("app.js", &js);
    run_ok(Command::new("gzip").arg("-k").arg("-1").arg(&path));
    let sidecar = fs::read(site.root().join("app.js.gz")).unwrap();
    let server = TestServer::start(&site.root(), &[]);
    // br would be preferred on the fly, but the site's own gzip is accepted.
    for _ in 0..3 {
        let r = server.get("/app.js", &accept("br, gzip"));
        assert_eq!(r.header("content-encoding"), Some("gzip"));
        assert!(r.body == sidecar);
        thread::sleep(Duration::from_millis(500));
    }
    // A client that does not accept the sidecar's coding gets on-the-fly output.
    let r = until_encoded(&server, "/app.js", &accept("br"), "br");
    assert_eq!(decode("br", &r.body), js);
}

#[test]
fn metrics_count_hits_and_misses_and_the_summary_says_what_was_saved() {
    let site = Site::new();
    let js = script();
    site.write("app.js", &js);
    let mut server = TestServer::start(&site.root(), &[]);
    let r = until_encoded(&server, "/app.js", &accept("br"), "br");
    let value = |name: &str| metric(&server, name);
    assert_eq!(
        value("http_server_compression_hits_total{coding=\"br\"}"),
        1.0
    );
    assert!(value("http_server_compression_misses_total{coding=\"br\"}") >= 1.0);
    assert!(value("http_server_compression_cache_bytes") > r.body.len() as f64);
    assert!(value("http_server_compression_cpu_seconds_total") > 0.0);
    assert_eq!(value("http_server_compression_evictions_total"), 0.0);
    assert_eq!(
        value("http_server_compression_saved_bytes_total"),
        (js.len() - r.body.len()) as f64
    );
    server.signal(rustix::process::Signal::TERM);
    assert_eq!(server.wait_exit(Duration::from_secs(15)).code(), Some(0));
    let stderr = server.stderr();
    // In units for people (the exact count is the metric above).
    let saved =
        regex::Regex::new(r"compression saved [0-9.]+ (B|KiB|MiB) \(1 compressed response,")
            .unwrap();
    assert!(saved.is_match(&stderr), "{stderr}");
}

/// The value of the metric `name` (labels included) on `server`.
fn metric(server: &TestServer, name: &str) -> f64 {
    let metrics = String::from_utf8(server.get("/-/metrics", "").body).unwrap();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing in {metrics}"))
}

/// `len` pseudo-random bytes from 150 values: text that shrinks by about a tenth.
fn barely_compressible(len: usize, seed: u64) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15 ^ seed;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b' ' + (state % 150) as u8
        })
        .collect()
}

#[test]
fn a_working_set_larger_than_the_cache_is_not_recompressed_in_a_loop() {
    // Each copy takes almost a quarter of a 1 MiB cache: four fit, and asking for all six in
    // turn evicts one copy per copy made, until evicted copies wait before being made again.
    let site = Site::new();
    let names: Vec<String> = (0..6).map(|i| format!("/f{i}.txt")).collect();
    for (i, name) in names.iter().enumerate() {
        site.write(&name[1..], &barely_compressible(240 * 1024, i as u64));
    }
    let args = [
        "--compress",
        "br",
        "--compress-cache",
        "1MiB",
        "--threads",
        "1",
    ];
    let server = TestServer::start(&site.root(), &args);
    // Past the racy window, then long enough to have made every copy many times over.
    thread::sleep(Duration::from_millis(1100));
    let end = Instant::now() + Duration::from_secs(4);
    while Instant::now() < end {
        for name in &names {
            assert_eq!(server.head(name, &accept("br")).status, 200);
        }
        thread::sleep(Duration::from_millis(20));
    }
    let evictions = metric(&server, "http_server_compression_evictions_total");
    assert!(evictions <= names.len() as f64, "{evictions} evictions");
    assert!(metric(&server, "http_server_compression_refused_total") > 0.0);
    assert!(metric(&server, "http_server_compression_cache_bytes") <= (1 << 20) as f64);
}

/// Files for the property test: compressible text of random length and content, each asked
/// for in a random coding.
fn files() -> impl Strategy<Value = Vec<(Vec<u8>, &'static str)>> {
    const ALPHABET: &[u8] = b"abcdefgh ;(){}=\n\"0123";
    let text = proptest::collection::vec(proptest::sample::select(ALPHABET), 1024..40_000);
    let coding = proptest::sample::select(vec!["br", "zstd", "gzip"]);
    proptest::collection::vec((text, coding), 8)
}

proptest! {
    // Each case waits out the racy window once for its batch of files.
    #![proptest_config(ProptestConfig { cases: 2, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn decompressing_any_served_body_gives_the_files_bytes(batch in files()) {
        let site = Site::new();
        for (i, (text, _)) in batch.iter().enumerate() {
            site.write(&format!("f{i}.txt"), text);
        }
        let server = TestServer::start(&site.root(), &[]);
        for (i, (text, coding)) in batch.iter().enumerate() {
            let r = until_encoded(&server, &format!("/f{i}.txt"), &accept(coding), coding);
            prop_assert!(decode(coding, &r.body) == *text, "f{i}.txt as {coding}");
        }
    }
}
