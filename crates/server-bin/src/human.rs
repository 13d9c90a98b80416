//! Sizes, durations and counts as people read them (`1.12 GiB`, `10 min 40 s`, `1 request`),
//! for the shutdown summary and directory listings. Rounded on purpose: it must not be used where a program reads
//! the number back (the metrics and the access log keep exact values).

use std::time::Duration;

const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/// `n` and a noun, plural unless `n` is 1: `1 request`, `2 requests`, `0 connections`.
pub fn count(n: u64, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        _ => format!("{n} {noun}s"),
    }
}

/// `bytes` in binary units with three significant digits and no trailing zeros: `512 B`,
/// `1.5 KiB`, `200 MiB`, `1.12 GiB`.
pub fn size(bytes: u64) -> String {
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    // f64 is exact enough: only three digits are shown.
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let mut text = three_digits(value);
    // 1023.7 KiB would print as "1024 KiB": that is the next unit.
    if text == "1024" && unit < UNITS.len() - 1 {
        unit += 1;
        text = three_digits(value / 1024.0);
    }
    format!("{text} {}", UNITS[unit])
}

fn three_digits(value: f64) -> String {
    let decimals = if value < 10.0 {
        2
    } else if value < 100.0 {
        1
    } else {
        0
    };
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// A duration in its two largest units: `0.4 s`, `42 s`, `10 min 40 s`, `3 h 5 min`,
/// `2 d 4 h` (a zero second unit is left out: `10 min`).
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 10.0 {
        return format!("{} s", format!("{secs:.1}").trim_end_matches(".0"));
    }
    let total = d.as_secs() + u64::from(d.subsec_millis() >= 500);
    let (big, big_unit, small, small_unit) = match total {
        0..60 => return format!("{total} s"),
        60..3_600 => (total / 60, "min", total % 60, "s"),
        3_600..86_400 => (total / 3_600, "h", total % 3_600 / 60, "min"),
        _ => (total / 86_400, "d", total % 86_400 / 3_600, "h"),
    };
    if small == 0 {
        format!("{big} {big_unit}")
    } else {
        format!("{big} {big_unit} {small} {small_unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_have_three_significant_digits_in_binary_units() {
        let cases = [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1 KiB"),
            (1536, "1.5 KiB"),
            (10 * 1024 + 512, "10.5 KiB"),
            (209_715_200, "200 MiB"),
            (1_207_060_939, "1.12 GiB"),
            (1024 * 1024 - 1, "1 MiB"),
            (u64::MAX, "16 EiB"),
        ];
        for (bytes, text) in cases {
            assert_eq!(size(bytes), text, "{bytes}");
        }
    }

    #[test]
    fn counts_are_singular_only_for_one() {
        assert_eq!(count(0, "request"), "0 requests");
        assert_eq!(count(1, "request"), "1 request");
        assert_eq!(count(2, "connection"), "2 connections");
    }

    #[test]
    fn durations_show_their_two_largest_units() {
        let cases = [
            (Duration::from_millis(0), "0 s"),
            (Duration::from_millis(400), "0.4 s"),
            (Duration::from_millis(2_500), "2.5 s"),
            (Duration::from_millis(42_000), "42 s"),
            (Duration::from_millis(59_600), "1 min"),
            (Duration::from_millis(639_900), "10 min 40 s"),
            (Duration::from_secs(600), "10 min"),
            (Duration::from_secs(3 * 3_600 + 5 * 60 + 9), "3 h 5 min"),
            (Duration::from_secs(2 * 86_400 + 4 * 3_600), "2 d 4 h"),
        ];
        for (d, text) in cases {
            assert_eq!(duration(d), text, "{d:?}");
        }
    }
}
