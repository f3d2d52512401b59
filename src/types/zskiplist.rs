//! The large sorted-set encoding (Redis's `skiplist`): a skiplist with spans ordered by
//! (score, member), plus a hash index from member to node, both written from scratch.
//! Spans give every position query in O(log n): the rank of an element, the element at a
//! rank, and how many leading elements satisfy a monotone predicate (which is how score and
//! lex ranges become rank ranges). The index gives ZSCORE and friends in O(1).
//!
//! Memory: each member is one allocation holding everything about it: the header (score,
//! backward link, the index's chain link, lengths), its forward links, the spans of its upper
//! levels and the member bytes. The index is intrusive (its buckets point at nodes, chained
//! through `Node::chain`), so nothing is stored twice. A level-1 node of a 14-byte member is
//! 62 bytes (one 64-byte block); Redis spends a dict entry, an sds and a skiplist node.
//! Spans are `u32` (a sorted set cannot reach 4G members in memory), and the level-0 span,
//! always 1, is not stored.
//!
//! Speed: a large sorted set's writes are bound by the cache misses of the descent, so
//! (1) each forward link also holds its target's score: the descent decides to step or drop
//! a level from the node it stands on, and loads a node only to move to it (or on a score
//! tie); (2) a score update finds its old and new positions in one descent that advances both
//! at each level, so the CPU overlaps the two chains of misses.
//!
//! The index is a chained hash table with Redis's incremental rehash (two bucket arrays while
//! growing or shrinking; each write moves a bucket) and Redis's reverse-binary SCAN cursor, so
//! ZSCAN keeps its guarantee across resizes: every member present for the whole scan is
//! reported at least once.
//!
//! Safety: every node is allocated by `Node::alloc` and owned by exactly one list, which frees
//! it exactly once; the index only points at nodes that are linked in the list. Raw links
//! never escape except as borrows tied to `&self`.

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::mem::size_of;
use std::ptr::null_mut;

use ahash::RandomState;

const MAX_LEVEL: usize = 32;

/// Followed in memory by `level` forward links, `level - 1` spans (`u32`, for levels 1..level)
/// and then `mlen` member bytes. Each link carries the score of the node it points at, so a
/// descent decides whether to step forward without loading that node (its cache miss is paid
/// only for nodes the descent moves to, or on a score tie).
#[repr(C)]
struct Node {
    score: f64,
    backward: *mut Node,
    /// The next node in the same index bucket.
    chain: *mut Node,
    mlen: u32,
    level: u32,
}

/// A forward link: the next node at a level and that node's score (0 when there is none).
#[repr(C)]
struct Link {
    next: *mut Node,
    score: f64,
}

const HEAD: usize = size_of::<Node>();
const LINK: usize = size_of::<Link>();
const SPAN: usize = size_of::<u32>();

impl Node {
    fn size(level: usize, mlen: usize) -> usize {
        HEAD + level * LINK + (level - 1) * SPAN + mlen
    }

    fn layout(level: usize, mlen: usize) -> Layout {
        Layout::from_size_align(Node::size(level, mlen), std::mem::align_of::<Node>()).expect("node layout")
    }

