//! `--tls-self-signed`: an ECDSA P-256 certificate made at start-up, in memory only, for
//! `localhost`, the host name and every address the server answers on, so that HTTPS on a LAN
//! takes one flag. Nothing is written to disk; each start makes a new key, and the start-up
//! message prints its SHA-256 fingerprint for people to compare with what their browser shows.
//!
//! This module must not decide the names (start-up does: [`names_for`]) nor serve anything.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;

use super::CertError;

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
    let cert = params.self_signed(&key).map_err(CertError::Generate)?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let chain = vec![CertificateDer::from(cert.der().to_vec())];
    CertifiedKey::from_der(chain, key_der, provider).map_err(CertError::Rejected)
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

    #[test]
    fn a_generated_certificate_serves() {
        let provider = rustls::crypto::ring::default_provider();
        let key = generate(&provider, &names_for(&[])).unwrap();
        assert!(key.keys_match().is_ok());
    }
}
