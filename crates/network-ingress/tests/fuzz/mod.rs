//! The harness of the ingress robustness tests (`radius_robustness.rs`, `proxy_robustness.rs`):
//! a deterministic xorshift64* generator, per-case seeds and the case bookkeeping that prints a
//! failing case's seed and input.
#![allow(dead_code)]

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

// ---------------------------------------------------------------------------------------------
// Deterministic randomness and case bookkeeping
// ---------------------------------------------------------------------------------------------

/// xorshift64* (Vigna), seeded through splitmix64 so that neighbouring seeds diverge at once.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn byte(&mut self) -> u8 {
        (self.next() >> 56) as u8
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// One element of an array literal that may itself draw from `rng` (evaluated first).
macro_rules! pick {
    ($rng:expr, [$($x:expr),* $(,)?]) => {{
        let xs = [$($x),*];
        xs[$rng.below(xs.len())]
    }};
}

/// The seeds of one fuzz stream: `stream << 32 | i`, or only the seed in `NUMBAT_FUZZ_SEED` (when
/// it belongs to this stream).
pub fn seeds(stream: u32, n: u64) -> Vec<u64> {
    if let Ok(s) = std::env::var("NUMBAT_FUZZ_SEED") {
        let s = s.trim();
        let seed = match s.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16),
            None => s.parse(),
        }
        .expect("NUMBAT_FUZZ_SEED: a decimal or 0x-hex u64");
        return if seed >> 32 == stream as u64 { vec![seed] } else { vec![] };
    }
    let scale: u64 = std::env::var("NUMBAT_FUZZ_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    (0..n * scale.max(1)).map(|i| ((stream as u64) << 32) | i).collect()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Run one case; if it panics (a parser panic or a failed assertion), name the seed and the input
/// before failing the test.
pub fn case<R>(what: &str, seed: u64, input: &[u8], f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "{what}: case failed. Reproduce with NUMBAT_FUZZ_SEED={seed:#018x}\n  input ({} bytes): {}",
                input.len(),
                hex(input)
            );
            resume_unwind(e)
        }
    }
}

pub fn seeds_of(stream: u32, n: u64) -> Vec<u64> {
    seeds(stream, n)
}
