//! Key -> slot -> shard routing, execution on the owning shard, and cross-core hops.
//!
//! * A command whose keys all live on the connection's core runs at once against the local
//!   shard, its reply written straight into the connection's output buffer.
//! * Commands for other shards are gathered per shard while a pipeline is parsed and travel
//!   as one `Batch` per shard per hop; replies come back as RESP bytes and are put back in
//!   request order (`pipeline`). Like Dragonfly's pipeline squashing, consecutive
//!   single-shard commands of one connection for different shards run concurrently: their
//!   order per shard (and so per key) is kept, and every multi-shard or connection-state
//!   command first waits for all earlier ones.
//! * Commands spanning shards run through `coord` as transactions (see `tx`).
//! * Each core runs one task per peer that receives requests (`serve_requests`) and one that
//!   receives replies (`serve_replies`); neither ever waits for a transaction, which is what keeps the
//!   mesh free of send/receive deadlocks.

pub mod coord;
pub mod merge;
pub mod mesh;
pub mod pipeline;
pub mod slot;

use crate::commands::{Args, Exec, WRITE, table};
use crate::resp::Out;
use crate::server::core::Core;
use crate::shard::{Ctx, prefetch};
use crate::tx::TxId;
use crate::tx::queue::LockKey;
use crate::types::cycles;
use mesh::{Batch, ReqBody, Request, RespBody, Response};
use std::rc::Rc;

/// Runs one shard-side command against this core's shard, writing its reply (or error) to
/// `out`. The caller has made sure no transaction is in its way (see `admitted`).
pub fn exec_local(core: &Rc<Core>, cmd_index: usize, db: usize, args: Args, out: &mut Out) {
    let cmd = &table()[cmd_index];
    let f = match cmd.exec {
        Exec::Shard(f) | Exec::Multi(f, _) | Exec::AllShards(f, _) | Exec::Cross(f, _) => f,
        Exec::Conn(_) | Exec::Special(_) => unreachable!("not a shard command: {}", cmd.name),
    };
    let start = cycles::now();
    let result = {
        let mut shard = core.shard.borrow_mut();
        let config = core.config.borrow();
        let mut ctx = Ctx { shard: &mut shard, db, now_ms: core.now_ms.get(), config: &config };
        if cmd.flags & WRITE != 0 && ctx.shard.cow.is_some() {
            crate::persistence::cow::before_command(ctx.shard, cmd, db, args);
        }
        let mark = out.buf.len();
        let result = if cmd.flags & WRITE != 0 && !ctx.shard.watch.is_empty() {
            run_watched(&mut ctx, cmd, f, args, out)
        } else {
            f(&mut ctx, args, out)
        };
        if ctx.shard.aof.is_some() {
            crate::persistence::propagate::after_command(
                &mut ctx,
                cmd_index,
                cmd,
                args,
                &out.buf[mark..],
                result.is_ok(),
            );
        }
        if cmd.flags & WRITE != 0 && result.is_ok() {
            ctx.shard.dirty += 1;
        }
        if cmd.flags & WRITE != 0 && !ctx.shard.blocked.is_empty() {
            signal_blocked(&mut ctx, cmd, args);
        }
        result
    };
    core.send_wakes();
    let usec = cycles::micros_since(start);
    let mut stats = core.stats.borrow_mut();
    let stat = &mut stats.cmd[cmd_index];
    stat.calls += 1;
    stat.usec += usec;
    if let Err(e) = result {
        stat.failed += 1;
        drop(stats);
        let text = e.to_string();
        core.count_error(&text);
        out.error(&text);
    }
}

/// Whether a write command's successful reply says it changed something (a null or `:0`
/// says it did not).
pub fn reply_reports_change(reply: &[u8]) -> bool {
    !matches!(reply, b"$-1\r\n" | b"*-1\r\n" | b"_\r\n" | b":0\r\n") && !reply.starts_with(b"-")
}

/// Tells clients blocked on the keys of a write command that a key may be ready.
fn signal_blocked(ctx: &mut Ctx, cmd: &crate::commands::Command, args: Args) {
    let (db, now) = (ctx.db, ctx.now_ms);
    for i in cmd.keys(args) {
        let key = args.get(i);
        if ctx.shard.blocked.is_waited_on(db, key) {
            let t = ctx.shard.dbs[db].peek(key, now).map(|e| e.value.type_name());
            ctx.shard.blocked.signal(db, key, t);
        }
    }
}

/// A key's value and absolute expiry, or None when it does not exist.
pub type KeyState = Option<(crate::shard::Value, u64)>;

