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

/// A directory inside the root and a symlink to a directory outside it trade places as fast as
/// the kernel allows while three keep-alive clients ask for a file in it: not one response may
/// carry the outside file. `via` is the path the clients ask for.
fn swap_race(site: &Site, via: &str) {
    use std::io::{BufReader, Write};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use rustix::fs::{CWD, RenameFlags, renameat_with};

    use crate::support::read_response;

    let elsewhere = site.outside().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("secret.txt"), SECRET).unwrap();
    site.write("race/secret.txt", b"inside, harmless\n");
    let (dir, link) = (site.root().join("race"), site.root().join("race-link"));
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
    let server = TestServer::start(&site.root(), &["--access-log", "off", "--threads", "2"]);

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                renameat_with(CWD, &dir, CWD, &link, RenameFlags::EXCHANGE).unwrap();
                swaps += 1;
            }
            swaps
        })
    };
    let (responses, leaks) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let deadline = Instant::now() + Duration::from_secs(5);
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let (responses, leaks) = (Arc::clone(&responses), Arc::clone(&leaks));
            let mut reader = BufReader::new(server.connect());
            let request = format!("GET {via} HTTP/1.1\r\nHost: t\r\n\r\n");
            std::thread::spawn(move || {
                while Instant::now() < deadline {
                    reader.get_mut().write_all(request.as_bytes()).unwrap();
                    let r = read_response(&mut reader, false).expect("a response");
                    assert!(matches!(r.status, 200 | 403 | 404), "status {}", r.status);
                    if r.body.windows(SECRET.len()).any(|w| w == SECRET) {
                        leaks.fetch_add(1, Ordering::Relaxed);
                    }
                    responses.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    let (responses, leaks) = (
        responses.load(Ordering::Relaxed),
        leaks.load(Ordering::Relaxed),
    );
    assert!(
        swaps > 0 && responses > 0,
        "{swaps} swaps, {responses} responses"
    );
    assert_eq!(
        leaks, 0,
        "{leaks} of {responses} responses carried the outside file"
    );
}

#[test]
fn a_directory_swapped_with_a_symlink_out_of_the_root_never_leaks_a_byte() {
    swap_race(&Site::new(), "/race/secret.txt");
}

#[test]
fn a_swap_race_behind_an_absolute_symlink_inside_the_root_never_leaks_a_byte() {
    let site = Site::new();
    std::os::unix::fs::symlink(site.root().join("race"), site.root().join("abs")).unwrap();
    swap_race(&site, "/abs/secret.txt");
}

#[test]
fn through_a_symlink_out_of_the_root_existing_and_missing_files_look_the_same() {
    let site = Site::new();
    std::os::unix::fs::symlink(site.outside(), site.root().join("link")).unwrap();
    std::os::unix::fs::symlink("../", site.root().join("up")).unwrap();
    let server = TestServer::start(&site.root(), &[]);
    for prefix in ["/link", "/up"] {
        let exists = server.get(&format!("{prefix}/secret.txt"), "").status;
        let missing = server.get(&format!("{prefix}/no-such-file"), "").status;
        assert_eq!((exists, missing), (403, 403), "{prefix}");
    }
}

#[test]
fn a_file_named_with_a_trailing_slash_is_not_found() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    assert_eq!(server.get("/test.html/", "").status, 404);
    assert_eq!(server.get("/test.html/.", "").status, 404);
    assert_eq!(server.get("/test.html/%2e", "").status, 404);
    assert_eq!(server.get("/test.html", "").status, 200);
}
