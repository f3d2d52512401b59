//! Which key each request names: the random source and the key patterns.
//!
//! Owns the per-connection random number generator (xoshiro256++ seeded through splitmix64:
//! small, fast, reproducible) and the key generators behind `--key-pattern`:
//!
//! * `R` uniform over `[key-minimum, key-maximum]`;
//! * `S` sequential: every connection walks the whole range in order, wrapping around;
//! * `G` gaussian around `--key-median` (default: the middle) with `--key-stddev` (default: a
//!   sixth of the range), redrawn when it falls outside the range;
//! * `Z` zipf over ranks 1..=n with `--key-zipf-exp` (rank 1 is `key-minimum`), drawn by
//!   rejection-inversion (Hörmann and Derflinger 1996) so each draw is O(1) for any range size;
//! * `P` parallel: the range is cut into one contiguous slice per connection (over all threads)
//!   and each connection walks its own slice in order, so together they cover every key once
//!   per pass. `--preload` uses it to fill the keyspace.
//!
//! Nothing here knows about sockets or RESP: a generator turns random bits into key numbers.

/// One key-choosing strategy, as named by `--key-pattern`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPattern {
    Uniform,
    Sequential,
    Gaussian,
    Zipf,
    Parallel,
}

impl KeyPattern {
    /// Parses memtier's one-letter names.
    pub fn parse(s: &str) -> Result<KeyPattern, String> {
        match s {
            "R" | "r" => Ok(KeyPattern::Uniform),
            "S" | "s" => Ok(KeyPattern::Sequential),
            "G" | "g" => Ok(KeyPattern::Gaussian),
            "Z" | "z" => Ok(KeyPattern::Zipf),
            "P" | "p" => Ok(KeyPattern::Parallel),
            _ => Err(format!("unknown key pattern '{s}' (expected R, S, G, Z or P)")),
        }
    }

    pub fn letter(self) -> char {
        match self {
            KeyPattern::Uniform => 'R',
            KeyPattern::Sequential => 'S',
            KeyPattern::Gaussian => 'G',
            KeyPattern::Zipf => 'Z',
            KeyPattern::Parallel => 'P',
        }
    }
}

/// The key range and the shape parameters shared by every generator of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct KeySpace {
    pub min: u64,
    pub max: u64,
    /// Gaussian standard deviation; None means (max - min) / 6.
    pub stddev: Option<f64>,
    /// Gaussian center; None means the middle of the range.
    pub median: Option<f64>,
    pub zipf_exp: f64,
}

impl KeySpace {
    pub fn count(&self) -> u64 {
        self.max - self.min + 1
    }
}

/// xoshiro256++: a small, fast generator with a 2^256 period; not for cryptography.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
    spare_normal: Option<f64>,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut sm = seed;
        let mut s = [0u64; 4];
        for word in &mut s {
            *word = splitmix64(&mut sm);
        }
        Rng { s, spare_normal: None }
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, n) by multiply-shift (Lemire); the bias is below 2^-64 * n.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in [lo, hi] (inclusive).
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.below(span),
            None => self.next_u64(),
        }
    }

    /// Uniform in [0, 1) with 53 bits of precision.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal by the Box-Muller transform; the second value of each pair is kept.
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        let u1 = 1.0 - self.unit(); // (0, 1]: ln is finite
        let u2 = self.unit();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = std::f64::consts::TAU * u2;
        self.spare_normal = Some(r * theta.sin());
        r * theta.cos()
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Where one connection is in the key space for one command.
#[derive(Clone, Debug)]
pub struct KeyGen {
    kind: GenKind,
}

#[derive(Clone, Debug)]
enum GenKind {
    Uniform {
        min: u64,
        max: u64,
    },
    /// Walks [lo, hi] in order, wrapping; `next` is the key to hand out next.
    Walk {
        lo: u64,
        hi: u64,
        next: u64,
    },
    Gaussian {
        min: u64,
        max: u64,
        median: f64,
        stddev: f64,
    },
    Zipf {
        min: u64,
        zipf: Zipf,
    },
}

impl KeyGen {
    /// The generator for connection `conn` of `conns` (numbered over all threads).
    pub fn new(pattern: KeyPattern, space: &KeySpace, conn: u64, conns: u64) -> KeyGen {
        let (min, max) = (space.min, space.max);
        let kind = match pattern {
            KeyPattern::Uniform => GenKind::Uniform { min, max },
            KeyPattern::Sequential => GenKind::Walk { lo: min, hi: max, next: min },
            KeyPattern::Parallel => {
                let (lo, hi) = parallel_slice(space, conn, conns);
                GenKind::Walk { lo, hi, next: lo }
            }
            KeyPattern::Gaussian => GenKind::Gaussian {
                min,
                max,
                median: space.median.unwrap_or((min as f64 + max as f64) / 2.0),
                stddev: space.stddev.unwrap_or((max - min) as f64 / 6.0),
            },
            KeyPattern::Zipf => GenKind::Zipf { min, zipf: Zipf::new(space.count(), space.zipf_exp) },
        };
        KeyGen { kind }
    }

