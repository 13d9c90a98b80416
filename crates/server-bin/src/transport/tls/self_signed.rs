//! `--tls-self-signed`: an ECDSA P-256 certificate made at start-up, in memory only, for
//! `localhost`, the host name and every address the server answers on, so that HTTPS on a LAN
//! takes one flag. Nothing is written to disk; each start makes a new key, and the start-up
//! message prints its SHA-256 fingerprint for people to compare with what their browser shows.
//! Browsers let people compare that fingerprint; curl and wget check a key instead: [`pin`]
//! gives the `sha256//…` value their `--pinnedpubkey` takes, with which they accept this key and
//! no other while skipping the issuer check (`-k`, `--no-check-certificate`) that a
//! self-signed certificate cannot pass. It is valid from a day before it is made (a client whose clock is a little behind accepts
//! it) for about a year ([`VALIDITY`]), dates a certificate viewer shows without surprise.
//!
//! This module must not decide the names (start-up does: [`names_for`]) nor serve anything.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_core::date::Civil;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;

use super::CertError;

/// How long a certificate made now stays valid, from midnight (UTC) of the day it is made.
pub const VALIDITY: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// How long before it is made a certificate is already valid, at least: clients whose clock
/// is behind ours by less accept it.
const BACKDATE: Duration = Duration::from_secs(24 * 60 * 60);

/// The names a self-signed certificate is made for when the server listens on `bound`:
/// `localhost`, the host name, the bound addresses (every interface's when bound to
/// `0.0.0.0` or `::`) and the loopback ones.
pub fn names_for(bound: &[IpAddr]) -> Vec<String> {
    let mut names = vec!["localhost".to_owned()];
    if let Ok(host) = fs::read_to_string("/proc/sys/kernel/hostname") {
        let host = host.trim();
        if !host.is_empty() && host != "localhost" {
            names.push(host.to_owned());
        }
    }
    let mut ips: Vec<IpAddr> = vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()];
    for ip in bound {
        if ip.is_unspecified() {
            // Every interface's address: a phone on the LAN connects to one of them.
            let all = if_addrs::get_if_addrs().unwrap_or_default();
            ips.extend(all.into_iter().map(|i| i.ip()));
        } else {
            ips.push(*ip);
        }
    }
    for ip in ips {
        let name = ip.to_string();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// A new key and a certificate for `names` (IP addresses among them become IP SANs).
///
/// # Errors
///
/// [`CertError::Generate`] when a name is not valid in a certificate.
pub fn generate(provider: &CryptoProvider, names: &[String]) -> Result<CertifiedKey, CertError> {
    let key = rcgen::KeyPair::generate().map_err(CertError::Generate)?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(CertError::Generate)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "http-server self-signed");
    // rcgen's default runs from 1975 to 4096, which looks like a mistake in a browser's viewer.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let (year, month, day) = civil_day(now.saturating_sub(BACKDATE));
    params.not_before = rcgen::date_time_ymd(year, month, day);
    let (year, month, day) = civil_day(now + VALIDITY);
    params.not_after = rcgen::date_time_ymd(year, month, day);
    let cert = params.self_signed(&key).map_err(CertError::Generate)?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let chain = vec![CertificateDer::from(cert.der().to_vec())];
    CertifiedKey::from_der(chain, key_der, provider).map_err(CertError::Rejected)
}

/// The key's pin as curl's and wget's `--pinnedpubkey` take it: `sha256//` and the base64 of the
/// SHA-256 of its `SubjectPublicKeyInfo`; `None` when the signing key cannot tell its public key.
pub fn pin(key: &CertifiedKey) -> Option<String> {
    let spki = key.key.public_key()?;
    let digest = ring::digest::digest(&ring::digest::SHA256, spki.as_ref());
    Some(format!("sha256//{}", base64(digest.as_ref())))
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [0, 1, 2].map(|i| chunk.get(i).copied().unwrap_or(0));
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The day (UTC) `since_epoch` falls on, as `rcgen::date_time_ymd` takes it (midnight of it).
fn civil_day(since_epoch: Duration) -> (i32, u8, u8) {
    let day = Civil::from_unix(since_epoch.as_secs());
    // A civil date's fields are in range; the year fits until the year 2^31.
    (
        i32::try_from(day.year).unwrap_or(i32::MAX),
        u8::try_from(day.month).unwrap_or(1),
        u8::try_from(day.day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_include_localhost_loopback_and_the_bound_address() {
        let names = names_for(&["192.0.2.7".parse().unwrap()]);
        for want in ["localhost", "127.0.0.1", "::1", "192.0.2.7"] {
            assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
        }
    }

    /// `YYMMDD000000Z`, the UTCTime of midnight on the day `secs` after the epoch falls on.
    fn utc_time(secs: u64) -> String {
        let d = Civil::from_unix(secs);
        format!("{:02}{:02}{:02}000000Z", d.year % 100, d.month, d.day)
    }

    #[test]
    fn a_certificate_is_valid_from_yesterday_for_about_a_year() {
        let provider = rustls::crypto::ring::default_provider();
        let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let key = generate(&provider, &names_for(&[])).unwrap();
        let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let der = key.end_entity_cert().unwrap().as_ref();
        let has = |text: &str| der.windows(text.len()).any(|w| w == text.as_bytes());
        let day = 24 * 60 * 60;
        // Read before and after generating: the day may turn in between.
        let from = [before, after].map(|t| utc_time(t.as_secs() - day));
        let until = [before, after].map(|t| utc_time(t.as_secs() + 365 * day));
        assert!(from.iter().any(|f| has(f)), "not before one of {from:?}");
        assert!(until.iter().any(|u| has(u)), "not after one of {until:?}");
    }

    #[test]
    fn base64_is_rfc_4648s() {
        // RFC 4648 §10's test vectors.
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn a_generated_certificate_serves() {
        let provider = rustls::crypto::ring::default_provider();
        let key = generate(&provider, &names_for(&[])).unwrap();
        assert!(key.keys_match().is_ok());
    }
}
