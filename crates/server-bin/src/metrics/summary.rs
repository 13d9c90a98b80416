//! The shutdown summary printed on stderr: uptime, totals, statuses, HTTP/2's connections,
//! what the drain deadline cut, access log lines dropped, root swaps, and the busiest resources
//! in an aligned table. Uptime and bytes are for people (`10 min 40 s`, `1.12 GiB`); exact values are in the metrics. Resource
//! names come from the file system and from clients, so they are escaped for a terminal
//! (`escape::for_terminal`: UTF-8 as it is, control characters and invalid bytes as `\xHH`).

use std::fmt::Write as _;

use super::Snapshot;
use crate::{escape, human};

/// Resources in the summary's table; the rest are folded into one line.
pub const TOP: usize = 20;

/// Renders the summary; `forced_closed` is how many connections the drain deadline closed.
pub fn render(snapshot: &Snapshot, forced_closed: u64) -> String {
    let total = &snapshot.total;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "summary: uptime {}, {}, {}, {} sent",
        human::duration(snapshot.uptime),
        human::count(total.requests(), "request"),
        human::count(total.connections_opened, "connection"),
        human::size(total.bytes_sent)
    );
    if !total.statuses.is_empty() {
        let statuses: Vec<String> = total
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        let _ = writeln!(out, "responses by status: {}", statuses.join(", "));
    }
    notices(&mut out, snapshot, forced_closed);
    let mut resources: Vec<(&String, &u64)> = total.resources.iter().collect();
    resources.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    if resources.is_empty() {
        let _ = writeln!(out, "no files served");
        return out;
    }
    let width = resources
        .iter()
        .take(TOP)
        .map(|(_, n)| n.to_string().len())
        .max()
        .unwrap_or(1);
    let _ = writeln!(out, "requests per resource:");
    for (path, n) in resources.iter().take(TOP) {
        let _ = writeln!(
            out,
            "  {n:>width$}  {}",
            escape::for_terminal(path.as_bytes())
        );
    }
    if resources.len() > TOP {
        let rest: u64 = resources[TOP..].iter().map(|(_, n)| **n).sum();
        let _ = writeln!(
            out,
            "  {rest:>width$}  ({} more resources)",
            resources.len() - TOP
        );
    }
    out
}

