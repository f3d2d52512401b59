//! Writing RDB data: lengths, strings (as integers or LZF-compressed when Redis would), and
//! shardis values in the types Redis 7.0 reads back into its usual encodings.

use super::packed;
use super::{kind, op};
use crate::persistence::lzf::Lzf;
use crate::shard::{Entry, Str, Value};
use crate::types::hash::Hash;
use crate::types::list::List;
use crate::types::listpack::Elem;
use crate::types::set::Set;
use crate::types::zset::ZSet;

/// Strings this short are never compressed (LZF cannot win on them; Redis's bound).
const COMPRESS_MIN_BYTES: usize = 21;
/// A quicklist node holding a listpack.
const CONTAINER_PACKED: u64 = 2;

/// An RDB writer into a growing buffer, with scratch space reused across values.
pub struct Encoder {
    pub buf: Vec<u8>,
    compress: bool,
    lzf: Option<Box<Lzf>>,
    /// Compressed output, and packed blobs being built (reused, never shrunk).
    compressed: Vec<u8>,
    blob: Vec<u8>,
}

/// The type byte a value is written with.
pub fn value_type(v: &Value) -> u8 {
    match v {
        Value::Str(_) => kind::STRING,
        Value::List(_) => kind::LIST_QUICKLIST_2,
        Value::Set(Set::Ints(_)) => kind::SET_INTSET,
        Value::Set(Set::Table(_)) => kind::SET,
        Value::Hash(_) => kind::HASH,
        Value::ZSet(_) => kind::ZSET_2,
    }
}

/// The 1, 2 or 4-byte integer encoding of `v`, if it fits in 32 bits.
fn int_encoding(v: i64, out: &mut [u8; 5]) -> Option<usize> {
    if let Ok(b) = i8::try_from(v) {
        out[0] = 0xC0;
        out[1] = b as u8;
        Some(2)
    } else if let Ok(h) = i16::try_from(v) {
        out[0] = 0xC1;
        out[1..3].copy_from_slice(&h.to_le_bytes());
        Some(3)
    } else if let Ok(w) = i32::try_from(v) {
        out[0] = 0xC2;
        out[1..5].copy_from_slice(&w.to_le_bytes());
        Some(5)
    } else {
        None
    }
}

impl Encoder {
    /// `compress`: LZF-compress long strings (`rdbcompression`).
    pub fn new(compress: bool) -> Encoder {
        Encoder { buf: Vec::new(), compress, lzf: None, compressed: Vec::new(), blob: Vec::new() }
    }

    pub fn length(&mut self, n: u64) {
        if n < 1 << 6 {
            self.buf.push(n as u8);
        } else if n < 1 << 14 {
            self.buf.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
        } else if n <= u32::MAX as u64 {
            self.buf.push(0x80);
            self.buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.buf.push(0x81);
            self.buf.extend_from_slice(&n.to_be_bytes());
        }
    }

    /// A string as Redis's `rdbSaveRawString` writes it: as an integer when it is the
    /// canonical form of one that fits in 32 bits, LZF-compressed when longer than 20 bytes
    /// and at least 4 bytes shorter compressed, else as it is.
    pub fn string(&mut self, s: &[u8]) {
        if s.len() <= 11
            && let Some(v) = crate::resp::parse::parse_i64(s)
        {
            let mut enc = [0u8; 5];
            if let Some(n) = int_encoding(v, &mut enc) {
                self.buf.extend_from_slice(&enc[..n]);
                return;
            }
        }
        if self.compress && s.len() >= COMPRESS_MIN_BYTES && self.try_lzf(s) {
            return;
        }
        self.length(s.len() as u64);
        self.buf.extend_from_slice(s);
    }

    fn try_lzf(&mut self, s: &[u8]) -> bool {
        let lzf = self.lzf.get_or_insert_with(Box::default);
        if !lzf.compress(s, &mut self.compressed, s.len() - 4) {
            return false;
        }
        self.buf.push(0xC3);
        let c = std::mem::take(&mut self.compressed);
        self.length(c.len() as u64);
        self.length(s.len() as u64);
        self.buf.extend_from_slice(&c);
        self.compressed = c;
        true
    }

    /// An integer string value (Redis's `rdbSaveLongLongAsStringObject`).
    pub fn int_string(&mut self, v: i64) {
        let mut enc = [0u8; 5];
        match int_encoding(v, &mut enc) {
            Some(n) => self.buf.extend_from_slice(&enc[..n]),
            None => {
                let mut tmp = [0u8; 24];
                let n = crate::resp::write::format_i64(&mut tmp, v);
                self.length(n as u64);
                self.buf.extend_from_slice(&tmp[..n]);
            }
        }
    }

    fn elem(&mut self, e: Elem<'_>) {
        match e {
            Elem::Int(i) => self.int_string(i),
            Elem::Str(s) => self.string(s),
        }
    }

    pub fn aux(&mut self, key: &[u8], value: &[u8]) {
        self.buf.push(op::AUX);
        self.string(key);
        self.string(value);
    }

    pub fn aux_int(&mut self, key: &[u8], value: i64) {
        self.buf.push(op::AUX);
        self.string(key);
        self.int_string(value);
    }

    /// A key with its expiry, type, name and value.
    pub fn key_value(&mut self, key: &[u8], entry: &Entry) {
        if entry.expire_at_ms != 0 {
            self.buf.push(op::EXPIRETIME_MS);
            self.buf.extend_from_slice(&entry.expire_at_ms.to_le_bytes());
        }
        self.buf.push(value_type(&entry.value));
        self.string(key);
        self.value(&entry.value);
    }

    /// A value in the type `value_type` names (without the type byte).
    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Str(Str::Int(i)) => self.int_string(*i),
            Value::Str(s) => s.with_bytes(|b| self.string(b)),
            Value::List(l) => self.list(l),
            Value::Set(s) => self.set(s),
            Value::Hash(h) => self.hash(h),
            Value::ZSet(z) => self.zset(z),
        }
    }

    /// A quicklist of listpacks: each node's entries are already listpack entries.
    fn list(&mut self, l: &List) {
        let nodes = l.nodes();
        self.length(nodes.len() as u64);
        let mut blob = std::mem::take(&mut self.blob);
        for node in nodes {
            self.length(CONTAINER_PACKED);
            packed::listpack_blob(node.encoded(), node.len(), &mut blob);
            self.string(&blob);
        }
        self.blob = blob;
    }

    fn set(&mut self, s: &Set) {
        match s {
            Set::Ints(ints) => {
                let mut blob = std::mem::take(&mut self.blob);
                packed::intset_blob(ints.len(), |i| ints.get(i), &mut blob);
                self.string(&blob);
                self.blob = blob;
            }
            Set::Table(_) => {
                self.length(s.len() as u64);
                s.for_each_member(|m| match m {
                    crate::types::set::Member::Int(i) => self.int_string(i),
                    crate::types::set::Member::Bytes(b) => self.string(b),
                });
            }
        }
    }

    fn hash(&mut self, h: &Hash) {
        self.length(h.len() as u64);
        match h.as_listpack() {
            Some(lp) => {
                for e in lp.iter() {
                    self.elem(e);
                }
            }
            None => h.for_each(|f, v| {
                self.string(f);
                self.string(v);
            }),
        }
    }

    fn zset(&mut self, z: &ZSet) {
        self.length(z.len() as u64);
        z.for_each(|m, score| {
            self.string(m);
            self.buf.extend_from_slice(&score.to_le_bytes());
        });
    }
}
