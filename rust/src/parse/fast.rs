//! The fast path for the common line: one flat object of plain ASCII strings and plain numbers.
//!
//! Why: nearly every line a live site sends is compact JSON with short keys, unescaped ASCII
//! strings and integer or simple decimal numbers. The general parser (`LineParser::object`)
//! has to allow for escapes, whitespace anywhere, nulls, nested values, duplicate keys and
//! mistyped fields, and pays for that on every byte. This path handles only the common shape,
//! straight into the event's fields, and gives up (returns `false`) at the first thing outside
//! it; the caller then parses the line again with the general parser. So it never has to agree
//! with msgspec on anything hard: it only has to accept a subset of lines, and on those produce
//! exactly what the general parser produces — `tests` checks both on random lines.
//!
//! The line is copied into a zero-padded buffer first: every read may run up to 16 bytes past
//! the end, and the padding's zero byte stops every scan (it is a control character for string
//! scans and a non-digit for numbers), so no per-byte bounds checks are needed.
//!
//! Given up on (left to the general parser): non-ASCII bytes, escapes, control characters,
//! whitespace other than spaces, `null`, nested values at known keys, `props`, a known key
//! twice, numbers with exponents or more than 15 significant digits, any mistyped value, and
//! any line that would be bad (missing ts or key) — the general parser names the reason.

use super::json::Text;
use super::timestamp::{float_ts_to_ms, parse_iso_ms};
use super::{field_of_code, kind_of, text_fields, Field, KeyVal, ParsedEvent};

/// Zero bytes after the line in the scratch copy (reads stay within 16 past any position).
pub const PAD: usize = 48;

#[cfg(not(target_arch = "x86_64"))]
const LO: u64 = 0x0101_0101_0101_0101;
#[cfg(not(target_arch = "x86_64"))]
const HI: u64 = 0x8080_8080_8080_8080;

/// Exact powers of ten for the Clinger fast path (10^22 is the largest exact in f64).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The padded copy of a line; reused across lines.
#[derive(Default)]
pub struct Padded {
    buf: Vec<u8>,
}

impl Padded {
    #[inline]
    fn load(&mut self, line: &[u8]) -> &[u8] {
        self.buf.clear();
        self.buf.reserve(line.len() + PAD);
        self.buf.extend_from_slice(line);
        self.buf.resize(line.len() + PAD, 0);
        &self.buf
    }
}

/// Where the key after each field was seen last, so the next line's key is confirmed with one
/// 16-byte compare instead of being scanned, packed and looked up.
///
/// Why: a site's events come from a few serialisers that write their keys in a fixed order per
/// event type, so the key after `ts`, or after `type` of a given kind, is nearly always the one
/// seen there last. A guess is the bytes from the key's opening quote through its colon, as
/// they stood in an earlier line, and the field they named; equal bytes name the same field
/// (they hold no escape: a key with one is never learned), so a hit changes nothing but the
/// cost. A miss falls back to the scan and learns what it found.
#[derive(Clone)]
pub struct KeyGuesses {
    slots: [KeyGuess; GUESS_SLOTS],
    /// keys read by a guess (tests only)
    #[cfg(test)]
    hits: u64,
}

#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct KeyGuess {
    bytes: [u8; 16],
    /// the compare mask of the first `len` bytes; a bit above the 16 while there is no guess,
    /// so an empty slot never matches
    want: u32,
    len: u8,
    field: u8,
}

impl Default for KeyGuess {
    fn default() -> Self {
        KeyGuess {
            bytes: [0; 16],
            want: 1 << 16,
            len: 0,
            field: 0,
        }
    }
}

/// Slot 0 is the line's first key; then one per field (the key after it); the key after
/// `type` has one slot per event kind (each type of event has its own key order).
const GUESS_AFTER_FIELD: usize = 1;
const GUESS_AFTER_KIND: usize = GUESS_AFTER_FIELD + super::N_FIELDS;
const GUESS_SLOTS: usize = GUESS_AFTER_KIND + super::EVENT_TYPES.len();

