//! One NDJSON line → one canonical event, or the reason it is bad.
//!
//! The rules mirror `uxtop.ingest.reference.parse_line` (msgspec + Python), which is the
//! specification; `tests/ingest` property-tests the two against each other.

pub mod fast;
pub mod json;
pub mod lines;
pub mod timestamp;

use crate::error::BadReason;
use json::{NumLit, Scanner, SyntaxError, Text};

/// Kind codes, in the order of `uxtop.schema.EventType` (part of the ABI with Python).
pub const EVENT_TYPES: [&str; 20] = [
    "pageview",
    "click",
    "dblclick",
    "contextmenu",
    "move",
    "scroll",
    "input",
    "change",
    "submit",
    "focus",
    "blur",
    "selection",
    "mutation",
    "error",
    "request",
    "vital",
    "resize",
    "visibility",
    "feedback",
    "custom",
];
pub const KIND_CUSTOM: u8 = 19;

/// A type name as (first word, last word, length), read with overlapping loads so there is no
/// byte loop and no `memcpy`; the two words cover every byte of names up to 16 bytes, so equal
/// triples mean equal names.
#[inline(always)]
const fn type_words(b: &[u8]) -> (u64, u64, usize) {
    const fn w8(b: &[u8], i: usize) -> u64 {
        u64::from_le_bytes([
            b[i],
            b[i + 1],
            b[i + 2],
            b[i + 3],
            b[i + 4],
            b[i + 5],
            b[i + 6],
            b[i + 7],
        ])
    }
    const fn w4(b: &[u8], i: usize) -> u64 {
        u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as u64
    }
    let n = b.len();
    if n >= 8 {
        (w8(b, 0), w8(b, n - 8), n)
    } else if n >= 4 {
        (w4(b, 0) | w4(b, n - 4) << 32, 0, n)
    } else if n > 0 {
        (
            b[0] as u64 | (b[n / 2] as u64) << 8 | (b[n - 1] as u64) << 16,
            0,
            n,
        )
    } else {
        (0, 0, 0)
    }
}

/// Slot of a type name: `(mix * TYPE_MUL) >> 59` is distinct for the 20 names (checked by
/// `type_table_is_a_perfect_hash`), so a lookup is one multiply and one compare.
const TYPE_MUL: u64 = 0x3dab_0850_b816_0827;

#[inline(always)]
const fn type_slot(t: (u64, u64, usize)) -> usize {
    let mix = t.0 ^ t.1.rotate_left(1) ^ t.2 as u64;
    (mix.wrapping_mul(TYPE_MUL) >> 59) as usize
}

static TYPE_TABLE: [((u64, u64, usize), u8); 32] = {
    let mut t = [((0u64, 0u64, usize::MAX), u8::MAX); 32];
    let mut i = 0;
    while i < EVENT_TYPES.len() {
        let w = type_words(EVENT_TYPES[i].as_bytes());
        t[type_slot(w)] = (w, i as u8);
        i += 1;
    }
    t
};

/// `type_words` for run time: the same words, read with unaligned loads (the `const` version
/// builds them byte by byte; `kind_of_agrees_with_event_types` checks the two agree). For a string
/// of at most 16 bytes, every byte is in one of the words (some twice), and any other byte of
/// the words is zero.
#[inline(always)]
fn type_words_fast(b: &[u8]) -> (u64, u64, usize) {
    let w8 = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
    let w4 = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap()) as u64;
    let n = b.len();
    if n >= 8 {
        (w8(0), w8(n - 8), n)
    } else if n >= 4 {
        (w4(0) | w4(n - 4) << 32, 0, n)
    } else if n > 0 {
        (
            b[0] as u64 | (b[n / 2] as u64) << 8 | (b[n - 1] as u64) << 16,
            0,
            n,
        )
    } else {
        (0, 0, 0)
    }
}

/// `type` string → kind code.
#[inline]
pub fn kind_of(s: &str) -> Option<u8> {
    let b = s.as_bytes();
    if b.len() > 16 {
        return None;
    }
    let w = type_words_fast(b);
    let (want, kind) = TYPE_TABLE[type_slot(w)];
    (want == w).then_some(kind)
}

/// Sentinel for absent integer columns (x, y, sy, sh, vh).
pub const INT_NA: i32 = i32::MIN;
pub const FLAG_MODIFIER: u8 = 1;

