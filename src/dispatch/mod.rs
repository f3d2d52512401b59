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
//! * Commands spanning shards run through `coord` with the shards' gates held (see `tx`).
//! * Each core runs one task per peer that receives requests (`serve_requests`) and one that
//!   receives replies (`serve_replies`); neither ever waits on a gate, which is what keeps the
//!   mesh free of send/receive deadlocks.

pub mod coord;
pub mod merge;
pub mod mesh;
pub mod pipeline;
pub mod slot;

use crate::commands::{Args, Exec, table};
use crate::resp::Out;
use crate::server::core::Core;
use crate::shard::Ctx;
use crate::types::cycles;
use mesh::{Batch, ReqBody, Request, RespBody, Response};
use std::rc::Rc;

/// Runs one shard-side command against this core's shard, writing its reply (or error) to
/// `out`. The caller has checked the gate.
pub fn exec_local(core: &Core, cmd_index: usize, db: usize, args: Args, out: &mut Out) {
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
        f(&mut ctx, args, out)
    };
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

/// Executes a batch from another core; replies concatenated with their end offsets.
pub fn run_batch(core: &Core, batch: &Batch) -> RespBody {
    core.tick();
    let mut out = Out { buf: Vec::with_capacity(64 * batch.cmds.len()), resp3: batch.resp3 };
    let mut ends = Vec::with_capacity(batch.cmds.len());
    let mut at = 0usize;
    for &(cmd, argc) in &batch.cmds {
        let args = Args { buf: &batch.args.buf, ranges: &batch.args.ranges[at..at + argc as usize] };
        exec_local(core, cmd as usize, batch.db as usize, args, &mut out);
        ends.push(out.buf.len() as u32);
        at += argc as usize;
    }
    RespBody::Replies { out: out.buf, ends }
}

/// Serves one request from core `from`. Never waits: work that must wait at the gate gets a
/// task of its own.
pub fn on_request(core: &Rc<Core>, from: usize, req: Request) {
    let Request { id, tx, body } = req;
    let privileged = tx != 0 && core.gate.holder() == Some(tx);
    match body {
        ReqBody::Batch(batch) => {
            if privileged || core.gate.is_free() {
                let body = run_batch(core, &batch);
                core.mesh.reply(from, Response { id, body });
            } else {
                let core = core.clone();
                glommio::spawn_local(async move {
                    let permit = core.gate.read().await;
                    let body = run_batch(&core, &batch);
                    drop(permit);
                    core.mesh.reply(from, Response { id, body });
                })
                .detach();
            }
        }
        ReqBody::Lock => {
            let core = core.clone();
            glommio::spawn_local(async move {
                core.gate.write(tx).await;
                core.mesh.reply(from, Response { id, body: RespBody::Granted });
            })
            .detach();
        }
        ReqBody::Unlock => core.gate.release(tx),
        ReqBody::Call { f, keyspace } => {
            if !keyspace || privileged || core.gate.is_free() {
                let value = f(core);
                core.mesh.reply(from, Response { id, body: RespBody::Value(value) });
            } else {
                let core = core.clone();
                glommio::spawn_local(async move {
                    let permit = core.gate.read().await;
                    let value = f(&core);
                    drop(permit);
                    core.mesh.reply(from, Response { id, body: RespBody::Value(value) });
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

/// Runs `f` on core `shard` (directly when it is this core) and returns its result.
pub async fn invoke_on<T: Send + 'static>(
    core: &Rc<Core>,
    shard: usize,
    tx: u64,
    keyspace: bool,
    f: impl FnOnce(&Rc<Core>) -> T + Send + 'static,
) -> T {
    if shard == core.id {
        if keyspace && tx == 0 && !core.gate.is_free() {
            let _permit = core.gate.read().await;
            return f(core);
        }
        return f(core);
    }
    let boxed: mesh::RemoteFn = Box::new(move |c| Box::new(f(c)));
    match core.mesh.call(shard, tx, ReqBody::Call { f: boxed, keyspace }).await {
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
        results.push(invoke_on(core, s, 0, false, f).await);
    }
    results
}