impl Default for KeyGuesses {
    fn default() -> Self {
        KeyGuesses {
            slots: [KeyGuess::default(); GUESS_SLOTS],
            #[cfg(test)]
            hits: 0,
        }
    }
}

/// Per byte of `w`: the high bit set where the byte is `"`, `\`, below 0x20 or above 0x7f.
/// Only the lowest flagged byte is exact (borrows), which is all the callers use.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn string_stops(w: u64) -> u64 {
    let quote = w ^ (LO * b'"' as u64);
    let slash = w ^ (LO * b'\\' as u64);
    ((quote.wrapping_sub(LO) & !quote)
        | (slash.wrapping_sub(LO) & !slash)
        | (w.wrapping_sub(LO * 0x20) & !w)
        | w)
        & HI
}

/// A plain number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?` of at most 19 digits (so the mantissa
/// cannot overflow), with all its digits as an integer mantissa.
struct Num {
    neg: bool,
    mantissa: u64,
    /// digits after the point
    frac: u32,
}

impl Num {
    #[inline(always)]
    fn int(&self) -> Option<i64> {
        if self.frac != 0 || self.mantissa > i64::MAX as u64 {
            return None;
        }
        let m = self.mantissa as i64;
        Some(if self.neg { -m } else { m })
    }

    /// Exactly the correctly rounded value (as `str::parse::<f64>`): both the mantissa (at most
    /// 2^53) and the power of ten are exact in f64, and one IEEE division rounds correctly.
    #[inline(always)]
    fn float(&self) -> Option<f64> {
        if self.mantissa > 1 << 53 || self.frac > 22 {
            return None;
        }
        let v = self.mantissa as f64 / POW10[self.frac as usize];
        Some(if self.neg { -v } else { v })
    }
}

