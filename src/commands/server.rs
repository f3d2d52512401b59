//! The server group: INFO, CONFIG, TIME, SAVE, BGSAVE, LASTSAVE, DEBUG, SHUTDOWN, MONITOR (whose
//! feeding is `server::monitor`'s), plus the
//! coordinator entry for every `Special` command. Snapshots themselves are
//! `persistence::snapshot`'s. Work that concerns all cores (INFO, CONFIG SET,
//! CLIENT LIST/KILL) is sent to each core and combined here.

use super::{Args, CONTAINER, Command, Exec, NOAUTH, Special, eq_ic};
use crate::dispatch::{coord, invoke_all};
use crate::error::{CmdError, CmdResult};
use crate::persistence::snapshot;
use crate::resp::Out;
use crate::server::client::Client;
use crate::server::core::{CmdStat, Core, CoreStats};
use crate::shard::ShardStats;
use std::fmt::Write;
use std::rc::Rc;

/// The Redis version shardis reports (clients pick features by it).
pub const REDIS_VERSION: &str = "7.2.4";

pub const COMMANDS: &[Command] = &[
    cmd("info", -1, Exec::Special(Special::Info)),
    cmd("time", 1, Exec::Special(Special::Time)),
    cmd("lastsave", 1, Exec::Conn(lastsave)),
    cmd("save", 1, Exec::Special(Special::Save)),
    cmd("bgsave", -1, Exec::Conn(bgsave)),
    cmd("debug", -2, Exec::Special(Special::DebugSleep)),
    Command {
        name: "shutdown",
        arity: -1,
        flags: NOAUTH,
        first_key: 0,
        last_key: 0,
        step: 0,
        keys_fn: None,
        exec: Exec::Special(Special::Shutdown),
    },
    Command {
        name: "config",
        arity: -2,
        flags: CONTAINER,
        first_key: 0,
        last_key: 0,
        step: 0,
        keys_fn: None,
        exec: Exec::Conn(super::container_only),
    },
    cmd("config|get", -3, Exec::Special(Special::ConfigGet)),
    cmd("config|set", -4, Exec::Special(Special::ConfigSet)),
    cmd("config|resetstat", 2, Exec::Special(Special::ConfigResetStat)),
    cmd("config|rewrite", 2, Exec::Conn(config_rewrite)),
    cmd("config|help", 2, Exec::Conn(config_help)),
    cmd("scan", -2, Exec::Special(Special::Scan)),
    cmd("randomkey", 1, Exec::Special(Special::RandomKey)),
    cmd("lolwut", -1, Exec::Conn(lolwut)),
    cmd("bgrewriteaof", 1, Exec::Special(Special::BgRewriteAof)),
    cmd("monitor", 1, Exec::Special(Special::Monitor)),
];

/// LOLWUT [VERSION version]: the server's version line.
fn lolwut(_c: &mut Client, _args: Args, out: &mut Out) -> CmdResult {
    out.verbatim(format!("Redis ver. {REDIS_VERSION}\n").as_bytes());
    Ok(())
}

const fn cmd(name: &'static str, arity: i32, exec: Exec) -> Command {
    Command { name, arity, flags: 0, first_key: 0, last_key: 0, step: 0, keys_fn: None, exec }
}

/// LASTSAVE: the unix time of the last successful save (the start time before any).
fn lastsave(_c: &mut Client, _args: Args, out: &mut Out) -> CmdResult {
    out.int(snapshot::last_save_unix() as i64);
    Ok(())
}

/// SAVE: writes a snapshot of every shard to `dir/dbfilename`; replies when it is on disk.
async fn save(core: &Rc<Core>, out: &mut Out) -> CmdResult {
    if snapshot::bgsave_running() {
        return Err(CmdError::msg("ERR Background save already in progress"));
    }
    // Redis answers a failed SAVE with a bare "-ERR"; the log says why.
    snapshot::save(core).await.map_err(|_| CmdError::msg("ERR"))?;
    out.ok();
    Ok(())
}

