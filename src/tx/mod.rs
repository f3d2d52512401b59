//! Multi-key atomicity and isolation across shards: key-level scheduling in the style of
//! VLL ("very lightweight locking", as Dragonfly runs it), and on it MULTI/EXEC and WATCH.
//!
//! # The model
//! * Every operation that touches more than one shard is a *transaction* with an id from one
//!   global counter (`next_id`); ids order transactions.
//! * Each shard has a `queue::TxQueue`: the scheduled transactions ordered by id, and per key
//!   an *intent lock*, a pair of counters (readers, writers) of the scheduled transactions
//!   that will touch it. Nobody ever blocks on an intent lock; it is only consulted.
//! * A transaction is first *scheduled* on every shard it touches (one message each, all at
//!   once; `coordinator::begin`). On each shard this records its intents and whether its keys
//!   were free of conflicting intents at that moment (`granted`). Then it runs its *hops*:
//!   pieces of work on one shard each (run one command, read a value, write a value), and
//!   finally it is *concluded* everywhere, releasing its intents.
//! * A hop runs on a shard as soon as its transaction is `granted` there or is the head (the
//!   lowest id) of that shard's queue; until then the hop waits in a task of its own.
//! * A plain command (one shard, no id) runs at once when no scheduled transaction has a
//!   conflicting intent on its keys, which is the case that costs nothing: an empty queue.
//!   Otherwise it becomes a one-shard transaction itself and waits its turn like any other.
//! * Whole-shard operations (FLUSHALL, SWAPDB, KEYS, DBSIZE, and EXEC of a transaction that
//!   contains them) schedule a shard-wide intent that conflicts with everything.
//!
//! # Why it is serializable
//! Scheduling refuses (and the coordinator retries with a new, larger id) a transaction T
//! (a) whose keys conflict with intents already on the shard when some transaction with a
//! larger id is queued there, or (b) when a transaction with a larger id whose keys conflict
//! with T's has already concluded there (the shard remembers the largest concluded ids per
//! key hash bucket; a collision only costs a retry). No hop runs before the transaction is
//! scheduled on all its shards, so a refused transaction has run nowhere. Take two
//! conflicting transactions T1 < T2 on a shard S:
//! * if T2 was scheduled on S first, T1 is refused there, by (a) while T2 is queued and by
//!   (b) once it concluded: impossible;
//! * so T1 was scheduled first and T2, conflicting with T1's intents, is not granted: it runs
//!   only at the head of S's queue, i.e. after T1 has concluded on S.
//!
//! Hence on every shard where two transactions conflict they run in id order, and their
//! non-conflicting hops commute: the execution is equivalent to running the transactions one
//! by one in id order. A plain command runs only when no scheduled transaction has a
//! conflicting intent, so it is serialized between transactions at the moment it runs (it
//! can never observe or split the middle of one). Hence MGET sees one moment and MSET is seen
//! whole or not at all, and keys on shards a transaction does not touch are never stopped.
//!
//! # Why it cannot deadlock
//! A hop of transaction T waits on a shard only for transactions with smaller ids there (when
//! T is not granted, it waits to become the head). Transactions never wait for larger ids, so
//! the transaction with the smallest id in the system is runnable on all its shards and
//! finishes; by induction all do. Scheduling and concluding never wait at all; the per-peer
//! receiving tasks never wait (a hop that must wait gets a task of its own), so a
//! transaction's own messages are never stuck behind a waiting request on a channel; replies
//! are received by tasks that never block. Scheduling may be refused and retried, but each
//! retry takes a fresh id larger than every id handed out before, and an id larger than every
//! queued one is never refused.

//!
//! # Split transactions: one message instead of two round trips
//! A multi-key command of a pipeline whose keys live on the connection's shard L and exactly
//! one other shard R (`dispatch::pipeline`) runs the same protocol with the two scheduling
//! steps ordered instead of concurrent: it is scheduled on L at once (a fresh id, never
//! refused), and its part travels to R inside the batch the pipeline sends R anyway. R
//! schedules it when the batch reaches it and runs it (concluding it there) only if it is
//! runnable at that moment; otherwise R unschedules it, which is a refusal. When the part runs
//! on R the transaction is scheduled on both shards, so "no hop runs before the transaction is
//! scheduled everywhere" still holds and the proof above applies unchanged; L's half runs
//! when R's answer is back. A refused part has run nowhere: L unschedules it and the command
//! runs as an ordinary transaction, in its place in the connection's order.
//!
//! Deadlock freedom needs two more rules, because L's half is scheduled before the batch is
//! even sent: (1) a batch carrying parts never waits on R: at the first command that cannot
//! run at once it stops and is handed back, and the sender runs the rest itself, in order;
//! (2) the sender runs its L halves as soon as the batches carrying parts are back, in request
//! order (which is id order), before it awaits any other shard's batch, which may be waiting
//! for a transaction that waits for one of these halves. So an L half waits only for smaller
//! ids, as every hop does.

pub mod blocking;
pub mod coordinator;
pub mod multi;
pub mod queue;
pub mod watch;

use std::sync::atomic::{AtomicU64, Ordering};

/// A transaction id: its place in the one global order of transactions (0 = none).
pub type TxId = u64;

static NEXT_TX: AtomicU64 = AtomicU64::new(1);

/// A fresh transaction id, larger than every id handed out before on any core.
pub fn next_id() -> TxId {
    NEXT_TX.fetch_add(1, Ordering::Relaxed)
}

/// Makes every id handed out from now on larger than `seen`. At startup `seen` is the largest
/// id in the AOF, so no new group shares an id with a group an earlier run left in the files.
pub fn ids_above(seen: TxId) {
    NEXT_TX.fetch_max(seen + 1, Ordering::Relaxed);
}
