//! One shard's transaction queue and key intent locks (the shard side of `tx`).
//!
//! Intent locks are counters per (db, key): how many scheduled transactions mean to read the
//! key and how many mean to write it. Nothing ever blocks on them: a transaction records at
//! scheduling whether its keys were free (`granted`), and a plain command checks them before
//! it runs. The queue orders scheduled transactions by id; a transaction runs its hops when it
//! is granted or at the head of the queue.

use super::TxId;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A key a transaction locks on one shard: the hash of its database and bytes (see
/// `DbKey`), and whether it writes.
#[derive(Clone, Copy, Debug)]
pub struct LockKey {
    pub id: DbKey,
    pub write: bool,
}

impl LockKey {
    pub fn new(db: usize, key: &[u8], write: bool) -> LockKey {
        LockKey { id: key_hash(db as u16, key), write }
    }
}

#[derive(Default, Clone, Copy)]
struct Intent {
    readers: u32,
    writers: u32,
}

impl Intent {
    fn admits(&self, write: bool) -> bool {
        self.writers == 0 && (!write || self.readers == 0)
    }
}

struct Scheduled {
    granted: bool,
    keys: Vec<LockKey>,
    shard_wide: bool,
    waker: Option<Waker>,
}

/// A key's identity across databases: a 64-bit hash of (db, key). Two keys that collide
/// share their intents, which can only make the queue more careful, never less.
pub type DbKey = u64;

fn key_hash(db: u16, key: &[u8]) -> DbKey {
    static SEED: std::sync::OnceLock<ahash::RandomState> = std::sync::OnceLock::new();
    SEED.get_or_init(|| ahash::RandomState::with_seeds(5, 6, 7, 8)).hash_one((db, key))
}

/// Buckets of the concluded-transaction history (a power of two).
const HISTORY_BUCKETS: usize = 16384;

/// The largest ids of transactions that have concluded here, by key hash bucket: a lossy
/// memory of who already ran, so a late transaction with a smaller id is never put after
/// one that conflicts with it and has already run (a bucket collision only costs a retry).
struct History {
    /// Per bucket: the largest concluded ids of writers and of readers, side by side so a
    /// key's check touches one cache line.
    buckets: Vec<Concluded>,
    /// Largest concluded id of any transaction, and of whole-shard ones.
    any: TxId,
    shard_wide: TxId,
}

#[derive(Default, Clone, Copy)]
struct Concluded {
    writers: TxId,
    readers: TxId,
}

impl Default for History {
    fn default() -> Self {
        History { buckets: vec![Concluded::default(); HISTORY_BUCKETS], any: 0, shard_wide: 0 }
    }
}

fn bucket(id: DbKey) -> usize {
    // The key hash is already well mixed; its top bits pick the bucket.
    (id >> (64 - HISTORY_BUCKETS.trailing_zeros())) as usize
}

impl History {
    /// Whether a transaction with these locks that ran here already has a larger id than `tx`.
    fn ran_after(&self, tx: TxId, keys: &[LockKey], shard_wide: bool) -> bool {
        if shard_wide {
            return tx < self.any;
        }
        tx < self.shard_wide
            || keys.iter().any(|k| {
                let b = &self.buckets[bucket(k.id)];
                tx < b.writers || (k.write && tx < b.readers)
            })
    }

    fn record(&mut self, tx: TxId, keys: &[LockKey], shard_wide: bool) {
        self.any = self.any.max(tx);
        if shard_wide {
            self.shard_wide = self.shard_wide.max(tx);
        }
        for k in keys {
            let b = &mut self.buckets[bucket(k.id)];
            let slot = if k.write { &mut b.writers } else { &mut b.readers };
            *slot = (*slot).max(tx);
        }
    }
}

/// Hashes a `DbKey`, already a well-mixed 64-bit hash, to itself.
#[derive(Default)]
struct KeyIdHasher(u64);

impl Hasher for KeyIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The scheduled transactions, in id order. Short (the transactions in flight on one shard)
/// and nearly always appended to at the back, so a sorted deque beats a tree.
#[derive(Default)]
struct Queue(VecDeque<(TxId, Scheduled)>);

impl Queue {
    fn position(&self, tx: TxId) -> Result<usize, usize> {
        self.0.binary_search_by_key(&tx, |e| e.0)
    }

    fn get_mut(&mut self, tx: TxId) -> Option<&mut Scheduled> {
        self.position(tx).ok().map(|i| &mut self.0[i].1)
    }

    fn tail(&self) -> Option<TxId> {
        self.0.back().map(|e| e.0)
    }
}

#[derive(Default)]
pub struct TxQueue {
    intents: RefCell<HashMap<DbKey, Intent, BuildHasherDefault<KeyIdHasher>>>,
    /// Scheduled transactions that lock the whole shard (FLUSHALL, SWAPDB, KEYS...).
    shard_wide: Cell<u32>,
    queue: RefCell<Queue>,
    history: RefCell<History>,
    /// Scheduling attempts taken and refused here (INFO stats).
    pub scheduled: Cell<u64>,
    pub refused: Cell<u64>,
    /// Parts of split transactions (see `dispatch::pipeline`) run here at once, and batches
    /// carrying them that stopped and were handed back (INFO stats).
    pub split_parts_run: Cell<u64>,
    pub split_batches_stopped: Cell<u64>,
}

impl TxQueue {
    /// No transaction is scheduled here: every command may run at once (the hot-path check).
    pub fn is_idle(&self) -> bool {
        self.queue.borrow().0.is_empty()
    }

    /// Whether a plain command with these keys may run now without breaking the isolation of
    /// a scheduled transaction.
    pub fn admits<'k>(&self, db: usize, keys: impl Iterator<Item = &'k [u8]>, write: bool) -> bool {
        if self.is_idle() {
            return true;
        }
        if self.shard_wide.get() > 0 {
            return false;
        }
        let intents = self.intents.borrow();
        keys.into_iter().all(|k| intents.get(&key_hash(db as u16, k)).is_none_or(|i| i.admits(write)))
    }

    /// Schedules transaction `tx` with `keys` (or the whole shard). Fails, changing nothing,
    /// when `tx` would have to be put before a later transaction that its keys conflict with:
    /// that one may be queued and already have run ahead of the queue, or have concluded here
    /// already; the caller retries with a new id.
    pub fn schedule(&self, tx: TxId, keys: Vec<LockKey>, shard_wide: bool) -> bool {
        let taken = self.try_schedule(tx, keys, shard_wide);
        let counter = if taken { &self.scheduled } else { &self.refused };
        counter.set(counter.get() + 1);
        taken
    }

    /// Schedules `tx`, an id this core took from `next_id` just now, with nothing run in
    /// between: never refused. Every id that has reached this shard was taken before it (an
    /// id taken elsewhere later could only arrive in a message handled after this), so no
    /// larger id is queued or concluded here, and the history need not be read.
    pub fn schedule_fresh(&self, tx: TxId, keys: Vec<LockKey>, shard_wide: bool) {
        debug_assert!(!self.history.borrow().ran_after(tx, &keys, shard_wide));
        let taken = self.enqueue(tx, keys, shard_wide);
        debug_assert!(taken, "a fresh id is larger than every queued one");
        self.scheduled.set(self.scheduled.get() + 1);
    }

    fn try_schedule(&self, tx: TxId, keys: Vec<LockKey>, shard_wide: bool) -> bool {
        !self.history.borrow().ran_after(tx, &keys, shard_wide) && self.enqueue(tx, keys, shard_wide)
    }

    /// Queues `tx` with its intents, unless it would have to go before a later transaction
    /// its keys conflict with (which may have run ahead of the queue already).
    fn enqueue(&self, tx: TxId, keys: Vec<LockKey>, shard_wide: bool) -> bool {
        let mut queue = self.queue.borrow_mut();
        let granted = if shard_wide {
            queue.0.is_empty()
        } else {
            let intents = self.intents.borrow();
            self.shard_wide.get() == 0
                && keys.iter().all(|k| intents.get(&k.id).is_none_or(|i| i.admits(k.write)))
        };
        if !granted && queue.tail().is_some_and(|t| tx < t) {
            return false;
        }
        if shard_wide {
            self.shard_wide.set(self.shard_wide.get() + 1);
        }
        let mut intents = self.intents.borrow_mut();
        for k in &keys {
            let i = intents.entry(k.id).or_default();
            if k.write {
                i.writers += 1;
            } else {
                i.readers += 1;
            }
        }
        let scheduled = Scheduled { granted, keys, shard_wide, waker: None };
        match queue.position(tx) {
            Err(at) => queue.0.insert(at, (tx, scheduled)),
            Ok(i) => queue.0[i].1 = scheduled,
        }
        true
    }

    /// Whether `tx` may run its hop here now: its keys were free when it was scheduled, or
    /// every earlier transaction has finished here.
    pub fn runnable(&self, tx: TxId) -> bool {
        let queue = self.queue.borrow();
        match queue.position(tx) {
            Ok(i) => queue.0[i].1.granted || i == 0,
            Err(_) => panic!("transaction {tx:#x} runs a hop on a shard it is not scheduled on"),
        }
    }

    /// Waits until `tx` may run a hop here, if it is scheduled here at all.
    pub async fn until_runnable_if_scheduled(&self, tx: TxId) {
        if self.queue.borrow().position(tx).is_ok() {
            self.until_runnable(tx).await;
        }
    }

    /// Waits until `tx` may run a hop here.
    pub fn until_runnable(&self, tx: TxId) -> UntilRunnable<'_> {
        UntilRunnable { queue: self, tx }
    }

    /// Removes `tx` (finished, or unscheduled after a failed scheduling elsewhere), releases
    /// its intents and wakes the transactions that may now run.
    pub fn conclude(&self, tx: TxId) {
        let removed = {
            let mut queue = self.queue.borrow_mut();
            queue.position(tx).ok().and_then(|i| queue.0.remove(i))
        };
        let Some((_, s)) = removed else { return };
        self.history.borrow_mut().record(tx, &s.keys, s.shard_wide);
        if s.shard_wide {
            self.shard_wide.set(self.shard_wide.get() - 1);
        }
        {
            let mut intents = self.intents.borrow_mut();
            for k in s.keys {
                let id = k.id;
                if let Some(i) = intents.get_mut(&id) {
                    if k.write {
                        i.writers -= 1;
                    } else {
                        i.readers -= 1;
                    }
                    if i.readers == 0 && i.writers == 0 {
                        intents.remove(&id);
                    }
                }
            }
        }
        self.wake_head();
    }

    fn wake_head(&self) {
        let mut queue = self.queue.borrow_mut();
        if let Some((_, head)) = queue.0.front_mut()
            && let Some(w) = head.waker.take()
        {
            w.wake();
        }
    }

    pub fn len(&self) -> usize {
        self.queue.borrow().0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub struct UntilRunnable<'a> {
    queue: &'a TxQueue,
    tx: TxId,
}

