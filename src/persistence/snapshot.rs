//! Snapshots: SAVE, BGSAVE, `save <seconds> <changes>` points, the save at SHUTDOWN (and on
//! SIGTERM/SIGINT), DEBUG RELOAD, and loading `dir/dbfilename` at startup. The format is
//! `rdb`'s.
//!
//! # How a snapshot is taken (no fork)
//! 1. The coordinating core (the client's, or core 0 for save points and signals) begins a
//!    transaction that locks every shard whole (`tx`): the snapshot is one moment of the whole
//!    keyspace, so a cross-shard MSET or EXEC is in it entirely or not at all.
//! 2. Each shard, when that transaction's turn comes, serializes its own keys into an
//!    in-memory section, synchronously, and concludes the transaction there at once: a shard
//!    is held only for the time its own serialization takes, and shards do it in parallel.
//!    (Serializing in memory holds a copy of the dataset while the file is written; writing
//!    sections out incrementally is left for later.)
//! 3. The coordinating core writes header, sections and trailer to a temp file in `dir` with
//!    glommio's file I/O (computing the CRC chunk by chunk between writes, so the core keeps
//!    serving), fsyncs it, renames it over `dbfilename` and fsyncs the directory.
//! 4. On success each shard's `dirty` counter drops by what it was when serialized, as
//!    Redis's does; LASTSAVE and the INFO fields move.
//!
//! SAVE replies when the file is written; BGSAVE replies at once and runs the same steps in a
//! task. Nothing blocks a core but each shard's own serialization.
//!
//! # Startup and DEBUG RELOAD
//! At startup (when `appendonly no`) every core reads the whole file and keeps only the keys
//! that route to it, skipping the others without building them: the cores load in parallel
//! and exchange no messages. A file that does not load stops the server with an error naming
//! the file and the byte offset. DEBUG RELOAD has each shard, in one synchronous step,
//! serialize its keys and rebuild them from those bytes (every value goes through the RDB
//! decoder, and nothing written meanwhile can be lost), then writes the sections out as SAVE
//! does; with NOSAVE it loads the file on disk instead.
//!
//! The status (last save, BGSAVE running, counts) is process-wide, in atomics.

use super::rdb;
use crate::dispatch::{invoke_all, invoke_on, slot::key_shard};
use crate::server::core::Core;
use crate::shard::{Shard, now_ms};
use crate::tx::coordinator as txc;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Bytes handed to the kernel per write (the CRC of each chunk is computed just before it).
const WRITE_CHUNK_BYTES: usize = 1 << 20;
/// Bytes asked for per read when loading a file.
const READ_CHUNK_BYTES: usize = 4 << 20;
/// After a failed background save, save points wait this long before trying again (Redis's
/// CONFIG_BGSAVE_RETRY_DELAY).
const RETRY_DELAY_SECS: u64 = 5;
/// How often core 0 looks for a shutdown signal; save points are checked every tenth time.
const CRON_TICK: Duration = Duration::from_millis(100);

/// Process-wide snapshot status, for LASTSAVE, INFO and the save-point check.
struct Status {
    last_save_unix: AtomicU64,
    bgsave_running: AtomicBool,
    bgsave_started_ms: AtomicU64,
    last_bgsave_ok: AtomicBool,
    last_bgsave_secs: AtomicI64,
    last_attempt_unix: AtomicU64,
    saves: AtomicU64,
    loaded_keys: AtomicU64,
    expired_on_load: AtomicU64,
    temp_seq: AtomicU64,
    /// The signal (SIGTERM, SIGINT) that asked for a shutdown, 0 if none.
    signal: AtomicI32,
}

static STATUS: Status = Status {
    last_save_unix: AtomicU64::new(0),
    bgsave_running: AtomicBool::new(false),
    bgsave_started_ms: AtomicU64::new(0),
    last_bgsave_ok: AtomicBool::new(true),
    last_bgsave_secs: AtomicI64::new(-1),
    last_attempt_unix: AtomicU64::new(0),
    saves: AtomicU64::new(0),
    loaded_keys: AtomicU64::new(0),
    expired_on_load: AtomicU64::new(0),
    temp_seq: AtomicU64::new(0),
    signal: AtomicI32::new(0),
};

/// LASTSAVE: unix seconds of the last successful save (the start time before any).
pub fn last_save_unix() -> u64 {
    STATUS.last_save_unix.load(Relaxed)
}

