//! The only code that touches a keyspace. One `Shard` per core owns the databases of the slots
//! routed to that core; commands reach it through `Ctx`, synchronously and never across an
//! `.await`, so a command runs to completion before anything else touches the shard.

pub mod db;
pub mod prefetch;
pub mod value;

use crate::config::Config;
pub use db::{Db, Entry};
pub use value::{Str, Value};

#[derive(Default, Clone, Debug)]
pub struct ShardStats {
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    pub expire_cycles: u64,
}

pub struct Shard {
    pub id: usize,
    pub dbs: Vec<Db>,
    pub stats: ShardStats,
    pub rng: u64,
    /// Seconds since the server started, for access times (IDLETIME).
    pub started: std::time::Instant,
    /// Keys clients WATCH on this shard.
    pub watch: crate::tx::watch::Registry,
    /// Clients blocked on keys of this shard (BLPOP...).
    pub blocked: crate::tx::blocking::Registry,
    /// On a scratch shard only: the keys lookups did not find, which the coordinator then
    /// gathers from their shards (SORT's BY and GET patterns).
    pub missed: Option<Vec<Vec<u8>>>,
    /// Writes applied since the last snapshot (Redis's `dirty`, for `save` points and INFO).
    pub dirty: u64,
    /// The shard's AOF records, when `appendonly` is on (never on scratch shards or in replay).
    pub aof: Option<crate::persistence::aof::Log>,
    /// Keys expiry removed, for the AOF to log as DEL (shared with every `Db`; None when off).
    pub expired_sink: Option<db::ExpiredSink>,
    /// A snapshot walk in progress, and the output of finished ones by epoch (`persistence::cow`).
    pub cow: Option<crate::persistence::cow::Walk>,
    pub cow_done: Vec<(u32, Vec<u8>)>,
}

impl Shard {
    pub fn new(id: usize, databases: usize) -> Shard {
        Shard {
            id,
            dbs: (0..databases).map(|_| Db::default()).collect(),
            stats: ShardStats::default(),
            rng: 0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1),
            started: std::time::Instant::now(),
            watch: Default::default(),
            blocked: Default::default(),
            missed: None,
            dirty: 0,
            aof: None,
            expired_sink: None,
            cow: None,
            cow_done: Vec::new(),
        }
    }

    /// Makes expiry report the keys it removes (for the AOF).
    pub fn enable_expired_sink(&mut self) {
        let sink = db::ExpiredSink::default();
        for (i, d) in self.dbs.iter_mut().enumerate() {
            d.expired_sink = Some((i, sink.clone()));
        }
        self.expired_sink = Some(sink);
    }

    /// The access clock: unix seconds, truncated (idle times are differences of two readings).
    pub fn clock_secs(&self) -> u32 {
        (now_ms() / 1000) as u32
    }

    /// Runs Redis-style adaptive active expiry over every database for at most `budget`:
    /// sample 20 keys with a TTL, delete the dead ones, and keep going while more than a
    /// quarter of a sample was dead (so memory held by dead keys stays bounded).
    pub fn active_expire(&mut self, now_ms: u64, budget: std::time::Duration) {
        const SAMPLE: usize = 20;
        let start = std::time::Instant::now();
        self.stats.expire_cycles += 1;
        for i in 0..self.dbs.len() {
            let mut rounds = 0u32;
            loop {
                let (seen, dead) = self.dbs[i].expire_sample(&mut self.rng, SAMPLE, now_ms);
                if seen == 0 || dead * 4 <= seen {
                    break;
                }
                rounds += 1;
                if rounds.is_multiple_of(16) && start.elapsed() > budget {
                    return;
                }
            }
        }
    }

    /// Moves the per-db expiry counters into the shard stats.
    pub fn collect_expired(&mut self) {
        for db in &mut self.dbs {
            self.stats.expired_keys += std::mem::take(&mut db.expired_count);
        }
    }
}

/// Everything a shard-side command handler may use.
pub struct Ctx<'a> {
    pub shard: &'a mut Shard,
    pub db: usize,
    pub now_ms: u64,
    pub config: &'a Config,
}

impl Ctx<'_> {
    pub fn db(&mut self) -> &mut Db {
        &mut self.shard.dbs[self.db]
    }

    /// Looks up `key` in the selected db, counting a hit or miss for INFO.
    /// The access clock at this command's time (see `Shard::clock_secs`).
    pub fn clock_secs(&self) -> u32 {
        (self.now_ms / 1000) as u32
    }

    pub fn lookup(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let now = self.now_ms;
        let clock = self.clock_secs();
        let stats = &mut self.shard.stats;
        match self.shard.dbs[self.db].lookup(key, now) {
            Some(e) => {
                stats.keyspace_hits += 1;
                e.access_secs = clock;
                Some(e)
            }
            None => {
                stats.keyspace_misses += 1;
                if let Some(missed) = self.shard.missed.as_mut() {
                    missed.push(key.to_vec());
                }
                None
            }
        }
    }

    /// Looks up `key` without touching stats or access time (for writes and internal reads).
    pub fn lookup_quiet(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let now = self.now_ms;
        if let Some(missed) = self.shard.missed.as_mut()
            && self.shard.dbs[self.db].peek(key, now).is_none()
        {
            missed.push(key.to_vec());
        }
        self.shard.dbs[self.db].lookup(key, now)
    }

    /// Tells WATCH that `key` changed (for changes made outside a command's own run).
    pub fn touch_watched(&mut self, key: &[u8]) {
        let db = self.db;
        self.shard.watch.touch(db, key);
        if !self.shard.blocked.is_empty() {
            let now = self.now_ms;
            let t = self.shard.dbs[db].peek(key, now).map(|e| e.value.type_name());
            self.shard.blocked.signal(db, key, t);
        }
    }

    pub fn new_entry(&self, value: Value) -> Entry {
        Entry {
            value,
            expire_at_ms: 0,
            access_secs: self.clock_secs(),
            version: crate::persistence::cow::current_epoch(),
        }
    }

    /// SET's store of `value` under `key`, expiring at `at` (0: never): see `Db::set_string`.
    pub fn set_string(&mut self, key: &[u8], value: &[u8], at: u64) {
        let (access_secs, version) = (self.clock_secs(), crate::persistence::cow::current_epoch());
        self.db().set_string(key, value, at, access_secs, version);
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
