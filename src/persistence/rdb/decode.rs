//! Reading RDB data: lengths, strings, and values of every type (built into shardis values,
//! or skipped without being built). Every read is bounds-checked; errors carry the offset.

use super::packed;
use super::{Error, Limits, kind};
use crate::shard::{Str, Value, value::EMBSTR_MAX_BYTES};
use crate::types::hash::Hash;
use crate::types::list::{End, List};
use crate::types::listpack::Elem;
use crate::types::set::Set;
use crate::types::zset::ZSet;
use std::borrow::Cow;

pub type Result<T> = std::result::Result<T, Error>;

/// The most an LZF stream can expand per compressed byte (a 3-byte back-reference copies
/// 264 bytes): a stated length beyond it is corrupt, and is refused before allocating.
const LZF_MAX_RATIO: usize = 88;

/// A string as stored: bytes (borrowed from the input, or decompressed) or an integer.
pub enum RStr<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
    Int(i64),
}

impl<'a> RStr<'a> {
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            RStr::Borrowed(b) => f(b),
            RStr::Owned(v) => f(v),
            RStr::Int(i) => {
                let mut tmp = [0u8; 24];
                let n = crate::resp::write::format_i64(&mut tmp, *i);
                f(&tmp[..n])
            }
        }
    }

    pub fn into_vec(self) -> Vec<u8> {
        match self {
            RStr::Owned(v) => v,
            other => other.with_bytes(<[u8]>::to_vec),
        }
    }

    /// The bytes, borrowed when they are in the input.
    fn into_cow(self) -> Cow<'a, [u8]> {
        match self {
            RStr::Borrowed(b) => Cow::Borrowed(b),
            other => Cow::Owned(other.into_vec()),
        }
    }
}

/// A length or, when the top two bits of its first byte are set, a special string encoding.
enum Len {
    Plain(u64),
    Encoded(u8),
}

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Quicklist node containers (RDB type 18).
const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;