/// Powers of ten as integers, for joining runs of digits.
const POW10_U64: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// The leading ASCII digits of the eight bytes `w` (first byte lowest): how many (0..=8) and
/// their value. No loop: a byte is a digit iff `byte - '0'` is below 10, tested on all eight
/// at once (borrows and carries only run upwards, so the first non-digit found is exact);
/// the digits are then shifted to the top, behind zero bytes that read as leading zeros.
#[inline(always)]
fn digit_run(w: u64) -> (usize, u64) {
    let x = w.wrapping_sub(0x3030_3030_3030_3030);
    let not_digit = (x | x.wrapping_add(0x7676_7676_7676_7676)) & 0x8080_8080_8080_8080;
    let n = (not_digit.trailing_zeros() / 8) as usize;
    if n == 0 {
        return (0, 0);
    }
    let v = x << (64 - 8 * n);
    let v = (v.wrapping_mul(10) + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let v = (v.wrapping_mul(100) + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    (n, (v.wrapping_mul(10_000) + (v >> 32)) & 0xFFFF_FFFF)
}

#[inline(never)]
#[cold]
fn skip_spaces(p: &[u8], mut i: usize) -> usize {
    while p[i] == b' ' {
        i += 1;
    }
    i
}

/// A position in the padded copy. Invariants: `i <= len`, the buffer has `PAD` zero bytes after
/// `len`, and no step consumes a zero byte. Fixed reads look at most 16 bytes past `i`; a string
/// scan reads word by word but stops at the first zero byte at the latest, so it reads at most
/// 8 bytes past `len`. Hence no read needs a bounds check.
struct Cursor<'a> {
    p: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    /// The byte `k` past the position.
    #[inline(always)]
    fn peek(&self, k: usize) -> u8 {
        debug_assert!(self.i + k < self.p.len());
        // SAFETY: see the invariant above (k < PAD)
        unsafe { *self.p.get_unchecked(self.i + k) }
    }

    #[inline(always)]
    fn at(&self) -> u8 {
        self.peek(0)
    }

    /// Eight bytes from `k` past the position.
    #[inline(always)]
    fn word(&self, k: usize) -> u64 {
        debug_assert!(self.i + k + 8 <= self.p.len());
        // SAFETY: as `peek` (k + 8 <= PAD)
        unsafe { (self.p.as_ptr().add(self.i + k) as *const u64).read_unaligned() }.to_le()
    }

    /// Step over `c`, allowing spaces before it (compact JSON has none: one compare).
    #[inline(always)]
    fn eat(&mut self, c: u8) -> bool {
        if self.at() != c {
            self.spaces();
            if self.at() != c {
                return false;
            }
        }
        self.i += 1;
        true
    }

    /// Step over spaces (rare: compact JSON has none). The scan is out of line and returns the
    /// new position, so the cursor itself stays in registers.
    #[inline(always)]
    fn spaces(&mut self) {
        self.i = skip_spaces(self.p, self.i);
    }

    /// Offset of the first byte in the 16 from `k` past the position that is `"`, `\`, below
    /// 0x20 or above 0x7f (16 when none). A string scan stops at such a byte, so it never reads
    /// more than 16 bytes past the first zero byte of the padding.
    #[inline(always)]
    fn first_stop16(&self, k: usize) -> usize {
        debug_assert!(self.i + k + 16 <= self.p.len());
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::*;
            // SAFETY: SSE2 is part of x86_64; the load is in bounds (see above)
            unsafe {
                let v = _mm_loadu_si128(self.p.as_ptr().add(self.i + k) as *const __m128i);
                let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
                let slash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
                // signed compare: below 0x20 and above 0x7f (negative) in one
                let ctrl = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
                let m = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, slash), ctrl)) as u32;
                (m | 1 << 16).trailing_zeros() as usize
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let lo = string_stops(self.word(k));
            if lo != 0 {
                return (lo.trailing_zeros() / 8) as usize;
            }
            let hi = string_stops(self.word(k + 8));
            if hi != 0 {
                return 8 + (hi.trailing_zeros() / 8) as usize;
            }
            16
        }
    }

    /// Whether the bytes at the position start with the guess's `len` bytes.
    #[inline(always)]
    fn starts_with_guess(&self, g: &KeyGuess) -> bool {
        debug_assert!(self.i + 16 <= self.p.len());
        let want = g.want;
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::*;
            // SAFETY: SSE2 is part of x86_64; the 16-byte load is in bounds (see `Cursor`)
            unsafe {
                let v = _mm_loadu_si128(self.p.as_ptr().add(self.i) as *const __m128i);
                let w = _mm_loadu_si128(g.bytes.as_ptr() as *const __m128i);
                (_mm_movemask_epi8(_mm_cmpeq_epi8(v, w)) as u32) & want == want
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            want >> 16 == 0 && (0..g.len as usize).all(|k| self.peek(k) == g.bytes[k])
        }
    }

    /// A string at `"`: its range if it is plain ASCII without escapes.
    #[inline(always)]
    fn string(&mut self) -> Option<Text> {
        if self.at() != b'"' {
            return None;
        }
        let start = self.i + 1;
        let mut k = 1;
        loop {
            let n = self.first_stop16(k);
            k += n;
            if n < 16 {
                break;
            }
        }
        if self.peek(k) != b'"' {
            return None;
        }
        self.i += k + 1;
        Some(Text::Line(start as u32, (self.i - 1) as u32))
    }

    /// A key at `"`, packed as `parse::key_code` packs it (0 for keys longer than 7 bytes, which
    /// match no known key), positioned after the `:`.
    #[inline(always)]
    fn key(&mut self) -> Option<u64> {
        if self.at() != b'"' {
            return None;
        }
        let n = self.first_stop16(1);
        let code = if n < 8 {
            if self.peek(1 + n) != b'"' {
                return None;
            }
            let w = self.word(1);
            self.i += n + 2;
            (w & ((1u64 << (8 * n)) - 1)) | ((n as u64) << 56)
        } else {
            self.string()?;
            0
        };
        self.eat(b':').then_some(code)
    }

    /// Digits from the position on, eight at a time, added to `m`; returns how many. Stops
    /// after 24, which is past the 19 a `Num` may have.
    #[inline(always)]
    fn digits(&mut self, m: &mut u64) -> usize {
        let mut total = 0;
        for _ in 0..3 {
            let (n, v) = digit_run(self.word(0));
            *m = m.wrapping_mul(POW10_U64[n]).wrapping_add(v);
            self.i += n;
            total += n;
            if n < 8 {
                break;
            }
        }
        total
    }

    #[inline(always)]
    fn number(&mut self) -> Option<Num> {
        let neg = self.at() == b'-';
        self.i += neg as usize;
        let lead = self.at();
        let mut m: u64 = 0;
        let int_digits = self.digits(&mut m);
        // no digits, or a leading zero ("01" is not JSON): the general parser decides
        if int_digits == 0 || (lead == b'0' && int_digits > 1) {
            return None;
        }
        let mut frac = 0;
        if self.at() == b'.' {
            self.i += 1;
            frac = self.digits(&mut m);
            if frac == 0 {
                return None;
            }
        }
        // exponents and over-long mantissas are the general parser's
        if matches!(self.at(), b'e' | b'E') || int_digits + frac > 19 {
            return None;
        }
        Some(Num {
            neg,
            mantissa: m,
            frac: frac as u32,
        })
    }

    /// A value at an unknown key: string, plain number or literal; anything else gives up.
    #[inline]
    fn skip(&mut self) -> Option<()> {
        let lit = |c: &Self, w: &[u8]| (0..w.len()).all(|k| c.peek(k) == w[k]);
        match self.at() {
            b'"' => self.string().map(|_| ()),
            b'-' | b'0'..=b'9' => self.number().map(|_| ()),
            b't' if lit(self, b"true") => {
                self.i += 4;
                Some(())
            }
            b'f' if lit(self, b"false") => {
                self.i += 5;
                Some(())
            }
            b'n' if lit(self, b"null") => {
                self.i += 4;
                Some(())
            }
            _ => None,
        }
    }

    #[inline(always)]
    fn key_val(&mut self) -> Option<KeyVal> {
        if self.at() == b'"' {
            self.string().map(KeyVal::Text)
        } else {
            self.number()?.int().map(KeyVal::Int)
        }
    }

    #[inline(always)]
    fn int_col(&mut self) -> Option<i32> {
        let v = self.number()?.int()?;
        // the NA sentinel (i32::MIN) is out of range, as in the general parser
        (v > i32::MIN as i64 && v <= i32::MAX as i64).then_some(v as i32)
    }
}

