//! The large sorted-set encoding (reported as Redis's `skiplist`): an order-statistic B+tree
//! of (score, member) plus a hash index from member to element, both written from scratch.
//! Per-child element counts give every position query in O(log n): the rank of an element,
//! the element at a rank, and how many leading elements satisfy a monotone predicate (which is
//! how score and lex ranges become rank ranges). The index gives ZSCORE and friends in O(1).
//!
//! Why a B+tree and not Redis's skiplist: a large sorted set's writes are bound by the cache
//! misses of finding a position. A skiplist node is its own allocation, so a descent through
//! 100k members chases a dozen pointers to scattered nodes; here a leaf holds `CAP` (score,
//! element) pairs side by side, the inner nodes of a 100k set fit in the L2 cache, and a
//! descent costs about one miss per level below that. ZADD of random scores on a 100k-member
//! set went from 297-360k to 441-520k requests per second at pipeline 16 (see README).
//!
//! Layout: each member is one allocation, `Elem` (score, the index's chain link, length,
//! member bytes). Leaves hold up to `CAP` (score, element pointer) pairs in order, linked to
//! their neighbours for iteration both ways; inner nodes hold, per child, the child's largest
//! key (its score and element) and how many elements it holds. A comparison loads an element
//! (its member bytes) only on a score tie.
//!
//! Balance: a full node is split before the descent enters it (an insert at the very end of
//! the set splits off only the last entry, so sets filled in order keep their nodes nearly
//! full). A node that loses an entry merges with a neighbour while the two together fill at
//! most half a node (or one is under `CAP / 4` entries and they fit in one), and an empty node
//! is removed. So any two neighbours under one parent hold more than half a node's entries
//! between them, and the leaves take at most four slots (64 bytes) per element.
//!
//! The index is a chained hash table with Redis's incremental rehash (two bucket arrays while
//! growing or shrinking; each write moves a bucket) and Redis's reverse-binary SCAN cursor, so
//! ZSCAN keeps its guarantee across resizes: every member present for the whole scan is
//! reported at least once.
//!
//! Safety: every element is allocated by `Elem::alloc` and owned by exactly one tree, which
//! frees it exactly once; the index and the leaves only point at elements of that tree, and
//! nodes are owned by their parent (the root by the tree). Raw pointers never escape except as
//! borrows tied to `&self`.

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::mem::size_of;
use std::ptr::null_mut;

use ahash::RandomState;

/// Entries per node (leaf or inner).
const CAP: usize = 32;
/// A node with fewer entries than this merges with a neighbour when they fit in one.
const MIN_FILL: usize = CAP / 4;
/// Deeper than any tree of `CAP`-wide nodes that fits in memory (each level but the last
/// multiplies the elements by more than `MIN_FILL`).
const MAX_HEIGHT: usize = 24;

// ---- elements ----

/// Followed in memory by `mlen` member bytes.
#[repr(C)]
struct Elem {
    score: f64,
    /// The next element in the same index bucket.
    chain: *mut Elem,
    mlen: u32,
}

const ELEM: usize = size_of::<Elem>();

impl Elem {
    fn layout(mlen: usize) -> Layout {
        Layout::from_size_align(ELEM + mlen, std::mem::align_of::<Elem>()).expect("element layout")
    }

    fn alloc(score: f64, member: &[u8]) -> *mut Elem {
        assert!(member.len() <= u32::MAX as usize);
        let layout = Elem::layout(member.len());
        // SAFETY: the layout is non-zero sized; the header is written and the member copied in.
        unsafe {
            let p = alloc(layout) as *mut Elem;
            if p.is_null() {
                handle_alloc_error(layout);
            }
            p.write(Elem { score, chain: null_mut(), mlen: member.len() as u32 });
            std::ptr::copy_nonoverlapping(member.as_ptr(), (p as *mut u8).add(ELEM), member.len());
            p
        }
    }

    /// SAFETY: `p` came from `Elem::alloc` and is not used afterwards.
    unsafe fn free(p: *mut Elem) {
        unsafe { dealloc(p as *mut u8, Elem::layout((*p).mlen as usize)) }
    }

    /// SAFETY: `p` is a live element.
    unsafe fn member<'a>(p: *const Elem) -> &'a [u8] {
        unsafe { std::slice::from_raw_parts((p as *const u8).add(ELEM), (*p).mlen as usize) }
    }

    fn size(mlen: usize) -> usize {
        ELEM + mlen
    }
}

/// A position in the order: a score and the element whose member breaks ties.
#[derive(Clone, Copy)]
struct Key {
    score: f64,
    elem: *mut Elem,
}

impl Key {
    /// Whether this key sorts before (score, member); loads the element only on a score tie.
    ///
    /// SAFETY: `self.elem` is live.
    unsafe fn before(self, score: f64, member: &[u8]) -> bool {
        self.score < score || (self.score == score && unsafe { Elem::member(self.elem) } < member)
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
    buckets: Box<[*mut Elem]>,
    used: usize,
}

impl Table {
    fn empty() -> Table {
        Table { buckets: Box::new([]), used: 0 }
    }