const MODIFIER_KEYS: [&[u8]; 5] = [b"ctrlKey", b"metaKey", b"shiftKey", b"altKey", b"mod"];

/// The pattern matching the string-valued fields (shared by the general and the fast parser).
macro_rules! text_fields {
    () => {
        Field::Url
            | Field::Target
            | Field::Tag
            | Field::Route
            | Field::Msg
            | Field::Tab
            | Field::Dev
            | Field::Rel
            | Field::Geo
    };
}
use text_fields;

/// Known keys. Their index is a bit in `ParsedEvent::wrong` (a mistyped value marks it; a later
/// duplicate key with a good value clears it, as "last key wins" in msgspec's dict decoding).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Field {
    Ts = 0,
    Id,
    Sid,
    Uid,
    Tab,
    Type,
    Url,
    Target,
    Tag,
    X,
    Y,
    Sy,
    Sh,
    Vh,
    Dur,
    Status,
    Route,
    Msg,
    Score,
    Props,
    Dev,
    Rel,
    Geo,
}

/// String fields, one intern table each.
pub const N_TEXTS: usize = 9;

/// A table from a field's number to its position in `fields`; `other` for fields not listed.
const fn slot_table(fields: &[Field], other: u8) -> [u8; N_FIELDS] {
    let mut t = [other; N_FIELDS];
    let mut i = 0;
    while i < fields.len() {
        t[fields[i] as usize] = i as u8;
        i += 1;
    }
    t
}

/// Each field's slot in `ParsedEvent::texts` (the string fields; any other field reads as geo,
/// as callers match the string fields first).
const TEXT_SLOT: [u8; N_FIELDS] = {
    use Field::*;
    slot_table(&[Url, Target, Tag, Route, Msg, Tab, Dev, Rel, Geo], 8)
};

/// Integer columns (x, y, sy, sh, vh).
pub const N_INTS: usize = 5;

/// Each field's slot in `ParsedEvent::ints` (the integer columns; any other field reads as vh).
const INT_SLOT: [u8; N_FIELDS] = {
    use Field::*;
    slot_table(&[X, Y, Sy, Sh, Vh], 4)
};

/// How many known keys there are (`Field` runs 0..N_FIELDS).
pub(crate) const N_FIELDS: usize = Field::Geo as usize + 1;

impl Field {
    const ALL: [Field; N_FIELDS] = {
        use Field::*;
        [
            Ts, Id, Sid, Uid, Tab, Type, Url, Target, Tag, X, Y, Sy, Sh, Vh, Dur, Status, Route,
            Msg, Score, Props, Dev, Rel, Geo,
        ]
    };

    /// The field numbered `i` (`i < N_FIELDS`, as `f as u8` gives).
    #[inline(always)]
    fn from_index(i: u8) -> Field {
        Self::ALL[i as usize]
    }
}

/// A key of up to 7 bytes packed with its length into a u64, so known keys are matched with
/// one integer compare instead of a chain of memcmp calls.
#[inline]
pub(crate) const fn key_code(k: &[u8]) -> u64 {
    if k.len() > 7 {
        return 0;
    }
    let mut v = (k.len() as u64) << 56;
    let mut i = 0;
    while i < k.len() {
        v |= (k[i] as u64) << (8 * i);
        i += 1;
    }
    v
}

#[inline]
fn field_of(key: &[u8]) -> Option<Field> {
    field_of_code(key_code(key))
}

/// Known keys by perfect hash: `(code * FIELD_MUL) >> 59` is distinct for the 23 keys
/// (checked by `field_table_is_a_perfect_hash`), so a lookup is one multiply and one compare.
const FIELD_MUL: u64 = 0x4332_0e99_bb26_ca9f;

const FIELD_KEYS: [(&[u8], Field); 23] = {
    use Field::*;
    [
        (b"ts", Ts),
        (b"id", Id),
        (b"sid", Sid),
        (b"uid", Uid),
        (b"tab", Tab),
        (b"type", Type),
        (b"url", Url),
        (b"target", Target),
        (b"tag", Tag),
        (b"x", X),
        (b"y", Y),
        (b"sy", Sy),
        (b"sh", Sh),
        (b"vh", Vh),
        (b"dur", Dur),
        (b"status", Status),
        (b"route", Route),
        (b"msg", Msg),
        (b"score", Score),
        (b"props", Props),
        (b"dev", Dev),
        (b"rel", Rel),
        (b"geo", Geo),
    ]
};

