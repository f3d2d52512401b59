//! Point-in-time snapshots of a shard without pausing it: the walk behind BGSAVE, SAVE and AOF
//! rewrites (versioning in the manner of Dragonfly's snapshots; no fork).
//!
//! Every entry carries a `version`: the epoch of the latest walk that has already serialized
//! it, or that began before the entry was created. A walk starts at one moment with a new
//! epoch E and then visits the databases bucket by bucket, a bounded number of keys per step,
//! serializing each entry whose version is below E and raising it to E; between steps the
//! shard serves clients as usual. Writes keep the walk's picture at its start:
//! * before a command changes a key whose version is below E, the key's current value (the
//!   one it had at the start, since nothing changed it since) is serialized and its version
//!   raised, so the walk skips it later (`before_write`);
//! * an entry created during the walk is stamped with E (`current_epoch`) and so skipped;
//! * an entry moved in from another shard is stamped when it arrives (`put_moved`);
//! * commands that change keys they do not name (FLUSHALL, FLUSHDB, SWAPDB, COPY ... DB)
//!   first finish the walk (`drain`), which pauses only in that rare case;
//! * a key that expires during the walk is left out: loaded later it would be expired too.
//!
//! The dict may rehash meanwhile: the scan cursor guarantees every key present throughout is
//! visited at least once, and the version makes a second visit a no-op.

use crate::shard::{Entry, Shard};
use std::cell::Cell;

thread_local! {
    static EPOCH: Cell<u32> = const { Cell::new(0) };
}

/// The version new entries get: the epoch of this core's latest walk.
pub fn current_epoch() -> u32 {
    EPOCH.with(|e| e.get())
}

/// Where a walk puts what it serializes.
pub trait Sink {
    fn key(&mut self, db: usize, key: &[u8], entry: &Entry);
    fn finish(self: Box<Self>) -> Vec<u8>;
}

/// A walk in progress over one shard.
pub struct Walk {
    epoch: u32,
    db: usize,
    cursor: u64,
    /// Keys already expired at the start are left out.
    started_ms: u64,
    sink: Box<dyn Sink>,
}

/// Keys one step serializes at most (the shard's pause per step stays ~100 us).
pub const KEYS_PER_STEP: usize = 1000;

/// Starts a walk of `shard` as of now and returns its epoch (to claim its output with). A
/// walk already running is finished first.
pub fn begin(shard: &mut Shard, sink: Box<dyn Sink>, now_ms: u64) -> u32 {
    if shard.cow.is_some() {
        drain(shard);
    }
    let epoch = current_epoch() + 1;
    EPOCH.with(|e| e.set(epoch));
    shard.cow = Some(Walk { epoch, db: 0, cursor: 0, started_ms: now_ms, sink });
    epoch
}

/// Before `key` in `db` changes: serialize it first if the walk has not reached it.
pub fn before_write(shard: &mut Shard, db: usize, key: &[u8]) {
    let Shard { cow, dbs, .. } = shard;
    let Some(walk) = cow.as_mut() else { return };
    if let Some(entry) = dbs[db].dict.get_mut(key)
        && entry.version < walk.epoch
    {
        entry.version = walk.epoch;
        if !entry.is_expired(walk.started_ms) {
            walk.sink.key(db, key, entry);
        }
    }
}

/// Serializes everything the walk has not reached yet, and ends it.
pub fn drain(shard: &mut Shard) {
    while step(shard, usize::MAX) {}
}

/// Serializes up to `budget` keys; returns whether the walk goes on. When it ends, its
/// output is left in `shard.cow_done` under its epoch.
pub fn step(shard: &mut Shard, budget: usize) -> bool {
    let Shard { cow, dbs, cow_done, .. } = shard;
    let Some(walk) = cow.as_mut() else { return false };
    let mut done = 0;
    let mut keys: Vec<Box<[u8]>> = Vec::new();
    while walk.db < dbs.len() && done < budget {
        let dict = &mut dbs[walk.db].dict;
        keys.clear();
        let epoch = walk.epoch;
        walk.cursor = dict.scan(walk.cursor, |k, e| {
            if e.version < epoch {
                keys.push(k.into());
            }
        });
        for k in &keys {
            if let Some(entry) = dict.get_mut(k)
                && entry.version < epoch
            {
                entry.version = epoch;
                if !entry.is_expired(walk.started_ms) {
                    walk.sink.key(walk.db, k, entry);
                }
            }
        }
        done += keys.len().max(1);
        if walk.cursor == 0 {
            walk.db += 1;
        }
    }
    if walk.db < dbs.len() {
        return true;
    }
    let walk = cow.take().expect("walk");
    cow_done.push((walk.epoch, walk.sink.finish()));
    false
}

/// Before a write command runs during a walk: its keys are serialized first, or the walk is
/// finished when the command changes keys it does not name.
pub fn before_command(
    shard: &mut Shard,
    cmd: &crate::commands::Command,
    db: usize,
    args: crate::commands::Args,
) {
    if writes_unnamed_keys(cmd.name, args.len()) {
        drain(shard);
        return;
    }
    for i in cmd.keys(args) {
        before_write(shard, db, args.get(i));
    }
}

/// Whether a command changes keys it does not name, so a walk must end before it runs.
pub fn writes_unnamed_keys(name: &str, argc: usize) -> bool {
    matches!(name, "flushall" | "flushdb" | "swapdb") || (name == "copy" && argc > 3)
}

/// The walk of one core as a task: a step, then the other tasks get a turn, until done.
pub async fn run(core: std::rc::Rc<crate::server::core::Core>) {
    loop {
        let more = step(&mut core.shard.borrow_mut(), KEYS_PER_STEP);
        if !more {
            return;
        }
        futures_lite::future::yield_now().await;
    }
}

/// Takes the output of walk `epoch` if it has finished.
pub fn take_output(shard: &mut Shard, epoch: u32) -> Option<Vec<u8>> {
    let i = shard.cow_done.iter().position(|(e, _)| *e == epoch)?;
    Some(shard.cow_done.swap_remove(i).1)
}

/// Waits until walk `epoch` of this core has finished and takes its output.
pub async fn output(core: &crate::server::core::Core, epoch: u32) -> Vec<u8> {
    loop {
        if let Some(out) = take_output(&mut core.shard.borrow_mut(), epoch) {
            return out;
        }
        glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
    }
}

/// Starts a walk of this core's shard with its stepping task; returns its epoch.
pub fn start(core: &std::rc::Rc<crate::server::core::Core>, sink: Box<dyn Sink>) -> u32 {
    let epoch = begin(&mut core.shard.borrow_mut(), sink, crate::shard::now_ms());
    glommio::spawn_local(run(core.clone())).detach();
    epoch
}
