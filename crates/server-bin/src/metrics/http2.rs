//! HTTP/2 counters: connections that spoke it (by how they chose it), streams refused, streams
//! the client reset, and the RST_STREAM and GOAWAY frames the server sent, by error code. A
//! flood or a rapid-reset attack shows here as `enhance_your_calm`. Like the TLS counters these
//! are process-wide relaxed atomics: each is bumped once per connection or per error, never per
//! byte.
//!
//! This module counts; it must not decide what is an error (the HTTP/2 codec does).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// RFC 9113 §7's error codes, by value, as metric labels; a code past them counts as `other`.
const CODES: [&str; 15] = [
    "no_error",
    "protocol_error",
    "internal_error",
    "flow_control_error",
    "settings_timeout",
    "stream_closed",
    "frame_size_error",
    "refused_stream",
    "cancel",
    "compression_error",
    "connect_error",
    "enhance_your_calm",
    "inadequate_security",
    "http_1_1_required",
    "other",
];

/// How a connection came to speak HTTP/2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// ALPN `h2` in the TLS handshake.
    Tls,
    /// The client preface on a plain connection (prior knowledge).
    Cleartext,
}

/// The HTTP/2 counters of the process.
#[derive(Debug, Default)]
pub struct Http2Counters {
    /// Whether the server speaks HTTP/2 at all (else nothing is rendered).
    enabled: AtomicBool,
    tls: AtomicU64,
    cleartext: AtomicU64,
    client_resets: AtomicU64,
    resets_sent: [AtomicU64; CODES.len()],
    goaways_sent: [AtomicU64; CODES.len()],
}

/// The counters as read at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Http2Snapshot {
    /// Whether the server speaks HTTP/2.
    pub enabled: bool,
    /// Connections that chose HTTP/2 by ALPN, and by the preface on a plain connection.
    pub tls: u64,
    /// See `tls`.
    pub cleartext: u64,
    /// Streams the client reset (RST_STREAM) before their response was done.
    pub client_resets: u64,
    /// RST_STREAM frames sent, by error code label.
    pub resets_sent: Vec<(&'static str, u64)>,
    /// GOAWAY frames sent, by error code label.
    pub goaways_sent: Vec<(&'static str, u64)>,
}

/// The index of error code `code` in [`CODES`].
fn index(code: u32) -> usize {
    usize::try_from(code).map_or(CODES.len() - 1, |c| c.min(CODES.len() - 1))
}

impl Http2Counters {
    /// The server speaks HTTP/2.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// A connection began to speak HTTP/2.
    pub fn connection(&self, via: Via) {
        let counter = match via {
            Via::Tls => &self.tls,
            Via::Cleartext => &self.cleartext,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The client reset a stream whose response was not done.
    pub fn client_reset(&self) {
        self.client_resets.fetch_add(1, Ordering::Relaxed);
    }

    /// The server reset a stream with error code `code`.
    pub fn reset_sent(&self, code: u32) {
        self.resets_sent[index(code)].fetch_add(1, Ordering::Relaxed);
    }

    /// The server sent GOAWAY with error code `code`.
    pub fn goaway_sent(&self, code: u32) {
        self.goaways_sent[index(code)].fetch_add(1, Ordering::Relaxed);
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> Http2Snapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let by_code = |counters: &[AtomicU64; CODES.len()]| {
            CODES
                .iter()
                .zip(counters)
                .map(|(label, c)| (*label, get(c)))
                .collect()
        };
        Http2Snapshot {
            enabled: self.enabled.load(Ordering::Relaxed),
            tls: get(&self.tls),
            cleartext: get(&self.cleartext),
            client_resets: get(&self.client_resets),
            resets_sent: by_code(&self.resets_sent),
            goaways_sent: by_code(&self.goaways_sent),
        }
    }
}

impl Http2Snapshot {
    /// Connections that spoke HTTP/2.
    pub fn connections(&self) -> u64 {
        self.tls + self.cleartext
    }

    /// GOAWAY frames sent for an error (every code but `no_error`).
    pub fn error_goaways(&self) -> u64 {
        self.goaways_sent
            .iter()
            .filter(|(label, _)| *label != "no_error")
            .map(|(_, n)| n)
            .sum()
    }

    /// The Prometheus families, appended to `out` (nothing when HTTP/2 is off).
    pub fn render(&self, out: &mut String) {
        if !self.enabled {
            return;
        }
        let _ = writeln!(
            out,
            "# HELP http_server_http2_connections_total Connections that spoke HTTP/2, by how they chose it (tls: ALPN h2; cleartext: the preface, with prior knowledge).\n# TYPE http_server_http2_connections_total counter"
        );
        for (via, n) in [("tls", self.tls), ("cleartext", self.cleartext)] {
            let _ = writeln!(
                out,
                "http_server_http2_connections_total{{via=\"{via}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP http_server_http2_client_resets_total Streams the client reset (RST_STREAM) before their response was done.\n# TYPE http_server_http2_client_resets_total counter\nhttp_server_http2_client_resets_total {}",
            self.client_resets
        );
        for (name, help, values) in [
            (
                "http_server_http2_resets_sent_total",
                "RST_STREAM frames the server sent, by error code (refused_stream: over the concurrent-stream limit or after GOAWAY).",
                &self.resets_sent,
            ),
            (
                "http_server_http2_goaways_sent_total",
                "GOAWAY frames the server sent, by error code (enhance_your_calm: a flood of frames that bring nothing, such as rapid resets).",
                &self.goaways_sent,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (code, n) in values {
                let _ = writeln!(out, "{name}{{code=\"{code}\"}} {n}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_rendered_without_http2() {
        let mut out = String::new();
        Http2Counters::default().snapshot().render(&mut out);
        assert_eq!(out, "");
    }

    #[test]
    fn connections_resets_and_goaways_count_by_kind_and_code() {
        let c = Http2Counters::default();
        c.enable();
        c.connection(Via::Tls);
        c.connection(Via::Cleartext);
        c.connection(Via::Cleartext);
        c.client_reset();
        c.reset_sent(7);
        c.goaway_sent(0);
        c.goaway_sent(0xb);
        c.goaway_sent(0xb);
        c.goaway_sent(0x1234);
        let s = c.snapshot();
        assert_eq!((s.connections(), s.error_goaways()), (3, 3));
        let mut out = String::new();
        s.render(&mut out);
        for line in [
            "http_server_http2_connections_total{via=\"cleartext\"} 2\n",
            "http_server_http2_connections_total{via=\"tls\"} 1\n",
            "http_server_http2_client_resets_total 1\n",
            "http_server_http2_resets_sent_total{code=\"refused_stream\"} 1\n",
            "http_server_http2_goaways_sent_total{code=\"enhance_your_calm\"} 2\n",
            "http_server_http2_goaways_sent_total{code=\"no_error\"} 1\n",
            "http_server_http2_goaways_sent_total{code=\"other\"} 1\n",
        ] {
            assert!(out.contains(line), "{line} not in {out}");
        }
    }
}
