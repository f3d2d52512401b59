//! A sorted set: a `ZPack` (Redis's `listpack` encoding) while it has at most
//! `zset-max-listpack-entries` members none longer than `zset-max-listpack-value`, else a
//! `ZTree`: an order-statistic B+tree whose elements are also indexed by member (reported as
//! Redis's `skiplist` encoding, which it replaces). It never converts back on shrink, as Redis.
//!
//! Every positional query is phrased as ranks: a score or lex range becomes "how many leading
//! elements are below the range" (`count_while`, O(log n) on the tree), so ZCOUNT,
//! ZRANGEBYSCORE, ZREMRANGEBYLEX... all share `range` and `remove_rank_range`.

use super::zpack::ZPack;
use super::ztree::ZTree;

pub enum ZSet {
    Pack(ZPack),
    Tree(Box<ZTree>),
}

/// The thresholds a write reads from the config.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_entries: u64,
    pub max_value: u64,
}

impl Default for ZSet {
    fn default() -> ZSet {
        ZSet::Pack(ZPack::default())
    }
}

impl std::fmt::Debug for ZSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut l = f.debug_list();
        self.for_each(|m, s| {
            l.entry(&(String::from_utf8_lossy(m), s));
        });
        l.finish()
    }
}

impl Clone for ZSet {
    fn clone(&self) -> ZSet {
        match self {
            ZSet::Pack(p) => ZSet::Pack(p.clone()),
            ZSet::Tree(l) => {
                let mut copy = ZTree::new();
                for (m, s) in l.iter_from(0, false) {
                    copy.insert(s, m);
                }
                ZSet::Tree(Box::new(copy))
            }
        }
    }
}

impl PartialEq for ZSet {
    fn eq(&self, other: &ZSet) -> bool {
        if self.len() != other.len() || self.encoding() != other.encoding() {
            return false;
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        self.for_each(|m, s| a.push((m.to_vec(), s.to_bits())));
        other.for_each(|m, s| b.push((m.to_vec(), s.to_bits())));
        a == b
    }
}

impl ZSet {
    pub fn len(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.len(),
            ZSet::Tree(l) => l.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Pack(_) => "listpack",
            ZSet::Tree(_) => "skiplist",
        }
    }

