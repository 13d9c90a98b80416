//! Small byte-slice helpers that cannot panic, shared by the parsers.

/// Splits `s` at the first `needle`: the bytes before it and the bytes after it, without it.
pub(crate) fn split_once(s: &[u8], needle: u8) -> Option<(&[u8], &[u8])> {
    let at = memchr::memchr(needle, s)?;
    let (before, rest) = s.split_at(at);
    Some((before, rest.get(1..).unwrap_or_default()))
}

/// [`split_once`] for a separator expected within a few bytes (a field name's colon, a port's):
/// searched byte by byte, where the vector search's set-up costs more than such a scan.
pub(crate) fn split_once_near(s: &[u8], needle: u8) -> Option<(&[u8], &[u8])> {
    let at = s.iter().position(|&b| b == needle)?;
    let (before, rest) = s.split_at(at);
    Some((before, rest.get(1..).unwrap_or_default()))
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

/// Appends `n` in decimal. Response heads are written for every request, and `core::fmt`
/// machinery cost more than the rest of a head together.
pub(crate) fn push_decimal(buf: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20]; // u64::MAX has 20 digits
    let mut rest = n;
    let mut start = digits.len();
    for slot in digits.iter_mut().rev() {
        *slot = b'0' | (rest % 10) as u8;
        rest /= 10;
        start = start.saturating_sub(1);
        if rest == 0 {
            break;
        }
    }
    buf.extend_from_slice(digits.get(start..).unwrap_or_default());
}

/// Appends all sixteen lowercase hex digits of `n`, leading zeros included.
pub(crate) fn push_hex16(out: &mut String, n: u64) {
    for nibble in n.to_be_bytes().iter().flat_map(|b| [b >> 4, b & 0xF]) {
        out.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
    }
}

/// Two decimal digits of `n` (its last two), for fixed-width dates.
pub(crate) fn two_digits(n: u64) -> [u8; 2] {
    [b'0' | (n / 10 % 10) as u8, b'0' | (n % 10) as u8]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_once_drops_the_needle_and_needs_one() {
        assert_eq!(split_once(b"a=b=c", b'='), Some((&b"a"[..], &b"b=c"[..])));
        assert_eq!(split_once(b"=", b'='), Some((&b""[..], &b""[..])));
        assert_eq!(split_once(b"abc", b'='), None);
        for s in [&b"a=b=c"[..], b"=", b"abc", b""] {
            assert_eq!(split_once_near(s, b'='), split_once(s, b'='));
        }
    }

    #[test]
    fn numbers_are_written_as_format_would() {
        for n in [0, 1, 7, 10, 15, 16, 99, 100, 255, 256, 12_345, u64::MAX] {
            let mut buf = Vec::new();
            push_decimal(&mut buf, n);
            assert_eq!(buf, n.to_string().as_bytes());
            let mut hex = String::new();
            push_hex16(&mut hex, n);
            assert_eq!(hex, format!("{n:016x}"));
        }
        assert_eq!(two_digits(7), *b"07");
        assert_eq!(two_digits(59), *b"59");
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
