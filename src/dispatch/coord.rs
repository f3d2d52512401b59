//! The coordinator: runs, from the connection's core, every command that is not a plain
//! single-shard command — multi-key commands whose keys span shards, keyless commands that
//! run on every shard, cross-shard moves (RENAME, COPY), MSETNX and SCAN. Multi-shard work is
//! a transaction (see `tx`): scheduled on the shards it touches, run as hops, concluded.
//! Each of these also runs as a part of an enclosing transaction (`within`, for EXEC), in
//! which case it neither begins nor concludes one.

use super::mesh::{ReqBody, RespBody};
use super::pipeline::{Pipeline, Split};
use super::{exec_local, invoke_on, merge, slot::key_shard};
use crate::commands::{self, Args, Exec, OwnedArgs, Special, table};
use crate::error::CmdError;
use crate::resp::Out;
use crate::server::client::Client;
use crate::server::core::Core;
use crate::shard::{Ctx, now_ms};
use crate::tx::TxId;
use crate::tx::coordinator::{self as txc, Footprint};
use crate::tx::queue::LockKey;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Runs `f` with a `Ctx` on this core's shard for database `db`.
pub fn with_ctx<R>(core: &Core, db: usize, f: impl FnOnce(&mut Ctx) -> R) -> R {
    // The command clock, as for every other command on this core (a fresh wall-clock read
    // could be a millisecond behind it and see a key alive that KEYS just saw expired).
    core.tick();
    let mut shard = core.shard.borrow_mut();
    let config = core.config.borrow();
    let mut ctx = Ctx { shard: &mut shard, db, now_ms: core.now_ms.get(), config: &config };
    f(&mut ctx)
}

/// Runs a command that waited (for the gate, or for earlier pipelined commands) or needs the
/// coordinator.
pub async fn run(core: &Rc<Core>, client: &mut Client, cmd_index: usize, args: &OwnedArgs, out: &mut Out) {
    let cmd = &table()[cmd_index];
    let a = args.args();
    while core.paused_for(cmd) {
        // CLIENT UNPAUSE clears the pause; a short poll bounds how late we notice it.
        let left =
            core.pause.get().map(|(until, _)| until.saturating_duration_since(std::time::Instant::now()));
        glommio::timer::sleep(left.unwrap_or_default().min(std::time::Duration::from_millis(10))).await;
    }
    if cmd.flags & commands::BLOCKING != 0 {
        crate::tx::blocking::run(core, client, cmd_index, a, out).await;
    } else {
        run_unblocked(core, client, cmd_index, a, out).await;
    }
}

/// Runs a command once, without blocking (a blocking command makes its one attempt).
pub async fn run_unblocked(
    core: &Rc<Core>,
    client: &mut Client,
    cmd_index: usize,
    a: Args<'_>,
    out: &mut Out,
) {
    let cmd = &table()[cmd_index];
    match cmd.exec {
        Exec::Shard(_) => match single_shard(core, cmd_index, a) {
            Some(shard) => run_on_shard(core, shard, client, cmd_index, a, out).await,
            None => out.error("CROSSSLOT Keys in request don't hash to the same slot"),
        },
        Exec::Multi(_, how) => {
            let groups = group_keys(core, cmd_index, a);
            if groups.len() <= 1 {
                let shard = groups.keys().next().copied().unwrap_or(core.id);
                run_on_shard(core, shard, client, cmd_index, a, out).await;
            } else {
                run_split(core, client, cmd_index, a, groups, how, None, out).await;
            }
        }
        Exec::AllShards(_, how) => {
            let groups: BTreeMap<usize, Vec<usize>> = (0..core.shards).map(|s| (s, Vec::new())).collect();
            run_split(core, client, cmd_index, a, groups, how, None, out).await;
        }
        Exec::Cross(_, special) => match single_shard(core, cmd_index, a) {
            Some(shard) => run_on_shard(core, shard, client, cmd_index, a, out).await,
            _ => run_cross(core, client, cmd_index, special, a, None, out).await,
        },
        Exec::Conn(f) => {
            let result = f(client, a, out);
            crate::server::monitor::after_run(core, &client.info, client.db, cmd_index, a);
            if let Err(e) = result {
                let text = e.to_string();
                core.count_error(&text);
                out.error(&text);
            }
        }
        Exec::Special(special) => crate::commands::server::run_special(core, client, special, a, out).await,
    }
}

