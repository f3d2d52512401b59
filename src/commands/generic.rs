//! The generic (keyspace) group: commands that work on keys of any type. TYPE, TTL and
//! friends, EXPIRE and friends, DEL, EXISTS, RENAME, COPY, MOVE, OBJECT, DUMP, RESTORE, KEYS,
//! SCAN, RANDOMKEY, DBSIZE, FLUSHDB, FLUSHALL and SWAPDB.
//!
//! Every handler runs on one shard and sees only that shard's keys:
//! - Single-key commands run where their key lives.
//! - DEL, UNLINK, EXISTS and TOUCH get only the keys that live on this shard. The coordinator
//!   adds up the per-shard counts.
//! - Keyless commands (DBSIZE, FLUSHDB, KEYS...) run on every shard, and their replies are
//!   merged.
//! - RENAME, RENAMENX and COPY run here when both keys share a shard. When they do not, the
//!   coordinator moves the value with `take_for_move`, `peek_for_copy` and `put_moved`.
//! - RANDOMKEY and SCAN are coordinated across shards. This file gives them their per-shard
//!   steps: `random_key_local` and `scan_shard`.
//!
//! Expired keys count as missing everywhere. A key whose TTL has passed is deleted the first
//! time a command touches it, as Redis does, except in DBSIZE: like Redis, it counts keys that
//! expired but have not been removed yet.

use super::{Args, CONTAINER, Command, Exec, Merge, READONLY, Special, WRITE, eq_ic, parse_int};
use crate::error::{CmdError, CmdResult};
use crate::resp::Out;
use crate::shard::{Ctx, Entry, Str, Value};
use crate::types::glob::glob_match;

const fn cmd(name: &'static str, arity: i32, flags: u32, keys: (i32, i32, i32), exec: Exec) -> Command {
    Command { name, arity, flags, first_key: keys.0, last_key: keys.1, step: keys.2, keys_fn: None, exec }
}

const NO_KEYS: (i32, i32, i32) = (0, 0, 0);
const KEY1: (i32, i32, i32) = (1, 1, 1);
const ALL_KEYS: (i32, i32, i32) = (1, -1, 1);
const TWO_KEYS: (i32, i32, i32) = (1, 2, 1);
const OBJECT_KEY: (i32, i32, i32) = (2, 2, 1);

/// Arity and legacy key positions are Redis 7.2's (`src/commands/*.json`).
pub const COMMANDS: &[Command] = &[
    cmd("type", 2, READONLY, KEY1, Exec::Shard(type_cmd)),
    cmd("ttl", 2, READONLY, KEY1, Exec::Shard(ttl)),
    cmd("pttl", 2, READONLY, KEY1, Exec::Shard(pttl)),
    cmd("expiretime", 2, READONLY, KEY1, Exec::Shard(expiretime)),
    cmd("pexpiretime", 2, READONLY, KEY1, Exec::Shard(pexpiretime)),
    cmd("persist", 2, WRITE, KEY1, Exec::Shard(persist)),
    cmd("expire", -3, WRITE, KEY1, Exec::Shard(expire)),
    cmd("pexpire", -3, WRITE, KEY1, Exec::Shard(pexpire)),
    cmd("expireat", -3, WRITE, KEY1, Exec::Shard(expireat)),
    cmd("pexpireat", -3, WRITE, KEY1, Exec::Shard(pexpireat)),
    cmd("move", 3, WRITE, KEY1, Exec::Shard(move_cmd)),
    // `lookup` always resolves a container to one of its subcommands, so the container's
    // own exec is never run.
    cmd("object", -2, CONTAINER, NO_KEYS, Exec::Shard(object_help)),
    cmd("object|encoding", 3, READONLY, OBJECT_KEY, Exec::Shard(object_encoding)),
    cmd("object|freq", 3, READONLY, OBJECT_KEY, Exec::Shard(object_freq)),
    cmd("object|idletime", 3, READONLY, OBJECT_KEY, Exec::Shard(object_idletime)),
    cmd("object|refcount", 3, READONLY, OBJECT_KEY, Exec::Shard(object_refcount)),
    cmd("object|help", 2, 0, NO_KEYS, Exec::Shard(object_help)),
    cmd("dump", 2, READONLY, KEY1, Exec::Shard(dump)),
    cmd("restore", -4, WRITE, KEY1, Exec::Shard(restore)),
    cmd("del", -2, WRITE, ALL_KEYS, Exec::Multi(del, Merge::SumInts)),
    cmd("unlink", -2, WRITE, ALL_KEYS, Exec::Multi(unlink, Merge::SumInts)),
    cmd("exists", -2, READONLY, ALL_KEYS, Exec::Multi(exists, Merge::SumInts)),
    cmd("touch", -2, READONLY, ALL_KEYS, Exec::Multi(touch, Merge::SumInts)),
    cmd("rename", 3, WRITE, TWO_KEYS, Exec::Cross(rename, Special::Rename)),
    cmd("renamenx", 3, WRITE, TWO_KEYS, Exec::Cross(renamenx, Special::RenameNx)),
    cmd("copy", -3, WRITE, TWO_KEYS, Exec::Cross(copy, Special::Copy)),
    cmd("dbsize", 1, READONLY, NO_KEYS, Exec::AllShards(dbsize, Merge::SumInts)),
    cmd("flushdb", -1, WRITE, NO_KEYS, Exec::AllShards(flushdb, Merge::AllOk)),
    cmd("flushall", -1, WRITE, NO_KEYS, Exec::AllShards(flushall, Merge::AllOk)),
    cmd("keys", 2, READONLY, NO_KEYS, Exec::AllShards(keys, Merge::Concat)),
    cmd("swapdb", 3, WRITE, NO_KEYS, Exec::AllShards(swapdb, Merge::AllOk)),
    cmd("randomkey", 1, READONLY, NO_KEYS, Exec::Special(Special::RandomKey)),
    cmd("scan", -2, READONLY, NO_KEYS, Exec::Special(Special::Scan)),
];

const SAME_OBJECT: &str = "ERR source and destination objects are the same";
const INT_RANGE: &str = "ERR value is out of range, value must between -2147483648 and 2147483647";
const LFU_NOT_SELECTED: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
const LFU_SELECTED: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// The OBJECT REFCOUNT of Redis's shared integers (OBJ_SHARED_REFCOUNT).
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Redis shares the integers 0..10000 (OBJ_SHARED_INTEGERS) when eviction does not need
/// per-key access data.
const SHARED_INTEGERS: i64 = 10_000;
/// The LFU counter of a new key (LFU_INIT_VAL).
const LFU_INIT_VAL: u64 = 5;
/// RANDOMKEY's random tries before it walks the table (Redis loops until it finds a live key).
const RANDOM_KEY_TRIES: usize = 100;

// ---------------------------------------------------------------------------------------------
// Lookups with Redis's flags

/// `lookupKeyReadWithFlags(LOOKUP_NOTOUCH)`: expires the key lazily and counts a hit or a
/// miss, but leaves the access time alone (TYPE, TTL, EXISTS, OBJECT).
fn lookup_notouch<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Option<&'c Entry> {
    let now = ctx.now_ms;
    let shard = &mut *ctx.shard;
    let found = shard.dbs[ctx.db].lookup(key, now);
    if found.is_some() {
        shard.stats.keyspace_hits += 1;
    } else {
        shard.stats.keyspace_misses += 1;
    }
    found.map(|e| &*e)
}

/// `getIntFromObjectOrReply`: an `int`. `msg` replaces both errors when given (SWAPDB).
fn parse_i32(b: &[u8], msg: Option<&str>) -> CmdResult<i32> {
    let err = |default: CmdError| msg.map_or(default, CmdError::msg);
    let v = parse_int(b).map_err(|_| err(CmdError::NotInteger))?;
    i32::try_from(v).map_err(|_| err(CmdError::msg(INT_RANGE)))
}

/// A DB index for MOVE and COPY: an `int` in `0..databases`.
fn parse_db_index(ctx: &Ctx, b: &[u8]) -> CmdResult<usize> {
    let id = parse_i32(b, None)?;
    db_in_range(ctx, id)
}

