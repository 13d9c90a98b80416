//! Entity tags (RFC 9110 §8.8.3): making the server's strong tags and reading the lists clients
//! send in `If-Match` and `If-None-Match`.
//!
//! It must not decide what a match means for the response; that is [`crate::conditional`].

use std::sync::Arc;

use crate::bytes::{push_hex16, split_once};

/// A strong entity tag made by this server, quotes included (`"5f0c3a9e1d2a0b17"`, and
/// `"5f0c3a9e1d2a0b17-br"` for an encoded representation). Shared: a clone is a reference
/// count, so a tag made once can go out with every response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ETag(Arc<str>);

/// The digest's starting state: any fixed value, so that tags survive a restart.
const DIGEST_SEED: u64 = 0x6a09_e667_f3bc_c908;

impl ETag {
    /// The tag of a file version: a 64-bit digest of its inode, size, and modification and
    /// change times in nanoseconds, which change whenever the bytes can have changed (a
    /// replace-by-rename changes the inode; a rewrite in place keeps it but moves the ctime,
    /// and the mtime unless it is set back, as `cp -p` and build tools do; the ctime cannot be
    /// set back). `encoding` tells apart the representations of one resource (`br`, `gzip`),
    /// which must not share a tag.
    ///
    /// A digest, not the four numbers in hex (47 bytes): every response carries the tag, and
    /// every client reads it; 16 hex digits are what nginx's `mtime-size` costs, and two
    /// versions of a file share one with a chance of one in 2⁶⁴.
    pub fn for_file(
        inode: u64,
        size: u64,
        mtime_nanos: i128,
        ctime_nanos: i128,
        encoding: Option<&str>,
    ) -> Self {
        // Each half of a 128-bit time a word of its own, so that no two inputs share words.
        let halves = |t: i128| {
            let t = t.cast_unsigned();
            [(t >> 64) as u64, t as u64]
        };
        let [mtime_high, mtime_low] = halves(mtime_nanos);
        let [ctime_high, ctime_low] = halves(ctime_nanos);
        let digest = [inode, size, mtime_high, mtime_low, ctime_high, ctime_low]
            .into_iter()
            .fold(DIGEST_SEED, |state, word| mix(state ^ word));
        // Written by hand: `format!` was a tenth of a small request's instructions.
        let mut tag = String::with_capacity(24);
        tag.push('"');
        push_hex16(&mut tag, digest);
        if let Some(encoding) = encoding {
            tag.push('-');
            tag.push_str(encoding);
        }
        tag.push('"');
        Self(tag.into())
    }

    /// The tag as sent in the `ETag` field.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tag as sent in the `ETag` field, shared without copying it.
    pub fn shared(&self) -> Arc<str> {
        Arc::clone(&self.0)
    }

    /// The opaque part, without the quotes.
    fn opaque(&self) -> &[u8] {
        // Built by `for_file`, always quoted; the fallback is unreachable.
        let bytes = self.0.as_bytes();
        bytes
            .strip_prefix(b"\"")
            .and_then(|b| b.strip_suffix(b"\""))
            .unwrap_or(bytes)
    }

    /// Strong comparison (RFC 9110 §8.8.3.2): both strong and the same opaque tag. Our own tags
    /// are always strong.
    pub fn strong_eq(&self, other: &EntityTag<'_>) -> bool {
        !other.weak && self.opaque() == other.opaque
    }

    /// Weak comparison: the same opaque tag, weakness ignored.
    pub fn weak_eq(&self, other: &EntityTag<'_>) -> bool {
        self.opaque() == other.opaque
    }
}

/// An entity tag received from a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityTag<'a> {
    /// Sent with the `W/` prefix.
    pub weak: bool,
    /// The tag between the quotes.
    pub opaque: &'a [u8],
}

/// An `If-Match` or `If-None-Match` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagList<'a> {
    /// `*`: any current representation.
    Any,
    /// One or more entity tags.
    Tags(Vec<EntityTag<'a>>),
}

impl TagList<'_> {
    /// Whether any member matches `tag` under strong comparison (`*` always does).
    pub fn any_strong(&self, tag: &ETag) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|t| tag.strong_eq(t)),
        }
    }

    /// Whether any member matches `tag` under weak comparison (`*` always does).
    pub fn any_weak(&self, tag: &ETag) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|t| tag.weak_eq(t)),
        }
    }
}

/// Parses `*` or `#entity-tag`. Tags are quoted strings that may contain commas, so the list is
/// tokenised, not split. `None` for anything malformed, which callers treat as an absent field.
pub fn parse_list(value: &[u8]) -> Option<TagList<'_>> {
    // Field values reach here validated (no control bytes but HTAB), so trimming ASCII
    // whitespace is trimming OWS.
    if value.trim_ascii() == b"*" {
        return Some(TagList::Any);
    }
    let mut tags = Vec::new();
    let mut rest = value;
    loop {
        rest = skip_ows_and_commas(rest);
        if rest.is_empty() {
            break;
        }
        let (tag, after) = parse_one(rest)?;
        tags.push(tag);
        rest = after.trim_ascii_start();
        match rest.first() {
            None => break,
            Some(b',') => {}
            Some(_) => return None,
        }
    }
    if tags.is_empty() {
        None
    } else {
        Some(TagList::Tags(tags))
    }
}

