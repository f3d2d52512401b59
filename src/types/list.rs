//! A list: a quicklist, i.e. a sequence of listpack nodes, as Redis 7.0 keeps every list.
//! A one-node list is just its listpack, held inline in the key's entry (see `List`).
//!
//! `list-max-listpack-size` (the `fill`, read by the caller from the config on each write and
//! passed in) bounds a node: a positive fill is a maximum entry count (with an 8 KB safety cap),
//! a negative one a maximum size in bytes (-1..-5 = 4, 8, 16, 32, 64 KB). Pushes go into the end
//! node while it has room and open a new node otherwise; inserts and replacements in the middle
//! split a node that grows past its bound in half. Empty nodes are dropped. As in Redis, nodes
//! are not merged back when they shrink, and finding an index walks the node counts from the
//! nearer end (O(n / node size)).
//!
//! OBJECT ENCODING: Redis 7.0 reports `quicklist` for every list (7.2 added a `listpack`
//! encoding for small lists); the differential tests compare against 7.0, so that is what
//! `encoding` says.

use super::listpack::{Elem, Listpack, as_int, entry_size};

/// Node byte bounds for fill -1..-5.
const FILL_BYTES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// The bound on a node with a positive (count) fill.
const SAFETY_BYTES: usize = 8192;
/// Redis counts a listpack's 6-byte header and end byte in its size; we do not store them.
const LP_OVERHEAD: usize = 7;

