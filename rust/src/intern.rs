//! String interning: each distinct url/target/tag/route/msg/tab/dev/rel/geo string gets a dense
//! i32 id once; batches carry ids, Python reads the append-only tables.
//!
//! Tables are capped (`max_strings`) so a high-cardinality field (URLs with ids in the path,
//! error messages with values) cannot grow memory without bound: past the cap, new strings map
//! to one shared overflow id whose text is `OVERFLOW_TEXT`, and the overflow is counted.

use hashbrown::HashTable;

/// A fast hash for short strings (FxHash-style over 8-byte words, with a final mix so both
/// the high bits hashbrown's control bytes use and the low bits of the bucket are good).
/// Interned strings are low-cardinality labels; this is not exposed to key-flooding the way
/// session keys are (those use seeded ahash in `session.rs`).
#[inline]
pub fn fast_hash(b: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        h = (h.rotate_left(5) ^ u64::from_le_bytes(c.try_into().unwrap())).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    h ^= h >> 29;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

pub const OVERFLOW_TEXT: &str = "\u{2026}(other)";

/// Names of the tables, in id order (matches `uxtop.batch.STRING_TABLES`).
pub const TABLES: [&str; 10] = [
    "url", "target", "tag", "route", "msg", "tab", "dev", "rel", "geo", "uid",
];

pub struct Interner {
    index: HashTable<u32>,
    /// all strings back to back; `ends[i]` is the end of string i
    bytes: Vec<u8>,
    ends: Vec<u32>,
    max_strings: usize,
    overflow_id: Option<i32>,
    pub overflowed: u64,
}

impl Interner {
    pub fn new(max_strings: usize) -> Self {
        Interner {
            index: HashTable::new(),
            bytes: Vec::new(),
            ends: Vec::new(),
            max_strings: max_strings.max(1),
            overflow_id: None,
            overflowed: 0,
        }
    }

    #[inline]
    fn start_of(&self, i: usize) -> usize {
        if i == 0 {
            0
        } else {
            self.ends[i - 1] as usize
        }
    }

    #[inline]
    pub fn get(&self, id: i32) -> Option<&str> {
        let i = usize::try_from(id).ok()?;
        let end = *self.ends.get(i)? as usize;
        std::str::from_utf8(&self.bytes[self.start_of(i)..end]).ok()
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn memory_bytes(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * 4 + self.index.capacity() * 4
    }

    #[inline]
    pub fn intern(&mut self, s: &str) -> i32 {
        let h = fast_hash(s.as_bytes());
        let (bytes, ends) = (&self.bytes, &self.ends);
        let found = self.index.find(h, |&i| {
            let i = i as usize;
            let start = if i == 0 { 0 } else { ends[i - 1] as usize };
            &bytes[start..ends[i] as usize] == s.as_bytes()
        });
        if let Some(&i) = found {
            return i as i32;
        }
        if self.ends.len() >= self.max_strings {
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
        let id = self.ends.len() as u32;
        self.bytes.extend_from_slice(s.as_bytes());
        self.ends.push(self.bytes.len() as u32);
        let (bytes, ends) = (&self.bytes, &self.ends);
        self.index.insert_unique(h, id, |&i| {
            let i = i as usize;
            let start = if i == 0 { 0 } else { ends[i - 1] as usize };
            fast_hash(&bytes[start..ends[i] as usize])
        });
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
}
