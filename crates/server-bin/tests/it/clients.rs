//! Real clients: curl and wget fetch exact bytes.

use std::fs;
use std::process::Command;

use crate::support::{Site, TestServer, run_ok};

#[test]
fn curl_fetches_exact_bytes() {
    let site = Site::new();
    let big = site.write_big("big.bin", 3 * 1024 * 1024);
    let server = TestServer::start(&site.root(), &[]);
    let out = run_ok(
        Command::new("curl")
            .args(["-sS", "--fail", "--max-time", "20"])
            .arg(server.url("/test.html")),
    );
    assert_eq!(out.stdout, b"<h1>test</h1>\n");
    let dest = site.outside().join("curl-big.bin");
    run_ok(
        Command::new("curl")
            .args(["-sS", "--fail", "--max-time", "20", "-o"])
            .arg(&dest)
            .arg(server.url("/big.bin")),
    );
    assert!(fs::read(&dest).unwrap() == big, "curl download differs");
}

#[test]
fn curl_reports_404_for_missing_files() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "20",
        ])
        .arg(server.url("/missing"))
        .output()
        .expect("curl runs");
    assert_eq!(out.stdout, b"404");
}

#[test]
fn wget_fetches_exact_bytes() {
    let site = Site::new();
    let big = site.write_big("downloads/big.bin", 2 * 1024 * 1024 + 17);
    let server = TestServer::start(&site.root(), &[]);
    let dest = site.outside().join("wget");
    fs::create_dir_all(&dest).unwrap();
    run_ok(
        Command::new("wget")
            .args(["-q", "--tries=1", "--timeout=20", "-P"])
            .arg(&dest)
            .arg(server.url("/test.html")),
    );
    assert_eq!(
        fs::read(dest.join("test.html")).unwrap(),
        b"<h1>test</h1>\n"
    );
    run_ok(
        Command::new("wget")
            .args(["-q", "--tries=1", "--timeout=20", "-P"])
            .arg(&dest)
            .arg(server.url("/downloads/big.bin")),
    );
    assert!(
        fs::read(dest.join("big.bin")).unwrap() == big,
        "wget download differs"
    );
}