/// A list is one listpack until a second node is needed (most lists are small, and then cost
/// one allocation, held inline in the key's entry), then a boxed vector of nodes with the
/// element count. The split is not visible to clients: OBJECT ENCODING says `quicklist` for both.
#[derive(Debug, Clone, PartialEq)]
pub enum List {
    /// Zero or one node (an empty listpack is an empty list).
    Single(Listpack),
    /// Two or more non-empty nodes.
    Quick(Box<Quick>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Quick {
    nodes: Vec<Listpack>,
    len: usize,
}

impl Default for List {
    fn default() -> List {
        List::Single(Listpack::new())
    }
}

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Head,
    Tail,
}

/// Whether a node of `bytes` encoded bytes and `count` entries may take `add` more bytes.
fn node_allows(bytes: usize, count: usize, add: usize, fill: i64) -> bool {
    let new_size = bytes + LP_OVERHEAD + add;
    if fill < 0 {
        let i = ((-fill) as usize - 1).min(FILL_BYTES.len() - 1);
        new_size <= FILL_BYTES[i]
    } else {
        new_size <= SAFETY_BYTES && (count as i64) < fill
    }
}

/// Whether a node is over its bound (and so should be split when it has more than one entry).
fn node_over(node: &Listpack, fill: i64) -> bool {
    node.len() > 1 && !node_allows(node.bytes(), node.len() - 1, 0, fill)
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    pub fn len(&self) -> usize {
        match self {
            List::Single(lp) => lp.len(),
            List::Quick(q) => q.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING reports (Redis 7.0: always quicklist).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Bytes of heap memory the value uses.
    pub fn heap_bytes(&self) -> usize {
        let vec = match self {
            List::Single(_) => 0,
            List::Quick(q) => {
                std::mem::size_of::<Quick>() + q.nodes.capacity() * std::mem::size_of::<Listpack>()
            }
        };
        vec + self.nodes().iter().map(Listpack::heap_bytes).sum::<usize>()
    }

    pub fn node_count(&self) -> usize {
        self.nodes().len()
    }

    /// The nodes, head to tail; none are empty (RDB writes one listpack per node).
    pub fn nodes(&self) -> &[Listpack] {
        match self {
            List::Single(lp) if lp.is_empty() => &[],
            List::Single(lp) => std::slice::from_ref(lp),
            List::Quick(q) => &q.nodes,
        }
    }

    fn nodes_mut(&mut self) -> &mut [Listpack] {
        match self {
            List::Single(lp) if lp.is_empty() => &mut [],
            List::Single(lp) => std::slice::from_mut(lp),
            List::Quick(q) => &mut q.nodes,
        }
    }

    /// The node vector, for changes to the node structure (the caller calls `settle` after).
    fn quick(&mut self) -> &mut Quick {
        if let List::Single(lp) = self {
            let lp = std::mem::take(lp);
            let len = lp.len();
            let nodes = if lp.is_empty() { Vec::new() } else { vec![lp] };
            *self = List::Quick(Box::new(Quick { nodes, len }));
        }
        match self {
            List::Quick(q) => q,
            List::Single(_) => unreachable!("just made quick"),
        }
    }

    /// Drops empty nodes and goes back to a single listpack when at most one is left.
    fn settle(&mut self) {
        if let List::Quick(q) = self {
            q.nodes.retain(|n| !n.is_empty());
            if q.nodes.len() <= 1 {
                *self = List::Single(q.nodes.pop().unwrap_or_default());
            }
        }
    }

    /// Records `n` elements added to (or removed from) nodes in place; a single listpack
    /// counts its own.
    fn grew(&mut self, n: usize) {
        if let List::Quick(q) = self {
            q.len += n;
        }
    }

    fn shrank(&mut self, n: usize) {
        if let List::Quick(q) = self {
            q.len -= n;
        }
    }

    pub fn push(&mut self, end: End, v: &[u8], fill: i64) {
        let size = entry_size(v);
        if let List::Single(lp) = self
            && lp.is_empty()
        {
            return lp.push_back(v);
        }
        let nodes = self.nodes_mut();
        let node = match end {
            End::Head => nodes.first_mut(),
            End::Tail => nodes.last_mut(),
        };
        match node {
            Some(n) if node_allows(n.bytes(), n.len(), size, fill) => {
                match end {
                    End::Head => n.push_front(v),
                    End::Tail => n.push_back(v),
                }
                self.grew(1);
            }
            _ => {
                let mut n = Listpack::new();
                n.push_back(v);
                let q = self.quick();
                match end {
                    End::Head => q.nodes.insert(0, n),
                    End::Tail => q.nodes.push(n),
                }
                q.len += 1;
            }
        }
    }

    /// The element at one end.
    pub fn peek(&self, end: End) -> Option<Elem<'_>> {
        match end {
            End::Head => self.nodes().first().map(|n| n.get(0).0),
            End::Tail => self.nodes().last().and_then(|n| n.last().map(|o| n.get(o).0)),
        }
    }

    /// Removes the element at one end and gives it to `f` first.
    pub fn pop_with<R>(&mut self, end: End, f: impl FnOnce(Elem<'_>) -> R) -> Option<R> {
        let nodes = self.nodes_mut();
        let node = match end {
            End::Head => nodes.first_mut()?,
            End::Tail => nodes.last_mut()?,
        };
        let off = match end {
            End::Head => 0,
            End::Tail => node.last()?,
        };
        let r = f(node.get(off).0);
        node.delete(off);
        let emptied = node.is_empty();
        self.shrank(1);
        if emptied {
            self.settle();
        }
        Some(r)
    }

    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        self.pop_with(end, |e| e.to_vec())
    }

    /// (node, index inside it) of list index `index` (< len).
    fn locate(&self, index: usize) -> (usize, usize) {
        let len = self.len();
        debug_assert!(index < len);
        if index < len / 2 {
            let mut rest = index;
            for (i, n) in self.nodes().iter().enumerate() {
                if rest < n.len() {
                    return (i, rest);
                }
                rest -= n.len();
            }
        } else {
            let mut from_end = len - index;
            for (i, n) in self.nodes().iter().enumerate().rev() {
                if from_end <= n.len() {
                    return (i, n.len() - from_end);
                }
                from_end -= n.len();
            }
        }
        unreachable!("index {index} within len {len}")
    }

    /// A Redis index (negative counts from the tail) as a position, if in range.
    pub fn resolve(&self, index: i64) -> Option<usize> {
        let len = self.len() as i64;
        let i = if index < 0 { len + index } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }

    pub fn get(&self, index: usize) -> Option<Elem<'_>> {
        if index >= self.len() {
            return None;
        }
        let (n, i) = self.locate(index);
        let node = &self.nodes()[n];
        Some(node.get(node.seek(i)).0)
    }

    /// Replaces the element at `index` (< len).
    pub fn set(&mut self, index: usize, v: &[u8], fill: i64) {
        let (n, i) = self.locate(index);
        let node = &mut self.nodes_mut()[n];
        let off = node.seek(i);
        node.replace(off, v);
        self.fix_node(n, fill);
    }

    /// Inserts `v` so that it becomes element `index` (0..=len).
    pub fn insert(&mut self, index: usize, v: &[u8], fill: i64) {
        if index == 0 {
            return self.push(End::Head, v, fill);
        }
        if index == self.len() {
            return self.push(End::Tail, v, fill);
        }
        let (n, i) = self.locate(index);
        let node = &mut self.nodes_mut()[n];
        let off = node.seek(i);
        node.insert_at(off, v);
        self.grew(1);
        self.fix_node(n, fill);
    }

    /// Splits node `n` in halves while it is over its bound.
    fn fix_node(&mut self, n: usize, fill: i64) {
        if !node_over(&self.nodes()[n], fill) {
            return;
        }
        let q = self.quick();
        let half = q.nodes[n].len() / 2;
        let tail = q.nodes[n].split_off(half);
        q.nodes.insert(n + 1, tail);
        self.fix_node(n + 1, fill);
        self.fix_node(n, fill);
    }

    /// Removes `count` elements from position `start` on.
    pub fn remove_range(&mut self, start: usize, count: usize) {
        let count = count.min(self.len().saturating_sub(start));
        if count == 0 {
            return;
        }
        let (mut n, mut i) = self.locate(start);
        let mut left = count;
        let nodes = self.nodes_mut();
        while left > 0 {
            let node = &mut nodes[n];
            let take = left.min(node.len() - i);
            let off = node.seek(i);
            node.delete_range(off, take);
            n += 1;
            left -= take;
            i = 0;
        }
        self.shrank(count);
        self.settle();
    }

    /// Removes up to `max` (0 = all) elements equal to `v`, from the head or from the tail.
    /// Returns how many were removed.
    pub fn remove_matching(&mut self, v: &[u8], max: usize, from: End) -> usize {
        let v_int = as_int(v);
        let mut removed = 0;
        let nodes = self.nodes_mut();
        let order: Vec<usize> = match from {
            End::Head => (0..nodes.len()).collect(),
            End::Tail => (0..nodes.len()).rev().collect(),
        };
        for n in order {
            if max != 0 && removed == max {
                break;
            }
            let node = &mut nodes[n];
            let matches = node.iter().filter(|e| e.eq_bytes(v, v_int)).count();
            if matches == 0 {
                continue;
            }
            let budget = if max == 0 { matches } else { matches.min(max - removed) };
            // Removing from the tail drops the last `budget` matches of the node.
            let skip = if from == End::Tail { matches - budget } else { 0 };
            let mut seen = 0;
            node.retain(|e| {
                if !e.eq_bytes(v, v_int) {
                    return true;
                }
                seen += 1;
                seen <= skip || seen > skip + budget
            });
            removed += budget;
        }
        self.shrank(removed);
        self.settle();
        removed
    }

    /// Elements from position `start` on, head to tail.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = Elem<'_>> + '_ {
        let nodes = self.nodes();
        let (n, i) = if start < self.len() { self.locate(start) } else { (nodes.len(), 0) };
        nodes[n..].iter().enumerate().flat_map(move |(k, node)| node.iter().skip(if k == 0 { i } else { 0 }))
    }