/// The one shard all of a command's keys live on (this core for keyless commands), or None.
pub fn single_shard(core: &Core, cmd_index: usize, args: Args) -> Option<usize> {
    let cmd = &table()[cmd_index];
    if matches!(cmd.exec, Exec::Cross(_, Special::Gather))
        && core.shards > 1
        && reads_undeclared_keys(cmd_index, args)
    {
        return None;
    }
    let mut shard = None;
    for i in cmd.keys(args) {
        let s = key_shard(args.get(i), core.shards);
        match shard {
            None => shard = Some(s),
            Some(prev) if prev != s => return None,
            _ => {}
        }
    }
    Some(shard.unwrap_or(core.id))
}

pub fn group_keys(core: &Core, cmd_index: usize, args: Args) -> BTreeMap<usize, Vec<usize>> {
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in table()[cmd_index].keys(args) {
        groups.entry(key_shard(args.get(i), core.shards)).or_default().push(i);
    }
    groups
}

/// Queues a multi-key command whose keys live on this shard and exactly one other in the
/// pipeline as a split transaction (see `pipeline`), scheduled here at once. False when it
/// does not qualify: it then runs through `run` once the pipeline is flushed. Logged writes do
/// not qualify (their commit record must be safe before they conclude).
pub fn split_into_pipeline(
    core: &Rc<Core>,
    client: &Client,
    cmd_index: usize,
    args: Args,
    pipe: &mut Pipeline,
) -> bool {
    let cmd = &table()[cmd_index];
    let Exec::Multi(_, how) = cmd.exec else { return false };
    if core.aof.get().is_some() {
        return false;
    }
    let Some((here, there, other)) = two_shard_positions(core, cmd_index, args) else { return false };
    let write = cmd.flags & commands::WRITE != 0;
    let locks = |positions: &[usize]| -> Vec<LockKey> {
        positions.iter().map(|&p| LockKey::new(client.db, args.get(p), write)).collect()
    };
    let tx = super::schedule_here(core, locks(&here), false);
    let remote_keys = locks(&there);
    let remote = sub_command_args(cmd_index, args, &there);
    let index = pipe.push_part(other, client.db, client.resp3, cmd_index, remote, tx, remote_keys);
    let local = OwnedArgs::from_slices(sub_command_args(cmd_index, args, &here));
    let positions = if core.id < other { [here, there] } else { [there, here] };
    pipe.push_split(Split {
        shard: other,
        tx,
        cmd: cmd_index,
        local,
        positions,
        how,
        index,
        local_reply: None,
    });
    true
}

/// The key positions of a command whose keys live on this shard and exactly one other: (this
/// shard's, the other's, the other shard). None for any other spread.
fn two_shard_positions(core: &Core, cmd_index: usize, args: Args) -> Option<(Vec<usize>, Vec<usize>, usize)> {
    let (mut here, mut there, mut other) = (Vec::new(), Vec::new(), None);
    for i in table()[cmd_index].keys(args) {
        let shard = key_shard(args.get(i), core.shards);
        if shard == core.id {
            here.push(i);
        } else if other.is_none_or(|o| o == shard) {
            other = Some(shard);
            there.push(i);
        } else {
            return None;
        }
    }
    if here.is_empty() {
        return None;
    }
    Some((here, there, other?))
}