/// BGSAVE [SCHEDULE]: starts a snapshot and replies at once. SCHEDULE matters in Redis only
/// while another child process runs; here it starts the save like BGSAVE.
fn bgsave(c: &mut Client, args: Args, out: &mut Out) -> CmdResult {
    if args.len() > 2 || (args.len() == 2 && !eq_ic(args.get(1), "schedule")) {
        return Err(CmdError::Syntax);
    }
    snapshot::bgsave(&c.core).map_err(CmdError::msg)?;
    out.simple("Background saving started");
    Ok(())
}

fn config_rewrite(_c: &mut Client, _args: Args, _out: &mut Out) -> CmdResult {
    Err(CmdError::msg("ERR The server is running without a config file"))
}

fn config_help(_c: &mut Client, _args: Args, out: &mut Out) -> CmdResult {
    let lines = [
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Print this help.",
    ];
    out.array(lines.len());
    for l in lines {
        out.simple(l);
    }
    Ok(())
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]: ends the wait of a client blocked in a
/// blocking command, on whichever core it lives.
async fn client_unblock(core: &Rc<Core>, args: Args<'_>, out: &mut Out) -> CmdResult {
    let (id, how) = crate::commands::connection::parse_client_unblock(args)?;
    let found = invoke_all(core, move |c| {
        let state = c.blocked.borrow().get(&id).cloned();
        state
            .map(|s| {
                s.unblock.set(how);
                s.wake();
            })
            .is_some()
    })
    .await;
    out.int(found.contains(&true) as i64);
    Ok(())
}

/// Runs a `Special` command from the connection's core.
pub async fn run_special(
    core: &Rc<Core>,
    client: &mut Client,
    special: Special,
    args: Args<'_>,
    out: &mut Out,
) {
    let result = match special {
        Special::Info => info(core, args, out).await,
        Special::ConfigGet => config_get(core, args, out),
        Special::ConfigSet => config_set(core, args, out).await,
        Special::ConfigResetStat => config_resetstat(core, out).await,
        Special::ClientList => client_list(core, args, out).await,
        Special::ClientKill => client_kill(core, client, args, out).await,
        Special::Scan => coord::scan(core, client, args, out).await,
        Special::RandomKey => {
            coord::random_key(core, client, out).await;
            Ok(())
        }
        Special::Time => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            out.array(2);
            out.bulk(now.as_secs().to_string().as_bytes());
            out.bulk(now.subsec_micros().to_string().as_bytes());
            Ok(())
        }
        Special::DebugSleep => debug(core, client, args, out).await,
        Special::ClientPause => client_pause(core, args, out).await,
        Special::ClientUnpause => {
            invoke_all(core, |c| c.pause.set(None)).await;
            out.ok();
            Ok(())
        }
        Special::Shutdown => shutdown(core, args).await,
        Special::Save => save(core, out).await,
        Special::BgRewriteAof => crate::persistence::bgrewriteaof(core, out).await,
        Special::ClientUnblock => client_unblock(core, args, out).await,
        Special::Exec => {
            crate::tx::multi::exec(core, client, out).await;
            crate::server::monitor::after_run_looked_up(core, &client.info, client.db, args);
            Ok(())
        }
        Special::Monitor => {
            crate::server::monitor::start(core, client, out).await;
            Ok(())
        }
        Special::Discard => {
            crate::tx::multi::discard(core, client, out).await;
            Ok(())
        }
        Special::Watch => {
            crate::tx::multi::watch(core, client, args, out).await;
            Ok(())
        }
        Special::Unwatch => {
            crate::tx::multi::unwatch_all(core, client).await;
            out.ok();
            Ok(())
        }
        _ => Err(CmdError::msg("ERR unsupported")),
    };
    if let Err(e) = result {
        let text = e.to_string();
        core.count_error(&text);
        out.error(&text);
    }
}

