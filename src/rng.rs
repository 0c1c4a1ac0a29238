//! Randomness as an input to the sans-IO core.
//!
//! Engines take `&mut dyn Rng` (or a generic) instead of reaching for a global generator, so tests
//! can replay a run byte for byte with [`TestRng`] while the product uses [`OsRng`].

/// A source of random bytes. Implementations used outside tests must be cryptographically secure.
pub trait Rng {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);

    /// A random `u32`.
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill(&mut b);
        u32::from_le_bytes(b)
    }

    /// A random `u64`.
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        u64::from_le_bytes(b)
    }
}

/// The operating system's generator (getrandom). This is what the product runs with.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRng;

impl Rng for OsRng {
    fn fill(&mut self, buf: &mut [u8]) {
        // getrandom fails only when the kernel has no entropy source at all; a Matter device
        // cannot operate safely then, so this is one of the few places we stop hard.
        if let Err(e) = getrandom::fill(buf) {
            panic!("the operating system's random number generator failed: {e}");
        }
    }
}

/// A deterministic, seedable generator (SplitMix64) for tests, fuzzing and simulations.
/// **Not** cryptographically secure.
#[derive(Debug, Clone)]
pub struct TestRng(u64);

impl TestRng {
    /// A generator whose output is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
}

impl Rng for TestRng {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_rng_is_deterministic_and_os_rng_works() {
        let (mut a, mut b) = (TestRng::new(7), TestRng::new(7));
        assert_eq!(a.next_u64(), b.next_u64());
        let mut buf = [0u8; 32];
        OsRng.fill(&mut buf);
        assert_ne!(buf, [0u8; 32]);
    }
}
