//! Deploys that swap the document root while the server runs (issue 28): a symlink retargeted
//! by rename, a directory renamed in place of the root, a root that leads nowhere. Each
//! request is served from one release, and the new one within the documented bound.

use std::io::{BufReader, Read, Write};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::compression::{accept, decode, until_encoded};
use crate::support::{Site, TestServer, read_response, run_ok, wait_until};

/// The documented bound on noticing a swap (`files::root::RECHECK_INTERVAL`, docs/deployment.md).
const BOUND: Duration = Duration::from_secs(1);

/// What a loaded 2-core machine may add to the bound before the watcher or a worker runs.
const SCHEDULING_SLACK: Duration = Duration::from_secs(4);

/// A deploy layout inside a [`Site`]'s root: `releases/N` for each release, and `current`
/// leading to the first.
struct Releases {
    site: Site,
}

impl Releases {
    /// Releases `1` and `2`: each has an index, a small file, a folder to list with a file
    /// only it has, and a script worth compressing.
    fn new() -> Self {
        let site = Site::new();
        for n in ["1", "2"] {
            site.write(
                &format!("releases/{n}/index.html"),
                format!("<h1>release {n}</h1>\n").as_bytes(),
            );
            site.write(
                &format!("releases/{n}/small.txt"),
                format!("release {n}\n").as_bytes(),
            );
            site.write(&format!("releases/{n}/files/only-in-{n}.txt"), b"x");
            site.write(&format!("releases/{n}/app.js"), &script(n));
        }
        let releases = Self { site };
        run_ok(
            Command::new("ln")
                .args(["-s", "releases/1", "current"])
                .current_dir(releases.dir()),
        );
        releases
    }

    /// The directory holding `releases/` and `current`.
    fn dir(&self) -> PathBuf {
        self.site.root()
    }

    /// The root the server is given.
    fn current(&self) -> PathBuf {
        self.dir().join("current")
    }

    /// Points `current` at `target` the way deploy tools do: a new symlink renamed over the old
    /// one (`ln -sfn target current.new && mv -T current.new current`).
    fn point_at(&self, target: &str) {
        let dir = self.dir();
        run_ok(
            Command::new("ln")
                .args(["-sfn", target, "current.new"])
                .current_dir(&dir),
        );
        run_ok(
            Command::new("mv")
                .args(["-T", "current.new", "current"])
                .current_dir(&dir),
        );
    }
}

/// About 4 KiB of script that names its release: compressible, and told apart by its bytes.
fn script(release: &str) -> Vec<u8> {
    (0..100)
        .map(|i| format!("export const release{release}_{i} = \"{release}\";\n"))
        .collect::<String>()
        .into_bytes()
}

/// `GET path` on a new connection: its body, as text.
fn fetch(server: &TestServer, path: &str) -> String {
    let r = server.get(path, "");
    assert_eq!(r.status, 200, "{path}");
    String::from_utf8(r.body).unwrap()
}

/// `GET path` on the kept-alive connection `kept`: its body, as text.
fn fetch_kept(kept: &mut BufReader<std::net::TcpStream>, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
    kept.get_mut().write_all(request.as_bytes()).unwrap();
    let r = read_response(kept, false).expect("a response on the kept connection");
    assert_eq!(r.status, 200, "{path}");
    String::from_utf8(r.body).unwrap()
}

/// Waits, at most the bound plus slack, for new connections to get release 2's index;
/// returns how long that took.
fn until_release_2(server: &TestServer) -> Duration {
    let started = Instant::now();
    let limit = BOUND + SCHEDULING_SLACK;
    assert!(
        wait_until(limit, || fetch(server, "/") == "<h1>release 2</h1>\n"),
        "release 1 still served {limit:?} after the swap; stderr: {}",
        server.stderr()
    );
    started.elapsed()
}

#[test]
fn a_symlink_swapped_by_rename_is_served_on_new_and_kept_alive_connections() {
    let releases = Releases::new();
    let server = TestServer::start(&releases.current(), &["--threads", "2"]);
    let mut kept = server.held("/");
    assert_eq!(fetch(&server, "/"), "<h1>release 1</h1>\n");
    releases.point_at("releases/2");
    until_release_2(&server);
    assert_eq!(fetch_kept(&mut kept, "/"), "<h1>release 2</h1>\n");
    for _ in 0..20 {
        assert_eq!(fetch(&server, "/small.txt"), "release 2\n");
    }
    let dir = releases.dir().canonicalize().unwrap();
    let line = format!(
        "the root {} now serves {} (was {})",
        releases.current().display(),
        dir.join("releases/2").display(),
        dir.join("releases/1").display()
    );
    assert!(server.wait_for_stderr(&line), "{}", server.stderr());
    let metrics = fetch(&server, "/-/metrics");
    assert!(
        metrics.contains("\nhttp_server_root_swaps_total 1\n"),
        "{metrics}"
    );
}

