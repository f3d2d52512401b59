//! Startup with `appendonly yes`: every core finds the files of the shards it owns, replays
//! them, and opens its own file for appending (see `aof` for the format).
//!
//! Algorithm:
//! 1. The top manifest says how many shards (N') wrote the files. Core `i` reads the files of
//!    old shard `i` when N' equals the thread count N, or of every old shard otherwise.
//! 2. Pass one collects the ids of committed groups (`TXCOMMIT`) from those files into a set
//!    shared by all cores; the cores then wait for each other, so the set is complete. New
//!    group ids start above every id found, so a group of this run never meets a record of an
//!    earlier one. (Every
//!    core's commits are needed: a group's commit record is in the file of the core that ran
//!    it, which need not be one of the shards it wrote.)
//! 3. Pass two replays each old shard's files in order into a shard of its own, with the clock
//!    at zero so nothing expires while replaying (expirations were logged as DEL), skipping
//!    tagged records of uncommitted groups. When N' = N that shard is the core's own; when not,
//!    the core keeps the keys that now route to it (hash slots decide) from every old shard.
//! 4. A truncated last record (a crash mid-write) is cut off the file with a log line when
//!    `aof-load-truncated yes`; anything else malformed stops startup naming file and offset.
//! 5. After a change of N, or on the very first start, each core writes a base of what it holds
//!    for the new layout, and core 0 switches the top manifest to it once all have; the old
//!    files are removed after that.
//!
//! Boot-time coordination (a barrier and the commit set) happens before any core serves, so
//! the blocking waits here never hold up a client.

use super::aof::{self, Aof, Fsync, Layout, Log};
use crate::commands::{Args, Exec, table};
use crate::config::Config;
use crate::resp::Out;
use crate::server::core::Core;
use crate::shard::{Ctx, Shard};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Barrier, Mutex, OnceLock};

struct BootSync {
    barrier: Barrier,
    commits: Mutex<HashSet<u64>>,
}

static BOOT: OnceLock<BootSync> = OnceLock::new();

fn boot(threads: usize) -> &'static BootSync {
    BOOT.get_or_init(|| BootSync { barrier: Barrier::new(threads), commits: Mutex::new(HashSet::new()) })
}

pub(crate) fn wait_for_all_cores(threads: usize) {
    boot(threads).barrier.wait();
}