/// Runs a write command while some keys of this shard are WATCHed, telling WATCH about the
/// watched keys it changed. A key counts as changed when its value or expiry differs after
/// the command, or when the command succeeded with a reply that reports a change (Redis
/// signals SET of the same value, INCRBY 0 or APPEND of nothing as modifications too; a null,
/// `:0` or an error reports none).
fn run_watched(
    ctx: &mut Ctx,
    cmd: &crate::commands::Command,
    f: crate::commands::ShardFn,
    args: Args,
    out: &mut Out,
) -> crate::error::CmdResult {
    let db = ctx.db;
    let now = ctx.now_ms;
    let watched: Vec<(&[u8], KeyState)> = cmd
        .written_keys(args)
        .map(|i| args.get(i))
        .filter(|k| ctx.shard.watch.is_watched(db, k))
        .map(|k| (k, ctx.shard.dbs[db].peek(k, now).map(|e| (e.value.clone(), e.expire_at_ms))))
        .collect();
    let mark = out.buf.len();
    let result = f(ctx, args, out);
    if watched.is_empty() {
        return result;
    }
    let reports_change = result.is_ok() && reply_reports_change(&out.buf[mark..]);
    for (key, before) in watched {
        let after = ctx.shard.dbs[db].peek(key, now).map(|e| (e.value.clone(), e.expire_at_ms));
        if reports_change || after != before {
            ctx.shard.watch.touch(db, key);
        }
    }
    result
}

/// Runs `f` with the shard's AOF records tagged as part of group `group` (see
/// `persistence::aof`); returns its result and whether anything was logged meanwhile.
pub fn tagged<R>(core: &Core, group: TxId, f: impl FnOnce() -> R) -> (R, bool) {
    if group == 0 || core.aof.get().is_none() {
        return (f(), false);
    }
    let before = set_tag(core, group);
    let r = f();
    let after = set_tag(core, before.0);
    (r, after.1 != before.1)
}

/// Sets the AOF tag; returns the previous tag and the log's end offset.
fn set_tag(core: &Core, tag: TxId) -> (TxId, u64) {
    let mut shard = core.shard.borrow_mut();
    let log = shard.aof.as_mut().expect("tagging needs an AOF");
    (std::mem::replace(&mut log.tag, tag), log.appended)
}

/// Answers another core, after the AOF records the answer depends on are safe.
fn reply_logged(core: &Core, from: usize, resp: Response) {
    match core.aof.get() {
        Some(aof) => aof.reply_after_logging(core, from, resp),
        None => core.mesh.reply(from, resp),
    }
}

/// Runs a batch that must apply whole (an EXEC's part on one shard, outside a cross-shard
/// transaction) as a logged group of its own, committed here.
fn run_atomic_part(core: &Rc<Core>, batch: &Batch, out: &mut Out, ends: &mut Vec<u32>) {
    if core.aof.get().is_none() {
        run_batch_part(core, batch, (0, 0), false, out, ends);
        return;
    }
    let group = crate::tx::next_id();
    let ((), wrote) = tagged(core, group, || {
        run_batch_part(core, batch, (0, 0), false, out, ends);
    });
    if wrote && let Some(log) = core.shard.borrow_mut().aof.as_mut() {
        log.commit(group);
    }
}

/// The intents a plain command would need to run as a transaction of its own.
fn command_locks(cmd_index: usize, db: usize, args: Args, locks: &mut Vec<LockKey>) -> bool {
    let cmd = &table()[cmd_index];
    let write = cmd.flags & WRITE != 0;
    for i in cmd.keys(args) {
        locks.push(LockKey::new(db, args.get(i), write));
    }
    matches!(cmd.exec, Exec::AllShards(..))
}

/// Whether a plain command may run on this shard right now (see `tx`): nothing scheduled, or
/// no scheduled transaction has a conflicting intent on its keys.
pub fn admitted(core: &Core, cmd_index: usize, db: usize, args: Args) -> bool {
    if core.txq.is_idle() {
        return true;
    }
    let cmd = &table()[cmd_index];
    if matches!(cmd.exec, Exec::AllShards(..)) {
        return false;
    }
    core.txq.admits(db, cmd.keys(args).map(|i| args.get(i)), cmd.flags & WRITE != 0)
}

/// Schedules a transaction on this shard alone, with a fresh id (never refused).
pub fn schedule_here(core: &Core, locks: Vec<LockKey>, shard_wide: bool) -> TxId {
    let tx = crate::tx::next_id();
    core.txq.schedule_fresh(tx, locks, shard_wide);
    tx
}

