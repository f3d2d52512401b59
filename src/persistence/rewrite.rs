//! AOF rewrite for one shard (see `aof` for the crash-safety argument): serialize the shard
//! into a new base, switch records to a new incremental file, and replace the manifest twice.
//! The base is the shard as of the rewrite's start, serialized by a copy-on-write walk
//! (`cow`) while the shard keeps serving.

use super::aof::{self, Aof, Layout};
use super::propagate::emit_entry;
use crate::server::core::Core;
use crate::shard::Shard;
use std::rc::Rc;

/// Commands that recreate every live key of `shard` (SELECT per database, then each key).
pub fn serialize(shard: &Shard, now_ms: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for (db, d) in shard.dbs.iter().enumerate() {
        if d.is_empty() {
            continue;
        }
        push_command(&mut out, &[b"SELECT", db.to_string().as_bytes()]);
        for (key, entry) in d.dict.iter() {
            if !entry.is_expired(now_ms) {
                emit_entry(&mut |args: &[&[u8]]| push_command(&mut out, args), key, entry);
            }
        }
    }
    out
}

/// A snapshot walk's output as AOF base commands (see `cow`).
struct BaseSink {
    out: Vec<u8>,
    db: Option<usize>,
}

impl super::cow::Sink for BaseSink {
    fn key(&mut self, db: usize, key: &[u8], entry: &crate::shard::Entry) {
        if self.db != Some(db) {
            push_command(&mut self.out, &[b"SELECT", db.to_string().as_bytes()]);
            self.db = Some(db);
        }
        let out = &mut self.out;
        emit_entry(&mut |args: &[&[u8]]| push_command(out, args), key, entry);
    }

    fn finish(self: Box<Self>) -> Vec<u8> {
        self.out
    }
}

