//! Chained hash table used as the keyspace of one shard, modelled on Redis's
//! `dict` (written from scratch).
//!
//! A `Dict` owns its keys (`Box<[u8]>`), its values and two power-of-two
//! bucket arrays of singly-linked chains. Resizing never happens in one go:
//! a second table is allocated and every mutating call migrates a few
//! buckets, so no single command pays for moving the whole keyspace. While
//! that migration runs, lookups consult both tables.
//!
//! SCAN guarantee: `scan` uses Redis's reverse-binary cursor. Every key that
//! is present from the first call (cursor 0) until a call returns 0 is passed
//! to the callback at least once, even if the table grows, shrinks or is
//! mid-rehash between calls. Keys may be reported more than once, and keys
//! inserted or removed during the scan may or may not be reported.

use std::mem;

use ahash::RandomState;

/// Smallest bucket array ever allocated; also the floor for shrinking.
const MIN_BUCKETS: usize = 4;
/// A table is shrunk once fewer than `buckets / SHRINK_RATIO` keys remain.
const SHRINK_RATIO: usize = 8;
/// Bound on work per mutating call, as a count of non-empty buckets moved;
/// empty buckets are cheaper, so ten times as many may be skipped.
const REHASH_BUCKETS_PER_OP: usize = 1;
const EMPTY_VISITS_PER_BUCKET: usize = 10;
/// Random probes before `random_key` falls back to a linear walk, which
/// keeps it terminating in bounded time on a very sparse table.
const RANDOM_PROBES: usize = 64;
/// `sample` looks at no more than this many buckets per requested entry.
/// At the sparsest steady state (load 1/8) about 8 buckets hold one entry,
/// so 16 leaves slack while keeping the worst case proportional to `n`.
const SAMPLE_STEPS_PER_ENTRY: usize = 16;

type Link<V> = Option<Box<Node<V>>>;

/// Asks the CPU to load the cache line at `p`.
#[inline]
pub(crate) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch(p as *const i8, core::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Keys up to this length are stored inside the node: no allocation, no cache miss to compare.
const INLINE_KEY_BYTES: usize = 22;

/// A node's key: inline when short, else on the heap. Derefs to its bytes.
#[derive(Clone)]
enum Key {
    Inline { len: u8, bytes: [u8; INLINE_KEY_BYTES] },
    Heap(Box<[u8]>),
}

impl Key {
    fn from_slice(k: &[u8]) -> Key {
        if k.len() <= INLINE_KEY_BYTES {
            let mut bytes = [0u8; INLINE_KEY_BYTES];
            bytes[..k.len()].copy_from_slice(k);
            Key::Inline { len: k.len() as u8, bytes }
        } else {
            Key::Heap(k.into())
        }
    }

    fn into_box(self) -> Box<[u8]> {
        match self {
            Key::Heap(b) => b,
            inline => Box::from(&*inline),
        }
    }
}

impl std::ops::Deref for Key {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..*len as usize],
            Key::Heap(b) => b,
        }
    }
}

struct Node<V> {
    key: Key,
    val: V,
    next: Link<V>,
}

struct Table<V> {
    buckets: Box<[Link<V>]>,
    used: usize,
}

impl<V> Table<V> {
    fn empty() -> Self {
        Table { buckets: Box::new([]), used: 0 }
    }

    /// `None` when the allocation fails: the caller then keeps the current
    /// table, trading longer chains for not aborting the server.
    fn with_buckets(n: usize) -> Option<Self> {
        let mut v: Vec<Link<V>> = Vec::new();
        v.try_reserve_exact(n).ok()?;
        v.resize_with(n, || None);
        Some(Table { buckets: v.into_boxed_slice(), used: 0 })
    }

    fn size(&self) -> usize {
        self.buckets.len()
    }

    fn mask(&self) -> usize {
        self.buckets.len().saturating_sub(1)
    }

    fn slot(&self, hash: u64) -> Option<&Link<V>> {
        self.buckets.get(hash as usize & self.mask())
    }

    fn slot_mut(&mut self, hash: u64) -> Option<&mut Link<V>> {
        let m = self.mask();
        self.buckets.get_mut(hash as usize & m)
    }

    fn find(&self, hash: u64, key: &[u8]) -> Option<&Node<V>> {
        let mut cur = self.slot(hash)?.as_deref();
        while let Some(n) = cur {
            if *n.key == *key {
                return Some(n);
            }
            cur = n.next.as_deref();
        }
        None
    }

