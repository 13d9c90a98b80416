//! Content negotiation for compressed representations (precompressed sidecars and on-the-fly
//! output): reading `Accept-Encoding` (RFC 9110 §12.5.3) with its q-values. It must not look for
//! files nor compress; the caller says which codings it has.

use crate::bytes::{digit, split_once};

/// Content codings the server can send, in its order of preference on equal weights: the
/// smallest output first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// Brotli (RFC 7932; sidecar `file.br`).
    Br,
    /// Zstandard (RFC 8878; sidecar `file.zst`).
    Zstd,
    /// Gzip (RFC 1952; sidecar `file.gz`).
    Gzip,
}

impl Coding {
    /// Every coding, in the server's order of preference.
    pub const ALL: [Self; 3] = [Self::Br, Self::Zstd, Self::Gzip];

    /// The coding whose token is `name` (case-insensitive).
    pub fn from_token(name: &[u8]) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| name.eq_ignore_ascii_case(c.token().as_bytes()))
    }

    /// The coding an `Accept-Encoding` name stands for: its token, or `x-gzip` for gzip.
    fn named(name: &[u8]) -> Option<Self> {
        Self::from_token(name)
            .or_else(|| name.eq_ignore_ascii_case(b"x-gzip").then_some(Self::Gzip))
    }

    /// The token in `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Self::Br => "br",
            Self::Zstd => "zstd",
            Self::Gzip => "gzip",
        }
    }

    /// The sidecar file's extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Br => "br",
            Self::Zstd => "zst",
            Self::Gzip => "gz",
        }
    }
}

/// The coding to send among `available` (in the server's preference order): the one the client
/// weighs highest, ties going to the server's preference. `accept_encoding` holds the values
/// of the request's `Accept-Encoding` lines, which form one list (RFC 9110 §5.3). `None` when
/// the client sent no `Accept-Encoding`, or accepts none of them (`q=0`, or not listed and no
/// `*`).
pub fn choose<'v>(
    accept_encoding: impl IntoIterator<Item = &'v [u8]>,
    available: &[Coding],
) -> Option<Coding> {
    // One pass over the entries: each coding's weight is its first entry's, else the last
    // `*`'s, else 0.
    let mut own = PerCoding::default();
    let mut star = None;
    let mut sent = false;
    for value in accept_encoding {
        sent = true;
        for (name, q) in value.split(|&b| b == b',').filter_map(entry) {
            if name == b"*" {
                star = Some(q);
            } else if let Some(coding) = Coding::named(name) {
                own.weight(coding).get_or_insert(q);
            }
        }
    }
    if !sent {
        return None;
    }
    let mut best: Option<(u16, Coding)> = None;
    for &coding in available {
        let q = own.weight(coding).or(star).unwrap_or(0);
        if q > 0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, coding));
        }
    }
    best.map(|(_, coding)| coding)
}

/// The weight each coding's own entry gave it, if any.
#[derive(Default)]
struct PerCoding {
    br: Option<u16>,
    zstd: Option<u16>,
    gzip: Option<u16>,
}

impl PerCoding {
    fn weight(&mut self, coding: Coding) -> &mut Option<u16> {
        match coding {
            Coding::Br => &mut self.br,
            Coding::Zstd => &mut self.zstd,
            Coding::Gzip => &mut self.gzip,
        }
    }
}

