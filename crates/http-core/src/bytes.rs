//! Small byte-slice helpers that cannot panic, shared by the parsers.

/// Splits `s` at the first `needle`: the bytes before it and the bytes after it, without it.
pub(crate) fn split_once(s: &[u8], needle: u8) -> Option<(&[u8], &[u8])> {
    let mut halves = s.splitn(2, |&b| b == needle);
    let before = halves.next()?;
    let after = halves.next()?;
    Some((before, after))
}

/// The value of an ASCII decimal digit.
pub(crate) fn digit(b: u8) -> Option<u8> {
    b.checked_sub(b'0').filter(|d| *d < 10)
}

/// `1*DIGIT` as a number, or `None` when empty, not all digits, or past `u64::MAX`.
pub(crate) fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        acc.checked_mul(10)?.checked_add(u64::from(digit(b)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_once_drops_the_needle_and_needs_one() {
        assert_eq!(split_once(b"a=b=c", b'='), Some((&b"a"[..], &b"b=c"[..])));
        assert_eq!(split_once(b"=", b'='), Some((&b""[..], &b""[..])));
        assert_eq!(split_once(b"abc", b'='), None);
    }

    #[test]
    fn digits_and_decimals() {
        assert_eq!(digit(b'0'), Some(0));
        assert_eq!(digit(b'9'), Some(9));
        assert_eq!(digit(b'/'), None);
        assert_eq!(digit(b':'), None);
        assert_eq!(decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(decimal(b"18446744073709551616"), None);
        assert_eq!(decimal(b""), None);
        assert_eq!(decimal(b"1a"), None);
    }
}