/// The `rdb_*` lines of INFO persistence, given the shards' summed `dirty` counters.
pub fn info_lines(dirty: u64) -> String {
    let running = STATUS.bgsave_running.load(Relaxed);
    let current = if running {
        (now_ms().saturating_sub(STATUS.bgsave_started_ms.load(Relaxed)) / 1000) as i64
    } else {
        -1
    };
    format!(
        "rdb_changes_since_last_save:{dirty}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{current}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\n",
        running as u8,
        last_save_unix(),
        if STATUS.last_bgsave_ok.load(Relaxed) { "ok" } else { "err" },
        STATUS.last_bgsave_secs.load(Relaxed),
        STATUS.saves.load(Relaxed),
        STATUS.expired_on_load.load(Relaxed),
        STATUS.loaded_keys.load(Relaxed),
    )
}

/// `save` as (seconds, changes) pairs; empty when saving is off. Malformed pairs are ignored.
pub fn save_points(spec: &str) -> Vec<(u64, u64)> {
    let nums: Vec<u64> = spec.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    nums.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

fn snapshot_path(core: &Core) -> PathBuf {
    let cfg = core.config.borrow();
    Path::new(&cfg.dir).join(&cfg.dbfilename)
}

// ---------------------------------------------------------------------------------------------
// Taking a snapshot

/// One shard's serialized keys, and its `dirty` counter at that moment.
struct Section {
    bytes: Vec<u8>,
    dirty: u64,
}

/// Every shard's section, all of one moment (see the module doc): inside one transaction
/// over all shards, each starts a copy-on-write walk (`cow`) and releases its keys at once;
/// the walks then serialize while the shards serve clients.
async fn collect_sections(core: &Rc<Core>) -> Vec<Section> {
    let tx = txc::begin(core, &txc::all_shards(core.shards)).await;
    let compress = core.config.borrow().rdbcompression;
    let hops: Vec<_> = (0..core.shards)
        .map(|s| {
            let core = core.clone();
            glommio::spawn_local(async move {
                let (epoch, dirty) = invoke_on(&core, s, tx, move |c| {
                    let epoch = super::cow::start(c, rdb::section_sink(compress));
                    let dirty = c.shard.borrow().dirty;
                    c.txq.conclude(tx);
                    (epoch, dirty)
                })
                .await;
                loop {
                    let out = invoke_on(&core, s, 0, move |c| {
                        super::cow::take_output(&mut c.shard.borrow_mut(), epoch)
                    })
                    .await;
                    if let Some(bytes) = out {
                        return Section { bytes, dirty };
                    }
                    glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
                }
            })
        })
        .collect();
    let mut sections = Vec::with_capacity(hops.len());
    for hop in hops {
        sections.push(hop.await);
    }
    sections
}

/// Writes `parts` (header and sections) and the trailer to a temp file, then renames it to
/// `path`. Returns the file's size.
async fn write_file(path: &Path, parts: &[&[u8]], checksum: bool) -> Result<u64, String> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let seq = STATUS.temp_seq.fetch_add(1, Relaxed);
    let tmp = dir.join(format!("temp-{}-{seq}.rdb", std::process::id()));
    let result = write_temp(&tmp, parts, checksum).await;
    let result = match result {
        Ok(size) => glommio::io::rename(&tmp, path)
            .await
            .map(|_| size)
            .map_err(|e| format!("can't rename {} to {}: {e}", tmp.display(), path.display())),
        Err(e) => Err(e),
    };
    if result.is_err() {
        let _ = glommio::io::remove(&tmp).await;
        return result;
    }
    // The rename is durable once the directory is.
    if let Ok(d) = glommio::io::Directory::open(dir).await {
        let _ = d.sync().await;
        let _ = d.close().await;
    }
    result
}

async fn write_temp(tmp: &Path, parts: &[&[u8]], checksum: bool) -> Result<u64, String> {
    let fail = |what: &str, e: glommio::GlommioError<()>| format!("{what} {}: {e}", tmp.display());
    let file = glommio::io::BufferedFile::create(tmp).await.map_err(|e| fail("can't create", e))?;
    let mut pos = 0u64;
    let mut crc = 0u64;
    for part in parts {
        for chunk in part.chunks(WRITE_CHUNK_BYTES) {
            crc = super::crc64::update(crc, chunk);
            write_all(&file, chunk, &mut pos).await.map_err(|e| fail("can't write", e))?;
        }
    }
    let trailer = rdb::file_trailer(checksum.then_some(crc));
    write_all(&file, &trailer, &mut pos).await.map_err(|e| fail("can't write", e))?;
    file.fdatasync().await.map_err(|e| fail("can't fsync", e))?;
    file.close().await.map_err(|e| fail("can't close", e))?;
    Ok(pos)
}