/// Parse `line` into `ev` if it has the common shape; `false` means "use the general parser"
/// (`ev` is then partly written, and the general parser resets it).
#[inline]
pub fn parse(
    line: &[u8],
    pad: &mut Padded,
    guesses: &mut KeyGuesses,
    ev: &mut ParsedEvent,
) -> bool {
    parse_in(pad.load(line), line.len(), guesses, ev).is_some()
}

/// `parse` of the line `buf[..len]` read where it lies, without the padded copy, when the
/// buffer goes on past it: `buf[len]` is the line's `\n` and at least `PAD` bytes follow the
/// line. Why this is the same as parsing the padded copy: the padding matters only through its
/// first byte, a control character that every scan stops at and no step consumes; `\n` is one
/// too, so no read gets past it except the fixed look-aheads, which stay within `PAD`.
#[inline]
pub fn parse_framed(
    buf: &[u8],
    len: usize,
    guesses: &mut KeyGuesses,
    ev: &mut ParsedEvent,
) -> bool {
    debug_assert!(buf.len() >= len + PAD && buf[len] == b'\n');
    parse_in(buf, len, guesses, ev).is_some()
}

fn parse_in(p: &[u8], len: usize, guesses: &mut KeyGuesses, ev: &mut ParsedEvent) -> Option<()> {
    *ev = ParsedEvent::default();
    let mut c = Cursor { p, i: 0 };
    if !c.eat(b'{') {
        return None;
    }
    let mut seen = 0u32;
    let mut slot = 0;
    loop {
        let g = &mut guesses.slots[slot];
        let field = if c.starts_with_guess(g) {
            c.i += g.len as usize;
            #[cfg(test)]
            {
                guesses.hits += 1;
            }
            Some(Field::from_index(g.field))
        } else {
            if c.at() != b'"' {
                c.spaces();
            }
            let at = c.i;
            let field = field_of_code(c.key()?);
            if let Some(f) = field {
                let n = c.i - at;
                if n <= 16 {
                    g.bytes.copy_from_slice(&p[at..at + 16]);
                    g.want = (1 << n) - 1;
                    g.len = n as u8;
                    g.field = f as u8;
                }
            }
            field
        };
        if c.at() == b' ' {
            c.spaces();
        }
        match field {
            None => c.skip()?,
            Some(f) => {
                let bit = 1u32 << f as u32;
                if seen & bit != 0 {
                    return None; // last-wins and type-mark bookkeeping: general parser
                }
                seen |= bit;
                slot = GUESS_AFTER_FIELD + f as usize;
                match f {
                    Field::Ts => {
                        ev.ts = Some(if c.at() == b'"' {
                            let Text::Line(a, b) = c.string()? else {
                                return None;
                            };
                            parse_iso_ms(&p[a as usize..b as usize])?
                        } else {
                            let n = c.number()?;
                            match n.int() {
                                Some(v) => v,
                                None => float_ts_to_ms(n.float()?)?,
                            }
                        })
                    }
                    Field::Sid | Field::Uid | Field::Id => {
                        let k = c.key_val()?;
                        *match f {
                            Field::Sid => &mut ev.sid,
                            Field::Uid => &mut ev.uid,
                            _ => &mut ev.id,
                        } = k;
                    }
                    Field::Type => {
                        let Text::Line(a, b) = c.string()? else {
                            return None;
                        };
                        // SAFETY: the string scan stops at any byte above 0x7f: ASCII
                        let s =
                            unsafe { std::str::from_utf8_unchecked(&p[a as usize..b as usize]) };
                        ev.kind = kind_of(s)?;
                        slot = GUESS_AFTER_KIND + ev.kind as usize;
                    }
                    // one string scan and one number scan for all their fields (a copy per
                    // field would bloat the loop and split the branch history)
                    text_fields!() => {
                        *ev.text_field(f) = c.string()?;
                    }
                    Field::X | Field::Y | Field::Sy | Field::Sh | Field::Vh => {
                        *ev.int_field(f) = c.int_col()?;
                    }
                    Field::Status => {
                        let v = c.number()?.int()?;
                        if !(-32768..=32767).contains(&v) {
                            return None;
                        }
                        ev.status = v as i16;
                    }
                    Field::Dur | Field::Score => {
                        let v = Some(c.number()?.float()?);
                        *if f == Field::Dur {
                            &mut ev.dur
                        } else {
                            &mut ev.score
                        } = v;
                    }
                    Field::Props => return None,
                }
            }
        }
        match c.at() {
            b',' => c.i += 1,
            b'}' => break,
            _ => {
                c.spaces();
                match c.at() {
                    b',' => c.i += 1,
                    b'}' => break,
                    _ => return None,
                }
            }
        }
    }
    c.i += 1;
    // trailing JSON whitespace: spaces, and the \r of files written with CRLF line ends
    while c.i < len && matches!(c.at(), b' ' | b'\t' | b'\r' | b'\n') {
        c.i += 1;
    }
    if c.i != len {
        return None;
    }
    // a line without ts or key is bad: the general parser says why
    ev.ts?;
    let key_ok = |k: KeyVal| match k {
        KeyVal::None => false,
        KeyVal::Int(_) => true,
        KeyVal::Text(Text::Line(a, b)) => b > a,
        KeyVal::Text(_) => false,
    };
    (key_ok(ev.sid) || key_ok(ev.uid)).then_some(())
}