    /// Elements from position `start` backwards to the head.
    pub fn iter_rev_from(&self, start: usize) -> impl Iterator<Item = Elem<'_>> + '_ {
        let (n, i) = if start < self.len() { self.locate(start) } else { (0, 0) };
        let count = if start < self.len() { n + 1 } else { 0 };
        self.nodes()[..count].iter().rev().enumerate().flat_map(move |(k, node)| {
            let skip = if k == 0 { node.len() - 1 - i } else { 0 };
            node.iter_rev().skip(skip)
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = Elem<'_>> + '_ {
        self.nodes().iter().flat_map(Listpack::iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(l: &List) -> Vec<String> {
        l.iter().map(|e| String::from_utf8(e.to_vec()).unwrap()).collect()
    }

    fn check_counts(l: &List) {
        assert_eq!(l.nodes().iter().map(Listpack::len).sum::<usize>(), l.len());
        assert!(l.nodes().iter().all(|n| !n.is_empty()));
    }

    #[test]
    fn push_pop_both_ends() {
        let mut l = List::new();
        for i in 0..1000 {
            l.push(End::Tail, i.to_string().as_bytes(), -2);
            l.push(End::Head, format!("h{i}").as_bytes(), -2);
        }
        check_counts(&l);
        assert!(l.node_count() > 1);
        assert_eq!(l.len(), 2000);
        assert_eq!(l.peek(End::Head).unwrap().to_vec(), b"h999");
        assert_eq!(l.peek(End::Tail).unwrap().to_vec(), b"999");
        assert_eq!(l.get(1000).unwrap().to_vec(), b"0");
        assert_eq!(l.get(999).unwrap().to_vec(), b"h0");
        assert_eq!(l.pop(End::Tail).unwrap(), b"999");
        assert_eq!(l.pop(End::Head).unwrap(), b"h999");
        while l.pop(End::Head).is_some() {}
        assert!(l.is_empty());
        assert_eq!(l.node_count(), 0);
    }

    #[test]
    fn count_fill_bounds_nodes() {
        let mut l = List::new();
        for i in 0..10 {
            l.push(End::Tail, i.to_string().as_bytes(), 3);
        }
        assert_eq!(l.node_count(), 4);
        l.insert(1, b"x", 3);
        l.insert(1, b"y", 3);
        check_counts(&l);
        assert!(l.nodes().iter().all(|n| n.len() <= 3));
        assert_eq!(items(&l), ["0", "y", "x", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
        l.set(5, &[b'z'; 100], 3);
        assert_eq!(l.get(5).unwrap().len(), 100);
    }

    #[test]
    fn ranges_and_removal() {
        let mut l = List::new();
        for i in 0..100 {
            l.push(End::Tail, (i % 10).to_string().as_bytes(), 4);
        }
        let from: Vec<_> = l.iter_from(95).map(|e| e.to_vec()).collect();
        assert_eq!(from, [b"5", b"6", b"7", b"8", b"9"]);
        let back: Vec<_> = l.iter_rev_from(3).map(|e| e.to_vec()).collect();
        assert_eq!(back, [b"3", b"2", b"1", b"0"]);
        assert_eq!(l.remove_matching(b"3", 2, End::Tail), 2);
        assert_eq!(l.len(), 98);
        assert_eq!(l.iter().filter(|e| *e == Elem::Int(3)).count(), 8);
        assert_eq!(l.get(73).unwrap(), Elem::Int(3));
        assert_eq!(l.remove_matching(b"3", 1, End::Head), 1);
        assert_eq!(l.get(3).unwrap(), Elem::Int(4));
        assert_eq!(l.remove_matching(b"5", 0, End::Head), 10);
        check_counts(&l);
        l.remove_range(0, 10);
        l.remove_range(l.len() - 10, 10);
        check_counts(&l);
        assert_eq!(l.len(), 67);
        l.remove_range(5, 50);
        check_counts(&l);
        assert_eq!(l.len(), 17);
    }
}
