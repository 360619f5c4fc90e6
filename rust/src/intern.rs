//! String interning: each distinct url/target/tag/route/msg/tab/dev/rel/geo string gets a dense
//! i32 id once; batches carry ids, Python reads the append-only tables.
//!
//! Tables are capped (`max_strings`) so a high-cardinality field (URLs with ids in the path,
//! error messages with values) cannot grow memory without bound: past the cap, new strings map
//! to one shared overflow id whose text is `OVERFLOW_TEXT`, and the overflow is counted.

use hashbrown::HashTable;

/// Eight bytes at `i` (little-endian).
#[inline(always)]
fn word_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().unwrap())
}

/// Up to eight bytes as one word without a variable-length copy: shorter strings are read
/// with overlapping loads (the result is a hash input, not the bytes; the length is mixed in
/// separately, so equal words from different lengths still hash apart).
#[inline(always)]
fn tail_word(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 8 {
        word_at(b, n - 8)
    } else if n >= 4 {
        let lo = u32::from_le_bytes(b[..4].try_into().unwrap()) as u64;
        let hi = u32::from_le_bytes(b[n - 4..].try_into().unwrap()) as u64;
        lo | (hi << 32)
    } else if n > 0 {
        b[0] as u64 | (b[n / 2] as u64) << 8 | (b[n - 1] as u64) << 16
    } else {
        0
    }
}

/// A fast hash for short strings (FxHash-style over 8-byte words, with a final mix so both
/// the high bits hashbrown's control bytes use and the low bits of the bucket are good).
/// Interned strings are low-cardinality labels; this is not exposed to key-flooding the way
/// session keys are (those use seeded ahash in `session.rs`).
#[inline]
pub fn fast_hash(b: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = b.len() as u64;
    let mut i = 0;
    while i + 8 < b.len() {
        h = (h.rotate_left(5) ^ word_at(b, i)).wrapping_mul(K);
        i += 8;
    }
    h = (h.rotate_left(5) ^ tail_word(b)).wrapping_mul(K);
    h ^= h >> 29;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

/// Byte equality inlined for the usual short labels and keys (a `memcmp` call costs more than
/// the compare); strings over 32 bytes use the slice compare.
#[inline(always)]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if (8..=16).contains(&n) {
        word_at(a, 0) == word_at(b, 0) && word_at(a, n - 8) == word_at(b, n - 8)
    } else if n > 16 && n <= 32 {
        word_at(a, 0) == word_at(b, 0)
            && word_at(a, 8) == word_at(b, 8)
            && word_at(a, n - 16) == word_at(b, n - 16)
            && word_at(a, n - 8) == word_at(b, n - 8)
    } else if n < 8 {
        // the overlapping loads cover every byte of a string under 8 bytes
        tail_word(a) == tail_word(b)
    } else {
        a == b
    }
}

pub const OVERFLOW_TEXT: &str = "\u{2026}(other)";

/// Names of the tables, in id order (matches `uxtop.batch.STRING_TABLES`).
pub const TABLES: [&str; 10] = [
    "url", "target", "tag", "route", "msg", "tab", "dev", "rel", "geo", "uid",
];

/// Slots in each table's cache of recent short strings.
const RECENT_SLOTS: usize = 256;

/// A short string (at most 16 bytes) as two words and its length: exact, so equal keys mean
/// equal strings (see `short_words`).
#[derive(Clone, Copy, PartialEq, Eq)]
struct ShortKey {
    a: u64,
    b: u64,
    len: u32,
}

/// The two words of a string of at most 16 bytes, read with overlapping loads: with the
/// length they determine every byte.
#[inline(always)]
fn short_words(b: &[u8]) -> ShortKey {
    let n = b.len();
    let (a, w) = if n >= 8 {
        (word_at(b, 0), word_at(b, n - 8))
    } else {
        (tail_word(b), 0)
    };
    ShortKey {
        a,
        b: w,
        len: n as u32,
    }
}

pub struct Interner {
    /// recent short strings → id, direct-mapped: most labels are short and repeat, and a hit
    /// costs a few compares instead of a hash-table probe and a byte compare
    recent: Box<[(ShortKey, i32)]>,
    index: HashTable<u32>,
    /// all strings back to back; string i is `bytes[offs[i]..offs[i + 1]]`
    bytes: Vec<u8>,
    offs: Vec<u32>,
    max_strings: usize,
    overflow_id: Option<i32>,
    pub overflowed: u64,
}

impl Interner {
    pub fn new(max_strings: usize) -> Self {
        let empty = ShortKey {
            a: 0,
            b: 0,
            len: u32::MAX,
        };
        Interner {
            recent: vec![(empty, -1); RECENT_SLOTS].into_boxed_slice(),
            index: HashTable::new(),
            bytes: Vec::new(),
            offs: vec![0],
            max_strings: max_strings.max(1),
            overflow_id: None,
            overflowed: 0,
        }
    }