/// The lines that appear only when something happened: HTTP/2 spoken, connections refused or
/// cut by the deadline, log lines dropped, root swaps, compression, panics.
fn notices(out: &mut String, snapshot: &Snapshot, forced_closed: u64) {
    let total = &snapshot.total;
    let h2 = &snapshot.http2;
    if h2.connections() > 0 {
        let _ = writeln!(
            out,
            "HTTP/2: {} ({} by ALPN, {} with prior knowledge), {} reset by the client, {} ended by GOAWAY for an error",
            human::count(h2.connections(), "connection"),
            h2.tls,
            h2.cleartext,
            human::count(h2.client_resets, "stream"),
            h2.error_goaways()
        );
    }
    if snapshot.refused > 0 {
        let _ = writeln!(
            out,
            "connections refused with 503 at the connection limit: {}",
            snapshot.refused
        );
    }
    if forced_closed > 0 {
        let _ = writeln!(
            out,
            "connections closed by the shutdown deadline: {forced_closed}"
        );
    }
    if snapshot.access_log_dropped > 0 {
        let _ = writeln!(
            out,
            "access log lines dropped (stdout did not keep up): {}",
            snapshot.access_log_dropped
        );
    }
    if snapshot.root_swaps > 0 {
        let _ = writeln!(
            out,
            "document root swaps (a new tree served): {}",
            snapshot.root_swaps
        );
    }
    let c = &snapshot.compression;
    let (hits, misses) = (c.hits.iter().sum::<u64>(), c.misses.iter().sum::<u64>());
    if hits + misses > 0 {
        let _ = writeln!(
            out,
            "compression saved {} ({}, {misses} sent uncompressed while compressing, {:.2}s CPU)",
            human::size(c.saved_bytes),
            human::count(hits, "compressed response"),
            c.cpu_seconds
        );
    }
    if total.panics > 0 {
        let _ = writeln!(
            out,
            "handler panics (each closed one connection): {}",
            total.panics
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::Shard;

    fn snapshot(resources: &[(&str, u64)]) -> Snapshot {
        let mut total = Shard::default();
        for (path, n) in resources {
            total.resources.insert((*path).to_owned(), *n);
            *total.statuses.entry(200).or_default() += n;
        }
        Snapshot {
            total,
            refused: 0,
            access_log_dropped: 0,
            root_swaps: 0,
            connections_active: 0,
            uptime: Duration::from_secs(3),
            tls: Default::default(),
            http2: Default::default(),
            compression: Default::default(),
        }
    }

    #[test]
    fn lists_top_resources_aligned_with_the_rest_folded() {
        let many: Vec<(String, u64)> = (0..TOP + 2).map(|i| (format!("/f{i:02}"), 1)).collect();
        let mut all: Vec<(&str, u64)> = vec![("/a", 120), ("/b", 7)];
        all.extend(many.iter().map(|(p, n)| (p.as_str(), *n)));
        let text = render(&snapshot(&all), 0);
        assert!(
            text.contains(&format!("{} requests", 127 + TOP as u64 + 2)),
            "{text}"
        );
        assert!(
            text.contains("  120  /a\n    7  /b\n    1  /f00\n"),
            "{text}"
        );
        assert!(text.contains("    4  (4 more resources)"), "{text}");
        assert!(!text.contains("shutdown deadline"), "{text}");
    }

    #[test]
    fn http2_gets_a_line_once_a_client_spoke_it() {
        let mut s = snapshot(&[("/a", 1)]);
        assert!(!render(&s, 0).contains("HTTP/2"));
        let counters = crate::metrics::http2::Http2Counters::default();
        counters.connection(crate::metrics::http2::Via::Tls);
        counters.connection(crate::metrics::http2::Via::Cleartext);
        counters.client_reset();
        counters.goaway_sent(0);
        counters.goaway_sent(0xb);
        s.http2 = counters.snapshot();
        let text = render(&s, 0);
        assert!(
            text.contains("HTTP/2: 2 connections (1 by ALPN, 1 with prior knowledge), 1 stream reset by the client, 1 ended by GOAWAY for an error\n"),
            "{text}"
        );
    }

    #[test]
    fn uptime_and_bytes_are_in_units_for_people() {
        let mut s = snapshot(&[("/a", 1)]);
        s.uptime = Duration::from_millis(639_900);
        s.total.bytes_sent = 1_207_060_939;
        let text = render(&s, 0);
        assert!(
            text.starts_with(
                "summary: uptime 10 min 40 s, 1 request, 0 connections, 1.12 GiB sent\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn resource_names_are_escaped_so_that_no_line_splits_and_no_terminal_obeys_them() {
        let text = render(
            &snapshot(&[("/a\nforged 9 /b", 2), ("/\x1b[2Jred\\.txt", 1)]),
            0,
        );
        assert!(text.contains("  2  /a\\x0Aforged 9 /b\n"), "{text}");
        assert!(text.contains("  1  /\\x1B[2Jred\\\\.txt\n"), "{text}");
        assert!(!text.contains('\x1b'), "{text}");
        assert_eq!(text.lines().count(), 5, "{text}");
    }

    #[test]
    fn resource_names_in_utf8_are_printed_as_they_are() {
        let text = render(&snapshot(&[("/résumé.pdf", 3), ("/日本/\u{9b}2J", 1)]), 0);
        assert!(text.contains("  3  /résumé.pdf\n"), "{text}");
        assert!(text.contains("  1  /日本/\\xC2\\x9B2J\n"), "{text}");
    }

    #[test]
    fn mentions_refusals_forced_closes_and_an_empty_table() {
        let mut s = snapshot(&[]);
        s.refused = 2;
        s.access_log_dropped = 5;
        s.root_swaps = 2;
        let text = render(&s, 4);
        assert!(
            text.contains("refused with 503 at the connection limit: 2"),
            "{text}"
        );
        assert!(
            text.contains("closed by the shutdown deadline: 4"),
            "{text}"
        );
        assert!(
            text.contains("access log lines dropped (stdout did not keep up): 5"),
            "{text}"
        );
        assert!(
            text.contains("document root swaps (a new tree served): 2"),
            "{text}"
        );
        assert!(text.contains("no files served"), "{text}");
        assert!(!text.contains("compression"), "{text}");
    }

    #[test]
    fn says_how_many_bytes_compression_saved() {
        let mut s = snapshot(&[("/app.js", 3)]);
        s.compression.hits = [2, 0, 0];
        s.compression.misses = [0, 0, 1];
        s.compression.saved_bytes = 140_000;
        let text = render(&s, 0);
        assert!(
            text.contains("compression saved 137 KiB (2 compressed responses, 1 sent uncompressed"),
            "{text}"
        );
    }
}
