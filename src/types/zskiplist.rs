//! The ordered half of a large sorted set: Redis's skiplist with spans (written from scratch),
//! ordered by (score, member). Spans give every position query in O(log n): the rank of an
//! element, the element at a rank, and how many leading elements satisfy a monotone
//! predicate (which is how score and lex ranges become rank ranges).
//!
//! Memory: one allocation per element holding the header (score, backward link, lengths), its
//! levels (forward link + span, 1.33 on average) and the member bytes inline, so a short member
//! costs about what Redis's node plus its separate sds costs.
//!
//! Safety: every node is allocated by `Node::alloc` and owned by exactly one list; raw links
//! never escape except as borrows tied to `&self`.

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::ptr::null_mut;

const MAX_LEVEL: usize = 32;

#[repr(C)]
struct Level {
    forward: *mut Node,
    span: usize,
}

/// Followed in memory by `level` `Level`s and then `mlen` member bytes.
#[repr(C)]
struct Node {
    score: f64,
    backward: *mut Node,
    mlen: u32,
    level: u32,
}

const HEAD: usize = std::mem::size_of::<Node>();

impl Node {
    fn layout(level: usize, mlen: usize) -> Layout {
        let size = HEAD + level * std::mem::size_of::<Level>() + mlen;
        Layout::from_size_align(size, std::mem::align_of::<Node>()).expect("node layout")
    }

    fn alloc(level: usize, score: f64, member: &[u8]) -> *mut Node {
        let layout = Node::layout(level, member.len());
        // SAFETY: the layout is non-zero sized; every field and level is written before use.
        unsafe {
            let p = alloc(layout) as *mut Node;
            if p.is_null() {
                handle_alloc_error(layout);
            }
            p.write(Node { score, backward: null_mut(), mlen: member.len() as u32, level: level as u32 });
            for i in 0..level {
                Node::levels(p).add(i).write(Level { forward: null_mut(), span: 0 });
            }
            let m = (p as *mut u8).add(HEAD + level * std::mem::size_of::<Level>());
            std::ptr::copy_nonoverlapping(member.as_ptr(), m, member.len());
            p
        }
    }

    /// SAFETY: `p` came from `Node::alloc` and is not used afterwards.
    unsafe fn free(p: *mut Node) {
        unsafe {
            let layout = Node::layout((*p).level as usize, (*p).mlen as usize);
            dealloc(p as *mut u8, layout);
        }
    }

    unsafe fn levels(p: *mut Node) -> *mut Level {
        unsafe { (p as *mut u8).add(HEAD) as *mut Level }
    }

    unsafe fn lvl<'a>(p: *mut Node, i: usize) -> &'a mut Level {
        unsafe { &mut *Node::levels(p).add(i) }
    }

    unsafe fn member<'a>(p: *const Node) -> &'a [u8] {
        unsafe {
            let off = HEAD + (*p).level as usize * std::mem::size_of::<Level>();
            std::slice::from_raw_parts((p as *const u8).add(off), (*p).mlen as usize)
        }
    }

    /// Whether this node sorts before (score, member).
    unsafe fn before(p: *const Node, score: f64, member: &[u8]) -> bool {
        unsafe { (*p).score < score || ((*p).score == score && Node::member(p) < member) }
    }
}

pub struct SkipList {
    header: *mut Node,
    tail: *mut Node,
    len: usize,
    level: usize,
    rng: u64,
}

// SAFETY: the list exclusively owns its nodes; nothing is shared between lists.
unsafe impl Send for SkipList {}

impl Default for SkipList {
    fn default() -> SkipList {
        SkipList::new()
    }
}

impl Drop for SkipList {
    fn drop(&mut self) {
        // SAFETY: walks level 0, freeing each node exactly once, then the header.
        unsafe {
            let mut x = Node::lvl(self.header, 0).forward;
            while !x.is_null() {
                let next = Node::lvl(x, 0).forward;
                Node::free(x);
                x = next;
            }
            Node::free(self.header);
        }
    }
}

