//! How names that came from clients or from the file system are escaped for each output that
//! shows them, so that none can split a line, forge a field or reach a terminal as a control
//! sequence. Each output has its own rule:
//!
//! - [`log_field`], the access log: printable ASCII only, as nginx writes it (`\"`, `\\`,
//!   `\xHH` for every other byte), so that a line is one line for every tool that reads it.
//! - [`for_terminal`], the shutdown summary: read by people, so valid UTF-8 is printed as it is
//!   (`/résumé.pdf`); control characters and bytes that are not UTF-8 become `\xHH`, and `\`
//!   becomes `\\` so that an escape in the output always stands for one.
//! - [`label_value`], Prometheus label values: the text format's own escapes (`\\`, `\"`,
//!   `\n`); it has no escape for other control characters (promtool refuses any other `\`),
//!   so they, and `%`, are percent-encoded as in a URL, which keeps distinct names distinct.
//!
//! This module is a leaf: it knows bytes and characters, not where they are printed.

use std::fmt::Write as _;

/// Escapes `"`, `\`, control bytes and non-ASCII as nginx does (`\"`, `\\`, `\xHH`), appending to
/// `buf`; what it appends is printable ASCII.
pub fn log_field(buf: &mut Vec<u8>, text: &[u8]) {
    for &b in text {
        match b {
            b'"' | b'\\' => buf.extend_from_slice(&[b'\\', b]),
            0x20..=0x7E => buf.push(b),
            _ => push_hex_escape(buf, b),
        }
    }
}

/// `text` for a terminal: valid UTF-8 as it is, but control characters (C0, DEL and C1) and
/// invalid bytes as `\xHH` (a C1 character by its two UTF-8 bytes), and `\` as `\\`.
pub fn for_terminal(text: &[u8]) -> String {
    let mut out = Vec::with_capacity(text.len());
    for chunk in text.utf8_chunks() {
        for c in chunk.valid().chars() {
            let mut utf8 = [0u8; 4];
            let bytes = c.encode_utf8(&mut utf8).as_bytes();
            if c == '\\' {
                out.extend_from_slice(b"\\\\");
            } else if c.is_control() {
                bytes.iter().for_each(|&b| push_hex_escape(&mut out, b));
            } else {
                out.extend_from_slice(bytes);
            }
        }
        for &b in chunk.invalid() {
            push_hex_escape(&mut out, b);
        }
    }
    // Only valid UTF-8 and ASCII escapes were pushed.
    String::from_utf8(out).unwrap_or_default()
}

/// A Prometheus label value (text format 0.0.4): `\`, `"` and line feed as the format escapes
/// them; other control characters and `%` percent-encoded (`%1B`, `%C2%9B`, `%25`).
pub fn label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c == '%' || c.is_control() => {
                let mut utf8 = [0u8; 4];
                for b in c.encode_utf8(&mut utf8).bytes() {
                    let _ = write!(out, "%{b:02X}");
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn push_hex_escape(buf: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    buf.extend_from_slice(&[
        b'\\',
        b'x',
        HEX[usize::from(b >> 4)],
        HEX[usize::from(b & 0xF)],
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(text: &[u8]) -> String {
        let mut buf = Vec::new();
        log_field(&mut buf, text);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn the_log_rule_leaves_printable_ascii_only() {
        assert_eq!(
            log(b"/a b\n\x1b[0m\"\\\xc3\xa9"),
            r#"/a b\x0A\x1B[0m\"\\\xC3\xA9"#
        );
    }

    #[test]
    fn the_terminal_rule_prints_utf8_and_escapes_controls_and_invalid_bytes() {
        assert_eq!(for_terminal("/résumé.pdf".as_bytes()), "/résumé.pdf");
        assert_eq!(for_terminal("/日本.txt".as_bytes()), "/日本.txt");
        assert_eq!(
            for_terminal(b"/a\nb\x1b[2J\x7f\tc\\\"d"),
            r#"/a\x0Ab\x1B[2J\x7F\x09c\\"d"#
        );
        // A C1 control (CSI, which some terminals obey) and bytes that are not UTF-8.
        assert_eq!(
            for_terminal(b"/\xc2\x9b31m/\xff\xc3(/\xe2\x82"),
            r"/\xC2\x9B31m/\xFF\xC3(/\xE2\x82"
        );
        assert!(!for_terminal(b"\x1b\x00\x9b").chars().any(char::is_control));
    }

    #[test]
    fn the_label_rule_keeps_the_formats_escapes_and_encodes_other_controls() {
        assert_eq!(label_value(r#"/a"b\c"#), r#"/a\"b\\c"#);
        assert_eq!(label_value("/a\nb"), "/a\\nb");
        assert_eq!(label_value("/\x1b[31mred\r\t.txt"), "/%1B[31mred%0D%09.txt");
        assert_eq!(label_value("/\u{9b}2J"), "/%C2%9B2J");
        assert_eq!(label_value("/100%.txt"), "/100%25.txt");
        assert_eq!(label_value("/résumé.pdf"), "/résumé.pdf");
        // Distinct names stay distinct: a literal `%1B` is not an encoded ESC.
        assert_ne!(label_value("/%1B"), label_value("/\x1b"));
    }
}
