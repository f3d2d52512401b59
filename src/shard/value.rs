//! What a key holds. Strings keep Redis's three encodings because OBJECT ENCODING shows them
//! and because an integer stored as `i64` is both smaller and faster for INCR.

/// Strings up to this length use the compact `embstr` encoding (Redis's OBJ_ENCODING_EMBSTR_SIZE_LIMIT).
use crate::types::{hash::Hash, list::List, set::Set, zset::ZSet};

pub const EMBSTR_MAX_BYTES: usize = 44;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(Str),
    // Small lists, hashes and sets live inside the entry (each is at most 24 bytes, with its
    // elements in one allocation), so a small collection costs one allocation as in Redis.
    List(List),
    Hash(Hash),
    Set(Set),
    ZSet(Box<ZSet>),
}

/// Strings up to this length live inside the entry itself: no allocation, and no cache miss
/// to reach them (they show as `embstr`, as Redis's embedded strings).
pub const INLINE_MAX_BYTES: usize = 22;

#[derive(Debug, Clone, PartialEq)]
pub enum Str {
    Int(i64),
    Inline { len: u8, bytes: [u8; INLINE_MAX_BYTES] },
    Emb(Box<[u8]>),
    Raw(Vec<u8>),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(Str::Int(_)) => "int",
            Value::Str(Str::Inline { .. } | Str::Emb(_)) => "embstr",
            Value::Str(Str::Raw(_)) => "raw",
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }

    /// A bytes value the way SET stores it: integers that round-trip become `int`.
    pub fn from_bytes(b: &[u8]) -> Value {
        Value::Str(Str::from_bytes(b))
    }

    /// Bytes of heap memory the value uses, for INFO and MEMORY USAGE estimates.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::Str(Str::Int(_) | Str::Inline { .. }) => 0,
            Value::Str(Str::Emb(b)) => b.len(),
            Value::Str(Str::Raw(v)) => v.capacity(),
            Value::List(l) => l.heap_bytes(),
            Value::Hash(h) => h.heap_bytes(),
            Value::Set(s) => s.heap_bytes(),
            Value::ZSet(z) => std::mem::size_of::<ZSet>() + z.heap_bytes(),
        }
    }
}

impl Str {
    pub fn from_bytes(b: &[u8]) -> Str {
        if b.len() <= 20
            && let Some(i) = crate::resp::parse::parse_i64(b)
        {
            return Str::Int(i);
        }
        Str::embedded(b)
    }

    /// A non-integer string as Redis's `createStringObject` stores it: embedded when short
    /// (inline when it fits), raw otherwise.
    pub fn embedded(b: &[u8]) -> Str {
        if b.len() <= INLINE_MAX_BYTES {
            let mut bytes = [0u8; INLINE_MAX_BYTES];
            bytes[..b.len()].copy_from_slice(b);
            Str::Inline { len: b.len() as u8, bytes }
        } else if b.len() <= EMBSTR_MAX_BYTES {
            Str::Emb(b.into())
        } else {
            Str::Raw(b.to_vec())
        }
    }

    /// Overwrites the string with `b` in its own allocation when a fresh `from_bytes(b)` would
    /// take the same form and size (a cache's SET of a same-sized value): no allocation and no
    /// free. Raw strings qualify only without spare capacity (APPEND leaves some), which a
    /// fresh copy would not keep. False, and nothing changed, otherwise.
    pub fn overwrite(&mut self, b: &[u8]) -> bool {
        match self {
            // 23-44 bytes: never an integer (at most 20 characters), always embedded.
            Str::Emb(old) if old.len() == b.len() => old.copy_from_slice(b),
            Str::Raw(old) if old.len() == b.len() && old.capacity() == b.len() => old.copy_from_slice(b),
            _ => return false,
        }
        true
    }

    /// Calls `f` with the string's bytes; integers are formatted on the stack.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Str::Int(i) => {
                let mut tmp = [0u8; 24];
                let n = crate::resp::write::format_i64(&mut tmp, *i);
                f(&tmp[..n])
            }
            Str::Inline { len, bytes } => f(&bytes[..*len as usize]),
            Str::Emb(b) => f(b),
            Str::Raw(v) => f(v),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }

    pub fn len(&self) -> usize {
        match self {
            Str::Int(i) => {
                let mut tmp = [0u8; 24];
                crate::resp::write::format_i64(&mut tmp, *i)
            }
            Str::Inline { len, .. } => *len as usize,
            Str::Emb(b) => b.len(),
            Str::Raw(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Turns the string into a growable buffer for APPEND/SETRANGE (which Redis stores raw).
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, Str::Raw(_)) {
            *self = Str::Raw(self.to_vec());
        }
        match self {
            Str::Raw(v) => v,
            _ => unreachable!("just made raw"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_strings_cost_no_space() {
        assert!(std::mem::size_of::<Str>() <= 32, "{}", std::mem::size_of::<Str>());
        let s = Str::from_bytes(b"hello");
        assert!(matches!(s, Str::Inline { len: 5, .. }));
        assert_eq!(s.to_vec(), b"hello");
        assert_eq!(Value::Str(s).encoding(), "embstr");
        assert!(matches!(Str::from_bytes(&[b'x'; 23]), Str::Emb(_)));
        assert!(matches!(Str::from_bytes(&[b'x'; 45]), Str::Raw(_)));
    }

    /// In place exactly when a fresh string would have the same form and size.
    #[test]
    fn overwrite_in_place_only_when_a_fresh_copy_would_match() {
        let same = |old: &[u8], new: &[u8]| {
            let mut s = Str::from_bytes(old);
            let done = s.overwrite(new);
            if done {
                assert_eq!(s, Str::from_bytes(new), "in place must equal a fresh copy");
            } else {
                assert_eq!(s, Str::from_bytes(old), "a refusal changes nothing");
            }
            done
        };
        assert!(same(&[b'a'; 32], &[b'b'; 32]));
        assert!(same(&[b'a'; 100], &[b'b'; 100]));
        assert!(!same(&[b'a'; 32], &[b'b'; 33]));
        assert!(!same(b"hello", b"world"), "inline strings are rewritten whole");
        assert!(!same(b"12345", b"54321"), "integers too");
        let mut appended = Str::Raw(Vec::with_capacity(200));
        if let Str::Raw(v) = &mut appended {
            v.extend_from_slice(&[b'a'; 100]);
        }
        assert!(!appended.overwrite(&[b'b'; 100]), "spare capacity is not kept");
    }

    /// A small collection lives inside its entry: no box between the key and its elements.
    #[test]
    fn collections_fit_in_the_entry() {
        use std::mem::size_of;
        assert!(size_of::<List>() <= 24, "List {}", size_of::<List>());
        assert!(size_of::<Hash>() <= 24, "Hash {}", size_of::<Hash>());
        assert!(size_of::<Set>() <= 24, "Set {}", size_of::<Set>());
        assert_eq!(size_of::<Value>(), 32);
        assert_eq!(size_of::<crate::shard::Entry>(), 48);
    }
}