impl SkipList {
    pub fn new() -> SkipList {
        SkipList {
            header: Node::alloc(MAX_LEVEL, 0.0, b""),
            tail: null_mut(),
            len: 0,
            level: 1,
            rng: 0x2545_F491_4F6C_DD1D,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes allocated for the nodes (an estimate of the allocator's view).
    pub fn heap_bytes(&self) -> usize {
        let mut total = Node::layout(MAX_LEVEL, 0).size();
        for (m, _) in self.iter_from(0, false) {
            // Average level 4/3.
            total += HEAD + 21 + m.len();
        }
        total
    }

    fn random_level(&mut self) -> usize {
        let mut level = 1;
        loop {
            let r = crate::types::set::xorshift(&mut self.rng);
            // Each further level with probability 1/4, as Redis's ZSKIPLIST_P.
            let mut bits = r;
            while bits & 3 == 0 && level < MAX_LEVEL {
                level += 1;
                bits >>= 2;
            }
            if bits != 0 || level == MAX_LEVEL {
                return level;
            }
        }
    }

    /// Inserts an element that is not present yet.
    pub fn insert(&mut self, score: f64, member: &[u8]) {
        let mut update = [null_mut(); MAX_LEVEL];
        let mut rank = [0usize; MAX_LEVEL];
        // SAFETY: every pointer followed is the header or a live node of this list.
        unsafe {
            let mut x = self.header;
            for i in (0..self.level).rev() {
                rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
                loop {
                    let f = Node::lvl(x, i).forward;
                    if f.is_null() || !Node::before(f, score, member) {
                        break;
                    }
                    rank[i] += Node::lvl(x, i).span;
                    x = f;
                }
                update[i] = x;
            }
            let level = self.random_level();
            if level > self.level {
                for i in self.level..level {
                    rank[i] = 0;
                    update[i] = self.header;
                    Node::lvl(self.header, i).span = self.len;
                }
                self.level = level;
            }
            let x = Node::alloc(level, score, member);
            for i in 0..level {
                let u = Node::lvl(update[i], i);
                let lx = Node::lvl(x, i);
                lx.forward = u.forward;
                u.forward = x;
                lx.span = u.span - (rank[0] - rank[i]);
                u.span = rank[0] - rank[i] + 1;
            }
            for (i, u) in update.iter().enumerate().take(self.level).skip(level) {
                Node::lvl(*u, i).span += 1;
            }
            (*x).backward = if update[0] == self.header { null_mut() } else { update[0] };
            let f = Node::lvl(x, 0).forward;
            if f.is_null() {
                self.tail = x;
            } else {
                (*f).backward = x;
            }
            self.len += 1;
        }
    }

    /// SAFETY: `x` is a live node and `update[i]` its predecessor at each level.
    unsafe fn unlink(&mut self, x: *mut Node, update: &[*mut Node; MAX_LEVEL]) {
        unsafe {
            for (i, u) in update.iter().enumerate().take(self.level) {
                let u = Node::lvl(*u, i);
                if u.forward == x {
                    u.span += Node::lvl(x, i).span;
                    u.span -= 1;
                    u.forward = Node::lvl(x, i).forward;
                } else {
                    u.span -= 1;
                }
            }
            let f = Node::lvl(x, 0).forward;
            if f.is_null() {
                self.tail = (*x).backward;
            } else {
                (*f).backward = (*x).backward;
            }
            while self.level > 1 && Node::lvl(self.header, self.level - 1).forward.is_null() {
                self.level -= 1;
            }
            self.len -= 1;
        }
    }

    /// Removes (score, member); false if it is not there.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let mut update = [null_mut(); MAX_LEVEL];
        // SAFETY: as in `insert`.
        unsafe {
            let mut x = self.header;
            for i in (0..self.level).rev() {
                loop {
                    let f = Node::lvl(x, i).forward;
                    if f.is_null() || !Node::before(f, score, member) {
                        break;
                    }
                    x = f;
                }
                update[i] = x;
            }
            let x = Node::lvl(x, 0).forward;
            if x.is_null() || (*x).score != score || Node::member(x) != member {
                return false;
            }
            self.unlink(x, &update);
            Node::free(x);
        }
        true
    }

    /// How many leading elements satisfy `pred`, which must hold for a prefix of the order
    /// (e.g. "score < min"). O(log n).
    pub fn count_while(&self, mut pred: impl FnMut(f64, &[u8]) -> bool) -> usize {
        let mut r = 0;
        // SAFETY: follows live links only.
        unsafe {
            let mut x = self.header;
            for i in (0..self.level).rev() {
                loop {
                    let f = Node::lvl(x, i).forward;
                    if f.is_null() || !pred((*f).score, Node::member(f)) {
                        break;
                    }
                    r += Node::lvl(x, i).span;
                    x = f;
                }
            }
        }
        r
    }

    /// The 0-based rank of (score, member), which must be present.
    pub fn rank(&self, score: f64, member: &[u8]) -> usize {
        self.count_while(|s, m| s < score || (s == score && m < member))
    }

    /// The node at 0-based `rank`, or null.
    fn node_at(&self, rank: usize) -> *mut Node {
        if rank >= self.len {
            return null_mut();
        }
        let target = rank + 1;
        let mut traversed = 0;
        // SAFETY: follows live links only.
        unsafe {
            let mut x = self.header;
            for i in (0..self.level).rev() {
                loop {
                    let f = Node::lvl(x, i).forward;
                    if f.is_null() || traversed + Node::lvl(x, i).span > target {
                        break;
                    }
                    traversed += Node::lvl(x, i).span;
                    x = f;
                }
                if traversed == target {
                    return x;
                }
            }
        }
        null_mut()
    }

    /// Elements from 0-based `rank` on, ascending (or descending when `rev`, where `rank`
    /// still counts from the lowest).
    pub fn iter_from(&self, rank: usize, rev: bool) -> Iter<'_> {
        Iter { node: self.node_at(rank), rev, _list: std::marker::PhantomData }
    }

    /// Removes the elements with 0-based ranks in `start..end`, passing each to `f` first.
    pub fn remove_rank_range(&mut self, start: usize, end: usize, mut f: impl FnMut(f64, &[u8])) {
        let mut update = [null_mut(); MAX_LEVEL];
        let mut traversed = 0;
        // SAFETY: as in `insert`; each node is freed once, after it is unlinked.
        unsafe {
            let mut x = self.header;
            for i in (0..self.level).rev() {
                loop {
                    let fw = Node::lvl(x, i).forward;
                    if fw.is_null() || traversed + Node::lvl(x, i).span > start {
                        break;
                    }
                    traversed += Node::lvl(x, i).span;
                    x = fw;
                }
                update[i] = x;
            }
            let mut x = Node::lvl(x, 0).forward;
            while !x.is_null() && traversed < end {
                let next = Node::lvl(x, 0).forward;
                self.unlink(x, &update);
                f((*x).score, Node::member(x));
                Node::free(x);
                traversed += 1;
                x = next;
            }
        }
    }
}

pub struct Iter<'a> {
    node: *mut Node,
    rev: bool,
    _list: std::marker::PhantomData<&'a SkipList>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<(&'a [u8], f64)> {
        if self.node.is_null() {
            return None;
        }
        // SAFETY: the node is live while the list is borrowed.
        unsafe {
            let x = self.node;
            self.node = if self.rev { (*x).backward } else { Node::lvl(x, 0).forward };
            Some((Node::member(x), (*x).score))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_and_ranges_match_a_sorted_vec() {
        let mut l = SkipList::new();
        let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
        let mut rng = 12345u64;
        for i in 0..3000 {
            let r = crate::types::set::xorshift(&mut rng);
            let m = format!("m{}", r % 500).into_bytes();
            let s = (r % 37) as f64;
            if let Some(pos) = model.iter().position(|(_, mm)| *mm == m) {
                let (old, _) = model.remove(pos);
                assert!(l.remove(old, &m));
            } else if i % 3 != 0 {
                model.push((s, m.clone()));
                model.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then(a.1.cmp(&b.1)));
                l.insert(s, &m);
            }
            assert_eq!(l.len(), model.len());
        }
        for (i, (s, m)) in model.iter().enumerate() {
            assert_eq!(l.rank(*s, m), i);
        }
        let got: Vec<(f64, Vec<u8>)> = l.iter_from(0, false).map(|(m, s)| (s, m.to_vec())).collect();
        assert_eq!(got, model);
        let back: Vec<Vec<u8>> = l.iter_from(model.len() - 1, true).map(|(m, _)| m.to_vec()).collect();
        assert_eq!(back.len(), model.len());
        assert_eq!(back[0], model.last().unwrap().1);
        assert_eq!(l.count_while(|s, _| s < 10.0), model.iter().filter(|e| e.0 < 10.0).count());
        let mut removed = 0;
        l.remove_rank_range(5, 25, |_, _| removed += 1);
        assert_eq!(removed, 20);
        model.drain(5..25);
        let got: Vec<(f64, Vec<u8>)> = l.iter_from(0, false).map(|(m, s)| (s, m.to_vec())).collect();
        assert_eq!(got, model);
        assert!(l.iter_from(model.len(), false).next().is_none());
    }
}