pub async fn open(core: &Rc<Core>) -> Result<(), String> {
    let cfg = core.config.borrow().clone();
    let dir = Path::new(&cfg.dir).join(&cfg.appenddirname);
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("Can't create the AOF directory {}: {e}", dir.display()))?;
    let prefix = cfg.appendfilename.clone();
    let top = dir.join(aof::top_manifest_name(&prefix));
    let old_shards = read_top_manifest(&top).await?;
    let n = core.shards;
    let mut layout = Layout {
        dir: dir.clone(),
        prefix: prefix.clone(),
        shards: n,
        shard: core.id,
        base: 1,
        incrs: vec![1],
    };
    let mut truncate_to = None;
    let mut own_tags = Tags::default();
    match old_shards {
        Some(old_n) => {
            let mine: Vec<usize> = if old_n == n { vec![core.id] } else { (0..old_n).collect() };
            let mut sources = Vec::new();
            for j in mine {
                let l = read_shard_manifest(&dir, &prefix, old_n, j).await?;
                let files = read_files(&l).await?;
                sources.push((l, files));
            }
            let mut tags = Tags::default();
            for (_, files) in &sources {
                for (i, (name, bytes)) in files.iter().enumerate() {
                    collect_commits(name, bytes, i + 1 == files.len(), &cfg, &mut tags)?;
                }
            }
            boot(n).commits.lock().unwrap_or_else(|e| e.into_inner()).extend(tags.commits.iter().copied());
            if old_n == n {
                // The files stay this shard's: a later rewrite elsewhere must know what they hold.
                own_tags = tags;
            }
            wait_for_all_cores(n);
            let commits = boot(n).commits.lock().unwrap_or_else(|e| e.into_inner()).clone();
            for (l, files) in &sources {
                let mut target = if old_n == n { None } else { Some(Shard::new(l.shard, cfg.databases)) };
                let mut shard_ref = core.shard.borrow_mut();
                let shard: &mut Shard = match target.as_mut() {
                    Some(t) => t,
                    None => &mut shard_ref,
                };
                for (i, (name, bytes)) in files.iter().enumerate() {
                    let last = i + 1 == files.len();
                    let valid = replay(name, bytes, last, &cfg, &commits, shard)?;
                    // A torn record or zeros written ahead (see `aof`) are cut off.
                    let on_disk = std::fs::metadata(l.path(name)).map_or(0, |m| m.len());
                    if last && valid as u64 != on_disk && old_n == n {
                        truncate_to = Some((l.path(name), valid as u64));
                    }
                }
                if let Some(mut t) = target {
                    keep_routed_keys(&mut t, &mut shard_ref, core.id, n);
                }
            }
            if old_n == n {
                layout = sources.into_iter().next().map(|(l, _)| l).expect("one source");
            } else {
                write_fresh_layout(core, &layout).await?;
                switch_top_manifest(core, &top, n, Some(old_n)).await?;
            }
        }
        None => {
            // The first start with the AOF on begins from the snapshot, if there is one
            // (as Redis 7 does), and makes it the first base.
            super::snapshot::load_at_startup(core).await?;
            write_fresh_layout(core, &layout).await?;
            switch_top_manifest(core, &top, n, None).await?;
        }
    }
    // Replay's lookups are not clients' hits and misses.
    core.shard.borrow_mut().stats = Default::default();
    if let Some((path, len)) = truncate_to {
        truncate_file(&path, len).await?;
    }
    start_appending(core, &cfg, layout).await?;
    if let Some(log) = core.shard.borrow_mut().aof.as_mut() {
        log.commits = own_tags.commits;
        log.oldest_tagged = own_tags.oldest_tagged.unwrap_or(u64::MAX);
    }
    // Every core now has its layout; files a crash left behind (a rewrite or a layout change
    // cut short, temporary files) are removed once, by core 0.
    wait_for_all_cores(n);
    if core.id == 0 {
        remove_strays(&dir, &prefix, n).await;
    }
    Ok(())
}

/// Removes every `<prefix>.*` file in `dir` that no current manifest names.
async fn remove_strays(dir: &Path, prefix: &str, n: usize) {
    let mut keep: HashSet<String> = HashSet::new();
    keep.insert(aof::top_manifest_name(prefix));
    for i in 0..n {
        let Ok(l) = read_shard_manifest(dir, prefix, n, i).await else { return };
        keep.insert(l.manifest_name());
        keep.extend(l.files());
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let lead = format!("{prefix}.");
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&lead) && !keep.contains(&name) {
            crate::log(&format!(
                "Removing {name}, which no AOF manifest names (left by an interrupted rewrite)"
            ));
            let _ = glommio::io::remove(dir.join(&name)).await;
        }
    }
}

/// Opens the newest incremental file and starts the flusher.
async fn start_appending(core: &Rc<Core>, cfg: &Config, layout: Layout) -> Result<(), String> {
    let incr = layout.path(&layout.incr_name(*layout.incrs.last().unwrap_or(&layout.base)));
    let (file, pos) = aof::open_for_append(&incr)
        .await
        .map_err(|e| format!("Can't open the AOF {}: {e}", incr.display()))?;
    let mut total = 0;
    for name in layout.files() {
        total += std::fs::metadata(layout.path(&name)).map(|m| m.len()).unwrap_or(0);
    }
    let policy = Fsync::parse(&cfg.appendfsync).unwrap_or(Fsync::EverySec);
    let aof = Rc::new(Aof::new(policy, layout, file, pos, 0));
    {
        let mut st = aof.stats.borrow_mut();
        st.base_size = total;
        st.current_size = total;
    }
    {
        let mut shard = core.shard.borrow_mut();
        shard.aof = Some(Log::default());
        shard.enable_expired_sink();
    }
    if core.aof.set(aof.clone()).is_err() {
        return Err("the AOF was opened twice".into());
    }
    glommio::spawn_local(aof::flusher(core.clone(), aof.clone())).detach();
    glommio::spawn_local(aof::every_second(core.clone(), aof)).detach();
    Ok(())
}