/// Runs a plain command on this shard: at once when admitted, otherwise as a one-shard
/// transaction when its turn comes.
pub async fn run_plain(core: &Rc<Core>, cmd_index: usize, db: usize, args: Args<'_>, out: &mut Out) {
    if !admitted(core, cmd_index, db, args) {
        let mut locks = Vec::new();
        let shard_wide = command_locks(cmd_index, db, args, &mut locks);
        let tx = schedule_here(core, locks, shard_wide);
        core.txq.until_runnable(tx).await;
        core.tick();
        exec_local(core, cmd_index, db, args, out);
        core.txq.conclude(tx);
        return;
    }
    core.tick();
    exec_local(core, cmd_index, db, args, out);
}

/// One command of a batch: its table index and arguments.
fn batch_command(batch: &Batch, at: usize, i: usize) -> (usize, Args<'_>) {
    let (cmd, argc) = batch.cmds[i];
    (cmd as usize, Args { buf: &batch.args.buf, ranges: &batch.args.ranges[at..at + argc as usize] })
}

/// Runs a batch's commands from `from` on, stopping before the first that is not admitted
/// (when `check`). Returns where it stopped: (command index, argument offset).
fn run_batch_part(
    core: &Rc<Core>,
    batch: &Batch,
    (mut i, mut at): (usize, usize),
    check: bool,
    out: &mut Out,
    ends: &mut Vec<u32>,
) -> (usize, usize) {
    while i < batch.cmds.len() {
        let (cmd, args) = batch_command(batch, at, i);
        if check && !admitted(core, cmd, batch.db as usize, args) {
            break;
        }
        exec_local(core, cmd, batch.db as usize, args, out);
        ends.push(out.buf.len() as u32);
        at += args.len();
        i += 1;
    }
    (i, at)
}

/// Executes a transaction's hop or an atomic batch (EXEC on one shard) from another core;
/// replies concatenated with their end offsets. Atomic batches run whole, as a transaction if
/// anything is in their way; a hop runs when its transaction may run here. (Plain batches:
/// `run_plain_batch`.)
async fn run_batch(core: &Rc<Core>, tx: TxId, batch: &Batch) -> RespBody {
    let mut out = Out { buf: Vec::with_capacity(64 * batch.cmds.len()), resp3: batch.resp3 };
    let mut ends = Vec::with_capacity(batch.cmds.len());
    if tx != 0 {
        core.txq.until_runnable(tx).await;
        core.tick();
        tagged(core, tx, || run_batch_part(core, batch, (0, 0), false, &mut out, &mut ends));
        if batch.conclude {
            core.txq.conclude(tx);
        }
    } else {
        let own = batch_transaction(core, batch);
        if let Some(own) = own {
            core.txq.until_runnable(own).await;
        }
        core.tick();
        run_atomic_part(core, batch, &mut out, &mut ends);
        if let Some(own) = own {
            core.txq.conclude(own);
        }
    }
    RespBody::Replies { out: out.buf, ends }
}

/// Runs a plain batch's commands from `at` on: each that is not admitted waits its turn as a
/// one-shard transaction, and those after it run at once while admitted.
async fn finish_plain_batch(
    core: &Rc<Core>,
    batch: &Batch,
    mut at: (usize, usize),
    out: &mut Out,
    ends: &mut Vec<u32>,
) {
    while at.0 < batch.cmds.len() {
        let (cmd, args) = batch_command(batch, at.1, at.0);
        run_plain(core, cmd, batch.db as usize, args, out).await;
        ends.push(out.buf.len() as u32);
        at = run_batch_part(core, batch, (at.0 + 1, at.1 + args.len()), true, out, ends);
    }
}

/// Schedules an atomic batch as a transaction when any of its commands is not admitted now.
fn batch_transaction(core: &Core, batch: &Batch) -> Option<TxId> {
    let db = batch.db as usize;
    let mut at = 0;
    let mut all_admitted = true;
    let mut locks = Vec::new();
    let mut shard_wide = false;
    for i in 0..batch.cmds.len() {
        let (cmd, args) = batch_command(batch, at, i);
        all_admitted &= admitted(core, cmd, db, args);
        shard_wide |= command_locks(cmd, db, args, &mut locks);
        at += args.len();
    }
    (!all_admitted).then(|| schedule_here(core, locks, shard_wide))
}