    fn find_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Node<V>> {
        let mut cur = self.slot_mut(hash)?.as_deref_mut();
        while let Some(n) = cur {
            if *n.key == *key {
                return Some(n);
            }
            cur = n.next.as_deref_mut();
        }
        None
    }

    fn unlink(&mut self, hash: u64, key: &[u8]) -> Option<Box<Node<V>>> {
        let mut cur = self.slot_mut(hash)?;
        loop {
            match cur {
                None => return None,
                Some(n) if *n.key == *key => break,
                Some(n) => cur = &mut n.next,
            }
        }
        let mut node = cur.take()?;
        *cur = node.next.take();
        self.used -= 1;
        Some(node)
    }
}

impl<V> Drop for Table<V> {
    /// The derived drop would recurse once per chain node; a long chain
    /// (e.g. under hash flooding) must not be able to overflow the stack.
    fn drop(&mut self) {
        for slot in self.buckets.iter_mut() {
            let mut cur = slot.take();
            while let Some(mut n) = cur {
                cur = n.next.take();
            }
        }
    }
}

pub struct Dict<V> {
    ht: [Table<V>; 2],
    /// Next bucket of `ht[0]` to migrate; `Some` exactly while rehashing.
    rehash_idx: Option<usize>,
    hasher: RandomState,
    /// Kept incrementally so `mem_usage_bytes` is O(1).
    key_bytes: usize,
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> Dict<V> {
    /// Allocates no buckets until the first insert, so empty shards are free.
    /// The hasher is randomly seeded per process to resist hash flooding.
    pub fn new() -> Self {
        Dict {
            ht: [Table::empty(), Table::empty()],
            rehash_idx: None,
            hasher: RandomState::new(),
            key_bytes: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.ht[0].used + self.ht[1].used
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_rehashing(&self) -> bool {
        self.rehash_idx.is_some()
    }

    /// Total buckets across both tables.
    pub fn bucket_count(&self) -> usize {
        self.ht[0].size() + self.ht[1].size()
    }

    /// Estimated bytes owned by the table: the struct, both bucket arrays,
    /// one node per entry (including `V`'s inline size) and the key bytes.
    /// Heap memory owned by values and allocator overhead are excluded.
    pub fn mem_usage_bytes(&self) -> usize {
        mem::size_of::<Self>()
            + self.bucket_count() * mem::size_of::<Link<V>>()
            + self.len() * mem::size_of::<Node<V>>()
            + self.key_bytes
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.find(key).map(|n| &n.val)
    }

    pub fn get_key_value(&self, key: &[u8]) -> Option<(&[u8], &V)> {
        self.find(key).map(|n| (&*n.key, &n.val))
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    fn find(&self, key: &[u8]) -> Option<&Node<V>> {
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key);
        self.ht[0].find(h, key).or_else(|| self.ht[1].find(h, key))
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step(REHASH_BUCKETS_PER_OP);
        let h = self.hash(key);
        // Splitting the borrow lets us return from the first table and still
        // search the second one.
        let [t0, t1] = &mut self.ht;
        if let Some(n) = t0.find_mut(h, key) {
            return Some(&mut n.val);
        }
        t1.find_mut(h, key).map(|n| &mut n.val)
    }

    /// Hints the CPU to start loading the bucket `key` hashes to. A pipelined batch calls this
    /// for its upcoming keys so their cache misses overlap instead of queueing one by one.
    pub fn prefetch_bucket(&self, key: &[u8]) {
        if self.is_empty() {
            return;
        }
        let h = self.hash(key);
        if let Some(slot) = self.ht[0].slot(h) {
            prefetch(slot as *const Link<V> as *const u8);
        }
    }

    /// Hints the CPU to load the first node of `key`'s chain (after `prefetch_bucket`).
    pub fn prefetch_node(&self, key: &[u8]) {
        if self.is_empty() {
            return;
        }
        let h = self.hash(key);
        if let Some(Some(node)) = self.ht[0].slot(h) {
            prefetch(&**node as *const Node<V> as *const u8);
        }
    }

    /// Inserts or replaces; on replace the stored key is kept and the old
    /// value is returned.
    pub fn insert(&mut self, key: Box<[u8]>, v: V) -> Option<V> {
        self.insert_slice(&key, v)
    }

    /// Like `insert`, copying the key only when it is new.
    pub fn insert_slice(&mut self, key: &[u8], v: V) -> Option<V> {
        self.insert_with(key, || Key::from_slice(key), v)
    }

    fn insert_with(&mut self, key: &[u8], make_key: impl FnOnce() -> Key, v: V) -> Option<V> {
        self.rehash_step(REHASH_BUCKETS_PER_OP);
        let h = self.hash(key);
        let [t0, t1] = &mut self.ht;
        if let Some(n) = t0.find_mut(h, key) {
            return Some(mem::replace(&mut n.val, v));
        }
        if let Some(n) = t1.find_mut(h, key) {
            return Some(mem::replace(&mut n.val, v));
        }
        self.expand_if_needed();
        // New keys go to the destination table so the migration never has
        // to revisit them.
        let t = if self.is_rehashing() { &mut self.ht[1] } else { &mut self.ht[0] };
        let key_len = key.len();
        // Only reachable if even the first allocation failed; dropping the
        // entry is the least bad outcome short of aborting.
        let slot = t.slot_mut(h)?;
        let node = Box::new(Node { key: make_key(), val: v, next: slot.take() });
        *slot = Some(node);
        t.used += 1;
        self.key_bytes += key_len;
        None
    }

    /// Removes a key, returning only its value (no copy of the key is made).
    pub fn remove_value(&mut self, key: &[u8]) -> Option<V> {
        self.remove_node(key).map(|n| n.val)
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<(Box<[u8]>, V)> {
        self.remove_node(key).map(|n| (n.key.into_box(), n.val))
    }

    fn remove_node(&mut self, key: &[u8]) -> Option<Node<V>> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step(REHASH_BUCKETS_PER_OP);
        let h = self.hash(key);
        let node = match self.ht[0].unlink(h, key) {
            Some(n) => n,
            None => self.ht[1].unlink(h, key)?,
        };
        self.key_bytes -= node.key.len();
        self.shrink_if_needed();
        Some(*node)
    }

    /// Drops every entry and frees both bucket arrays.
    pub fn clear(&mut self) {
        self.ht = [Table::empty(), Table::empty()];
        self.rehash_idx = None;
        self.key_bytes = 0;
    }

    /// Lets an idle shard finish a pending resize from its cron instead of
    /// waiting for traffic. Returns whether rehashing is still in progress.
    pub fn rehash_steps(&mut self, buckets: usize) -> bool {
        self.rehash_step(buckets);
        self.is_rehashing()
    }

    fn expand_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        let len = self.len();
        if self.ht[0].size() == 0 {
            self.start_resize(MIN_BUCKETS);
        } else if len >= self.ht[0].size()
            && let Some(n) = len.checked_add(1).and_then(usize::checked_next_power_of_two)
        {
            self.start_resize(n);
        }
    }

    fn shrink_if_needed(&mut self) {
        let size = self.ht[0].size();
        if self.is_rehashing() || size <= MIN_BUCKETS || self.len() >= size / SHRINK_RATIO {
            return;
        }
        let target = self.len().max(MIN_BUCKETS).next_power_of_two();
        self.start_resize(target);
    }

    fn start_resize(&mut self, size: usize) {
        if size == self.ht[0].size() {
            return;
        }
        let Some(t) = Table::with_buckets(size) else {
            return;
        };
        if self.ht[0].size() == 0 {
            // Nothing to migrate: install directly.
            self.ht[0] = t;
        } else {
            self.ht[1] = t;
            self.rehash_idx = Some(0);
        }
    }

    fn rehash_step(&mut self, buckets: usize) {
        let Some(mut idx) = self.rehash_idx else {
            return;
        };
        let mut empty_left = buckets.saturating_mul(EMPTY_VISITS_PER_BUCKET);
        let mut moved = 0;
        let [t0, t1] = &mut self.ht;
        if t1.size() == 0 {
            // Cannot happen (a rehash always has a destination); bail out
            // rather than lose entries.
            self.rehash_idx = None;
            return;
        }
        while moved < buckets && t0.used > 0 {
            let Some(slot) = t0.buckets.get_mut(idx) else {
                // `used > 0` means a non-empty bucket lies at or after `idx`;
                // if that were ever violated, restart rather than index OOB.
                idx = 0;
                break;
            };
            idx += 1;
            let Some(head) = slot.take() else {
                empty_left = empty_left.saturating_sub(1);
                if empty_left == 0 {
                    break;
                }
                continue;
            };
            let mut cur = Some(head);
            while let Some(mut n) = cur {
                cur = n.next.take();
                let h = self.hasher.hash_one(&*n.key);
                if let Some(dst) = t1.slot_mut(h) {
                    n.next = dst.take();
                    *dst = Some(n);
                    t0.used -= 1;
                    t1.used += 1;
                }
            }
            moved += 1;
        }
        if t0.used == 0 {
            mem::swap(t0, t1);
            *t1 = Table::empty();
            self.rehash_idx = None;
        } else {
            self.rehash_idx = Some(idx);
        }
    }

    pub fn iter(&self) -> Iter<'_, V> {
        Iter {
            tables: [&self.ht[0].buckets, &self.ht[1].buckets],
            table: 0,
            bucket: 0,
            node: None,
            remaining: self.len(),
        }
    }

    /// One SCAN step; see the module docs for the guarantee. Start with
    /// cursor 0 and stop when 0 is returned.
    ///
    /// The cursor counts with its bits reversed, so its low bits pick the
    /// bucket in the smaller table and the higher bits enumerate that
    /// bucket's expansions in larger tables. Doubling or halving the table
    /// therefore only adds or drops high bits that have not been counted yet,
    /// so no bucket already covered is skipped.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], &V)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut v = cursor;
        let (small, large) = if !self.is_rehashing() {
            (&self.ht[0], None)
        } else if self.ht[0].size() <= self.ht[1].size() {
            (&self.ht[0], Some(&self.ht[1]))
        } else {
            (&self.ht[1], Some(&self.ht[0]))
        };
        let m0 = small.mask() as u64;
        emit_chain(small.slot(v), &mut f);
        let Some(large) = large else {
            return next_cursor(v, m0);
        };
        let m1 = large.mask() as u64;
        loop {
            emit_chain(large.slot(v), &mut f);
            v = next_cursor(v, m1);
            // Stop once the bits that distinguish the large table's
            // expansions of this small-table bucket have wrapped to zero.
            if v & (m0 ^ m1) == 0 {
                return v;
            }
        }
    }