/// Writes a base of what this core holds, an empty incremental file and the shard manifest.
async fn write_fresh_layout(core: &Rc<Core>, layout: &Layout) -> Result<(), String> {
    let base = super::rewrite::serialize(&core.shard.borrow(), crate::shard::now_ms());
    let fail = |e: std::io::Error| format!("Can't write the AOF in {}: {e}", layout.dir.display());
    aof::write_atomically(&layout.path(&layout.base_name(layout.base)), base).await.map_err(fail)?;
    aof::write_atomically(&layout.path(&layout.incr_name(layout.incrs[0])), Vec::new())
        .await
        .map_err(fail)?;
    super::rewrite::write_manifest(layout).await.map_err(fail)
}

/// Once every core wrote its files for `n` shards, core 0 makes them the current layout; the
/// files of an old layout are removed after that.
async fn switch_top_manifest(
    core: &Rc<Core>,
    top: &Path,
    n: usize,
    old: Option<usize>,
) -> Result<(), String> {
    wait_for_all_cores(n);
    if core.id == 0 {
        aof::write_atomically(top, format!("shards {n}\n").into_bytes())
            .await
            .map_err(|e| format!("Can't write {}: {e}", top.display()))?;
        if let Some(old_n) = old {
            let dir = top.parent().unwrap_or(Path::new("."));
            let prefix = top.file_name().and_then(|s| s.to_str()).unwrap_or("").trim_end_matches(".manifest");
            for j in 0..old_n {
                if let Ok(l) = read_shard_manifest(dir, prefix, old_n, j).await {
                    for name in l.files() {
                        let _ = glommio::io::remove(l.path(&name)).await;
                    }
                    let _ = glommio::io::remove(l.path(&l.manifest_name())).await;
                }
            }
        }
    }
    wait_for_all_cores(n);
    Ok(())
}

async fn read_whole(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = glommio::io::BufferedFile::open(path).await?;
    let size = file.file_size().await?;
    let mut out = Vec::with_capacity(size as usize);
    const CHUNK: usize = 8 << 20;
    while (out.len() as u64) < size {
        let got = file.read_at(out.len() as u64, CHUNK).await?;
        if got.is_empty() {
            break;
        }
        out.extend_from_slice(&got);
    }
    file.close().await?;
    Ok(out)
}

async fn read_top_manifest(path: &Path) -> Result<Option<usize>, String> {
    if !path.exists() {
        return Ok(None);
    }
    let text = read_whole(path).await.map_err(|e| format!("Can't read {}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&text);
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if let Some(n) = line.strip_prefix("shards ").and_then(|n| n.trim().parse::<usize>().ok())
            && n > 0
        {
            return Ok(Some(n));
        }
    }
    Err(format!("Bad AOF manifest {}: no 'shards <N>' line", path.display()))
}

pub async fn read_shard_manifest(
    dir: &Path,
    prefix: &str,
    shards: usize,
    shard: usize,
) -> Result<Layout, String> {
    let path = dir.join(aof::shard_manifest_name(prefix, shards, shard));
    let text = read_whole(&path)
        .await
        .map_err(|e| format!("Can't read the AOF manifest {}: {e}", path.display()))?;
    let mut layout = Layout {
        dir: dir.to_path_buf(),
        prefix: prefix.to_string(),
        shards,
        shard,
        base: 0,
        incrs: Vec::new(),
    };
    let bad = |line: &str| format!("Bad AOF manifest {}: '{line}'", path.display());
    for line in
        String::from_utf8_lossy(&text).lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [_, name, _, seq, _, kind] = parts[..] else { return Err(bad(line)) };
        let seq: u64 = seq.parse().map_err(|_| bad(line))?;
        match kind {
            "b" if name == layout.base_name(seq) => layout.base = seq,
            "i" if name == layout.incr_name(seq) => layout.incrs.push(seq),
            _ => return Err(bad(line)),
        }
    }
    if layout.base == 0 {
        return Err(format!("Bad AOF manifest {}: no base file", path.display()));
    }
    Ok(layout)
}