/// Runs a whole command on one shard, outside any transaction.
pub async fn run_on_shard(
    core: &Rc<Core>,
    shard: usize,
    client: &Client,
    cmd_index: usize,
    args: Args<'_>,
    out: &mut Out,
) {
    if shard == core.id {
        super::run_plain(core, cmd_index, client.db, args, out).await;
        return;
    }
    let reply = call_batch(core, shard, 0, client.db, client.resp3, cmd_index, args).await;
    out.raw(&reply);
}

pub async fn call_batch(
    core: &Rc<Core>,
    shard: usize,
    tx: TxId,
    db: usize,
    resp3: bool,
    cmd: usize,
    args: Args<'_>,
) -> Vec<u8> {
    let mut batch = super::mesh::Batch::new(db, resp3);
    batch.push(cmd, args.iter());
    match core.mesh.call(shard, tx, ReqBody::Batch(batch)).await {
        RespBody::Replies { out, .. } => out,
        _ => unreachable!("batch answered with a non-reply"),
    }
}

/// Runs one command on a shard as a hop of transaction `tx`.
pub async fn run_in_tx(
    core: &Rc<Core>,
    shard: usize,
    tx: TxId,
    client: &Client,
    cmd: usize,
    args: Args<'_>,
) -> Vec<u8> {
    if shard == core.id {
        core.txq.until_runnable(tx).await;
        let mut out = Out::new(client.resp3);
        core.tick();
        super::tagged(core, tx, || exec_local(core, cmd, client.db, args, &mut out));
        return out.buf;
    }
    call_batch(core, shard, tx, client.db, client.resp3, cmd, args).await
}

/// Builds the part of a multi-key command for one shard: its name and, for each of its key
/// positions, the key and the arguments that belong to it (MSET's values).
fn sub_command(cmd_index: usize, args: Args, positions: &[usize]) -> OwnedArgs {
    OwnedArgs::from_slices(sub_command_args(cmd_index, args, positions))
}

/// The arguments of `sub_command`, borrowed.
fn sub_command_args<'a>(
    cmd_index: usize,
    args: Args<'a>,
    positions: &'a [usize],
) -> impl Iterator<Item = &'a [u8]> + 'a {
    let step = table()[cmd_index].step.max(1) as usize;
    let all = positions.is_empty().then(|| 1..args.len()).into_iter().flatten();
    let picked = positions.iter().flat_map(move |&p| p..(p + step).min(args.len()));
    std::iter::once(0).chain(all).chain(picked).map(move |i| args.get(i))
}

/// The footprint of a command whose key positions are grouped per shard (AllShards commands
/// have empty groups and lock their shards whole).
fn split_footprint(
    cmd_index: usize,
    db: usize,
    args: Args,
    groups: &BTreeMap<usize, Vec<usize>>,
) -> Footprint {
    let cmd = &table()[cmd_index];
    let write = cmd.flags & commands::WRITE != 0;
    if matches!(cmd.exec, Exec::AllShards(..)) {
        return groups.keys().map(|&s| (s, txc::ShardLocks { keys: Vec::new(), shard_wide: true })).collect();
    }
    let mut fp = Footprint::new();
    for (&shard, positions) in groups {
        for &p in positions {
            txc::add_key(&mut fp, shard, db, args.get(p), write);
        }
    }
    fp
}

/// The transaction an operation runs in: the enclosing one (`within`), or a new one over `fp`
/// that the operation begins, and must `end`.
#[derive(Clone, Copy)]
struct Scope {
    tx: TxId,
    own: bool,
}

impl Scope {
    async fn enter(core: &Rc<Core>, within: Option<TxId>, fp: &Footprint) -> Scope {
        match within {
            Some(tx) => Scope { tx, own: false },
            None => Scope { tx: txc::begin(core, fp).await, own: true },
        }
    }

    /// Concludes an own transaction; one that wrote commits its AOF group first.
    async fn end(self, core: &Rc<Core>, fp: &Footprint, wrote: bool) {
        if self.own {
            if wrote {
                crate::persistence::aof::commit_group(core, self.tx).await;
            }
            txc::finish(core, self.tx, fp.keys().copied()).await;
        }
    }
}

