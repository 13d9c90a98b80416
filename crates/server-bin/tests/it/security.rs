//! No request can read a file outside the document root, or a hidden one.

use crate::support::{SECRET, Site, TestServer};

#[test]
fn traversal_attempts_never_leave_the_root() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let targets = [
        "/../secret.txt",
        "/docs/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/%2e%2e/secret.txt",
        "/docs/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/docs%2f..%2f..%2fsecret.txt",
        "/..\\secret.txt",
        "/%252e%252e/secret.txt",
        "http://t/../secret.txt",
        "http://t/%2e%2e/secret.txt",
        "/escape.txt",
        "//secret.txt",
        "/./../secret.txt",
    ];
    for target in targets {
        let raw = server.raw(
            format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let text = String::from_utf8_lossy(&raw);
        let status: u16 = text[9..12].parse().unwrap();
        assert!(matches!(status, 400 | 403 | 404), "{target} gave {status}");
        assert!(
            !raw.windows(SECRET.len()).any(|w| w == SECRET),
            "{target} leaked the secret"
        );
    }
}

#[test]
fn a_symlink_out_of_the_root_is_forbidden_but_one_inside_is_followed() {
    let site = Site::new();
    std::os::unix::fs::symlink("test.html", site.root().join("alias.html")).unwrap();
    let server = TestServer::start(&site.root(), &[]);
    assert_eq!(
        server
            .request("GET /escape.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            .status,
        403
    );
    let r = server.request("GET /alias.html HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"<h1>test</h1>\n"[..])
    );
}

#[test]
fn dotfiles_are_hidden_unless_enabled_and_well_known_is_served() {
    let site = Site::new();
    site.write(".env", b"PASSWORD=x\n");
    site.write(".git/config", b"[core]\n");
    site.write(".well-known/security.txt", b"Contact: mailto:a@b\n");
    let server = TestServer::start(&site.root(), &[]);
    assert_eq!(
        server
            .request("GET /.env HTTP/1.1\r\nHost: t\r\n\r\n")
            .status,
        404
    );
    assert_eq!(
        server
            .request("GET /.git/config HTTP/1.1\r\nHost: t\r\n\r\n")
            .status,
        404
    );
    assert_eq!(
        server
            .request("GET /.well-known/security.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            .status,
        200
    );
    drop(server);
    let server = TestServer::start(&site.root(), &["--dotfiles"]);
    assert_eq!(
        server
            .request("GET /.env HTTP/1.1\r\nHost: t\r\n\r\n")
            .status,
        200
    );
}