#[test]
fn the_start_up_block_shows_the_root_as_given_and_the_tree_it_leads_to() {
    let releases = Releases::new();
    let server = TestServer::start(&releases.current(), &[]);
    let release = releases.dir().canonicalize().unwrap().join("releases/1");
    let line = format!(
        "  root      {} (now {})\n",
        releases.current().display(),
        release.display()
    );
    assert!(server.wait_for_stderr(&line), "{}", server.stderr());
}

#[test]
fn a_directory_renamed_in_place_of_the_root_is_served_on_new_and_kept_alive_connections() {
    let releases = Releases::new();
    let www = releases.dir().join("releases/1");
    let server = TestServer::start(&www, &["--threads", "2"]);
    let mut kept = server.held("/");
    let dir = releases.dir().join("releases");
    // `mv www www.old && mv www.new www`, with releases/1 as www and releases/2 as www.new.
    run_ok(Command::new("mv").args(["1", "1.old"]).current_dir(&dir));
    run_ok(Command::new("mv").args(["2", "1"]).current_dir(&dir));
    until_release_2(&server);
    assert_eq!(fetch_kept(&mut kept, "/"), "<h1>release 2</h1>\n");
    // The moment between the two renames is no warning.
    assert!(!server.stderr().contains("leads to no directory"));
}

#[test]
fn a_download_in_flight_during_a_swap_finishes_byte_exact_from_its_release() {
    let releases = Releases::new();
    let old = releases
        .site
        .write_big("releases/1/big.bin", 32 * 1024 * 1024);
    releases
        .site
        .write("releases/2/big.bin", b"release 2 has another big.bin\n");
    let server = TestServer::start(&releases.current(), &["--threads", "2"]);
    let (mut reader, mut body) = server.download_in_flight("/big.bin");

    releases.point_at("releases/2");
    until_release_2(&server);
    // The old release is gone from the disk, too, as a deploy's clean-up would do.
    std::fs::remove_dir_all(releases.dir().join("releases/1")).unwrap();
    assert_eq!(
        fetch(&server, "/big.bin"),
        "release 2 has another big.bin\n"
    );

    reader.read_to_end(&mut body).unwrap();
    assert_eq!(body.len(), old.len());
    assert!(body == old, "the download mixed releases");
}

#[test]
fn a_listing_and_a_cached_small_file_never_show_the_old_release_after_a_swap() {
    let releases = Releases::new();
    // One worker: every request goes through the one small-file cache.
    let server = TestServer::start(&releases.current(), &["--threads", "1", "--listing"]);
    // Past the cache's racy window, so that the next fetches fill the cache and hit it.
    std::thread::sleep(Duration::from_millis(1100));
    let mut kept = server.held("/small.txt");
    assert_eq!(fetch_kept(&mut kept, "/small.txt"), "release 1\n");
    assert_eq!(fetch(&server, "/small.txt"), "release 1\n");
    assert!(fetch(&server, "/files/").contains("only-in-1.txt"));

    releases.point_at("releases/2");
    // The listing is never cached: it shows the swap as soon as the worker has taken it.
    let limit = BOUND + SCHEDULING_SLACK;
    assert!(
        wait_until(limit, || fetch(&server, "/files/")
            .contains("only-in-2.txt")),
        "release 1 still listed {limit:?} after the swap"
    );
    // From then on nothing of release 1 is served, though its small file was cached less than
    // the cache's second of trust ago.
    for _ in 0..20 {
        assert_eq!(fetch_kept(&mut kept, "/small.txt"), "release 2\n");
        assert_eq!(fetch(&server, "/small.txt"), "release 2\n");
        let listing = fetch(&server, "/files/");
        assert!(
            listing.contains("only-in-2.txt") && !listing.contains("only-in-1.txt"),
            "{listing}"
        );
    }
}

#[test]
fn compressed_copies_are_made_from_the_release_a_request_was_served_from() {
    let releases = Releases::new();
    let server = TestServer::start(&releases.current(), &[]);
    let first = until_encoded(&server, "/app.js", &accept("gzip"), "gzip");
    assert_eq!(decode("gzip", &first.body), script("1"));
    releases.point_at("releases/2");
    until_release_2(&server);
    let second = until_encoded(&server, "/app.js", &accept("gzip"), "gzip");
    assert_eq!(decode("gzip", &second.body), script("2"));
}

#[test]
fn a_root_that_leads_nowhere_keeps_the_last_release_and_says_so_once() {
    let releases = Releases::new();
    let server = TestServer::start(&releases.current(), &[]);
    releases.point_at("releases/none");
    let warning = format!(
        "warning: the root {} leads to no directory",
        releases.current().display()
    );
    assert!(server.wait_for_stderr(&warning), "{}", server.stderr());
    for path in ["/", "/small.txt"] {
        assert!(fetch(&server, path).contains("release 1"), "{path}");
    }
    // Rechecked every interval meanwhile, and still said once.
    let said = |server: &TestServer| server.stderr().matches(&warning).count();
    std::thread::sleep(BOUND * 3);
    assert_eq!(said(&server), 1, "{}", server.stderr());

    releases.point_at("releases/2");
    until_release_2(&server);
    assert_eq!(said(&server), 1);
}