    pub fn next(&mut self, rng: &mut Rng) -> u64 {
        match &mut self.kind {
            GenKind::Uniform { min, max } => rng.between(*min, *max),
            GenKind::Walk { lo, hi, next } => {
                let key = *next;
                *next = if key >= *hi { *lo } else { key + 1 };
                key
            }
            GenKind::Gaussian { min, max, median, stddev } => gaussian_key(rng, *min, *max, *median, *stddev),
            GenKind::Zipf { min, zipf } => *min + zipf.sample(rng) - 1,
        }
    }
}

/// Connection `conn`'s slice of the range for the P pattern: contiguous, near-equal sizes,
/// covering the range exactly. With more connections than keys some slices repeat a key.
pub fn parallel_slice(space: &KeySpace, conn: u64, conns: u64) -> (u64, u64) {
    let count = space.count() as u128;
    let conns = conns.max(1) as u128;
    let conn = conn as u128 % conns;
    let lo = count * conn / conns;
    let hi = (count * (conn + 1) / conns).max(lo + 1) - 1;
    (space.min + lo.min(count - 1) as u64, space.min + hi.min(count - 1) as u64)
}

fn gaussian_key(rng: &mut Rng, min: u64, max: u64, median: f64, stddev: f64) -> u64 {
    // Redraw outside the range; a median far outside it would loop forever, so clamp at last.
    for _ in 0..64 {
        let x = (median + stddev * rng.normal()).round();
        if x >= min as f64 && x <= max as f64 {
            return x as u64;
        }
    }
    median.round().clamp(min as f64, max as f64) as u64
}

/// A zipf distribution over ranks 1..=n: P(k) proportional to k^-s.
///
/// Rejection-inversion: draw from the continuous hat function x^-s by inverting its integral
/// H, round to the nearest rank, and accept when the draw lies under the rank's bar. The
/// helpers keep H and its inverse accurate when s is close to 1.
#[derive(Clone, Debug)]
pub struct Zipf {
    n: f64,
    s: f64,
    h_x1: f64,
    h_n: f64,
    threshold: f64,
}

impl Zipf {
    pub fn new(n: u64, s: f64) -> Zipf {
        let n = n.max(1) as f64;
        let mut z = Zipf { n, s, h_x1: 0.0, h_n: 0.0, threshold: 0.0 };
        z.h_x1 = z.big_h(1.5) - 1.0;
        z.h_n = z.big_h(n + 0.5);
        z.threshold = 2.0 - z.big_h_inv(z.big_h(2.5) - z.small_h(2.0));
        z
    }

    /// A rank in 1..=n.
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        loop {
            let u = self.h_n + rng.unit() * (self.h_x1 - self.h_n);
            let x = self.big_h_inv(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.threshold || u >= self.big_h(k + 0.5) - self.small_h(k) {
                return k as u64;
            }
        }
    }

    fn small_h(&self, x: f64) -> f64 {
        (-self.s * x.ln()).exp()
    }

    /// Integral of x^-s: (x^(1-s) - 1) / (1 - s), or ln x when s = 1.
    fn big_h(&self, x: f64) -> f64 {
        let log_x = x.ln();
        expm1_over_x((1.0 - self.s) * log_x) * log_x
    }

    fn big_h_inv(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.s)).max(-1.0);
        (ln1p_over_x(t) * x).exp()
    }
}

/// (e^x - 1) / x, continuous at 0.
fn expm1_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 { x.exp_m1() / x } else { 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x)) }
}

/// ln(1 + x) / x, continuous at 0.
fn ln1p_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 { x.ln_1p() / x } else { 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x)) }
}

