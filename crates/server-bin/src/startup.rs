//! What the server says once it listens. On stdout, one `listening on http://ADDR:PORT` line per
//! socket: scripts and tests read the port from the first, so its form never changes. On
//! stderr, for people: the settings that explain what they will see (root, listing, workers,
//! timeouts), the URLs to open, and with `--qr` a QR code of the first URL another device can
//! open, drawn in explicit colours (see [`QR_COLOURS`]). A wildcard address (`0.0.0.0`, `::`) names no host a browser can reach, so for one
//! the URLs are those of the host's interface addresses, loopback first.
//!
//! It must not bind, accept or change anything: it only reports what `socket` set up and what
//! the open-file limit allows (`fd_limit`).

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};

use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

use crate::config::Config;
use crate::fd_limit::Budget;
use crate::files::root::SwappableRoot;
use crate::socket::{self, Listeners, Origin};
use crate::tls::{self, Tls};

/// Prints the `listening on` line(s) on stdout, then the start-up block on stderr. With TLS,
/// the URLs are `https://`, and the `--redirect-http` listener is named as such.
pub fn announce(
    config: &Config,
    budget: &Budget,
    root: &SwappableRoot,
    listeners: &Listeners,
    tls: Option<&Tls>,
) {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let redirects = |addr: &SocketAddr| tls.is_some_and(|t| addr.port() == t.redirect_port);
    let mut stdout = io::stdout().lock();
    for addr in &listeners.addrs {
        let _ = match redirects(addr) {
            true => writeln!(stdout, "redirecting http://{addr} to https"),
            false => writeln!(stdout, "listening on {scheme}://{addr}"),
        };
    }
    let _ = stdout.flush();
    drop(stdout);

    let interfaces = interface_addresses();
    let mut addresses = Vec::new();
    let mut open = Vec::new();
    for (socket, &addr) in listeners.sockets.iter().zip(&listeners.addrs) {
        if redirects(&addr) {
            addresses.push(format!("http://{addr} (redirects to https)"));
            continue;
        }
        let dual_stack = socket::is_dual_stack(socket, addr);
        addresses.push(format!("{scheme}://{addr}{}", reach(addr, dual_stack)));
        if addr.ip().is_unspecified() {
            open.extend(open_urls(addr, dual_stack, &interfaces));
        }
    }
    let origin = match listeners.origin {
        Origin::Bound => "",
        Origin::Systemd => " (sockets from systemd; --bind and --port are ignored)",
        Origin::ListenFd => " (socket from --listen-fd; --bind and --port are ignored)",
    };
    let sharing = match listeners.origin {
        Origin::Bound if !listeners.reuseport => ", one socket shared (--no-reuseport)",
        _ => "",
    };
    // Every socket bound here is set up alike; inherited ones are as their supervisor made
    // them, and the first stands for them.
    let accept = match listeners.sockets.first().and_then(socket::deferred_accept) {
        Some(wait) => format!(
            "on a connection's first bytes, or after {}s of silence (TCP_DEFER_ACCEPT)",
            wait.as_secs()
        ),
        None => "at once (no TCP_DEFER_ACCEPT)".to_owned(),
    };
    let listing = if config.listing {
        "on"
    } else {
        "off (--listing to enable)"
    };
    let mut block = format!(
        "http-server {}\n  root      {}\n  address   {}{origin}\n  listing   {listing}\n  workers   {}, at most {} connections{sharing}\n  limits    open files: {}, {}\n  accept    {accept}\n  timeouts  header {:?}, idle {:?}, send {:?}, shutdown {:?}\n",
        env!("CARGO_PKG_VERSION"),
        root_line(root),
        addresses.join(", "),
        config.threads,
        config.max_connections,
        budget.open_files,
        budget.describe(),
        config.header_timeout,
        config.idle_timeout,
        config.send_timeout,
        config.shutdown_timeout,
    );
    for (i, &addr) in open.iter().enumerate() {
        let label = if i == 0 { "open" } else { "" };
        block.push_str(&format!("  {label:<8}  {}\n", url(scheme, addr)));
    }
    block.push_str(&protocols_line(config, tls.is_some()));
    block.push_str(&endpoints_line(config));
    if config.qr {
        let candidates: Vec<SocketAddr> = listeners
            .addrs
            .iter()
            .copied()
            .filter(|a| !a.ip().is_unspecified() && !redirects(a))
            .chain(open.iter().copied())
            .collect();
        block.push_str(&qr_block(scheme, &candidates));
    }
    if let Some(tls) = tls {
        block.push_str(&format!("  tls       {}\n", tls.describe()));
        if tls.settings.source == tls::Source::SelfSigned {
            block.push_str(&trust_lines(tls.pin.as_deref(), tls.https_port));
        }
    }
    eprint!("{block}");
}