/// Prefetches the lookups of a batch's first commands (see `shard::prefetch`): a batch from
/// another core is a pipeline's worth of commands, as cache-cold as a socket's.
fn prefetch_batch(core: &Core, batch: &Batch) {
    if batch.cmds.len() < 2 {
        return;
    }
    let mut keys: [&[u8]; prefetch::AHEAD] = [&[]; prefetch::AHEAD];
    let mut members: [&[u8]; prefetch::AHEAD] = [&[]; prefetch::AHEAD];
    let (mut n, mut at) = (0, 0);
    for &(cmd, argc) in batch.cmds.iter().take(prefetch::AHEAD) {
        let args = Args { buf: &batch.args.buf, ranges: &batch.args.ranges[at..at + argc as usize] };
        at += argc as usize;
        if args.len() < 2 {
            continue;
        }
        keys[n] = args.get(1);
        members[n] =
            prefetch::member_arg_of(cmd as usize, args.len()).map(|i| args.get(i)).unwrap_or_default();
        n += 1;
    }
    let shard = core.shard.borrow();
    prefetch::lookups(&shard.dbs[batch.db as usize].dict, &keys[..n], &members[..n]);
}

/// Runs a plain batch (commands of one connection, no transaction): at once as far as its
/// commands are admitted (all of them when no transaction is scheduled here), and the rest,
/// from the first that must wait its turn, in a task of its own.
fn run_plain_batch(core: &Rc<Core>, from: usize, id: u32, batch: Batch) {
    core.tick();
    prefetch_batch(core, &batch);
    let mut out = Out { buf: Vec::with_capacity(64 * batch.cmds.len()), resp3: batch.resp3 };
    let mut ends = Vec::with_capacity(batch.cmds.len());
    let check = !core.txq.is_idle();
    let at = run_batch_part(core, &batch, (0, 0), check, &mut out, &mut ends);
    if at.0 == batch.cmds.len() {
        reply_logged(core, from, Response { id, body: RespBody::Replies { out: out.buf, ends } });
        return;
    }
    let core = core.clone();
    glommio::spawn_local(async move {
        finish_plain_batch(&core, &batch, at, &mut out, &mut ends).await;
        reply_logged(&core, from, Response { id, body: RespBody::Replies { out: out.buf, ends } });
    })
    .detach();
}

/// Runs a batch at once when nothing can be in its way: its transaction may run here, or no
/// transaction is scheduled here at all (the common case). None when it has to wait.
fn run_batch_now(core: &Rc<Core>, tx: TxId, batch: &Batch) -> Option<RespBody> {
    let free = if tx != 0 { core.txq.runnable(tx) } else { core.txq.is_idle() };
    if !free {
        return None;
    }
    core.tick();
    let mut out = Out { buf: Vec::with_capacity(64 * batch.cmds.len()), resp3: batch.resp3 };
    let mut ends = Vec::with_capacity(batch.cmds.len());
    if tx != 0 {
        tagged(core, tx, || run_batch_part(core, batch, (0, 0), false, &mut out, &mut ends));
    } else {
        run_atomic_part(core, batch, &mut out, &mut ends);
    }
    if tx != 0 && batch.conclude {
        core.txq.conclude(tx);
    }
    Some(RespBody::Replies { out: out.buf, ends })
}

/// Runs a batch carrying transaction parts (see `pipeline`) as far as it can go without
/// waiting: a plain command must be admitted, a part must be taken by the queue and runnable
/// at once (it then concludes here with its run). Where one cannot, the batch stops, the part
/// is unscheduled, and the sender runs the rest. Never waiting is what keeps the sender's
/// transactions, scheduled on its own shard before this batch was sent, from waiting on
/// anything behind them (see `tx`: transactions wait only for smaller ids).
fn run_batch_eager(core: &Rc<Core>, mut batch: Batch) -> RespBody {
    core.tick();
    prefetch_batch(core, &batch);
    let db = batch.db as usize;
    let mut out = Out { buf: Vec::with_capacity(64 * batch.cmds.len()), resp3: batch.resp3 };
    let mut ends = Vec::with_capacity(batch.cmds.len());
    let mut parts = std::mem::take(&mut batch.parts).into_iter().peekable();
    let mut at = 0;
    for i in 0..batch.cmds.len() {
        let (cmd, args) = batch_command(&batch, at, i);
        let part = parts.next_if(|p| p.at as usize == i);
        let ran = match part {
            Some(part) => run_part_now(core, part, cmd, db, args, &mut out),
            None if admitted(core, cmd, db, args) => {
                exec_local(core, cmd, db, args, &mut out);
                true
            }
            None => false,
        };
        if !ran {
            bump(&core.txq.split_batches_stopped);
            return RespBody::Stopped { out: out.buf, ends, batch };
        }
        ends.push(out.buf.len() as u32);
        at += args.len();
    }
    RespBody::Replies { out: out.buf, ends }
}

