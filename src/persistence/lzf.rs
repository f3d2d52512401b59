//! LZF compression in liblzf's format, which RDB uses for long strings.
//!
//! A compressed stream is a sequence of items, each starting with a control byte `c`:
//! * `c < 32`: a literal run; the next `c + 1` bytes are copied as they are.
//! * otherwise a back-reference: `len = c >> 5` (when 7, one more byte is added to it), then
//!   one byte that with the low 5 bits of `c` gives the distance: copy `len + 2` bytes from
//!   `((c & 31) << 8 | byte) + 1` bytes back in the output (the copy may overlap itself).
//!
//! So a match is 3 to 264 bytes long and at most 8192 bytes back. The compressor finds
//! matches with a hash table of the last position of every 3-byte sequence (kept between
//! calls, so compressing many values allocates it once; stale positions are harmless because
//! every candidate is compared before it is used).

/// Longest back-reference (encoded as `len - 2` in 3 + 8 bits).
const MAX_MATCH: usize = 264;
/// Farthest back-reference distance.
const MAX_DISTANCE: usize = 1 << 13;
/// Longest literal run.
const MAX_LITERALS: usize = 32;
const HASH_BITS: u32 = 14;

/// A reusable compressor.
pub struct Lzf {
    /// Position + 1 of the last 3-byte sequence with each hash (0 = none).
    table: Vec<u32>,
}

impl Default for Lzf {
    fn default() -> Lzf {
        Lzf { table: vec![0; 1 << HASH_BITS] }
    }
}

fn hash3(b: &[u8]) -> usize {
    let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
    (v.wrapping_mul(2_654_435_761) >> (32 - HASH_BITS)) as usize
}

/// Appends the pending literals `lit` as runs of at most 32 bytes.
fn flush_literals(out: &mut Vec<u8>, lit: &[u8]) {
    for run in lit.chunks(MAX_LITERALS) {
        out.push((run.len() - 1) as u8);
        out.extend_from_slice(run);
    }
}

impl Lzf {
    /// Compresses `input` into `out` (cleared first). Returns false, with `out` unspecified,
    /// when the result would be longer than `max_out` bytes: RDB then stores the string as
    /// it is.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>, max_out: usize) -> bool {
        out.clear();
        let n = input.len();
        if n > u32::MAX as usize - 1 {
            return false;
        }
        let mut lit_start = 0;
        let mut ip = 0;
        while ip + 2 < n {
            let h = hash3(&input[ip..]);
            let candidate = self.table[h] as usize;
            self.table[h] = ip as u32 + 1;
            let found = candidate
                .checked_sub(1)
                .filter(|&r| r < ip && ip - r <= MAX_DISTANCE && input[r..r + 3] == input[ip..ip + 3]);
            let Some(r) = found else {
                ip += 1;
                continue;
            };
            let max_len = MAX_MATCH.min(n - ip);
            let mut len = 3;
            while len < max_len && input[r + len] == input[ip + len] {
                len += 1;
            }
            flush_literals(out, &input[lit_start..ip]);
            let dist = ip - r - 1;
            let code = len - 2;
            if code < 7 {
                out.push(((code << 5) | (dist >> 8)) as u8);
            } else {
                out.push(((7 << 5) | (dist >> 8)) as u8);
                out.push((code - 7) as u8);
            }
            out.push(dist as u8);
            if out.len() > max_out {
                return false;
            }
            // Index the match's last two positions so the next repeat finds it.
            for p in (ip + len).saturating_sub(2)..ip + len {
                if p + 2 < n {
                    self.table[hash3(&input[p..])] = p as u32 + 1;
                }
            }
            ip += len;
            lit_start = ip;
        }
        flush_literals(out, &input[lit_start..]);
        out.len() <= max_out
    }
}