/// Every file a manifest lists, read whole up to its last non-zero byte (a record ends in
/// CRLF; zeros after it were written ahead, see `aof`): (name, bytes).
async fn read_files(layout: &Layout) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut files = Vec::new();
    for name in layout.files() {
        let path = layout.path(&name);
        let mut bytes = read_whole(&path)
            .await
            .map_err(|e| format!("Can't read the AOF file {}: {e}", path.display()))?;
        let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        bytes.truncate(end);
        files.push((name, bytes));
    }
    Ok(files)
}

async fn truncate_file(path: &PathBuf, len: u64) -> Result<(), String> {
    let result: std::io::Result<()> = async {
        let file = glommio::io::OpenOptions::new().write(true).buffered_open(path).await?;
        file.truncate(len).await?;
        file.fdatasync().await?;
        file.close().await?;
        Ok(())
    }
    .await;
    result.map_err(|e| format!("Can't truncate the AOF {}: {e}", path.display()))
}

/// Where parsing a file stopped short.
enum Stop {
    /// The bytes from here on are an incomplete record (a crash mid-write).
    Truncated(usize),
    Bad(usize, &'static str),
}

/// Parses the record at `pos` into `ranges`; Ok(None) at the end of the file.
fn next_record(bytes: &[u8], pos: &mut usize, ranges: &mut Vec<(u32, u32)>) -> Result<Option<()>, Stop> {
    let start = *pos;
    if start == bytes.len() {
        return Ok(None);
    }
    ranges.clear();
    let line = |at: usize| -> Result<(i64, usize), Stop> {
        let Some(eol) = memchr::memmem::find(&bytes[at..], b"\r\n") else {
            return Err(Stop::Truncated(start));
        };
        let n = crate::resp::parse::parse_i64(&bytes[at + 1..at + eol]).ok_or(Stop::Bad(at, "bad length"))?;
        Ok((n, at + eol + 2))
    };
    if bytes[start] != b'*' {
        return Err(Stop::Bad(start, "expected '*'"));
    }
    let (argc, mut at) = line(start)?;
    if argc < 1 {
        return Err(Stop::Bad(start, "bad argument count"));
    }
    for _ in 0..argc {
        if at >= bytes.len() {
            return Err(Stop::Truncated(start));
        }
        if bytes[at] != b'$' {
            return Err(Stop::Bad(at, "expected '$'"));
        }
        let (len, body) = line(at)?;
        if len < 0 {
            return Err(Stop::Bad(at, "bad bulk length"));
        }
        let end = body + len as usize;
        if end + 2 > bytes.len() {
            return Err(Stop::Truncated(start));
        }
        if &bytes[end..end + 2] != b"\r\n" {
            return Err(Stop::Bad(end, "missing CRLF"));
        }
        ranges.push((body as u32, end as u32));
        at = end + 2;
    }
    *pos = at;
    Ok(Some(()))
}

/// What to do when a file stops short: keep what came before a truncated tail of the last
/// file (when allowed), fail otherwise.
fn stopped(name: &str, stop: Stop, last: bool, cfg: &Config, len: usize) -> Result<usize, String> {
    match stop {
        Stop::Truncated(at) if last && cfg.aof_load_truncated => {
            crate::log(&format!(
                "!!! Warning: short read while loading the AOF file {name}!!! Truncating {} bytes at offset {at}; \
                 AOF loaded anyway because aof-load-truncated is enabled",
                len - at
            ));
            Ok(at)
        }
        Stop::Truncated(at) => Err(format!(
            "Unexpected end of file reading the append only file {name} at offset {at}. \
             You can: 1) Make a backup of your AOF file, then use ./shardis-check-aof --fix <filename.manifest>. \
             2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."
        )),
        Stop::Bad(at, why) => Err(format!(
            "Bad file format reading the append only file {name} at offset {at} ({why}): make a backup of your \
             AOF file, then use ./shardis-check-aof to find the problem"
        )),
    }
}

/// What pass one found in a shard's files: the commit records, and the oldest tagged group.
#[derive(Default)]
struct Tags {
    commits: Vec<u64>,
    oldest_tagged: Option<u64>,
}

fn collect_commits(
    name: &str,
    bytes: &[u8],
    last: bool,
    cfg: &Config,
    into: &mut Tags,
) -> Result<(), String> {
    let mut pos = 0;
    let mut ranges = Vec::new();
    loop {
        match next_record(bytes, &mut pos, &mut ranges) {
            Ok(None) => return Ok(()),
            Ok(Some(())) => {
                let args = Args { buf: bytes, ranges: &ranges };
                if args.len() == 2 && args.get(0) == b"TXCOMMIT" {
                    let id = parse_id(name, pos, args.get(1))?;
                    into.commits.push(id);
                    crate::tx::ids_above(id);
                } else if args.len() >= 3 && args.get(0) == b"TX" {
                    let id = parse_id(name, pos, args.get(1))?;
                    into.oldest_tagged = Some(into.oldest_tagged.map_or(id, |o| o.min(id)));
                    crate::tx::ids_above(id);
                }
            }
            Err(stop) => return stopped(name, stop, last, cfg, bytes.len()).map(|_| ()),
        }
    }
}

fn parse_id(name: &str, pos: usize, b: &[u8]) -> Result<u64, String> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("Bad transaction id in the append only file {name} before offset {pos}"))
}

