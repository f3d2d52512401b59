//! Persistence: what survives a restart or a crash, and how it is read back.
//!
//! * `aof`: each shard appends every write it applies to its own append-only file (RESP
//!   commands), through glommio file I/O, with Redis's fsync policies.
//! * `propagate`: what each command leaves in the AOF.
//! * `recovery`: at start, every core replays the files of the shards it now owns.
//! * `rewrite`: compacting a shard's AOF online.
//! * `rdb`: the Redis RDB format (with `lzf` and `crc64`): SAVE/BGSAVE snapshots, DUMP/RESTORE
//!   payloads, and loading a real Redis dump.rdb.
//! * `snapshot`: taking snapshots (SAVE, BGSAVE, save points, SHUTDOWN and SIGTERM, DEBUG
//!   RELOAD) and loading `dir/dbfilename` at startup.
//! * `cow`: the copy-on-write walk that serializes a shard as of one moment while it keeps
//!   serving (behind snapshots and AOF rewrites).
//!
//! Startup loads data before a core accepts connections: the AOF when `appendonly yes`,
//! otherwise `dir/dbfilename` if it exists.

pub mod aof;
pub mod cow;
pub mod crc64;
pub mod lzf;
pub mod propagate;
pub mod rdb;
pub mod recovery;
pub mod rewrite;
pub mod snapshot;

use crate::error::{CmdError, CmdResult};
use crate::resp::Out;
use crate::server::core::Core;
use std::rc::Rc;

/// Loads this core's share of the persisted data. An error stops the server: starting empty
/// over data that failed to load would lose it at the next save. Core 0 also starts the
/// snapshot cron here (save points, SIGTERM/SIGINT as SHUTDOWN).
pub async fn load_at_startup(core: &Rc<Core>) -> Result<(), String> {
    if core.id == 0 {
        snapshot::start_cron(core);
    }
    if core.config.borrow().appendonly {
        return recovery::open(core).await;
    }
    snapshot::load_at_startup(core).await?;
    // No core listens before every core has its keys (boot only: nothing is served yet).
    recovery::wait_for_all_cores(core.shards);
    Ok(())
}

/// Before the process exits on purpose (SHUTDOWN, SIGTERM): every core's AOF records are
/// written and fsynced, whatever the fsync policy.
pub async fn flush_before_exit(core: &Rc<Core>) {
    loop {
        let done =
            crate::dispatch::invoke_all(core, |c| c.aof.get().is_none_or(|aof| aof.sync_everything(c))).await;
        if done.into_iter().all(|d| d) {
            return;
        }
        glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
    }
}

/// BGREWRITEAOF: asks every shard to rewrite its AOF (each starts when no transaction is
/// scheduled on it). With `appendonly no` there is nothing to rewrite and nothing happens.
pub async fn bgrewriteaof(core: &Rc<Core>, out: &mut Out) -> CmdResult {
    let busy = crate::dispatch::invoke_all(core, |c| {
        c.aof.get().is_some_and(|aof| aof.stats.borrow().rewrite_in_progress)
    })
    .await;
    if busy.into_iter().any(|b| b) {
        return Err(CmdError::msg("ERR Background append only file rewriting already in progress"));
    }
    crate::dispatch::invoke_all(core, |c| {
        if let Some(aof) = c.aof.get() {
            aof.rewrite_requested.set(true);
            aof::kick(c);
        }
    })
    .await;
    out.simple("Background append only file rewriting started");
    Ok(())
}

/// The aof_* lines of INFO persistence, from every core's counters (None: AOF off).
pub fn info_aof_lines(stats: &[Option<aof::AofStats>]) -> String {
    let on: Vec<&aof::AofStats> = stats.iter().flatten().collect();
    let yes = |f: &dyn Fn(&aof::AofStats) -> bool| on.iter().any(|s| f(s));
    let sum = |f: &dyn Fn(&aof::AofStats) -> u64| on.iter().map(|s| f(s)).sum::<u64>();
    let status = |ok: bool| if ok { "ok" } else { "err" };
    let mut s = format!(
        "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\n\
         aof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\n\
         aof_rewrites_consecutive_failures:0\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\n",
        !on.is_empty() as u8,
        yes(&|s| s.rewrite_in_progress) as u8,
        yes(&|s| s.rewrite_scheduled) as u8,
        on.iter().map(|s| s.last_rewrite_ms).max().map_or(-1, |ms| if ms < 0 { -1 } else { ms / 1000 }),
        status(!yes(&|s| !s.last_rewrite_ok)),
        on.iter().map(|s| s.rewrites).min().unwrap_or(0),
        status(!yes(&|s| !s.last_write_ok)),
    );
    if !on.is_empty() {
        s.push_str(&format!(
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:0\r\naof_buffer_length:0\r\n\
             aof_pending_bio_fsync:0\r\naof_delayed_fsync:0\r\naof_fsyncs:{}\r\naof_writes:{}\r\n",
            sum(&|s| s.current_size),
            sum(&|s| s.base_size),
            sum(&|s| s.fsyncs),
            sum(&|s| s.writes),
        ));
    }
    s
}