static FIELD_TABLE: [(u64, Option<Field>); 32] = {
    let mut t: [(u64, Option<Field>); 32] = [(u64::MAX, None); 32];
    let mut i = 0;
    while i < FIELD_KEYS.len() {
        let code = key_code(FIELD_KEYS[i].0);
        t[(code.wrapping_mul(FIELD_MUL) >> 59) as usize] = (code, Some(FIELD_KEYS[i].1));
        i += 1;
    }
    t
};

#[inline(always)]
fn field_of_code(code: u64) -> Option<Field> {
    let (c, f) = FIELD_TABLE[(code.wrapping_mul(FIELD_MUL) >> 59) as usize];
    if c == code {
        f
    } else {
        None
    }
}

/// A key written as an integer (`"uid": 42`) is kept as its decimal text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeyVal {
    #[default]
    None,
    Text(Text),
    Int(i64),
}

/// The fields of one parsed line. Strings point into the line or the scratch buffer.
#[derive(Clone, Debug)]
pub struct ParsedEvent {
    pub ts: Option<i64>,
    pub id: KeyVal,
    pub sid: KeyVal,
    pub uid: KeyVal,
    pub kind: u8,
    /// the string fields, in the order of the intern tables (`intern::TABLES`): url, target,
    /// tag, route, msg, tab, dev, rel, geo
    pub texts: [Text; N_TEXTS],
    /// the integer columns: x, y, sy, sh, vh (`INT_NA` when absent)
    pub ints: [i32; N_INTS],
    pub dur: Option<f64>,
    pub score: Option<f64>,
    pub status: i16,
    pub flags: u8,
    wrong: u32,
}

impl Default for ParsedEvent {
    fn default() -> Self {
        ParsedEvent {
            ts: None,
            id: KeyVal::None,
            sid: KeyVal::None,
            uid: KeyVal::None,
            kind: KIND_CUSTOM,
            texts: [Text::None; N_TEXTS],
            ints: [INT_NA; N_INTS],
            dur: None,
            score: None,
            status: 0,
            flags: 0,
            wrong: 0,
        }
    }
}

impl ParsedEvent {
    /// The slot of a string field (url, target, tag, route, msg, tab, dev, rel, geo; any other
    /// field is taken as geo: callers match the string fields first).
    #[inline(always)]
    fn text_field(&mut self, f: Field) -> &mut Text {
        &mut self.texts[TEXT_SLOT[f as usize] as usize]
    }

    /// A bit per string field that is present (bit i: `texts[i]`).
    #[inline(always)]
    pub fn texts_present(&self) -> u32 {
        self.texts
            .iter()
            .enumerate()
            .fold(0, |m, (i, t)| m | ((*t != Text::None) as u32) << i)
    }

    /// The slot of an integer column (x, y, sy, sh; any other field is taken as vh): an index,
    /// not a branch per field.
    #[inline(always)]
    fn int_field(&mut self, f: Field) -> &mut i32 {
        &mut self.ints[INT_SLOT[f as usize] as usize]
    }

    /// `value` column: dur, else score, else NaN (as f32, like numpy's float32 cast).
    #[inline]
    pub fn value(&self) -> f32 {
        self.dur
            .or(self.score)
            .map(|v| v as f32)
            .unwrap_or(f32::NAN)
    }
}

/// What a line turned out to be.
pub enum LineOutcome {
    Blank,
    Event,
    Bad(BadReason),
}

/// Reusable per-thread buffers for parsing.
#[derive(Default)]
pub struct LineParser {
    pub scratch: Vec<u8>,
    pad: fast::Padded,
    guesses: fast::KeyGuesses,
    stack: Vec<bool>,
    key_buf: Vec<u8>,
}

/// A JSON value as seen at a known key: its kind, enough to type-check and convert it.
enum Val {
    Null,
    Bool,
    Num(NumLit),
    Str(Text),
    Object,
    Array,
}