/// Replays one file into `shard`; returns the length of its valid part.
fn replay(
    name: &str,
    bytes: &[u8],
    last: bool,
    cfg: &Config,
    commits: &HashSet<u64>,
    shard: &mut Shard,
) -> Result<usize, String> {
    let mut pos = 0;
    let mut ranges = Vec::new();
    let mut db = 0usize;
    let mut out = Out::new(false);
    loop {
        let at = pos;
        match next_record(bytes, &mut pos, &mut ranges) {
            Ok(None) => return Ok(pos),
            Ok(Some(())) => {}
            Err(stop) => return stopped(name, stop, last, cfg, bytes.len()),
        }
        let mut args = Args { buf: bytes, ranges: &ranges };
        let first = args.get(0);
        if first.eq_ignore_ascii_case(b"SELECT") && args.len() == 2 {
            db = parse_id(name, pos, args.get(1))? as usize;
            if db >= shard.dbs.len() {
                return Err(format!(
                    "The append only file {name} selects db {db} at offset {at}, beyond 'databases'"
                ));
            }
            continue;
        }
        if first == b"TXCOMMIT" {
            continue;
        }
        if first == b"TX" {
            if args.len() < 3 || !commits.contains(&parse_id(name, pos, args.get(1))?) {
                continue;
            }
            args = Args { buf: bytes, ranges: &ranges[2..] };
        }
        apply(name, at, shard, db, args, cfg, &mut out)?;
        out.buf.clear();
    }
}

/// Runs one logged command against `shard` with the clock at zero (nothing expires).
fn apply(
    name: &str,
    at: usize,
    shard: &mut Shard,
    db: usize,
    args: Args,
    cfg: &Config,
    out: &mut Out,
) -> Result<(), String> {
    let index = crate::commands::lookup(args).map_err(|_| {
        format!(
            "Unknown command '{}' reading the append only file {name} at offset {at}",
            String::from_utf8_lossy(args.get(0))
        )
    })?;
    let cmd = &table()[index];
    let f = match cmd.exec {
        Exec::Shard(f) | Exec::Multi(f, _) | Exec::AllShards(f, _) | Exec::Cross(f, _) => f,
        _ => {
            return Err(format!(
                "Command '{}' in the append only file {name} at offset {at} is not a data command",
                cmd.name
            ));
        }
    };
    let mut ctx = Ctx { shard, db, now_ms: 0, config: cfg };
    // A command that fails (it also failed, or was a no-op, when it first ran) changes nothing.
    let _ = f(&mut ctx, args, out);
    Ok(())
}

/// Moves the keys of `from` (an old shard's replay) that route to core `me` into `into`.
fn keep_routed_keys(from: &mut Shard, into: &mut Shard, me: usize, shards: usize) {
    for (db, d) in from.dbs.iter_mut().enumerate() {
        let keys: Vec<Box<[u8]>> = d
            .dict
            .iter()
            .filter(|(k, _)| crate::dispatch::slot::key_shard(k, shards) == me)
            .map(|(k, _)| Box::from(k))
            .collect();
        for key in keys {
            if let Some(entry) = d.remove(&key) {
                into.dbs[db].insert(&key, entry);
            }
        }
    }
}