    fn alloc(level: usize, score: f64, member: &[u8]) -> *mut Node {
        assert!((1..=MAX_LEVEL).contains(&level) && member.len() <= u32::MAX as usize);
        let layout = Node::layout(level, member.len());
        // SAFETY: the layout is non-zero sized; every field, link and span is written before
        // use, and the member bytes are copied in.
        unsafe {
            let p = alloc(layout) as *mut Node;
            if p.is_null() {
                handle_alloc_error(layout);
            }
            p.write(Node {
                score,
                backward: null_mut(),
                chain: null_mut(),
                mlen: member.len() as u32,
                level: level as u32,
            });
            for i in 0..level {
                Node::set_forward(p, i, null_mut());
                Node::set_span(p, i, 0);
            }
            let m = (p as *mut u8).add(Node::member_offset(level));
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

    fn member_offset(level: usize) -> usize {
        HEAD + level * LINK + (level - 1) * SPAN
    }

    // SAFETY for the accessors below: `p` is a live node and `i < (*p).level`.

    unsafe fn link(p: *mut Node, i: usize) -> *mut Link {
        unsafe { ((p as *mut u8).add(HEAD) as *mut Link).add(i) }
    }

    unsafe fn forward(p: *mut Node, i: usize) -> *mut Node {
        unsafe { (*Node::link(p, i)).next }
    }

    /// Points `p`'s level-`i` link at `f` (live or null), recording `f`'s current score.
    unsafe fn set_forward(p: *mut Node, i: usize, f: *mut Node) {
        unsafe {
            let score = if f.is_null() { 0.0 } else { (*f).score };
            Node::link(p, i).write(Link { next: f, score });
        }
    }

    /// Gives `p`'s level-`i` link the target and score of `from`'s (no load of the target).
    unsafe fn copy_link(p: *mut Node, i: usize, from: *mut Node) {
        unsafe { Node::link(p, i).write(Node::link(from, i).read()) }
    }

    /// Whether the node `p`'s level-`i` link points at (non-null) sorts before (score, member);
    /// the member is compared (loading that node) only on a score tie.
    unsafe fn next_before(p: *mut Node, i: usize, score: f64, member: &[u8]) -> bool {
        unsafe {
            let l = &*Node::link(p, i);
            l.score < score || (l.score == score && Node::member(l.next) < member)
        }
    }

    /// How many level-0 steps the level-`i` link jumps (meaningful where it is not null).
    unsafe fn span(p: *mut Node, i: usize) -> usize {
        if i == 0 {
            return 1;
        }
        unsafe { *Node::span_ptr(p, i) as usize }
    }

    unsafe fn set_span(p: *mut Node, i: usize, s: usize) {
        if i > 0 {
            debug_assert!(s <= u32::MAX as usize);
            unsafe { *Node::span_ptr(p, i) = s as u32 }
        }
    }

    unsafe fn span_ptr(p: *mut Node, i: usize) -> *mut u32 {
        unsafe { ((p as *mut u8).add(HEAD + (*p).level as usize * LINK) as *mut u32).add(i - 1) }
    }

    unsafe fn member<'a>(p: *const Node) -> &'a [u8] {
        unsafe {
            let off = Node::member_offset((*p).level as usize);
            std::slice::from_raw_parts((p as *const u8).add(off), (*p).mlen as usize)
        }
    }
}

// ---- the member index ----

/// Smallest bucket array allocated; also the floor for shrinking.
const MIN_BUCKETS: usize = 4;
/// The index shrinks once fewer than `buckets / SHRINK_RATIO` members remain.
const SHRINK_RATIO: usize = 8;
/// Empty buckets a rehash step may skip before it gives up for this call.
const EMPTY_VISITS_PER_STEP: usize = 10;

struct Table {
    buckets: Box<[*mut Node]>,
    used: usize,
}

impl Table {
    fn empty() -> Table {
        Table { buckets: Box::new([]), used: 0 }
    }

    /// `None` when the allocation fails: the index then keeps its table, trading longer
    /// chains for not aborting.
    fn with_buckets(n: usize) -> Option<Table> {
        let mut v: Vec<*mut Node> = Vec::new();
        v.try_reserve_exact(n).ok()?;
        v.resize(n, null_mut());
        Some(Table { buckets: v.into_boxed_slice(), used: 0 })
    }

    fn size(&self) -> usize {
        self.buckets.len()
    }

    fn mask(&self) -> usize {
        self.buckets.len().saturating_sub(1)
    }

    /// The head of the chain `hash` falls in (`size() > 0`).
    fn slot(&mut self, hash: u64) -> &mut *mut Node {
        let m = self.mask();
        &mut self.buckets[hash as usize & m]
    }

    fn find(&self, hash: u64, member: &[u8]) -> *mut Node {
        let Some(&head) = self.buckets.get(hash as usize & self.mask()) else {
            return null_mut();
        };
        let mut x = head;
        // SAFETY: chains hold only live nodes.
        unsafe {
            while !x.is_null() && Node::member(x) != member {
                x = (*x).chain;
            }
        }
        x
    }

    /// Unlinks `target` from its chain; false if it is not in this table.
    fn unlink(&mut self, hash: u64, target: *mut Node) -> bool {
        if self.size() == 0 {
            return false;
        }
        let mut link: *mut *mut Node = self.slot(hash);
        // SAFETY: `link` points at a bucket or at the `chain` field of a live node.
        unsafe {
            while !(*link).is_null() {
                if *link == target {
                    *link = (*target).chain;
                    (*target).chain = null_mut();
                    self.used -= 1;
                    return true;
                }
                link = &mut (**link).chain;
            }
        }
        false
    }
}

struct Index {
    ht: [Table; 2],
    /// Next bucket of `ht[0]` to migrate; `Some` exactly while rehashing.
    rehash_idx: Option<usize>,
    hasher: RandomState,
}

impl Index {
    fn new() -> Index {
        Index { ht: [Table::empty(), Table::empty()], rehash_idx: None, hasher: RandomState::new() }
    }

    fn len(&self) -> usize {
        self.ht[0].used + self.ht[1].used
    }

    fn bucket_count(&self) -> usize {
        self.ht[0].size() + self.ht[1].size()
    }

    fn hash(&self, member: &[u8]) -> u64 {
        self.hasher.hash_one(member)
    }

    fn find(&self, member: &[u8]) -> *mut Node {
        if self.len() == 0 {
            return null_mut();
        }
        let h = self.hash(member);
        let x = self.ht[0].find(h, member);
        if x.is_null() { self.ht[1].find(h, member) } else { x }
    }

    /// Asks the CPU to load the bucket(s) `member` falls in.
    fn prefetch_bucket(&self, member: &[u8]) {
        let h = self.hash(member) as usize;
        for t in &self.ht {
            if let Some(b) = t.buckets.get(h & t.mask()) {
                super::dict::prefetch(b as *const *mut Node as *const u8);
            }
        }
    }

    /// Asks the CPU to load the first node of the chain(s) `member` falls in (useful once the
    /// bucket is in cache).
    fn prefetch_node(&self, member: &[u8]) {
        let h = self.hash(member) as usize;
        for t in &self.ht {
            if let Some(&head) = t.buckets.get(h & t.mask()) {
                super::dict::prefetch(head as *const u8);
            }
        }
    }

    /// Adds a node whose member is not indexed yet.
    fn add(&mut self, x: *mut Node) {
        self.rehash_step();
        self.expand_if_needed();
        // SAFETY: `x` is a live node not in any chain.
        let h = self.hash(unsafe { Node::member(x) });
        // New members go to the destination table so the migration never revisits them.
        let t = if self.rehash_idx.is_some() { &mut self.ht[1] } else { &mut self.ht[0] };
        let slot = t.slot(h);
        // SAFETY: as above.
        unsafe { (*x).chain = *slot };
        *slot = x;
        t.used += 1;
    }

    /// Unlinks the node holding `member`, if any, and returns it.
    fn take(&mut self, member: &[u8]) -> *mut Node {
        let x = self.find(member);
        if !x.is_null() {
            self.take_node(x);
        }
        x
    }

    /// Unlinks a node that is in the index.
    fn take_node(&mut self, x: *mut Node) {
        self.rehash_step();
        // SAFETY: `x` is a live, indexed node.
        let h = self.hash(unsafe { Node::member(x) });
        let found = self.ht[0].unlink(h, x) || self.ht[1].unlink(h, x);
        debug_assert!(found, "node missing from the index");
        self.shrink_if_needed();
    }

    fn expand_if_needed(&mut self) {
        if self.rehash_idx.is_some() {
            return;
        }
        let (len, size) = (self.len(), self.ht[0].size());
        if size == 0 {
            self.start_resize(MIN_BUCKETS);
        } else if len >= size {
            self.start_resize((len + 1).next_power_of_two());
        }
    }

    fn shrink_if_needed(&mut self) {
        let size = self.ht[0].size();
        if self.rehash_idx.is_some() || size <= MIN_BUCKETS || self.len() >= size / SHRINK_RATIO {
            return;
        }
        self.start_resize(self.len().max(MIN_BUCKETS).next_power_of_two());
    }

    fn start_resize(&mut self, size: usize) {
        if size == self.ht[0].size() {
            return;
        }
        let Some(t) = Table::with_buckets(size) else {
            return;
        };
        if self.ht[0].used == 0 {
            self.ht[0] = t;
        } else {
            self.ht[1] = t;
            self.rehash_idx = Some(0);
        }
    }

    /// Moves one non-empty bucket of `ht[0]` into `ht[1]` (skipping at most a few empty ones).
    fn rehash_step(&mut self) {
        let Some(mut idx) = self.rehash_idx else {
            return;
        };
        let mut empty_left = EMPTY_VISITS_PER_STEP;
        let [t0, t1] = &mut self.ht;
        while t0.used > 0 && idx < t0.size() {
            let mut x = std::mem::replace(&mut t0.buckets[idx], null_mut());
            idx += 1;
            if x.is_null() {
                empty_left -= 1;
                if empty_left == 0 {
                    break;
                }
                continue;
            }
            // SAFETY: the chain holds live nodes; each is moved to exactly one new chain.
            unsafe {
                while !x.is_null() {
                    let next = (*x).chain;
                    let slot = t1.slot(self.hasher.hash_one(Node::member(x)));
                    (*x).chain = *slot;
                    *slot = x;
                    t0.used -= 1;
                    t1.used += 1;
                    x = next;
                }
            }
            break;
        }
        if t0.used == 0 {
            std::mem::swap(t0, t1);
            *t1 = Table::empty();
            self.rehash_idx = None;
        } else {
            self.rehash_idx = Some(idx);
        }
    }

    /// One SCAN step over the buckets, as `Dict::scan` (see there for why the cursor counts
    /// with its bits reversed).
    fn scan(&self, cursor: u64, mut f: impl FnMut(*mut Node)) -> u64 {
        if self.len() == 0 {
            return 0;
        }
        let (small, large) = match self.rehash_idx {
            None => (&self.ht[0], None),
            Some(_) if self.ht[0].size() <= self.ht[1].size() => (&self.ht[0], Some(&self.ht[1])),
            Some(_) => (&self.ht[1], Some(&self.ht[0])),
        };
        let mut emit = |t: &Table, v: u64| {
            let mut x = t.buckets[v as usize & t.mask()];
            // SAFETY: chains hold only live nodes.
            unsafe {
                while !x.is_null() {
                    f(x);
                    x = (*x).chain;
                }
            }
        };
        let mut v = cursor;
        let m0 = small.mask() as u64;
        emit(small, v);
        let Some(large) = large else {
            return next_cursor(v, m0);
        };
        let m1 = large.mask() as u64;
        loop {
            emit(large, v);
            v = next_cursor(v, m1);
            if v & (m0 ^ m1) == 0 {
                return v;
            }
        }
    }
}

/// A binary increment of the bit-reversed cursor within `mask` (Redis's `dictScan`).
fn next_cursor(v: u64, mask: u64) -> u64 {
    (v | !mask).reverse_bits().wrapping_add(1).reverse_bits()
}

// ---- the list ----

pub struct SkipList {
    header: *mut Node,
    tail: *mut Node,
    len: usize,
    level: usize,
    rng: u64,
    index: Index,
    /// Bytes of all nodes (header included), kept so `heap_bytes` is O(1).
    node_bytes: usize,
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
        // SAFETY: walks level 0, freeing each node exactly once, then the header. The index
        // only holds pointers and is dropped after.
        unsafe {
            let mut x = Node::forward(self.header, 0);
            while !x.is_null() {
                let next = Node::forward(x, 0);
                Node::free(x);
                x = next;
            }
            Node::free(self.header);
        }
    }
}

/// The predecessors of a position at every level, and their ranks.
struct Path {
    update: [*mut Node; MAX_LEVEL],
    rank: [usize; MAX_LEVEL],
}

impl SkipList {
    pub fn new() -> SkipList {
        SkipList {
            header: Node::alloc(MAX_LEVEL, 0.0, b""),
            tail: null_mut(),
            len: 0,
            level: 1,
            rng: 0x2545_F491_4F6C_DD1D,
            index: Index::new(),
            node_bytes: Node::size(MAX_LEVEL, 0),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Prefetch hints for a lookup of `member` (see `conn::prefetch_keys`): its index bucket,
    /// then, once that is loaded, the chain's first node.
    pub fn prefetch_member_bucket(&self, member: &[u8]) {
        self.index.prefetch_bucket(member);
    }

    pub fn prefetch_member_node(&self, member: &[u8]) {
        self.index.prefetch_node(member);
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes allocated for the nodes and the index (without allocator overhead).
    pub fn heap_bytes(&self) -> usize {
        self.node_bytes + self.index.bucket_count() * LINK
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

    /// The score of `member`, if present.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        let x = self.index.find(member);
        // SAFETY: the index holds live nodes.
        (!x.is_null()).then(|| unsafe { (*x).score })
    }

    /// Inserts a member that is not present yet.
    pub fn insert(&mut self, score: f64, member: &[u8]) {
        debug_assert!(self.index.find(member).is_null(), "member already present");
        let x = Node::alloc(self.random_level(), score, member);
        // SAFETY: `x` is a fresh node, in neither the list nor the index.
        unsafe {
            self.node_bytes += Node::size((*x).level as usize, member.len());
            self.link(x);
        }
        self.index.add(x);
    }

    /// Gives a present member a new score, moving its node only if its position changes
    /// (Redis's `zslUpdateScore`). False if the member is not there.
    pub fn set_score(&mut self, member: &[u8], score: f64) -> bool {
        let x = self.index.find(member);
        if x.is_null() {
            return false;
        }
        // SAFETY: `x` is a live node of this list; it is unlinked and relinked, never freed.
        unsafe {
            let back = (*x).backward;
            let next = &*Node::link(x, 0);
            if (back.is_null() || (*back).score < score) && (next.next.is_null() || next.score > score) {
                // It keeps its place; the links into it must learn the new score.
                if (*x).level == 1 {
                    let pred = if back.is_null() { self.header } else { back };
                    (*x).score = score;
                    Node::set_forward(pred, 0, x);
                } else {
                    let path = self.path_to((*x).score, member);
                    (*x).score = score;
                    for (i, &u) in path.update.iter().enumerate().take((*x).level as usize) {
                        Node::set_forward(u, i, x);
                    }
                }
                return true;
            }
            let (from, mut to) = self.paths_to(((*x).score, member), (score, member));
            self.unlink(x, &from.update);
            // `to` was found with `x` still linked: where it names `x` as a predecessor, the
            // predecessor is now `x`'s own, and nodes after `x` have moved up one rank.
            let rank_x = from.rank[0] + 1;
            for i in 0..MAX_LEVEL {
                if to.update[i] == x {
                    to.update[i] = from.update[i];
                    to.rank[i] = from.rank[i];
                } else if to.rank[i] > rank_x {
                    to.rank[i] -= 1;
                }
            }
            (*x).score = score;
            self.link_at(x, to);
        }
        true
    }

    /// Removes a member, returning its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let x = self.index.take(member);
        if x.is_null() {
            return None;
        }
        // SAFETY: `x` is a live node of this list, now out of the index; freed once unlinked.
        unsafe {
            let score = (*x).score;
            let path = self.path_to(score, member);
            debug_assert_eq!(Node::forward(path.update[0], 0), x);
            self.unlink(x, &path.update);
            self.free(x);
            Some(score)
        }
    }

    /// SAFETY: `x` is live, in neither the list nor the index.
    unsafe fn free(&mut self, x: *mut Node) {
        unsafe {
            self.node_bytes -= Node::size((*x).level as usize, (*x).mlen as usize);
            Node::free(x);
        }
    }

    /// The last node before (score, member) at every level, with its rank.
    fn path_to(&self, score: f64, member: &[u8]) -> Path {
        let mut path = Path { update: [null_mut(); MAX_LEVEL], rank: [0; MAX_LEVEL] };
        // SAFETY: every pointer followed is the header or a live node of this list.
        unsafe {
            let mut x = self.header;
            for i in (0..self.level).rev() {
                path.rank[i] = if i == self.level - 1 { 0 } else { path.rank[i + 1] };
                loop {
                    let f = Node::forward(x, i);
                    if f.is_null() || !Node::next_before(x, i, score, member) {
                        break;
                    }
                    path.rank[i] += Node::span(x, i);
                    x = f;
                }
                path.update[i] = x;
            }
        }
        path
    }

    /// The paths to two positions, found in one descent that advances both at each level.
    /// The two pointer chases are independent, so the CPU overlaps their cache misses: a
    /// score update needs both paths (unlink, relink), and the descent is what a large
    /// sorted set's writes spend their time on.
    fn paths_to(&self, a: (f64, &[u8]), b: (f64, &[u8])) -> (Path, Path) {
        let mut pa = Path { update: [null_mut(); MAX_LEVEL], rank: [0; MAX_LEVEL] };
        let mut pb = Path { update: [null_mut(); MAX_LEVEL], rank: [0; MAX_LEVEL] };
        // SAFETY: every pointer followed is the header or a live node of this list.
        unsafe {
            let (mut xa, mut xb) = (self.header, self.header);
            let (mut ra, mut rb) = (0, 0);
            for i in (0..self.level).rev() {
                loop {
                    let (fa, fb) = (Node::forward(xa, i), Node::forward(xb, i));
                    let step_a = !fa.is_null() && Node::next_before(xa, i, a.0, a.1);
                    let step_b = !fb.is_null() && Node::next_before(xb, i, b.0, b.1);
                    if step_a {
                        ra += Node::span(xa, i);
                        xa = fa;
                    }
                    if step_b {
                        rb += Node::span(xb, i);
                        xb = fb;
                    }
                    if !step_a && !step_b {
                        break;
                    }
                }
                (pa.update[i], pa.rank[i]) = (xa, ra);
                (pb.update[i], pb.rank[i]) = (xb, rb);
            }
        }
        (pa, pb)
    }

    /// Links a node that is not in the list at its (score, member) position, with the level it
    /// was allocated with.
    ///
    /// SAFETY: `x` is live and not linked in the list.
    unsafe fn link(&mut self, x: *mut Node) {
        unsafe {
            let path = self.path_to((*x).score, Node::member(x));
            self.link_at(x, path);
        }
    }

    /// Links `x` after `path`'s predecessors, which must be its position's in the list.
    ///
    /// SAFETY: `x` is live and not linked in the list; `path` is current.
    unsafe fn link_at(&mut self, x: *mut Node, mut path: Path) {
        unsafe {
            let level = (*x).level as usize;
            if level > self.level {
                for i in self.level..level {
                    path.rank[i] = 0;
                    path.update[i] = self.header;
                    Node::set_span(self.header, i, self.len);
                }
                self.level = level;
            }
            let Path { update, rank } = &path;
            for i in 0..level {
                let u = update[i];
                Node::copy_link(x, i, u);
                Node::set_forward(u, i, x);
                Node::set_span(x, i, Node::span(u, i) - (rank[0] - rank[i]));
                Node::set_span(u, i, rank[0] - rank[i] + 1);
            }
            for (i, &u) in update.iter().enumerate().take(self.level).skip(level) {
                Node::set_span(u, i, Node::span(u, i) + 1);
            }
            (*x).backward = if update[0] == self.header { null_mut() } else { update[0] };
            let f = Node::forward(x, 0);
            if f.is_null() {
                self.tail = x;
            } else {
                (*f).backward = x;
            }
            self.len += 1;
        }
    }

    /// SAFETY: `x` is a live node of the list and `update[i]` its predecessor at each level.
    unsafe fn unlink(&mut self, x: *mut Node, update: &[*mut Node; MAX_LEVEL]) {
        unsafe {
            for (i, &u) in update.iter().enumerate().take(self.level) {
                if Node::forward(u, i) == x {
                    Node::set_span(u, i, Node::span(u, i) + Node::span(x, i) - 1);
                    Node::copy_link(u, i, x);
                } else {
                    Node::set_span(u, i, Node::span(u, i) - 1);
                }
            }
            let f = Node::forward(x, 0);
            if f.is_null() {
                self.tail = (*x).backward;
            } else {
                (*f).backward = (*x).backward;
            }
            while self.level > 1 && Node::forward(self.header, self.level - 1).is_null() {
                self.level -= 1;
            }
            self.len -= 1;
        }
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
                    let f = Node::forward(x, i);
                    if f.is_null() || !pred((*f).score, Node::member(f)) {
                        break;
                    }
                    r += Node::span(x, i);
                    x = f;
                }
            }
        }
        r
    }