fn db_in_range(ctx: &Ctx, id: i32) -> CmdResult<usize> {
    usize::try_from(id).ok().filter(|&i| i < ctx.shard.dbs.len()).ok_or(CmdError::DbIndexOutOfRange)
}

fn lfu_policy(ctx: &Ctx) -> bool {
    let p = ctx.config.maxmemory_policy.as_bytes();
    p.eq_ignore_ascii_case(b"allkeys-lfu") || p.eq_ignore_ascii_case(b"volatile-lfu")
}

fn lru_policy(ctx: &Ctx) -> bool {
    let p = ctx.config.maxmemory_policy.as_bytes();
    p.eq_ignore_ascii_case(b"allkeys-lru") || p.eq_ignore_ascii_case(b"volatile-lru")
}

// ---------------------------------------------------------------------------------------------
// TYPE and TTLs

/// `TYPE key`: `+string`, `+list`... or `+none`.
fn type_cmd(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let name = lookup_notouch(ctx, args.get(1)).map_or("none", |e| e.value.type_name());
    out.simple(name);
    Ok(())
}

/// `TTL key`: seconds left (rounded), -1 without a TTL, -2 if the key does not exist.
fn ttl(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    ttl_generic(ctx, args, out, false, false)
}

/// `PTTL key`: milliseconds left, -1 without a TTL, -2 if the key does not exist.
fn pttl(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    ttl_generic(ctx, args, out, true, false)
}

/// `EXPIRETIME key`: the unix time (seconds) the key expires at, -1 or -2.
fn expiretime(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    ttl_generic(ctx, args, out, false, true)
}

/// `PEXPIRETIME key`: the unix time (milliseconds) the key expires at, -1 or -2.
fn pexpiretime(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    ttl_generic(ctx, args, out, true, true)
}

fn ttl_generic(ctx: &mut Ctx, args: Args, out: &mut Out, millis: bool, absolute: bool) -> CmdResult {
    let now = ctx.now_ms as i64;
    let Some(entry) = lookup_notouch(ctx, args.get(1)) else {
        out.int(-2);
        return Ok(());
    };
    if entry.expire_at_ms == 0 {
        out.int(-1);
        return Ok(());
    }
    let at = entry.expire_at_ms.min(i64::MAX as u64) as i64;
    let t = if absolute { at } else { (at - now).max(0) };
    // i128: Redis's `(ttl+500)/1000` does not wrap for a TTL near LLONG_MAX.
    out.int(if millis { t } else { ((t as i128 + 500) / 1000) as i64 });
    Ok(())
}