    /// `None` when the allocation fails: the index then keeps its table, trading longer
    /// chains for not aborting.
    fn with_buckets(n: usize) -> Option<Table> {
        let mut v: Vec<*mut Elem> = Vec::new();
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
    fn slot(&mut self, hash: u64) -> &mut *mut Elem {
        let m = self.mask();
        &mut self.buckets[hash as usize & m]
    }

    fn find(&self, hash: u64, member: &[u8]) -> *mut Elem {
        let Some(&head) = self.buckets.get(hash as usize & self.mask()) else {
            return null_mut();
        };
        let mut x = head;
        // SAFETY: chains hold only live elements.
        unsafe {
            while !x.is_null() && Elem::member(x) != member {
                x = (*x).chain;
            }
        }
        x
    }

    /// Unlinks `target` from its chain; false if it is not in this table.
    fn unlink(&mut self, hash: u64, target: *mut Elem) -> bool {
        if self.size() == 0 {
            return false;
        }
        let mut link: *mut *mut Elem = self.slot(hash);
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

    fn find(&self, member: &[u8]) -> *mut Elem {
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
                super::dict::prefetch(b as *const *mut Elem as *const u8);
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
    fn add(&mut self, x: *mut Elem) {
        self.rehash_step();
        self.expand_if_needed();
        // SAFETY: `x` is a live node not in any chain.
        let h = self.hash(unsafe { Elem::member(x) });
        // New members go to the destination table so the migration never revisits them.
        let t = if self.rehash_idx.is_some() { &mut self.ht[1] } else { &mut self.ht[0] };
        let slot = t.slot(h);
        // SAFETY: as above.
        unsafe { (*x).chain = *slot };
        *slot = x;
        t.used += 1;
    }

    /// Unlinks the node holding `member`, if any, and returns it.
    fn take(&mut self, member: &[u8]) -> *mut Elem {
        let x = self.find(member);
        if !x.is_null() {
            self.take_node(x);
        }
        x
    }

    /// Unlinks a node that is in the index.
    fn take_node(&mut self, x: *mut Elem) {
        self.rehash_step();
        // SAFETY: `x` is a live, indexed node.
        let h = self.hash(unsafe { Elem::member(x) });
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
                    let slot = t1.slot(self.hasher.hash_one(Elem::member(x)));
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
    fn scan(&self, cursor: u64, mut f: impl FnMut(*mut Elem)) -> u64 {
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
            // SAFETY: chains hold only live elements.
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

// ---- nodes ----

#[repr(C)]
struct Leaf {
    len: usize,
    prev: *mut Leaf,
    next: *mut Leaf,
    keys: [Key; CAP],
}

#[repr(C)]
struct Inner {
    len: usize,
    /// Per child: its largest key.
    keys: [Key; CAP],
    /// Per child: how many elements it holds.
    counts: [usize; CAP],
    /// Leaves when the node is one level above the leaves, else inner nodes.
    children: [*mut u8; CAP],
}

const NO_KEY: Key = Key { score: 0.0, elem: null_mut() };

impl Leaf {
    fn alloc() -> *mut Leaf {
        Box::into_raw(Box::new(Leaf { len: 0, prev: null_mut(), next: null_mut(), keys: [NO_KEY; CAP] }))
    }
}

impl Inner {
    fn alloc() -> *mut Inner {
        Box::into_raw(Box::new(Inner {
            len: 0,
            keys: [NO_KEY; CAP],
            counts: [0; CAP],
            children: [null_mut(); CAP],
        }))
    }
}

/// The first of `keys` that does not sort before (score, member) (`keys.len()` if none).
///
/// SAFETY: the keys' elements are live.
unsafe fn lower_bound(keys: &[Key], score: f64, member: &[u8]) -> usize {
    let (mut lo, mut hi) = (0, keys.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if unsafe { keys[mid].before(score, member) } {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Entries of a node of height `h` (0: a leaf).
///
/// SAFETY: `node` is a live node of that height.
unsafe fn node_len(node: *mut u8, h: usize) -> usize {
    unsafe { if h == 0 { (*(node as *mut Leaf)).len } else { (*(node as *mut Inner)).len } }
}

/// The largest key of a non-empty node of height `h`.
///
/// SAFETY: as `node_len`, and the node has entries.
unsafe fn node_max(node: *mut u8, h: usize) -> Key {
    unsafe {
        if h == 0 {
            let l = &*(node as *mut Leaf);
            l.keys[l.len - 1]
        } else {
            let n = &*(node as *mut Inner);
            n.keys[n.len - 1]
        }
    }
}

/// Whether the element in slot `pos` of `leaf` may take `score` without moving: it has
/// neighbours on both sides in this leaf and they still bracket (score, member).
///
/// SAFETY: the leaf's elements are live and `pos < leaf.len`.
unsafe fn stays_in_place(leaf: &Leaf, pos: usize, score: f64, member: &[u8]) -> bool {
    if pos == 0 || pos + 1 >= leaf.len {
        return false;
    }
    let next = leaf.keys[pos + 1];
    unsafe {
        leaf.keys[pos - 1].before(score, member)
            && (score < next.score || (score == next.score && member < Elem::member(next.elem)))
    }
}

/// Whether two neighbouring nodes with these many entries are to be merged: together they
/// fill at most half a node, or one is under `MIN_FILL` and they fit in one. Every removal
/// that leaves a node under half full checks it against both neighbours (a fuller node
/// cannot be half of a pair that fills at most half a node), so any two neighbours under one
/// parent hold more than half a node's entries between them.
fn sparse_pair(a: usize, b: usize) -> bool {
    a + b <= CAP / 2 || (a.min(b) < MIN_FILL && a + b <= CAP)
}

/// Opens a gap at `at` in the first `len` entries of `a`.
fn insert_gap<T: Copy>(a: &mut [T; CAP], len: usize, at: usize) {
    a.copy_within(at..len, at + 1);
}

/// Closes the entry at `at` in the first `len` entries of `a`.
fn remove_at<T: Copy>(a: &mut [T; CAP], len: usize, at: usize) {
    a.copy_within(at + 1..len, at);
}

// ---- the tree ----

pub struct ZTree {
    /// A leaf when `height` is 0, else an inner node.
    root: *mut u8,
    height: usize,
    len: usize,
    index: Index,
    /// Bytes of all elements, and node counts, kept so `heap_bytes` is O(1).
    elem_bytes: usize,
    leaves: usize,
    inners: usize,
}

// SAFETY: the tree exclusively owns its nodes and elements; nothing is shared between trees.
unsafe impl Send for ZTree {}

impl Default for ZTree {
    fn default() -> ZTree {
        ZTree::new()
    }
}

impl Drop for ZTree {
    fn drop(&mut self) {
        // SAFETY: every node and element is reachable from the root exactly once.
        unsafe { free_subtree(self.root, self.height, true) }
    }
}

/// Frees a subtree's nodes, and its elements when `elems`.
///
/// SAFETY: `node` is a live node of height `h` owned by the caller; nothing uses it after.
unsafe fn free_subtree(node: *mut u8, h: usize, elems: bool) {
    unsafe {
        if h == 0 {
            let leaf = Box::from_raw(node as *mut Leaf);
            if elems {
                for k in &leaf.keys[..leaf.len] {
                    Elem::free(k.elem);
                }
            }
        } else {
            let inner = Box::from_raw(node as *mut Inner);
            for &c in &inner.children[..inner.len] {
                free_subtree(c, h - 1, elems);
            }
        }
    }
}

impl ZTree {
    pub fn new() -> ZTree {
        ZTree {
            root: Leaf::alloc() as *mut u8,
            height: 0,
            len: 0,
            index: Index::new(),
            elem_bytes: 0,
            leaves: 1,
            inners: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Prefetch hints for a lookup of `member` (see `shard::prefetch`): its index bucket,
    /// then, once that is loaded, the chain's first element.
    pub fn prefetch_member_bucket(&self, member: &[u8]) {
        self.index.prefetch_bucket(member);
    }

    pub fn prefetch_member_node(&self, member: &[u8]) {
        self.index.prefetch_node(member);
    }

    /// Bytes allocated for the elements, the nodes and the index (without allocator overhead).
    pub fn heap_bytes(&self) -> usize {
        self.elem_bytes
            + self.leaves * size_of::<Leaf>()
            + self.inners * size_of::<Inner>()
            + self.index.bucket_count() * size_of::<*mut Elem>()
    }

    /// The score of `member`, if present.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        let e = self.index.find(member);
        // SAFETY: the index holds live elements.
        (!e.is_null()).then(|| unsafe { (*e).score })
    }

    /// Inserts a member that is not present yet.
    pub fn insert(&mut self, score: f64, member: &[u8]) {
        debug_assert!(self.index.find(member).is_null(), "member already present");
        let e = Elem::alloc(score, member);
        self.elem_bytes += Elem::size(member.len());
        // SAFETY: `e` is a fresh element, in neither the tree nor the index.
        unsafe { self.place(e) };
        self.index.add(e);
    }

    /// Gives a present member a new score. False if the member is not there.
    pub fn set_score(&mut self, member: &[u8], score: f64) -> bool {
        let e = self.index.find(member);
        if e.is_null() {
            return false;
        }
        // SAFETY: `e` is a live element of this tree; it is taken out and put back, never freed.
        unsafe {
            if !self.displace(e, Some(score)) {
                (*e).score = score;
                self.place(e);
            }
        }
        true
    }

    /// Removes a member, returning its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let e = self.index.take(member);
        if e.is_null() {
            return None;
        }
        // SAFETY: `e` is a live element of this tree, now out of the index; freed once out.
        unsafe {
            let score = (*e).score;
            self.displace(e, None);
            self.free(e);
            Some(score)
        }
    }

    /// SAFETY: `e` is live, in neither the tree nor the index.
    unsafe fn free(&mut self, e: *mut Elem) {
        unsafe {
            self.elem_bytes -= Elem::size((*e).mlen as usize);
            Elem::free(e);
        }
    }

    /// Puts an element into the order at its (score, member) position.
    ///
    /// SAFETY: `e` is live and not in the tree.
    unsafe fn place(&mut self, e: *mut Elem) {
        unsafe {
            let (score, member) = ((*e).score, Elem::member(e));
            let key = Key { score, elem: e };
            if node_len(self.root, self.height) == CAP {
                let root = Inner::alloc();
                (*root).len = 1;
                (*root).keys[0] = node_max(self.root, self.height);
                (*root).counts[0] = self.len;
                (*root).children[0] = self.root;
                self.inners += 1;
                self.root = root as *mut u8;
                self.height += 1;
                let append = (*root).keys[0].before(score, member);
                self.split_child(root, 0, self.height - 1, append);
            }
            let (mut node, mut h) = (self.root, self.height);
            while h > 0 {
                let inner = &mut *(node as *mut Inner);
                let mut i = lower_bound(&inner.keys[..inner.len], score, member).min(inner.len - 1);
                if node_len(inner.children[i], h - 1) == CAP {
                    let append = i == inner.len - 1 && inner.keys[i].before(score, member);
                    self.split_child(inner, i, h - 1, append);
                    if inner.keys[i].before(score, member) {
                        i += 1;
                    }
                }
                inner.counts[i] += 1;
                if inner.keys[i].before(score, member) {
                    inner.keys[i] = key;
                }
                node = inner.children[i];
                h -= 1;
            }
            let leaf = &mut *(node as *mut Leaf);
            let pos = lower_bound(&leaf.keys[..leaf.len], score, member);
            insert_gap(&mut leaf.keys, leaf.len, pos);
            leaf.keys[pos] = key;
            leaf.len += 1;
            self.len += 1;
        }
    }

    /// Splits the full child `i` of `parent` (which has room) in two; with `append` (an insert
    /// past the child's last key is coming) the new right node takes only the last entry.
    ///
    /// SAFETY: `parent` is a live inner node with fewer than `CAP` entries whose child `i`,
    /// of height `h`, is full.
    unsafe fn split_child(&mut self, parent: *mut Inner, i: usize, h: usize, append: bool) {
        unsafe {
            let p = &mut *parent;
            let keep = if append { CAP - 1 } else { CAP / 2 };
            let child = p.children[i];
            // Pointers stored in the tree (links, children) come straight from the allocations,
            // never from a reference, so no later reborrow invalidates them.
            let moved = CAP - keep;
            let (right, left_count, left_max, right_max) = if h == 0 {
                let (lp, rp) = (child as *mut Leaf, Leaf::alloc());
                {
                    let (l, r) = (&mut *lp, &mut *rp);
                    r.keys[..moved].copy_from_slice(&l.keys[keep..CAP]);
                    r.len = moved;
                    l.len = keep;
                }
                let next = (*lp).next;
                (*rp).prev = lp;
                (*rp).next = next;
                if !next.is_null() {
                    (*next).prev = rp;
                }
                (*lp).next = rp;
                self.leaves += 1;
                (rp as *mut u8, keep, (*lp).keys[keep - 1], (*rp).keys[moved - 1])
            } else {
                let (lp, rp) = (child as *mut Inner, Inner::alloc());
                let (l, r) = (&mut *lp, &mut *rp);
                r.keys[..moved].copy_from_slice(&l.keys[keep..CAP]);
                r.counts[..moved].copy_from_slice(&l.counts[keep..CAP]);
                r.children[..moved].copy_from_slice(&l.children[keep..CAP]);
                r.len = moved;
                l.len = keep;
                self.inners += 1;
                let left_count = l.counts[..keep].iter().sum();
                (rp as *mut u8, left_count, l.keys[keep - 1], r.keys[moved - 1])
            };
            insert_gap(&mut p.keys, p.len, i + 1);
            insert_gap(&mut p.counts, p.len, i + 1);
            insert_gap(&mut p.children, p.len, i + 1);
            p.len += 1;
            let total = p.counts[i];
            p.keys[i] = left_max;
            p.counts[i] = left_count;
            p.keys[i + 1] = right_max;
            p.counts[i + 1] = total - left_count;
            p.children[i + 1] = right;
        }
    }

    /// Takes an element out of the order (not out of the index), rebalancing on the way up.
    /// With `rescore`, first checks whether the element may simply take that score where it
    /// stands (its neighbours in its leaf still bracket it); it then does so, keeps its place
    /// and returns true.
    ///
    /// SAFETY: `e` is a live element of the tree, at the position its score gives.
    unsafe fn displace(&mut self, e: *mut Elem, rescore: Option<f64>) -> bool {
        unsafe {
            let (score, member) = ((*e).score, Elem::member(e));
            let mut path = [(null_mut::<Inner>(), 0usize); MAX_HEIGHT];
            let (mut node, mut h, mut depth) = (self.root, self.height, 0);
            while h > 0 {
                let inner = &mut *(node as *mut Inner);
                let i = lower_bound(&inner.keys[..inner.len], score, member);
                debug_assert!(i < inner.len);
                path[depth] = (inner as *mut Inner, i);
                depth += 1;
                node = inner.children[i];
                h -= 1;
            }
            let leaf = &mut *(node as *mut Leaf);
            let pos = lower_bound(&leaf.keys[..leaf.len], score, member);
            debug_assert!(pos < leaf.len && leaf.keys[pos].elem == e, "element not at its position");
            if let Some(new) = rescore
                && stays_in_place(leaf, pos, new, member)
            {
                // Not the leaf's last key, so no maximum above changes.
                (*e).score = new;
                leaf.keys[pos].score = new;
                return true;
            }
            for &(inner, i) in &path[..depth] {
                (*inner).counts[i] -= 1;
            }
            remove_at(&mut leaf.keys, leaf.len, pos);
            leaf.len -= 1;
            self.len -= 1;
            self.rebalance(&path[..depth], node);
            false
        }
    }

    /// After a removal below `path` (the inner nodes from the root down and the child taken in
    /// each) ending at `node`: refreshes each parent's key for its child, removes emptied
    /// nodes, merges an underfull node into a neighbour when they fit, and lowers the root.
    ///
    /// SAFETY: `path` and `node` are the live path of the removal.
    unsafe fn rebalance(&mut self, path: &[(*mut Inner, usize)], mut node: *mut u8) {
        unsafe {
            for (h, &(parent, i)) in path.iter().rev().enumerate() {
                let p = &mut *parent;
                if node_len(node, h) == 0 {
                    self.free_empty(node, h);
                    remove_at(&mut p.keys, p.len, i);
                    remove_at(&mut p.counts, p.len, i);
                    remove_at(&mut p.children, p.len, i);
                    p.len -= 1;
                } else {
                    p.keys[i] = node_max(node, h);
                    // Fuller nodes cannot be part of a sparse pair: no neighbour is looked at.
                    if node_len(node, h) < CAP / 2 {
                        self.merge_sparse(p, i, h);
                    }
                }
                node = parent as *mut u8;
            }
            while self.height > 0 && (*(self.root as *mut Inner)).len <= 1 {
                let root = Box::from_raw(self.root as *mut Inner);
                self.inners -= 1;
                self.height -= 1;
                if root.len == 1 {
                    self.root = root.children[0];
                } else {
                    self.root = Leaf::alloc() as *mut u8;
                    self.leaves += 1;
                    self.height = 0;
                }
            }
        }
    }

    /// Frees an emptied node, unlinking a leaf from its neighbours.
    ///
    /// SAFETY: `node` is live, of height `h`, has no entries, and its parent forgets it.
    unsafe fn free_empty(&mut self, node: *mut u8, h: usize) {
        unsafe {
            if h == 0 {
                let l = Box::from_raw(node as *mut Leaf);
                if !l.prev.is_null() {
                    (*l.prev).next = l.next;
                }
                if !l.next.is_null() {
                    (*l.next).prev = l.prev;
                }
                self.leaves -= 1;
            } else {
                drop(Box::from_raw(node as *mut Inner));
                self.inners -= 1;
            }
        }
    }

    /// Merges child `i` of `p` (of height `h`), which just lost an entry, with its neighbours
    /// for as long as it and one of them are sparse together (`sparse_pair`).
    ///
    /// SAFETY: `p` is live and `i < p.len`.
    unsafe fn merge_sparse(&mut self, p: &mut Inner, mut i: usize, h: usize) {
        // A leaf's length is its element count, which the parent holds: no load of the
        // neighbour (a cache miss) on every removal.
        let len_of =
            |p: &Inner, j: usize| if h == 0 { p.counts[j] } else { unsafe { node_len(p.children[j], h) } };
        loop {
            let len = len_of(p, i);
            if i + 1 < p.len && sparse_pair(len, len_of(p, i + 1)) {
                unsafe { self.merge_pair(p, i, h) };
            } else if i > 0 && sparse_pair(len_of(p, i - 1), len) {
                unsafe { self.merge_pair(p, i - 1, h) };
                i -= 1;
            } else {
                return;
            }
        }
    }

    /// Merges children `left` and `left + 1` of `p` (of height `h`) into the first.
    ///
    /// SAFETY: `p` is live, `left + 1 < p.len`, and the two children's entries fit in one node.
    unsafe fn merge_pair(&mut self, p: &mut Inner, left: usize, h: usize) {
        unsafe {
            let (a, b) = (p.children[left], p.children[left + 1]);
            if h == 0 {
                let (ap, b) = (a as *mut Leaf, Box::from_raw(b as *mut Leaf));
                {
                    let a = &mut *ap;
                    a.keys[a.len..a.len + b.len].copy_from_slice(&b.keys[..b.len]);
                    a.len += b.len;
                }
                (*ap).next = b.next;
                if !b.next.is_null() {
                    (*b.next).prev = ap;
                }
                self.leaves -= 1;
            } else {
                let (a, b) = (&mut *(a as *mut Inner), Box::from_raw(b as *mut Inner));
                a.keys[a.len..a.len + b.len].copy_from_slice(&b.keys[..b.len]);
                a.counts[a.len..a.len + b.len].copy_from_slice(&b.counts[..b.len]);
                a.children[a.len..a.len + b.len].copy_from_slice(&b.children[..b.len]);
                a.len += b.len;
                self.inners -= 1;
            }
            p.keys[left] = p.keys[left + 1];
            p.counts[left] += p.counts[left + 1];
            remove_at(&mut p.keys, p.len, left + 1);
            remove_at(&mut p.counts, p.len, left + 1);
            remove_at(&mut p.children, p.len, left + 1);
            p.len -= 1;
        }
    }

    /// How many leading elements satisfy `pred`, which must hold for a prefix of the order
    /// (e.g. "score < min"). O(log n).
    pub fn count_while(&self, mut pred: impl FnMut(f64, &[u8]) -> bool) -> usize {
        let mut r = 0;
        // SAFETY: follows live nodes and elements only.
        unsafe {
            let (mut node, mut h) = (self.root, self.height);
            while h > 0 {
                let inner = &*(node as *mut Inner);
                let mut i = 0;
                while i < inner.len && pred(inner.keys[i].score, Elem::member(inner.keys[i].elem)) {
                    r += inner.counts[i];
                    i += 1;
                }
                if i == inner.len {
                    return r;
                }
                node = inner.children[i];
                h -= 1;
            }
            let leaf = &*(node as *mut Leaf);
            for k in &leaf.keys[..leaf.len] {
                if !pred(k.score, Elem::member(k.elem)) {
                    break;
                }
                r += 1;
            }
        }
        r
    }

    /// A member's 0-based rank and its score. O(log n).
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let e = self.index.find(member);
        if e.is_null() {
            return None;
        }
        let mut r = 0;
        // SAFETY: the index holds live elements; follows live nodes only.
        unsafe {
            let score = (*e).score;
            let (mut node, mut h) = (self.root, self.height);
            while h > 0 {
                let inner = &*(node as *mut Inner);
                let i = lower_bound(&inner.keys[..inner.len], score, member);
                r += inner.counts[..i].iter().sum::<usize>();
                node = inner.children[i];
                h -= 1;
            }
            let leaf = &*(node as *mut Leaf);
            r += lower_bound(&leaf.keys[..leaf.len], score, member);
            Some((r, score))
        }
    }

    /// The leaf and slot of the element at 0-based `rank` (< len).
    fn slot_at(&self, rank: usize) -> (*mut Leaf, usize) {
        let mut path = [(null_mut::<Inner>(), 0usize); MAX_HEIGHT];
        let (_, leaf, pos) = self.path_to_rank(rank, &mut path);
        (leaf, pos)
    }

    /// The descent to the element at 0-based `rank` (< len): fills `path` with the inner
    /// nodes from the root down and the child taken in each, and returns its length, the
    /// leaf and the slot.
    fn path_to_rank(
        &self,
        mut rank: usize,
        path: &mut [(*mut Inner, usize); MAX_HEIGHT],
    ) -> (usize, *mut Leaf, usize) {
        // SAFETY: follows live nodes only; the counts add up to `len`.
        unsafe {
            let (mut node, mut h, mut depth) = (self.root, self.height, 0);
            while h > 0 {
                let inner = &*(node as *mut Inner);
                let mut i = 0;
                while rank >= inner.counts[i] {
                    rank -= inner.counts[i];
                    i += 1;
                }
                path[depth] = (node as *mut Inner, i);
                depth += 1;
                node = inner.children[i];
                h -= 1;
            }
            (depth, node as *mut Leaf, rank)
        }
    }

    /// Elements from 0-based `rank` on, ascending (or descending when `rev`, where `rank`
    /// still counts from the lowest).
    pub fn iter_from(&self, rank: usize, rev: bool) -> Iter<'_> {
        let (leaf, pos) = if rank < self.len { self.slot_at(rank) } else { (null_mut(), 0) };
        Iter { leaf, pos, rev, _tree: std::marker::PhantomData }
    }

    /// Removes the elements with 0-based ranks in `start..end`, passing each to `f` first.
    /// Each step descends once to the leaf holding rank `start` and takes the whole run of
    /// the range in that leaf, so the cost is one descent per leaf touched, not per element.
    pub fn remove_rank_range(&mut self, start: usize, end: usize, mut f: impl FnMut(f64, &[u8])) {
        let end = end.min(self.len);
        if start >= end {
            return;
        }
        if start == 0 && end == self.len {
            return self.clear(f);
        }
        let mut left = end - start;
        while left > 0 {
            let mut path = [(null_mut::<Inner>(), 0usize); MAX_HEIGHT];
            let (depth, leaf, rank) = self.path_to_rank(start, &mut path);
            // SAFETY: the leaf is live; the run's elements leave the index and the leaf before
            // they are freed, and the counts above drop by as many.
            unsafe {
                let take = ((*leaf).len - rank).min(left);
                for at in rank..rank + take {
                    let e = (*leaf).keys[at].elem;
                    f((*e).score, Elem::member(e));
                    self.index.take_node(e);
                    self.free(e);
                }
                {
                    let l = &mut *leaf;
                    l.keys.copy_within(rank + take..l.len, rank);
                    l.len -= take;
                }
                for &(inner, i) in &path[..depth] {
                    (*inner).counts[i] -= take;
                }
                self.len -= take;
                left -= take;
                self.rebalance(&path[..depth], leaf as *mut u8);
            }
        }
    }

    /// Removes every element, passing each to `f` first.
    fn clear(&mut self, mut f: impl FnMut(f64, &[u8])) {
        for (m, s) in self.iter_from(0, false) {
            f(s, m);
        }
        drop(std::mem::take(self));
    }

    /// One ZSCAN step over the index; see `Index::scan`.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], f64)) -> u64 {
        // SAFETY: the index holds live elements, borrowed for the call.
        self.index.scan(cursor, |e| unsafe { f(Elem::member(e), (*e).score) })
    }
}

pub struct Iter<'a> {
    leaf: *mut Leaf,
    pos: usize,
    rev: bool,
    _tree: std::marker::PhantomData<&'a ZTree>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<(&'a [u8], f64)> {
        if self.leaf.is_null() {
            return None;
        }
        // SAFETY: the leaf and its elements are live while the tree is borrowed; `pos` is one
        // of its slots.
        unsafe {
            let leaf = &*self.leaf;
            let k = leaf.keys[self.pos];
            if self.rev {
                if self.pos > 0 {
                    self.pos -= 1;
                } else {
                    self.leaf = leaf.prev;
                    self.pos = if self.leaf.is_null() { 0 } else { (*self.leaf).len - 1 };
                }
            } else if self.pos + 1 < leaf.len {
                self.pos += 1;
            } else {
                self.leaf = leaf.next;
                self.pos = 0;
            }
            Some((Elem::member(k.elem), k.score))
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

    fn contents(t: &ZTree) -> Model {
        t.iter_from(0, false).map(|(m, s)| (s, m.to_vec())).collect()
    }

    /// Checks a subtree's structure; returns (elements, largest key, inner nodes).
    fn check_node(
        node: *mut u8,
        h: usize,
        is_root: bool,
        leaves: &mut Vec<*mut Leaf>,
    ) -> (usize, Key, usize) {
        // SAFETY (test): walks the live tree.
        unsafe {
            let len = node_len(node, h);
            assert!(len > 0 || is_root, "empty non-root node");
            assert!(len <= CAP);
            if h == 0 {
                let l = &*(node as *mut Leaf);
                for w in l.keys[..l.len].windows(2) {
                    assert!(w[0].before(w[1].score, Elem::member(w[1].elem)), "leaf out of order");
                }
                for k in &l.keys[..l.len] {
                    assert_eq!(k.score.to_bits(), (*k.elem).score.to_bits(), "stale score in a leaf");
                }
                leaves.push(node as *mut Leaf);
                return (l.len, if l.len > 0 { l.keys[l.len - 1] } else { NO_KEY }, 0);
            }
            let n = &*(node as *mut Inner);
            for w in n.children[..n.len].windows(2) {
                assert!(node_len(w[0], h - 1) + node_len(w[1], h - 1) > CAP / 2, "two sparse neighbours");
            }
            let (mut total, mut inners) = (0, 1);
            for i in 0..n.len {
                let (count, max, below) = check_node(n.children[i], h - 1, false, leaves);
                assert_eq!(n.counts[i], count, "count of child {i}");
                assert!(
                    max.elem == n.keys[i].elem && max.score == n.keys[i].score,
                    "stale maximum of child {i}"
                );
                total += count;
                inners += below;
            }
            (total, n.keys[n.len - 1], inners)
        }
    }

    /// The tree's structure is sound, and it holds exactly the model.
    fn check(t: &ZTree, model: &Model) {
        assert_eq!(t.len(), model.len());
        assert_eq!(t.index.len(), model.len());
        assert_eq!(contents(t), *model);
        let mut leaves = Vec::new();
        let (count, _, inners) = check_node(t.root, t.height, true, &mut leaves);
        assert_eq!(count, model.len());
        assert_eq!((t.leaves, t.inners), (leaves.len(), inners));
        // SAFETY (test): the leaves are live.
        unsafe {
            for (i, &l) in leaves.iter().enumerate() {
                let prev = if i == 0 { null_mut() } else { leaves[i - 1] };
                let next = leaves.get(i + 1).copied().unwrap_or(null_mut());
                assert_eq!(((*l).prev, (*l).next), (prev, next), "leaf links");
            }
        }
        let back: Model =
            t.iter_from(model.len().saturating_sub(1), true).map(|(m, s)| (s, m.to_vec())).collect();
        assert_eq!(back, model.iter().rev().cloned().collect::<Model>());
        for (i, (s, m)) in model.iter().enumerate() {
            assert_eq!(t.rank(m), Some((i, *s)));
            assert_eq!(t.score(m), Some(*s));
        }
        let elems: usize = model.iter().map(|(_, m)| Elem::size(m.len())).sum();
        assert_eq!(t.elem_bytes, elems);
    }

    /// Random inserts, score updates and removals against a sorted vector, with few distinct
    /// scores (ties broken by member) and enough members for a tree of height 2 or more.
    fn random_edits(seed: u64, members: u64, scores: u64, steps: usize) {
        let mut t = ZTree::new();
        let mut model: Model = Vec::new();
        let mut rng = seed;
        for i in 0..steps {
            let r = crate::types::set::xorshift(&mut rng);
            let m = format!("m{}", r % members).into_bytes();
            let s = ((r >> 20) % scores) as f64;
            if let Some(pos) = model.iter().position(|(_, mm)| *mm == m) {
                if i % 3 == 0 {
                    let (old, _) = model.remove(pos);
                    assert_eq!(t.remove(&m), Some(old));
                } else {
                    model[pos].0 = s;
                    sort(&mut model);
                    assert!(t.set_score(&m, s));
                }
            } else {
                model.push((s, m.clone()));
                sort(&mut model);
                t.insert(s, &m);
            }
            if i % 997 == 0 {
                check(&t, &model);
            }
        }
        check(&t, &model);
        assert!(t.height >= 2 || members < 2000, "height {}", t.height);
        assert_eq!(
            t.count_while(|s, _| s < (scores / 2) as f64),
            model.iter().filter(|e| e.0 < (scores / 2) as f64).count()
        );
        let cut = model.len() / 3;
        let mut removed = Vec::new();
        t.remove_rank_range(cut, 2 * cut, |_, m| removed.push(m.to_vec()));
        assert_eq!(removed, model[cut..2 * cut].iter().map(|e| e.1.clone()).collect::<Vec<_>>());
        for m in &removed {
            assert_eq!(t.score(m), None, "removed from the index too");
        }
        model.drain(cut..2 * cut);
        check(&t, &model);
        // Short ranges anywhere, some past the end, some spanning several leaves.
        for _ in 0..40 {
            let r = crate::types::set::xorshift(&mut rng) as usize;
            let a = r % (model.len() + 1);
            let b = a + (r >> 20) % 90;
            let mut got = Vec::new();
            t.remove_rank_range(a, b, |s, m| got.push((s, m.to_vec())));
            let want: Model = model.drain(a..b.min(model.len())).collect();
            assert_eq!(got, want);
        }
        check(&t, &model);
        // Remove the rest one by one from the front: the tree shrinks back to one leaf.
        while let Some((s, m)) = model.first().cloned() {
            assert_eq!(t.remove(&m), Some(s));
            model.remove(0);
            if model.len().is_multiple_of(500) {
                check(&t, &model);
            }
        }
        check(&t, &model);
        assert_eq!((t.height, t.leaves, t.inners), (0, 1, 0));
    }

    #[test]
    fn random_edits_match_a_sorted_vec() {
        random_edits(12345, 500, 37, 4000);
        random_edits(777, 6000, 50, 30000);
        random_edits(4242, 6000, 1 << 30, 30000);
    }

    #[test]
    fn in_order_inserts_keep_nodes_full_and_clearing_everything_works() {
        let mut t = ZTree::new();
        for i in 0..10_000 {
            t.insert(i as f64, format!("m{i:05}").as_bytes());
        }
        let model: Model = (0..10_000).map(|i| (i as f64, format!("m{i:05}").into_bytes())).collect();
        check(&t, &model);
        assert!(t.leaves <= 10_000 / (CAP - 1) + 2, "{} leaves", t.leaves);
        let mut n = 0;
        t.remove_rank_range(0, usize::MAX, |_, _| n += 1);
        assert_eq!(n, 10_000);
        check(&t, &Vec::new());
        assert_eq!(t.heap_bytes(), size_of::<Leaf>() + t.index.bucket_count() * size_of::<*mut Elem>());
    }

    #[test]
    fn removals_that_thin_out_every_other_node_merge_them() {
        // Full leaves from an in-order load, then every other run of 32 cut to 1 member and
        // the runs between cut to 8: without merging, the leaves would end up [1, 8, 1, 8...].
        let mut t = ZTree::new();
        let name = |i: usize| format!("m{i:05}").into_bytes();
        for i in 0..4000 {
            t.insert(i as f64, &name(i));
        }
        let mut model: Model = Vec::new();
        for i in 0..4000 {
            let keep = if (i / 32) % 2 == 0 { i % 32 == 0 } else { i % 32 < 8 };
            if keep {
                model.push((i as f64, name(i)));
            } else {
                assert_eq!(t.remove(&name(i)), Some(i as f64));
            }
        }
        check(&t, &model);
        assert!(t.leaves * CAP <= 4 * model.len() + CAP, "{} leaves for {} members", t.leaves, model.len());
    }

    #[test]
    fn score_updates_in_place_and_across_the_tree() {
        let mut t = ZTree::new();
        for i in 0..100 {
            t.insert(i as f64, format!("m{i:03}").as_bytes());
        }
        assert!(t.set_score(b"m050", 50.5), "stays between its neighbours");
        assert!(t.set_score(b"m000", 1000.0));
        assert!(t.set_score(b"m099", -1.0));
        assert!(t.set_score(b"m010", 11.0), "ties with m011, sorts before it");
        let mut model = contents(&t);
        sort(&mut model);
        check(&t, &model);
        assert_eq!(t.rank(b"m099"), Some((0, -1.0)));
        assert_eq!(t.rank(b"m000"), Some((99, 1000.0)));
        assert_eq!(t.rank(b"m010").unwrap().0 + 1, t.rank(b"m011").unwrap().0);
        assert_eq!(t.remove(b"absent"), None);
        assert!(!t.set_score(b"absent", 1.0));
        assert!(t.iter_from(100, false).next().is_none());
    }

    #[test]
    fn scan_reports_every_member_across_growth_and_shrinking() {
        let mut t = ZTree::new();
        for i in 0..1000 {
            t.insert(i as f64, format!("a{i}").as_bytes());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = t.scan(cursor, |m, _| {
                seen.insert(m.to_vec());
            });
            // Grow, then shrink, while the scan runs: the original members must all show up.
            step += 1;
            if step < 200 {
                t.insert(-(step as f64), format!("b{step}").as_bytes());
            } else if step < 400 {
                t.remove(format!("b{}", step - 199).as_bytes());
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..1000 {
            assert!(seen.contains(format!("a{i}").as_bytes()), "a{i} missed");
        }
        let mut big = ZTree::new();
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
    fn long_and_empty_members() {
        let mut t = ZTree::new();
        let long = vec![b'x'; 100_000];
        t.insert(1.0, &long);
        t.insert(0.5, b"");
        assert_eq!(t.rank(&long), Some((1, 1.0)));
        assert_eq!(t.rank(b""), Some((0, 0.5)));
        let model: Model = vec![(0.5, b"".to_vec()), (1.0, long.clone())];
        check(&t, &model);
    }
}