impl LineParser {
    /// Parse `line` (without its newline) into `ev`. `max_len` is checked by the caller.
    /// The common shape takes the fast path (`fast`); anything else the general parser.
    #[inline]
    pub fn parse(&mut self, line: &[u8], ev: &mut ParsedEvent) -> LineOutcome {
        if fast::parse(line, &mut self.pad, &mut self.guesses, ev) {
            self.scratch.clear();
            return LineOutcome::Event;
        }
        self.parse_general(line, ev)
    }

    /// `parse` of the line `buf[..len]` inside a larger buffer (`buf[len]` is its `\n`): when
    /// `fast::PAD` bytes follow it, the fast path reads it in place instead of copying it (and
    /// a line it gives up on goes straight to the general parser, not to the fast path again).
    #[inline]
    pub fn parse_framed(&mut self, buf: &[u8], len: usize, ev: &mut ParsedEvent) -> LineOutcome {
        if buf.len() < len + fast::PAD {
            return self.parse(&buf[..len], ev);
        }
        if fast::parse_framed(buf, len, &mut self.guesses, ev) {
            self.scratch.clear();
            return LineOutcome::Event;
        }
        self.parse_general(&buf[..len], ev)
    }

    /// The general parser: every JSON line, with msgspec's semantics.
    pub fn parse_general(&mut self, line: &[u8], ev: &mut ParsedEvent) -> LineOutcome {
        *ev = ParsedEvent::default();
        self.scratch.clear();
        if !is_ascii_fast(line) && std::str::from_utf8(line).is_err() {
            return LineOutcome::Bad(BadReason::Utf8);
        }
        let mut sc = Scanner::new(line);
        sc.skip_ws();
        if sc.peek().is_none() {
            return LineOutcome::Blank;
        }
        if sc.peek() != Some(b'{') {
            return match sc
                .skip_value(&mut self.stack)
                .and_then(|_| end_of_line(&mut sc))
            {
                Ok(()) => LineOutcome::Bad(BadReason::NotObject),
                Err(_) => LineOutcome::Bad(BadReason::Json),
            };
        }
        if self
            .object(&mut sc, ev)
            .and_then(|_| end_of_line(&mut sc))
            .is_err()
        {
            return LineOutcome::Bad(BadReason::Json);
        }
        if ev.wrong != 0 {
            return LineOutcome::Bad(BadReason::WrongType);
        }
        if ev.ts.is_none() {
            return LineOutcome::Bad(BadReason::MissingTs);
        }
        if key_is_empty(ev.sid, line, &self.scratch) && key_is_empty(ev.uid, line, &self.scratch) {
            return LineOutcome::Bad(BadReason::MissingKey);
        }
        LineOutcome::Event
    }

    fn object(&mut self, sc: &mut Scanner<'_>, ev: &mut ParsedEvent) -> Result<(), SyntaxError> {
        sc.expect(b'{')?;
        sc.skip_ws();
        if sc.peek() == Some(b'}') {
            sc.i += 1;
            return Ok(());
        }
        loop {
            sc.skip_ws();
            let field = match sc.short_key() {
                Some(code) => field_of_code(code),
                None => {
                    let key = sc.string(&mut self.scratch)?;
                    // keys with escapes are decoded in the scratch; copy out so it can grow
                    let k = match key {
                        Text::Line(a, b) => &sc.b[a as usize..b as usize],
                        Text::Scratch(a, b) => {
                            self.key_buf.clear();
                            self.key_buf
                                .extend_from_slice(&self.scratch[a as usize..b as usize]);
                            self.scratch.truncate(a as usize);
                            &self.key_buf[..]
                        }
                        Text::None => &[][..],
                    };
                    field_of(k)
                }
            };
            sc.skip_ws();
            sc.expect(b':')?;
            sc.skip_ws();
            match field {
                None => sc.skip_value(&mut self.stack)?,
                Some(Field::Props) => self.props(sc, ev)?,
                Some(f) => {
                    // the common shapes inline; anything else through the generic reader
                    let v = match sc.peek() {
                        Some(b'"') => Val::Str(sc.string(&mut self.scratch)?),
                        Some(b'-' | b'0'..=b'9') => Val::Num(sc.number()?),
                        _ => self.value(sc)?,
                    };
                    assign(f, v, sc, &self.scratch, ev);
                }
            }
            sc.skip_ws();
            match sc.peek() {
                Some(b',') => sc.i += 1,
                Some(b'}') => {
                    sc.i += 1;
                    return Ok(());
                }
                _ => return Err(SyntaxError),
            }
        }
    }