    /// Bytes of heap memory the value uses.
    pub fn heap_bytes(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.heap_bytes(),
            ZSet::Tree(l) => std::mem::size_of::<ZTree>() + l.heap_bytes(),
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Pack(p) => p.find(member).map(|e| e.score),
            ZSet::Tree(l) => l.score(member),
        }
    }

    /// Adds a member that is not present, converting to the tree first when the listpack
    /// would pass its limits (Redis's `zsetAdd`).
    pub fn insert_new(&mut self, member: &[u8], score: f64, limits: Limits) {
        if let ZSet::Pack(p) = self {
            if p.len() as u64 + 1 > limits.max_entries || member.len() as u64 > limits.max_value {
                self.convert_to_tree();
            } else {
                p.insert(score, member);
                return;
            }
        }
        if let ZSet::Tree(l) = self {
            l.insert(score, member);
        }
    }

    /// Changes the score of a present member from `old` to `new`.
    pub fn update(&mut self, member: &[u8], old: f64, new: f64) {
        if old.to_bits() == new.to_bits() {
            return;
        }
        match self {
            ZSet::Pack(p) => {
                p.remove(member);
                p.insert(new, member);
            }
            ZSet::Tree(l) => {
                l.set_score(member, new);
            }
        }
    }

    fn convert_to_tree(&mut self) {
        if let ZSet::Pack(p) = self {
            let mut list = ZTree::new();
            for e in p.iter() {
                list.insert(e.score, e.member);
            }
            *self = ZSet::Tree(Box::new(list));
        }
    }

    /// Removes a member; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Pack(p) => p.remove(member).is_some(),
            ZSet::Tree(l) => l.remove(member).is_some(),
        }
    }

    /// A member's 0-based ascending rank and score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZSet::Pack(p) => {
                p.iter().enumerate().find(|(_, e)| e.member == member).map(|(i, e)| (i, e.score))
            }
            ZSet::Tree(l) => l.rank(member),
        }
    }

    /// How many leading elements (ascending) satisfy `pred`, which must hold for a prefix.
    pub fn count_while(&self, pred: impl FnMut(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSet::Pack(p) => p.count_while(pred),
            ZSet::Tree(l) => l.count_while(pred),
        }
    }

    /// Calls `f` on the elements with ascending ranks in `start..end`, lowest first, or
    /// highest first when `rev`.
    pub fn range(&self, start: usize, end: usize, rev: bool, mut f: impl FnMut(&[u8], f64)) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        let n = end - start;
        match self {
            ZSet::Pack(p) if rev => {
                let mut items: Vec<(&[u8], f64)> =
                    p.iter().skip(start).take(n).map(|e| (e.member, e.score)).collect();
                items.reverse();
                items.into_iter().for_each(|(m, s)| f(m, s));
            }
            ZSet::Pack(p) => p.iter().skip(start).take(n).for_each(|e| f(e.member, e.score)),
            ZSet::Tree(l) if rev => l.iter_from(end - 1, true).take(n).for_each(|(m, s)| f(m, s)),
            ZSet::Tree(l) => l.iter_from(start, false).take(n).for_each(|(m, s)| f(m, s)),
        }
    }

    /// Every element, ascending.
    pub fn for_each(&self, f: impl FnMut(&[u8], f64)) {
        self.range(0, self.len(), false, f);
    }

    /// Removes the elements with ascending ranks in `start..end`, passing each to `f`.
    pub fn remove_rank_range(&mut self, start: usize, end: usize, mut f: impl FnMut(&[u8], f64)) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        match self {
            ZSet::Pack(p) => p.remove_rank_range(start, end, |s, m| f(m, s)),
            ZSet::Tree(l) => l.remove_rank_range(start, end, |s, m| f(m, s)),
        }
    }

    /// One ZSCAN step: a listpack is returned whole with cursor 0, as Redis does; a tree
    /// walks its member index with Redis's reverse-binary cursor.
    pub fn scan(&self, cursor: u64, f: impl FnMut(&[u8], f64)) -> u64 {
        match self {
            ZSet::Pack(_) => {
                self.for_each(f);
                0
            }
            ZSet::Tree(l) => l.scan(cursor, f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits { max_entries: 4, max_value: 8 };

    fn members(z: &ZSet) -> Vec<String> {
        let mut v = Vec::new();
        z.for_each(|m, _| v.push(String::from_utf8(m.to_vec()).unwrap()));
        v
    }

    #[test]
    fn converts_past_either_limit_and_agrees_across_encodings() {
        let mut z = ZSet::default();
        for (i, m) in ["d", "c", "b", "a"].iter().enumerate() {
            z.insert_new(m.as_bytes(), i as f64, SMALL);
        }
        assert_eq!(z.encoding(), "listpack");
        let pack = z.clone();
        z.insert_new(b"e", 1.5, SMALL);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(members(&z), ["d", "c", "e", "b", "a"]);
        assert!(z.remove(b"e"));
        assert_eq!(z.encoding(), "skiplist", "never converts back");
        assert_ne!(z, pack, "encodings differ");
        assert_eq!(members(&z), members(&pack));
        for zz in [&z, &pack] {
            assert_eq!(zz.rank(b"b"), Some((2, 2.0)));
            assert_eq!(zz.count_while(|s, _| s < 2.0), 2);
            let mut rev = Vec::new();
            zz.range(1, 3, true, |m, _| rev.push(m.to_vec()));
            assert_eq!(rev, [b"b".to_vec(), b"c".to_vec()]);
        }
        let mut long = ZSet::default();
        long.insert_new(b"123456789", 1.0, SMALL);
        assert_eq!(long.encoding(), "skiplist");
    }

    #[test]
    fn update_and_remove_range_keep_index_in_step() {
        let mut z = ZSet::default();
        for i in 0..10 {
            z.insert_new(format!("m{i}").as_bytes(), i as f64, SMALL);
        }
        z.update(b"m0", 0.0, 100.0);
        assert_eq!(z.rank(b"m0"), Some((9, 100.0)));
        let mut gone = 0;
        z.remove_rank_range(0, 3, |_, _| gone += 1);
        assert_eq!(gone, 3);
        assert_eq!(z.score(b"m1"), None);
        assert_eq!(z.len(), 7);
        let mut cursor = 0;
        let mut seen = 0;
        loop {
            cursor = z.scan(cursor, |_, _| seen += 1);
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen, 7);
    }
}
