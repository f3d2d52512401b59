//! Redis's packed encodings as they appear inside RDB strings: ziplist, listpack, zipmap and
//! intset. Readers walk an untrusted blob with every offset checked and hand each entry to a
//! callback; writers produce the two blobs the RDB writer uses (a listpack around entries
//! that are already encoded, and an intset).
//!
//! * ziplist: `zlbytes u32, zltail u32, zllen u16`, entries, `0xFF`. An entry is
//!   `prevlen` (1 byte, or 0xFE and 4 bytes), an encoding byte saying "string of 6/14/32-bit
//!   length" or "integer of 8/16/24/32/64 bits" or "immediate 0..12", then the payload.
//! * listpack: `total u32, count u16` (65535 = unknown), entries, `0xFF`. An entry is an
//!   encoding byte (7-bit uint, 13/16/24/32/64-bit int, string of 6/12/32-bit length), the
//!   payload, and `backlen`, the entry's length in 1 to 5 bytes.
//! * zipmap (Redis 2.x hashes): `count u8`, then `len key len free value` pairs with 1-byte
//!   lengths (or 0xFE and 4 bytes), `free` unused bytes after each value, `0xFF`.
//! * intset: `encoding u32` (2, 4 or 8 bytes per member), `count u32`, sorted members.
//!
//! Multi-byte integers are little-endian except ziplist's 32-bit string length (big-endian).

use crate::types::listpack::Elem;

pub type Result<T> = std::result::Result<T, &'static str>;

/// A bounds-checked cursor over a blob.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len()).ok_or(what)?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn byte(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }

    fn peek(&self, what: &'static str) -> Result<u8> {
        self.b.get(self.at).copied().ok_or(what)
    }

    /// A little-endian signed integer of `n` bytes.
    fn int_le(&mut self, n: usize, what: &'static str) -> Result<i64> {
        let s = self.take(n, what)?;
        let mut v = [0u8; 8];
        v[8 - n..].copy_from_slice(s);
        Ok(i64::from_le_bytes(v) >> (64 - 8 * n))
    }

    fn u32_le(&mut self, what: &'static str) -> Result<u32> {
        let s = self.take(4, what)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
}

const ZL_TRUNCATED: &str = "ziplist entry past its end";

/// Walks a ziplist; returns the number of entries.
pub fn ziplist<'b>(blob: &'b [u8], mut f: impl FnMut(Elem<'b>) -> Result<()>) -> Result<usize> {
    if blob.len() < 11 || blob[blob.len() - 1] != 0xFF {
        return Err("ziplist header or end byte is wrong");
    }
    let mut c = Cursor { b: blob, at: 0 };
    if c.u32_le(ZL_TRUNCATED)? as usize != blob.len() {
        return Err("ziplist length does not match its header");
    }
    c.at = 10;
    let mut count = 0;
    while c.peek(ZL_TRUNCATED)? != 0xFF {
        if c.byte(ZL_TRUNCATED)? == 0xFE {
            c.take(4, ZL_TRUNCATED)?;
        }
        let enc = c.byte(ZL_TRUNCATED)?;
        let elem = match enc >> 6 {
            0 => Elem::Str(c.take((enc & 0x3F) as usize, ZL_TRUNCATED)?),
            1 => {
                let len = ((enc & 0x3F) as usize) << 8 | c.byte(ZL_TRUNCATED)? as usize;
                Elem::Str(c.take(len, ZL_TRUNCATED)?)
            }
            2 if enc == 0x80 => {
                let s = c.take(4, ZL_TRUNCATED)?;
                let len = u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize;
                Elem::Str(c.take(len, ZL_TRUNCATED)?)
            }
            3 => Elem::Int(match enc {
                0xC0 => c.int_le(2, ZL_TRUNCATED)?,
                0xD0 => c.int_le(4, ZL_TRUNCATED)?,
                0xE0 => c.int_le(8, ZL_TRUNCATED)?,
                0xF0 => c.int_le(3, ZL_TRUNCATED)?,
                0xFE => c.int_le(1, ZL_TRUNCATED)?,
                0xF1..=0xFD => (enc & 0x0F) as i64 - 1,
                _ => return Err("ziplist entry has an unknown encoding"),
            }),
            _ => return Err("ziplist entry has an unknown encoding"),
        };
        f(elem)?;
        count += 1;
    }
    if c.at != blob.len() - 1 {
        return Err("ziplist end byte before its end");
    }
    Ok(count)
}

const LP_TRUNCATED: &str = "listpack entry past its end";
/// The count a listpack header gives when it has too many entries to say.
const LP_COUNT_UNKNOWN: usize = 65535;

