//! A sorted array of distinct integers, packed at the narrowest width (2, 4 or 8 bytes) that
//! holds every member, as Redis's `intset`: small integer sets cost 2 bytes per member.
//! Lookups are binary searches; inserts and removals move the tail (the set stays small,
//! bounded by `set-max-intset-entries`). The buffer is exactly as long as the members, as
//! Redis reallocs its intset on every change: a small set costs one small allocation.

#[derive(Debug, Clone, PartialEq)]
pub struct IntSet {
    /// Little-endian members of `width` bytes each, ascending.
    bytes: Box<[u8]>,
    width: Width,
}

/// Bytes per member. An enum rather than a `u8` so that `Set` can keep its tag in the unused
/// values and stay 24 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
enum Width {
    W2 = 2,
    W4 = 4,
    W8 = 8,
}

impl Default for IntSet {
    fn default() -> IntSet {
        IntSet::new()
    }
}

fn width_for(v: i64) -> Width {
    if i16::try_from(v).is_ok() {
        Width::W2
    } else if i32::try_from(v).is_ok() {
        Width::W4
    } else {
        Width::W8
    }
}

/// Resizes a boxed slice to exactly `len` bytes (new bytes are zero).
fn resize_exact(b: &mut Box<[u8]>, len: usize) {
    let mut v = std::mem::take(b).into_vec();
    if len > v.len() {
        v.reserve_exact(len - v.len());
    }
    v.resize(len, 0);
    *b = v.into_boxed_slice();
}

impl IntSet {
    pub fn new() -> IntSet {
        IntSet { bytes: Box::default(), width: Width::W2 }
    }

    pub fn len(&self) -> usize {
        self.bytes.len() / self.width as usize
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn heap_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// The member at position `i` (ascending order).
    pub fn get(&self, i: usize) -> i64 {
        let w = self.width as usize;
        let b = &self.bytes[i * w..i * w + w];
        match w {
            2 => i16::from_le_bytes([b[0], b[1]]) as i64,
            4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            _ => i64::from_le_bytes(b.try_into().expect("8 bytes")),
        }
    }

    fn put(&mut self, i: usize, v: i64) {
        let w = self.width as usize;
        let dst = &mut self.bytes[i * w..i * w + w];
        dst.copy_from_slice(&v.to_le_bytes()[..w]);
    }

    /// Ok(position) if present, Err(insertion point) if not.
    fn search(&self, v: i64) -> Result<usize, usize> {
        if width_for(v) > self.width {
            // Wider than every member: it belongs at one end.
            return Err(if v < 0 { 0 } else { self.len() });
        }
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    /// Adds `v`; false if it was already there.
    pub fn insert(&mut self, v: i64) -> bool {
        let at = match self.search(v) {
            Ok(_) => return false,
            Err(at) => at,
        };
        let w = width_for(v);
        if w > self.width {
            self.upgrade(w);
        }
        let width = self.width as usize;
        let old_len = self.len();
        let new_len = self.bytes.len() + width;
        resize_exact(&mut self.bytes, new_len);
        self.bytes.copy_within(at * width..old_len * width, (at + 1) * width);
        self.put(at, v);
        true
    }

    /// Re-encodes every member at width `w`.
    fn upgrade(&mut self, w: Width) {
        let members: Vec<i64> = self.iter().collect();
        self.width = w;
        self.bytes = vec![0; members.len() * w as usize].into_boxed_slice();
        for (i, m) in members.into_iter().enumerate() {
            self.put(i, m);
        }
    }

    /// Removes `v`; false if it was absent.
    pub fn remove(&mut self, v: i64) -> bool {
        match self.search(v) {
            Ok(i) => {
                self.remove_at(i);
                true
            }
            Err(_) => false,
        }
    }

    pub fn remove_at(&mut self, i: usize) -> i64 {
        let v = self.get(i);
        let w = self.width as usize;
        let len = self.bytes.len();
        self.bytes.copy_within(i * w + w.., i * w);
        resize_exact(&mut self.bytes, len - w);
        v
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = i64> + ExactSizeIterator + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_distinct_and_upgrades() {
        let mut s = IntSet::new();
        assert!(s.insert(5));
        assert!(s.insert(-3));
        assert!(!s.insert(5));
        assert_eq!(s.width, Width::W2);
        assert!(s.insert(100_000));
        assert_eq!(s.width, Width::W4);
        assert!(s.insert(i64::MIN));
        assert_eq!(s.width, Width::W8);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![i64::MIN, -3, 5, 100_000]);
        assert!(s.contains(-3) && !s.contains(4) && !s.contains(i64::MAX));
        assert!(s.remove(5) && !s.remove(5));
        assert_eq!(s.len(), 3);
    }
}