/// Runs a command split over several shards as one transaction (one hop per shard, which
/// also concludes the transaction there) and merges the replies.
#[allow(clippy::too_many_arguments)]
pub async fn run_split(
    core: &Rc<Core>,
    client: &Client,
    cmd_index: usize,
    args: Args<'_>,
    groups: BTreeMap<usize, Vec<usize>>,
    how: commands::Merge,
    within: Option<TxId>,
    out: &mut Out,
) {
    let fp = split_footprint(cmd_index, client.db, args, &groups);
    let scope = Scope::enter(core, within, &fp).await;
    let tx = scope.tx;
    // A write logged to the AOF concludes only after its commit record is safe (see
    // `persistence::aof`); otherwise each shard concludes with its hop.
    let logged = scope.own && core.aof.get().is_some() && table()[cmd_index].flags & commands::WRITE != 0;
    let conclude_with_hop = scope.own && !logged;
    let mut waits = Vec::new();
    let mut local = None;
    for (&shard, positions) in &groups {
        let sub = sub_command(cmd_index, args, positions);
        if shard == core.id {
            local = Some(sub);
            continue;
        }
        let mut batch = super::mesh::Batch::new(client.db, client.resp3);
        batch.push(cmd_index, sub.args().iter());
        batch.conclude = conclude_with_hop;
        waits.push((shard, core.mesh.start(shard, tx, ReqBody::Batch(batch)).await));
    }
    let mut replies: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
    if let Some(sub) = local {
        core.txq.until_runnable(tx).await;
        let mut o = Out::new(client.resp3);
        core.tick();
        super::tagged(core, tx, || exec_local(core, cmd_index, client.db, sub.args(), &mut o));
        if conclude_with_hop {
            core.txq.conclude(tx);
        }
        replies.insert(core.id, o.buf);
    }
    for (shard, wait) in waits {
        if let RespBody::Replies { out, .. } = wait.await {
            replies.insert(shard, out);
        }
    }
    if logged {
        scope.end(core, &fp, true).await;
    }
    let ordered: Vec<&[u8]> = replies.values().map(Vec::as_slice).collect();
    let positions: Vec<Vec<usize>> = groups.into_values().collect();
    merge::merge(how, &ordered, &positions, out);
}

pub async fn run_cross(
    core: &Rc<Core>,
    client: &Client,
    cmd_index: usize,
    special: Special,
    args: Args<'_>,
    within: Option<TxId>,
    out: &mut Out,
) {
    let result = match special {
        Special::Gather => gather_and_run(core, client, cmd_index, args, within, out).await,
        Special::MsetNx => msetnx(core, client, args, within, out).await,
        Special::Rename | Special::RenameNx => {
            rename(core, client, args, special == Special::RenameNx, within, out).await
        }
        Special::Copy => copy(core, client, args, within, out).await,
        _ => Err(CmdError::msg("ERR not a cross-shard command")),
    };
    if let Err(e) = result {
        let text = e.to_string();
        core.count_error(&text);
        out.error(&text);
    }
}

use super::KeyState;

/// Whether a command reads keys that are not among its declared keys (SORT's BY and GET
/// patterns): its transaction must then lock every shard whole.
pub fn reads_undeclared_keys(cmd_index: usize, args: Args) -> bool {
    let name = table()[cmd_index].name;
    (name == "sort" || name == "sort_ro")
        && args.iter().zip(args.iter().skip(1)).any(|(opt, val)| {
            (commands::eq_ic(opt, "by") && !val.eq_ignore_ascii_case(b"nosort"))
                || (commands::eq_ic(opt, "get") && val != b"#")
        })
}

/// How many times a command may run again on a scratch shard after gathering the keys it
/// looked up and missed (SORT: once for the patterns' keys).
const GATHER_ROUNDS: usize = 3;