pub struct Reader<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub fn error(&self, at: usize, what: impl Into<String>) -> Error {
        Error { offset: at, what: what.into() }
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        match self.pos.checked_add(n).filter(|&end| end <= self.buf.len()) {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(self.error(self.buf.len(), "unexpected end of data (truncated file?)")),
        }
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u32_le(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    pub fn u64_le(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    fn len_or_encoding(&mut self) -> Result<Len> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Len::Plain((b & 0x3F) as u64),
            1 => Len::Plain(((b & 0x3F) as u64) << 8 | self.u8()? as u64),
            2 if b == 0x80 => Len::Plain(u32::from_be_bytes(self.take(4)?.try_into().expect("4")) as u64),
            2 if b == 0x81 => Len::Plain(u64::from_be_bytes(self.take(8)?.try_into().expect("8"))),
            2 => return Err(self.error(self.pos - 1, format!("unknown length encoding {b:#04x}"))),
            _ => Len::Encoded(b & 0x3F),
        })
    }

    pub fn length(&mut self) -> Result<u64> {
        let at = self.pos;
        match self.len_or_encoding()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(_) => Err(self.error(at, "expected a length, found an encoded string")),
        }
    }

    /// A length used as a byte count: it must fit in what is left of the input.
    fn byte_len(&mut self) -> Result<usize> {
        let at = self.pos;
        let n = self.length()?;
        if n > (self.buf.len() - self.pos) as u64 {
            return Err(self.error(at, format!("length {n} runs past the end of the data (truncated file?)")));
        }
        Ok(n as usize)
    }

    /// Sizes of an LZF string: (compressed, original), checked for plausibility.
    fn lzf_lengths(&mut self) -> Result<(usize, usize)> {
        let at = self.pos;
        let clen = self.byte_len()?;
        let ulen = self.length()?;
        if ulen > (clen as u64).saturating_mul(LZF_MAX_RATIO as u64) + 64 {
            return Err(self.error(at, format!("LZF string of {clen} bytes claims to expand to {ulen}")));
        }
        Ok((clen, ulen as usize))
    }

    pub fn string(&mut self) -> Result<RStr<'a>> {
        let at = self.pos;
        match self.len_or_encoding()? {
            Len::Plain(_) => {
                self.pos = at;
                let n = self.byte_len()?;
                Ok(RStr::Borrowed(self.take(n)?))
            }
            Len::Encoded(ENC_INT8) => Ok(RStr::Int(self.take(1)?[0] as i8 as i64)),
            Len::Encoded(ENC_INT16) => {
                Ok(RStr::Int(i16::from_le_bytes(self.take(2)?.try_into().expect("2")) as i64))
            }
            Len::Encoded(ENC_INT32) => {
                Ok(RStr::Int(i32::from_le_bytes(self.take(4)?.try_into().expect("4")) as i64))
            }
            Len::Encoded(ENC_LZF) => {
                let (clen, ulen) = self.lzf_lengths()?;
                let data_at = self.pos;
                let data = self.take(clen)?;
                let out =
                    crate::persistence::lzf::decompress(data, ulen).map_err(|e| self.error(data_at, e))?;
                Ok(RStr::Owned(out))
            }
            Len::Encoded(e) => Err(self.error(at, format!("unknown string encoding {e}"))),
        }
    }

    pub fn skip_string(&mut self) -> Result<()> {
        let at = self.pos;
        match self.len_or_encoding()? {
            Len::Plain(_) => {
                self.pos = at;
                let n = self.byte_len()?;
                self.take(n)?;
            }
            Len::Encoded(ENC_INT8) => drop(self.take(1)?),
            Len::Encoded(ENC_INT16) => drop(self.take(2)?),
            Len::Encoded(ENC_INT32) => drop(self.take(4)?),
            Len::Encoded(ENC_LZF) => {
                let (clen, _) = self.lzf_lengths()?;
                self.take(clen)?;
            }
            Len::Encoded(e) => return Err(self.error(at, format!("unknown string encoding {e}"))),
        }
        Ok(())
    }

    /// A score in RDB_TYPE_ZSET: a length byte (253 nan, 254 +inf, 255 -inf) and ASCII.
    fn text_double(&mut self) -> Result<f64> {
        let at = self.pos;
        match self.u8()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let text = self.take(n as usize)?;
                parse_score(text).ok_or_else(|| self.error(at, "score is not a number"))
            }
        }
    }

    fn skip_text_double(&mut self) -> Result<()> {
        let n = self.u8()?;
        if n < 253 {
            self.take(n as usize)?;
        }
        Ok(())
    }

    fn binary_double(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    /// A packed blob (ziplist, listpack...), with errors placed at its start.
    fn blob(&mut self) -> Result<(usize, Cow<'a, [u8]>)> {
        let at = self.pos;
        Ok((at, self.string()?.into_cow()))
    }

    // -----------------------------------------------------------------------------------------
    // Values

    /// A value of type `t`, built under `limits`; None for an empty collection (skipped by
    /// loaders, as Redis skips them).
    pub fn value(&mut self, t: u8, limits: &Limits) -> Result<Option<Value>> {
        let at = self.pos;
        let value = match t {
            kind::STRING => Value::Str(string_value(self.string()?)),
            kind::LIST | kind::LIST_ZIPLIST | kind::LIST_QUICKLIST | kind::LIST_QUICKLIST_2 => {
                Value::List(self.list(t, limits.list_fill)?)
            }
            kind::SET | kind::SET_INTSET | kind::SET_LISTPACK => match self.set(t, limits.set_max_intset)? {
                Some(s) => Value::Set(s),
                None => return Ok(None),
            },
            kind::ZSET | kind::ZSET_2 | kind::ZSET_ZIPLIST | kind::ZSET_LISTPACK => {
                Value::ZSet(Box::new(self.zset(t, limits.zset)?))
            }
            kind::HASH | kind::HASH_ZIPMAP | kind::HASH_ZIPLIST | kind::HASH_LISTPACK => {
                Value::Hash(self.hash(t, limits.hash)?)
            }
            _ => return Err(self.unsupported(t, at)),
        };
        let empty = match &value {
            Value::Str(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
        };
        Ok((!empty).then_some(value))
    }

    /// Moves past a value of type `t` without building it (a key another shard owns).
    pub fn skip_value(&mut self, t: u8) -> Result<()> {
        let at = self.pos;
        match t {
            kind::STRING
            | kind::HASH_ZIPMAP
            | kind::LIST_ZIPLIST
            | kind::SET_INTSET
            | kind::ZSET_ZIPLIST
            | kind::HASH_ZIPLIST
            | kind::HASH_LISTPACK
            | kind::ZSET_LISTPACK
            | kind::SET_LISTPACK => self.skip_string(),
            kind::LIST | kind::SET | kind::LIST_QUICKLIST => {
                let n = self.length()?;
                self.skip_strings(n)
            }
            kind::HASH => {
                let n = self.length()?;
                self.skip_strings(n.saturating_mul(2))
            }
            kind::ZSET | kind::ZSET_2 => {
                for _ in 0..self.length()? {
                    self.skip_string()?;
                    if t == kind::ZSET {
                        self.skip_text_double()?;
                    } else {
                        self.take(8)?;
                    }
                }
                Ok(())
            }
            kind::LIST_QUICKLIST_2 => {
                for _ in 0..self.length()? {
                    self.length()?;
                    self.skip_string()?;
                }
                Ok(())
            }
            _ => Err(self.unsupported(t, at)),
        }
    }

    fn skip_strings(&mut self, n: u64) -> Result<()> {
        for _ in 0..n {
            self.skip_string()?;
        }
        Ok(())
    }

    /// The error for streams and module values (shardis has neither).
    fn unsupported(&mut self, t: u8, at: usize) -> Error {
        match t {
            kind::STREAM_LISTPACKS | kind::STREAM_LISTPACKS_2 | kind::STREAM_LISTPACKS_3 => {
                self.error(at, format!("holds a stream (RDB type {t}), which shardis does not support yet"))
            }
            kind::MODULE_PRE_GA | kind::MODULE_2 => {
                let module = self.length().map(module_name).unwrap_or_else(|_| "?".into());
                self.error(
                    at,
                    format!("holds a value of module '{module}' (RDB type {t}); shardis has no modules"),
                )
            }
            _ => self.error(at, format!("unknown value type {t}")),
        }
    }

    /// The error for module auxiliary data (opcode 0xF7).
    pub fn module_aux_error(&mut self, at: usize) -> Error {
        let module = self.length().map(module_name).unwrap_or_else(|_| "?".into());
        self.error(at, format!("the file holds auxiliary data of module '{module}'; shardis has no modules"))
    }

    fn list(&mut self, t: u8, fill: i64) -> Result<List> {
        let mut list = List::new();
        let mut push = |e: Elem<'_>| -> PackedResult {
            let mut tmp = [0u8; 24];
            list.push(End::Tail, e.bytes(&mut tmp), fill);
            Ok(())
        };
        match t {
            kind::LIST => {
                for _ in 0..self.length()? {
                    self.string()?.with_bytes(|b| push(Elem::Str(b))).map_err(|e| self.error(self.pos, e))?;
                }
            }
            kind::LIST_ZIPLIST => {
                self.packed(Packing::Ziplist, &mut push)?;
            }
            kind::LIST_QUICKLIST => {
                for _ in 0..self.length()? {
                    self.packed(Packing::Ziplist, &mut push)?;
                }
            }
            _ => {
                for _ in 0..self.length()? {
                    let at = self.pos;
                    match self.length()? {
                        CONTAINER_PLAIN => self
                            .string()?
                            .with_bytes(|b| push(Elem::Str(b)))
                            .map_err(|e| self.error(at, e))?,
                        CONTAINER_PACKED => {
                            self.packed(Packing::Listpack, &mut push)?;
                        }
                        c => return Err(self.error(at, format!("unknown quicklist container {c}"))),
                    }
                }
            }
        }
        Ok(list)
    }

    /// Walks the entries of a ziplist or listpack stored as a string.
    fn packed(&mut self, how: Packing, f: &mut dyn FnMut(Elem<'_>) -> PackedResult) -> Result<usize> {
        let (at, blob) = self.blob()?;
        walk(how, &blob, f).map_err(|e| self.error(at, e))
    }

    /// Walks the pairs of a ziplist, listpack or zipmap stored as a string.
    fn packed_pairs(
        &mut self,
        how: Packing,
        f: &mut dyn FnMut(Elem<'_>, Elem<'_>) -> PackedResult,
    ) -> Result<()> {
        let (at, blob) = self.blob()?;
        let walked = if how == Packing::Zipmap {
            packed::zipmap(&blob, |k, v| f(Elem::Str(k), Elem::Str(v))).map(|_| ())
        } else {
            let mut first: Option<Elem<'_>> = None;
            walk(how, &blob, &mut |e| match first.take() {
                None => {
                    first = Some(e);
                    Ok(())
                }
                Some(k) => f(k, e),
            })
            .and_then(|_| if first.is_some() { Err("odd number of entries in a pair list") } else { Ok(()) })
        };
        walked.map_err(|e| self.error(at, e))
    }

    fn set(&mut self, t: u8, max_intset: u64) -> Result<Option<Set>> {
        let mut set: Option<Set> = None;
        let mut add = |e: Elem<'_>| {
            let mut tmp = [0u8; 24];
            let m = e.bytes(&mut tmp);
            let s = set.get_or_insert_with(|| Set::for_member(m));
            if s.add(m, max_intset) { Ok(()) } else { Err("duplicate set member") }
        };
        match t {
            kind::SET => {
                for _ in 0..self.length()? {
                    let at = self.pos;
                    self.string()?.with_bytes(|b| add(Elem::Str(b))).map_err(|e| self.error(at, e))?;
                }
            }
            kind::SET_INTSET => {
                let (at, blob) = self.blob()?;
                packed::intset(&blob, |v| add(Elem::Int(v))).map_err(|e| self.error(at, e))?;
            }
            _ => {
                self.packed(Packing::Listpack, &mut add)?;
            }
        }
        Ok(set)
    }

    fn zset(&mut self, t: u8, mut limits: crate::types::zset::Limits) -> Result<ZSet> {
        if matches!(t, kind::ZSET_ZIPLIST | kind::ZSET_LISTPACK) {
            // A packed sorted set stays packed unless it has too many members, long ones
            // included: Redis checks only the count when it loads one.
            limits.max_value = u64::MAX;
        }
        let mut z = ZSet::default();
        let mut add = |member: &[u8], score: f64| {
            if score.is_nan() {
                return Err("sorted set score is NaN");
            }
            if z.score(member).is_some() {
                return Err("duplicate sorted set member");
            }
            z.insert_new(member, score, limits);
            Ok(())
        };
        match t {
            kind::ZSET | kind::ZSET_2 => {
                for _ in 0..self.length()? {
                    let at = self.pos;
                    let member = self.string()?;
                    let score = if t == kind::ZSET { self.text_double()? } else { self.binary_double()? };
                    member.with_bytes(|m| add(m, score)).map_err(|e| self.error(at, e))?;
                }
            }
            _ => {
                let how = if t == kind::ZSET_ZIPLIST { Packing::Ziplist } else { Packing::Listpack };
                self.packed_pairs(how, &mut |m, s| {
                    let score = match s {
                        Elem::Int(i) => i as f64,
                        Elem::Str(text) => parse_score(text).ok_or("sorted set score is not a number")?,
                    };
                    let mut tmp = [0u8; 24];
                    add(m.bytes(&mut tmp), score)
                })?;
            }
        }
        Ok(z)
    }

    fn hash(&mut self, t: u8, mut limits: crate::types::hash::Limits) -> Result<Hash> {
        if matches!(t, kind::HASH_ZIPLIST | kind::HASH_LISTPACK) {
            // As for sorted sets: Redis keeps a packed hash packed whatever its value lengths
            // (a zipmap, converted on load, is checked for both).
            limits.value = u64::MAX;
        }
        let mut h = Hash::default();
        let mut add = |f: Elem<'_>, v: Elem<'_>| {
            let (mut ft, mut vt) = ([0u8; 24], [0u8; 24]);
            if h.set(f.bytes(&mut ft), v.bytes(&mut vt), limits) {
                Ok(())
            } else {
                Err("duplicate hash field")
            }
        };
        match t {
            kind::HASH => {
                for _ in 0..self.length()? {
                    let at = self.pos;
                    let field = self.string()?;
                    let value = self.string()?;
                    field
                        .with_bytes(|f| value.with_bytes(|v| add(Elem::Str(f), Elem::Str(v))))
                        .map_err(|e| self.error(at, e))?;
                }
            }
            kind::HASH_ZIPMAP => self.packed_pairs(Packing::Zipmap, &mut add)?,
            kind::HASH_ZIPLIST => self.packed_pairs(Packing::Ziplist, &mut add)?,
            _ => self.packed_pairs(Packing::Listpack, &mut add)?,
        }
        Ok(h)
    }
}