/// Parses one entity tag at the start of `s`, returning it and what follows.
pub fn parse_one(s: &[u8]) -> Option<(EntityTag<'_>, &[u8])> {
    let (weak, s) = match s.strip_prefix(b"W/") {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let s = s.strip_prefix(b"\"")?;
    let (opaque, rest) = split_once(s, b'"')?;
    // etagc = %x21 / %x23-7E / obs-text
    if !opaque
        .iter()
        .all(|&b| b == 0x21 || (0x23..=0x7E).contains(&b) || b >= 0x80)
    {
        return None;
    }
    Some((EntityTag { weak, opaque }, rest))
}

fn skip_ows_and_commas(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b',', rest @ ..] = s {
        s = rest;
    }
    s
}

/// SplitMix64's finaliser (Steele, Lea and Flood, 2014): a bijection of 64-bit words whose
/// every output bit depends on every input bit, so that chained over the words it makes a
/// digest where nearby inputs (a nanosecond apart) land far apart.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(weak: bool, opaque: &str) -> EntityTag<'_> {
        EntityTag {
            weak,
            opaque: opaque.as_bytes(),
        }
    }

    #[test]
    fn file_tags_are_quoted_strong_and_distinct_per_encoding() {
        let plain = ETag::for_file(0x1a, 1024, 1_700_000_000_123_456_789, 9, None);
        let br = ETag::for_file(0x1a, 1024, 1_700_000_000_123_456_789, 9, Some("br"));
        let digits = plain
            .as_str()
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'));
        assert!(
            digits.is_some_and(|d| d.len() == 16 && d.bytes().all(|b| b.is_ascii_hexdigit())),
            "{plain:?}"
        );
        assert_eq!(br.as_str(), format!("{}-br\"", &plain.as_str()[..17]));
        assert_ne!(plain, br);
    }

    #[test]
    fn file_tags_of_nearby_versions_are_all_distinct() {
        let mut seen = std::collections::HashSet::new();
        for inode in 0..6 {
            for size in 0..6 {
                for mtime in 0..6 {
                    for ctime in 0..6 {
                        let (mtime, ctime) = (1_700_000_000_000_000_000 + mtime, mtime + ctime);
                        seen.insert(ETag::for_file(inode, size, mtime, ctime, None));
                        // A time's high half is a word of its own, not added to a low one.
                        seen.insert(ETag::for_file(inode, size, mtime << 64, ctime, None));
                    }
                }
            }
        }
        assert_eq!(seen.len(), 2 * 6 * 6 * 6 * 6);
    }

    #[test]
    fn file_tags_survive_a_restart() {
        // A fixed digest, computed apart (SplitMix64's finaliser chained from the seed over
        // the six words): a client's stored tag still matches after the server restarts or is
        // rebuilt, which a hasher with per-process keys would break.
        let t = 1_796_000_000_123_456_789;
        assert_eq!(
            ETag::for_file(0x98_e024, 1024, t, t, None).as_str(),
            "\"f321efeb585cb903\""
        );
    }

    #[test]
    fn file_tags_change_with_nanoseconds() {
        assert_ne!(
            ETag::for_file(1, 1, 1_000_000_000, 5, None),
            ETag::for_file(1, 1, 1_000_000_001, 5, None)
        );
    }

    #[test]
    fn file_tags_change_with_the_change_time_alone() {
        // Issue 10, §5: same inode, size and (set back) mtime, rewritten: only the ctime moved.
        let mtime = 1_700_000_000_123_456_789;
        assert_ne!(
            ETag::for_file(7, 14, mtime, 1_700_000_000_123_456_789, None),
            ETag::for_file(7, 14, mtime, 1_700_000_050_000_000_001, None)
        );
        assert_ne!(
            ETag::for_file(7, 14, mtime, 1, None),
            ETag::for_file(7, 14, mtime, 2, None)
        );
    }

    #[test]
    fn lists_parse_star_single_weak_and_commas_inside_quotes() {
        assert_eq!(parse_list(b" * "), Some(TagList::Any));
        assert_eq!(
            parse_list(b"\"abc\""),
            Some(TagList::Tags(vec![tag(false, "abc")]))
        );
        assert_eq!(
            parse_list(b"W/\"a\", \"b,c\" ,,\t\"\""),
            Some(TagList::Tags(vec![
                tag(true, "a"),
                tag(false, "b,c"),
                tag(false, "")
            ]))
        );
    }

    #[test]
    fn malformed_lists_are_none() {
        for bad in [
            &b""[..],
            b"abc",
            b"\"abc",
            b"w/\"a\"",
            b"\"a\" \"b\"",
            b"\"a\"x",
            b"\"a b\"",
            b"*, \"a\"",
        ] {
            assert_eq!(parse_list(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn strong_comparison_rejects_weak_tags_but_weak_comparison_accepts_them() {
        let ours = ETag::for_file(1, 2, 3, 4, None);
        let opaque = &ours.as_str()[1..ours.as_str().len() - 1];
        assert!(ours.strong_eq(&tag(false, opaque)));
        assert!(!ours.strong_eq(&tag(true, opaque)));
        assert!(ours.weak_eq(&tag(true, opaque)));
        assert!(!ours.weak_eq(&tag(false, "other")));
    }
}