    /// Read the value at a known key; containers are skipped (they are always the wrong type).
    fn value(&mut self, sc: &mut Scanner<'_>) -> Result<Val, SyntaxError> {
        Ok(match sc.peek() {
            Some(b'"') => Val::Str(sc.string(&mut self.scratch)?),
            Some(b'-' | b'0'..=b'9') => Val::Num(sc.number()?),
            Some(b'n') => {
                sc.literal(b"null")?;
                Val::Null
            }
            Some(b't') => {
                sc.literal(b"true")?;
                Val::Bool
            }
            Some(b'f') => {
                sc.literal(b"false")?;
                Val::Bool
            }
            Some(b'{') => {
                sc.skip_value(&mut self.stack)?;
                Val::Object
            }
            Some(b'[') => {
                sc.skip_value(&mut self.stack)?;
                Val::Array
            }
            _ => return Err(SyntaxError),
        })
    }

    /// `props`: an object (or null) kept opaque, except the modifier-key booleans at its top level.
    fn props(&mut self, sc: &mut Scanner<'_>, ev: &mut ParsedEvent) -> Result<(), SyntaxError> {
        let bit = 1u32 << Field::Props as u32;
        match sc.peek() {
            Some(b'n') => {
                sc.literal(b"null")?;
                ev.wrong &= !bit;
                ev.flags &= !FLAG_MODIFIER;
                return Ok(());
            }
            Some(b'{') => {}
            _ => {
                self.value(sc)?;
                ev.wrong |= bit;
                return Ok(());
            }
        }
        ev.wrong &= !bit;
        ev.flags &= !FLAG_MODIFIER;
        sc.i += 1;
        sc.skip_ws();
        if sc.peek() == Some(b'}') {
            sc.i += 1;
            return Ok(());
        }
        let mut modifier_keys_true: u8 = 0; // last-wins per key
        loop {
            sc.skip_ws();
            let mark = self.scratch.len();
            let key = sc.string(&mut self.scratch)?;
            let which = key
                .get(sc.b, &self.scratch)
                .and_then(|k| MODIFIER_KEYS.iter().position(|m| *m == k.as_bytes()));
            self.scratch.truncate(mark);
            sc.skip_ws();
            sc.expect(b':')?;
            sc.skip_ws();
            match which {
                Some(w) => {
                    let is_true = sc.b[sc.i..].starts_with(b"true");
                    sc.skip_value(&mut self.stack)?;
                    if is_true {
                        modifier_keys_true |= 1 << w;
                    } else {
                        modifier_keys_true &= !(1 << w);
                    }
                }
                None => sc.skip_value(&mut self.stack)?,
            }
            sc.skip_ws();
            match sc.peek() {
                Some(b',') => sc.i += 1,
                Some(b'}') => {
                    sc.i += 1;
                    break;
                }
                _ => return Err(SyntaxError),
            }
        }
        if modifier_keys_true != 0 {
            ev.flags |= FLAG_MODIFIER;
        }
        Ok(())
    }
}

/// Most lines are pure ASCII: check eight bytes at a time before the full UTF-8 validator.
#[inline]
fn is_ascii_fast(b: &[u8]) -> bool {
    let mut acc = 0u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        acc |= u64::from_le_bytes(c.try_into().unwrap());
    }
    for &c in chunks.remainder() {
        acc |= c as u64;
    }
    acc & 0x8080_8080_8080_8080 == 0
}

#[inline]
fn end_of_line(sc: &mut Scanner<'_>) -> Result<(), SyntaxError> {
    sc.skip_ws();
    if sc.i == sc.b.len() {
        Ok(())
    } else {
        Err(SyntaxError)
    }
}

fn key_is_empty(k: KeyVal, line: &[u8], scratch: &[u8]) -> bool {
    match k {
        KeyVal::None => true,
        KeyVal::Int(_) => false,
        KeyVal::Text(t) => t.get(line, scratch).is_none_or(|s| s.is_empty()),
    }
}