/// `PERSIST key`: 1 if a TTL was removed, 0 if the key has none or does not exist.
fn persist(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let key = args.get(1);
    let had_ttl = ctx.lookup_quiet(key).is_some_and(|e| e.expire_at_ms != 0);
    if had_ttl {
        ctx.db().set_expire(key, 0);
    }
    out.int(had_ttl as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// EXPIRE family

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Seconds,
    Millis,
}

/// `EXPIRE key seconds [NX | XX | GT | LT]`: 1 if the TTL was set (or the key deleted because
/// the time is already past), 0 if the key does not exist or a condition failed.
fn expire(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let base = ctx.now_ms as i64;
    expire_generic(ctx, args, out, "expire", base, Unit::Seconds)
}

/// `PEXPIRE key milliseconds [NX | XX | GT | LT]`
fn pexpire(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let base = ctx.now_ms as i64;
    expire_generic(ctx, args, out, "pexpire", base, Unit::Millis)
}

/// `EXPIREAT key unix-time-seconds [NX | XX | GT | LT]`
fn expireat(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    expire_generic(ctx, args, out, "expireat", 0, Unit::Seconds)
}

/// `PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]`
fn pexpireat(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    expire_generic(ctx, args, out, "pexpireat", 0, Unit::Millis)
}

#[derive(Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

/// Redis's `parseExtendedExpireArgumentsOrReply`. It runs before the time is parsed, so its
/// errors come first.
fn parse_expire_flags(args: Args) -> CmdResult<ExpireFlags> {
    let mut f = ExpireFlags::default();
    for opt in args.iter().skip(3) {
        if eq_ic(opt, "nx") {
            f.nx = true;
        } else if eq_ic(opt, "xx") {
            f.xx = true;
        } else if eq_ic(opt, "gt") {
            f.gt = true;
        } else if eq_ic(opt, "lt") {
            f.lt = true;
        } else {
            let opt = crate::error::printable_snippet(opt, usize::MAX);
            return Err(CmdError::msg(format!("ERR Unsupported option {opt}")));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(CmdError::msg("ERR NX and XX, GT or LT options at the same time are not compatible"));
    }
    if f.gt && f.lt {
        return Err(CmdError::msg("ERR GT and LT options at the same time are not compatible"));
    }
    Ok(f)
}

fn expire_generic(
    ctx: &mut Ctx,
    args: Args,
    out: &mut Out,
    name: &'static str,
    base_ms: i64,
    unit: Unit,
) -> CmdResult {
    let flags = parse_expire_flags(args)?;
    let mut when = args.i64(2)?;
    if unit == Unit::Seconds {
        when = when.checked_mul(1000).ok_or(CmdError::InvalidExpire(name))?;
    }
    when = when.checked_add(base_ms).ok_or(CmdError::InvalidExpire(name))?;

    let key = args.get(1);
    let now = ctx.now_ms as i64;
    let Some(entry) = ctx.lookup_quiet(key) else {
        out.int(0);
        return Ok(());
    };
    // -1 stands for "no TTL", as in Redis: an infinite TTL for GT and LT.
    let current = if entry.expire_at_ms == 0 { -1 } else { entry.expire_at_ms as i64 };
    let refused = (flags.nx && current != -1)
        || (flags.xx && current == -1)
        || (flags.gt && (current == -1 || when <= current))
        || (flags.lt && current != -1 && when >= current);
    if refused {
        out.int(0);
        return Ok(());
    }
    if when <= now {
        ctx.db().remove(key);
    } else {
        ctx.db().set_expire(key, when as u64);
    }
    out.int(1);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// MOVE and OBJECT

/// `MOVE key db`: moves the key (with its TTL) to another database. 1 if moved, 0 if the key
/// does not exist here or already exists there.
fn move_cmd(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let dst = parse_db_index(ctx, args.get(2))?;
    if dst == ctx.db {
        return Err(CmdError::msg(SAME_OBJECT));
    }
    let key = args.get(1);
    let now = ctx.now_ms;
    if ctx.lookup_quiet(key).is_none() || ctx.shard.dbs[dst].lookup(key, now).is_some() {
        out.int(0);
        return Ok(());
    }
    if let Some(entry) = ctx.db().remove(key) {
        ctx.shard.dbs[dst].insert(key, entry);
        ctx.shard.watch.touch(dst, key);
    }
    out.int(1);
    Ok(())
}

/// `OBJECT ENCODING key`: the internal representation (`int`, `embstr`, `raw`...), or null.
fn object_encoding(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    match lookup_notouch(ctx, args.get(2)) {
        Some(e) => out.bulk(e.value.encoding().as_bytes()),
        None => out.null(),
    }
    Ok(())
}

/// `OBJECT FREQ key`: the LFU access counter, only under an LFU maxmemory policy.
///
/// Entries do not keep an LFU counter. This reports a new key's counter, decayed by one per
/// idle minute (Redis's default `lfu-decay-time`), so it is only an estimate of Redis's value.
fn object_freq(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let clock = ctx.clock_secs();
    let lfu = lfu_policy(ctx);
    let Some(e) = lookup_notouch(ctx, args.get(2)) else {
        out.null();
        return Ok(());
    };
    if !lfu {
        return Err(CmdError::msg(LFU_NOT_SELECTED));
    }
    let idle_minutes = u64::from(clock.saturating_sub(e.access_secs)) / 60;
    out.int(LFU_INIT_VAL.saturating_sub(idle_minutes) as i64);
    Ok(())
}

/// `OBJECT IDLETIME key`: seconds since the key was last read or written.
fn object_idletime(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let clock = ctx.clock_secs();
    let lfu = lfu_policy(ctx);
    let Some(e) = lookup_notouch(ctx, args.get(2)) else {
        out.null();
        return Ok(());
    };
    if lfu {
        return Err(CmdError::msg(LFU_SELECTED));
    }
    out.int(i64::from(clock.saturating_sub(e.access_secs)));
    Ok(())
}

/// `OBJECT REFCOUNT key`: 1, or 2147483647 for the small integers Redis shares.
fn object_refcount(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let sharing = ctx.config.maxmemory == 0 || !(lru_policy(ctx) || lfu_policy(ctx));
    let Some(e) = lookup_notouch(ctx, args.get(2)) else {
        out.null();
        return Ok(());
    };
    let shared = sharing && matches!(e.value, Value::Str(Str::Int(i)) if (0..SHARED_INTEGERS).contains(&i));
    out.int(if shared { SHARED_REFCOUNT } else { 1 });
    Ok(())
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// `OBJECT HELP`: one status line each, as Redis's `addReplyHelp` writes them.
fn object_help(_ctx: &mut Ctx, _args: Args, out: &mut Out) -> CmdResult {
    out.array(OBJECT_HELP.len());
    for line in OBJECT_HELP {
        out.simple(line);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// DUMP and RESTORE (the value encoding is RDB's, see `persistence::rdb`)

/// `DUMP key`: the value serialized as Redis does (RDB value, version, CRC-64), or null.
fn dump(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let compress = ctx.config.rdbcompression;
    match ctx.lookup(args.get(1)) {
        Some(e) => out.bulk(&crate::persistence::rdb::dump_payload(&e.value, compress)),
        None => out.null(),
    }
    Ok(())
}

/// RESTORE's options.
#[derive(Default)]
struct RestoreOpts {
    replace: bool,
    absttl: bool,
    idle_secs: Option<i64>,
    freq: Option<i64>,
}

/// Redis parses RESTORE's options first, so their errors come before any other.
fn parse_restore_opts(args: Args) -> CmdResult<RestoreOpts> {
    let mut o = RestoreOpts::default();
    let mut i = 4;
    while i < args.len() {
        let opt = args.get(i);
        let has_value = i + 1 < args.len();
        if eq_ic(opt, "replace") {
            o.replace = true;
        } else if eq_ic(opt, "absttl") {
            o.absttl = true;
        } else if eq_ic(opt, "idletime") && has_value && o.freq.is_none() {
            i += 1;
            let idle = parse_int(args.get(i))?;
            if idle < 0 {
                return Err(CmdError::msg("ERR Invalid IDLETIME value, must be >= 0"));
            }
            o.idle_secs = Some(idle);
        } else if eq_ic(opt, "freq") && has_value && o.idle_secs.is_none() {
            i += 1;
            let freq = parse_int(args.get(i))?;
            if !(0..=255).contains(&freq) {
                return Err(CmdError::msg("ERR Invalid FREQ value, must be >= 0 and <= 255"));
            }
            o.freq = Some(freq);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

/// `RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]`:
/// creates `key` from a DUMP payload (of Redis or shardis), with a TTL in ms (0 = none; an
/// absolute unix time with ABSTTL). A TTL already past replies OK and creates nothing (and
/// REPLACE still deletes the old key), as in Redis. FREQ is checked and ignored: entries keep
/// no LFU counter.
fn restore(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    use crate::persistence::rdb::{Limits, RestoreError, restore_payload};
    let opts = parse_restore_opts(args)?;
    let key = args.get(1);
    if !opts.replace && ctx.lookup_quiet(key).is_some() {
        return Err(CmdError::msg("BUSYKEY Target key name already exists."));
    }
    let ttl = parse_int(args.get(2))?;
    if ttl < 0 {
        return Err(CmdError::msg("ERR Invalid TTL value, must be >= 0"));
    }
    let value = restore_payload(args.get(3), &Limits::from_config(ctx.config)).map_err(|e| match e {
        RestoreError::VersionOrChecksum => CmdError::msg("ERR DUMP payload version or checksum are wrong"),
        RestoreError::BadFormat(_) => CmdError::msg("ERR Bad data format"),
    })?;
    if opts.replace {
        ctx.db().remove(key);
    }
    let now = ctx.now_ms as i64;
    // Redis adds the clock in C, where a huge TTL wraps to the past: the key is then expired.
    let expire_at = if ttl != 0 && !opts.absttl { ttl.wrapping_add(now) } else { ttl };
    if ttl != 0 && expire_at <= now {
        out.ok();
        return Ok(());
    }
    let mut entry = ctx.new_entry(value);
    entry.expire_at_ms = expire_at as u64;
    if let Some(idle) = opts.idle_secs {
        entry.access_secs = entry.access_secs.saturating_sub(idle.min(u32::MAX as i64) as u32);
    }
    ctx.db().insert(key, entry);
    out.ok();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Multi-key: each shard answers for its own keys, the coordinator sums

/// `DEL key [key ...]`: the number of keys removed (a repeated key counts once).
fn del(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let mut n = 0;
    for key in args.iter().skip(1) {
        if ctx.lookup_quiet(key).is_some() && ctx.db().remove(key).is_some() {
            n += 1;
        }
    }
    out.int(n);
    Ok(())
}

/// `UNLINK key [key ...]`: DEL. Values are freed right away, which is cheap for a single
/// shard's share of the keys.
fn unlink(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    del(ctx, args, out)
}

/// `EXISTS key [key ...]`: how many of the keys exist; a repeated key counts each time.
fn exists(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let n = args.iter().skip(1).filter(|k| lookup_notouch(ctx, k).is_some()).count();
    out.int(n as i64);
    Ok(())
}

/// `TOUCH key [key ...]`: updates the keys' access times; replies how many exist.
fn touch(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let n = args.iter().skip(1).filter(|k| ctx.lookup(k).is_some()).count();
    out.int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// RENAME, RENAMENX, COPY (both keys on this shard), and the coordinator's per-side steps

/// `RENAME key newkey`: `+OK`; the TTL goes with the value. `ERR no such key` if `key` is
/// missing.
fn rename(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    rename_generic(ctx, args, out, false)
}

/// `RENAMENX key newkey`: 1 if renamed, 0 if `newkey` exists. `ERR no such key` if `key` is
/// missing.
fn renamenx(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    rename_generic(ctx, args, out, true)
}

fn rename_generic(ctx: &mut Ctx, args: Args, out: &mut Out, nx: bool) -> CmdResult {
    let (src, dst) = (args.get(1), args.get(2));
    if ctx.lookup_quiet(src).is_none() {
        return Err(CmdError::NoSuchKey);
    }
    let done = |out: &mut Out, moved: bool| if nx { out.int(moved as i64) } else { out.ok() };
    if src == dst {
        done(out, false);
        return Ok(());
    }
    if nx && ctx.lookup_quiet(dst).is_some() {
        out.int(0);
        return Ok(());
    }
    if let Some(entry) = ctx.db().remove(src) {
        // Replaces any old value of `dst` and its TTL.
        ctx.db().insert(dst, entry);
    }
    done(out, true);
    Ok(())
}

/// COPY's options, parsed the same way for a local copy and for the coordinator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyOpts {
    /// The destination database, or `None` for the source's.
    pub db: Option<usize>,
    pub replace: bool,
}

/// Parses `COPY source destination [DB destination-db] [REPLACE]`'s options with Redis's
/// errors, in Redis's order.
pub fn parse_copy_args(ctx: &Ctx, args: Args) -> CmdResult<CopyOpts> {
    let mut opts = CopyOpts { db: None, replace: false };
    let mut i = 3;
    while i < args.len() {
        let a = args.get(i);
        if eq_ic(a, "replace") {
            opts.replace = true;
        } else if eq_ic(a, "db") && i + 1 < args.len() {
            opts.db = Some(parse_db_index(ctx, args.get(i + 1))?);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(opts)
}

/// `COPY source destination [DB destination-db] [REPLACE]`: 1 if copied (with the TTL), 0 if
/// `source` is missing or `destination` exists without REPLACE.
fn copy(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let opts = parse_copy_args(ctx, args)?;
    let (src, dst) = (args.get(1), args.get(2));
    let dst_db = opts.db.unwrap_or(ctx.db);
    if dst_db == ctx.db && src == dst {
        return Err(CmdError::msg(SAME_OBJECT));
    }
    let Some((value, expire_at_ms)) = peek_for_copy(ctx, src) else {
        out.int(0);
        return Ok(());
    };
    let entry = Entry {
        value,
        expire_at_ms,
        access_secs: ctx.clock_secs(),
        version: crate::persistence::cow::current_epoch(),
    };
    let src_db = std::mem::replace(&mut ctx.db, dst_db);
    let copied = put_moved(ctx, dst, entry, opts.replace);
    ctx.db = src_db;
    out.int(copied as i64);
    Ok(())
}

/// RENAME's source side across shards: removes `key` from the selected db and returns its
/// entry (value and TTL), or `None` if it does not exist (the caller replies
/// `ERR no such key`). A key whose TTL has passed is deleted and counts as missing.
pub fn take_for_move(ctx: &mut Ctx, key: &[u8]) -> Option<Entry> {
    ctx.lookup_quiet(key)?;
    ctx.touch_watched(key);
    crate::persistence::cow::before_write(ctx.shard, ctx.db, key);
    let entry = ctx.db().remove(key);
    crate::persistence::propagate::log_key_state(ctx, key);
    entry
}

/// COPY's source side across shards: a copy of `key`'s value and its TTL (absolute unix ms,
/// 0 = none), or `None` if it does not exist. Reads like Redis's COPY: counts a hit or miss
/// and updates the access time.
pub fn peek_for_copy(ctx: &mut Ctx, key: &[u8]) -> Option<(Value, u64)> {
    ctx.lookup(key).map(|e| (e.value.clone(), e.expire_at_ms))
}

/// The destination side of RENAME, RENAMENX and COPY across shards: stores `entry` under
/// `key` in the selected db (`ctx.db`, so a COPY ... DB n selects n first). It keeps the
/// entry's TTL. If `key` exists and `replace` is false, it stores nothing, drops `entry` and
/// returns false. RENAMENX must therefore find out whether the destination exists before it
/// takes the source.
pub fn put_moved(ctx: &mut Ctx, key: &[u8], mut entry: Entry, replace: bool) -> bool {
    if ctx.lookup_quiet(key).is_some() && !replace {
        return false;
    }
    crate::persistence::cow::before_write(ctx.shard, ctx.db, key);
    // Arriving during a snapshot walk of this shard, it is not part of that snapshot.
    entry.version = crate::persistence::cow::current_epoch();
    ctx.db().insert(key, entry);
    ctx.touch_watched(key);
    crate::persistence::propagate::log_key_state(ctx, key);
    true
}

/// Writes back a key changed by a command that ran on gathered copies (see
/// `dispatch::coord`): stores its new value and expiry, or deletes it.
pub fn write_back(ctx: &mut Ctx, key: &[u8], state: Option<(Value, u64)>) {
    crate::persistence::cow::before_write(ctx.shard, ctx.db, key);
    match state {
        Some((value, expire)) => {
            let mut entry = ctx.new_entry(value);
            entry.expire_at_ms = expire;
            ctx.db().insert(key, entry);
        }
        None => {
            ctx.db().remove(key);
        }
    }
    ctx.touch_watched(key);
    crate::persistence::propagate::log_key_state(ctx, key);
}

// ---------------------------------------------------------------------------------------------
// Keyless commands: each shard does its share

/// `DBSIZE`: this shard's key count in the selected db. Like Redis, this includes keys that
/// have expired but have not been removed yet.
fn dbsize(ctx: &mut Ctx, _args: Args, out: &mut Out) -> CmdResult {
    out.int(ctx.db().len() as i64);
    Ok(())
}

/// Redis's `getFlushCommandFlags`: nothing, ASYNC or SYNC. This shard frees memory right
/// away either way.
fn check_flush_args(args: Args) -> CmdResult {
    match args.len() {
        1 => Ok(()),
        2 if eq_ic(args.get(1), "async") || eq_ic(args.get(1), "sync") => Ok(()),
        _ => Err(CmdError::Syntax),
    }
}

/// `FLUSHDB [ASYNC | SYNC]`: empties the selected db on this shard.
fn flushdb(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    check_flush_args(args)?;
    touch_existing_watched(ctx, ctx.db);
    ctx.db().clear();
    out.ok();
    Ok(())
}

/// Tells WATCH that every live watched key of `db` is about to go (FLUSHDB, FLUSHALL).
fn touch_existing_watched(ctx: &mut Ctx, db: usize) {
    let now = ctx.now_ms;
    let shard = &mut *ctx.shard;
    let (dbs, watch) = (&shard.dbs, &mut shard.watch);
    watch.touch_db(db, |k| dbs[db].peek(k, now).is_some());
}

/// `FLUSHALL [ASYNC | SYNC]`: empties every db on this shard.
fn flushall(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    check_flush_args(args)?;
    for db in 0..ctx.shard.dbs.len() {
        touch_existing_watched(ctx, db);
    }
    for db in &mut ctx.shard.dbs {
        db.clear();
    }
    out.ok();
    Ok(())
}

/// `KEYS pattern`: this shard's keys that match the glob pattern, skipping expired keys.
fn keys(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let pattern = args.get(1);
    let all = pattern == b"*";
    let now = ctx.now_ms;
    let db = &ctx.shard.dbs[ctx.db];
    let found: Vec<&[u8]> = db
        .dict
        .iter()
        .filter(|(k, e)| (all || glob_match(pattern, k, false)) && !e.is_expired(now))
        .map(|(k, _)| k)
        .collect();
    out.array(found.len());
    for k in found {
        out.bulk(k);
    }
    Ok(())
}

/// `SWAPDB index1 index2`: swaps two databases of this shard.
fn swapdb(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let a = parse_i32(args.get(1), Some("ERR invalid first DB index"))?;
    let b = parse_i32(args.get(2), Some("ERR invalid second DB index"))?;
    let (a, b) = (db_in_range(ctx, a)?, db_in_range(ctx, b)?);
    // A watched key changes when it is live in either database (stale keys do not count).
    let now = ctx.now_ms;
    let shard = &mut *ctx.shard;
    for (this, other) in [(a, b), (b, a)] {
        let (dbs, watch) = (&shard.dbs, &mut shard.watch);
        watch.touch_db(this, |k| dbs[this].peek(k, now).is_some() || dbs[other].peek(k, now).is_some());
    }
    ctx.shard.dbs.swap(a, b);
    // Clients blocked in either database may find their keys ready now.
    for db in [a, b] {
        for key in ctx.shard.blocked.keys_in(db) {
            let t = ctx.shard.dbs[db].peek(&key, now).map(|e| e.value.type_name());
            ctx.shard.blocked.signal(db, &key, t);
        }
    }
    out.ok();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// RANDOMKEY and SCAN: the per-shard steps of the coordinator's commands

/// RANDOMKEY's step on one shard: a random live key of the selected db, or `None` if it has
/// none. Expired keys it lands on are deleted, as in Redis. After `RANDOM_KEY_TRIES` expired
/// picks in a row it walks the table, so a db made almost entirely of dead keys still
/// terminates.
pub fn random_key_local(ctx: &mut Ctx) -> Option<Vec<u8>> {
    let now = ctx.now_ms;
    let shard = &mut *ctx.shard;
    let db = &mut shard.dbs[ctx.db];
    for _ in 0..RANDOM_KEY_TRIES {
        let key = db.dict.random_key(&mut shard.rng)?;
        let live = db.dict.get(key).is_some_and(|e| !e.is_expired(now));
        let key = key.to_vec();
        if live {
            return Some(key);
        }
        db.lookup(&key, now);
    }
    db.dict.iter().find(|(_, e)| !e.is_expired(now)).map(|(k, _)| k.to_vec())
}

/// The options of SCAN (and of HSCAN, SSCAN and ZSCAN), owned so they can travel to shards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanOpts {
    pub cursor: u64,
    /// Elements to visit per call (Redis's COUNT, default 10).
    pub count: usize,
    /// `None` when absent or exactly `*`.
    pub pattern: Option<Vec<u8>>,
    /// SCAN only: the type name to keep (compared case-insensitively).
    pub type_filter: Option<Vec<u8>>,
}

/// Parses a SCAN cursor the way Redis's `strtoul` check does. A sign is allowed, and a
/// negative value wraps. An empty string is 0. Leading whitespace, trailing bytes and
/// overflow are `ERR invalid cursor`.
pub fn parse_scan_cursor(b: &[u8]) -> CmdResult<u64> {
    let invalid = || CmdError::msg("ERR invalid cursor");
    // The argument is a C string to strtoul: it ends at the first NUL.
    let b = &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())];
    if b.is_empty() {
        return Ok(0);
    }
    let (neg, digits) = match b[0] {
        b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => return Err(invalid()),
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(invalid());
        }
        v = v.checked_mul(10).and_then(|v| v.checked_add(u64::from(c - b'0'))).ok_or_else(invalid)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// Parses `<cursor> [MATCH pattern] [COUNT count] [TYPE type]`, where the options start at
/// `first_opt_index` and the cursor is the argument just before them. That is 2 for SCAN, and
/// 3 for HSCAN, SSCAN and ZSCAN (which have a key first). TYPE is accepted only in SCAN's
/// layout. Errors are Redis's, and the cursor's comes first.
pub fn parse_scan_args(args: Args, first_opt_index: usize) -> CmdResult<ScanOpts> {
    let cursor = parse_scan_cursor(args.get(first_opt_index - 1))?;
    let allow_type = first_opt_index == 2;
    let mut opts = ScanOpts { cursor, count: 10, pattern: None, type_filter: None };
    let mut i = first_opt_index;
    while i < args.len() {
        let (opt, has_value) = (args.get(i), args.len() - i >= 2);
        if eq_ic(opt, "count") && has_value {
            let count = args.i64(i + 1)?;
            if count < 1 {
                return Err(CmdError::Syntax);
            }
            opts.count = usize::try_from(count).unwrap_or(usize::MAX);
        } else if eq_ic(opt, "match") && has_value {
            let p = args.get(i + 1);
            opts.pattern = (p != b"*").then(|| p.to_vec());
        } else if eq_ic(opt, "type") && allow_type && has_value {
            opts.type_filter = Some(args.get(i + 1).to_vec());
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(opts)
}

/// One SCAN step on this shard's selected db, with Redis's semantics. It visits buckets until
/// `count` keys were seen, or the table was walked, or `count * 10` more buckets came up
/// empty. Only then does it filter by pattern, type and expiry, so a call may return fewer
/// keys than `count`, even none, with a non-zero cursor. Expired keys that match the pattern
/// are deleted. Returns the next cursor (0 when done) and the keys.
pub fn scan_shard(
    ctx: &mut Ctx,
    cursor: u64,
    count: usize,
    pattern: Option<&[u8]>,
    type_filter: Option<&[u8]>,
) -> (u64, Vec<Vec<u8>>) {
    let now = ctx.now_ms;
    let pattern = pattern.filter(|p| *p != b"*");
    let db = &ctx.shard.dbs[ctx.db];
    let mut visited = 0usize;
    let mut found = Vec::new();
    let mut expired = Vec::new();
    let mut cursor = cursor;
    let mut iterations_left = count.saturating_mul(10);
    loop {
        cursor = db.dict.scan(cursor, |key, entry| {
            visited += 1;
            if pattern.is_some_and(|p| !glob_match(p, key, false)) {
                return;
            }
            if entry.is_expired(now) {
                expired.push(key.to_vec());
                return;
            }
            let type_name = entry.value.type_name().as_bytes();
            if type_filter.is_some_and(|t| !t.eq_ignore_ascii_case(type_name)) {
                return;
            }
            found.push(key.to_vec());
        });
        if cursor == 0 || iterations_left == 0 || visited >= count {
            break;
        }
        iterations_left -= 1;
    }
    for key in &expired {
        ctx.db().lookup(key, now);
    }
    (cursor, found)
}

/// SCAN's reply: `[cursor, [key, ...]]`, the cursor as a bulk string.
pub fn write_scan_reply(out: &mut Out, cursor: u64, keys: &[Vec<u8>]) {
    out.array(2);
    out.bulk(cursor.to_string().as_bytes());
    out.array(keys.len());
    for k in keys {
        out.bulk(k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{OwnedArgs, ShardFn};
    use crate::config::Config;
    use crate::shard::Shard;

    struct T {
        shard: Shard,
        cfg: Config,
        now: u64,
        db: usize,
    }

    impl T {
        fn new() -> T {
            T { shard: Shard::new(0, 16), cfg: Config::default(), now: crate::shard::now_ms(), db: 0 }
        }

        fn ctx(&mut self) -> Ctx<'_> {
            Ctx { shard: &mut self.shard, db: self.db, now_ms: self.now, config: &self.cfg }
        }

        /// Runs a handler and returns its reply bytes, errors rendered as the dispatcher does.
        fn run_proto(&mut self, f: ShardFn, argv: &[&str], resp3: bool) -> Vec<u8> {
            let args = OwnedArgs::from_slices(argv.iter().map(|a| a.as_bytes()));
            let mut out = Out::new(resp3);
            if let Err(e) = f(&mut self.ctx(), args.args(), &mut out) {
                out.error(&e.to_string());
            }
            out.buf
        }

        fn run(&mut self, f: ShardFn, argv: &[&str]) -> Vec<u8> {
            self.run_proto(f, argv, false)
        }

        fn set(&mut self, key: &str, val: &str) {
            let mut ctx = self.ctx();
            let e = ctx.new_entry(Value::from_bytes(val.as_bytes()));
            ctx.db().insert(key.as_bytes(), e);
        }

        fn set_px_at(&mut self, key: &str, val: &str, at_ms: u64) {
            let mut ctx = self.ctx();
            let mut e = ctx.new_entry(Value::from_bytes(val.as_bytes()));
            e.expire_at_ms = at_ms;
            ctx.db().insert(key.as_bytes(), e);
        }

        fn expire_at(&mut self, key: &str) -> u64 {
            self.shard.dbs[self.db].dict.get(key.as_bytes()).map_or(u64::MAX, |e| e.expire_at_ms)
        }

        fn has(&mut self, db: usize, key: &str) -> bool {
            let now = self.now;
            self.shard.dbs[db].lookup(key.as_bytes(), now).is_some()
        }
    }

    fn table_entry(name: &str) -> &'static Command {
        COMMANDS.iter().find(|c| c.name == name).expect(name)
    }

    #[test]
    fn table_matches_redis_metadata() {
        let spec = |n: &str| {
            let c = table_entry(n);
            (c.arity, c.first_key, c.last_key, c.step)
        };
        assert_eq!(spec("del"), (-2, 1, -1, 1));
        assert_eq!(spec("exists"), (-2, 1, -1, 1));
        assert_eq!(spec("rename"), (3, 1, 2, 1));
        assert_eq!(spec("copy"), (-3, 1, 2, 1));
        assert_eq!(spec("expire"), (-3, 1, 1, 1));
        assert_eq!(spec("move"), (3, 1, 1, 1));
        assert_eq!(spec("object"), (-2, 0, 0, 0));
        assert_eq!(spec("object|encoding"), (3, 2, 2, 1));
        assert_eq!(spec("object|help"), (2, 0, 0, 0));
        assert_eq!(spec("scan"), (-2, 0, 0, 0));
        assert_eq!(spec("flushall"), (-1, 0, 0, 0));
        assert!(table_entry("object").flags & CONTAINER != 0);
        assert!(matches!(table_entry("del").exec, Exec::Multi(_, Merge::SumInts)));
        assert!(matches!(table_entry("keys").exec, Exec::AllShards(_, Merge::Concat)));
        assert!(matches!(table_entry("copy").exec, Exec::Cross(_, Special::Copy)));
        assert!(matches!(table_entry("randomkey").exec, Exec::Special(Special::RandomKey)));
    }

    #[test]
    fn type_replies_status() {
        let mut t = T::new();
        t.set("k", "v");
        assert_eq!(t.run(type_cmd, &["type", "k"]), b"+string\r\n");
        assert_eq!(t.run(type_cmd, &["type", "nokey"]), b"+none\r\n");
        assert_eq!(t.run_proto(type_cmd, &["type", "nokey"], true), b"+none\r\n");
        t.set_px_at("dead", "v", t.now - 1);
        assert_eq!(t.run(type_cmd, &["type", "dead"]), b"+none\r\n");
    }

    #[test]
    fn ttl_family() {
        let mut t = T::new();
        t.set("k", "v");
        assert_eq!(t.run(ttl, &["ttl", "nokey"]), b":-2\r\n");
        assert_eq!(t.run(ttl, &["ttl", "k"]), b":-1\r\n");
        assert_eq!(t.run(expiretime, &["expiretime", "k"]), b":-1\r\n");
        assert_eq!(t.run(pexpiretime, &["pexpiretime", "nokey"]), b":-2\r\n");
        t.set_px_at("e", "v", t.now + 99_499);
        assert_eq!(t.run(ttl, &["ttl", "e"]), b":99\r\n");
        assert_eq!(t.run(pttl, &["pttl", "e"]), b":99499\r\n");
        t.set_px_at("e", "v", t.now + 99_500);
        assert_eq!(t.run(ttl, &["ttl", "e"]), b":100\r\n");
        let at = t.now + 99_500;
        assert_eq!(t.run(pexpiretime, &["pexpiretime", "e"]), format!(":{at}\r\n").as_bytes());
        let secs = (at + 500) / 1000;
        assert_eq!(t.run(expiretime, &["expiretime", "e"]), format!(":{secs}\r\n").as_bytes());
        // Redis: PEXPIREAT k 9223372036854775807; EXPIRETIME k
        t.set_px_at("far", "v", i64::MAX as u64);
        assert_eq!(t.run(expiretime, &["expiretime", "far"]), b":9223372036854776\r\n");
        assert_eq!(t.run(pexpiretime, &["pexpiretime", "far"]), b":9223372036854775807\r\n");
        // Redis keeps a key alive through its expiry millisecond (expired only when now > at).
        t.set_px_at("edge", "v", t.now);
        assert_eq!(t.run(ttl, &["ttl", "edge"]), b":0\r\n");
        t.set_px_at("dead", "v", t.now - 1);
        assert_eq!(t.run(ttl, &["ttl", "dead"]), b":-2\r\n");
    }

    #[test]
    fn persist_removes_ttl() {
        let mut t = T::new();
        t.set_px_at("k", "v", t.now + 10_000);
        assert_eq!(t.run(persist, &["persist", "k"]), b":1\r\n");
        assert_eq!(t.expire_at("k"), 0);
        assert!(!t.shard.dbs[0].volatile.contains_key(b"k"));
        assert_eq!(t.run(persist, &["persist", "k"]), b":0\r\n");
        assert_eq!(t.run(persist, &["persist", "nokey"]), b":0\r\n");
    }

    #[test]
    fn expire_options_and_errors() {
        let mut t = T::new();
        t.set("k", "v");
        assert_eq!(t.run(expire, &["expire", "k", "10", "foo"]), b"-ERR Unsupported option foo\r\n");
        let incompatible = b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
        assert_eq!(t.run(expire, &["expire", "k", "10", "nx", "xx"]), incompatible);
        assert_eq!(t.run(expire, &["expire", "k", "10", "nx", "gt"]), incompatible);
        // Options are checked before the time is parsed.
        assert_eq!(t.run(expire, &["expire", "k", "abc", "nx", "xx"]), incompatible);
        assert_eq!(
            t.run(expire, &["expire", "k", "10", "gt", "LT"]),
            b"-ERR GT and LT options at the same time are not compatible\r\n"
        );
        assert_eq!(
            t.run(expire, &["expire", "k", "abc"]),
            b"-ERR value is not an integer or out of range\r\n"
        );
        // Overflow is checked before the key is looked up.
        for (f, name, v) in [
            (expire as ShardFn, "expire", "9223372036854775807"),
            (expire, "expire", "9223372036854770"),
            (pexpire, "pexpire", "9223372036854775807"),
            (expireat, "expireat", "-9223372036854776"),
        ] {
            let want = format!("-ERR invalid expire time in '{name}' command\r\n");
            assert_eq!(t.run(f, &[name, "nokey", v]), want.as_bytes());
        }
        assert_eq!(t.run(pexpireat, &["pexpireat", "k", "9223372036854775807"]), b":1\r\n");
        assert_eq!(t.expire_at("k"), i64::MAX as u64);
        assert_eq!(t.run(expire, &["expire", "nokey", "10"]), b":0\r\n");
    }

    #[test]
    fn expire_conditions() {
        let mut t = T::new();
        let now = t.now;
        t.set("k", "v");
        // No TTL: XX and GT fail, LT and NX succeed.
        assert_eq!(t.run(expire, &["expire", "k", "100", "xx"]), b":0\r\n");
        assert_eq!(t.run(expire, &["expire", "k", "100", "gt"]), b":0\r\n");
        assert_eq!(t.run(expire, &["expire", "k", "100", "lt"]), b":1\r\n");
        assert_eq!(t.expire_at("k"), now + 100_000);
        assert_eq!(t.run(expire, &["expire", "k", "200", "nx"]), b":0\r\n");
        assert_eq!(t.run(expire, &["expire", "k", "200", "gt"]), b":1\r\n");
        assert_eq!(t.run(expire, &["expire", "k", "100", "gt"]), b":0\r\n");
        assert_eq!(t.run(expire, &["expire", "k", "300", "lt"]), b":0\r\n");
        assert_eq!(t.run(pexpire, &["pexpire", "k", "50", "xx"]), b":1\r\n");
        assert_eq!(t.expire_at("k"), now + 50);
        let at = (now / 1000 + 1000).to_string();
        assert_eq!(t.run(expireat, &["expireat", "k", &at]), b":1\r\n");
        assert_eq!(t.expire_at("k"), (now / 1000 + 1000) * 1000);
        assert!(t.shard.dbs[0].volatile.contains_key(b"k"));
        // A negative GT never beats a TTL, and the key stays.
        assert_eq!(t.run(expire, &["expire", "k", "-1", "gt"]), b":0\r\n");
        assert!(t.has(0, "k"));
    }

    #[test]
    fn expire_in_the_past_deletes() {
        let mut t = T::new();
        t.set("k", "v");
        assert_eq!(t.run(expire, &["expire", "k", "-5", "lt"]), b":1\r\n");
        assert!(!t.has(0, "k"));
        t.set("k", "v");
        assert_eq!(t.run(pexpire, &["pexpire", "k", "0"]), b":1\r\n");
        assert!(!t.has(0, "k"));
        t.set("k", "v");
        assert_eq!(t.run(pexpireat, &["pexpireat", "k", "1"]), b":1\r\n");
        assert!(t.shard.dbs[0].dict.is_empty());
        t.set_px_at("dead", "v", t.now - 1);
        assert_eq!(t.run(expire, &["expire", "dead", "100"]), b":0\r\n");
    }

    #[test]
    fn move_between_dbs() {
        let mut t = T::new();
        t.set_px_at("k", "v", t.now + 5000);
        t.set("big", "12345");
        assert_eq!(t.run(move_cmd, &["move", "k", "1"]), b":1\r\n");
        assert!(!t.has(0, "k") && t.has(1, "k"));
        assert_eq!(t.shard.dbs[1].dict.get(b"k").unwrap().expire_at_ms, t.now + 5000);
        assert!(t.shard.dbs[1].volatile.contains_key(b"k"));
        assert_eq!(t.run(move_cmd, &["move", "k", "1"]), b":0\r\n");
        assert_eq!(t.run(move_cmd, &["move", "nokey", "1"]), b":0\r\n");
        let same = b"-ERR source and destination objects are the same\r\n";
        assert_eq!(t.run(move_cmd, &["move", "big", "0"]), same);
        assert_eq!(t.run(move_cmd, &["move", "nokey", "0"]), same);
        let range = b"-ERR DB index is out of range\r\n";
        assert_eq!(t.run(move_cmd, &["move", "big", "16"]), range);
        assert_eq!(t.run(move_cmd, &["move", "big", "-1"]), range);
        assert_eq!(t.run(move_cmd, &["move", "nokey", "99"]), range);
        assert_eq!(
            t.run(move_cmd, &["move", "big", "abc"]),
            b"-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            t.run(move_cmd, &["move", "big", "4294967296"]),
            b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
        );
        // Destination occupied.
        t.shard.dbs[2].insert(b"big", Entry::new(Value::from_bytes(b"x")));
        assert_eq!(t.run(move_cmd, &["move", "big", "2"]), b":0\r\n");
        assert!(t.has(0, "big"));
    }

    #[test]
    fn object_subcommands() {
        let mut t = T::new();
        t.set("e", "v");
        t.set("n", "100");
        t.set("big", "12345");
        t.set("r", &"a".repeat(45));
        let enc = |t: &mut T, k: &str| t.run(object_encoding, &["object", "encoding", k]);
        assert_eq!(enc(&mut t, "e"), b"$6\r\nembstr\r\n");
        assert_eq!(enc(&mut t, "n"), b"$3\r\nint\r\n");
        assert_eq!(enc(&mut t, "r"), b"$3\r\nraw\r\n");
        assert_eq!(enc(&mut t, "nokey"), b"$-1\r\n");
        assert_eq!(t.run_proto(object_encoding, &["object", "encoding", "nokey"], true), b"_\r\n");
        assert_eq!(t.run(object_refcount, &["object", "refcount", "n"]), b":2147483647\r\n");
        assert_eq!(t.run(object_refcount, &["object", "refcount", "big"]), b":1\r\n");
        assert_eq!(t.run(object_refcount, &["object", "refcount", "e"]), b":1\r\n");
        assert_eq!(t.run(object_refcount, &["object", "refcount", "nokey"]), b"$-1\r\n");
        assert_eq!(t.run(object_idletime, &["object", "idletime", "e"]), b":0\r\n");
        assert_eq!(t.run(object_idletime, &["object", "idletime", "nokey"]), b"$-1\r\n");
        assert_eq!(
            t.run(object_freq, &["object", "freq", "e"]),
            b"-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n"
        );
        assert_eq!(t.run(object_freq, &["object", "freq", "nokey"]), b"$-1\r\n");
        t.cfg.maxmemory_policy = "allkeys-lfu".into();
        assert_eq!(
            t.run(object_idletime, &["object", "idletime", "e"]),
            b"-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n"
        );
        assert_eq!(t.run(object_freq, &["object", "freq", "e"]), b":5\r\n");
    }

    #[test]
    fn object_help_lines() {
        let mut t = T::new();
        let want: &[u8] = b"*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+ENCODING <key>\r\n+    Return the kind of internal representation used in order to store the value\r\n+    associated with a <key>.\r\n+FREQ <key>\r\n+    Return the access frequency index of the <key>. The returned integer is\r\n+    proportional to the logarithm of the recent access frequency of the key.\r\n+IDLETIME <key>\r\n+    Return the idle time of the <key>, that is the approximated number of\r\n+    seconds elapsed since the last access to the key.\r\n+REFCOUNT <key>\r\n+    Return the number of references of the value associated with the specified\r\n+    <key>.\r\n+HELP\r\n+    Prints this help.\r\n";
        assert_eq!(t.run(object_help, &["object", "help"]), want);
        assert_eq!(t.run_proto(object_help, &["OBJECT", "Help"], true), want);
    }

    #[test]
    fn del_exists_touch_count() {
        let mut t = T::new();
        t.set("a", "1");
        t.set("b", "1");
        t.set_px_at("dead", "v", t.now - 1);
        assert_eq!(t.run(exists, &["exists", "a", "a", "a"]), b":3\r\n");
        assert_eq!(t.run(exists, &["exists", "x", "x", "dead"]), b":0\r\n");
        assert_eq!(t.run(touch, &["touch", "a", "a", "zz"]), b":2\r\n");
        assert_eq!(t.run(del, &["del", "a", "a", "b", "x", "dead"]), b":2\r\n");
        assert!(t.shard.dbs[0].dict.is_empty());
        t.set("a", "1");
        assert_eq!(t.run(unlink, &["unlink", "a", "a"]), b":1\r\n");
    }

    #[test]
    fn rename_same_shard() {
        let mut t = T::new();
        t.set_px_at("a", "1", t.now + 7000);
        assert_eq!(t.run(rename, &["rename", "a", "a"]), b"+OK\r\n");
        assert_eq!(t.run(renamenx, &["renamenx", "a", "a"]), b":0\r\n");
        let nokey = b"-ERR no such key\r\n";
        assert_eq!(t.run(rename, &["rename", "nokey", "nokey"]), nokey);
        assert_eq!(t.run(renamenx, &["renamenx", "nokey", "x"]), nokey);
        assert_eq!(t.run(rename, &["rename", "a", "b"]), b"+OK\r\n");
        assert!(!t.has(0, "a"));
        assert_eq!(t.expire_at("b"), t.now + 7000);
        assert!(t.shard.dbs[0].volatile.contains_key(b"b"));
        t.set_px_at("c", "2", t.now + 1);
        // RENAME over a key with a TTL replaces the TTL too.
        t.set("d", "3");
        assert_eq!(t.run(rename, &["rename", "d", "c"]), b"+OK\r\n");
        assert_eq!(t.expire_at("c"), 0);
        assert!(!t.shard.dbs[0].volatile.contains_key(b"c"));
        assert_eq!(t.run(renamenx, &["renamenx", "b", "c"]), b":0\r\n");
        assert_eq!(t.run(renamenx, &["renamenx", "b", "e"]), b":1\r\n");
        assert!(t.has(0, "e") && !t.has(0, "b"));
        t.set_px_at("dead", "v", t.now - 1);
        assert_eq!(t.run(rename, &["rename", "dead", "x"]), nokey);
    }

    #[test]
    fn copy_same_shard() {
        let mut t = T::new();
        let same = b"-ERR source and destination objects are the same\r\n";
        t.set_px_at("a", "1", t.now + 9000);
        assert_eq!(t.run(copy, &["copy", "a", "a"]), same);
        assert_eq!(t.run(copy, &["copy", "nokey", "nokey"]), same);
        assert_eq!(t.run(copy, &["copy", "a", "a", "db", "0", "replace"]), same);
        assert_eq!(t.run(copy, &["copy", "a", "b", "foo"]), b"-ERR syntax error\r\n");
        assert_eq!(t.run(copy, &["copy", "a", "b", "db"]), b"-ERR syntax error\r\n");
        assert_eq!(
            t.run(copy, &["copy", "a", "b", "db", "x"]),
            b"-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(t.run(copy, &["copy", "a", "b", "db", "16"]), b"-ERR DB index is out of range\r\n");
        assert_eq!(
            t.run(copy, &["copy", "a", "b", "db", "4294967296"]),
            b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
        );
        assert_eq!(t.run(copy, &["copy", "nokey", "b"]), b":0\r\n");
        assert_eq!(t.run(copy, &["copy", "a", "b"]), b":1\r\n");
        assert_eq!(t.expire_at("b"), t.now + 9000);
        assert!(t.has(0, "a"));
        assert_eq!(t.run(copy, &["copy", "a", "b"]), b":0\r\n");
        assert_eq!(t.run(copy, &["copy", "a", "b", "REPLACE"]), b":1\r\n");
        assert_eq!(t.run(copy, &["copy", "a", "a", "db", "1"]), b":1\r\n");
        assert_eq!(t.run(copy, &["copy", "a", "b", "db", "1", "db", "2"]), b":1\r\n");
        assert!(t.has(1, "a") && t.has(2, "b") && !t.has(1, "b"));
        assert_eq!(t.shard.dbs[2].dict.get(b"b").unwrap().expire_at_ms, t.now + 9000);
        assert!(t.shard.dbs[2].volatile.contains_key(b"b"));
    }

    #[test]
    fn cross_shard_helpers() {
        let mut t = T::new();
        t.set_px_at("a", "1", t.now + 9000);
        t.set_px_at("dead", "v", t.now - 1);
        let now = t.now;
        let mut ctx = t.ctx();
        assert!(take_for_move(&mut ctx, b"dead").is_none());
        assert!(peek_for_copy(&mut ctx, b"nokey").is_none());
        let (v, at) = peek_for_copy(&mut ctx, b"a").unwrap();
        assert_eq!((v, at), (Value::from_bytes(b"1"), now + 9000));
        let e = take_for_move(&mut ctx, b"a").unwrap();
        assert!(ctx.lookup_quiet(b"a").is_none());
        assert!(put_moved(&mut ctx, b"b", e, false));
        assert_eq!(ctx.lookup_quiet(b"b").unwrap().expire_at_ms, now + 9000);
        let e = ctx.new_entry(Value::from_bytes(b"2"));
        assert!(!put_moved(&mut ctx, b"b", e, false));
        let e = ctx.new_entry(Value::from_bytes(b"2"));
        assert!(put_moved(&mut ctx, b"b", e, true));
        let b = ctx.lookup_quiet(b"b").unwrap();
        assert_eq!((&b.value, b.expire_at_ms), (&Value::from_bytes(b"2"), 0));
        assert!(!ctx.db().volatile.contains_key(b"b"));
    }

    #[test]
    fn dbsize_flush_swapdb() {
        let mut t = T::new();
        t.set("a", "1");
        t.set("b", "1");
        t.shard.dbs[1].insert(b"c", Entry::new(Value::from_bytes(b"1")));
        assert_eq!(t.run(dbsize, &["dbsize"]), b":2\r\n");
        assert_eq!(t.run(swapdb, &["swapdb", "0", "1"]), b"+OK\r\n");
        assert_eq!(t.run(dbsize, &["dbsize"]), b":1\r\n");
        assert_eq!(t.run(swapdb, &["swapdb", "0", "0"]), b"+OK\r\n");
        let first = b"-ERR invalid first DB index\r\n";
        let second = b"-ERR invalid second DB index\r\n";
        let range = b"-ERR DB index is out of range\r\n";
        assert_eq!(t.run(swapdb, &["swapdb", "a", "1"]), first);
        assert_eq!(t.run(swapdb, &["swapdb", "4294967296", "0"]), first);
        assert_eq!(t.run(swapdb, &["swapdb", "0", "b"]), second);
        assert_eq!(t.run(swapdb, &["swapdb", "16", "x"]), second);
        assert_eq!(t.run(swapdb, &["swapdb", "0", "16"]), range);
        assert_eq!(t.run(swapdb, &["swapdb", "-1", "0"]), range);
        assert_eq!(t.run(flushdb, &["flushdb", "foo"]), b"-ERR syntax error\r\n");
        assert_eq!(t.run(flushdb, &["flushdb", "sync", "x"]), b"-ERR syntax error\r\n");
        assert_eq!(t.run(flushall, &["flushall", "foo"]), b"-ERR syntax error\r\n");
        assert_eq!(t.run(flushdb, &["flushdb", "ASYNC"]), b"+OK\r\n");
        assert_eq!(t.run(dbsize, &["dbsize"]), b":0\r\n");
        assert_eq!(t.shard.dbs[1].len(), 2);
        assert_eq!(t.run(flushall, &["flushall", "sync"]), b"+OK\r\n");
        assert!(t.shard.dbs.iter().all(|d| d.is_empty()));
    }

    #[test]
    fn keys_matches_and_skips_expired() {
        let mut t = T::new();
        t.set("foo", "1");
        t.set_px_at("fob", "1", t.now - 1);
        t.set("bar", "1");
        assert_eq!(t.run(keys, &["keys", "fo*"]), b"*1\r\n$3\r\nfoo\r\n");
        assert_eq!(t.run(keys, &["keys", "nothing"]), b"*0\r\n");
        let all = t.run(keys, &["keys", "*"]);
        assert!(all.starts_with(b"*2\r\n"));
        assert_eq!(t.run_proto(keys, &["keys", "b?r"], true), b"*1\r\n$3\r\nbar\r\n");
    }

    #[test]
    fn random_key_skips_expired() {
        let mut t = T::new();
        assert_eq!(random_key_local(&mut t.ctx()), None);
        for i in 0..50 {
            t.set_px_at(&format!("dead{i}"), "v", t.now - 1);
        }
        assert_eq!(random_key_local(&mut t.ctx()), None);
        t.set("live", "1");
        for i in 0..300 {
            t.set_px_at(&format!("dead{i}"), "v", t.now - 1);
        }
        assert_eq!(random_key_local(&mut t.ctx()).as_deref(), Some(&b"live"[..]));
    }

    #[test]
    fn scan_cursor_parsing() {
        let invalid = Err(CmdError::msg("ERR invalid cursor"));
        assert_eq!(parse_scan_cursor(b"0"), Ok(0));
        assert_eq!(parse_scan_cursor(b""), Ok(0));
        assert_eq!(parse_scan_cursor(b"+5"), Ok(5));
        assert_eq!(parse_scan_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_scan_cursor(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_scan_cursor(b"-18446744073709551615"), Ok(1));
        assert_eq!(parse_scan_cursor(b"18446744073709551616"), invalid);
        assert_eq!(parse_scan_cursor(b"abc"), invalid);
        assert_eq!(parse_scan_cursor(b" 1"), invalid);
        assert_eq!(parse_scan_cursor(b"1 "), invalid);
        assert_eq!(parse_scan_cursor(b"-"), invalid);
    }

    fn scan_opts(argv: &[&str], first: usize) -> CmdResult<ScanOpts> {
        let args = OwnedArgs::from_slices(argv.iter().map(|a| a.as_bytes()));
        parse_scan_args(args.args(), first)
    }

    #[test]
    fn scan_option_parsing() {
        let o = scan_opts(&["scan", "7", "MATCH", "a*", "count", "3", "type", "string"], 2).unwrap();
        assert_eq!(
            o,
            ScanOpts {
                cursor: 7,
                count: 3,
                pattern: Some(b"a*".to_vec()),
                type_filter: Some(b"string".to_vec())
            }
        );
        let o = scan_opts(&["scan", "0", "match", "*", "count", "1", "count", "2"], 2).unwrap();
        assert_eq!((o.pattern, o.count), (None, 2));
        let syntax = Err(CmdError::Syntax);
        assert_eq!(scan_opts(&["scan", "0", "count", "0"], 2), syntax);
        assert_eq!(scan_opts(&["scan", "0", "count", "-1"], 2), syntax);
        assert_eq!(scan_opts(&["scan", "0", "match"], 2), syntax);
        assert_eq!(scan_opts(&["scan", "0", "type"], 2), syntax);
        assert_eq!(scan_opts(&["scan", "0", "foo", "bar"], 2), syntax);
        assert_eq!(scan_opts(&["scan", "0", "count", "abc"], 2), Err(CmdError::NotInteger));
        assert_eq!(scan_opts(&["scan", "x", "count", "0"], 2), Err(CmdError::msg("ERR invalid cursor")));
        // TYPE belongs to SCAN only.
        assert_eq!(scan_opts(&["hscan", "h", "0", "type", "string"], 3), syntax);
        assert_eq!(scan_opts(&["hscan", "h", "4", "count", "5"], 3).unwrap().cursor, 4);
    }

    #[test]
    fn scan_walks_everything_and_filters() {
        let mut t = T::new();
        for i in 0..1000 {
            t.set(&format!("key:{i}"), "v");
        }
        t.set("other", "v");
        t.set_px_at("key:dead", "v", t.now - 1);
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut calls = 0;
        loop {
            let (next, keys) = scan_shard(&mut t.ctx(), cursor, 10, Some(&b"key:*"[..]), None);
            assert!(keys.len() <= 40);
            seen.extend(keys);
            calls += 1;
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        assert!(calls > 10);
        assert_eq!(seen.len(), 1000);
        assert!(!seen.contains(b"other".as_slice()) && !seen.contains(b"key:dead".as_slice()));
        assert!(!t.shard.dbs[0].dict.contains_key(b"key:dead"));

        let (cursor, keys) = scan_shard(&mut t.ctx(), 0, 100_000, None, Some(&b"STRING"[..]));
        assert_eq!((cursor, keys.len()), (0, 1001));
        let (_, keys) = scan_shard(&mut t.ctx(), 0, 100_000, None, Some(&b"hash"[..]));
        assert!(keys.is_empty());

        let mut out = Out::new(false);
        write_scan_reply(&mut out, 0, &[]);
        assert_eq!(out.buf, b"*2\r\n$1\r\n0\r\n*0\r\n");
        let mut out = Out::new(true);
        write_scan_reply(&mut out, 12, &[b"k".to_vec()]);
        assert_eq!(out.buf, b"*2\r\n$2\r\n12\r\n*1\r\n$1\r\nk\r\n");
    }
}
