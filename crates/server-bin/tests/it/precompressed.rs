//! Precompressed sidecars: `file.br` and `file.gz` served to clients that accept them.

use std::process::Command;

use crate::support::{Site, TestServer, run_ok};

const ORIGINAL: &[u8] = b"body { color: red }\n";

/// A root whose `app.css` has both sidecars; their bytes only need to be recognisable.
fn sidecar_site() -> Site {
    let site = Site::new();
    site.write("app.css", ORIGINAL);
    site.write("app.css.br", b"BROTLI-BYTES");
    site.write("app.css.gz", b"GZIP-BYTES");
    site
}

#[test]
fn the_preferred_accepted_coding_is_served_with_the_original_type() {
    let site = sidecar_site();
    let server = TestServer::start(&site.root(), &[]);
    let cases = [
        ("gzip, deflate, br", Some("br"), &b"BROTLI-BYTES"[..]),
        ("gzip", Some("gzip"), b"GZIP-BYTES"),
        ("br;q=0.5, gzip;q=0.9", Some("gzip"), b"GZIP-BYTES"),
        ("br;q=0, gzip;q=0", None, ORIGINAL),
        ("identity", None, ORIGINAL),
    ];
    for (accept, coding, body) in cases {
        let r = server.get("/app.css", &format!("Accept-Encoding: {accept}\r\n"));
        assert_eq!(r.status, 200, "{accept}");
        assert_eq!(r.header("content-encoding"), coding, "{accept}");
        assert_eq!(r.body, body, "{accept}");
        assert_eq!(
            r.header("content-type"),
            Some("text/css; charset=utf-8"),
            "{accept}"
        );
        assert_eq!(r.header("vary"), Some("Accept-Encoding"), "{accept}");
    }
    // Lines of the field form one list (RFC 9110 §5.3), not just the first of them.
    let r = server.get(
        "/app.css",
        "Accept-Encoding: identity\r\nAccept-Encoding: gzip\r\n",
    );
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.body, b"GZIP-BYTES");
}

#[test]
fn each_encoding_has_its_own_etag() {
    let site = sidecar_site();
    let server = TestServer::start(&site.root(), &[]);
    let tag = |accept: &str| {
        server
            .get("/app.css", &format!("Accept-Encoding: {accept}\r\n"))
            .header("etag")
            .unwrap()
            .to_owned()
    };
    let (br, gz, plain) = (tag("br"), tag("gzip"), tag("identity"));
    assert!(br != gz && gz != plain && br != plain);
    // Revalidating the gzip copy must not match the brotli one.
    let r = server.get(
        "/app.css",
        &format!("Accept-Encoding: br\r\nIf-None-Match: {gz}\r\n"),
    );
    assert_eq!(r.status, 200);
}

#[test]
fn ranges_apply_to_the_encoded_bytes() {
    let site = sidecar_site();
    let server = TestServer::start(&site.root(), &[]);
    let r = server.get("/app.css", "Accept-Encoding: br\r\nRange: bytes=0-5\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.body, b"BROTLI");
    assert_eq!(r.header("content-range"), Some("bytes 0-5/12"));
}

#[test]
fn files_without_sidecars_do_not_vary() {
    let site = sidecar_site();
    let server = TestServer::start(&site.root(), &[]);
    let r = server.get("/test.html", "Accept-Encoding: gzip, br\r\n");
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.header("vary"), None);
}

#[test]
fn no_precompressed_turns_sidecars_off() {
    let site = sidecar_site();
    let server = TestServer::start(&site.root(), &["--no-precompressed"]);
    let r = server.get("/app.css", "Accept-Encoding: br, gzip\r\n");
    assert_eq!(r.body, ORIGINAL);
    assert_eq!(
        (r.header("content-encoding"), r.header("vary")),
        (None, None)
    );
}

#[test]
fn curl_compressed_decodes_a_real_gzip_sidecar() {
    let site = Site::new();
    let original = "<p>compressible</p>\n".repeat(500);
    let path = site.write("page.html", original.as_bytes());
    run_ok(Command::new("gzip").arg("-k").arg("-9").arg(&path));
    let server = TestServer::start(&site.root(), &[]);
    let out = run_ok(
        Command::new("curl")
            .args([
                "-sS",
                "--fail",
                "--max-time",
                "20",
                "--compressed",
                "-H",
                "Accept-Encoding: gzip",
                "-D",
                "-",
            ])
            .arg(server.url("/page.html")),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase().contains("content-encoding: gzip"),
        "{head}"
    );
    assert_eq!(body, original);
}
