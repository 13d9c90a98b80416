//! Entity tags (RFC 9110 §8.8.3): making the server's strong tags and reading the lists clients
//! send in `If-Match` and `If-None-Match`.
//!
//! It must not decide what a match means for the response; that is [`crate::conditional`].

use std::sync::Arc;

use crate::bytes::{push_hex, split_once};

/// A strong entity tag made by this server, quotes included (`"1a2b-400-17f0c3a9e1d2"`). Shared:
/// a clone is a reference count, so a tag made once can go out with every response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ETag(Arc<str>);

impl ETag {
    /// The tag of a file version: inode, size, and modification and change times in
    /// nanoseconds change whenever the bytes can have changed (a replace-by-rename changes the
    /// inode; a rewrite in place keeps it but moves the ctime, and the mtime unless it is set
    /// back, as `cp -p` and build tools do; the ctime cannot be set back). `encoding` tells apart
    /// the representations of one resource (`br`, `gzip`), which must not share a tag.
    pub fn for_file(
        inode: u64,
        size: u64,
        mtime_nanos: i128,
        ctime_nanos: i128,
        encoding: Option<&str>,
    ) -> Self {
        // Written by hand: `format!` was a tenth of a small request's instructions.
        let mut tag = String::with_capacity(64);
        tag.push('"');
        for (i, part) in [
            u128::from(inode),
            u128::from(size),
            u128::try_from(mtime_nanos).unwrap_or(0),
            u128::try_from(ctime_nanos).unwrap_or(0),
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                tag.push('-');
            }
            push_hex(&mut tag, part);
        }
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
        assert!(plain.as_str().starts_with("\"1a-400-") && plain.as_str().ends_with('"'));
        assert!(br.as_str().ends_with("-br\""));
        assert_ne!(plain, br);
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