/// DEBUG SLEEP seconds | DEBUG SET-ACTIVE-EXPIRE 0|1. Unlike Redis, SLEEP pauses only the
/// calling connection (a shard never blocks).
/// CLIENT PAUSE timeout [WRITE|ALL], applied on every core.
async fn client_pause(core: &Rc<Core>, args: Args<'_>, out: &mut Out) -> CmdResult {
    let ms = super::parse_int(args.get(2))
        .map_err(|_| CmdError::msg("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CmdError::msg("ERR timeout is negative"));
    }
    let write_only = match args.len() {
        3 => false,
        4 if eq_ic(args.get(3), "all") => false,
        4 if eq_ic(args.get(3), "write") => true,
        4 => return Err(CmdError::msg("ERR CLIENT PAUSE mode must be WRITE or ALL")),
        _ => return Err(CmdError::Syntax),
    };
    let until = std::time::Instant::now() + std::time::Duration::from_millis(ms as u64);
    invoke_all(core, move |c| c.pause.set(Some((until, write_only)))).await;
    out.ok();
    Ok(())
}

/// DEBUG OBJECT key: a description of the key's value in Redis's format.
async fn debug_object(core: &Rc<Core>, client: &Client, key: &[u8], out: &mut Out) -> CmdResult {
    let shard = crate::dispatch::slot::key_shard(key, core.shards);
    let db = client.db;
    let key = key.to_vec();
    let line = crate::dispatch::invoke_on(core, shard, 0, move |c| {
        coord::with_ctx(c, db, |ctx| {
            let clock = ctx.clock_secs();
            let entry = ctx.lookup_quiet(&key)?;
            let serialized = match &entry.value {
                crate::shard::Value::Str(s) => s.len() + 1,
                other => other.heap_bytes() + 1,
            };
            Some(format!(
                "Value at:{:p} refcount:1 encoding:{} serializedlength:{serialized} lru:{} lru_seconds_idle:{}",
                entry as *const _,
                entry.value.encoding(),
                entry.access_secs & 0xFFFFFF,
                clock.saturating_sub(entry.access_secs)
            ))
        })
    })
    .await;
    match line {
        Some(l) => out.simple(&l),
        None => return Err(CmdError::NoSuchKey),
    }
    Ok(())
}

async fn debug(core: &Rc<Core>, client: &Client, args: Args<'_>, out: &mut Out) -> CmdResult {
    if eq_ic(args.get(1), "object") && args.len() == 3 {
        return debug_object(core, client, args.get(2), out).await;
    }
    if eq_ic(args.get(1), "sleep") && args.len() == 3 {
        let secs = super::parse_float(args.get(2))?;
        glommio::timer::sleep(std::time::Duration::from_secs_f64(secs.max(0.0))).await;
        out.ok();
        return Ok(());
    }
    if eq_ic(args.get(1), "reload") {
        return debug_reload(core, args, out).await;
    }
    if eq_ic(args.get(1), "set-active-expire") && args.len() == 3 {
        out.ok();
        return Ok(());
    }
    if eq_ic(args.get(1), "help") {
        out.array(1);
        out.simple(
            "DEBUG <subcommand>: SLEEP <seconds>, SET-ACTIVE-EXPIRE <0|1>, RELOAD [MERGE] [NOFLUSH] [NOSAVE]",
        );
        return Ok(());
    }
    Err(CmdError::msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
        crate::error::printable_snippet(args.get(1), 128)
    )))
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: saves, drops and reloads the keyspace (NOSAVE:
/// loads the file on disk; NOFLUSH keeps the current keys; MERGE lets loaded keys replace them).
async fn debug_reload(core: &Rc<Core>, args: Args<'_>, out: &mut Out) -> CmdResult {
    let mut opts = snapshot::ReloadOpts::default();
    for a in args.iter().skip(2) {
        if eq_ic(a, "merge") {
            opts.merge = true;
        } else if eq_ic(a, "noflush") {
            opts.no_flush = true;
        } else if eq_ic(a, "nosave") {
            opts.no_save = true;
        } else {
            return Err(CmdError::msg(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            ));
        }
    }
    match snapshot::debug_reload(core, opts).await {
        Ok(()) => {
            out.ok();
            Ok(())
        }
        Err(snapshot::ReloadError::Save(_)) => Err(CmdError::msg("ERR")),
        Err(snapshot::ReloadError::Load(e)) => {
            crate::log(&format!("DEBUG RELOAD failed: {e}"));
            Err(CmdError::msg("ERR Error trying to load the RDB dump, check server logs."))
        }
    }
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: saves when save points are configured (or
/// SAVE is given, and not with NOSAVE) and exits. A failed save keeps the server running
/// unless FORCE. NOW has nothing to skip: there are no replicas to wait for.
async fn shutdown(core: &Rc<Core>, args: Args<'_>) -> CmdResult {
    let (mut save, mut nosave, mut force) = (false, false, false);
    for a in args.iter().skip(1) {
        if eq_ic(a, "save") {
            save = true;
        } else if eq_ic(a, "nosave") {
            nosave = true;
        } else if eq_ic(a, "force") {
            force = true;
        } else if eq_ic(a, "abort") {
            return Err(CmdError::msg("ERR No shutdown in progress."));
        } else if !eq_ic(a, "now") {
            return Err(CmdError::Syntax);
        }
    }
    if save && nosave {
        return Err(CmdError::Syntax);
    }
    let how = match (save, nosave) {
        (true, _) => snapshot::ShutdownSave::Save,
        (_, true) => snapshot::ShutdownSave::NoSave,
        _ => snapshot::ShutdownSave::Default,
    };
    crate::log("User requested shutdown...");
    snapshot::shutdown(core, how, force)
        .await
        .map_err(|_| CmdError::msg("ERR Errors trying to SHUTDOWN. Check logs."))
}

fn config_get(core: &Rc<Core>, args: Args<'_>, out: &mut Out) -> CmdResult {
    let patterns: Vec<&[u8]> = args.iter().skip(2).collect();
    let found = core.config.borrow().get_matching(&patterns);
    out.map(found.len());
    for (name, value) in found {
        out.bulk(name.as_bytes());
        out.bulk(value.as_bytes());
    }
    Ok(())
}

/// CONFIG SET name value [name value ...]: validated on this core, then applied on all.
async fn config_set(core: &Rc<Core>, args: Args<'_>, out: &mut Out) -> CmdResult {
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity("config|set".into()));
    }
    let mut trial = core.config.borrow().clone();
    let mut pairs = Vec::new();
    for i in (2..args.len()).step_by(2) {
        let name = String::from_utf8_lossy(args.get(i)).into_owned();
        let value = String::from_utf8_lossy(args.get(i + 1)).into_owned();
        if pairs.iter().any(|(n, _): &(String, String)| n.eq_ignore_ascii_case(&name)) {
            return Err(CmdError::msg(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"
            )));
        }
        trial.set(&name, &value, false).map_err(|e| CmdError::msg(format!("ERR {e}")))?;
        pairs.push((name, value));
    }
    invoke_all(core, move |c| {
        let mut cfg = c.config.borrow_mut();
        for (name, value) in &pairs {
            let _ = cfg.set(name, value, false);
        }
        c.reactor.spin.set(std::time::Duration::from_micros(cfg.spin_us));
        if let Some(aof) = c.aof.get()
            && let Some(policy) = crate::persistence::aof::Fsync::parse(&cfg.appendfsync)
        {
            aof.policy.set(policy);
        }
    })
    .await;
    out.ok();
    Ok(())
}