#[cfg(test)]
mod tests {
    use super::super::{LineOutcome, LineParser};
    use super::*;

    /// The general parser's view of a line (the fast path disabled).
    fn general(line: &[u8]) -> (bool, ParsedEvent) {
        let mut p = LineParser::default();
        let mut ev = ParsedEvent::default();
        let ok = matches!(p.parse_general(line, &mut ev), LineOutcome::Event);
        (ok, ev)
    }

    /// The fast path with no key guesses yet.
    fn fast(line: &[u8]) -> Option<ParsedEvent> {
        Warm::default().fast(line)
    }

    /// The fast path keeping its key guesses from line to line, as the ingestor's does; each
    /// line is also read cold, and a guess may change the cost only, never the outcome.
    #[derive(Default)]
    struct Warm {
        pad: Padded,
        guesses: KeyGuesses,
    }

    impl Warm {
        fn fast(&mut self, line: &[u8]) -> Option<ParsedEvent> {
            let mut ev = ParsedEvent::default();
            parse(line, &mut self.pad, &mut self.guesses, &mut ev).then_some(ev)
        }

        fn fast_checked(&mut self, line: &[u8]) -> Option<ParsedEvent> {
            let warm = self.fast(line);
            let cold = fast(line);
            let s = String::from_utf8_lossy(line);
            assert_eq!(warm.is_some(), cold.is_some(), "a key guess changed: {s}");
            if let (Some(a), Some(b)) = (&warm, &cold) {
                assert!(same(a, b), "a key guess changed {s}: {a:?} != {b:?}");
            }
            warm
        }
    }