/// Number → i32 column: floats truncate toward zero; NaN-free; range excludes the NA sentinel.
#[inline]
fn num_to_i32(sc: &Scanner<'_>, n: NumLit) -> Option<i32> {
    let v: i64 = if n.is_int {
        sc.int_of(n)?
    } else {
        let f = sc.float_of(n).trunc();
        if !(-2_147_483_649.0..2_147_483_648.0).contains(&f) {
            return None;
        }
        f as i64
    };
    if v > i32::MIN as i64 && v <= i32::MAX as i64 {
        Some(v as i32)
    } else {
        None
    }
}

/// Store `v` at field `f`, or mark the field mistyped.
fn assign(f: Field, v: Val, sc: &Scanner<'_>, scratch: &[u8], ev: &mut ParsedEvent) {
    let bit = 1u32 << f as u32;
    let ok = match f {
        Field::Ts => match v {
            Val::Null => {
                ev.ts = None;
                true
            }
            Val::Num(n) => {
                ev.ts = if n.is_int {
                    sc.int_of(n)
                } else {
                    timestamp::float_ts_to_ms(sc.float_of(n))
                };
                ev.ts.is_some()
            }
            Val::Str(t) => {
                ev.ts = t
                    .get(sc.b, scratch)
                    .and_then(|s| timestamp::parse_iso_ms(s.as_bytes()));
                ev.ts.is_some()
            }
            _ => false,
        },
        Field::Id | Field::Sid | Field::Uid => {
            let kv = match v {
                Val::Null => Some(KeyVal::None),
                Val::Str(t) => Some(KeyVal::Text(t)),
                Val::Num(n) if n.is_int => sc.int_of(n).map(KeyVal::Int),
                _ => None,
            };
            match (f, kv) {
                (Field::Id, Some(k)) => ev.id = k,
                (Field::Sid, Some(k)) => ev.sid = k,
                (Field::Uid, Some(k)) => ev.uid = k,
                _ => {}
            }
            kv.is_some()
        }
        Field::Type => match v {
            Val::Null => {
                ev.kind = KIND_CUSTOM;
                true
            }
            Val::Str(t) => match t.get(sc.b, scratch).and_then(kind_of) {
                Some(k) => {
                    ev.kind = k;
                    true
                }
                None => false,
            },
            _ => false,
        },
        text_fields!() => {
            let t = match v {
                Val::Null => Some(Text::None),
                Val::Str(t) => Some(t),
                _ => None,
            };
            if let Some(t) = t {
                *ev.text_field(f) = t;
            }
            t.is_some()
        }
        Field::X | Field::Y | Field::Sy | Field::Sh | Field::Vh => {
            let r = match v {
                Val::Null => Some(INT_NA),
                Val::Num(n) => num_to_i32(sc, n),
                _ => None,
            };
            if let Some(r) = r {
                *ev.int_field(f) = r;
            }
            r.is_some()
        }
        Field::Status => match v {
            Val::Null => {
                ev.status = 0;
                true
            }
            Val::Num(n) => {
                let s = if n.is_int {
                    sc.int_of(n)
                } else {
                    Some(sc.float_of(n).trunc().clamp(-1e18, 1e18) as i64)
                };
                match s {
                    Some(s) if (-32768..=32767).contains(&s) => {
                        ev.status = s as i16;
                        true
                    }
                    _ => false,
                }
            }
            _ => false,
        },
        Field::Dur | Field::Score => {
            let r = match v {
                Val::Null => Some(None),
                // ints too large for f64 overflow in Python's float() too
                Val::Num(n) => Some(Some(sc.float_of(n))).filter(|x| x.is_some_and(f64::is_finite)),
                _ => None,
            };
            if let Some(r) = r {
                if f == Field::Dur {
                    ev.dur = r
                } else {
                    ev.score = r
                }
            }
            r.is_some()
        }
        Field::Props => unreachable!("props is handled by LineParser::props"),
    };
    if ok {
        ev.wrong &= !bit;
    } else {
        ev.wrong |= bit;
    }
}

/// `?` or `#` anywhere: eight bytes at a time for the usual short path (memchr's vector setup
/// costs more than it saves under ~32 bytes), memchr beyond.
#[inline]
fn has_query_or_fragment(b: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has = |w: u64| {
        let q = w ^ (LO * b'?' as u64);
        let h = w ^ (LO * b'#' as u64);
        ((q.wrapping_sub(LO) & !q) | (h.wrapping_sub(LO) & !h)) & HI != 0
    };
    if b.len() > 16 {
        return memchr::memchr2(b'?', b'#', b).is_some();
    }
    // the two words `kind_of` reads cover every byte of a short path without a per-byte loop,
    // whose exit would depend on the path's length (paths of many lengths interleave:
    // mispredicted); their unused bytes are zero, neither '?' nor '#'
    let (lo, hi, _) = type_words_fast(b);
    has(lo) || has(hi)
}