type PackedResult = packed::Result<()>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Packing {
    Ziplist,
    Listpack,
    Zipmap,
}

fn walk<'b>(
    how: Packing,
    blob: &'b [u8],
    f: &mut dyn FnMut(Elem<'b>) -> PackedResult,
) -> packed::Result<usize> {
    match how {
        Packing::Ziplist => packed::ziplist(blob, f),
        _ => packed::listpack(blob, f),
    }
}

/// A string value as SET would store it (an integer, embedded or raw), reusing a
/// decompressed buffer when it is stored raw anyway.
fn string_value(s: RStr<'_>) -> Str {
    match s {
        RStr::Int(i) => Str::Int(i),
        RStr::Owned(v) if v.len() > EMBSTR_MAX_BYTES => Str::Raw(v),
        other => other.with_bytes(Str::from_bytes),
    }
}

/// A score written as text (`%.17g`, or inf/-inf as Redis writes them).
fn parse_score(text: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(text).ok()?;
    let v: f64 = match s {
        "inf" | "+inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        _ => s.parse().ok()?,
    };
    Some(v)
}

/// A module type's name from its 64-bit id: nine characters of 6 bits, then a 10-bit version.
fn module_name(id: u64) -> String {
    const CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut name = [0u8; 9];
    let mut bits = id >> 10;
    for c in name.iter_mut().rev() {
        *c = CHARSET[(bits & 63) as usize];
        bits >>= 6;
    }
    String::from_utf8_lossy(&name).into_owned()
}