    /// A roughly uniform random key: a random non-empty bucket, then a
    /// random node in its chain (so keys in long chains are slightly less
    /// likely, as in Redis).
    pub fn random_key(&self, rng: &mut u64) -> Option<&[u8]> {
        if self.is_empty() {
            return None;
        }
        let span = self.virtual_span();
        if span == 0 {
            return None;
        }
        let mut head = None;
        for _ in 0..RANDOM_PROBES {
            head = self.virtual_bucket((xorshift(rng) % span as u64) as usize);
            if head.is_some() {
                break;
            }
        }
        if head.is_none() {
            let start = (xorshift(rng) % span as u64) as usize;
            head = (0..span).find_map(|i| self.virtual_bucket((start + i) % span));
        }
        let head = head?;
        let chain_len = chain_iter(head).count() as u64;
        let pick = (xorshift(rng) % chain_len.max(1)) as usize;
        chain_iter(head).nth(pick).map(|n| &*n.key)
    }

    /// Passes up to `n` distinct entries to `f`, walking buckets forward from
    /// a random one. Cheap and biased toward clustering, which is fine for
    /// expiry and eviction sampling; may yield fewer than `n` on sparse
    /// tables because the walk is bounded.
    pub fn sample(&self, rng: &mut u64, n: usize, mut f: impl FnMut(&[u8], &V)) {
        let want = n.min(self.len());
        let span = self.virtual_span();
        if want == 0 || span == 0 {
            return;
        }
        let steps = span.min(want.saturating_mul(SAMPLE_STEPS_PER_ENTRY));
        let start = (xorshift(rng) % span as u64) as usize;
        let mut got = 0;
        for i in 0..steps {
            let Some(head) = self.virtual_bucket((start + i) % span) else {
                continue;
            };
            for node in chain_iter(head) {
                f(&node.key, &node.val);
                got += 1;
                if got == want {
                    return;
                }
            }
        }
    }