/// Which HTTP versions are spoken, and how a client gets HTTP/2: by ALPN over TLS, by its
/// preface (prior knowledge) on a plain port.
fn protocols_line(config: &Config, tls: bool) -> String {
    let versions = match (config.http2, tls) {
        (false, _) => "HTTP/1.1 (HTTP/2 off: --no-http2)",
        (true, true) => "HTTP/2 (ALPN h2) and HTTP/1.1",
        (true, false) => "HTTP/1.1 and HTTP/2 (h2c with prior knowledge; browsers use it over TLS)",
    };
    format!("  http      {versions}\n")
}

/// Where the metrics and the health answer are, and who gets the metrics.
fn endpoints_line(config: &Config) -> String {
    let metrics = match (&config.metrics_path, config.metrics_public) {
        (None, _) => "metrics off".to_owned(),
        (Some(path), true) => format!("metrics {path} (to any client: --metrics-public)"),
        (Some(path), false) => {
            format!("metrics {path} (to this machine only; --metrics-public for others)")
        }
    };
    let health = match &config.health_path {
        Some(path) => format!("health {path}"),
        None => "health off".to_owned(),
    };
    format!("  admin     {metrics}, {health}\n")
}

/// How to trust a self-signed certificate: in a browser by its fingerprint; with curl and wget
/// by its key's pin, which they check in place of the issuer check it cannot pass (without
/// the pin, `-k` and `--no-check-certificate` would accept any key).
fn trust_lines(pin: Option<&str>, port: u16) -> String {
    let url = format!("https://localhost:{port}/");
    let mut out =
        "  trust     the certificate is self-signed: compare its fingerprint above with the browser's\n"
            .to_owned();
    match pin {
        Some(pin) => out.push_str(&format!(
            "            curl -k --pinnedpubkey {pin} {url}\n            wget --no-check-certificate --pinnedpubkey={pin} {url}\n"
        )),
        None => out.push_str(&format!(
            "            curl -k {url}   (wget --no-check-certificate)\n"
        )),
    }
    out
}

/// The root as given (what is watched for swaps), and the tree it leads to now when that is
/// elsewhere (a symlink, as a deploy's `current`).
fn root_line(root: &SwappableRoot) -> String {
    let given = root.path();
    match root.current().location() {
        Some(now) if now != given => format!("{} (now {})", given.display(), now.display()),
        _ => given.display().to_string(),
    }
}

/// What a listening address reaches, after the address itself.
fn reach(addr: SocketAddr, dual_stack: bool) -> &'static str {
    match addr.ip() {
        ip if !ip.is_unspecified() => "",
        IpAddr::V4(_) => " (every IPv4 interface)",
        IpAddr::V6(_) if dual_stack => " (every interface, IPv6 and IPv4)",
        IpAddr::V6(_) => " (every IPv6 interface; this system keeps it IPv6-only)",
    }
}

/// The addresses of the host's interfaces that are up, in the system's order; none if they
/// cannot be read (the block then shows only loopback).
fn interface_addresses() -> Vec<IpAddr> {
    if_addrs::get_if_addrs()
        .map(|interfaces| {
            interfaces
                .into_iter()
                .filter(|i| i.is_loopback() || i.is_oper_up())
                .map(|i| i.ip())
                .collect()
        })
        .unwrap_or_default()
}

/// The URLs that reach a socket listening on the wildcard `addr`: one per interface address of
/// the families it accepts, loopback first, then IPv4, then IPv6. Link-local addresses are left
/// out: a browser needs a zone index for IPv6 ones, and neither kind crosses a router.
fn open_urls(addr: SocketAddr, dual_stack: bool, interfaces: &[IpAddr]) -> Vec<SocketAddr> {
    let accepts = |ip: &IpAddr| match ip {
        IpAddr::V4(_) => addr.is_ipv4() || dual_stack,
        IpAddr::V6(_) => addr.is_ipv6(),
    };
    let link_local = |ip: &IpAddr| match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    };
    let mut ips: Vec<IpAddr> = interfaces
        .iter()
        .filter(|ip| accepts(ip) && !link_local(ip) && !ip.is_unspecified())
        .copied()
        .collect();
    if ips.is_empty() {
        ips.push(match addr {
            SocketAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            SocketAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        });
    }
    // Stable: within each group the system's order stays.
    ips.sort_by_key(|ip| (!ip.is_loopback(), ip.is_ipv6()));
    ips.dedup();
    ips.into_iter()
        .map(|ip| SocketAddr::new(ip, addr.port()))
        .collect()
}

fn url(scheme: &str, addr: SocketAddr) -> String {
    format!("{scheme}://{addr}/")
}