/// Runs a multi-key command whose keys span shards: copies of its keys, taken at one moment
/// inside one transaction, are put in a scratch shard where the command's own function runs;
/// a writing command's changed keys are then written back to their shards in the same
/// transaction. A command that reads keys it did not declare (SORT ... BY/GET) locks every
/// shard and runs again with the keys it missed until it misses none.
async fn gather_and_run(
    core: &Rc<Core>,
    client: &Client,
    cmd_index: usize,
    args: Args<'_>,
    within: Option<TxId>,
    out: &mut Out,
) -> Result<(), CmdError> {
    let groups = group_keys(core, cmd_index, args);
    let db = client.db;
    let writes = table()[cmd_index].flags & commands::WRITE != 0;
    let undeclared = reads_undeclared_keys(cmd_index, args);
    let fp =
        if undeclared { txc::all_shards(core.shards) } else { split_footprint(cmd_index, db, args, &groups) };
    let scope = Scope::enter(core, within, &fp).await;
    let tx = scope.tx;
    let declared = groups
        .into_iter()
        .map(|(shard, positions)| (shard, positions.iter().map(|&p| args.get(p).to_vec()).collect()))
        .collect();
    let mut before = gather_keys(core, tx, db, declared).await;
    let config = core.config.borrow().clone();
    let Exec::Cross(f, _) = table()[cmd_index].exec else { unreachable!("gather runs Cross commands") };
    let mut rounds = 0;
    let (mut scratch, (result, reports_change)) = loop {
        let mut scratch = crate::shard::Shard::new(core.id, db + 1);
        scratch.missed = undeclared.then(Vec::new);
        let mut ctx = Ctx { shard: &mut scratch, db, now_ms: now_ms(), config: &config };
        for (_, key, state) in &before {
            if let Some((value, expire)) = state {
                let mut entry = ctx.new_entry(value.clone());
                entry.expire_at_ms = *expire;
                ctx.db().insert(key, entry);
            }
        }
        let mut attempt = Out::new(out.resp3);
        let result = f(&mut ctx, args, &mut attempt);
        let mut missed = scratch.missed.take().unwrap_or_default();
        missed.retain(|k| !before.iter().any(|(_, b, _)| b == k));
        missed.sort();
        missed.dedup();
        rounds += 1;
        if missed.is_empty() || rounds == GATHER_ROUNDS {
            out.raw(&attempt.buf);
            let reports_change = result.is_ok() && super::reply_reports_change(&attempt.buf);
            break (scratch, (result, reports_change));
        }
        let mut more: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
        for k in missed {
            more.entry(key_shard(&k, core.shards)).or_default().push(k);
        }
        before.extend(gather_keys(core, tx, db, more).await);
    };
    if writes {
        let mut ctx = Ctx { shard: &mut scratch, db, now_ms: now_ms(), config: &config };
        // Keys the command reports it wrote stay "changed" for WATCH even when their value
        // came out the same (as Redis signals them); SORT writes only its destination.
        let cmd = &table()[cmd_index];
        let written: Vec<&[u8]> = cmd.written_keys(args).map(|i| args.get(i)).collect();
        let mut changed: BTreeMap<usize, Vec<WriteBack>> = BTreeMap::new();
        for (shard, key, state) in before {
            let after = ctx.lookup_quiet(&key).map(|e| (e.value.clone(), e.expire_at_ms));
            if after != state {
                changed.entry(shard).or_default().push((key, Some(after)));
            } else if reports_change && written.contains(&key.as_slice()) {
                changed.entry(shard).or_default().push((key, None));
            }
        }
        for (shard, keys) in changed {
            invoke_on(core, shard, tx, move |c| {
                with_ctx(c, db, |ctx| {
                    for (key, state) in keys {
                        match state {
                            Some(state) => commands::generic::write_back(ctx, &key, state),
                            None => ctx.touch_watched(&key),
                        }
                    }
                })
            })
            .await;
        }
    }
    scope.end(core, &fp, writes).await;
    result
}