    /// Buckets that can hold entries: the unmigrated tail of `ht[0]` plus
    /// all of `ht[1]`. Viewing them as one range makes random picks fair
    /// across tables during a rehash.
    fn virtual_span(&self) -> usize {
        let skip = self.rehash_idx.unwrap_or(0).min(self.ht[0].size());
        self.ht[0].size() - skip + self.ht[1].size()
    }

    fn virtual_bucket(&self, i: usize) -> Option<&Node<V>> {
        let skip = self.rehash_idx.unwrap_or(0).min(self.ht[0].size());
        let live0 = self.ht[0].size() - skip;
        let slot =
            if i < live0 { self.ht[0].buckets.get(skip + i) } else { self.ht[1].buckets.get(i - live0) };
        slot?.as_deref()
    }
}

/// Adds one to the cursor's bits above `mask` counted from the top, i.e. a
/// binary increment of the bit-reversed cursor. Bits outside the mask are set
/// first so the carry propagates straight into the unmasked high bits.
fn next_cursor(v: u64, mask: u64) -> u64 {
    (v | !mask).reverse_bits().wrapping_add(1).reverse_bits()
}

fn emit_chain<V>(slot: Option<&Link<V>>, f: &mut impl FnMut(&[u8], &V)) {
    if let Some(head) = slot.and_then(|s| s.as_deref()) {
        for n in chain_iter(head) {
            f(&n.key, &n.val);
        }
    }
}

