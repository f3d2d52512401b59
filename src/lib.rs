//! shardis: a Redis-compatible, thread-per-core, shared-nothing in-memory store.
//!
//! A request's life:
//! 1. `main` parses the command line into a `Config` and starts one pinned glommio executor
//!    per core (`server::boot`); each binds the port with SO_REUSEPORT.
//! 2. The core's socket loop (`server::reactor`) learns readiness from a per-core epoll set and
//!    wakes the connection task (`server::conn`), which reads into its query buffer.
//! 3. `resp::Parser` finds complete commands in place; `commands::lookup` finds each one's
//!    table entry (arity, key positions, how it executes).
//! 4. `dispatch` maps keys to slots to shards. A command whose keys are all on this core runs
//!    at once against the local `shard::Shard`; commands for other shards are batched per shard
//!    and travel over glommio channels (`dispatch::mesh`), replies come back as RESP bytes.
//! 5. Commands spanning shards, and EXEC, are transactions (`tx`): scheduled on every shard
//!    they touch with key intents, run as hops when their turn comes, merged, concluded.
//!    Blocking commands wait on their keys' shards (`tx::blocking`); WATCH registers there.
//! 6. Replies are written into the connection's output buffer in request order and sent.

pub mod commands;
pub mod config;
pub mod dispatch;
pub mod error;
pub mod persistence;
pub mod resp;
pub mod server;
pub mod shard;
pub mod tx;
pub mod types;

/// Writes a log line in Redis's format (`pid:M date * message`) to stderr.
pub fn log(msg: &str) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    eprintln!("{}:M {}.{:03} * {}", std::process::id(), now.as_secs(), now.subsec_millis(), msg);
}