async fn write_all(
    file: &glommio::io::BufferedFile,
    mut data: &[u8],
    pos: &mut u64,
) -> Result<(), glommio::GlommioError<()>> {
    while !data.is_empty() {
        let n = file.write_at(data.to_vec(), *pos).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::WriteZero, "no space left?").into());
        }
        *pos += n as u64;
        data = &data[n..];
    }
    Ok(())
}

/// The snapshot header, with this process's memory use.
fn header() -> Vec<u8> {
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4096);
    rdb::file_header(crate::commands::server::REDIS_VERSION, rss, now_ms() / 1000)
}

/// Writes the sections out and, on success, records the save and lowers each shard's
/// `dirty` by what its section holds.
async fn persist_sections(core: &Rc<Core>, sections: &[Section]) -> Result<u64, String> {
    let path = snapshot_path(core);
    let checksum = core.config.borrow().rdbchecksum;
    let head = header();
    let mut parts: Vec<&[u8]> = vec![&head];
    parts.extend(sections.iter().map(|s| s.bytes.as_slice()));
    let size = write_file(&path, &parts, checksum).await?;
    let taken: Vec<u64> = sections.iter().map(|s| s.dirty).collect();
    invoke_all(core, move |c| {
        let mut shard = c.shard.borrow_mut();
        shard.dirty = shard.dirty.saturating_sub(taken[c.id]);
    })
    .await;
    STATUS.last_save_unix.store(now_ms() / 1000, Relaxed);
    STATUS.saves.fetch_add(1, Relaxed);
    Ok(size)
}

/// Takes a snapshot and writes it (SAVE, and the save at shutdown).
pub async fn save(core: &Rc<Core>) -> Result<(), String> {
    let sections = collect_sections(core).await;
    match persist_sections(core, &sections).await {
        Ok(_) => {
            crate::log("DB saved on disk");
            Ok(())
        }
        Err(e) => {
            crate::log(&format!("Failed saving the DB: {e}"));
            Err(e)
        }
    }
}

/// Starts a background save. Err when one is already running.
pub fn bgsave(core: &Rc<Core>) -> Result<(), &'static str> {
    if STATUS.bgsave_running.swap(true, Relaxed) {
        return Err("ERR Background save already in progress");
    }
    let started = now_ms();
    STATUS.bgsave_started_ms.store(started, Relaxed);
    STATUS.last_attempt_unix.store(started / 1000, Relaxed);
    crate::log("Background saving started");
    let core = core.clone();
    glommio::spawn_local(async move {
        let sections = collect_sections(&core).await;
        let result = persist_sections(&core, &sections).await;
        drop(sections);
        let elapsed = now_ms().saturating_sub(started) / 1000;
        STATUS.last_bgsave_secs.store(elapsed as i64, Relaxed);
        STATUS.last_bgsave_ok.store(result.is_ok(), Relaxed);
        match result {
            Ok(_) => crate::log("Background saving terminated with success"),
            Err(e) => crate::log(&format!("Background saving error: {e}")),
        }
        STATUS.bgsave_running.store(false, Relaxed);
    })
    .detach();
    Ok(())
}

/// Whether a background save is running.
pub fn bgsave_running() -> bool {
    STATUS.bgsave_running.load(Relaxed)
}

// ---------------------------------------------------------------------------------------------
// Save points, signals, shutdown

extern "C" fn on_shutdown_signal(sig: libc::c_int) {
    // Only an atomic store: anything more is not async-signal-safe.
    STATUS.signal.store(sig, Relaxed);
}

/// Core 0's persistence duties: handle SIGTERM and SIGINT as a SHUTDOWN (polled by the cron
/// below), and start background saves when a save point is reached.
pub fn start_cron(core: &Rc<Core>) {
    let handler = on_shutdown_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGINT, handler);
    }
    STATUS.last_save_unix.store(core.started_unix, Relaxed);
    glommio::spawn_local(cron(core.clone())).detach();
}

async fn cron(core: Rc<Core>) {
    let mut ticks = 0u64;
    loop {
        glommio::timer::sleep(CRON_TICK).await;
        let sig = STATUS.signal.swap(0, Relaxed);
        if sig != 0 {
            let name = if sig == libc::SIGINT { "SIGINT" } else { "SIGTERM" };
            crate::log(&format!("Received {name} scheduling shutdown..."));
            if let Err(e) = shutdown(&core, ShutdownSave::Default, false).await {
                crate::log(&format!("{e}; not exiting"));
            }
        }
        ticks += 1;
        if ticks.is_multiple_of(10) {
            check_save_points(&core).await;
        }
    }
}