async fn config_resetstat(core: &Rc<Core>, out: &mut Out) -> CmdResult {
    invoke_all(core, |c| {
        let len = crate::commands::table().len();
        *c.stats.borrow_mut() = CoreStats { cmd: vec![CmdStat::default(); len], ..Default::default() };
        c.shard.borrow_mut().stats = ShardStats::default();
    })
    .await;
    out.ok();
    Ok(())
}

/// CLIENT LIST [TYPE type] [ID id ...]
async fn client_list(core: &Rc<Core>, args: Args<'_>, out: &mut Out) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < args.len() {
        if eq_ic(args.get(i), "type") && i + 1 < args.len() {
            let t = args.get(i + 1);
            if !["normal", "master", "replica", "slave", "pubsub"].iter().any(|o| eq_ic(t, o)) {
                return Err(CmdError::msg(format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(t)
                )));
            }
            if !eq_ic(t, "normal") {
                ids = Some(Vec::new());
            }
            i += 2;
        } else if eq_ic(args.get(i), "id") && i + 1 < args.len() {
            let mut list = ids.take().unwrap_or_default();
            for a in args.iter().skip(i + 1) {
                let id = super::parse_int(a)
                    .ok()
                    .filter(|&v| v > 0)
                    .ok_or_else(|| CmdError::msg("ERR Invalid client ID"))?;
                list.push(id as u64);
            }
            ids = Some(list);
            i = args.len();
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let lines = invoke_all(core, |c| {
        c.clients.borrow().values().map(|info| (info.id, info.list_line())).collect::<Vec<_>>()
    })
    .await;
    let mut all: Vec<(u64, String)> = lines.into_iter().flatten().collect();
    all.sort_by_key(|(id, _)| *id);
    let mut text = String::new();
    for (id, line) in all {
        if ids.as_ref().is_none_or(|l| l.contains(&id)) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    out.verbatim(text.as_bytes());
    Ok(())
}

/// CLIENT KILL ip:port | CLIENT KILL [ID id] [ADDR ip:port] [LADDR ip:port] [SKIPME yes|no] ...
async fn client_kill(core: &Rc<Core>, client: &Client, args: Args<'_>, out: &mut Out) -> CmdResult {
    let mut filter_id: Option<u64> = None;
    let mut addr: Option<String> = None;
    let mut laddr: Option<String> = None;
    let mut skipme = true;
    let old_form = args.len() == 3;
    if old_form {
        addr = Some(String::from_utf8_lossy(args.get(2)).into_owned());
        skipme = false;
    } else {
        if !args.len().is_multiple_of(2) {
            return Err(CmdError::Syntax);
        }
        for i in (2..args.len()).step_by(2) {
            let (opt, v) = (args.get(i), args.get(i + 1));
            let text = String::from_utf8_lossy(v).into_owned();
            if eq_ic(opt, "id") {
                filter_id = Some(
                    super::parse_int(v)
                        .ok()
                        .filter(|&x| x > 0)
                        .ok_or_else(|| CmdError::msg("ERR client-id should be greater than 0"))?
                        as u64,
                );
            } else if eq_ic(opt, "addr") {
                addr = Some(text);
            } else if eq_ic(opt, "laddr") {
                laddr = Some(text);
            } else if eq_ic(opt, "skipme") {
                skipme = match text.to_ascii_lowercase().as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(CmdError::Syntax),
                };
            } else if eq_ic(opt, "user") {
                if v != b"default" {
                    return Err(CmdError::msg(format!("ERR No such user '{text}'")));
                }
            } else if eq_ic(opt, "type") || eq_ic(opt, "maxage") {
                // Every shardis client is a normal client of the default user.
            } else {
                return Err(CmdError::Syntax);
            }
        }
    }
    let me = client.id();
    let killed: usize = invoke_all(core, move |c| {
        let mut n = 0;
        for info in c.clients.borrow().values() {
            let matches = filter_id.is_none_or(|id| id == info.id)
                && addr.as_ref().is_none_or(|a| *a == info.addr)
                && laddr.as_ref().is_none_or(|a| *a == info.laddr)
                && !(skipme && info.id == me);
            if matches {
                info.kill();
                n += 1;
            }
        }
        n
    })
    .await
    .into_iter()
    .sum();
    if old_form {
        if killed == 0 {
            return Err(CmdError::msg("ERR No such client"));
        }
        out.ok();
    } else {
        out.int(killed as i64);
    }
    Ok(())
}

