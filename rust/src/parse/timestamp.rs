//! `ts` values → integer ms since the epoch (UTC). Mirrors `uxtop.schema.ts_to_ms`.

/// Floats at or above this magnitude are ms, below are seconds (1e11 s is the year 5138).
pub const FLOAT_MS_THRESHOLD: f64 = 1e11;

/// A float `ts`: seconds (or ms above the threshold), floored to whole ms; None if out of i64.
pub fn float_ts_to_ms(v: f64) -> Option<i64> {
    if !v.is_finite() {
        return None;
    }
    let ms = if v.abs() >= FLOAT_MS_THRESHOLD {
        v
    } else {
        v * 1000.0
    };
    let ms = ms.floor();
    // i64 range, exactly representable bounds
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&ms) {
        Some(ms as i64)
    } else {
        None
    }
}

fn digits(s: &[u8], i: usize, k: usize) -> Option<u32> {
    let part = s.get(i..i + k)?;
    let mut v = 0u32;
    for &c in part {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        _ => 0,
    }
}

/// `YYYY-MM-DD[Tt ]HH:MM[:SS[.,]f+][Z|z|±HH[:MM|MM]]`; fractions truncated to ms; no zone = UTC.
pub fn parse_iso_ms(s: &[u8]) -> Option<i64> {
    let n = s.len();
    let year = digits(s, 0, 4)?;
    if n < 16
        || s[4] != b'-'
        || s[7] != b'-'
        || !matches!(s[10], b'T' | b't' | b' ')
        || s[13] != b':'
    {
        return None;
    }
    let (month, day, hour, minute) = (
        digits(s, 5, 2)?,
        digits(s, 8, 2)?,
        digits(s, 11, 2)?,
        digits(s, 14, 2)?,
    );
    let mut i = 16;
    let (mut second, mut frac_ms) = (0u32, 0i64);
    if i < n && s[i] == b':' {
        second = digits(s, i + 1, 2)?;
        i += 3;
        if i < n && matches!(s[i], b'.' | b',') {
            let mut j = i + 1;
            while j < n && s[j].is_ascii_digit() {
                j += 1;
            }
            if j == i + 1 {
                return None;
            }
            for k in 0..3 {
                let idx = i + 1 + k;
                let d = if idx < j { (s[idx] - b'0') as i64 } else { 0 };
                frac_ms = frac_ms * 10 + d;
            }
            i = j;
        }
    }
    let mut offset_min: i64 = 0;
    if i < n {
        match s[i] {
            b'Z' | b'z' if i + 1 == n => {}
            c @ (b'+' | b'-') => {
                let sign = if c == b'+' { 1 } else { -1 };
                let oh = digits(s, i + 1, 2)?;
                let rest = &s[(i + 3).min(n)..];
                if i + 3 > n {
                    return None;
                }
                let om = match rest.len() {
                    0 => 0,
                    3 if rest[0] == b':' => digits(s, i + 4, 2)?,
                    2 => digits(s, i + 3, 2)?,
                    _ => return None,
                };
                if oh > 23 || om > 59 {
                    return None;
                }
                offset_min = sign * (oh as i64 * 60 + om as i64);
            }
            _ => return None,
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year as i64, month, day);
    let secs = days * 86_400 + hour as i64 * 3600 + minute as i64 * 60 + second as i64;
    Some((secs - offset_min * 60) * 1000 + frac_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_forms() {
        let p = |s: &str| parse_iso_ms(s.as_bytes());
        assert_eq!(p("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(p("1970-01-01T00:00Z"), Some(0));
        assert_eq!(p("2024-01-01T00:00:00.5Z"), Some(1_704_067_200_500));
        assert_eq!(p("2024-01-01T00:00:00.123456Z"), Some(1_704_067_200_123));
        assert_eq!(p("2024-01-01 01:00:00+01:00"), Some(1_704_067_200_000));
        assert_eq!(
            p("2024-01-01T00:00:00-0130"),
            Some(1_704_067_200_000 + 90 * 60_000)
        );
        assert_eq!(
            p("2024-01-01T00:00:00+01"),
            Some(1_704_067_200_000 - 3_600_000)
        );
        assert_eq!(p("2024-02-29T00:00:00"), Some(1_709_164_800_000));
        assert_eq!(p("1969-12-31T23:59:59.999Z"), Some(-1));
        for bad in [
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00Z",
            "2024-01-01",
            "2024-01-01T24:00Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00Zx",
            "0000-01-01T00:00Z",
            "2024-01-01T00:00+1",
            "2024-01-01T00:00:60Z",
            "２０２４-01-01T00:00Z",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }

    #[test]
    fn float_seconds_and_ms() {
        assert_eq!(float_ts_to_ms(1_700_000_000.5), Some(1_700_000_000_500));
        assert_eq!(float_ts_to_ms(1_700_000_000_123.9), Some(1_700_000_000_123));
        assert_eq!(float_ts_to_ms(-1.5), Some(-1500));
        assert_eq!(float_ts_to_ms(1e300), None);
    }
}