/// Appends the decimal digits of `n` to `out` (the hot path of key formatting).
pub fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(min: u64, max: u64) -> KeySpace {
        KeySpace { min, max, stddev: None, median: None, zipf_exp: 1.0 }
    }

    fn draw(pattern: KeyPattern, sp: &KeySpace, n: usize) -> Vec<u64> {
        let mut rng = Rng::new(7);
        let mut g = KeyGen::new(pattern, sp, 0, 1);
        (0..n).map(|_| g.next(&mut rng)).collect()
    }

    fn mean_and_stddev(xs: &[u64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = xs.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    #[test]
    fn uniform_covers_the_range_evenly() {
        let sp = space(10, 109);
        let keys = draw(KeyPattern::Uniform, &sp, 100_000);
        let mut counts = [0u32; 100];
        for k in keys {
            assert!((10..=109).contains(&k));
            counts[(k - 10) as usize] += 1;
        }
        // Each bucket expects 1000; 5 sigma is about 160.
        assert!(counts.iter().all(|&c| (840..=1160).contains(&c)), "{counts:?}");
    }

    #[test]
    fn sequential_walks_in_order_and_wraps() {
        let keys = draw(KeyPattern::Sequential, &space(5, 8), 10);
        assert_eq!(keys, vec![5, 6, 7, 8, 5, 6, 7, 8, 5, 6]);
    }

    #[test]
    fn parallel_slices_cover_the_range_once() {
        let sp = space(1, 1000);
        let mut seen = vec![0u32; 1001];
        for conn in 0..7 {
            let (lo, hi) = parallel_slice(&sp, conn, 7);
            let mut g = KeyGen::new(KeyPattern::Parallel, &sp, conn, 7);
            let mut rng = Rng::new(1);
            for _ in lo..=hi {
                seen[g.next(&mut rng) as usize] += 1;
            }
            assert_eq!(g.next(&mut rng), lo, "connection {conn} wraps to its slice start");
        }
        assert!(seen[1..].iter().all(|&c| c == 1));
    }

    #[test]
    fn parallel_with_more_connections_than_keys_stays_in_range() {
        let sp = space(0, 2);
        for conn in 0..10 {
            let (lo, hi) = parallel_slice(&sp, conn, 10);
            assert!(lo <= hi && hi <= 2, "{conn}: {lo}..{hi}");
        }
    }

    #[test]
    fn gaussian_mean_and_stddev_are_roughly_right() {
        let sp = KeySpace { median: Some(5000.0), stddev: Some(500.0), ..space(0, 10_000) };
        let (mean, sd) = mean_and_stddev(&draw(KeyPattern::Gaussian, &sp, 200_000));
        assert!((mean - 5000.0).abs() < 10.0, "mean {mean}");
        assert!((sd - 500.0).abs() < 10.0, "stddev {sd}");
    }

    #[test]
    fn gaussian_defaults_center_the_range() {
        let (mean, sd) = mean_and_stddev(&draw(KeyPattern::Gaussian, &space(0, 60_000), 200_000));
        assert!((mean - 30_000.0).abs() < 100.0, "mean {mean}");
        // A sixth of the range, slightly narrowed by redrawing the 0.27% outside 3 sigma.
        assert!((sd - 10_000.0).abs() < 300.0, "stddev {sd}");
    }

    #[test]
    fn zipf_is_skewed_like_the_formula() {
        // s = 1, n = 1000: P(rank 1) = 1 / H_1000 = 0.1336; P(1) / P(2) = 2.
        let keys = draw(KeyPattern::Zipf, &space(1, 1000), 200_000);
        let count = |k| keys.iter().filter(|&&x| x == k).count() as f64;
        let p1 = count(1) / keys.len() as f64;
        assert!((p1 - 0.1336).abs() < 0.005, "p1 {p1}");
        let ratio = count(1) / count(2);
        assert!((ratio - 2.0).abs() < 0.1, "ratio {ratio}");
        assert!(keys.iter().all(|&k| (1..=1000).contains(&k)));
    }

    #[test]
    fn zipf_other_exponents_match_exact_probabilities() {
        for s in [0.5, 0.99, 1.5, 3.0] {
            let n = 50u64;
            let norm: f64 = (1..=n).map(|k| (k as f64).powf(-s)).sum();
            let z = Zipf::new(n, s);
            let mut rng = Rng::new(3);
            let mut counts = vec![0u32; n as usize + 1];
            let draws = 200_000;
            for _ in 0..draws {
                counts[z.sample(&mut rng) as usize] += 1;
            }
            for k in [1usize, 2, 10] {
                let expect = (k as f64).powf(-s) / norm;
                let got = counts[k] as f64 / draws as f64;
                assert!((got - expect).abs() < 0.01, "s={s} k={k}: {got} vs {expect}");
            }
        }
    }

    #[test]
    fn zipf_handles_a_huge_range() {
        let z = Zipf::new(10_000_000, 1.0);
        let mut rng = Rng::new(9);
        assert!((0..10_000).all(|_| (1..=10_000_000).contains(&z.sample(&mut rng))));
    }

    #[test]
    fn rng_is_reproducible_and_seed_dependent() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(1);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(1);
                move |_| r.next_u64()
            })
            .collect();
        let mut r2 = Rng::new(2);
        assert_eq!(a, b);
        assert_ne!(a[0], r2.next_u64());
    }

    #[test]
    fn between_handles_the_full_u64_range() {
        let mut r = Rng::new(5);
        let _ = r.between(0, u64::MAX);
        assert_eq!(r.between(7, 7), 7);
    }

    #[test]
    fn decimal_formatting() {
        for n in [0u64, 9, 10, 12345, u64::MAX] {
            let mut v = Vec::new();
            push_decimal(&mut v, n);
            assert_eq!(v, n.to_string().as_bytes());
        }
    }

    #[test]
    fn pattern_letters_round_trip() {
        for l in ["R", "S", "G", "Z", "P"] {
            assert_eq!(KeyPattern::parse(l).unwrap().letter().to_string(), l);
        }
        assert!(KeyPattern::parse("Q").is_err());
    }
}
