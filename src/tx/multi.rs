//! MULTI/EXEC and WATCH for one connection, on the transaction framework of `tx`.
//!
//! Between MULTI and EXEC the connection queues commands (`Queued`); a command rejected while
//! queueing (unknown, wrong arity, not allowed in a transaction) makes EXEC answer EXECABORT.
//! EXEC runs the queue as one transaction locked ahead on all the keys of all its commands,
//! plus the WATCHed keys (read intents): scheduled once on every shard involved, then the
//! commands run in order, consecutive commands for one shard as one hop, and the transaction
//! is concluded everywhere. A queue whose keys are all on the connection's own shard, with
//! nothing scheduled there, runs synchronously without scheduling at all. Commands that see
//! or change whole databases (FLUSHALL, SWAPDB, SELECT, KEYS, INFO...) make the transaction
//! lock every shard whole.
//!
//! WATCH registers the keys with the `watch::Registry` of their shards; EXEC first asks each
//! of those shards, inside the transaction (so nothing can change the keys in between),
//! whether one was touched, and answers a null array if so.

use super::TxId;
use super::coordinator::{self as txc, Footprint};
use crate::commands::{self, Exec, OwnedArgs, table};
use crate::dispatch::mesh::{Batch, ReqBody, RespBody};
use crate::dispatch::{coord, exec_local, invoke_on, slot::key_shard};
use crate::resp::Out;
use crate::server::client::Client;
use crate::server::core::Core;
use crate::server::monitor;
use std::rc::Rc;

/// Commands queued by MULTI, and whether one was rejected while queueing.
#[derive(Default)]
pub struct Queued {
    pub cmds: Vec<(usize, OwnedArgs)>,
    pub failed: bool,
}