impl Future for UntilRunnable<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.queue.runnable(self.tx) {
            return Poll::Ready(());
        }
        if let Some(s) = self.queue.queue.borrow_mut().get_mut(self.tx) {
            s.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str, write: bool) -> LockKey {
        LockKey::new(0, k.as_bytes(), write)
    }

    #[test]
    fn free_keys_are_granted_and_conflicts_wait_for_the_head() {
        let q = TxQueue::default();
        assert!(q.schedule(10, vec![key("a", true)], false));
        assert!(q.runnable(10));
        assert!(!q.admits(0, [&b"a"[..]].into_iter(), false));
        assert!(q.admits(0, [&b"b"[..]].into_iter(), true));
        assert!(q.schedule(11, vec![key("a", false), key("b", true)], false));
        assert!(!q.runnable(11));
        q.conclude(10);
        assert!(q.runnable(11));
        q.conclude(11);
        assert!(q.is_idle());
        assert!(q.admits(0, [&b"a"[..]].into_iter(), true));
    }

    #[test]
    fn readers_share_and_writers_exclude() {
        let q = TxQueue::default();
        assert!(q.schedule(1, vec![key("a", false)], false));
        assert!(q.schedule(2, vec![key("a", false)], false));
        assert!(q.runnable(2), "two readers run together");
        assert!(q.admits(0, [&b"a"[..]].into_iter(), false));
        assert!(!q.admits(0, [&b"a"[..]].into_iter(), true));
    }

    #[test]
    fn an_earlier_id_cannot_jump_a_conflicting_later_one() {
        let q = TxQueue::default();
        assert!(q.schedule(20, vec![key("a", true)], false));
        assert!(!q.schedule(15, vec![key("a", false)], false), "20 may have run already");
        assert!(q.schedule(16, vec![key("b", true)], false), "no conflict: may go first");
        assert!(q.runnable(16));
        assert!(q.schedule(30, vec![key("z", true)], true) || q.len() == 2);
    }

    #[test]
    fn a_late_earlier_id_cannot_go_after_a_conflicting_one_that_ran() {
        let q = TxQueue::default();
        assert!(q.schedule(20, vec![key("a", true)], false));
        q.conclude(20);
        assert!(!q.schedule(15, vec![key("a", false)], false), "20 wrote a already");
        assert!(q.schedule(16, vec![key("b", false)], false), "no conflict");
        assert!(q.schedule(21, vec![key("a", false)], false));
    }

    #[test]
    fn shard_wide_waits_for_everything_before_it() {
        let q = TxQueue::default();
        assert!(q.schedule(1, vec![key("a", true)], false));
        assert!(q.schedule(2, vec![], true));
        assert!(!q.runnable(2));
        assert!(!q.admits(0, [&b"zzz"[..]].into_iter(), false));
        assert!(q.schedule(3, vec![key("c", false)], false));
        assert!(!q.runnable(3), "nothing passes a shard-wide lock");
        q.conclude(1);
        assert!(q.runnable(2));
        q.conclude(2);
        assert!(q.runnable(3));
    }
}
