//! Reply encoding straight into an output buffer. One `Out` serves both protocol versions:
//! callers say what a reply *is* (null, map, double...) and `Out` writes the RESP2 or RESP3
//! form the connection negotiated with HELLO.

/// An output buffer plus the protocol it speaks.
#[derive(Default)]
pub struct Out {
    pub buf: Vec<u8>,
    pub resp3: bool,
}

impl Out {
    pub fn new(resp3: bool) -> Out {
        Out { buf: Vec::with_capacity(16 * 1024), resp3 }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply; `msg` carries its code (`ERR ...`, `WRONGTYPE ...`). Newlines would break
    /// the protocol, so they become spaces, as Redis does.
    pub fn error(&mut self, msg: &str) {
        self.buf.push(b'-');
        for &b in msg.as_bytes() {
            self.buf.push(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, v: i64) {
        self.buf.push(b':');
        push_i64(&mut self.buf, v);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk(&mut self, s: &[u8]) {
        self.buf.reserve(s.len() + 24);
        self.buf.push(b'$');
        push_i64(&mut self.buf, s.len() as i64);
        self.buf.extend_from_slice(b"\r\n");
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk_i64(&mut self, v: i64) {
        let mut tmp = [0u8; 24];
        let n = format_i64(&mut tmp, v);
        self.bulk(&tmp[..n]);
    }

    /// The null bulk string (`$-1` / `_`).
    pub fn null(&mut self) {
        self.buf.extend_from_slice(if self.resp3 { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// The null array (`*-1` / `_`).
    pub fn null_array(&mut self) {
        self.buf.extend_from_slice(if self.resp3 { b"_\r\n" } else { b"*-1\r\n" });
    }

    pub fn array(&mut self, n: usize) {
        self.header(b'*', n);
    }

    /// A map of `n` pairs: `%n` in RESP3, a flat array of 2n in RESP2.
    pub fn map(&mut self, n: usize) {
        if self.resp3 { self.header(b'%', n) } else { self.header(b'*', n * 2) }
    }

    pub fn set(&mut self, n: usize) {
        if self.resp3 { self.header(b'~', n) } else { self.header(b'*', n) }
    }

    pub fn push(&mut self, n: usize) {
        if self.resp3 { self.header(b'>', n) } else { self.header(b'*', n) }
    }

    pub fn boolean(&mut self, v: bool) {
        if self.resp3 {
            self.buf.extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(v as i64);
        }
    }

    /// A double: `,<v>` in RESP3, a bulk string in RESP2, formatted like Redis's `%.17g`.
    pub fn double(&mut self, v: f64) {
        let s = format_double(v);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// Text for humans (INFO, CLIENT LIST): a verbatim string in RESP3, bulk in RESP2.
    pub fn verbatim(&mut self, s: &[u8]) {
        if self.resp3 {
            self.buf.push(b'=');
            push_i64(&mut self.buf, s.len() as i64 + 4);
            self.buf.extend_from_slice(b"\r\ntxt:");
            self.buf.extend_from_slice(s);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s);
        }
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    fn header(&mut self, kind: u8, n: usize) {
        self.buf.push(kind);
        push_i64(&mut self.buf, n as i64);
        self.buf.extend_from_slice(b"\r\n");
    }
}

/// Writes the decimal form of `v` into `tmp`, returning its length.
pub fn format_i64(tmp: &mut [u8; 24], v: i64) -> usize {
    let i = format_i64_at_end(tmp, v);
    let len = tmp.len() - i;
    tmp.copy_within(i.., 0);
    len
}

/// Writes `v` in decimal at the end of `tmp`; returns where it starts.
fn format_i64_at_end(tmp: &mut [u8; 24], v: i64) -> usize {
    let mut n = v.unsigned_abs();
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        i -= 1;
        tmp[i] = b'-';
    }
    i
}

/// Appends `v` in decimal. Every reply header goes through here (lengths, counts), so the
/// common one- and two-digit numbers skip the scratch buffer and its copies.
#[inline]
pub fn push_i64(buf: &mut Vec<u8>, v: i64) {
    if (0..10).contains(&v) {
        buf.push(b'0' + v as u8);
    } else if (10..100).contains(&v) {
        buf.extend_from_slice(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8]);
    } else {
        let mut tmp = [0u8; 24];
        let start = format_i64_at_end(&mut tmp, v);
        buf.extend_from_slice(&tmp[start..]);
    }
}

/// `%.17g` as C formats it, which is what Redis uses for doubles in replies.
pub fn format_double(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    format_g(v, 17)
}

/// C's `%.<prec>g`: scientific when the exponent is < -4 or >= prec, trailing zeros removed.
pub fn format_g(v: f64, prec: usize) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let sci = format!("{:.*e}", prec - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let m = trim_fraction_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_fraction_zeros(&format!("{:.*}", decimals, v)).to_string()
    }
}

fn trim_fraction_zeros(s: &str) -> &str {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_format_matches_c() {
        assert_eq!(format_g(1.5, 17), "1.5");
        assert_eq!(format_g(0.1, 17), "0.10000000000000001");
        assert_eq!(format_g(1e20, 17), "1e+20");
        assert_eq!(format_g(1e-5, 17), "1.0000000000000001e-05");
        assert_eq!(format_g(3000.0, 17), "3000");
        assert_eq!(format_g(-2.5, 17), "-2.5");
    }

    #[test]
    fn decimal_integers_at_every_width() {
        for v in [0, 9, 10, 99, 100, 12345, -1, -10, -100, i64::MAX, i64::MIN] {
            let mut buf = b"x".to_vec();
            push_i64(&mut buf, v);
            assert_eq!(buf, format!("x{v}").into_bytes());
            let mut tmp = [0u8; 24];
            let n = format_i64(&mut tmp, v);
            assert_eq!(&tmp[..n], v.to_string().as_bytes());
        }
    }

    #[test]
    fn ints_and_nulls() {
        let mut o = Out::new(false);
        o.int(i64::MIN);
        o.null();
        o.map(1);
        assert_eq!(o.buf, b":-9223372036854775808\r\n$-1\r\n*2\r\n");
        let mut o = Out::new(true);
        o.null();
        o.map(1);
        o.double(2.0);
        assert_eq!(o.buf, b"_\r\n%1\r\n,2\r\n");
    }
}