    fn same(a: &ParsedEvent, b: &ParsedEvent) -> bool {
        // Debug covers every field, including the private type marks; floats compare by bits
        // through their Debug text, which is exact for f64
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn common_lines_take_the_fast_path_and_agree() {
        let lines: &[&[u8]] = &[
            br#"{"ts":1700000003846,"sid":"s0015656","url":"/search","type":"scroll","sy":520,"sh":5200,"vh":900,"tab":"w1"}"#,
            br#"{"ts":1700000005835,"sid":"s0004250","url":"/","type":"request","route":"GET /api/product","status":200,"dur":84.0}"#,
            br#"{"ts": 1700000000.123, "uid": 42, "type": "click", "x": -3, "y": 0, "score": 0.1, "extra_key_long": [1]}"#,
            br#"{"ts":"2024-01-01T00:00:00.5+02:00","sid":"a","dur":12,"zz":true,"q":null,"longer_than_seven":"v"}"#,
            br#"  {"ts":-5,"id":7,"uid":"u","type":"custom"}  "#,
            b"{\"ts\":1,\"sid\":\"crlf\"}\r",
        ];
        for (k, line) in lines.iter().enumerate() {
            let (ok, want) = general(line);
            assert!(ok, "line {k} should be good");
            match fast(line) {
                Some(got) => assert!(same(&got, &want), "line {k}: {got:?} != {want:?}"),
                // the third line has an array at an unknown key: the general path's
                None => assert_eq!(k, 2, "line {k} should take the fast path"),
            }
        }
    }

    #[test]
    fn digit_runs_match_a_byte_loop() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // mostly digits, sometimes any byte (high bytes, '/', ':' next to the digit range)
            let bytes: [u8; 8] = std::array::from_fn(|k| {
                let r = (seed >> (8 * k)) as u8;
                if r.is_multiple_of(5) {
                    r.rotate_left(3)
                } else {
                    b'0' + r % 10
                }
            });
            let n = bytes.iter().take_while(|c| c.is_ascii_digit()).count();
            let v = bytes[..n]
                .iter()
                .fold(0u64, |a, &c| a * 10 + (c - b'0') as u64);
            assert_eq!(digit_run(u64::from_le_bytes(bytes)), (n, v), "{bytes:?}");
        }
    }

    #[test]
    fn gives_up_on_what_it_does_not_handle() {
        for line in [
            &br#"{"ts":1,"sid":"a\n"}"#[..],
            br#"{"ts":1,"sid":"a","url":"/caf\xc3\xa9"}"#,
            br#"{"ts":1,"sid":"a","x":1e3}"#,
            br#"{"ts":1,"sid":"a","x":null}"#,
            br#"{"ts":1,"sid":"a","sid":"b"}"#,
            br#"{"ts":1,"sid":"a","props":{}}"#,
            br#"{"ts":1,"sid":""}"#,
            br#"{"sid":"a"}"#,
            br#"{"ts":1,"sid":"a","type":"bogus"}"#,
            br#"{"ts":1,"sid":"a","status":40000}"#,
            br#"{"ts":1,"sid":"a","x":2147483648}"#,
            br#"{"ts":1,"sid":"a"} x"#,
            br#"{"ts":1,"sid":"a"}"#.as_slice().split_at(17).0,
            br#"{"ts":01,"sid":"a"}"#,
            br#"{"ts":1.,"sid":"a"}"#,
            b"{\"ts\":1,\t\"sid\":\"a\"}",
            br#"{"ts":12345678901234567890,"sid":"a"}"#,
            br#"{"ts":1,"sid":"a","dur":0.12345678901234567}"#,
        ] {
            assert!(fast(line).is_none(), "{}", String::from_utf8_lossy(line));
        }
    }

    /// Valid lines with random bytes flipped, inserted, deleted or cut off (deterministic).
    fn mutated_lines(count: usize) -> impl Iterator<Item = Vec<u8>> {
        let seeds: &[&[u8]] = &[
            br#"{"ts":1700000003846,"sid":"s0015656","url":"/search","type":"scroll","sy":520,"sh":5200,"vh":900,"tab":"w1"}"#,
            br#"{"ts":1700000005835,"sid":"s0004250","url":"/","type":"request","route":"GET /api/product","status":200,"dur":84.0}"#,
            br#"{"ts":"2024-01-01T00:00:00Z","uid":42,"id":"e1","type":"click","x":-3,"y":7,"score":0.25}"#,
        ];
        let mut rng = Xorshift(0x0123_4567_89ab_cdef);
        (0..count).map(move |_| {
            let mut line = seeds[rng.below(seeds.len())].to_vec();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(line.len() + 1);
                match rng.below(4) {
                    0 if at < line.len() => line[at] = rng.pick(ALPHABET),
                    1 => line.insert(at, rng.pick(ALPHABET)),
                    2 if at < line.len() => {
                        line.remove(at);
                    }
                    _ => line.truncate(at),
                }
            }
            line
        })
    }

    const ALPHABET: &[u8] = b"{}[]:,\"\\ \t0123456789.-eE+truefalsnul\x00\x1f\x7f\x80\xc3\xa9";

    struct Xorshift(u64);

    impl Xorshift {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
        fn pick(&mut self, from: &[u8]) -> u8 {
            from[self.below(from.len())]
        }
    }

    /// Mutated lines: the fast path never reads out of bounds (the debug build asserts every
    /// unchecked read) and never accepts a line the general parser rejects or reads differently.
    #[test]
    fn mutated_lines_never_fool_the_fast_path() {
        let (mut accepted, mut warm) = (0, Warm::default());
        for line in mutated_lines(300_000) {
            if let Some(got) = warm.fast_checked(&line) {
                accepted += 1;
                let (ok, want) = general(&line);
                let s = String::from_utf8_lossy(&line);
                assert!(
                    ok,
                    "fast path accepted a line the general parser rejects: {s}"
                );
                assert!(same(&got, &want), "{s}: {got:?} != {want:?}");
            }
        }
        assert!(
            accepted > 1_000,
            "too few mutated lines still parse: {accepted}"
        );
        assert!(warm.guesses.hits > 100_000, "{} hits", warm.guesses.hits);
    }

    /// Reading a line in place, whatever bytes follow its newline, gives exactly what reading
    /// its zero-padded copy gives (accepted or not, and the same event).
    #[test]
    fn in_place_equals_the_padded_copy() {
        let mut rng = Xorshift(0x5eed_f00d_dead_beef);
        let (mut pad, mut both) = (Padded::default(), 0);
        let (mut ga, mut gb) = (KeyGuesses::default(), KeyGuesses::default());
        for line in mutated_lines(100_000) {
            let mut buf = line.clone();
            buf.push(b'\n');
            // what follows: JSON-ish bytes that would continue a scan that ran past the line
            for _ in 0..PAD + rng.below(40) {
                buf.push(rng.pick(ALPHABET));
            }
            let (mut a, mut b) = (ParsedEvent::default(), ParsedEvent::default());
            let padded = parse(&line, &mut pad, &mut ga, &mut a);
            let framed = parse_framed(&buf, line.len(), &mut gb, &mut b);
            let s = String::from_utf8_lossy(&line);
            assert_eq!(padded, framed, "{s}");
            if padded {
                both += 1;
                assert!(same(&a, &b), "{s}: {a:?} != {b:?}");
            }
        }
        assert!(both > 1_000, "too few lines parsed: {both}");
    }

    /// Random lines from pieces, valid and not: wherever the fast path says yes, the general
    /// parser says yes with the same event.
    #[test]
    fn agrees_with_the_general_parser_on_random_lines() {
        let keys = [
            "ts",
            "sid",
            "uid",
            "id",
            "type",
            "url",
            "target",
            "x",
            "y",
            "sy",
            "status",
            "dur",
            "score",
            "tab",
            "geo",
            "zz",
            "a_long_unknown_key",
            "props",
            "t\\u0073",
        ];
        let vals = [
            "1700000000000",
            "1",
            "0",
            "-0",
            "-12",
            "3.25",
            "0.001",
            "1700000000.5",
            "12.0",
            "99999999999999999999",
            "2147483647",
            "-2147483647",
            "-2147483648",
            "32768",
            "\"\"",
            "\"a\"",
            "\"click\"",
            "\"/p?q=1\"",
            "\"2024-02-29T23:59:59Z\"",
            "\"x\\\"y\"",
            "true",
            "null",
            "[]",
            "{}",
            "1e2",
            "\"\u{e9}\"",
            "00",
            "-",
            "1.",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut fast_count, mut warm) = (0, Warm::default());
        for _ in 0..200_000 {
            // most lines start as good ones do, so the rest of the line decides
            let mut s = String::from(match next(4) {
                0 => "{",
                1 => r#"{"ts":1700000000000,"uid":"u""#,
                _ => r#"{"ts":1700000000000,"sid":"s""#,
            });
            let nf = next(7);
            for f in 0..nf {
                if f > 0 || s.len() > 1 {
                    s.push_str([",", ", ", ","][next(3)]);
                }
                s.push('"');
                s.push_str(keys[next(keys.len())]);
                s.push_str([r#"":"#, r#"": "#][next(2)]);
                s.push_str(vals[next(vals.len())]);
            }
            s.push_str(["}", "} ", "}}", "", "}\r", "}\t\r"][next(6) * (next(8) / 7)]);
            let line = s.as_bytes();
            if let Some(got) = warm.fast_checked(line) {
                fast_count += 1;
                let (ok, want) = general(line);
                assert!(
                    ok,
                    "fast path accepted a line the general parser rejects: {s}"
                );
                assert!(same(&got, &want), "{s}: {got:?} != {want:?}");
            }
        }
        assert!(
            fast_count > 10_000,
            "too few lines took the fast path: {fast_count}"
        );
        assert!(warm.guesses.hits > 50_000, "{} hits", warm.guesses.hits);
    }

    /// A stream of the usual lines: after the first of each shape, every key is a guess hit.
    #[test]
    fn key_guesses_hit_on_a_steady_stream() {
        let lines: [&[u8]; 3] = [
            br#"{"ts":1700000003846,"sid":"s0015656","url":"/search","type":"scroll","sy":520,"sh":5200,"vh":900,"tab":"w1"}"#,
            br#"{"ts":1700000005835,"sid":"s0004250","url":"/","type":"request","route":"GET /api/product","status":200,"dur":84.0}"#,
            br#"{"ts":1700000005835,"sid":"s0004250","url":"/","type":"click","target":"a.b","x":1,"y":2}"#,
        ];
        let mut warm = Warm::default();
        for line in lines {
            warm.fast_checked(line).expect("fast path");
        }
        let before = warm.guesses.hits;
        for k in 0..30 {
            warm.fast_checked(lines[k % 3]).expect("fast path");
        }
        // 8 + 7 + 7 keys per round of three lines
        assert_eq!(warm.guesses.hits - before, 10 * 22);
    }

    #[test]
    fn field_numbers_are_their_index() {
        for (i, f) in Field::ALL.iter().enumerate() {
            assert_eq!(*f as usize, i);
            assert_eq!(Field::from_index(i as u8), *f);
        }
    }
}