/// One `Accept-Encoding` entry's coding name and weight in thousandths; `None` for an empty
/// element. A malformed weight makes the entry unusable (0) rather than accepted.
fn entry(item: &[u8]) -> Option<(&[u8], u16)> {
    let mut params = item.split(|&b| b == b';');
    let name = params.next().unwrap_or_default().trim_ascii();
    if name.is_empty() {
        return None;
    }
    let q = params
        .find_map(|p| {
            let p = p.trim_ascii();
            let rest = p.strip_prefix(b"q=").or_else(|| p.strip_prefix(b"Q="))?;
            Some(qvalue(rest.trim_ascii()))
        })
        .unwrap_or(Some(1000));
    Some((name, q.unwrap_or(0)))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn qvalue(s: &[u8]) -> Option<u16> {
    let (int, frac) = split_once(s, b'.').unwrap_or((s, b""));
    if frac.len() > 3 {
        return None;
    }
    // Three digits, the missing ones zero: at most 999, so no step can overflow.
    let mut thousandths = 0u16;
    for i in 0..3 {
        let d = match frac.get(i) {
            Some(&b) => digit(b)?,
            None => 0,
        };
        thousandths = thousandths.checked_mul(10)?.checked_add(u16::from(d))?;
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Coding::{Br, Gzip, Zstd};

    fn pick(value: &str) -> Option<Coding> {
        choose(Some(value.as_bytes()), &[Br, Gzip])
    }

    fn pick3(value: &str) -> Option<Coding> {
        choose(Some(value.as_bytes()), &[Br, Zstd, Gzip])
    }

    #[test]
    fn no_header_means_identity() {
        assert_eq!(choose(None, &[Br, Gzip]), None);
    }

    #[test]
    fn br_is_preferred_on_equal_weights() {
        assert_eq!(pick("gzip, deflate, br"), Some(Br));
        assert_eq!(pick("br;q=0.5, gzip;q=0.5"), Some(Br));
        assert_eq!(pick("*"), Some(Br));
    }

    #[test]
    fn q_values_are_honoured() {
        assert_eq!(pick("br;q=0.5, gzip;q=0.8"), Some(Gzip));
        assert_eq!(pick("br;q=0, gzip"), Some(Gzip));
        assert_eq!(pick("gzip;q=0, br;q=0"), None);
        assert_eq!(pick("*;q=0"), None);
        assert_eq!(pick("br;q=0, *"), Some(Gzip));
        assert_eq!(pick("gzip;Q=1.000"), Some(Gzip));
        assert_eq!(pick("x-gzip"), Some(Gzip));
        // A coding's first entry decides; `*` the last one.
        assert_eq!(pick("br;q=0, gzip;q=0, br"), None);
        assert_eq!(pick("*;q=0, *, br;q=0"), Some(Gzip));
    }

    #[test]
    fn unlisted_or_unusable_entries_are_refused() {
        assert_eq!(pick("deflate, identity"), None);
        assert_eq!(pick("br;q=2"), None);
        assert_eq!(pick("br;q=0.0001"), None);
        assert_eq!(pick("br;q=abc"), None);
        assert_eq!(pick(""), None);
    }

    #[test]
    fn zstd_ranks_between_br_and_gzip_on_equal_weights() {
        assert_eq!(pick3("gzip, deflate, br, zstd"), Some(Br));
        assert_eq!(pick3("gzip, zstd"), Some(Zstd));
        assert_eq!(pick3("*"), Some(Br));
        assert_eq!(pick3("br;q=0, *"), Some(Zstd));
        assert_eq!(pick3("br;q=0.8, zstd;q=0.9, gzip"), Some(Gzip));
        assert_eq!(pick3("br;q=0.8, zstd;q=0.9, gzip;q=0.1"), Some(Zstd));
        assert_eq!(pick3("ZSTD"), Some(Zstd));
        assert_eq!(pick("zstd"), None, "zstd is not offered there");
    }

    #[test]
    fn only_available_codings_are_chosen() {
        assert_eq!(choose(Some(&b"br, gzip"[..]), &[Gzip]), Some(Gzip));
    }

    #[test]
    fn accept_encoding_lines_form_one_list() {
        let lines: [&[u8]; 2] = [b"identity", b"gzip"];
        assert_eq!(choose(lines, &[Br, Gzip]), Some(Gzip));
        let lines: [&[u8]; 2] = [b"gzip;q=0.5", b"br"];
        assert_eq!(choose(lines, &[Br, Gzip]), Some(Br));
        let lines: [&[u8]; 2] = [b"*;q=0", b"gzip"];
        assert_eq!(choose(lines, &[Br, Gzip]), Some(Gzip));
        let none: [&[u8]; 0] = [];
        assert_eq!(choose(none, &[Br, Gzip]), None);
        assert_eq!(choose(Some(&b"br"[..]), &[Gzip]), None);
    }
}
