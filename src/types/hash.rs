//! A hash: a listpack of field/value pairs while small, a hashtable past `hash-max-listpack-*`.
//!
//! The listpack keeps insertion order (HGETALL, HSCAN and HRANDFIELD show it, as in Redis) and
//! is searched linearly, which is fast at its bounded size. A hash converts to a `Dict` when a
//! write would give it more than `hash-max-listpack-entries` fields or a field or value longer
//! than `hash-max-listpack-value` bytes; it never converts back, as in Redis. The limits are
//! the caller's (read from the config on each write).

use super::dict::Dict;
use super::listpack::{Elem, ForwardListpack, as_int};

/// Values up to this length live inside the dict node (as the dict's own keys do).
const INLINE_VALUE_BYTES: usize = 22;

/// A hashtable value: inline when short, else on the heap.
#[derive(Clone)]
pub enum HVal {
    Inline { len: u8, bytes: [u8; INLINE_VALUE_BYTES] },
    Heap(Box<[u8]>),
}

impl HVal {
    pub fn new(v: &[u8]) -> HVal {
        if v.len() <= INLINE_VALUE_BYTES {
            let mut bytes = [0u8; INLINE_VALUE_BYTES];
            bytes[..v.len()].copy_from_slice(v);
            HVal::Inline { len: v.len() as u8, bytes }
        } else {
            HVal::Heap(v.into())
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            HVal::Inline { len, bytes } => &bytes[..*len as usize],
            HVal::Heap(b) => b,
        }
    }
}

impl std::fmt::Debug for HVal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// The limits a write checks before it may keep the listpack encoding.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub entries: u64,
    pub value: u64,
}

#[derive(Debug)]
pub enum Hash {
    Listpack(ForwardListpack),
    Table(Box<Dict<HVal>>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Listpack(ForwardListpack::new())
    }
}

impl Clone for Hash {
    fn clone(&self) -> Self {
        match self {
            Hash::Listpack(lp) => Hash::Listpack(lp.clone()),
            Hash::Table(d) => {
                let mut copy = Dict::new();
                for (k, v) in d.iter() {
                    copy.insert_slice(k, v.clone());
                }
                Hash::Table(Box::new(copy))
            }
        }
    }
}

/// Equal when they hold the same fields and values (order and encoding aside), which is what
/// WATCH needs to know.
impl PartialEq for Hash {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.encoding() == other.encoding() && {
            let mut all = true;
            self.for_each(|f, v| all &= other.with_value(f, |o| o == Some(v)));
            all
        }
    }
}

/// A listpack hash's field at `off` and the offset of its value.
fn lp_find(lp: &ForwardListpack, field: &[u8]) -> Option<usize> {
    let f_int = as_int(field);
    let mut off = 0;
    while off < lp.bytes() {
        let (e, value_off) = lp.get(off);
        if e.eq_bytes(field, f_int) {
            return Some(off);
        }
        off = lp.next(value_off);
    }
    None
}