/// Starts a BGSAVE when some `save` point is reached: at least `changes` writes and more
/// than `seconds` since the last save (and, after a failure, the retry delay has passed).
async fn check_save_points(core: &Rc<Core>) {
    let points = save_points(&core.config.borrow().save);
    if points.is_empty() || bgsave_running() {
        return;
    }
    let dirty: u64 = invoke_all(core, |c| c.shard.borrow().dirty).await.into_iter().sum();
    let now = now_ms() / 1000;
    let since = now.saturating_sub(last_save_unix());
    let may_retry = STATUS.last_bgsave_ok.load(Relaxed)
        || now.saturating_sub(STATUS.last_attempt_unix.load(Relaxed)) > RETRY_DELAY_SECS;
    let due = points.iter().find(|&&(secs, changes)| dirty >= changes && since > secs);
    if let Some(&(secs, changes)) = due
        && may_retry
    {
        crate::log(&format!("{changes} changes in {secs} seconds. Saving..."));
        let _ = bgsave(core);
    }
}

/// SHUTDOWN's choice about saving.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ShutdownSave {
    /// Save when save points are configured (SHUTDOWN, SIGTERM).
    Default,
    Save,
    NoSave,
}

/// Saves if asked (or by default when save points are configured) and exits the process.
/// Returns only when the save failed and `force` is off.
pub async fn shutdown(core: &Rc<Core>, how: ShutdownSave, force: bool) -> Result<(), String> {
    let save_wanted = match how {
        ShutdownSave::Save => true,
        ShutdownSave::NoSave => false,
        ShutdownSave::Default => !save_points(&core.config.borrow().save).is_empty(),
    };
    if save_wanted {
        crate::log("Saving the final RDB snapshot before exiting.");
        if let Err(e) = save(core).await
            && !force
        {
            crate::log("Error trying to save the DB, can't exit.");
            return Err(format!("Error trying to save the DB: {e}"));
        }
    }
    if core.aof.get().is_some() {
        crate::log("Calling fsync() on the AOF file.");
        super::flush_before_exit(core).await;
    }
    crate::log("Redis is now ready to exit, bye bye...");
    std::process::exit(0);
}

// ---------------------------------------------------------------------------------------------
// Loading

