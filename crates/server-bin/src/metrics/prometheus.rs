//! The Prometheus text exposition format, version 0.0.4, of a [`Snapshot`]: `# HELP` and
//! `# TYPE` for every family, label values escaped as the format requires and with no control
//! character left (`escape::label_value`).

use std::fmt::Write as _;

use super::{CODINGS, DURATION_BUCKETS, Snapshot};
use crate::escape;

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders every metric family.
pub fn render(s: &Snapshot) -> String {
    let t = &s.total;
    let mut out = String::with_capacity(2048 + t.resources.len() * 64);
    render_requests(&mut out, s);
    for (name, label, kind, help, value) in [
        (
            "http_server_response_bytes_total",
            "",
            "counter",
            "Response body bytes written to clients.",
            t.bytes_sent,
        ),
        (
            "http_server_connections_active",
            "",
            "gauge",
            "Client connections open now.",
            s.connections_active as u64,
        ),
        (
            "http_server_connections_total",
            "",
            "counter",
            "Client connections accepted and served.",
            t.connections_opened,
        ),
        (
            "http_server_rejected_total",
            "{reason=\"limit\"}",
            "counter",
            "Connections answered 503 without being served: the connection limit was reached (limit).",
            s.refused,
        ),
        (
            "http_server_handler_panics_total",
            "",
            "counter",
            "Panics inside request handling; each closed one connection.",
            t.panics,
        ),
        (
            "http_server_access_log_dropped_total",
            "",
            "counter",
            "Access log lines dropped because stdout did not keep up (the log writer's queue was full).",
            s.access_log_dropped,
        ),
        (
            "http_server_root_swaps_total",
            "",
            "counter",
            "Times the document root's path was found leading to another directory (a deploy swapped it); later requests are served from the new tree.",
            s.root_swaps,
        ),
    ] {
        family(&mut out, name, kind, help);
        let _ = writeln!(out, "{name}{label} {value}");
    }
    render_durations(&mut out, s);
    render_compression(&mut out, s);
    family(
        &mut out,
        "http_server_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
    );
    let _ = writeln!(
        out,
        "http_server_uptime_seconds {:.3}",
        s.uptime.as_secs_f64()
    );
    family(
        &mut out,
        "http_server_build_info",
        "gauge",
        "Always 1; the labels describe the build.",
    );
    let _ = writeln!(
        out,
        "http_server_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    s.tls.render(&mut out);
    s.http2.render(&mut out);
    out
}

/// Requests by resource and responses by status.
fn render_requests(out: &mut String, s: &Snapshot) {
    let t = &s.total;
    family(
        out,
        "http_server_resource_requests_total",
        "counter",
        "Responses answered from each file or listing (status 200, 206 or 304), by the path of the file served (a listing by its directory).",
    );
    let mut resources: Vec<_> = t.resources.iter().collect();
    resources.sort();
    for (path, n) in resources {
        let _ = writeln!(
            out,
            "http_server_resource_requests_total{{path=\"{}\"}} {n}",
            escape::label_value(path)
        );
    }
    family(
        out,
        "http_server_responses_total",
        "counter",
        "Responses sent, by status code.",
    );
    for (code, n) in &t.statuses {
        let _ = writeln!(out, "http_server_responses_total{{code=\"{code}\"}} {n}");
    }
}

/// The request duration histogram.
fn render_durations(out: &mut String, s: &Snapshot) {
    let t = &s.total;
    family(
        out,
        "http_server_request_duration_seconds",
        "histogram",
        "Time from the first byte of a request to the last byte of its response.",
    );
    let mut cumulative = 0;
    for (upper, n) in DURATION_BUCKETS.iter().zip(t.duration_counts) {
        cumulative += n;
        let _ = writeln!(
            out,
            "http_server_request_duration_seconds_bucket{{le=\"{upper}\"}} {cumulative}"
        );
    }
    cumulative += t.duration_counts[DURATION_BUCKETS.len()];
    let _ = writeln!(
        out,
        "http_server_request_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
    );
    let _ = writeln!(
        out,
        "http_server_request_duration_seconds_sum {}",
        t.duration_sum_micros as f64 / 1e6
    );
    let _ = writeln!(
        out,
        "http_server_request_duration_seconds_count {cumulative}"
    );
}

/// On-the-fly compression's families.
fn render_compression(out: &mut String, s: &Snapshot) {
    let c = &s.compression;
    for (name, help, values) in [
        (
            "http_server_compression_hits_total",
            "Responses answered from the compressed cache, by coding.",
            c.hits,
        ),
        (
            "http_server_compression_misses_total",
            "Responses sent uncompressed because their compressed version was not ready yet (the file is queued for compression) or not verified within the last second (it is queued for verification), by coding.",
            c.misses,
        ),
    ] {
        family(out, name, "counter", help);
        for (coding, n) in CODINGS.iter().zip(values) {
            let _ = writeln!(out, "{name}{{coding=\"{}\"}} {n}", coding.token());
        }
    }
    for (name, kind, help, value) in [
        (
            "http_server_compression_cache_bytes",
            "gauge",
            "Bytes held by the compressed cache, its bookkeeping included.",
            c.cache_bytes,
        ),
        (
            "http_server_compression_cache_entries",
            "gauge",
            "Compressed representations held by the cache, and the markers of those not worth making or evicted too recently to be made again.",
            c.cache_entries,
        ),
        (
            "http_server_compression_evictions_total",
            "counter",
            "Compressed representations evicted (least recently used first) to make room.",
            c.evictions,
        ),
        (
            "http_server_compression_verifications_total",
            "counter",
            "Files read again to check that their compressed copies were made from the bytes they have now.",
            c.verifications,
        ),
        (
            "http_server_compression_stale_total",
            "counter",
            "Compressed copies dropped because their file's bytes changed while its identity (size and times) did not, as after a write through a shared mapping.",
            c.stale,
        ),
        (
            "http_server_compression_refused_total",
            "counter",
            "Copies not made because they would take more than a quarter of the cache, and responses sent uncompressed because their copy was evicted too recently to be made again.",
            c.refused,
        ),
        (
            "http_server_compression_queue_full_total",
            "counter",
            "Files not queued for compression because the queue was full; a later request queues them again.",
            c.queue_full,
        ),
        (
            "http_server_compression_saved_bytes_total",
            "counter",
            "Body bytes not sent thanks to on-the-fly compression (identity size minus compressed size, per full response).",
            c.saved_bytes,
        ),
    ] {
        family(out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
    family(
        out,
        "http_server_compression_cpu_seconds_total",
        "counter",
        "CPU time the compression threads spent compressing and verifying.",
    );
    let _ = writeln!(
        out,
        "http_server_compression_cpu_seconds_total {:.6}",
        c.cpu_seconds
    );
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::Metrics;

    #[test]
    fn path_labels_carry_no_control_character() {
        let m = Metrics::new(1);
        m.response(0, 200, Some("/\x1b[2J\r\t\u{9b}.txt"), 1, Duration::ZERO);
        let text = render(&m.snapshot());
        assert!(
            text.contains(
                "http_server_resource_requests_total{path=\"/%1B[2J%0D%09%C2%9B.txt\"} 1\n"
            ),
            "{text}"
        );
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text}");
    }

    #[test]
    fn every_family_has_help_and_type_and_the_histogram_is_cumulative() {
        let m = Metrics::new(1);
        m.response(0, 200, Some("/x\"y"), 10, Duration::from_micros(80));
        m.response(0, 404, None, 14, Duration::from_millis(2));
        let text = render(&m.snapshot());
        for name in [
            "http_server_resource_requests_total",
            "http_server_responses_total",
            "http_server_response_bytes_total",
            "http_server_connections_active",
            "http_server_connections_total",
            "http_server_rejected_total",
            "http_server_handler_panics_total",
            "http_server_access_log_dropped_total",
            "http_server_root_swaps_total",
            "http_server_request_duration_seconds",
            "http_server_compression_hits_total",
            "http_server_compression_misses_total",
            "http_server_compression_cpu_seconds_total",
            "http_server_compression_cache_bytes",
            "http_server_compression_cache_entries",
            "http_server_compression_evictions_total",
            "http_server_compression_queue_full_total",
            "http_server_compression_saved_bytes_total",
            "http_server_compression_verifications_total",
            "http_server_compression_stale_total",
            "http_server_compression_refused_total",
            "http_server_uptime_seconds",
            "http_server_build_info",
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}");
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
        }
        assert!(
            text.contains("http_server_resource_requests_total{path=\"/x\\\"y\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("http_server_responses_total{code=\"404\"} 1\n"));
        assert!(
            text.contains("http_server_request_duration_seconds_bucket{le=\"0.0001\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("http_server_request_duration_seconds_bucket{le=\"0.0025\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("http_server_request_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("http_server_request_duration_seconds_count 2\n"));
        assert!(text.contains("http_server_response_bytes_total 24\n"));
    }

    #[test]
    fn compression_counters_are_labelled_by_coding() {
        let m = Metrics::new(1);
        m.compression.hit(http_core::encoding::Coding::Zstd);
        m.compression.cache(4096, 2, 1);
        let text = render(&m.snapshot());
        assert!(text.contains("http_server_compression_hits_total{coding=\"zstd\"} 1\n"));
        assert!(text.contains("http_server_compression_hits_total{coding=\"br\"} 0\n"));
        assert!(text.contains("http_server_compression_cache_bytes 4096\n"));
        assert!(text.contains("http_server_compression_evictions_total 1\n"));
    }
}
