//! Conditional requests (RFC 9110 §13): evaluating `If-Match`, `If-Unmodified-Since`,
//! `If-None-Match`, `If-Modified-Since` and `If-Range` against a file's validators.
//!
//! Pure: the validators and the request are passed in. It must not build responses.

use crate::date::parse_http_date;
use crate::etag::{ETag, TagList, parse_list, parse_one};
use crate::{Fields, Method};

/// A representation's validators.
#[derive(Debug, Clone, Copy)]
pub struct Validators<'a> {
    /// Its strong entity tag.
    pub etag: &'a ETag,
    /// Its modification time in whole seconds since the Unix epoch.
    pub last_modified: u64,
}

/// What the preconditions say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// No precondition stops the request: continue (ranges may still apply).
    Proceed,
    /// `304 Not Modified`: the client's copy is current.
    NotModified,
    /// `412 Precondition Failed`.
    Failed,
}

/// Evaluates the preconditions in the order of RFC 9110 §13.2.2.
///
/// Malformed `If-Match`/`If-None-Match` lists and invalid dates are ignored, as if absent
/// (§13.1.3, §13.1.4). `If-None-Match` takes precedence over `If-Modified-Since`, which is only
/// evaluated for GET and HEAD.
pub fn evaluate(method: Method, fields: Fields<'_, '_>, v: Validators<'_>) -> Precondition {
    if !any_precondition(fields) {
        return Precondition::Proceed;
    }
    let get_or_head = matches!(method, Method::Get | Method::Head);
    // Step 1 and 2: the client's update must not be lost.
    if let Some(matched) = any_tag(fields, "if-match", |list| list.any_strong(v.etag)) {
        if !matched {
            return Precondition::Failed;
        }
    } else if let Some(since) = fields.get("if-unmodified-since").and_then(parse_http_date)
        && v.last_modified > since
    {
        return Precondition::Failed;
    }
    // Step 3 and 4: the client's cache may be current.
    if let Some(matched) = any_tag(fields, "if-none-match", |list| list.any_weak(v.etag)) {
        if matched {
            return if get_or_head {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    } else if get_or_head
        && let Some(since) = fields.get("if-modified-since").and_then(parse_http_date)
        && v.last_modified <= since
    {
        return Precondition::NotModified;
    }
    Precondition::Proceed
}

/// [`evaluate`] for a representation without validators, such as a page the server makes
/// (RFC 9110 §13.1): `If-Match` holds only as `*` (a current representation exists),
/// `If-None-Match` fails only as `*`, and the dates, with nothing to compare them to, are
/// ignored.
pub fn evaluate_unvalidated(method: Method, fields: Fields<'_, '_>) -> Precondition {
    if !any_precondition(fields) {
        return Precondition::Proceed;
    }
    let any = |list: &TagList<'_>| matches!(list, TagList::Any);
    if any_tag(fields, "if-match", any) == Some(false) {
        return Precondition::Failed;
    }
    if any_tag(fields, "if-none-match", any) == Some(true) {
        return match method {
            Method::Get | Method::Head => Precondition::NotModified,
            _ => Precondition::Failed,
        };
    }
    Precondition::Proceed
}

/// Whether any field could be a precondition (every one's name begins `If-`): most requests
/// carry none, and one look at the names is cheaper than a search for each of the four
/// (~190 instructions a request, callgrind).
fn any_precondition(fields: Fields<'_, '_>) -> bool {
    fields.0.iter().any(|h| {
        h.name
            .as_bytes()
            .get(..3)
            .is_some_and(|start| start.eq_ignore_ascii_case(b"if-"))
    })
}

/// Whether `matches` holds for the entity-tag list of field `name`, all of whose lines form one
/// list (RFC 9110 §5.3): `None` when the field is absent, or a line of it is not such a list
/// (the field is then ignored, as an invalid one must be).
fn any_tag(
    fields: Fields<'_, '_>,
    name: &str,
    matches: impl Fn(&TagList<'_>) -> bool,
) -> Option<bool> {
    let mut found = None;
    for value in fields.values(name) {
        // An empty line adds only empty elements, which a recipient ignores (RFC 9110 §5.6.1).
        if value.iter().all(|&b| matches!(b, b' ' | b'\t' | b',')) {
            continue;
        }
        let list = parse_list(value)?;
        found = Some(found == Some(true) || matches(&list));
    }
    found
}

/// Whether a `Range` may be honoured given the request's `If-Range` (RFC 9110 §13.1.5): yes
/// when there is no `If-Range`; when it holds an entity tag, only on a strong match; when it
/// holds a date, only when it equals the last modification exactly and that date is a strong
/// validator. Anything else (a weak tag, an invalid value) means the whole representation is
/// sent.
///
/// `date` is the response's `Date` in seconds since the Unix epoch. A modification time is a
/// strong validator only when it is at least one second before it (§8.8.2.2): within the same
/// second the file may have been written twice, and a range of the new version would be spliced
/// onto a client's copy of the old one.
pub fn if_range_allows(if_range: Option<&[u8]>, v: Validators<'_>, date: u64) -> bool {
    let Some(value) = if_range else {
        return true;
    };
    let value = value.trim_ascii();
    if is_entity_tag(value) {
        return match parse_one(value) {
            Some((tag, b"")) => v.etag.strong_eq(&tag),
            _ => false,
        };
    }
    parse_http_date(value) == Some(v.last_modified) && v.last_modified < date
}

/// Whether an `If-Range` value holds an entity tag rather than a date (RFC 9110 §13.1.5: a
/// tag starts with `"` or `W/`).
pub fn is_entity_tag(if_range: &[u8]) -> bool {
    let value = if_range.trim_ascii();
    value.starts_with(b"\"") || value.starts_with(b"W/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MAX_HEADERS;
    use crate::{EMPTY_HEADER, Status, parse_request};

    const MODIFIED: u64 = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT
    const AT: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const BEFORE: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
    const AFTER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";
    /// A response's `Date` well after the modification.
    const LATER: u64 = MODIFIED + 3600;

    fn check(method: &str, fields: &str) -> Precondition {
        let etag = ETag::for_file(1, 2, 3, 4, None);
        let raw = format!("{method} / HTTP/1.1\r\nHost: h\r\n{fields}\r\n");
        let mut slots = [EMPTY_HEADER; MAX_HEADERS];
        let Ok(Status::Complete((req, _))) = parse_request(raw.as_bytes(), &mut slots) else {
            panic!("bad test request {raw:?}");
        };
        evaluate(
            req.method,
            req.fields(),
            Validators {
                etag: &etag,
                last_modified: MODIFIED,
            },
        )
    }

    fn ours() -> String {
        ETag::for_file(1, 2, 3, 4, None).as_str().to_owned()
    }

    #[test]
    fn no_preconditions_proceed() {
        assert_eq!(check("GET", ""), Precondition::Proceed);
    }

    #[test]
    fn if_none_match_gives_304_on_a_weak_match_list_or_star() {
        let tag = ours();
        for value in [
            tag.clone(),
            format!("W/{tag}"),
            format!("\"x\", {tag}"),
            "*".into(),
        ] {
            assert_eq!(
                check("GET", &format!("If-None-Match: {value}\r\n")),
                Precondition::NotModified,
                "{value}"
            );
            assert_eq!(
                check("HEAD", &format!("If-None-Match: {value}\r\n")),
                Precondition::NotModified,
                "{value}"
            );
        }
        assert_eq!(
            check("GET", "If-None-Match: \"other\"\r\n"),
            Precondition::Proceed
        );
    }

    #[test]
    fn tag_lists_split_over_several_lines_are_one_list() {
        let tag = ours();
        let split = |name: &str| format!("{name}: \"x\"\r\n{name}: {tag}\r\n");
        assert_eq!(
            check("GET", &split("If-None-Match")),
            Precondition::NotModified
        );
        assert_eq!(check("GET", &split("If-Match")), Precondition::Proceed);
        let neither = "If-Match: \"x\"\r\nIf-Match: \"y\"\r\n";
        assert_eq!(check("GET", neither), Precondition::Failed);
        // Empty lines add nothing, and take nothing away.
        let with_empty = format!("If-None-Match: {tag}\r\nIf-None-Match:\r\nIf-None-Match: ,\r\n");
        assert_eq!(check("GET", &with_empty), Precondition::NotModified);
        // A line that is not a list of tags makes the whole field invalid, hence ignored.
        let broken = format!("If-Match: \"x\"\r\nIf-Match: {tag} junk\r\n");
        assert_eq!(check("GET", &broken), Precondition::Proceed);
    }

    #[test]
    fn without_validators_only_a_star_can_decide() {
        let check = |fields: &str| {
            let raw = format!("GET / HTTP/1.1\r\nHost: h\r\n{fields}\r\n");
            let mut slots = [EMPTY_HEADER; MAX_HEADERS];
            let Ok(Status::Complete((req, _))) = parse_request(raw.as_bytes(), &mut slots) else {
                panic!("bad test request {raw:?}");
            };
            evaluate_unvalidated(req.method, req.fields())
        };
        assert_eq!(check(""), Precondition::Proceed);
        assert_eq!(check("If-Match: *\r\n"), Precondition::Proceed);
        assert_eq!(check("If-Match: \"x\"\r\n"), Precondition::Failed);
        assert_eq!(check("If-None-Match: *\r\n"), Precondition::NotModified);
        assert_eq!(check("If-None-Match: \"x\"\r\n"), Precondition::Proceed);
        let dates = format!("If-Modified-Since: {AFTER}\r\nIf-Unmodified-Since: {BEFORE}\r\n");
        assert_eq!(check(&dates), Precondition::Proceed);
    }

    #[test]
    fn if_none_match_beats_if_modified_since() {
        // The tag differs, so the file changed, even though the date says it did not.
        let fields = format!("If-None-Match: \"other\"\r\nIf-Modified-Since: {AFTER}\r\n");
        assert_eq!(check("GET", &fields), Precondition::Proceed);
        let fields = format!(
            "If-None-Match: {}\r\nIf-Modified-Since: {BEFORE}\r\n",
            ours()
        );
        assert_eq!(check("GET", &fields), Precondition::NotModified);
    }

    #[test]
    fn if_modified_since_compares_seconds_and_ignores_invalid_dates() {
        assert_eq!(
            check("GET", &format!("If-Modified-Since: {AT}\r\n")),
            Precondition::NotModified
        );
        assert_eq!(
            check("GET", &format!("If-Modified-Since: {AFTER}\r\n")),
            Precondition::NotModified
        );
        assert_eq!(
            check("GET", &format!("If-Modified-Since: {BEFORE}\r\n")),
            Precondition::Proceed
        );
        assert_eq!(
            check("GET", "If-Modified-Since: yesterday\r\n"),
            Precondition::Proceed
        );
    }

    #[test]
    fn if_match_fails_without_a_strong_match() {
        let tag = ours();
        assert_eq!(
            check("GET", &format!("If-Match: {tag}\r\n")),
            Precondition::Proceed
        );
        assert_eq!(check("GET", "If-Match: *\r\n"), Precondition::Proceed);
        assert_eq!(
            check("GET", "If-Match: \"other\"\r\n"),
            Precondition::Failed
        );
        assert_eq!(
            check("GET", &format!("If-Match: W/{tag}\r\n")),
            Precondition::Failed
        );
    }

    #[test]
    fn if_unmodified_since_fails_when_modified_later_and_yields_to_if_match() {
        assert_eq!(
            check("GET", &format!("If-Unmodified-Since: {BEFORE}\r\n")),
            Precondition::Failed
        );
        assert_eq!(
            check("GET", &format!("If-Unmodified-Since: {AT}\r\n")),
            Precondition::Proceed
        );
        assert_eq!(
            check("GET", "If-Unmodified-Since: garbage\r\n"),
            Precondition::Proceed
        );
        let fields = format!("If-Match: {}\r\nIf-Unmodified-Since: {BEFORE}\r\n", ours());
        assert_eq!(check("GET", &fields), Precondition::Proceed);
    }

    #[test]
    fn a_multi_byte_character_in_a_date_field_is_ignored_not_a_panic() {
        // Issue 10: one `é` across byte 7, 8, 11, 12, 16 or 17 of a date panicked the worker.
        for at in [7, 8, 11, 12, 16, 17] {
            let mut date = AT.as_bytes().to_vec();
            date.splice(at..at + 2, "é".bytes());
            let date = String::from_utf8(date).expect("valid UTF-8 on purpose");
            for field in ["If-Modified-Since", "If-Unmodified-Since"] {
                assert_eq!(
                    check("GET", &format!("{field}: {date}\r\n")),
                    Precondition::Proceed,
                    "{field}: {date}"
                );
            }
            let etag = ETag::for_file(1, 2, 3, 4, None);
            let v = Validators {
                etag: &etag,
                last_modified: MODIFIED,
            };
            assert!(!if_range_allows(Some(date.as_bytes()), v, LATER), "{date}");
        }
    }

    #[test]
    fn if_range_with_a_date_needs_the_last_modification_a_second_before_the_response() {
        // Issue 10, §5: a file rewritten within the second of its Last-Modified has two versions
        // with one date, so a range of one spliced onto the other must not be sent. RFC 9110
        // §13.1.5 and §8.8.2.2: the date is a strong validator only when Last-Modified is at
        // least one second before the response's Date.
        let etag = ETag::for_file(1, 2, 3, 4, None);
        let v = Validators {
            etag: &etag,
            last_modified: MODIFIED,
        };
        let allows_at = |now: u64| if_range_allows(Some(AT.as_bytes()), v, now);
        assert!(!allows_at(MODIFIED), "same second");
        assert!(!allows_at(MODIFIED - 5), "a Last-Modified in the future");
        assert!(allows_at(MODIFIED + 1));
        assert!(allows_at(MODIFIED + 86_400));
        // An entity tag does not depend on the time.
        assert!(if_range_allows(Some(etag.as_str().as_bytes()), v, MODIFIED));
    }

    #[test]
    fn an_if_range_value_is_a_tag_when_it_starts_like_one() {
        for (value, tag) in [
            (&b"\"abc\""[..], true),
            (b" W/\"abc\"", true),
            (AT.as_bytes(), false),
            (b"", false),
            (b"abc", false),
        ] {
            assert_eq!(is_entity_tag(value), tag, "{value:?}");
        }
    }

    #[test]
    fn if_range_needs_a_strong_tag_or_the_exact_date() {
        let etag = ETag::for_file(1, 2, 3, 4, None);
        let v = Validators {
            etag: &etag,
            last_modified: MODIFIED,
        };
        assert!(if_range_allows(None, v, LATER));
        assert!(if_range_allows(Some(etag.as_str().as_bytes()), v, LATER));
        assert!(!if_range_allows(
            Some(format!("W/{}", etag.as_str()).as_bytes()),
            v,
            LATER
        ));
        assert!(!if_range_allows(Some(b"\"other\""), v, LATER));
        assert!(if_range_allows(Some(AT.as_bytes()), v, LATER));
        assert!(!if_range_allows(Some(AFTER.as_bytes()), v, LATER));
        assert!(!if_range_allows(Some(b"garbage"), v, LATER));
    }
}