fn push_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    crate::resp::write::push_i64(out, args.len() as i64);
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        crate::resp::write::push_i64(out, a.len() as i64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Whether the files grew enough since the last rewrite for an automatic one.
pub fn auto_rewrite_due(core: &Core, aof: &Aof) -> bool {
    let (pct, min) = {
        let c = core.config.borrow();
        (c.auto_aof_rewrite_percentage, c.auto_aof_rewrite_min_size)
    };
    let st = aof.stats.borrow();
    if pct == 0 || st.rewrite_in_progress || st.current_size < min {
        return false;
    }
    let base = st.base_size.max(1);
    st.current_size.saturating_sub(base) * 100 / base >= pct
}

/// Starts a rewrite: called by the flusher (so no record write is in flight) when no
/// transaction is scheduled on this shard (so no group is half-logged).
pub async fn start(core: &Rc<Core>, aof: &Rc<Aof>) {
    aof.rewrite_requested.set(false);
    if aof.stats.borrow().rewrite_in_progress {
        return;
    }
    aof.stats.borrow_mut().rewrite_in_progress = true;
    let started = std::time::Instant::now();
    // 1. The moment of the snapshot: records so far belong to the old files, the rest to the new.
    let epoch = super::cow::start(core, Box::new(BaseSink { out: Vec::new(), db: None }));
    let (pending, end, compacted) = {
        let mut shard = core.shard.borrow_mut();
        let log = shard.aof.as_mut().expect("AOF");
        let pending = std::mem::take(&mut log.buf);
        log.forget_selected();
        log.oldest_tagged_replaced = log.oldest_tagged_replaced.min(log.oldest_tagged);
        log.oldest_tagged = u64::MAX;
        let compacted = std::mem::take(&mut log.commits);
        (pending, log.appended, compacted)
    };
    let switched = switch_files(aof, pending, end).await;
    let result = match switched {
        Ok(old) => {
            // The base is written in the background: records keep flowing to the new file.
            let (core, aof) = (core.clone(), aof.clone());
            glommio::spawn_local(async move {
                let base = super::cow::output(&core, epoch).await;
                let base = with_needed_commits(&core, base, &compacted).await;
                let result = write_base(&aof, old, base).await;
                after_base(&core, result.is_ok(), &compacted);
                finish(&core, &aof, started, result);
            })
            .detach();
            return;
        }
        Err(e) => Err(e),
    };
    // The walk still runs; its output is not wanted.
    let core2 = core.clone();
    glommio::spawn_local(async move {
        super::cow::output(&core2, epoch).await;
    })
    .detach();
    after_base(core, false, &compacted);
    finish(core, aof, started, result);
}

/// A group's commit record lives only in the file of the core that coordinated it, while its
/// tagged records live in the files of the shards it wrote. A rewrite must therefore keep the
/// commit records that some shard's files may still need: those of groups at least as new as
/// the oldest group tagged in any shard's files (asked after the snapshot, so every group
/// committed before it had its records appended by then; a shard that has since rewritten
/// them into its base no longer needs the commit). Group ids only grow, so what is kept stays
/// a recent tail.
async fn with_needed_commits(core: &Rc<Core>, mut base: Vec<u8>, compacted: &[u64]) -> Vec<u8> {
    if compacted.is_empty() {
        return base;
    }
    let me = core.id;
    let oldest = crate::dispatch::invoke_all(core, move |c| {
        let shard = c.shard.borrow();
        shard
            .aof
            .as_ref()
            .map_or(u64::MAX, |l| if c.id == me { l.oldest_tagged } else { l.oldest_tagged_in_files() })
    })
    .await
    .into_iter()
    .min()
    .unwrap_or(u64::MAX);
    let mut kept = Vec::new();
    for &id in compacted.iter().filter(|&&id| id >= oldest) {
        push_command(&mut base, &[b"TXCOMMIT", id.to_string().as_bytes()]);
        kept.push(id);
    }
    if let Some(log) = core.shard.borrow_mut().aof.as_mut() {
        log.commits.extend(kept);
    }
    base
}

/// Once the new base is listed alone, the replaced files' tags are gone; if the rewrite
/// failed, the old files (and their commit records) are still listed.
fn after_base(core: &Core, ok: bool, compacted: &[u64]) {
    let mut shard = core.shard.borrow_mut();
    let Some(log) = shard.aof.as_mut() else { return };
    if ok {
        log.oldest_tagged_replaced = u64::MAX;
    } else {
        log.commits.extend_from_slice(compacted);
    }
}

fn finish(core: &Core, aof: &Aof, started: std::time::Instant, result: std::io::Result<u64>) {
    let mut st = aof.stats.borrow_mut();
    st.rewrite_in_progress = false;
    st.last_rewrite_ok = result.is_ok();
    st.last_rewrite_ms = started.elapsed().as_millis() as i64;
    match result {
        Ok(size) => {
            st.rewrites += 1;
            st.base_size = size;
            st.current_size = size;
            crate::log(&format!("Shard {}: background AOF rewrite finished successfully", core.id));
        }
        Err(e) => crate::log(&format!("Shard {}: background AOF rewrite failed: {e}", core.id)),
    }
}

/// Steps 2-3: finish the old incremental file and make a new one, listed after the old
/// history, take the records from now on. Returns the layout before the switch.
async fn switch_files(aof: &Rc<Aof>, pending: Vec<u8>, end: u64) -> std::io::Result<Layout> {
    let old_file = aof.current_file();
    aof.settle_zeroing(aof.pos() + pending.len() as u64).await;
    aof::write_all_at(&old_file, &pending, aof.pos()).await?;
    aof.advance_pos(pending.len() as u64);
    old_file.fdatasync().await?;
    aof.mark_written(end);
    let old = aof.layout.borrow().clone();
    let seq = next_seq(&old);
    let path = old.path(&old.incr_name(seq));
    let (file, pos) = aof::open_for_append(&path).await?;
    let mut history = old.clone();
    history.incrs.push(seq);
    write_manifest(&history).await?;
    aof.switch_file(file, pos, path);
    *aof.layout.borrow_mut() = history;
    Ok(old)
}

fn next_seq(layout: &Layout) -> u64 {
    layout.incrs.iter().copied().chain([layout.base]).max().unwrap_or(0) + 1
}

/// Steps 4-5: the new base, a manifest naming only the new pair, and the old files removed.
async fn write_base(aof: &Aof, old: Layout, base: Vec<u8>) -> std::io::Result<u64> {
    let seq = next_seq(&old);
    let size = base.len() as u64;
    aof::write_atomically(&old.path(&old.base_name(seq)), base).await?;
    let fresh = Layout { base: seq, incrs: vec![seq], ..old.clone() };
    write_manifest(&fresh).await?;
    *aof.layout.borrow_mut() = fresh.clone();
    for name in old.files() {
        if !fresh.files().contains(&name) {
            let _ = glommio::io::remove(old.path(&name)).await;
        }
    }
    Ok(size)
}

pub async fn write_manifest(layout: &Layout) -> std::io::Result<()> {
    aof::write_atomically(&layout.path(&layout.manifest_name()), layout.manifest_text().into_bytes()).await
}
