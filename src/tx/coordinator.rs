//! The coordinator's side of a transaction: scheduling it on every shard it touches, and
//! concluding it there when it is done. Hops are run by `dispatch` with the transaction's id.

use super::TxId;
use super::queue::LockKey;
use crate::dispatch::mesh::{ReqBody, RespBody};
use crate::server::core::Core;
use std::collections::BTreeMap;
use std::rc::Rc;

/// What a transaction locks on one shard.
#[derive(Default, Clone, Debug)]
pub struct ShardLocks {
    pub keys: Vec<LockKey>,
    pub shard_wide: bool,
}

/// What a transaction locks, per shard.
pub type Footprint = BTreeMap<usize, ShardLocks>;

/// Adds `key` (in `db`) to the footprint on `shard`.
pub fn add_key(fp: &mut Footprint, shard: usize, db: usize, key: &[u8], write: bool) {
    fp.entry(shard).or_default().keys.push(LockKey::new(db, key, write));
}

/// A footprint locking every one of `shards` shards whole.
pub fn all_shards(shards: usize) -> Footprint {
    (0..shards).map(|s| (s, ShardLocks { keys: Vec::new(), shard_wide: true })).collect()
}

/// Schedules a transaction on every shard of `fp` and returns its id. Scheduling is retried
/// with a new id when a shard refuses it (see `tx` for why that ends).
pub async fn begin(core: &Rc<Core>, fp: &Footprint) -> TxId {
    loop {
        let tx = super::next_id();
        let mut waits = Vec::with_capacity(fp.len());
        for (&shard, locks) in fp {
            if shard != core.id {
                let body = ReqBody::Schedule { keys: locks.keys.clone(), shard_wide: locks.shard_wide };
                waits.push((shard, core.mesh.start(shard, tx, body).await));
            }
        }
        let mut scheduled = Vec::with_capacity(fp.len());
        let mut refused = false;
        if let Some(locks) = fp.get(&core.id) {
            if core.txq.schedule(tx, locks.keys.clone(), locks.shard_wide) {
                scheduled.push(core.id);
            } else {
                refused = true;
            }
        }
        for (shard, wait) in waits {
            match wait.await {
                RespBody::Scheduled(true) => scheduled.push(shard),
                _ => refused = true,
            }
        }
        if !refused {
            return tx;
        }
        finish(core, tx, scheduled.into_iter()).await;
    }
}

/// Concludes transaction `tx` on `shards`, releasing its intents there.
pub async fn finish(core: &Rc<Core>, tx: TxId, shards: impl Iterator<Item = usize>) {
    for shard in shards {
        if shard == core.id {
            core.txq.conclude(tx);
        } else {
            core.mesh.notify(shard, tx, ReqBody::Conclude).await;
        }
    }
}
