//! A validating JSON scanner specialised for flat event objects.
//!
//! Why hand-written: the known keys are few and flat, so scanning them directly (and skipping
//! everything else without building values) is ~2x faster than a general typed deserializer on
//! this machine (see shared/reference/performance.md). It still validates the whole line with
//! full JSON semantics, so it accepts exactly what msgspec accepts: escapes, `\uXXXX` with
//! surrogate pairs (lone surrogates are errors), no control characters in strings, strict
//! number grammar, no trailing garbage.
//!
//! The input is a line already checked to be valid UTF-8.

/// Syntax error marker: the line is not valid JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxError;

pub type JResult<T> = Result<T, SyntaxError>;

/// Deepest nesting accepted in skipped values (msgspec fails on very deep nesting too).
pub const MAX_DEPTH: usize = 1000;

/// A string value: a range of the line when it had no escapes, else a range of the scratch buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Text {
    #[default]
    None,
    Line(u32, u32),
    Scratch(u32, u32),
}

impl Text {
    #[inline]
    pub fn get<'a>(self, line: &'a [u8], scratch: &'a [u8]) -> Option<&'a str> {
        let bytes = match self {
            Text::None => return None,
            Text::Line(a, b) => &line[a as usize..b as usize],
            Text::Scratch(a, b) => &scratch[a as usize..b as usize],
        };
        debug_assert!(std::str::from_utf8(bytes).is_ok());
        // SAFETY: the line is validated as UTF-8 before scanning (LineParser::parse), the scratch
        // only receives whole decoded chars, and every range starts and ends at a quote or an
        // escape boundary, so both slices are valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    }
}

/// A number as written: its text range and whether it is an integer literal.
#[derive(Clone, Copy, Debug)]
pub struct NumLit {
    pub start: usize,
    pub end: usize,
    pub is_int: bool,
    /// the value, for integer literals within i64
    pub ival: Option<i64>,
}

// Bytes that end a fast string scan: quote, backslash, or a control character.
static STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Index of the first byte in `b[i..]` that is a quote, a backslash or a control character
/// (or `b.len()`), eight bytes at a time (SWAR: strings are mostly plain ASCII).
#[inline(always)]
fn find_string_stop(b: &[u8], mut i: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    while i + 8 <= b.len() {
        let w = u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        let quote = w ^ (LO * b'"' as u64);
        let slash = w ^ (LO * b'\\' as u64);
        // per byte: zero (quote/backslash) or below 0x20; the lowest flagged byte is exact
        let hit = ((quote.wrapping_sub(LO) & !quote)
            | (slash.wrapping_sub(LO) & !slash)
            | (w.wrapping_sub(LO * 0x20) & !w))
            & HI;
        if hit != 0 {
            return i + (hit.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && !STRING_STOP[b[i] as usize] {
        i += 1;
    }
    i
}

/// Whether all eight bytes of `w` are ASCII digits.
#[inline(always)]
pub(crate) fn all_digits8(w: u64) -> bool {
    const F0: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    (w & F0) | (((w.wrapping_add(0x0606_0606_0606_0606)) & F0) >> 4) == 0x3333_3333_3333_3333
}

/// The value of eight ASCII digits (little-endian load), by pairwise combining.
#[inline(always)]
pub(crate) fn digits8(w: u64) -> u64 {
    let v = w - 0x3030_3030_3030_3030;
    let v = (v.wrapping_mul(10) + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let v = (v.wrapping_mul(100) + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    (v.wrapping_mul(10_000) + (v >> 32)) & 0xFFFF_FFFF
}

pub struct Scanner<'a> {
    pub b: &'a [u8],
    pub i: usize,
}

impl<'a> Scanner<'a> {
    #[inline]
    pub fn new(b: &'a [u8]) -> Self {
        Scanner { b, i: 0 }
    }

    #[inline]
    pub fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline(always)]
    pub fn skip_ws(&mut self) {
        // compact JSON has no whitespace: one compare in the common case
        match self.b.get(self.i) {
            Some(&c) if c > b' ' => return,
            None => return,
            _ => {}
        }
        while let Some(&c) = self.b.get(self.i) {
            if c == b' ' || c == b'\t' || c == b'\n' || c == b'\r' {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    pub fn expect(&mut self, c: u8) -> JResult<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(SyntaxError)
        }
    }

    /// Parse a string starting at `"`. Escaped strings are decoded into `scratch`.
    #[inline(always)]
    pub fn string(&mut self, scratch: &mut Vec<u8>) -> JResult<Text> {
        self.expect(b'"')?;
        let start = self.i;
        let b = self.b;
        let i = find_string_stop(b, self.i);
        match b.get(i) {
            Some(b'"') => {
                self.i = i + 1;
                Ok(Text::Line(start as u32, i as u32))
            }
            Some(b'\\') => {
                let s0 = scratch.len();
                scratch.extend_from_slice(&b[start..i]);
                self.i = i;
                self.string_escaped(scratch)?;
                Ok(Text::Scratch(s0 as u32, scratch.len() as u32))
            }
            _ => Err(SyntaxError), // control char or end of line
        }
    }

    /// Skip a string starting at `"`, validating it, without decoding.
    #[inline]
    pub fn skip_string(&mut self) -> JResult<()> {
        self.expect(b'"')?;
        let b = self.b;
        let mut i = self.i;
        loop {
            i = find_string_stop(b, i);
            match b.get(i) {
                Some(b'"') => {
                    self.i = i + 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.i = i;
                    self.escape(None)?;
                    i = self.i;
                }
                _ => return Err(SyntaxError),
            }
        }
    }

    fn string_escaped(&mut self, out: &mut Vec<u8>) -> JResult<()> {
        let b = self.b;
        loop {
            let i = find_string_stop(b, self.i);
            out.extend_from_slice(&b[self.i..i]);
            match b.get(i) {
                Some(b'"') => {
                    self.i = i + 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.i = i;
                    self.escape(Some(out))?;
                }
                _ => return Err(SyntaxError),
            }
        }
    }

    /// Decode one escape at `\`; with `out` None it only validates.
    fn escape(&mut self, out: Option<&mut Vec<u8>>) -> JResult<()> {
        let b = self.b;
        let c = *b.get(self.i + 1).ok_or(SyntaxError)?;
        self.i += 2;
        let ch: u32 = match c {
            b'"' => 0x22,
            b'\\' => 0x5c,
            b'/' => 0x2f,
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => 0x0a,
            b'r' => 0x0d,
            b't' => 0x09,
            b'u' => {
                let hi = self.hex4()?;
                if (0xD800..0xDC00).contains(&hi) {
                    // a high surrogate must be followed by an escaped low surrogate
                    if b.get(self.i) != Some(&b'\\') || b.get(self.i + 1) != Some(&b'u') {
                        return Err(SyntaxError);
                    }
                    self.i += 2;
                    let lo = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(SyntaxError);
                    }
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else if (0xDC00..0xE000).contains(&hi) {
                    return Err(SyntaxError);
                } else {
                    hi
                }
            }
            _ => return Err(SyntaxError),
        };
        if let Some(out) = out {
            let ch = char::from_u32(ch).ok_or(SyntaxError)?;
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
        Ok(())
    }

    #[inline]
    fn hex4(&mut self) -> JResult<u32> {
        let b = self.b;
        if self.i + 4 > b.len() {
            return Err(SyntaxError);
        }
        let mut v = 0u32;
        for k in 0..4 {
            let d = match b[self.i + k] {
                c @ b'0'..=b'9' => c - b'0',
                c @ b'a'..=b'f' => c - b'a' + 10,
                c @ b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(SyntaxError),
            };
            v = (v << 4) | d as u32;
        }
        self.i += 4;
        Ok(v)
    }

    /// Scan a number literal with strict JSON grammar.
    #[inline(always)]
    pub fn number(&mut self) -> JResult<NumLit> {
        let b = self.b;
        let start = self.i;
        let mut i = self.i;
        let neg = b.get(i) == Some(&b'-');
        i += neg as usize;
        // integer part, accumulated on the way (exact up to 18 digits)
        let int_start = i;
        let mut mag: u64 = 0;
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                // eight digits at a time while they last (timestamps have 13)
                while i + 8 <= b.len() && i - int_start <= 10 {
                    let w = u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
                    if !all_digits8(w) {
                        break;
                    }
                    mag = mag.wrapping_mul(100_000_000).wrapping_add(digits8(w));
                    i += 8;
                }
                while let Some(&c) = b.get(i) {
                    let d = c.wrapping_sub(b'0');
                    if d > 9 {
                        break;
                    }
                    mag = mag.wrapping_mul(10).wrapping_add(d as u64);
                    i += 1;
                }
            }
            _ => return Err(SyntaxError),
        }
        let int_digits = i - int_start;
        let mut is_int = true;
        let mut has_exp = false;
        if b.get(i) == Some(&b'.') {
            is_int = false;
            i += 1;
            if !matches!(b.get(i), Some(b'0'..=b'9')) {
                return Err(SyntaxError);
            }
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            is_int = false;
            has_exp = true;
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !matches!(b.get(i), Some(b'0'..=b'9')) {
                return Err(SyntaxError);
            }
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        self.i = i;
        let ival = if !is_int {
            None
        } else if int_digits <= 18 {
            Some(if neg { -(mag as i64) } else { mag as i64 })
        } else {
            std::str::from_utf8(&b[start..i])
                .ok()
                .and_then(|t| t.parse::<i64>().ok())
        };
        let lit = NumLit {
            start,
            end: i,
            is_int,
            ival,
        };
        // A float literal too large for f64 is rejected by msgspec anywhere in a document. Only
        // an exponent or a very long mantissa can get there, so most floats skip the check.
        if !is_int && (has_exp || i - start > 300) && self.float_of(lit).is_infinite() {
            return Err(SyntaxError);
        }
        Ok(lit)
    }

    #[inline(always)]
    pub fn text_of(&self, n: NumLit) -> &'a str {
        let t = &self.b[n.start..n.end];
        debug_assert!(t.is_ascii());
        // SAFETY: the number grammar above admits only ASCII digits, signs, '.', 'e' and 'E'.
        unsafe { std::str::from_utf8_unchecked(t) }
    }

    /// A key of at most 7 plain bytes packed with its length (see `parse::key_code`), read with
    /// one 8-byte load; None sends the caller to the general string path. The scanner is at `"`.
    #[inline(always)]
    pub fn short_key(&mut self) -> Option<u64> {
        const LO: u64 = 0x0101_0101_0101_0101;
        const HI: u64 = 0x8080_8080_8080_8080;
        let b = self.b;
        let i = self.i;
        if i + 9 > b.len() || b[i] != b'"' {
            return None;
        }
        let w = u64::from_le_bytes(b[i + 1..i + 9].try_into().unwrap());
        let quote = w ^ (LO * b'"' as u64);
        let slash = w ^ (LO * b'\\' as u64);
        let hit = ((quote.wrapping_sub(LO) & !quote)
            | (slash.wrapping_sub(LO) & !slash)
            | (w.wrapping_sub(LO * 0x20) & !w))
            & HI;
        if hit == 0 {
            return None;
        }
        let p = (hit.trailing_zeros() / 8) as usize;
        if b[i + 1 + p] != b'"' {
            return None; // an escape or a control character: the general path decides
        }
        self.i = i + p + 2;
        let mask = if p == 0 { 0 } else { u64::MAX >> (64 - 8 * p) };
        Some((w & mask) | ((p as u64) << 56))
    }

    #[inline(always)]
    pub fn float_of(&self, n: NumLit) -> f64 {
        self.text_of(n).parse::<f64>().unwrap_or(f64::NAN)
    }

    /// The literal as an i64, or None if it is not an integer literal in range.
    #[inline(always)]
    pub fn int_of(&self, n: NumLit) -> Option<i64> {
        n.ival
    }

    #[inline]
    pub fn literal(&mut self, word: &[u8]) -> JResult<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(SyntaxError)
        }
    }

    /// Skip any value, validating it. Iterative so deep nesting cannot overflow the stack.
    pub fn skip_value(&mut self, stack: &mut Vec<bool>) -> JResult<()> {
        stack.clear();
        'value: loop {
            self.skip_ws();
            match self.peek() {
                Some(b'{') => {
                    self.i += 1;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                    } else {
                        if stack.len() >= MAX_DEPTH {
                            return Err(SyntaxError);
                        }
                        stack.push(true);
                        self.skip_string()?;
                        self.skip_ws();
                        self.expect(b':')?;
                        continue 'value;
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.i += 1;
                    } else {
                        if stack.len() >= MAX_DEPTH {
                            return Err(SyntaxError);
                        }
                        stack.push(false);
                        continue 'value;
                    }
                }
                Some(b'"') => self.skip_string()?,
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                _ => return Err(SyntaxError),
            }
            // after a complete value: close containers or move to the next member
            loop {
                let Some(&is_obj) = stack.last() else {
                    return Ok(());
                };
                self.skip_ws();
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        if is_obj {
                            self.skip_ws();
                            self.skip_string()?;
                            self.skip_ws();
                            self.expect(b':')?;
                        }
                        continue 'value;
                    }
                    Some(b'}') if is_obj => {
                        self.i += 1;
                        stack.pop();
                    }
                    Some(b']') if !is_obj => {
                        self.i += 1;
                        stack.pop();
                    }
                    _ => return Err(SyntaxError),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip(s: &str) -> JResult<usize> {
        let mut sc = Scanner::new(s.as_bytes());
        let mut st = Vec::new();
        sc.skip_value(&mut st)?;
        sc.skip_ws();
        if sc.i != s.len() {
            return Err(SyntaxError);
        }
        Ok(sc.i)
    }

    #[test]
    fn skips_valid_values() {
        for s in [
            "1",
            "-0",
            "1.5e3",
            "1E+2",
            "\"a\\\"b\"",
            "[]",
            "{}",
            "[1,[2,{\"a\":[]}],\"x\"]",
            "{\"a\":{\"b\":null},\"c\":true}",
            "\"\\ud83d\\ude00\"",
            " [ 1 , 2 ] ",
        ] {
            assert!(skip(s).is_ok(), "{s}");
        }
    }

    #[test]
    fn rejects_invalid_values() {
        for s in [
            "01",
            "1.",
            ".5",
            "-",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"a\u{1}b\"",
            "NaN",
            "[1 2]",
            "{1:2}",
            "\"abc",
            "tru",
            "1e400",
            "[",
            "\"\\x\"",
        ] {
            assert!(skip(s).is_err(), "{s}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let s = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(skip(&s).is_err());
        let ok = "[".repeat(500) + &"]".repeat(500);
        assert!(skip(&ok).is_ok());
    }

    #[test]
    fn decodes_escapes_and_surrogates() {
        let line = br#""a\n\u00e9\ud83d\ude00\/""#;
        let mut sc = Scanner::new(line);
        let mut scratch = Vec::new();
        let t = sc.string(&mut scratch).unwrap();
        assert_eq!(t.get(line, &scratch), Some("a\né😀/"));
        let line = br#""plain""#;
        let mut sc = Scanner::new(line);
        assert_eq!(sc.string(&mut scratch).unwrap(), Text::Line(1, 6));
    }

    #[test]
    fn swar_string_stop_equals_bytewise() {
        let mut seed = 12345u64;
        for _ in 0..20_000 {
            let len = (seed % 40) as usize;
            let mut b = Vec::with_capacity(len);
            for _ in 0..len {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let r = (seed >> 33) as u8;
                // mostly letters, sometimes specials, controls and high bytes
                b.push(match r % 16 {
                    0 => b'"',
                    1 => b'\\',
                    2 => r % 0x20,
                    3 => 0x80 | r,
                    _ => b'a' + r % 26,
                });
            }
            for start in 0..=b.len() {
                let naive = (start..b.len())
                    .find(|&i| STRING_STOP[b[i] as usize])
                    .unwrap_or(b.len());
                assert_eq!(find_string_stop(&b, start), naive, "{b:?} from {start}");
            }
        }
    }

    #[test]
    fn short_key_equals_key_code() {
        for k in [
            "",
            "t",
            "ts",
            "sid",
            "target",
            "status7",
            "longer_than_7",
            "a\\b",
        ] {
            let line = format!("\"{k}\":1234567890");
            let mut sc = Scanner::new(line.as_bytes());
            match sc.short_key() {
                Some(code) => {
                    assert!(k.len() <= 7 && !k.contains('\\'), "{k}");
                    assert_eq!(code, crate::parse::key_code(k.as_bytes()), "{k}");
                    assert_eq!(sc.b[sc.i], b':');
                }
                None => assert!(k.len() > 7 || k.contains('\\') || k.contains('"'), "{k}"),
            }
        }
    }

    #[test]
    fn swar_digits_equal_bytewise() {
        for v in [0u64, 1, 12345678, 99999999, 10203040, 87654321] {
            let t = format!("{v:08}");
            let w = u64::from_le_bytes(t.as_bytes().try_into().unwrap());
            assert!(all_digits8(w));
            assert_eq!(digits8(w), v);
        }
        for bad in [
            "1234567a",
            "/2345678",
            ":2345678",
            "1234 678",
            "12345\u{7f}78",
        ] {
            let mut b = [b'0'; 8];
            b.copy_from_slice(&bad.as_bytes()[..8]);
            assert!(!all_digits8(u64::from_le_bytes(b)), "{bad}");
        }
        let n = |s: &str| {
            let mut sc = Scanner::new(s.as_bytes());
            let lit = sc.number().unwrap();
            sc.int_of(lit)
        };
        for v in [
            1700000003372i64,
            123456789012345678,
            99999999,
            100000000,
            1,
            42,
            -1700000003372,
        ] {
            assert_eq!(n(&v.to_string()), Some(v));
        }
        assert_eq!(n("1234567890123456789"), Some(1234567890123456789));
        assert_eq!(n("12345678901234567890"), None);
    }

    #[test]
    fn integers_in_and_out_of_range() {
        let n = |s: &str| {
            let mut sc = Scanner::new(s.as_bytes());
            let lit = sc.number().unwrap();
            sc.int_of(lit)
        };
        assert_eq!(n("9223372036854775807"), Some(i64::MAX));
        assert_eq!(n("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(n("9223372036854775808"), None);
        assert_eq!(n("-0"), Some(0));
        assert_eq!(n("1.0"), None);
    }
}