/// What INFO needs from one core.
struct CoreSnapshot {
    stats: CoreStats,
    shard: ShardStats,
    /// Per database: (keys, keys with a TTL).
    dbs: Vec<(usize, usize)>,
    clients: usize,
    blocked: usize,
    blocking_keys: usize,
    /// Writes since the shard's last snapshot.
    dirty: u64,
    /// Transaction scheduling attempts taken and refused on this shard.
    tx_scheduled: u64,
    tx_refused: u64,
    tx_split_parts: u64,
    tx_split_stops: u64,
    aof: Option<crate::persistence::aof::AofStats>,
}

async fn info(core: &Rc<Core>, args: Args<'_>, out: &mut Out) -> CmdResult {
    let snaps = invoke_all(core, |c| {
        let shard = c.shard.borrow();
        CoreSnapshot {
            stats: c.stats.borrow().clone(),
            shard: shard.stats.clone(),
            dbs: shard.dbs.iter().map(|d| (d.len(), d.volatile.len())).collect(),
            clients: c.clients.borrow().len(),
            blocked: c.blocked.borrow().values().filter(|b| b.waiting.get()).count(),
            blocking_keys: shard.blocked.key_count(),
            dirty: shard.dirty,
            tx_scheduled: c.txq.scheduled.get(),
            tx_refused: c.txq.refused.get(),
            tx_split_parts: c.txq.split_parts_run.get(),
            tx_split_stops: c.txq.split_batches_stopped.get(),
            aof: c.aof.get().map(|a| a.stats.borrow().clone()),
        }
    })
    .await;
    let wanted: Vec<String> =
        args.iter().skip(1).map(|a| String::from_utf8_lossy(a).to_ascii_lowercase()).collect();
    let text = render_info(core, &snaps, &wanted);
    out.verbatim(text.as_bytes());
    Ok(())
}

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