/// Bytes a listpack `backlen` takes for an entry of `l` bytes.
fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Walks a listpack; returns the number of entries.
pub fn listpack<'b>(blob: &'b [u8], mut f: impl FnMut(Elem<'b>) -> Result<()>) -> Result<usize> {
    if blob.len() < 7 || blob[blob.len() - 1] != 0xFF {
        return Err("listpack header or end byte is wrong");
    }
    let mut c = Cursor { b: blob, at: 0 };
    if c.u32_le(LP_TRUNCATED)? as usize != blob.len() {
        return Err("listpack length does not match its header");
    }
    let stated = u16::from_le_bytes([blob[4], blob[5]]) as usize;
    c.at = 6;
    let mut count = 0;
    while c.peek(LP_TRUNCATED)? != 0xFF {
        let start = c.at;
        let h = c.byte(LP_TRUNCATED)?;
        let elem = if h < 0x80 {
            Elem::Int(h as i64)
        } else if h & 0xC0 == 0x80 {
            Elem::Str(c.take((h & 0x3F) as usize, LP_TRUNCATED)?)
        } else if h & 0xE0 == 0xC0 {
            let u = ((h & 0x1F) as i64) << 8 | c.byte(LP_TRUNCATED)? as i64;
            Elem::Int(if u >= 1 << 12 { u - (1 << 13) } else { u })
        } else if h & 0xF0 == 0xE0 {
            let len = ((h & 0x0F) as usize) << 8 | c.byte(LP_TRUNCATED)? as usize;
            Elem::Str(c.take(len, LP_TRUNCATED)?)
        } else {
            match h {
                0xF0 => {
                    let len = c.u32_le(LP_TRUNCATED)? as usize;
                    Elem::Str(c.take(len, LP_TRUNCATED)?)
                }
                0xF1 => Elem::Int(c.int_le(2, LP_TRUNCATED)?),
                0xF2 => Elem::Int(c.int_le(3, LP_TRUNCATED)?),
                0xF3 => Elem::Int(c.int_le(4, LP_TRUNCATED)?),
                0xF4 => Elem::Int(c.int_le(8, LP_TRUNCATED)?),
                _ => return Err("listpack entry has an unknown encoding"),
            }
        };
        c.take(backlen_size(c.at - start), LP_TRUNCATED)?;
        f(elem)?;
        count += 1;
    }
    if c.at != blob.len() - 1 {
        return Err("listpack end byte before its end");
    }
    if stated != LP_COUNT_UNKNOWN && stated != count {
        return Err("listpack entry count does not match its header");
    }
    Ok(count)
}

const ZM_TRUNCATED: &str = "zipmap entry past its end";

/// Walks a zipmap; returns the number of pairs.
pub fn zipmap(blob: &[u8], mut f: impl FnMut(&[u8], &[u8]) -> Result<()>) -> Result<usize> {
    let mut c = Cursor { b: blob, at: 1 };
    if blob.is_empty() {
        return Err(ZM_TRUNCATED);
    }
    let len = |c: &mut Cursor| -> Result<Option<usize>> {
        match c.byte(ZM_TRUNCATED)? {
            0xFF => Ok(None),
            0xFE => Ok(Some(c.u32_le(ZM_TRUNCATED)? as usize)),
            n => Ok(Some(n as usize)),
        }
    };
    let mut count = 0;
    while let Some(klen) = len(&mut c)? {
        let key = c.take(klen, ZM_TRUNCATED)?;
        let vlen = len(&mut c)?.ok_or("zipmap ends between a key and its value")?;
        let free = c.byte(ZM_TRUNCATED)? as usize;
        let value = c.take(vlen, ZM_TRUNCATED)?;
        c.take(free, ZM_TRUNCATED)?;
        f(key, value)?;
        count += 1;
    }
    if c.at != blob.len() {
        return Err("zipmap end byte before its end");
    }
    Ok(count)
}

/// Walks an intset; returns the number of members.
pub fn intset(blob: &[u8], mut f: impl FnMut(i64) -> Result<()>) -> Result<usize> {
    let mut c = Cursor { b: blob, at: 0 };
    let width = c.u32_le("intset header past its end")? as usize;
    let count = c.u32_le("intset header past its end")? as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err("intset has an unknown encoding");
    }
    if count.checked_mul(width).and_then(|n| n.checked_add(8)) != Some(blob.len()) {
        return Err("intset length does not match its header");
    }
    let mut prev = None;
    for _ in 0..count {
        let v = c.int_le(width, "intset member past its end")?;
        if prev.is_some_and(|p| p >= v) {
            return Err("intset members are not sorted and distinct");
        }
        prev = Some(v);
        f(v)?;
    }
    Ok(count)
}

/// A listpack blob holding `count` entries already in listpack entry format.
pub fn listpack_blob(entries: &[u8], count: usize, out: &mut Vec<u8>) {
    out.clear();
    let total = 6 + entries.len() + 1;
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(count.min(LP_COUNT_UNKNOWN) as u16).to_le_bytes());
    out.extend_from_slice(entries);
    out.push(0xFF);
}

