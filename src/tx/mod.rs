//! Multi-shard atomicity.
//!
//! Step 1's scheme (to be replaced by key-level scheduling): every shard has a FIFO
//! reader/writer `gate::Gate`. Ordinary commands pass the gate as readers and hold it only for
//! their synchronous execution (when the gate is idle they pass without touching it at all).
//! An operation that spans shards is a transaction with a unique id: it takes the gates of all
//! shards it touches as the writer, one by one in ascending shard order, runs its per-shard
//! parts while holding them all, then releases them.
//!
//! Isolation: while a transaction holds a shard's gate no other command runs on that shard, so
//! every shard it touches is frozen from its first per-shard step to its last: MGET sees one
//! moment, MSET is seen whole or not at all.
//!
//! No deadlock: (1) transactions acquire gates in one global order (ascending shard id), so no
//! cycle of transactions waiting on each other can form; (2) a gate's holder never waits on a
//! reader; readers hold no gate while they wait; (3) the per-peer receiving tasks never wait on
//! a gate themselves: a request that must wait gets its own task, so a transaction's own
//! messages are never stuck behind a waiting request on the channel (the classic mesh
//! deadlock); (4) replies are received by tasks that never block.

pub mod gate;

/// A transaction id: unique across cores (core id in the high bits).
pub type TxId = u64;