/// Commands that run at once even inside MULTI, as in Redis.
pub fn runs_immediately(name: &str) -> bool {
    matches!(name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset")
}

/// Commands Redis refuses inside MULTI (flagged `no-multi`).
pub fn refused_in_multi(name: &str) -> bool {
    matches!(name, "save" | "shutdown" | "sync" | "psync")
}

const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

/// What an EXEC must lock: the keys of its commands and its watched keys, or, when a command
/// sees whole databases, every shard whole.
fn footprint(core: &Core, client: &Client, cmds: &[(usize, OwnedArgs)]) -> Footprint {
    let db = client.db;
    let mut fp = Footprint::new();
    for (cmd_index, args) in cmds {
        let cmd = &table()[*cmd_index];
        let a = args.args();
        let whole = match cmd.exec {
            Exec::Conn(_) => cmd.name == "select",
            Exec::AllShards(..) | Exec::Special(_) => true,
            // MOVE and COPY ... DB touch a key of another database; SORT ... BY/GET reads
            // keys it does not declare.
            _ => {
                cmd.name == "move"
                    || (cmd.name == "copy" && a.len() > 3)
                    || coord::reads_undeclared_keys(*cmd_index, a)
            }
        };
        if whole {
            return txc::all_shards(core.shards);
        }
        let write = cmd.flags & commands::WRITE != 0;
        for i in cmd.keys(a) {
            txc::add_key(&mut fp, key_shard(a.get(i), core.shards), db, a.get(i), write);
        }
    }
    for (wdb, key) in &client.watched {
        txc::add_key(&mut fp, key_shard(key, core.shards), *wdb, key, false);
    }
    fp
}

/// EXEC: runs the queued commands as one transaction.
pub async fn exec(core: &Rc<Core>, client: &mut Client, out: &mut Out) {
    let Some(queued) = client.multi.take() else {
        core.count_error("ERR");
        out.error("ERR EXEC without MULTI");
        return;
    };
    if queued.failed {
        unwatch_all(core, client).await;
        core.count_error(EXECABORT);
        out.error(EXECABORT);
        return;
    }
    let fp = footprint(core, client, &queued.cmds);
    let shard_wide = fp.values().any(|l| l.shard_wide);
    let local_only = fp.keys().all(|&s| s == core.id);
    let tx = if fp.is_empty() || (local_only && !shard_wide && core.txq.is_idle()) {
        None
    } else {
        Some(txc::begin(core, &fp).await)
    };
    if watch_failed(core, client, tx).await {
        if let Some(tx) = tx {
            txc::finish(core, tx, fp.keys().copied()).await;
        }
        unwatch_all(core, client).await;
        out.null_array();
        return;
    }
    // With the AOF on, the EXEC's records form one group, committed before it concludes.
    let writes = queued.cmds.iter().any(|(i, _)| table()[*i].flags & commands::WRITE != 0);
    let group = (core.aof.get().is_some() && writes).then(|| tx.unwrap_or_else(crate::tx::next_id));
    let replies = run_queued(core, client, tx, group.unwrap_or(0), queued.cmds).await;
    if let Some(group) = group {
        crate::persistence::aof::commit_group(core, group).await;
    }
    if let Some(tx) = tx {
        txc::finish(core, tx, fp.keys().copied()).await;
    }
    unwatch_all(core, client).await;
    out.array(replies.len());
    for r in &replies {
        out.raw(r);
    }
}

/// Whether a WATCHed key changed: asked of every shard with watched keys, inside `tx`.
async fn watch_failed(core: &Rc<Core>, client: &Client, tx: Option<TxId>) -> bool {
    let id = client.id();
    for &shard in &client.watching {
        let dirty = invoke_on(core, shard, tx.unwrap_or(0), move |c| {
            let now = crate::shard::now_ms();
            let sh = c.shard.borrow();
            sh.watch.is_dirty(id, |db, k| sh.dbs[db].peek(k, now).is_some())
        })
        .await;
        if dirty {
            return true;
        }
    }
    false
}

/// Consecutive single-shard commands for one remote shard, sent as one hop.
struct Hop {
    shard: usize,
    batch: Batch,
    /// Where each command's reply goes in the EXEC reply.
    slots: Vec<usize>,
}

/// Runs the queued commands in order and returns their replies.
async fn run_queued(
    core: &Rc<Core>,
    client: &mut Client,
    tx: Option<TxId>,
    group: TxId,
    cmds: Vec<(usize, OwnedArgs)>,
) -> Vec<Vec<u8>> {
    let mut replies: Vec<Vec<u8>> = vec![Vec::new(); cmds.len()];
    let mut hop: Option<Hop> = None;
    if let Some(tx) = tx {
        core.txq.until_runnable_if_scheduled(tx).await;
    }
    for (slot, (cmd_index, args)) in cmds.iter().enumerate() {
        let cmd = &table()[*cmd_index];
        let a = args.args();
        monitor::before_run(core, &client.info, client.db, *cmd_index, a);
        let shard = match cmd.exec {
            Exec::Shard(_) | Exec::Multi(..) | Exec::Cross(..) => coord::single_shard(core, *cmd_index, a),
            _ => None,
        };
        if let Some(shard) = shard
            && shard != core.id
        {
            if hop.as_ref().is_some_and(|h| h.shard != shard) {
                send_hop(core, tx, hop.take(), &mut replies).await;
            }
            let h = hop.get_or_insert_with(|| Hop {
                shard,
                batch: Batch::new(client.db, client.resp3),
                slots: Vec::new(),
            });
            h.batch.push(*cmd_index, a.iter());
            h.slots.push(slot);
            continue;
        }
        send_hop(core, tx, hop.take(), &mut replies).await;
        let mut o = Out::new(client.resp3);
        run_one(core, client, tx, group, *cmd_index, a, shard, &mut o).await;
        monitor::after_run(core, &client.info, client.db, *cmd_index, a);
        replies[slot] = o.buf;
    }
    send_hop(core, tx, hop.take(), &mut replies).await;
    for (reply, (cmd_index, _)) in replies.iter_mut().zip(&cmds) {
        // Inside MULTI, Redis answers an empty BLMOVE/BRPOPLPUSH as their non-blocking forms
        // do (a null bulk), not with the timeout's null array.
        if matches!(table()[*cmd_index].name, "blmove" | "brpoplpush") && reply.as_slice() == b"*-1\r\n" {
            *reply = b"$-1\r\n".to_vec();
        }
    }
    replies
}

async fn send_hop(core: &Rc<Core>, tx: Option<TxId>, hop: Option<Hop>, replies: &mut [Vec<u8>]) {
    let Some(hop) = hop else { return };
    let mut batch = hop.batch;
    // Without a transaction (nothing else is scheduled anywhere it matters) the batch still
    // has to run as one step on its shard.
    batch.atomic = tx.is_none();
    if let RespBody::Replies { out, ends } =
        core.mesh.call(hop.shard, tx.unwrap_or(0), ReqBody::Batch(batch)).await
    {
        let mut start = 0;
        for (slot, end) in hop.slots.into_iter().zip(ends) {
            replies[slot] = out[start..end as usize].to_vec();
            start = end as usize;
        }
    }
}

/// Runs one queued command that is not part of a remote hop.
#[allow(clippy::too_many_arguments)]
async fn run_one(
    core: &Rc<Core>,
    client: &mut Client,
    tx: Option<TxId>,
    group: TxId,
    cmd_index: usize,
    args: commands::Args<'_>,
    shard: Option<usize>,
    out: &mut Out,
) {
    let cmd = &table()[cmd_index];
    match (cmd.exec, shard) {
        (Exec::Conn(f), _) => {
            if let Err(e) = f(client, args, out) {
                let text = e.to_string();
                core.count_error(&text);
                out.error(&text);
            }
        }
        (Exec::Shard(_) | Exec::Multi(..) | Exec::Cross(..), Some(s)) if s == core.id => {
            core.tick();
            crate::dispatch::tagged(core, group, || exec_local(core, cmd_index, client.db, args, out));
        }
        (Exec::Shard(_), _) => out.error("CROSSSLOT Keys in request don't hash to the same slot"),
        (Exec::Multi(_, how), _) => {
            let groups = coord::group_keys(core, cmd_index, args);
            coord::run_split(core, client, cmd_index, args, groups, how, tx, out).await;
        }
        (Exec::AllShards(_, how), _) => {
            let groups = (0..core.shards).map(|s| (s, Vec::new())).collect();
            coord::run_split(core, client, cmd_index, args, groups, how, tx, out).await;
        }
        (Exec::Cross(_, special), _) => {
            coord::run_cross(core, client, cmd_index, special, args, tx, out).await
        }
        // Redis refuses MONITOR where a client must get one reply per command.
        (Exec::Special(commands::Special::Monitor), _) => {
            out.error("ERR MONITOR isn't allowed for DENY BLOCKING client")
        }
        // Boxed: EXEC itself is a special command, so this recursion needs a heap frame.
        (Exec::Special(special), _) => {
            Box::pin(crate::commands::server::run_special(core, client, special, args, out)).await
        }
    }
}

/// WATCH key [key ...]
pub async fn watch(core: &Rc<Core>, client: &mut Client, args: commands::Args<'_>, out: &mut Out) {
    if client.multi.is_some() {
        core.count_error("ERR");
        out.error("ERR WATCH inside MULTI is not allowed");
        return;
    }
    let (id, db) = (client.id(), client.db);
    for key in args.iter().skip(1) {
        let shard = key_shard(key, core.shards);
        let k = key.to_vec();
        invoke_on(core, shard, 0, move |c| {
            let now = crate::shard::now_ms();
            let mut sh = c.shard.borrow_mut();
            let existed = sh.dbs[db].peek(&k, now).is_some();
            sh.watch.watch(id, db, &k, existed);
        })
        .await;
        client.watched.push((db, key.to_vec()));
        if !client.watching.contains(&shard) {
            client.watching.push(shard);
        }
    }
    out.ok();
}

/// Forgets every key the client watches (UNWATCH, EXEC, DISCARD, disconnect).
pub async fn unwatch_all(core: &Rc<Core>, client: &mut Client) {
    let id = client.id();
    for shard in std::mem::take(&mut client.watching) {
        invoke_on(core, shard, 0, move |c| c.shard.borrow_mut().watch.unwatch(id)).await;
    }
    client.watched.clear();
}

/// DISCARD
pub async fn discard(core: &Rc<Core>, client: &mut Client, out: &mut Out) {
    if client.multi.take().is_none() {
        core.count_error("ERR");
        out.error("ERR DISCARD without MULTI");
        return;
    }
    unwatch_all(core, client).await;
    out.ok();
}