/// Drop scheme and host, and `?query` unless kept; always drop `#fragment`.
/// Mirrors `uxtop.ingest.reference.normalize_url`.
pub fn normalize_url(url: &str, keep_query: bool) -> std::borrow::Cow<'_, str> {
    let b = url.as_bytes();
    // fast path: a plain path with nothing to cut (byte searches, not char patterns)
    // the first byte first: `starts_with` tests the length, and paths shorter than a scheme
    // interleave with longer ones (a mispredicted branch per event)
    let has_scheme =
        b.first() == Some(&b'h') && (b.starts_with(b"http://") || b.starts_with(b"https://"));
    if !has_scheme && !has_query_or_fragment(b) {
        return std::borrow::Cow::Borrowed(url);
    }
    let mut s = url;
    let mut needs_slash = false;
    if has_scheme {
        let rest = &s[if b[4] == b's' { 8 } else { 7 }..];
        let end = memchr::memchr3(b'/', b'?', b'#', rest.as_bytes()).unwrap_or(rest.len());
        s = &rest[end..];
        needs_slash = !s.starts_with('/');
    }
    let cut = if keep_query {
        memchr::memchr(b'#', s.as_bytes())
    } else {
        memchr::memchr2(b'?', b'#', s.as_bytes())
    };
    let s = match cut {
        Some(c) => &s[..c],
        None => s,
    };
    if needs_slash {
        std::borrow::Cow::Owned(format!("/{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> (LineOutcome, ParsedEvent) {
        let mut p = LineParser::default();
        let mut ev = ParsedEvent::default();
        let out = p.parse(s.as_bytes(), &mut ev);
        (out, ev)
    }

    fn reason(s: &str) -> Option<&'static str> {
        match parse(s).0 {
            LineOutcome::Bad(r) => Some(r.name()),
            LineOutcome::Blank => Some("blank"),
            LineOutcome::Event => None,
        }
    }

    #[test]
    fn good_events() {
        let (_, ev) = parse(
            r#"{"ts":1000,"sid":"a","type":"click","x":3.9,"y":-2.5,"props":{"ctrlKey":true}}"#,
        );
        assert_eq!(ev.ts, Some(1000));
        assert_eq!(ev.kind, 1);
        assert_eq!((ev.ints[0], ev.ints[1]), (3, -2));
        assert_eq!(ev.flags, FLAG_MODIFIER);
        let (_, ev) = parse(r#"{"t\u0073":"2024-01-01T00:00:00Z","uid":42,"dur":12.5}"#);
        assert_eq!(ev.ts, Some(1_704_067_200_000));
        assert_eq!(ev.uid, KeyVal::Int(42));
        assert_eq!(ev.value(), 12.5);
        assert_eq!(
            reason(r#"  {"ts":1.5,"sid":"a","zz":[1,{"q":[]}],"props":{"a":{"ctrlKey":true}}}  "#),
            None
        );
    }

    #[test]
    fn bad_reasons_in_priority_order() {
        assert_eq!(reason("   "), Some("blank"));
        assert_eq!(reason(r#"{"ts":1,"sid":"a""#), Some("json"));
        assert_eq!(reason(r#"{"ts":true,"sid":"a","x":[}"#), Some("json"));
        assert_eq!(reason("[1,2]"), Some("not_object"));
        assert_eq!(reason(r#"{"ts":true}"#), Some("wrong_type"));
        assert_eq!(
            reason(r#"{"ts":1,"sid":"a","type":"bogus"}"#),
            Some("wrong_type")
        );
        assert_eq!(reason(r#"{"ts":1,"sid":"a","x":true,"x":5}"#), None);
        assert_eq!(reason(r#"{"sid":"a"}"#), Some("missing_ts"));
        assert_eq!(reason(r#"{"ts":null,"sid":"a"}"#), Some("missing_ts"));
        assert_eq!(
            reason(r#"{"ts":1,"sid":"","uid":null}"#),
            Some("missing_key")
        );
        assert_eq!(
            reason(r#"{"ts":1,"sid":"a","status":40000}"#),
            Some("wrong_type")
        );
        assert_eq!(
            reason(r#"{"ts":1,"sid":"a","x":2147483648}"#),
            Some("wrong_type")
        );
        assert_eq!(
            reason(r#"{"ts":1,"sid":"a","x":-2147483648}"#),
            Some("wrong_type")
        );
        assert_eq!(reason(r#"{"ts":1,"sid":1.5}"#), Some("wrong_type"));
        assert_eq!(
            reason(r#"{"ts":1,"sid":"a","props":"x"}"#),
            Some("wrong_type")
        );
        assert_eq!(reason(r#"{"ts":1,"sid":"a","q":1e999}"#), Some("json"));
    }

    #[test]
    fn kind_of_agrees_with_event_types() {
        for (i, t) in EVENT_TYPES.iter().enumerate() {
            assert_eq!(kind_of(t), Some(i as u8), "{t}");
        }
        assert_eq!(kind_of("hover"), None);
        assert_eq!(EVENT_TYPES[KIND_CUSTOM as usize], "custom");
    }

    #[test]
    fn type_table_is_a_perfect_hash() {
        let mut seen = std::collections::HashSet::new();
        for t in EVENT_TYPES {
            assert!(
                seen.insert(type_slot(type_words(t.as_bytes()))),
                "collision at {t}"
            );
        }
        for t in [
            "",
            "c",
            "clic",
            "clicks",
            "Click",
            "pageviews",
            "contextmenu2",
            "visibilitx",
        ] {
            assert_eq!(kind_of(t), None, "{t}");
        }
    }

    #[test]
    fn field_table_is_a_perfect_hash() {
        let mut seen = std::collections::HashSet::new();
        for (k, f) in FIELD_KEYS {
            assert!(
                seen.insert(key_code(k).wrapping_mul(FIELD_MUL) >> 59),
                "collision at {k:?}"
            );
            assert_eq!(field_of(k), Some(f));
        }
        for k in [&b"t"[..], b"tss", b"", b"props2", b"Ts", b"status_"] {
            assert_eq!(field_of(k), None, "{k:?}");
        }
    }

    #[test]
    fn string_slots_follow_the_intern_tables_and_int_slots_the_columns() {
        for (i, name) in crate::intern::TABLES[..N_TEXTS].iter().enumerate() {
            let f = field_of(name.as_bytes()).expect(name);
            assert_eq!(TEXT_SLOT[f as usize] as usize, i, "{name}");
        }
        for (i, name) in ["x", "y", "sy", "sh", "vh"].iter().enumerate() {
            let f = field_of(name.as_bytes()).expect(name);
            assert_eq!(INT_SLOT[f as usize] as usize, i, "{name}");
        }
    }

    #[test]
    fn query_or_fragment_found_at_every_position_and_length() {
        for n in 0..48 {
            let plain: Vec<u8> = (0..n).map(|i| b"/abc-xyz0"[i % 9]).collect();
            assert!(!has_query_or_fragment(&plain), "{n}");
            for at in 0..n {
                for c in [b'?', b'#'] {
                    let mut b = plain.clone();
                    b[at] = c;
                    assert!(has_query_or_fragment(&b), "{n} {at} {}", c as char);
                }
                // neighbours of the searched bytes in the ASCII table are not matches
                for c in [b'>', b'@', b'"', b'$', 0x80 | b'?'] {
                    let mut b = plain.clone();
                    b[at] = c;
                    assert!(!has_query_or_fragment(&b), "{n} {at} {c}");
                }
            }
        }
    }

    #[test]
    fn urls_are_normalised() {
        assert_eq!(
            normalize_url("https://shop.example/cart?x=1#top", false),
            "/cart"
        );
        assert_eq!(
            normalize_url("https://shop.example/cart?x=1#top", true),
            "/cart?x=1"
        );
        assert_eq!(normalize_url("https://shop.example", false), "/");
        assert_eq!(normalize_url("http://h?q", true), "/?q");
        assert_eq!(normalize_url("/p?q", false), "/p");
        assert_eq!(normalize_url("", false), "");
    }
}