impl Hash {
    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(lp) => lp.len() / 2,
            Hash::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// Bytes of heap memory the value uses.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Hash::Listpack(lp) => lp.heap_bytes(),
            Hash::Table(d) => {
                let dict = std::mem::size_of::<Dict<HVal>>();
                let heap_values: usize = d
                    .iter()
                    .map(|(_, v)| match v {
                        HVal::Heap(b) => b.len(),
                        HVal::Inline { .. } => 0,
                    })
                    .sum();
                dict + d.mem_usage_bytes() + heap_values
            }
        }
    }

    /// Calls `f` with the value of `field` (None if absent).
    pub fn with_value<R>(&self, field: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> R {
        match self {
            Hash::Listpack(lp) => match lp_find(lp, field) {
                Some(off) => {
                    let mut tmp = [0u8; 24];
                    let v = lp.get(lp.next(off)).0;
                    f(Some(v.bytes(&mut tmp)))
                }
                None => f(None),
            },
            Hash::Table(d) => f(d.get(field).map(HVal::as_bytes)),
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<Vec<u8>> {
        self.with_value(field, |v| v.map(<[u8]>::to_vec))
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(lp) => lp_find(lp, field).is_some(),
            Hash::Table(d) => d.contains_key(field),
        }
    }

    /// Moves a listpack hash to a hashtable.
    fn convert(&mut self) {
        let Hash::Listpack(lp) = self else { return };
        let mut d = Dict::new();
        let mut it = lp.iter();
        let (mut ft, mut vt) = ([0u8; 24], [0u8; 24]);
        while let (Some(f), Some(v)) = (it.next(), it.next()) {
            d.insert_slice(f.bytes(&mut ft), HVal::new(v.bytes(&mut vt)));
        }
        *self = Hash::Table(Box::new(d));
    }

    /// Converts to a hashtable first if adding `field`/`value` (and `new_fields` more fields)
    /// would break the listpack limits. Redis checks lengths before counts.
    pub fn prepare_write(&mut self, field: &[u8], value: &[u8], limits: Limits) {
        if let Hash::Listpack(_) = self
            && (field.len() as u64 > limits.value || value.len() as u64 > limits.value)
        {
            self.convert();
        }
    }

    /// Sets `field` to `value`; returns true if the field is new. Converts the encoding when
    /// the limits say so.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: Limits) -> bool {
        self.prepare_write(field, value, limits);
        let new = match self {
            Hash::Listpack(lp) => match lp_find(lp, field) {
                Some(off) => {
                    let voff = lp.next(off);
                    lp.replace(voff, value);
                    false
                }
                None => {
                    lp.push_back(field);
                    lp.push_back(value);
                    true
                }
            },
            Hash::Table(d) => match d.get_mut(field) {
                Some(v) => {
                    *v = HVal::new(value);
                    false
                }
                None => {
                    d.insert_slice(field, HVal::new(value));
                    true
                }
            },
        };
        if new && matches!(self, Hash::Listpack(_)) && self.len() as u64 > limits.entries {
            self.convert();
        }
        new
    }

    /// Sets the `n` arguments `arg(0), arg(1), ...` (field, value, field, value...) on an empty
    /// listpack hash with one allocation of the final size, which is how most small hashes are
    /// made. Returns false, having done nothing, when that does not apply: the hash is not an
    /// empty listpack, the pairs break the limits, or a field repeats (the caller then sets
    /// them one by one).
    pub fn fill_empty<'a>(&mut self, n: usize, arg: impl Fn(usize) -> &'a [u8], limits: Limits) -> bool {
        /// Pairs checked for repeats (quadratic); more go the general way.
        const MAX_PAIRS: usize = 32;
        let Hash::Listpack(lp) = self else { return false };
        let pairs = n / 2;
        if !lp.is_empty() || pairs > MAX_PAIRS || pairs as u64 > limits.entries {
            return false;
        }
        if (0..n).any(|i| arg(i).len() as u64 > limits.value) {
            return false;
        }
        let repeats = (0..pairs).any(|i| (0..i).any(|j| arg(2 * i) == arg(2 * j)));
        if repeats {
            return false;
        }
        lp.extend_back((0..n).map(&arg));
        true
    }

    /// Removes `field`; returns whether it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(lp) => match lp_find(lp, field) {
                Some(off) => {
                    lp.delete_range(off, 2);
                    true
                }
                None => false,
            },
            Hash::Table(d) => d.remove_value(field).is_some(),
        }
    }

    /// Every field and value, in the encoding's order.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &[u8])) {
        match self {
            Hash::Listpack(lp) => {
                let mut it = lp.iter();
                let (mut ft, mut vt) = ([0u8; 24], [0u8; 24]);
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    f(k.bytes(&mut ft), v.bytes(&mut vt));
                }
            }
            Hash::Table(d) => {
                for (k, v) in d.iter() {
                    f(k, v.as_bytes());
                }
            }
        }
    }

    /// The listpack, if that is the encoding (for callers that walk pairs by position).
    pub fn as_listpack(&self) -> Option<&ForwardListpack> {
        match self {
            Hash::Listpack(lp) => Some(lp),
            Hash::Table(_) => None,
        }
    }

    pub fn as_table(&self) -> Option<&Dict<HVal>> {
        match self {
            Hash::Listpack(_) => None,
            Hash::Table(d) => Some(d),
        }
    }

    /// The pair at position `i` of a listpack hash.
    pub fn lp_pair(lp: &ForwardListpack, i: usize) -> (Elem<'_>, Elem<'_>) {
        let off = lp.seek(i * 2);
        let (f, voff) = lp.get(off);
        (f, lp.get(voff).0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits { entries: 4, value: 10 };

    #[test]
    fn fill_empty_matches_set_or_declines() {
        let args: [&[u8]; 6] = [b"f", b"1", b"17", b"x", b"g", b"hello"];
        let mut filled = Hash::default();
        assert!(filled.fill_empty(6, |i| args[i], SMALL));
        let mut set = Hash::default();
        for p in args.chunks(2) {
            set.set(p[0], p[1], SMALL);
        }
        assert_eq!(filled.as_listpack(), set.as_listpack(), "same bytes, same order");
        assert!(!filled.fill_empty(2, |i| args[i], SMALL), "not empty");
        let repeat: [&[u8]; 4] = [b"f", b"1", b"f", b"2"];
        let long: [&[u8]; 2] = [b"f", b"0123456789a"];
        let many: Vec<Vec<u8>> = (0..10).map(|i| format!("{i}").into_bytes()).collect();
        for (n, arg) in [(4, &repeat[..]), (2, &long[..])] {
            let mut h = Hash::default();
            assert!(!h.fill_empty(n, |i| arg[i], SMALL));
            assert!(h.is_empty());
        }
        let mut h = Hash::default();
        assert!(!h.fill_empty(10, |i| &many[i], SMALL), "5 pairs pass the 4-entry limit");
    }

    #[test]
    fn set_get_remove_in_both_encodings() {
        let mut h = Hash::default();
        assert!(h.set(b"a", b"1", SMALL));
        assert!(h.set(b"17", b"x", SMALL));
        assert!(!h.set(b"a", b"2", SMALL));
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(h.get(b"a").unwrap(), b"2");
        assert_eq!(h.get(b"17").unwrap(), b"x");
        assert!(h.get(b"017").is_none());
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        assert_eq!(h.len(), 1);
        for i in 0..4 {
            h.set(format!("f{i}").as_bytes(), b"v", SMALL);
        }
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);
        assert_eq!(h.get(b"17").unwrap(), b"x");
        let copy = h.clone();
        assert_eq!(copy, h);
        h.remove(b"f0");
        assert_ne!(copy, h);
        while let Some(f) = {
            let mut first = None;
            h.for_each(|f, _| {
                first.get_or_insert_with(|| f.to_vec());
            });
            first
        } {
            h.remove(&f);
        }
        assert!(h.is_empty());
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn long_values_convert() {
        let mut h = Hash::default();
        h.set(b"a", b"0123456789", SMALL);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"a", b"0123456789x", SMALL);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::default();
        h.set(b"0123456789x", b"", SMALL);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"0123456789x").unwrap(), b"");
    }

    #[test]
    fn values_inline_when_short() {
        assert!(matches!(HVal::new(&[b'x'; 22]), HVal::Inline { .. }));
        assert!(matches!(HVal::new(&[b'x'; 23]), HVal::Heap(_)));
        assert!(std::mem::size_of::<HVal>() <= 24);
        assert_eq!(std::mem::size_of::<Hash>(), 16);
    }
}