/// The colours every line of the QR code is drawn in: black foreground for dark modules, a white
/// background for light ones (`47`, then bright white `107` where the terminal has it). Left
/// to the terminal's own colours, the code is inverted on a dark theme (light modules on dark),
/// which many scanners refuse; drawn in these, it is dark on light on every theme, quiet zone
/// included, and wherever the text ends up shown (a pipe, `less -R`, tmux), so it is drawn in
/// them whether or not stderr is a terminal.
const QR_COLOURS: &str = "\x1b[30;47;107m";

/// Resets the colours after each line, so that the indent and what follows keep the terminal's.
const RESET: &str = "\x1b[0m";

/// The QR code of the URL of the first address in `addrs` that another device can open (not
/// loopback), or a line saying there is none. The code has its quiet zone of 4 modules (ISO/IEC
/// 18004), and two rows of modules per line in half blocks.
fn qr_block(scheme: &str, addrs: &[SocketAddr]) -> String {
    let Some(url) = addrs
        .iter()
        .find(|a| !a.ip().is_loopback())
        .map(|&a| url(scheme, a))
    else {
        return "  qr        no address that another device can open: start with --bind 0.0.0.0 \
                (or ::) to serve the network\n"
            .to_owned();
    };
    let Ok(code) = QrCode::new(url.as_bytes()) else {
        return format!("  qr        {url} is too long for a QR code\n");
    };
    let image = code.render::<Dense1x2>().quiet_zone(true).build();
    let mut out = format!("  scan to open {url}\n");
    for line in image.lines() {
        out.push_str(&format!("  {QR_COLOURS}{line}{RESET}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn as_urls(addrs: Vec<SocketAddr>) -> Vec<String> {
        addrs.into_iter().map(|a| url("http", a)).collect()
    }

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    const HOST: [&str; 7] = [
        "192.0.2.2",
        "fe80::fc:ff:fe00:1",
        "127.0.0.1",
        "fd00::2",
        "::1",
        "169.254.1.1",
        "10.1.2.3",
    ];

    #[test]
    fn ipv4_wildcard_lists_loopback_then_each_ipv4_address() {
        let urls = as_urls(open_urls(
            "0.0.0.0:8080".parse().unwrap(),
            false,
            &ips(&HOST),
        ));
        assert_eq!(
            urls,
            [
                "http://127.0.0.1:8080/",
                "http://192.0.2.2:8080/",
                "http://10.1.2.3:8080/"
            ]
        );
    }

    #[test]
    fn dual_stack_wildcard_lists_both_families_and_ipv6_only_lists_ipv6() {
        let urls = as_urls(open_urls("[::]:80".parse().unwrap(), true, &ips(&HOST)));
        assert_eq!(
            urls,
            [
                "http://127.0.0.1:80/",
                "http://[::1]:80/",
                "http://192.0.2.2:80/",
                "http://10.1.2.3:80/",
                "http://[fd00::2]:80/"
            ]
        );
        let urls = as_urls(open_urls("[::]:80".parse().unwrap(), false, &ips(&HOST)));
        assert_eq!(urls, ["http://[::1]:80/", "http://[fd00::2]:80/"]);
    }

    #[test]
    fn without_interface_addresses_loopback_is_still_offered() {
        let urls = as_urls(open_urls("0.0.0.0:1".parse().unwrap(), false, &[]));
        assert_eq!(urls, ["http://127.0.0.1:1/"]);
    }

    #[test]
    fn the_qr_code_is_for_the_first_url_another_device_can_open() {
        let loopback = addrs(&["127.0.0.1:80", "[::1]:80"]);
        assert!(qr_block("http", &loopback).contains("--bind 0.0.0.0"));

        let urls = addrs(&["127.0.0.1:8080", "192.0.2.2:8080", "10.1.2.3:8080"]);
        let text = qr_block("http", &urls);
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("  scan to open http://192.0.2.2:8080/"));
        let rows: Vec<&str> = lines
            .map(|l| {
                l.strip_prefix("  ")
                    .and_then(|l| l.strip_prefix(QR_COLOURS))
                    .and_then(|l| l.strip_suffix(RESET))
                    .unwrap_or_else(|| panic!("not drawn in explicit colours: {l:?}"))
            })
            .collect();
        // A version-2 code (25 modules) with a quiet zone of 4 on each side, two rows a line.
        let modules = QrCode::new(b"http://192.0.2.2:8080/").unwrap().width() + 8;
        assert_eq!(rows.len(), modules.div_ceil(2));
        assert!(rows.iter().all(|r| r.chars().count() == modules));
        assert!(rows[0].trim().is_empty(), "the quiet zone is light");
        assert!(rows.iter().any(|r| r.contains('█')));
    }

    /// A terminal's colours, as grey levels: its default foreground and background and the
    /// palette entries the code may ask for (`30` black, `47` white, `107` bright white).
    struct Palette {
        foreground: u8,
        background: u8,
        black: u8,
        white: u8,
        bright_white: u8,
    }

    /// A dark theme (light text on near-black; its "black" is not quite black) and a light one.
    const DARK: Palette = Palette {
        foreground: 0xD3,
        background: 0x1C,
        black: 0x2E,
        white: 0xD3,
        bright_white: 0xEE,
    };
    const LIGHT: Palette = Palette {
        foreground: 0x17,
        background: 0xFF,
        black: 0x00,
        white: 0xC0,
        bright_white: 0xFF,
    };

    /// What a terminal with `palette` shows for `text` (SGR colours and half blocks
    /// understood), as a binary PGM image, 6 pixels a module, on a margin of its background.
    fn screenshot(text: &str, palette: &Palette) -> Vec<u8> {
        const SCALE: usize = 6;
        const MARGIN: usize = 4;
        let mut rows: Vec<Vec<u8>> = Vec::new();
        for line in text.lines() {
            let (mut fg, mut bg) = (palette.foreground, palette.background);
            let (mut top, mut bottom) = (Vec::new(), Vec::new());
            let mut rest = line;
            while let Some(c) = rest.chars().next() {
                if let Some(sgr) = rest.strip_prefix("\x1b[") {
                    let end = sgr.find('m').unwrap();
                    for code in sgr[..end].split(';') {
                        match code {
                            "" | "0" => (fg, bg) = (palette.foreground, palette.background),
                            "30" => fg = palette.black,
                            "47" => bg = palette.white,
                            "107" => bg = palette.bright_white,
                            other => panic!("a code the test does not know: {other}"),
                        }
                    }
                    rest = &sgr[end + 1..];
                    continue;
                }
                let (t, b) = match c {
                    '█' => (fg, fg),
                    '▀' => (fg, bg),
                    '▄' => (bg, fg),
                    _ => (bg, bg),
                };
                top.push(t);
                bottom.push(b);
                rest = &rest[c.len_utf8()..];
            }
            rows.extend([top, bottom]);
        }
        let width = rows.iter().map(Vec::len).max().unwrap() + 2 * MARGIN;
        let height = rows.len() + 2 * MARGIN;
        let mut pixels = Vec::new();
        for y in 0..height {
            let row = y.checked_sub(MARGIN).and_then(|y| rows.get(y));
            let mut line = Vec::new();
            for x in 0..width {
                let cell = x.checked_sub(MARGIN).and_then(|x| row?.get(x));
                line.extend([*cell.unwrap_or(&palette.background); SCALE]);
            }
            for _ in 0..SCALE {
                pixels.extend_from_slice(&line);
            }
        }
        let mut pgm = format!("P5\n{} {}\n255\n", width * SCALE, height * SCALE).into_bytes();
        pgm.extend(pixels);
        pgm
    }

    /// What `zbarimg` (Debian package zbar-tools; scripts/ensure-tools.sh installs it) reads in
    /// a PGM image, if anything.
    fn decode(pgm: &[u8]) -> Option<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qr.pgm");
        std::fs::write(&path, pgm).unwrap();
        let out = std::process::Command::new("zbarimg")
            .args(["--quiet", "--raw"])
            .arg(&path)
            .output()
            .expect(
                "zbarimg runs (Debian package zbar-tools; scripts/ensure-tools.sh installs it)",
            );
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
    }

    #[test]
    fn the_printed_qr_code_scans_on_a_dark_and_on_a_light_terminal() {
        let text = qr_block("http", &addrs(&["192.0.2.2:8080"]));
        let code: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
        for (name, palette) in [("dark", DARK), ("light", LIGHT)] {
            assert_eq!(
                decode(&screenshot(&code, &palette)).as_deref(),
                Some("http://192.0.2.2:8080/"),
                "on a {name} terminal"
            );
        }
        // The check can fail: the same code left to the terminal's colours is inverted on the
        // dark theme, and no scan reads it there.
        let uncoloured = code.replace(QR_COLOURS, "").replace(RESET, "");
        assert_eq!(decode(&screenshot(&uncoloured, &DARK)), None);
        assert!(decode(&screenshot(&uncoloured, &LIGHT)).is_some());
    }

    #[test]
    fn the_address_line_says_what_a_wildcard_reaches() {
        assert_eq!(reach("127.0.0.1:1".parse().unwrap(), false), "");
        assert_eq!(
            reach("0.0.0.0:1".parse().unwrap(), false),
            " (every IPv4 interface)"
        );
        assert!(reach("[::]:1".parse().unwrap(), true).contains("IPv6 and IPv4"));
        assert!(reach("[::]:1".parse().unwrap(), false).contains("IPv6-only"));
    }
}