/// A key to write back after a gathered command: its new state, or None when only WATCH
/// must hear of it.
type WriteBack = (Vec<u8>, Option<KeyState>);

/// Copies of keys (value and expiry, or absent), read on their shards inside `tx`.
async fn gather_keys(
    core: &Rc<Core>,
    tx: TxId,
    db: usize,
    per_shard: BTreeMap<usize, Vec<Vec<u8>>>,
) -> Vec<(usize, Vec<u8>, KeyState)> {
    let mut found = Vec::new();
    for (shard, keys) in per_shard {
        let copies = invoke_on(core, shard, tx, move |c| {
            with_ctx(c, db, |ctx| {
                keys.into_iter()
                    .map(|k| {
                        let state = commands::generic::peek_for_copy(ctx, &k);
                        (k, state)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .await;
        found.extend(copies.into_iter().map(|(k, state)| (shard, k, state)));
    }
    found
}

/// MSETNX across shards: check every key's absence and set them all within one transaction.
async fn msetnx(
    core: &Rc<Core>,
    client: &Client,
    args: Args<'_>,
    within: Option<TxId>,
    out: &mut Out,
) -> Result<(), CmdError> {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity("msetnx".into()));
    }
    let msetnx = commands::index_of("msetnx");
    let groups = group_keys(core, msetnx, args);
    let fp = split_footprint(msetnx, client.db, args, &groups);
    let scope = Scope::enter(core, within, &fp).await;
    let tx = scope.tx;
    let mut existing = 0;
    for (&shard, positions) in &groups {
        let keys = OwnedArgs::from_slices(
            std::iter::once(&b"EXISTS"[..]).chain(positions.iter().map(|&p| args.get(p))),
        );
        let reply = run_in_tx(core, shard, tx, client, commands::index_of("exists"), keys.args()).await;
        existing += merge::elements_int(&reply);
    }
    if existing == 0 {
        let mset = commands::index_of("mset");
        for (&shard, positions) in &groups {
            let sub = sub_command(mset, args, positions);
            run_in_tx(core, shard, tx, client, mset, sub.args()).await;
        }
    }
    scope.end(core, &fp, existing == 0).await;
    out.int((existing == 0) as i64);
    Ok(())
}

async fn rename(
    core: &Rc<Core>,
    client: &Client,
    args: Args<'_>,
    nx: bool,
    within: Option<TxId>,
    out: &mut Out,
) -> Result<(), CmdError> {
    let (src, dst) = (args.get(1).to_vec(), args.get(2).to_vec());
    let (from, to) = (key_shard(&src, core.shards), key_shard(&dst, core.shards));
    let db = client.db;
    let mut fp = Footprint::new();
    txc::add_key(&mut fp, from, db, &src, true);
    txc::add_key(&mut fp, to, db, &dst, true);
    let scope = Scope::enter(core, within, &fp).await;
    let tx = scope.tx;
    let result = async {
        let src_key = src.clone();
        let exists =
            invoke_on(core, from, tx, move |c| with_ctx(c, db, |ctx| ctx.lookup_quiet(&src_key).is_some()))
                .await;
        if !exists {
            return Err(CmdError::NoSuchKey);
        }
        if nx {
            let dst_key = dst.clone();
            let taken =
                invoke_on(core, to, tx, move |c| with_ctx(c, db, |ctx| ctx.lookup_quiet(&dst_key).is_some()))
                    .await;
            if taken {
                return Ok(false);
            }
        }
        let entry = invoke_on(core, from, tx, move |c| {
            with_ctx(c, db, |ctx| commands::generic::take_for_move(ctx, &src))
        })
        .await;
        let Some(entry) = entry else { return Err(CmdError::NoSuchKey) };
        invoke_on(core, to, tx, move |c| {
            with_ctx(c, db, |ctx| commands::generic::put_moved(ctx, &dst, entry, true))
        })
        .await;
        Ok(true)
    }
    .await;
    scope.end(core, &fp, matches!(result, Ok(true))).await;
    let moved = result?;
    if nx {
        out.int(moved as i64)
    } else {
        out.ok()
    }
    Ok(())
}

async fn copy(
    core: &Rc<Core>,
    client: &Client,
    args: Args<'_>,
    within: Option<TxId>,
    out: &mut Out,
) -> Result<(), CmdError> {
    let (src, dst) = (args.get(1).to_vec(), args.get(2).to_vec());
    let opts = with_ctx(core, client.db, |ctx| commands::generic::parse_copy_args(ctx, args))?;
    let (from, to) = (key_shard(&src, core.shards), key_shard(&dst, core.shards));
    let (src_db, dst_db) = (client.db, opts.db.unwrap_or(client.db));
    let mut fp = Footprint::new();
    txc::add_key(&mut fp, from, src_db, &src, false);
    txc::add_key(&mut fp, to, dst_db, &dst, true);
    let scope = Scope::enter(core, within, &fp).await;
    let tx = scope.tx;
    let copied = async {
        let value = invoke_on(core, from, tx, move |c| {
            with_ctx(c, src_db, |ctx| commands::generic::peek_for_copy(ctx, &src))
        })
        .await;
        let Some((value, expire)) = value else { return false };
        let replace = opts.replace;
        invoke_on(core, to, tx, move |c| {
            with_ctx(c, dst_db, |ctx| {
                let mut entry = ctx.new_entry(value);
                entry.expire_at_ms = expire;
                commands::generic::put_moved(ctx, &dst, entry, replace)
            })
        })
        .await
    }
    .await;
    scope.end(core, &fp, copied).await;
    out.int(copied as i64);
    Ok(())
}

/// SCAN over all shards: the cursor's top byte is the shard, the rest that shard's cursor.
pub async fn scan(core: &Rc<Core>, client: &Client, args: Args<'_>, out: &mut Out) -> Result<(), CmdError> {
    const SHARD_SHIFT: u32 = 56;
    let opts = commands::generic::parse_scan_args(args, 2)?;
    let cursor = opts.cursor;
    let mut shard = (cursor >> SHARD_SHIFT) as usize;
    let mut inner = cursor & ((1 << SHARD_SHIFT) - 1);
    if shard >= core.shards {
        shard = 0;
        inner = 0;
    }
    let db = client.db;
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let next = loop {
        let o = opts.clone();
        let (next_inner, found) = invoke_on(core, shard, 0, move |c| {
            with_ctx(c, db, |ctx| {
                commands::generic::scan_shard(
                    ctx,
                    inner,
                    o.count,
                    o.pattern.as_deref(),
                    o.type_filter.as_deref(),
                )
            })
        })
        .await;
        keys.extend(found);
        if next_inner != 0 {
            break ((shard as u64) << SHARD_SHIFT) | next_inner;
        }
        shard += 1;
        inner = 0;
        if shard >= core.shards {
            break 0;
        }
        if keys.len() >= opts.count {
            break (shard as u64) << SHARD_SHIFT;
        }
    };
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(keys.len());
    for k in &keys {
        out.bulk(k);
    }
    Ok(())
}

/// RANDOMKEY: a random key of a random non-empty shard.
pub async fn random_key(core: &Rc<Core>, client: &Client, out: &mut Out) {
    let db = client.db;
    let start = (now_ms() as usize) % core.shards;
    for i in 0..core.shards {
        let shard = (start + i) % core.shards;
        let key =
            invoke_on(core, shard, 0, move |c| with_ctx(c, db, commands::generic::random_key_local)).await;
        if let Some(key) = key {
            out.bulk(&key);
            return;
        }
    }
    out.null();
}
