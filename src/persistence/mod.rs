//! Persistence: what survives a restart or a crash, and how it is read back.
//!
//! * `aof`      — each shard appends every write it applies to its own append-only file
//!   (RESP commands), through glommio file I/O, with Redis's fsync policies.
//! * `recovery` — at start, every core replays the files of the shards it now owns.
//! * `rdb`      — the Redis RDB format (with `lzf` and `crc64`): SAVE/BGSAVE snapshots,
//!   DUMP/RESTORE payloads, and loading a real Redis dump.rdb.
//! * `snapshot` — taking snapshots (SAVE, BGSAVE, save points, SHUTDOWN and SIGTERM, DEBUG
//!   RELOAD) and loading `dir/dbfilename` at startup.
//!
//! Startup loads data before a core accepts connections: the AOF when `appendonly yes`,
//! otherwise `dir/dbfilename` if it exists.

pub mod crc64;
pub mod lzf;
pub mod rdb;
pub mod snapshot;

use crate::server::core::Core;
use std::rc::Rc;

/// Loads this core's share of the persisted data. An error stops the server: starting empty
/// over data that failed to load would lose it at the next save. Core 0 also starts the
/// snapshot cron here (save points, SIGTERM/SIGINT as SHUTDOWN).
pub async fn load_at_startup(core: &Rc<Core>) -> Result<(), String> {
    if core.id == 0 {
        snapshot::start_cron(core);
    }
    if !core.config.borrow().appendonly {
        snapshot::load_at_startup(core).await?;
    }
    Ok(())
}
