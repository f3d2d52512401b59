//! A set: an `intset` of sorted integers while every member is an integer and there are at
//! most `set-max-intset-entries` of them, else a hashtable (our `Dict`, so SSCAN cursors behave
//! like Redis's). Redis 7.0, the version we match, has no listpack encoding for sets, so
//! `set-max-listpack-*` are accepted but unused. A set never converts back to an intset.

use super::dict::Dict;
use super::intset::IntSet;
use crate::resp::parse::parse_i64;

pub enum Set {
    Ints(IntSet),
    /// Boxed so that a set (24 bytes) lives inside the key's entry.
    Table(Box<Dict<()>>),
}

impl Default for Set {
    fn default() -> Set {
        Set::Ints(IntSet::new())
    }
}

impl std::fmt::Debug for Set {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut l = f.debug_set();
        self.for_each(|m| {
            l.entry(&String::from_utf8_lossy(m));
        });
        l.finish()
    }
}

impl Clone for Set {
    fn clone(&self) -> Set {
        match self {
            Set::Ints(i) => Set::Ints(i.clone()),
            Set::Table(d) => {
                let mut t = Dict::new();
                for (k, _) in d.iter() {
                    t.insert_slice(k, ());
                }
                Set::Table(Box::new(t))
            }
        }
    }
}

impl PartialEq for Set {
    fn eq(&self, other: &Set) -> bool {
        if self.len() != other.len() || self.encoding() != other.encoding() {
            return false;
        }
        let mut same = true;
        self.for_each(|m| same &= other.contains(m));
        same
    }
}

/// One member as the set holds it; `with_bytes` shows it as the client wrote it.
#[derive(Clone, Copy, Debug)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Member::Int(i) => {
                let mut tmp = [0u8; 24];
                let n = crate::resp::write::format_i64(&mut tmp, *i);
                f(&tmp[..n])
            }
            Member::Bytes(b) => f(b),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }
}

impl Set {
    /// An empty set in the encoding Redis's `setTypeCreate` picks for its first member.
    pub fn for_member(first: &[u8]) -> Set {
        match parse_i64(first) {
            Some(_) => Set::Ints(IntSet::new()),
            None => Set::Table(Box::default()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Ints(i) => i.len(),
            Set::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    /// Bytes of heap memory the value uses.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Set::Ints(i) => i.heap_bytes(),
            Set::Table(d) => std::mem::size_of::<Dict<()>>() + d.mem_usage_bytes(),
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Ints(i) => parse_i64(m).is_some_and(|v| i.contains(v)),
            Set::Table(d) => d.contains_key(m),
        }
    }

    /// Adds `m`, converting to a hashtable when it is not an integer or the intset would pass
    /// `max_intset` members. True if it was new.
    pub fn add(&mut self, m: &[u8], max_intset: u64) -> bool {
        if let Set::Ints(ints) = self {
            if let Some(v) = parse_i64(m) {
                if !ints.insert(v) {
                    return false;
                }
                if ints.len() as u64 > max_intset {
                    self.convert_to_table();
                }
                return true;
            }
            self.convert_to_table();
        }
        match self {
            Set::Table(d) => {
                if d.contains_key(m) {
                    return false;
                }
                d.insert_slice(m, ());
                true
            }
            Set::Ints(_) => unreachable!("converted above"),
        }
    }

    fn convert_to_table(&mut self) {
        if let Set::Ints(ints) = self {
            let mut d = Dict::new();
            let mut tmp = [0u8; 24];
            for v in ints.iter() {
                let n = crate::resp::write::format_i64(&mut tmp, v);
                d.insert_slice(&tmp[..n], ());
            }
            *self = Set::Table(Box::new(d));
        }
    }

    /// Removes `m`; true if it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(i) => parse_i64(m).is_some_and(|v| i.remove(v)),
            Set::Table(d) => d.remove_value(m).is_some(),
        }
    }

    /// Every member once, intsets in ascending order, hashtables in table order.
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        self.for_each_member(|m| m.with_bytes(&mut f));
    }

    pub fn for_each_member(&self, mut f: impl FnMut(Member)) {
        match self {
            Set::Ints(i) => i.iter().for_each(|v| f(Member::Int(v))),
            Set::Table(d) => d.iter().for_each(|(k, _)| f(Member::Bytes(k))),
        }
    }

    /// A uniformly chosen member (nearly so for hashtables, as in Redis).
    pub fn random(&self, rng: &mut u64) -> Option<Member<'_>> {
        match self {
            Set::Ints(i) if i.is_empty() => None,
            Set::Ints(i) => Some(Member::Int(i.get((xorshift(rng) % i.len() as u64) as usize))),
            Set::Table(d) => d.random_key(rng).map(Member::Bytes),
        }
    }

    /// Removes and returns a random member.
    pub fn pop_random(&mut self, rng: &mut u64) -> Option<Vec<u8>> {
        let m = self.random(rng)?.to_vec();
        self.remove(&m);
        Some(m)
    }

    /// One SSCAN step: an intset is returned whole with cursor 0, as Redis does for compact
    /// encodings; a hashtable walks Redis's reverse-binary cursor.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8])) -> u64 {
        match self {
            Set::Ints(_) => {
                self.for_each(f);
                0
            }
            Set::Table(d) => d.scan(cursor, |k, _| f(k)),
        }
    }
}

pub fn xorshift(state: &mut u64) -> u64 {
    let mut x = if *state == 0 { 0x9E37_79B9_7F4A_7C15 } else { *state };
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(s: &Set) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        s.for_each(|m| v.push(m.to_vec()));
        v
    }

    #[test]
    fn intset_until_a_string_or_too_many() {
        let mut s = Set::for_member(b"3");
        assert!(s.add(b"3", 4) && s.add(b"1", 4) && !s.add(b"1", 4));
        assert_eq!(s.encoding(), "intset");
        assert_eq!(members(&s), vec![b"1".to_vec(), b"3".to_vec()]);
        assert!(s.add(b"01", 4), "01 is not an integer as Redis parses");
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"3") && s.contains(b"01") && !s.contains(b"2"));
        let mut s = Set::for_member(b"1");
        for i in 0..4 {
            s.add(i.to_string().as_bytes(), 4);
        }
        assert_eq!(s.encoding(), "intset");
        s.add(b"9", 4);
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 5);
        assert!(s.remove(b"9") && !s.remove(b"9"));
        assert_eq!(s.encoding(), "hashtable", "never converts back");
        let c = s.clone();
        assert_eq!(c, s);
    }

    #[test]
    fn random_and_pop() {
        let mut rng = 7;
        let mut s = Set::for_member(b"a");
        for m in [b"a", b"b", b"c"] {
            s.add(m, 512);
        }
        let mut popped = Vec::new();
        while let Some(m) = s.pop_random(&mut rng) {
            popped.push(m);
        }
        popped.sort();
        assert_eq!(popped, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    }
}