fn render_info(core: &Core, snaps: &[CoreSnapshot], wanted: &[String]) -> String {
    let all = wanted.iter().any(|w| w == "all" || w == "everything");
    let show = |s: &str| {
        if wanted.is_empty() || wanted.iter().any(|w| w == "default") {
            DEFAULT_SECTIONS.contains(&s)
        } else {
            all || wanted.iter().any(|w| w == s)
        }
    };
    let cfg = core.config.borrow();
    let mut sections: Vec<String> = Vec::new();
    let mut total = CoreStats::default();
    let mut shard = ShardStats::default();
    let mut cmd = vec![CmdStat::default(); crate::commands::table().len()];
    for s in snaps {
        total.connections_received += s.stats.connections_received;
        total.rejected_connections += s.stats.rejected_connections;
        total.net_input_bytes += s.stats.net_input_bytes;
        total.net_output_bytes += s.stats.net_output_bytes;
        total.total_error_replies += s.stats.total_error_replies;
        for (k, v) in &s.stats.errors {
            *total.errors.entry(k.clone()).or_insert(0) += v;
        }
        for (acc, c) in cmd.iter_mut().zip(&s.stats.cmd) {
            acc.calls += c.calls;
            acc.usec += c.usec;
            acc.rejected += c.rejected;
            acc.failed += c.failed;
        }
        shard.keyspace_hits += s.shard.keyspace_hits;
        shard.keyspace_misses += s.shard.keyspace_misses;
        shard.expired_keys += s.shard.expired_keys;
    }
    let commands_processed: u64 = cmd.iter().map(|c| c.calls).sum();
    let uptime = core.started.elapsed().as_secs();
    let rss = rss_bytes();
    let (user, sys) = cpu_times();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    if show("server") {
        sections.push(format!(
            "# Server\r\nredis_version:{REDIS_VERSION}\r\nshardis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{:040x}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:\r\nio_threads_active:0\r\nshard_threads:{}\r\n",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            (core.started_unix as u128) << 64 | std::process::id() as u128,
            cfg.port,
            now.as_micros(),
            uptime / 86400,
            cfg.hz,
            cfg.hz,
            now.as_secs() & 0xFFFFFF,
            std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
            core.shards,
        ));
    }
    if show("clients") {
        let clients: usize = snaps.iter().map(|s| s.clients).sum();
        let blocked: usize = snaps.iter().map(|s| s.blocked).sum();
        let blocking_keys: usize = snaps.iter().map(|s| s.blocking_keys).sum();
        sections.push(format!(
            "# Clients\r\nconnected_clients:{clients}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{blocked}\r\ntracking_clients:0\r\nclients_in_timeout_table:{blocked}\r\ntotal_blocking_keys:{blocking_keys}\r\n",
            cfg.maxclients
        ));
    }
    if show("memory") {
        sections.push(format!(
            "# Memory\r\nused_memory:{rss}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{rss}\r\nmaxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nmem_allocator:libc\r\n",
            human_bytes(rss),
            human_bytes(rss),
            cfg.maxmemory,
            human_bytes(cfg.maxmemory),
            cfg.maxmemory_policy
        ));
    }
    if show("persistence") {
        let dirty: u64 = snaps.iter().map(|s| s.dirty).sum();
        sections.push(format!(
            "# Persistence\r\nloading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\n{}{}",
            snapshot::info_lines(dirty),
            crate::persistence::info_aof_lines(&snaps.iter().map(|s| s.aof.clone()).collect::<Vec<_>>())
        ));
    }
    if show("stats") {
        sections.push(format!(
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{commands_processed}\r\ninstantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:0\r\npubsub_patterns:0\r\ntotal_error_replies:{}\r\ntx_scheduled:{}\r\ntx_refused:{}\r\ntx_split_parts:{}\r\ntx_split_stops:{}\r\n",
            total.connections_received,
            total.net_input_bytes,
            total.net_output_bytes,
            total.rejected_connections,
            shard.expired_keys,
            shard.keyspace_hits,
            shard.keyspace_misses,
            total.total_error_replies,
            snaps.iter().map(|s| s.tx_scheduled).sum::<u64>(),
            snaps.iter().map(|s| s.tx_refused).sum::<u64>(),
            snaps.iter().map(|s| s.tx_split_parts).sum::<u64>(),
            snaps.iter().map(|s| s.tx_split_stops).sum::<u64>(),
        ));
    }
    if show("replication") {
        sections.push(
            "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:0000000000000000000000000000000000000000\r\nmaster_repl_offset:0\r\nrepl_backlog_active:0\r\n".into(),
        );
    }
    if show("cpu") {
        sections.push(format!(
            "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\n"
        ));
    }
    if show("modules") {
        sections.push("# Modules\r\n".into());
    }
    if show("errorstats") {
        let mut s = String::from("# Errorstats\r\n");
        for (code, n) in &total.errors {
            let _ = write!(s, "errorstat_{code}:count={n}\r\n");
        }
        sections.push(s);
    }
    if show("commandstats") {
        let mut s = String::from("# Commandstats\r\n");
        for (c, st) in crate::commands::table().iter().zip(&cmd) {
            if st.calls == 0 && st.rejected == 0 && st.failed == 0 {
                continue;
            }
            let per_call = if st.calls > 0 { st.usec as f64 / st.calls as f64 } else { 0.0 };
            let _ = write!(
                s,
                "cmdstat_{}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
                c.name, st.calls, st.usec, st.rejected, st.failed
            );
        }
        sections.push(s);
    }
    if show("cluster") {
        sections.push("# Cluster\r\ncluster_enabled:0\r\n".into());
    }
    if show("keyspace") {
        let mut s = String::from("# Keyspace\r\n");
        for db in 0..cfg.databases {
            let (keys, expires) = snaps.iter().fold((0, 0), |(k, e), snap| {
                let (dk, de) = snap.dbs.get(db).copied().unwrap_or((0, 0));
                (k + dk, e + de)
            });
            if keys > 0 {
                let _ = write!(s, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
            }
        }
        sections.push(s);
    }
    sections.join("\r\n")
}

fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{n}B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.2}K", n / 1024.0)
    } else if n < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", n / 1024.0 / 1024.0)
    } else {
        format!("{:.2}G", n / 1024.0 / 1024.0 / 1024.0)
    }
}

/// Resident memory, from /proc (an in-memory file; reading it does not block on disk).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

fn cpu_times() -> (f64, f64) {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}