/// Reads a whole file with glommio's I/O; Ok(None) when it does not exist.
async fn read_file(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let file = match glommio::io::BufferedFile::open(path).await {
        Ok(f) => f,
        Err(e) => {
            let e = std::io::Error::from(e);
            if e.kind() == std::io::ErrorKind::NotFound {
                return Ok(None);
            }
            return Err(format!("can't open {}: {e}", path.display()));
        }
    };
    let size = file.file_size().await.map_err(|e| format!("can't stat {}: {e}", path.display()))?;
    let mut bytes = Vec::with_capacity(size as usize);
    loop {
        let chunk = file
            .read_at(bytes.len() as u64, READ_CHUNK_BYTES)
            .await
            .map_err(|e| format!("can't read {}: {e}", path.display()))?;
        if chunk.is_empty() {
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    let _ = file.close().await;
    Ok(Some(bytes))
}

/// Loads this core's keys of `dir/dbfilename`, if the file exists (startup, `appendonly no`).
pub async fn load_at_startup(core: &Rc<Core>) -> Result<(), String> {
    let path = snapshot_path(core);
    let started = Instant::now();
    let Some(bytes) = read_file(&path).await? else {
        return Ok(());
    };
    let (id, shards) = (core.id, core.shards);
    let stats = {
        let mut shard = core.shard.borrow_mut();
        let config = core.config.borrow();
        let mine = |key: &[u8]| key_shard(key, shards) == id;
        rdb::load_into_shard(&bytes, &mut shard, &config, mine, now_ms())
            .map_err(|e| format!("Can't load the RDB file {}: {e}", path.display()))?
    };
    STATUS.loaded_keys.fetch_add(stats.loaded, Relaxed);
    STATUS.expired_on_load.fetch_add(stats.expired, Relaxed);
    if stats.functions_skipped > 0 && id == 0 {
        crate::log(&format!(
            "Skipped {} function libraries in {}: shardis has no functions",
            stats.functions_skipped,
            path.display()
        ));
    }
    crate::log(&format!(
        "Core {id}: loaded {} keys from {} (RDB version {}, written by Redis {}), skipped {} expired and {} empty, in {:.3} seconds",
        stats.loaded,
        path.display(),
        stats.version,
        stats.redis_ver.as_deref().unwrap_or("?"),
        stats.expired,
        stats.empty,
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// DEBUG RELOAD's options.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReloadOpts {
    /// NOSAVE: load the file on disk instead of saving first.
    pub no_save: bool,
    /// NOFLUSH: keep the keys the shard has (a loaded key that exists is then an error...)
    pub no_flush: bool,
    /// MERGE: ...unless MERGE, where loaded keys replace existing ones.
    pub merge: bool,
}

/// Why DEBUG RELOAD failed: the save (Redis replies a bare `-ERR`) or the load.
pub enum ReloadError {
    Save(String),
    Load(String),
}

/// DEBUG RELOAD: save, drop and load the keyspace again (see the module doc).
pub async fn debug_reload(core: &Rc<Core>, opts: ReloadOpts) -> Result<(), ReloadError> {
    if opts.no_save {
        return reload_from_disk(core, opts).await;
    }
    let compress = core.config.borrow().rdbcompression;
    let results = invoke_all(core, move |c| {
        let mut shard = c.shard.borrow_mut();
        let config = c.config.borrow();
        let section = rdb::shard_section(&shard, compress, now_ms());
        let mut fresh = Shard::new(shard.id, shard.dbs.len());
        rdb::load_section(&section, &mut fresh, &config, now_ms())?;
        shard.dbs = std::mem::take(&mut fresh.dbs);
        Ok::<_, String>(Section { bytes: section, dirty: shard.dirty })
    })
    .await;
    let sections: Vec<Section> = results.into_iter().collect::<Result<_, _>>().map_err(ReloadError::Load)?;
    persist_sections(core, &sections).await.map_err(ReloadError::Save)?;
    crate::log("DB reloaded by DEBUG RELOAD");
    Ok(())
}

/// DEBUG RELOAD NOSAVE: every shard takes its keys of the file on disk.
async fn reload_from_disk(core: &Rc<Core>, opts: ReloadOpts) -> Result<(), ReloadError> {
    let path = snapshot_path(core);
    let bytes = read_file(&path)
        .await
        .map_err(ReloadError::Load)?
        .ok_or_else(|| ReloadError::Load(format!("{} does not exist", path.display())))?;
    let bytes = Arc::new(bytes);
    let results = invoke_all(core, move |c| {
        let mut shard = c.shard.borrow_mut();
        let config = c.config.borrow();
        let (id, shards) = (c.id, c.shards);
        let mut fresh = Shard::new(shard.id, shard.dbs.len());
        let mine = |key: &[u8]| key_shard(key, shards) == id;
        rdb::load_into_shard(&bytes, &mut fresh, &config, mine, now_ms())?;
        merge_loaded(&mut shard, fresh, opts)
    })
    .await;
    for r in results {
        r.map_err(|e| ReloadError::Load(format!("{}: {e}", path.display())))?;
    }
    crate::log("DB reloaded by DEBUG RELOAD");
    Ok(())
}

/// Puts freshly loaded databases in place of (or, with NOFLUSH, beside) the shard's own.
fn merge_loaded(shard: &mut Shard, mut fresh: Shard, opts: ReloadOpts) -> Result<(), String> {
    if !opts.no_flush {
        shard.dbs = std::mem::take(&mut fresh.dbs);
        return Ok(());
    }
    if !opts.merge {
        for (db, new) in shard.dbs.iter().zip(&fresh.dbs) {
            if let Some((k, _)) = new.dict.iter().find(|(k, _)| db.dict.contains_key(k)) {
                return Err(format!("duplicated key '{}'", String::from_utf8_lossy(k)));
            }
        }
    }
    for (db, new) in shard.dbs.iter_mut().zip(fresh.dbs.iter_mut()) {
        let keys: Vec<Box<[u8]>> = new.dict.iter().map(|(k, _)| k.into()).collect();
        for k in keys {
            if let Some(entry) = new.remove(&k) {
                db.insert(&k, entry);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_points_parse_as_redis_writes_them() {
        assert_eq!(save_points("3600 1 300 100 60 10000"), [(3600, 1), (300, 100), (60, 10000)]);
        assert!(save_points("").is_empty());
        assert_eq!(save_points("  900   1 "), [(900, 1)]);
    }
}
