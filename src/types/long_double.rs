//! INCRBYFLOAT's arithmetic: Redis adds in 80-bit long double and prints with `%.17Lf`
//! (trailing zeros trimmed), so 0.1+0.2 is "0.3" and 1e400 is a 401-digit integer. Rust has
//! no long double, so a small C helper (long_double.c) does exactly what Redis does.

unsafe extern "C" {
    fn shardis_ld_add(
        a: *const u8,
        alen: usize,
        b: *const u8,
        blen: usize,
        out: *mut u8,
        outlen: usize,
    ) -> isize;
    fn shardis_ld_valid(a: *const u8, alen: usize) -> i32;
}

#[derive(Debug, PartialEq, Eq)]
pub enum LdError {
    NotFloat,
    NanOrInfinity,
}

/// `a + b` formatted as Redis's INCRBYFLOAT stores it.
pub fn add(a: &[u8], b: &[u8]) -> Result<Vec<u8>, LdError> {
    // %.17Lf of the largest long double has ~4950 integer digits.
    let mut out = vec![0u8; 5200];
    // SAFETY: the pointers and lengths describe live buffers; the C side writes at most
    // `out.len()` bytes (snprintf) and reads exactly the given lengths.
    let n = unsafe { shardis_ld_add(a.as_ptr(), a.len(), b.as_ptr(), b.len(), out.as_mut_ptr(), out.len()) };
    match n {
        -1 => Err(LdError::NotFloat),
        -2 | -3 => Err(LdError::NanOrInfinity),
        n => {
            out.truncate(n as usize);
            Ok(out)
        }
    }
}

/// Whether `a` parses as a long double the way Redis accepts it.
pub fn is_valid(a: &[u8]) -> bool {
    // SAFETY: reads exactly `a.len()` bytes of a live slice.
    unsafe { shardis_ld_valid(a.as_ptr(), a.len()) == 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis() {
        assert_eq!(add(b"0.1", b"0.2").unwrap(), b"0.3");
        assert_eq!(add(b"10.5", b"0.1").unwrap(), b"10.6");
        assert_eq!(add(b"5.6", b"3.0e3").unwrap(), b"3005.60000000000000009");
        assert_eq!(add(b"0", b"3.0e3").unwrap(), b"3000");
        assert_eq!(add(b"1", b"-1").unwrap(), b"0");
        assert_eq!(add(b"0", b"1e400").unwrap().len(), 401);
        assert_eq!(add(b"0", b"1e5000"), Err(LdError::NotFloat));
        assert_eq!(add(b"0", b"nan"), Err(LdError::NotFloat));
        assert_eq!(add(b"0", b"inf"), Err(LdError::NanOrInfinity));
        assert_eq!(add(b"0", b" 1"), Err(LdError::NotFloat));
        assert!(is_valid(b"0x10"));
    }
}
