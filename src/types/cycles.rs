//! A cheap clock for command durations (INFO commandstats): the CPU's timestamp counter on
//! x86_64, calibrated once against the monotonic clock; `Instant` elsewhere. Reading the
//! system clock twice per command cost ~8% of a pipelined GET load.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[cfg(target_arch = "x86_64")]
pub fn now() -> u64 {
    // SAFETY: rdtsc has no preconditions on x86_64.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
pub fn now() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Counter ticks per microsecond, measured over 5 ms the first time it is needed.
fn ticks_per_us() -> f64 {
    static RATE: OnceLock<f64> = OnceLock::new();
    *RATE.get_or_init(|| {
        let (t0, c0) = (Instant::now(), now());
        std::thread::sleep(Duration::from_millis(5));
        let (elapsed, ticks) = (t0.elapsed(), now().wrapping_sub(c0));
        (ticks as f64 / elapsed.as_micros().max(1) as f64).max(1e-3)
    })
}

/// Microseconds since `start` (a value of `now()`).
pub fn micros_since(start: u64) -> u64 {
    (now().wrapping_sub(start) as f64 / ticks_per_us()) as u64
}

/// Calibrates now, so the first command does not pay for it.
pub fn calibrate() {
    ticks_per_us();
}

#[cfg(test)]
mod tests {
    #[test]
    fn measures_roughly_right() {
        super::calibrate();
        let start = super::now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let us = super::micros_since(start);
        assert!((15_000..200_000).contains(&us), "{us}");
    }
}