/// Decompresses `input`, which must expand to exactly `out_len` bytes.
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(out_len);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(ip..ip + run).ok_or("LZF literal run past the end of the input")?;
            if out.len() + run > out_len {
                return Err("LZF data expands past its stated length");
            }
            out.extend_from_slice(lit);
            ip += run;
            continue;
        }
        let mut len = ctrl >> 5;
        if len == 7 {
            len += *input.get(ip).ok_or("LZF back-reference past the end of the input")? as usize;
            ip += 1;
        }
        let low = *input.get(ip).ok_or("LZF back-reference past the end of the input")? as usize;
        ip += 1;
        let dist = ((ctrl & 0x1f) << 8 | low) + 1;
        let len = len + 2;
        if dist > out.len() {
            return Err("LZF back-reference before the start of the output");
        }
        if out.len() + len > out_len {
            return Err("LZF data expands past its stated length");
        }
        let from = out.len() - dist;
        if dist >= len {
            out.extend_from_within(from..from + len);
        } else {
            for i in 0..len {
                out.push(out[from + i]);
            }
        }
    }
    if out.len() != out_len {
        return Err("LZF data shorter than its stated length");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(data: &[u8]) -> usize {
        let mut lzf = Lzf::default();
        let mut out = Vec::new();
        assert!(lzf.compress(data, &mut out, usize::MAX));
        assert_eq!(decompress(&out, data.len()).unwrap(), data);
        out.len()
    }

    #[test]
    fn round_trips() {
        round_trip(b"");
        round_trip(b"a");
        round_trip(b"abc");
        let rep = b"hello hello hello hello hello hello hello".repeat(20);
        assert!(round_trip(&rep) < rep.len() / 5);
        let zeros = vec![0u8; 100_000];
        assert!(round_trip(&zeros) < 100_000 / 264 * 3 + 16);
        let mut x = 12345u64;
        let noise: Vec<u8> = (0..70_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        round_trip(&noise);
        // Text with repeats farther apart than one back-reference can reach.
        let mut mixed = noise[..9000].to_vec();
        mixed.extend_from_slice(&noise[..9000]);
        mixed.extend_from_slice(&rep);
        round_trip(&mixed);
    }

    #[test]
    fn the_table_is_reused_safely() {
        let mut lzf = Lzf::default();
        let mut out = Vec::new();
        for data in [b"xyzxyzxyzxyzxyzxyzxyzxyz".to_vec(), b"abcabcabcabc".repeat(30), b"q".repeat(50)] {
            assert!(lzf.compress(&data, &mut out, usize::MAX));
            assert_eq!(decompress(&out, data.len()).unwrap(), data);
        }
    }

    #[test]
    fn incompressible_input_is_refused_under_a_bound() {
        let mut lzf = Lzf::default();
        let mut out = Vec::new();
        let data: Vec<u8> = (0..=255u8).collect();
        assert!(!lzf.compress(&data, &mut out, data.len() - 4));
    }

    /// `SET k "aaaa...a"` (50 bytes) and `SET k2 <"0123456789" x 5>` in redis-server 7.0.15,
    /// then DUMP: the LZF data inside the payloads, as Redis compressed it.
    #[test]
    fn decompresses_what_redis_compressed() {
        let a50 = [0x01, 0x61, 0x61, 0xe0, 0x25, 0x00, 0x01, 0x61, 0x61];
        assert_eq!(decompress(&a50, 50).unwrap(), vec![b'a'; 50]);
        let digits = [
            0x0a, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x30, 0xe0, 0x1c, 0x09, 0x01,
            0x38, 0x39,
        ];
        assert_eq!(decompress(&digits, 50).unwrap(), b"0123456789".repeat(5));
    }

    #[test]
    fn corrupt_input_is_an_error() {
        assert!(decompress(&[0x05, b'a'], 6).is_err());
        assert!(decompress(&[0x00, b'a', 0x20, 0x05], 10).is_err());
        assert!(decompress(&[0x00, b'a', 0x20, 0x00], 2).is_err());
        assert!(decompress(&[0x00, b'a'], 2).is_err());
    }
}