/// Schedules a transaction part and runs it if it may run at once; otherwise leaves it
/// unscheduled and says so.
fn run_part_now(
    core: &Rc<Core>,
    part: mesh::TxPart,
    cmd: usize,
    db: usize,
    args: Args,
    out: &mut Out,
) -> bool {
    if !core.txq.schedule(part.tx, part.keys, false) {
        return false;
    }
    let runnable = core.txq.runnable(part.tx);
    if runnable {
        exec_local(core, cmd, db, args, out);
        bump(&core.txq.split_parts_run);
    }
    core.txq.conclude(part.tx);
    runnable
}

fn bump(counter: &std::cell::Cell<u64>) {
    counter.set(counter.get() + 1);
}

/// Serves one request from core `from`. Never waits: work that must wait for its turn gets a
/// task of its own.
pub fn on_request(core: &Rc<Core>, from: usize, req: Request) {
    let Request { id, tx, body } = req;
    match body {
        ReqBody::Batch(batch) if !batch.parts.is_empty() => {
            reply_logged(core, from, Response { id, body: run_batch_eager(core, batch) });
        }
        ReqBody::Batch(batch) if tx == 0 && !batch.atomic => run_plain_batch(core, from, id, batch),
        ReqBody::Batch(batch) => {
            if let Some(body) = run_batch_now(core, tx, &batch) {
                reply_logged(core, from, Response { id, body });
            } else {
                let core = core.clone();
                glommio::spawn_local(async move {
                    let body = run_batch(&core, tx, &batch).await;
                    reply_logged(&core, from, Response { id, body });
                })
                .detach();
            }
        }
        ReqBody::Schedule { keys, shard_wide } => {
            let ok = core.txq.schedule(tx, keys, shard_wide);
            core.mesh.reply(from, Response { id, body: RespBody::Scheduled(ok) });
        }
        ReqBody::Conclude => core.txq.conclude(tx),
        ReqBody::Wake(client) => core.wake_client(client),
        ReqBody::MonitorLines(lines) => core.monitor.deliver(&lines),
        ReqBody::Call(f) => {
            if tx == 0 || core.txq.runnable(tx) {
                let (value, _) = tagged(core, tx, || f(core));
                core.send_wakes();
                reply_logged(core, from, Response { id, body: RespBody::Value(value) });
            } else {
                let core = core.clone();
                glommio::spawn_local(async move {
                    core.txq.until_runnable(tx).await;
                    let (value, _) = tagged(&core, tx, || f(&core));
                    core.send_wakes();
                    reply_logged(&core, from, Response { id, body: RespBody::Value(value) });
                })
                .detach();
            }
        }
    }
}

pub async fn serve_requests(
    core: Rc<Core>,
    from: usize,
    rx: glommio::channels::shared_channel::ConnectedReceiver<Request>,
) {
    while let Some(req) = rx.recv().await {
        on_request(&core, from, req);
    }
}

pub async fn serve_replies(
    core: Rc<Core>,
    from: usize,
    rx: glommio::channels::shared_channel::ConnectedReceiver<Response>,
) {
    while let Some(resp) = rx.recv().await {
        core.mesh.complete(from, resp);
    }
}

/// Runs `f` on core `shard` (directly when it is this core) and returns its result; as a hop
/// of transaction `tx` when that is not 0.
pub async fn invoke_on<T: Send + 'static>(
    core: &Rc<Core>,
    shard: usize,
    tx: TxId,
    f: impl FnOnce(&Rc<Core>) -> T + Send + 'static,
) -> T {
    if shard == core.id {
        if tx != 0 {
            core.txq.until_runnable(tx).await;
        }
        let (value, _) = tagged(core, tx, || f(core));
        core.send_wakes();
        return value;
    }
    let boxed: mesh::RemoteFn = Box::new(move |c| Box::new(f(c)));
    match core.mesh.call(shard, tx, ReqBody::Call(boxed)).await {
        RespBody::Value(v) => *v.downcast::<T>().expect("invoke_on reply type"),
        _ => unreachable!("invoke_on got a non-value reply"),
    }
}

/// Runs `f` on every core, in core order, and collects the results.
pub async fn invoke_all<T: Send + 'static>(
    core: &Rc<Core>,
    f: impl Fn(&Rc<Core>) -> T + Send + Sync + Clone + 'static,
) -> Vec<T> {
    let mut results = Vec::with_capacity(core.shards);
    for s in 0..core.shards {
        let f = f.clone();
        results.push(invoke_on(core, s, 0, f).await);
    }
    results
}
