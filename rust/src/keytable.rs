//! Open-addressing hash index from a 64-bit key hash to a state index, built so the caller can
//! prefetch: with many live sessions every lookup is a cache miss, and hiding those misses is
//! what makes sessionising fast (shared/reference/performance.md, lesson 2). Linear probing,
//! load factor at most 1/2, backward-shift deletion; a slot packs the hash's high 32 bits (a tag
//! that rejects almost every wrong candidate without touching the state) with `index + 1`.
//! The home slot is taken from the tag's bits too, so moving or re-placing an entry needs
//! nothing but the slot: a removal shifts its cluster back without reading any entry's state
//! (each such read was another cache miss).

pub struct KeyTable {
    slots: Vec<u64>,
    mask: usize,
    len: usize,
}

#[inline]
fn tag(hash: u64) -> u64 {
    hash >> 32
}

impl Default for KeyTable {
    fn default() -> Self {
        KeyTable {
            slots: vec![0; 1024],
            mask: 1023,
            len: 0,
        }
    }
}

impl KeyTable {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The home slot of an entry whose tag is `tag(hash)` (tables stay below 2^32 slots).
    #[inline]
    fn home_of_tag(&self, tag: u64) -> usize {
        tag as usize & self.mask
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        self.home_of_tag(tag(hash))
    }

    /// Hint the CPU to fetch the slot `hash` starts probing at.
    #[inline(always)]
    pub fn prefetch(&self, hash: u64) {
        let p = self.slots.as_ptr().wrapping_add(self.home(hash));
        prefetch_read(p);
    }

    /// The index in the home slot if its tag matches (no probing): for prefetching the state.
    #[inline(always)]
    pub fn peek(&self, hash: u64) -> Option<u32> {
        let s = self.slots[self.home(hash)];
        (s != 0 && s >> 32 == tag(hash)).then(|| (s as u32) - 1)
    }

    #[inline]
    pub fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        let t = tag(hash);
        let mut pos = self.home(hash);
        loop {
            let s = self.slots[pos];
            if s == 0 {
                return None;
            }
            if s >> 32 == t && eq((s as u32) - 1) {
                return Some((s as u32) - 1);
            }
            pos = (pos + 1) & self.mask;
        }
    }

    /// Insert an index known not to be present.
    pub fn insert(&mut self, hash: u64, idx: u32) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        self.place((tag(hash) << 32) | (idx as u64 + 1));
        self.len += 1;
    }

    fn place(&mut self, slot: u64) {
        let mut pos = self.home_of_tag(slot >> 32);
        while self.slots[pos] != 0 {
            pos = (pos + 1) & self.mask;
        }
        self.slots[pos] = slot;
    }

    fn grow(&mut self) {
        assert!(self.slots.len() < 1 << 31, "key table beyond 2^32 slots");
        let doubled = vec![0; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        self.mask = self.slots.len() - 1;
        for s in old.into_iter().filter(|&s| s != 0) {
            self.place(s);
        }
    }

    /// Remove `idx` (stored under `hash`); returns whether it was there.
    pub fn remove(&mut self, hash: u64, idx: u32) -> bool {
        let want = (tag(hash) << 32) | (idx as u64 + 1);
        let mut pos = self.home(hash);
        loop {
            let s = self.slots[pos];
            if s == 0 {
                return false;
            }
            if s == want {
                break;
            }
            pos = (pos + 1) & self.mask;
        }
        // backward-shift: pull later entries of the cluster into the hole when allowed
        let mut hole = pos;
        let mut j = (pos + 1) & self.mask;
        loop {
            let s = self.slots[j];
            if s == 0 {
                break;
            }
            let home = self.home_of_tag(s >> 32);
            // can the entry at j move to the hole? only if its home is not in (hole, j]
            let dist_home = j.wrapping_sub(home) & self.mask;
            let dist_hole = j.wrapping_sub(hole) & self.mask;
            if dist_home >= dist_hole {
                self.slots[hole] = s;
                hole = j;
            }
            j = (j + 1) & self.mask;
        }
        self.slots[hole] = 0;
        self.len -= 1;
        true
    }
}

/// Best-effort prefetch into all cache levels; a no-op where the target has no such hint.
#[inline(always)]
pub fn prefetch_read<T>(p: *const T) {
    prefetch_line(p as *const u8);
    // a value that straddles a cache line needs its other lines too
    let mut k = 64 - (p as usize & 63);
    while k < std::mem::size_of::<T>() {
        prefetch_line((p as *const u8).wrapping_add(k));
        k += 64;
    }
}

#[inline(always)]
fn prefetch_line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn mix(x: u64) -> u64 {
        // the home bits (the tag's low ones) collide on purpose to exercise probing and the
        // backward shift; the tag's upper bits and the low word tell keys apart only partly,
        // so equal tags of different keys occur too
        let spread = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (((x % 97) | (spread >> 52) << 20) << 32) | (spread & 0xFFFF_FFFF)
    }

    #[test]
    fn agrees_with_a_hashmap_under_inserts_and_removes() {
        let mut t = KeyTable::default();
        let mut model: HashMap<u32, u64> = HashMap::new();
        let mut seed = 99u64;
        for step in 0..60_000u32 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let k = ((seed >> 40) % 5000) as u32;
            let h = mix(k as u64);
            match model.entry(k) {
                std::collections::hash_map::Entry::Occupied(e) => {
                    if step % 3 == 0 {
                        assert!(t.remove(h, k));
                        e.remove();
                    }
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    t.insert(h, k);
                    e.insert(h);
                }
            }
            if step % 1000 == 0 {
                for (&k, &h) in &model {
                    assert_eq!(t.find(h, |i| i == k), Some(k));
                }
                assert_eq!(t.len(), model.len());
            }
        }
        for k in 0..5000u32 {
            let found = t.find(mix(k as u64), |i| i == k);
            assert_eq!(found.is_some(), model.contains_key(&k), "{k}");
        }
    }
}