    /// A member's 0-based rank and its score. O(log n).
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let x = self.index.find(member);
        if x.is_null() {
            return None;
        }
        // SAFETY: the index holds live nodes.
        let score = unsafe { (*x).score };
        Some((self.path_to(score, member).rank[0], score))
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
                    let f = Node::forward(x, i);
                    if f.is_null() || traversed + Node::span(x, i) > target {
                        break;
                    }
                    traversed += Node::span(x, i);
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
        // SAFETY: as in `path_to`; each node leaves the index and the list before it is freed.
        unsafe {
            let mut x = self.header;
            for i in (0..self.level).rev() {
                loop {
                    let fw = Node::forward(x, i);
                    if fw.is_null() || traversed + Node::span(x, i) > start {
                        break;
                    }
                    traversed += Node::span(x, i);
                    x = fw;
                }
                update[i] = x;
            }
            let mut x = Node::forward(x, 0);
            while !x.is_null() && traversed < end {
                let next = Node::forward(x, 0);
                self.index.take_node(x);
                self.unlink(x, &update);
                f((*x).score, Node::member(x));
                self.free(x);
                traversed += 1;
                x = next;
            }
        }
    }

    /// One ZSCAN step over the index; see `Index::scan`.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], f64)) -> u64 {
        // SAFETY: the index holds live nodes, borrowed for the call.
        self.index.scan(cursor, |x| unsafe { f(Node::member(x), (*x).score) })
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
            self.node = if self.rev { (*x).backward } else { Node::forward(x, 0) };
            Some((Node::member(x), (*x).score))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    type Model = Vec<(f64, Vec<u8>)>;

    fn sort(model: &mut Model) {
        model.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then(a.1.cmp(&b.1)));
    }

    fn contents(l: &SkipList) -> Model {
        l.iter_from(0, false).map(|(m, s)| (s, m.to_vec())).collect()
    }

    /// Every member of the model is found by the index, ranked right and the list agrees.
    fn check(l: &SkipList, model: &Model) {
        assert_eq!(l.len(), model.len());
        assert_eq!(l.index.len(), model.len());
        assert_eq!(contents(l), *model);
        for (i, (s, m)) in model.iter().enumerate() {
            assert_eq!(l.rank(m), Some((i, *s)));
            assert_eq!(l.score(m), Some(*s));
        }
        let expect: usize = Node::size(MAX_LEVEL, 0)
            + l.iter_from(0, false).map(|(m, _)| m.len()).sum::<usize>()
            // SAFETY (test): walks live nodes.
            + unsafe {
                let mut n = 0;
                let mut x = Node::forward(l.header, 0);
                while !x.is_null() {
                    n += Node::size((*x).level as usize, 0);
                    x = Node::forward(x, 0);
                }
                n
            };
        assert_eq!(l.node_bytes, expect);
        // SAFETY (test): walks live nodes and their links.
        unsafe {
            let mut x = l.header;
            while !x.is_null() {
                let levels = if x == l.header { l.level } else { (*x).level as usize };
                for i in 0..levels {
                    let f = Node::forward(x, i);
                    if !f.is_null() {
                        assert_eq!((*Node::link(x, i)).score.to_bits(), (*f).score.to_bits(), "stale link");
                    }
                }
                x = Node::forward(x, 0);
            }
        }
    }

    #[test]
    fn ranks_ranges_and_index_match_a_sorted_vec() {
        let mut l = SkipList::new();
        let mut model: Model = Vec::new();
        let mut rng = 12345u64;
        for i in 0..4000 {
            let r = crate::types::set::xorshift(&mut rng);
            let m = format!("m{}", r % 500).into_bytes();
            let s = (r % 37) as f64;
            if let Some(pos) = model.iter().position(|(_, mm)| *mm == m) {
                if i % 2 == 0 {
                    let (old, _) = model.remove(pos);
                    assert_eq!(l.remove(&m), Some(old));
                } else {
                    model[pos].0 = s;
                    sort(&mut model);
                    assert!(l.set_score(&m, s));
                }
            } else if i % 3 != 0 {
                model.push((s, m.clone()));
                sort(&mut model);
                l.insert(s, &m);
            }
            assert_eq!(l.len(), model.len());
        }
        check(&l, &model);
        assert_eq!(l.remove(b"absent"), None);
        assert!(!l.set_score(b"absent", 1.0));
        let back: Vec<Vec<u8>> = l.iter_from(model.len() - 1, true).map(|(m, _)| m.to_vec()).collect();
        assert_eq!(back.len(), model.len());
        assert_eq!(back[0], model.last().unwrap().1);
        assert_eq!(l.count_while(|s, _| s < 10.0), model.iter().filter(|e| e.0 < 10.0).count());
        let mut removed = Vec::new();
        l.remove_rank_range(5, 25, |_, m| removed.push(m.to_vec()));
        assert_eq!(removed.len(), 20);
        for m in &removed {
            assert_eq!(l.score(m), None, "removed from the index too");
        }
        model.drain(5..25);
        check(&l, &model);
        assert!(l.iter_from(model.len(), false).next().is_none());
    }

    #[test]
    fn score_updates_in_place_and_across_the_list() {
        let mut l = SkipList::new();
        for i in 0..100 {
            l.insert(i as f64, format!("m{i:03}").as_bytes());
        }
        assert!(l.set_score(b"m050", 50.5), "stays between its neighbours");
        assert!(l.set_score(b"m000", 1000.0));
        assert!(l.set_score(b"m099", -1.0));
        assert!(l.set_score(b"m010", 11.0), "ties with m011, sorts before it");
        let mut model: Model = l.iter_from(0, false).map(|(m, s)| (s, m.to_vec())).collect();
        sort(&mut model);
        check(&l, &model);
        assert_eq!(l.rank(b"m099"), Some((0, -1.0)));
        assert_eq!(l.rank(b"m000"), Some((99, 1000.0)));
        assert_eq!(l.rank(b"m010").unwrap().0 + 1, l.rank(b"m011").unwrap().0);
    }

    #[test]
    fn scan_reports_every_member_across_growth_and_shrinking() {
        let mut l = SkipList::new();
        for i in 0..1000 {
            l.insert(i as f64, format!("a{i}").as_bytes());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = l.scan(cursor, |m, _| {
                seen.insert(m.to_vec());
            });
            // Grow, then shrink, while the scan runs: the original members must all show up.
            step += 1;
            if step < 200 {
                l.insert(-(step as f64), format!("b{step}").as_bytes());
            } else if step < 400 {
                l.remove(format!("b{}", step - 199).as_bytes());
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..1000 {
            assert!(seen.contains(format!("a{i}").as_bytes()), "a{i} missed");
        }
        let mut big = SkipList::new();
        for i in 0..5000 {
            big.insert(0.0, format!("x{i}").as_bytes());
        }
        big.remove_rank_range(0, 4990, |_, _| ());
        // A shrink starts on a removal once the previous resize is over, as in Redis.
        while big.index.rehash_idx.is_some() {
            big.index.rehash_step();
        }
        let first = big.iter_from(0, false).next().unwrap().0.to_vec();
        assert_eq!(big.remove(&first), Some(0.0));
        while big.index.rehash_idx.is_some() {
            big.index.rehash_step();
        }
        assert!(big.index.bucket_count() <= 64, "shrank: {}", big.index.bucket_count());
        let mut n = 0;
        let mut cursor = 0;
        loop {
            cursor = big.scan(cursor, |_, _| n += 1);
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(n, 9);
    }

    #[test]
    fn long_members_and_high_levels() {
        let mut l = SkipList::new();
        let long = vec![b'x'; 100_000];
        l.insert(1.0, &long);
        l.insert(0.5, b"");
        assert_eq!(l.rank(&long), Some((1, 1.0)));
        assert_eq!(l.rank(b""), Some((0, 0.5)));
        let x = Node::alloc(MAX_LEVEL, 2.0, b"top");
        // SAFETY (test): links a fresh node of the highest level, as insert would.
        unsafe {
            l.node_bytes += Node::size(MAX_LEVEL, 3);
            l.link(x);
        }
        l.index.add(x);
        assert_eq!(l.level, MAX_LEVEL);
        assert_eq!(l.rank(b"top"), Some((2, 2.0)));
        assert_eq!(l.remove(b"top"), Some(2.0));
        assert!(l.level < MAX_LEVEL);
        let model: Model = vec![(0.5, b"".to_vec()), (1.0, long.clone())];
        check(&l, &model);
    }
}