/// An intset blob of the `len` members `get(0..len)` (ascending, distinct), at the narrowest
/// width that holds them (the first and last are the extremes).
pub fn intset_blob(len: usize, get: impl Fn(usize) -> i64, out: &mut Vec<u8>) {
    out.clear();
    let (lo, hi) = if len == 0 { (0, 0) } else { (get(0), get(len - 1)) };
    let fits = |min: i64, max: i64| lo >= min && hi <= max;
    let width: usize = if fits(i16::MIN as i64, i16::MAX as i64) {
        2
    } else if fits(i32::MIN as i64, i32::MAX as i64) {
        4
    } else {
        8
    };
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    for i in 0..len {
        out.extend_from_slice(&get(i).to_le_bytes()[..width]);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::types::listpack::Listpack;

    type Walk = fn(&[u8], &mut dyn FnMut(Elem<'_>) -> Result<()>) -> Result<usize>;

    fn elems(blob: &[u8], walk: Walk) -> Vec<String> {
        let mut v = Vec::new();
        walk(blob, &mut |e| {
            v.push(String::from_utf8_lossy(&e.to_vec()).into_owned());
            Ok(())
        })
        .unwrap();
        v
    }

    fn walk_zl(b: &[u8], f: &mut dyn FnMut(Elem<'_>) -> Result<()>) -> Result<usize> {
        ziplist(b, f)
    }

    fn walk_lp(b: &[u8], f: &mut dyn FnMut(Elem<'_>) -> Result<()>) -> Result<usize> {
        listpack(b, f)
    }

    /// A ziplist as Redis 6 lays it out, for tests: strings of 6/14/32-bit length and the
    /// integer encodings picked by value (as `zipTryEncoding` does).
    pub fn make_ziplist(items: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prevlen = 0usize;
        let mut tail = 10;
        for item in items {
            let start = body.len();
            tail = 10 + start;
            if prevlen < 254 {
                body.push(prevlen as u8);
            } else {
                body.push(0xFE);
                body.extend_from_slice(&(prevlen as u32).to_le_bytes());
            }
            match crate::resp::parse::parse_i64(item) {
                Some(v @ 0..=12) => body.push(0xF1 + v as u8),
                Some(v) if i8::try_from(v).is_ok() => body.extend_from_slice(&[0xFE, v as u8]),
                Some(v) if i16::try_from(v).is_ok() => {
                    body.push(0xC0);
                    body.extend_from_slice(&(v as i16).to_le_bytes());
                }
                Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => {
                    body.push(0xF0);
                    body.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
                }
                Some(v) if i32::try_from(v).is_ok() => {
                    body.push(0xD0);
                    body.extend_from_slice(&(v as i32).to_le_bytes());
                }
                Some(v) => {
                    body.push(0xE0);
                    body.extend_from_slice(&v.to_le_bytes());
                }
                None if item.len() < 64 => {
                    body.push(item.len() as u8);
                    body.extend_from_slice(item);
                }
                None if item.len() < 16384 => {
                    body.extend_from_slice(&[0x40 | (item.len() >> 8) as u8, item.len() as u8]);
                    body.extend_from_slice(item);
                }
                None => {
                    body.push(0x80);
                    body.extend_from_slice(&(item.len() as u32).to_be_bytes());
                    body.extend_from_slice(item);
                }
            }
            prevlen = body.len() - start;
        }
        let mut zl = Vec::new();
        zl.extend_from_slice(&((11 + body.len()) as u32).to_le_bytes());
        zl.extend_from_slice(&(tail as u32).to_le_bytes());
        zl.extend_from_slice(&(items.len().min(65535) as u16).to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(0xFF);
        zl
    }

    /// A zipmap as Redis 2.x wrote it (with a little free space after one value).
    pub fn make_zipmap(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut zm = vec![pairs.len().min(254) as u8];
        let len = |zm: &mut Vec<u8>, n: usize| {
            if n < 254 {
                zm.push(n as u8);
            } else {
                zm.push(0xFE);
                zm.extend_from_slice(&(n as u32).to_le_bytes());
            }
        };
        for (i, (k, v)) in pairs.iter().enumerate() {
            len(&mut zm, k.len());
            zm.extend_from_slice(k);
            len(&mut zm, v.len());
            let free = if i == 0 { 2 } else { 0 };
            zm.push(free);
            zm.extend_from_slice(v);
            zm.extend(std::iter::repeat_n(0, free as usize));
        }
        zm.push(0xFF);
        zm
    }

    pub fn make_listpack(items: &[&[u8]]) -> Vec<u8> {
        let mut lp = Listpack::new();
        for i in items {
            lp.push_back(i);
        }
        let mut out = Vec::new();
        listpack_blob(lp.encoded(), lp.len(), &mut out);
        out
    }

    fn sample() -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = [
            "0",
            "12",
            "13",
            "-1",
            "127",
            "128",
            "-129",
            "4095",
            "-4096",
            "4096",
            "32767",
            "-32768",
            "32768",
            "8388607",
            "-8388608",
            "8388608",
            "2147483647",
            "-2147483648",
            "2147483648",
            "9223372036854775807",
            "-9223372036854775808",
            "",
            "a",
            "007",
            "-0",
            "+1",
            "1.5",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        v.push(vec![b'x'; 63]);
        v.push(vec![b'y'; 64]);
        v.push(vec![b'z'; 4095]);
        v.push(vec![b'w'; 4096]);
        v.push(vec![b'v'; 16384]);
        v.push(vec![0, 255, 13, 10]);
        v
    }

    fn texts(items: &[Vec<u8>]) -> Vec<String> {
        items.iter().map(|i| String::from_utf8_lossy(i).into_owned()).collect()
    }

    #[test]
    fn ziplists_of_every_encoding() {
        let items = sample();
        let refs: Vec<&[u8]> = items.iter().map(|v| v.as_slice()).collect();
        assert_eq!(elems(&make_ziplist(&refs), walk_zl), texts(&items));
    }

    #[test]
    fn listpacks_of_every_encoding() {
        let items = sample();
        let refs: Vec<&[u8]> = items.iter().map(|v| v.as_slice()).collect();
        assert_eq!(elems(&make_listpack(&refs), walk_lp), texts(&items));
    }

    /// `RPUSH l a 1 -200 hello 100000` in redis-server 7.0.15, DUMP l: the listpack inside.
    #[test]
    fn reads_a_listpack_redis_wrote() {
        let lp = [
            0x1b, 0x00, 0x00, 0x00, 0x05, 0x00, 0x81, 0x61, 0x02, 0x01, 0x01, 0xdf, 0x38, 0x02, 0x85, 0x68,
            0x65, 0x6c, 0x6c, 0x6f, 0x06, 0xf2, 0xa0, 0x86, 0x01, 0x04, 0xff,
        ];
        assert_eq!(elems(&lp, walk_lp), ["a", "1", "-200", "hello", "100000"]);
        assert_eq!(make_listpack(&[b"a", b"1", b"-200", b"hello", b"100000"]), lp);
    }

    #[test]
    fn zipmaps_and_intsets() {
        let zm = make_zipmap(&[(b"f", b"v"), (b"", b"empty"), (&[b'k'; 300], &[b'v'; 260])]);
        let mut pairs = Vec::new();
        assert_eq!(
            zipmap(&zm, |k, v| {
                pairs.push((k.len(), v.to_vec()));
                Ok(())
            }),
            Ok(3)
        );
        assert_eq!(pairs[0], (1, b"v".to_vec()));
        assert_eq!(pairs[2].0, 300);
        for members in [vec![-5i64, 0, 7], vec![1, 70_000], vec![i64::MIN, 3]] {
            let mut blob = Vec::new();
            intset_blob(members.len(), |i| members[i], &mut blob);
            let mut back = Vec::new();
            intset(&blob, |v| {
                back.push(v);
                Ok(())
            })
            .unwrap();
            assert_eq!(back, members);
        }
    }

    #[test]
    fn corrupt_blobs_are_errors_not_panics() {
        let zl = make_ziplist(&[b"hello", b"300", &[b'q'; 100]]);
        let lp = make_listpack(&[b"hello", b"300", &[b'q'; 100]]);
        let zm = make_zipmap(&[(b"a", b"b"), (b"cc", b"dd")]);
        let mut is = Vec::new();
        intset_blob(3, |i| i as i64 + 1, &mut is);
        for (blob, walk) in [(&zl, 0), (&lp, 1), (&zm, 2), (&is, 3)] {
            for cut in 0..blob.len() {
                for flip in [None, Some(cut)] {
                    let mut b = blob[..if flip.is_some() { blob.len() } else { cut }].to_vec();
                    if let Some(i) = flip {
                        b[i] ^= 0xA5;
                    }
                    // Any outcome but a panic is fine for a flipped byte; a cut is an error.
                    let r = match walk {
                        0 => ziplist(&b, |_| Ok(())).map(|_| ()),
                        1 => listpack(&b, |_| Ok(())).map(|_| ()),
                        2 => zipmap(&b, |_, _| Ok(())).map(|_| ()),
                        _ => intset(&b, |_| Ok(())).map(|_| ()),
                    };
                    if flip.is_none() {
                        assert!(r.is_err(), "walk {walk} cut at {cut}");
                    }
                }
            }
        }
    }
}
