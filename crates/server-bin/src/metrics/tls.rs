//! TLS counters: handshakes completed (by version and ALPN protocol) and failed (by reason).
//! Handshakes are rarer than requests and each is one relaxed atomic add, so these are
//! process-wide rather than sharded.
//!
//! This module counts; it must not decide why a handshake failed (the transport does).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Why a handshake did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Plain HTTP on the TLS port.
    PlainHttp,
    /// No protocol version, cipher suite or group in common (an old client, `-tls1_1`).
    Incompatible,
    /// The client offered ALPN without a protocol the server speaks.
    NoApplicationProtocol,
    /// The client sent an alert (it did not trust the certificate, say).
    AlertReceived,
    /// Bytes that are not a well-formed handshake.
    Malformed,
    /// The handshake did not complete within the header timeout.
    Timeout,
    /// The client closed during the handshake.
    Closed,
}

impl Failure {
    /// Every reason, in the order the metrics print them.
    pub const ALL: [Self; 7] = [
        Self::PlainHttp,
        Self::Incompatible,
        Self::NoApplicationProtocol,
        Self::AlertReceived,
        Self::Malformed,
        Self::Timeout,
        Self::Closed,
    ];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::PlainHttp => "plain_http",
            Self::Incompatible => "incompatible",
            Self::NoApplicationProtocol => "no_alpn",
            Self::AlertReceived => "alert_received",
            Self::Malformed => "malformed",
            Self::Timeout => "timeout",
            Self::Closed => "closed",
        }
    }
}

/// The ALPN protocols counted, by their label, and the one for a client that offered none.
const ALPN: [&str; 3] = ["h2", "http/1.1", "none"];

/// The TLS counters of the process.
#[derive(Debug, Default)]
pub struct TlsCounters {
    /// Whether the server speaks TLS at all (else nothing is rendered).
    enabled: AtomicBool,
    tls13: AtomicU64,
    tls12: AtomicU64,
    /// By [`ALPN`]'s order.
    alpn: [AtomicU64; ALPN.len()],
    failed: [AtomicU64; Failure::ALL.len()],
}

/// The counters as read at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSnapshot {
    /// Whether the server speaks TLS.
    pub enabled: bool,
    /// Handshakes completed with TLS 1.3 and 1.2.
    pub tls13: u64,
    /// See `tls13`.
    pub tls12: u64,
    /// Handshakes by negotiated ALPN protocol (`none`: the client offered no ALPN).
    pub alpn: Vec<(&'static str, u64)>,
    /// Failed handshakes by reason, in the order of [`Failure::ALL`].
    pub failed: Vec<(&'static str, u64)>,
}

impl TlsCounters {
    /// The server speaks TLS.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// A handshake completed.
    pub fn established(&self, version: Option<&str>, alpn: Option<&[u8]>) {
        let version = match version {
            Some("TLSv1.2") => &self.tls12,
            _ => &self.tls13,
        };
        version.fetch_add(1, Ordering::Relaxed);
        let label = match alpn {
            Some(b"h2") => "h2",
            Some(b"http/1.1") => "http/1.1",
            // Only the protocols offered can be agreed on.
            Some(_) | None => "none",
        };
        if let Some(i) = ALPN.iter().position(|a| *a == label)
            && let Some(counter) = self.alpn.get(i)
        {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A handshake failed.
    pub fn failed(&self, why: Failure) {
        if let Some(i) = Failure::ALL.iter().position(|f| *f == why)
            && let Some(counter) = self.failed.get(i)
        {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> TlsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TlsSnapshot {
            enabled: self.enabled.load(Ordering::Relaxed),
            tls13: get(&self.tls13),
            tls12: get(&self.tls12),
            alpn: ALPN
                .iter()
                .zip(&self.alpn)
                .map(|(a, c)| (*a, get(c)))
                .collect(),
            failed: Failure::ALL
                .iter()
                .zip(&self.failed)
                .map(|(f, c)| (f.label(), get(c)))
                .collect(),
        }
    }
}

impl TlsSnapshot {
    /// The Prometheus families, appended to `out` (nothing when TLS is off).
    pub fn render(&self, out: &mut String) {
        if !self.enabled {
            return;
        }
        let _ = writeln!(
            out,
            "# HELP http_server_tls_handshakes_total TLS handshakes completed, by protocol version.\n# TYPE http_server_tls_handshakes_total counter"
        );
        for (version, n) in [("1.3", self.tls13), ("1.2", self.tls12)] {
            let _ = writeln!(
                out,
                "http_server_tls_handshakes_total{{version=\"{version}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP http_server_tls_alpn_total TLS handshakes by negotiated ALPN protocol (none: the client offered none).\n# TYPE http_server_tls_alpn_total counter"
        );
        for (protocol, n) in &self.alpn {
            let _ = writeln!(
                out,
                "http_server_tls_alpn_total{{protocol=\"{protocol}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP http_server_tls_handshake_failures_total TLS handshakes that did not complete, by reason.\n# TYPE http_server_tls_handshake_failures_total counter"
        );
        for (reason, n) in &self.failed {
            let _ = writeln!(
                out,
                "http_server_tls_handshake_failures_total{{reason=\"{reason}\"}} {n}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_rendered_without_tls() {
        let mut out = String::new();
        TlsCounters::default().snapshot().render(&mut out);
        assert_eq!(out, "");
    }

    #[test]
    fn handshakes_count_by_version_alpn_and_reason() {
        let c = TlsCounters::default();
        c.enable();
        c.established(Some("TLSv1.3"), Some(b"http/1.1"));
        c.established(Some("TLSv1.2"), None);
        c.established(Some("TLSv1.3"), Some(b"h2"));
        c.failed(Failure::Incompatible);
        c.failed(Failure::Incompatible);
        let s = c.snapshot();
        assert_eq!((s.tls13, s.tls12), (2, 1));
        assert_eq!(s.alpn, [("h2", 1), ("http/1.1", 1), ("none", 1)]);
        let mut out = String::new();
        s.render(&mut out);
        assert!(
            out.contains("http_server_tls_handshake_failures_total{reason=\"incompatible\"} 2\n")
        );
        assert!(out.contains("http_server_tls_handshakes_total{version=\"1.2\"} 1\n"));
        assert!(out.contains("http_server_tls_alpn_total{protocol=\"h2\"} 1\n"));
    }
}
