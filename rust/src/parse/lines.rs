//! Newline positions in a chunk, from one bitmask per 64 bytes.
//!
//! Why not `memchr_iter`: event lines are ~100 bytes, so a search per line pays memchr's call
//! and vector set-up (~150 instructions measured with callgrind) to scan two or three vectors.
//! Comparing 64 bytes at a time into a bitmask and popping bits costs a few instructions per
//! line instead. SSE2 is part of x86-64, so no runtime detection is needed; other targets use
//! the same loop with eight-byte words.

/// Bit k set where `block[k] == b'\n'` (64 bytes).
#[inline(always)]
fn block_mask(block: &[u8; 64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is always available on x86_64; the loads read 4 x 16 bytes of `block`.
        unsafe {
            let nl = _mm_set1_epi8(b'\n' as i8);
            let p = block.as_ptr() as *const __m128i;
            let m = |k: usize| {
                _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(p.add(k)), nl)) as u16 as u64
            };
            m(0) | m(1) << 16 | m(2) << 32 | m(3) << 48
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut mask = 0u64;
        for (k, &c) in block.iter().enumerate() {
            mask |= ((c == b'\n') as u64) << k;
        }
        mask
    }
}

/// Iterator over the positions of `\n` in `data`, in order.
pub struct Newlines<'a> {
    data: &'a [u8],
    /// start of the block `mask` describes
    base: usize,
    mask: u64,
}

impl<'a> Newlines<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        let mut it = Newlines {
            data,
            base: 0,
            mask: 0,
        };
        it.mask = it.mask_at(0);
        it
    }

    #[inline(always)]
    fn mask_at(&self, base: usize) -> u64 {
        match self.data.get(base..base + 64) {
            Some(b) => block_mask(b.try_into().unwrap()),
            None => {
                // the last partial block, through a zero-padded copy
                let rest = self.data.get(base..).unwrap_or(&[]);
                let mut b = [0u8; 64];
                b[..rest.len()].copy_from_slice(rest);
                block_mask(&b)
            }
        }
    }
}

impl Iterator for Newlines<'_> {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.base += 64;
            if self.base >= self.data.len() {
                return None;
            }
            self.mask = self.mask_at(self.base);
        }
        let at = self.base + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_newline_like_memchr() {
        let mut seed = 7u64;
        for len in (0..300).chain([1000, 4096, 4097]) {
            for density in [2u64, 9, 100] {
                let data: Vec<u8> = (0..len)
                    .map(|_| {
                        seed = seed
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        if (seed >> 33).is_multiple_of(density) {
                            b'\n'
                        } else {
                            b'a' + ((seed >> 40) % 26) as u8
                        }
                    })
                    .collect();
                let want: Vec<usize> = memchr::memchr_iter(b'\n', &data).collect();
                let got: Vec<usize> = Newlines::new(&data).collect();
                assert_eq!(got, want, "len {len} density {density}");
            }
        }
    }
}