    #[inline(always)]
    fn bytes_of<'a>(bytes: &'a [u8], offs: &[u32], i: u32) -> &'a [u8] {
        let i = i as usize;
        &bytes[offs[i] as usize..offs[i + 1] as usize]
    }

    #[inline]
    pub fn get(&self, id: i32) -> Option<&str> {
        let i = u32::try_from(id).ok()?;
        if i as usize >= self.len() {
            return None;
        }
        std::str::from_utf8(Self::bytes_of(&self.bytes, &self.offs, i)).ok()
    }

    pub fn len(&self) -> usize {
        self.offs.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn memory_bytes(&self) -> usize {
        self.bytes.capacity()
            + self.offs.capacity() * 4
            + self.index.capacity() * 4
            + self.recent.len() * std::mem::size_of::<(ShortKey, i32)>()
    }

    #[inline]
    pub fn intern(&mut self, s: &str) -> i32 {
        if s.len() > 16 {
            return self.intern_indexed(s);
        }
        let k = short_words(s.as_bytes());
        let mix = (k.a ^ k.b.rotate_left(29) ^ k.len as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let slot = (mix >> 56) as usize % RECENT_SLOTS;
        let (key, id) = self.recent[slot];
        if key == k {
            return id;
        }
        let id = self.intern_indexed(s);
        // overflowed strings are not cached: each occurrence is counted
        if self.overflow_id != Some(id) {
            self.recent[slot] = (k, id);
        }
        id
    }

    fn intern_indexed(&mut self, s: &str) -> i32 {
        let h = fast_hash(s.as_bytes());
        let (bytes, offs) = (&self.bytes, &self.offs);
        let found = self.index.find(h, |&i| {
            same_bytes(Self::bytes_of(bytes, offs, i), s.as_bytes())
        });
        if let Some(&i) = found {
            return i as i32;
        }
        if self.len() >= self.max_strings {
            self.overflowed += 1;
            if let Some(o) = self.overflow_id {
                return o;
            }
            let o = self.push(h, OVERFLOW_TEXT);
            self.overflow_id = Some(o);
            return o;
        }
        self.push(h, s)
    }

    fn push(&mut self, h: u64, s: &str) -> i32 {
        let id = self.len() as u32;
        self.bytes.extend_from_slice(s.as_bytes());
        self.offs.push(self.bytes.len() as u32);
        let (bytes, offs) = (&self.bytes, &self.offs);
        self.index
            .insert_unique(h, id, |&i| fast_hash(Self::bytes_of(bytes, offs, i)));
        id as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_and_stable() {
        let mut t = Interner::new(1 << 20);
        assert_eq!(t.intern("/a"), 0);
        assert_eq!(t.intern("/b"), 1);
        assert_eq!(t.intern("/a"), 0);
        assert_eq!(t.intern(""), 2);
        assert_eq!(t.get(1), Some("/b"));
        assert_eq!(t.get(2), Some(""));
        assert_eq!(t.get(3), None);
        assert_eq!(t.get(-1), None);
        for i in 0..10_000 {
            let s = format!("/p/{i}");
            let id = t.intern(&s);
            assert_eq!(t.get(id), Some(s.as_str()));
        }
    }

    #[test]
    fn overflow_maps_to_one_id() {
        let mut t = Interner::new(3);
        for s in ["a", "b", "c"] {
            t.intern(s);
        }
        let o = t.intern("d");
        assert_eq!(t.intern("e"), o);
        assert_eq!(t.get(o), Some(OVERFLOW_TEXT));
        assert_eq!(t.intern("a"), 0);
        assert_eq!(t.overflowed, 2);
    }

    #[test]
    fn short_compares_and_hashes_see_every_byte() {
        // strings of every length up to 40 that differ in exactly one byte never compare equal
        let base: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for n in 0..=base.len() {
            let a = &base[..n];
            assert!(same_bytes(a, a));
            for k in 0..n {
                let mut b = a.to_vec();
                b[k] ^= 0x20;
                assert!(!same_bytes(a, &b), "len {n} byte {k}");
            }
            assert!(n == 0 || !same_bytes(a, &base[..n - 1]));
        }
        let mut t = Interner::new(1 << 20);
        let mut ids = std::collections::HashSet::new();
        let mut all = Vec::new();
        for n in 0..=base.len() {
            for k in 0..n.max(1) {
                let mut b = base[..n].to_vec();
                if n > 0 {
                    b[k] = b'Z';
                }
                let s = String::from_utf8(b).unwrap();
                let id = t.intern(&s);
                assert_eq!(t.get(id), Some(s.as_str()));
                ids.insert(id);
                all.push((s, id));
            }
        }
        assert_eq!(ids.len(), t.len());
        // again, now mostly from the cache of recent short strings: the same ids
        for (s, id) in all.iter().rev() {
            assert_eq!(t.intern(s), *id, "{s}");
        }
    }
}