fn chain_iter<V>(head: &Node<V>) -> impl Iterator<Item = &Node<V>> {
    std::iter::successors(Some(head), |n| n.next.as_deref())
}

fn xorshift(state: &mut u64) -> u64 {
    // Zero is a fixed point of xorshift; substitute any non-zero seed.
    let mut x = if *state == 0 { 0x9E37_79B9_7F4A_7C15 } else { *state };
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// Iterator over all entries in unspecified order.
pub struct Iter<'a, V> {
    tables: [&'a [Link<V>]; 2],
    table: usize,
    bucket: usize,
    node: Option<&'a Node<V>>,
    remaining: usize,
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (&'a [u8], &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(n) = self.node {
                self.node = n.next.as_deref();
                self.remaining = self.remaining.saturating_sub(1);
                return Some((&n.key, &n.val));
            }
            let t = self.tables.get(self.table)?;
            match t.get(self.bucket) {
                Some(slot) => {
                    self.node = slot.as_deref();
                    self.bucket += 1;
                }
                None => {
                    self.table += 1;
                    self.bucket = 0;
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<V> ExactSizeIterator for Iter<'_, V> {}

impl<'a, V> IntoIterator for &'a Dict<V> {
    type Item = (&'a [u8], &'a V);
    type IntoIter = Iter<'a, V>;

    fn into_iter(self) -> Iter<'a, V> {
        self.iter()
    }
}

impl<V: std::fmt::Debug> std::fmt::Debug for Dict<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter().map(|(k, v)| (String::from_utf8_lossy(k), v))).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn key(i: u64) -> Box<[u8]> {
        format!("key:{i}").into_bytes().into_boxed_slice()
    }

    /// Structural invariants that every public operation must preserve.
    fn check_invariants<V>(d: &Dict<V>) {
        let mut seen = HashSet::new();
        let mut key_bytes = 0;
        for (ti, t) in d.ht.iter().enumerate() {
            assert!(t.size() == 0 || t.size().is_power_of_two());
            let mut count = 0;
            for (bi, slot) in t.buckets.iter().enumerate() {
                if ti == 0
                    && let Some(r) = d.rehash_idx
                {
                    assert!(bi >= r || slot.is_none(), "migrated bucket not empty");
                }
                let mut cur = slot.as_deref();
                while let Some(n) = cur {
                    assert_eq!(d.hash(&n.key) as usize & t.mask(), bi, "node in wrong bucket");
                    assert!(seen.insert(Box::<[u8]>::from(&*n.key)), "duplicate key across tables");
                    key_bytes += n.key.len();
                    count += 1;
                    cur = n.next.as_deref();
                }
            }
            assert_eq!(count, t.used);
        }
        if d.rehash_idx.is_none() {
            assert_eq!(d.ht[1].size(), 0);
            assert_eq!(d.ht[1].used, 0);
        } else {
            assert!(d.ht[1].size() > 0);
        }
        assert_eq!(key_bytes, d.key_bytes);
        assert_eq!(seen.len(), d.len());
    }

    fn full_scan<V>(d: &Dict<V>) -> Vec<Box<[u8]>> {
        let mut out = Vec::new();
        let mut cursor = 0;
        for _ in 0..10_000_000 {
            cursor = d.scan(cursor, |k, _| out.push(Box::from(k)));
            if cursor == 0 {
                return out;
            }
        }
        panic!("scan did not terminate");
    }

    #[test]
    fn empty_dict() {
        let mut d: Dict<u32> = Dict::new();
        let mut rng = 1;
        assert!(d.is_empty());
        assert_eq!(d.len(), 0);
        assert_eq!(d.bucket_count(), 0);
        assert_eq!(d.get(b"x"), None);
        assert_eq!(d.get_mut(b"x"), None);
        assert_eq!(d.get_key_value(b"x"), None);
        assert!(!d.contains_key(b""));
        assert!(d.remove(b"x").is_none());
        assert_eq!(d.scan(0, |_, _| panic!("called on empty")), 0);
        assert_eq!(d.scan(12345, |_, _| panic!("called on empty")), 0);
        assert_eq!(d.random_key(&mut rng), None);
        d.sample(&mut rng, 10, |_, _| panic!("called on empty"));
        assert_eq!(d.iter().count(), 0);
        assert!(!d.rehash_steps(100));
        d.clear();
        check_invariants(&d);
        assert_eq!(format!("{d:?}"), "{}");

        // Emptied after use: buckets remain but behaviour is the same.
        d.insert(key(1), 1);
        assert_eq!(d.remove(b"key:1"), Some((key(1), 1)));
        assert!(d.is_empty());
        assert_eq!(d.random_key(&mut rng), None);
        assert_eq!(d.scan(0, |_, _| panic!("called on empty")), 0);
        check_invariants(&d);
    }

    #[test]
    fn basic_operations() {
        let mut d = Dict::new();
        assert_eq!(d.insert(key(1), "a"), None);
        assert_eq!(d.insert(key(2), "b"), None);
        assert_eq!(d.insert(key(1), "c"), Some("a"));
        assert_eq!(d.len(), 2);
        assert_eq!(d.get(b"key:1"), Some(&"c"));
        assert_eq!(d.get_key_value(b"key:2"), Some((&b"key:2"[..], &"b")));
        assert!(d.contains_key(b"key:2"));
        *d.get_mut(b"key:2").unwrap() = "z";
        assert_eq!(d.get(b"key:2"), Some(&"z"));
        assert_eq!(d.remove(b"key:2"), Some((key(2), "z")));
        assert_eq!(d.remove(b"key:2"), None);
        // Empty and binary keys are ordinary keys.
        d.insert(Box::from(&b""[..]), "empty");
        d.insert(Box::from(&[0u8, 255, 0][..]), "bin");
        assert_eq!(d.get(b""), Some(&"empty"));
        assert_eq!(d.get(&[0, 255, 0]), Some(&"bin"));
        check_invariants(&d);
        d.clear();
        assert!(d.is_empty());
        assert_eq!(d.bucket_count(), 0);
        check_invariants(&d);
    }

    #[test]
    fn random_ops_match_hashmap_model() {
        for seed in 1..=12u64 {
            let mut rng = seed * 0x1234_5678_9abc_def1;
            let mut d: Dict<u64> = Dict::new();
            let mut model: HashMap<Box<[u8]>, u64> = HashMap::new();
            // Alternate key-space sizes so the table repeatedly grows and
            // shrinks, with operations landing mid-rehash.
            for phase in 0..8u64 {
                let space = [16, 3000, 40, 20_000, 8, 5000, 200, 1][phase as usize];
                let insert_bias = if phase % 2 == 0 { 30 } else { 60 };
                for _ in 0..6000 {
                    let r = xorshift(&mut rng);
                    let k = key(r % space);
                    match (r >> 32) % 100 {
                        x if x < insert_bias => {
                            assert_eq!(d.insert(k.clone(), r), model.insert(k, r));
                        }
                        x if x < 85 => assert_eq!(d.remove(&k), model.remove_entry(&k)),
                        x if x < 92 => {
                            let a = d.get_mut(&k).map(|v| {
                                *v += 1;
                                *v
                            });
                            let b = model.get_mut(&k).map(|v| {
                                *v += 1;
                                *v
                            });
                            assert_eq!(a, b);
                        }
                        x if x < 99 => {
                            assert_eq!(d.get(&k), model.get(&k));
                            assert_eq!(d.contains_key(&k), model.contains_key(&k));
                        }
                        _ => {
                            if r.is_multiple_of(50) {
                                d.clear();
                                model.clear();
                            }
                        }
                    }
                    assert_eq!(d.len(), model.len());
                }
                check_invariants(&d);
                let got: HashMap<Box<[u8]>, u64> = d.iter().map(|(k, v)| (Box::from(k), *v)).collect();
                assert_eq!(got, model);
                assert_eq!(d.iter().len(), model.len());
                for (k, v) in &model {
                    assert_eq!(d.get_key_value(k), Some((&k[..], v)));
                }
            }
        }
    }

    #[test]
    fn grows_and_shrinks_with_bounded_load() {
        let mut d = Dict::new();
        for i in 0..10_000 {
            d.insert(key(i), i);
        }
        while d.rehash_steps(1000) {}
        assert!(d.bucket_count() >= 10_000 && d.bucket_count() <= 32_768);
        for i in 0..9_990 {
            d.remove(&key(i));
        }
        while d.rehash_steps(1000) {}
        // One more removal lets a pending shrink start now that rehash is done.
        d.remove(&key(9_990));
        while d.rehash_steps(1000) {}
        // 9 keys: shrinking stops once load is back above 1/8.
        assert!(d.bucket_count() <= 9 * SHRINK_RATIO, "buckets {}", d.bucket_count());
        assert!(d.bucket_count() >= MIN_BUCKETS);
        check_invariants(&d);
        for i in 9_991..10_000 {
            assert_eq!(d.get(&key(i)), Some(&i));
        }
    }

    #[test]
    fn scan_stable_table_returns_each_key_once() {
        let mut d = Dict::new();
        for i in 0..5000 {
            d.insert(key(i), i);
        }
        while d.rehash_steps(100) {}
        let got = full_scan(&d);
        assert_eq!(got.len(), 5000);
        let set: HashSet<_> = got.into_iter().collect();
        assert_eq!(set.len(), 5000);
    }

    #[test]
    fn scan_returns_all_keys_when_started_mid_rehash() {
        let mut d = Dict::new();
        for i in 0..4097 {
            d.insert(key(i), i);
        }
        assert!(d.is_rehashing());
        let set: HashSet<_> = full_scan(&d).into_iter().collect();
        assert_eq!(set.len(), 4097);
    }

    /// Keys present for the whole scan must all be reported, while the
    /// table is forced to grow several times and then shrink several times
    /// between scan calls, with many calls landing mid-rehash.
    #[test]
    fn scan_complete_across_growth_and_shrink() {
        for seed in 1..=6u64 {
            let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut d = Dict::new();
            let stable: Vec<u64> = (0..300).collect();
            for &i in &stable {
                d.insert(key(i), i);
            }
            while d.rehash_steps(100) {}
            let start_buckets = d.bucket_count();
            let mut extra_next = 1_000_000u64;
            let mut extras: Vec<u64> = Vec::new();
            let mut seen = HashSet::new();
            let (mut max_b, mut min_b_after_peak) = (start_buckets, usize::MAX);
            let mut calls_while_rehashing = 0;
            let mut cursor = 0;
            let mut calls = 0u64;
            loop {
                if d.is_rehashing() {
                    calls_while_rehashing += 1;
                }
                cursor = d.scan(cursor, |k, _| {
                    seen.insert(Box::<[u8]>::from(k));
                });
                calls += 1;
                if cursor == 0 {
                    break;
                }
                assert!(calls < 5_000_000, "scan did not terminate");
                // Random batch sizes so scan calls interleave with rehash
                // progress at varying points.
                let batch = (xorshift(&mut rng) % 400) as usize;
                if calls < 120 {
                    for _ in 0..batch {
                        d.insert(key(extra_next), 0);
                        extras.push(extra_next);
                        extra_next += 1;
                    }
                } else {
                    for _ in 0..batch {
                        match extras.pop() {
                            Some(e) => {
                                d.remove(&key(e));
                            }
                            // Churn non-stable keys so shrinks keep
                            // getting a chance to run.
                            None => {
                                d.insert(key(1), 1);
                                d.remove(&key(extra_next));
                            }
                        }
                    }
                }
                max_b = max_b.max(d.bucket_count());
                if extras.is_empty() {
                    min_b_after_peak = min_b_after_peak.min(d.bucket_count());
                }
            }
            for &i in &stable {
                assert!(seen.contains(&key(i)), "seed {seed}: key {i} missed by scan");
            }
            assert!(max_b >= start_buckets * 16, "table did not grow enough mid-scan");
            assert!(min_b_after_peak < max_b / 4, "table did not shrink mid-scan");
            assert!(calls_while_rehashing > 10, "no scan calls during rehash");
            check_invariants(&d);
        }
    }

    #[test]
    fn scan_handles_arbitrary_cursors() {
        let mut d = Dict::new();
        for i in 0..100 {
            d.insert(key(i), i);
        }
        for c in [u64::MAX, 1 << 63, 0xdead_beef, 7] {
            let mut cursor = c;
            for _ in 0..10_000 {
                cursor = d.scan(cursor, |_, _| {});
                if cursor == 0 {
                    break;
                }
            }
            assert_eq!(cursor, 0);
        }
    }

    #[test]
    fn random_key_returns_existing_keys() {
        let mut d = Dict::new();
        let mut rng = 42;
        for i in 0..10 {
            d.insert(key(i), i);
        }
        let mut hit = HashSet::new();
        for _ in 0..5000 {
            let k = d.random_key(&mut rng).unwrap();
            assert!(d.contains_key(k));
            hit.insert(Box::<[u8]>::from(k));
        }
        assert_eq!(hit.len(), 10, "some keys never picked");

        // Sparse and mid-rehash: grow big, then delete almost everything.
        for i in 10..50_000 {
            d.insert(key(i), i);
        }
        for i in 0..49_995 {
            d.remove(&key(i));
            if i.is_multiple_of(997) {
                let k = d.random_key(&mut rng).unwrap();
                assert!(d.contains_key(k));
            }
        }
        for _ in 0..1000 {
            let k = d.random_key(&mut rng).unwrap();
            assert!(d.contains_key(k));
        }
    }

    #[test]
    fn sample_yields_distinct_existing_entries() {
        let mut d = Dict::new();
        let mut rng = 7;
        for i in 0..1000 {
            d.insert(key(i), i);
        }
        for n in [0, 1, 5, 20, 2000] {
            for _ in 0..50 {
                let mut got = HashSet::new();
                d.sample(&mut rng, n, |k, v| {
                    assert_eq!(d.get(k), Some(v));
                    assert!(got.insert(Box::<[u8]>::from(k)), "duplicate in sample");
                });
                assert!(got.len() <= n.min(d.len()));
                if n <= 20 {
                    // Dense table (load >= 1/2): bounded walk still fills up.
                    assert_eq!(got.len(), n);
                }
            }
        }
        // Mid-rehash sampling also only sees live entries.
        for i in 1000..1100 {
            d.insert(key(i), i);
        }
        assert!(d.is_rehashing());
        let mut count = 0;
        d.sample(&mut rng, 50, |k, _| {
            assert!(d.contains_key(k));
            count += 1;
        });
        assert!(count > 0);
    }

    #[test]
    fn mem_usage_tracks_contents() {
        let mut d: Dict<u64> = Dict::new();
        let base = d.mem_usage_bytes();
        assert_eq!(base, mem::size_of::<Dict<u64>>());
        d.insert(Box::from(&[1u8; 100][..]), 1);
        let one = d.mem_usage_bytes();
        assert!(one >= base + 100 + mem::size_of::<Node<u64>>());
        for i in 0..1000 {
            d.insert(key(i), i);
        }
        assert!(d.mem_usage_bytes() > one);
        d.clear();
        assert_eq!(d.mem_usage_bytes(), base);
    }

    #[test]
    fn long_chain_drops_without_stack_overflow() {
        let mut d: Dict<u8> = Dict::new();
        let mut head: Link<u8> = None;
        for _ in 0..1_000_000 {
            head = Some(Box::new(Node { key: Key::from_slice(b""), val: 0, next: head }));
        }
        d.ht[0] = Table { buckets: vec![head].into_boxed_slice(), used: 1_000_000 };
        drop(d);
    }

    #[test]
    fn xorshift_zero_state_advances() {
        let mut s = 0;
        let a = xorshift(&mut s);
        assert_ne!(a, 0);
        assert_ne!(xorshift(&mut s), a);
    }
}
