//! The string group: SET and its variants, GET and its variants, the counters (INCR family,
//! INCRBYFLOAT), APPEND, SETRANGE, GETRANGE, STRLEN, MGET, MSET, MSETNX and LCS.
//!
//! Replies, error words and the order of checks follow Redis 7.2's `t_string.c`, compared byte
//! for byte with redis-server. Encodings follow Redis too, because OBJECT ENCODING shows them:
//! SET-like commands store `Value::from_bytes` (int, embstr or raw), the INCR family stores an
//! int, INCRBYFLOAT stores its reply text as a plain string (embstr or raw, never int), and
//! APPEND and SETRANGE leave a raw string.
//!
//! Reads that a client would call reads (GET, MGET, STRLEN, GETRANGE, LCS, and the old value of
//! SET GET, GETSET, GETDEL, GETEX) go through `Ctx::lookup`, so they count as keyspace hits or
//! misses; lookups made only to write (`lookup_write`) are not counted but still reset the
//! key's idle time, as Redis's `lookupKeyWrite` does.
//!
//! Handlers see only keys that live on this shard: MGET, MSET and MSETNX get this shard's share
//! of the keys (MSETNX across shards is the coordinator's `Special::MsetNx`).

use super::{Args, Command, Exec, Merge, READONLY, Special, WRITE, eq_ic, parse_int};
use crate::error::{CmdError, CmdResult};
use crate::resp::Out;
use crate::shard::{Ctx, Entry, Str, Value};
use crate::types::long_double::{self, LdError};

const fn cmd(name: &'static str, arity: i32, flags: u32, keys: (i32, i32, i32), exec: Exec) -> Command {
    Command { name, arity, flags, first_key: keys.0, last_key: keys.1, step: keys.2, keys_fn: None, exec }
}

const KEY1: (i32, i32, i32) = (1, 1, 1);
const ALL_KEYS: (i32, i32, i32) = (1, -1, 1);
const KEY_VALUE_PAIRS: (i32, i32, i32) = (1, -1, 2);

/// Arity and legacy key positions are Redis 7.2's (`src/commands/*.json`).
pub const COMMANDS: &[Command] = &[
    cmd("get", 2, READONLY, KEY1, Exec::Shard(get)),
    cmd("set", -3, WRITE, KEY1, Exec::Shard(set)),
    cmd("setnx", 3, WRITE, KEY1, Exec::Shard(setnx)),
    cmd("setex", 4, WRITE, KEY1, Exec::Shard(setex)),
    cmd("psetex", 4, WRITE, KEY1, Exec::Shard(psetex)),
    cmd("getex", -2, WRITE, KEY1, Exec::Shard(getex)),
    cmd("getdel", 2, WRITE, KEY1, Exec::Shard(getdel)),
    cmd("getset", 3, WRITE, KEY1, Exec::Shard(getset)),
    cmd("mget", -2, READONLY, ALL_KEYS, Exec::Multi(mget, Merge::PerKeyArray)),
    cmd("mset", -3, WRITE, KEY_VALUE_PAIRS, Exec::Multi(mset, Merge::AllOk)),
    cmd("msetnx", -3, WRITE, KEY_VALUE_PAIRS, Exec::Cross(msetnx, Special::MsetNx)),
    cmd("append", 3, WRITE, KEY1, Exec::Shard(append)),
    cmd("strlen", 2, READONLY, KEY1, Exec::Shard(strlen)),
    cmd("incr", 2, WRITE, KEY1, Exec::Shard(incr)),
    cmd("decr", 2, WRITE, KEY1, Exec::Shard(decr)),
    cmd("incrby", 3, WRITE, KEY1, Exec::Shard(incrby)),
    cmd("decrby", 3, WRITE, KEY1, Exec::Shard(decrby)),
    cmd("incrbyfloat", 3, WRITE, KEY1, Exec::Shard(incrbyfloat)),
    cmd("getrange", 4, READONLY, KEY1, Exec::Shard(getrange)),
    // SUBSTR is GETRANGE's old name; Redis still runs the same code for it.
    cmd("substr", 4, READONLY, KEY1, Exec::Shard(getrange)),
    cmd("setrange", 4, WRITE, KEY1, Exec::Shard(setrange)),
    // Keys on two shards: the coordinator gathers copies of both and runs `lcs` on them.
    cmd("lcs", -3, READONLY, (1, 2, 1), Exec::Cross(lcs, Special::Gather)),
];

const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
const NAN_OR_INFINITY: &str = "ERR increment would produce NaN or Infinity";
const DECR_OVERFLOW: &str = "ERR decrement would overflow";
const LCS_NOT_STRINGS: &str = "ERR The specified keys must contain string values";
const LCS_LEN_AND_IDX: &str = "ERR If you want both the length and indexes, please just use IDX.";
const LCS_TOO_LONG: &str = "ERR String too long for LCS";
const LCS_TABLE_TOO_BIG: &str =
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
const LCS_NO_MEMORY: &str = "ERR Insufficient memory, failed allocating transient memory for LCS";

// ---- GET and SET families ----

/// `GET key`
///
/// The value, or nil if the key does not exist.
fn get(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    reply_value(out, read(ctx, args.get(1))?);
    Ok(())
}

/// `SET key value [NX | XX] [GET] [EX seconds | PX ms | EXAT unix-seconds | PXAT unix-ms | KEEPTTL]`
///
/// +OK, or nil when NX/XX held the write back. With GET: the old value (or nil) instead,
/// whether or not the write happened.
fn set(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let opts = parse_options(args, 3, true)?;
    let at = opts.expire.map(|(unit, raw)| expire_at(unit, raw, ctx.now_ms, "set")).transpose()?;
    set_generic(ctx, args.get(1), args.get(2), &opts, at, Replies::OkOrNull, out)
}

/// `SETNX key value`
///
/// :1 if the key was set, :0 if it already existed.
fn setnx(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let opts = Options { nx: true, ..Options::default() };
    set_generic(ctx, args.get(1), args.get(2), &opts, None, Replies::OneOrZero, out)
}

/// `SETEX key seconds value`
///
/// +OK.
fn setex(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    set_expiring(ctx, args, Unit::Ex, "setex", out)
}

/// `PSETEX key milliseconds value`
///
/// +OK.
fn psetex(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    set_expiring(ctx, args, Unit::Px, "psetex", out)
}

/// SETEX and PSETEX: the time comes before the value, and is checked first.
fn set_expiring(ctx: &mut Ctx, args: Args, unit: Unit, cmd: &'static str, out: &mut Out) -> CmdResult {
    let at = expire_at(unit, args.get(2), ctx.now_ms, cmd)?;
    let opts = Options::default();
    set_generic(ctx, args.get(1), args.get(3), &opts, Some(at), Replies::OkOrNull, out)
}

/// `GETEX key [EX seconds | PX ms | EXAT unix-seconds | PXAT unix-ms | PERSIST]`
///
/// The value (or nil), after which the key's TTL is changed as asked.
fn getex(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let opts = parse_options(args, 2, false)?;
    let (key, now) = (args.get(1), ctx.now_ms);
    let Some(value) = read(ctx, key)? else {
        out.null();
        return Ok(());
    };
    // Redis checks the time only once it knows there is a string to return.
    let at = opts.expire.map(|(unit, raw)| expire_at(unit, raw, now, "getex")).transpose()?;
    reply_value(out, Some(value));
    let absolute = matches!(opts.expire, Some((Unit::ExAt | Unit::PxAt, _)));
    match at {
        // An absolute time already passed deletes the key now, as Redis does.
        Some(at) if absolute && at <= now => {
            ctx.db().remove(key);
        }
        Some(at) => {
            ctx.db().set_expire(key, at);
        }
        None if opts.persist => {
            ctx.db().set_expire(key, 0);
        }
        None => {}
    }
    Ok(())
}

/// `GETDEL key`
///
/// The value (or nil); the key is deleted.
fn getdel(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let key = args.get(1);
    let Some(value) = read(ctx, key)? else {
        out.null();
        return Ok(());
    };
    reply_value(out, Some(value));
    ctx.db().remove(key);
    Ok(())
}

/// `GETSET key value`
///
/// The old value (or nil). The new value is stored without a TTL.
fn getset(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let key = args.get(1);
    reply_value(out, read(ctx, key)?);
    ctx.set_string(key, args.get(2), 0);
    Ok(())
}

/// `MGET key [key ...]` (this shard's keys only)
///
/// One element per key: its value, or nil if it is missing or not a string.
fn mget(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    out.array(args.len() - 1);
    for key in args.iter().skip(1) {
        match ctx.lookup(key).map(|e| string_of(&e.value)) {
            Some(Ok(s)) => bulk_str(out, s),
            _ => out.null(),
        }
    }
    Ok(())
}

/// `MSET key value [key value ...]` (this shard's pairs only)
///
/// +OK. Later pairs win over earlier ones for the same key.
fn mset(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    check_pairs(args, "mset")?;
    set_pairs(ctx, args);
    out.ok();
    Ok(())
}

/// `MSETNX key value [key value ...]` (all keys on this shard)
///
/// :1 if every key was set, :0 (and nothing set) if any of them existed.
fn msetnx(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    check_pairs(args, "msetnx")?;
    if (1..args.len()).step_by(2).any(|i| lookup_write(ctx, args.get(i)).is_some()) {
        out.int(0);
        return Ok(());
    }
    set_pairs(ctx, args);
    out.int(1);
    Ok(())
}

/// A key's string as a client read sees it (counted as a keyspace hit or miss): None if the
/// key is missing, WRONGTYPE if it holds another type.
fn read<'c>(ctx: &'c mut Ctx, key: &[u8]) -> CmdResult<Option<&'c Str>> {
    ctx.lookup(key).map(|e| string_of(&e.value)).transpose()
}

/// A key looked up in order to write it, as Redis's `lookupKeyWrite` does: not counted as a
/// keyspace hit or miss, but it resets the key's idle time (OBJECT IDLETIME).
fn lookup_write<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Option<&'c mut Entry> {
    let clock = ctx.clock_secs();
    let entry = ctx.lookup_quiet(key)?;
    entry.access_secs = clock;
    Some(entry)
}

fn string_of(v: &Value) -> CmdResult<&Str> {
    match v {
        Value::Str(s) => Ok(s),
        _ => Err(CmdError::WrongType),
    }
}

fn string_of_mut(v: &mut Value) -> CmdResult<&mut Str> {
    match v {
        Value::Str(s) => Ok(s),
        _ => Err(CmdError::WrongType),
    }
}

fn bulk_str(out: &mut Out, s: &Str) {
    s.with_bytes(|b| out.bulk(b));
}

fn reply_value(out: &mut Out, value: Option<&Str>) {
    match value {
        Some(s) => bulk_str(out, s),
        None => out.null(),
    }
}

/// A string stored as Redis's `createStringObject` stores it: embstr when short, else raw,
/// never int (INCRBYFLOAT and SETRANGE results are not re-encoded).
fn plain_string(b: &[u8]) -> Str {
    Str::embedded(b)
}

/// Redis compares option names as C strings, so an argument is cut at its first NUL
/// (`NX\0junk` is NX).
fn opt_is(arg: &[u8], name: &str) -> bool {
    eq_ic(arg.split(|&b| b == 0).next().unwrap_or(arg), name)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Unit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

fn unit_of(opt: &[u8]) -> Option<Unit> {
    [("ex", Unit::Ex), ("px", Unit::Px), ("exat", Unit::ExAt), ("pxat", Unit::PxAt)]
        .into_iter()
        .find_map(|(name, unit)| opt_is(opt, name).then_some(unit))
}

/// The options SET and GETEX share (Redis's `parseExtendedStringArgumentsOrReply`).
#[derive(Default)]
struct Options<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(Unit, &'a [u8])>,
}

/// Parses options from `args[from..]`: NX, XX, GET and KEEPTTL for SET, PERSIST for GETEX,
/// and one expire unit for both. Repeating an option is fine (the last time wins); any
/// conflicting or unknown one, or a unit without its value, is a syntax error.
fn parse_options(args: Args, from: usize, for_set: bool) -> CmdResult<Options> {
    let mut o = Options::default();
    let mut j = from;
    while j < args.len() {
        let opt = args.get(j);
        let next = (j + 1 < args.len()).then(|| args.get(j + 1));
        let unit = o.expire.map(|(u, _)| u);
        let expire_allowed = !o.keepttl && !o.persist && next.is_some();
        if for_set && opt_is(opt, "nx") && !o.xx {
            o.nx = true;
        } else if for_set && opt_is(opt, "xx") && !o.nx {
            o.xx = true;
        } else if for_set && opt_is(opt, "get") {
            o.get = true;
        } else if for_set && opt_is(opt, "keepttl") && unit.is_none() {
            o.keepttl = true;
        } else if !for_set && opt_is(opt, "persist") && unit.is_none() {
            o.persist = true;
        } else if let (Some(u), Some(value)) = (unit_of(opt), next)
            && expire_allowed
            && unit.is_none_or(|old| old == u)
        {
            o.expire = Some((u, value));
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// An EX/PX/EXAT/PXAT value as an absolute unix time in ms, checked as Redis checks it: it must
/// be positive, and neither the conversion to ms nor adding the current time may overflow.
fn expire_at(unit: Unit, raw: &[u8], now_ms: u64, cmd: &'static str) -> CmdResult<u64> {
    let v = parse_int(raw)?;
    let seconds = matches!(unit, Unit::Ex | Unit::ExAt);
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        return Err(CmdError::InvalidExpire(cmd));
    }
    let ms = if seconds { v * 1000 } else { v };
    let at = match unit {
        Unit::Ex | Unit::Px => ms.checked_add(now_ms as i64).ok_or(CmdError::InvalidExpire(cmd))?,
        Unit::ExAt | Unit::PxAt => ms,
    };
    Ok(at as u64)
}

/// What a SET-like command replies when it writes, and when NX/XX holds it back.
#[derive(Clone, Copy)]
enum Replies {
    OkOrNull,
    OneOrZero,
}

/// SET, SETNX, SETEX and PSETEX (Redis's `setGenericCommand`). `at` is the new absolute
/// expiry; a time already passed still stores the key, which then expires on its next access.
fn set_generic(
    ctx: &mut Ctx,
    key: &[u8],
    value: &[u8],
    opts: &Options,
    at: Option<u64>,
    replies: Replies,
    out: &mut Out,
) -> CmdResult {
    // Plain SET overwrites whatever is there: no need to look first.
    if !opts.get && !opts.nx && !opts.xx && !opts.keepttl {
        ctx.set_string(key, value, at.unwrap_or(0));
        match replies {
            Replies::OkOrNull => out.ok(),
            Replies::OneOrZero => out.int(1),
        }
        return Ok(());
    }
    // GET replies first and, on a key of another type, fails before anything is written.
    if opts.get {
        reply_value(out, read(ctx, key)?);
    }
    let old_expire = lookup_write(ctx, key).map(|e| e.expire_at_ms);
    let written = !((opts.nx && old_expire.is_some()) || (opts.xx && old_expire.is_none()));
    if written {
        let at = match at {
            Some(at) => at,
            None if opts.keepttl => old_expire.unwrap_or(0),
            None => 0,
        };
        ctx.set_string(key, value, at);
    }
    if !opts.get {
        match (replies, written) {
            (Replies::OkOrNull, true) => out.ok(),
            (Replies::OkOrNull, false) => out.null(),
            (Replies::OneOrZero, w) => out.int(w as i64),
        }
    }
    Ok(())
}

/// MSET and MSETNX take key-value pairs; Redis checks that before anything else.
fn check_pairs(args: Args, name: &str) -> CmdResult {
    if args.len().is_multiple_of(2) { Err(CmdError::WrongArity(name.into())) } else { Ok(()) }
}

fn set_pairs(ctx: &mut Ctx, args: Args) {
    for i in (1..args.len()).step_by(2) {
        ctx.set_string(args.get(i), args.get(i + 1), 0);
    }
}

// ---- Counters ----

/// `INCR key`
///
/// The new value. A missing key counts from 0; the key keeps its TTL.
fn incr(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    incr_by(ctx, args.get(1), 1, out)
}

/// `DECR key`
fn decr(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    incr_by(ctx, args.get(1), -1, out)
}

/// `INCRBY key increment`
fn incrby(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let by = args.i64(2)?;
    incr_by(ctx, args.get(1), by, out)
}

/// `DECRBY key decrement`
fn decrby(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    // -i64::MIN does not exist, and Redis says so with its own message.
    let by = args.i64(2)?.checked_neg().ok_or_else(|| CmdError::msg(DECR_OVERFLOW))?;
    incr_by(ctx, args.get(1), by, out)
}

fn incr_by(ctx: &mut Ctx, key: &[u8], by: i64, out: &mut Out) -> CmdResult {
    let entry = lookup_write(ctx, key);
    let old = match &entry {
        Some(e) => int_of(string_of(&e.value)?)?,
        None => 0,
    };
    let new = old.checked_add(by).ok_or(CmdError::Overflow)?;
    let value = Value::Str(Str::Int(new));
    match entry {
        // Replacing the value in place keeps the TTL, as Redis's dbReplaceValue does.
        Some(e) => e.value = value,
        None => {
            let e = ctx.new_entry(value);
            ctx.db().insert(key, e);
        }
    }
    out.int(new);
    Ok(())
}

/// A string as a 64-bit integer, by Redis's strict rules (no spaces, no '+', no leading zeros).
fn int_of(s: &Str) -> CmdResult<i64> {
    match s {
        Str::Int(i) => Ok(*i),
        _ => s.with_bytes(parse_int),
    }
}

/// `INCRBYFLOAT key increment`
///
/// The new value as a bulk string, computed and printed as Redis does (C `long double`,
/// `%.17Lf` without trailing zeros, so 0.1 + 0.2 is "0.3"). The key keeps its TTL.
fn incrbyfloat(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let (key, by) = (args.get(1), args.get(2));
    let entry = lookup_write(ctx, key);
    let old = match &entry {
        Some(e) => string_of(&e.value)?.to_vec(),
        None => b"0".to_vec(),
    };
    // Redis 7's string2ld also rejects a NUL inside a number (it checks the parsed length);
    // `long_double` stops at the NUL as C does, so such input is refused here.
    if old.contains(&0) || by.contains(&0) {
        return Err(CmdError::NotFloat);
    }
    let text = long_double::add(&old, by).map_err(|e| match e {
        LdError::NotFloat => CmdError::NotFloat,
        LdError::NanOrInfinity => CmdError::msg(NAN_OR_INFINITY),
    })?;
    // Redis stores the reply text as a plain string: OBJECT ENCODING says embstr, never int.
    let value = Value::Str(plain_string(&text));
    match entry {
        Some(e) => e.value = value,
        None => {
            let e = ctx.new_entry(value);
            ctx.db().insert(key, e);
        }
    }
    out.bulk(&text);
    Ok(())
}

// ---- Parts of strings ----

/// `APPEND key value`
///
/// The length after appending. A missing key is created as SET would create it.
fn append(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let (key, tail) = (args.get(1), args.get(2));
    let limit = ctx.config.proto_max_bulk_len;
    let Some(entry) = lookup_write(ctx, key) else {
        let entry = ctx.new_entry(Value::from_bytes(tail));
        ctx.db().insert(key, entry);
        out.int(tail.len() as i64);
        return Ok(());
    };
    let s = string_of_mut(&mut entry.value)?;
    check_size(s.len() as u64, tail.len() as u64, limit)?;
    let buf = s.make_raw();
    buf.extend_from_slice(tail);
    out.int(buf.len() as i64);
    Ok(())
}

/// `STRLEN key`
///
/// The length of the value, 0 if the key is missing.
fn strlen(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let len = read(ctx, args.get(1))?.map_or(0, Str::len);
    out.int(len as i64);
    Ok(())
}

/// `GETRANGE key start end` (and `SUBSTR key start end`)
///
/// The bytes from `start` to `end`, both inclusive; negative offsets count from the end. An
/// empty string if the range is empty or the key is missing.
fn getrange(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let (start, end) = (args.i64(2)?, args.i64(3)?);
    let Some(s) = read(ctx, args.get(1))? else {
        out.bulk(b"");
        return Ok(());
    };
    s.with_bytes(|b| match byte_range(b.len(), start, end) {
        Some((from, to)) => out.bulk(&b[from..=to]),
        None => out.bulk(b""),
    });
    Ok(())
}

/// GETRANGE's clamping, as Redis 7.2 does it (both negative and reversed is empty at once).
fn byte_range(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len = len as i64;
    let start = if start < 0 { start + len } else { start }.max(0);
    let end = if end < 0 { end + len } else { end }.max(0).min(len - 1);
    (len > 0 && start <= end).then_some((start as usize, end as usize))
}

/// `SETRANGE key offset value`
///
/// The length after writing `value` at `offset`, zero-padding as needed. An empty `value`
/// changes nothing (and creates no key).
fn setrange(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let (key, patch) = (args.get(1), args.get(3));
    let offset = args.i64(2)?;
    if offset < 0 {
        return Err(CmdError::OutOfRange);
    }
    let limit = ctx.config.proto_max_bulk_len;
    let Some(entry) = lookup_write(ctx, key) else {
        if patch.is_empty() {
            out.int(0);
            return Ok(());
        }
        check_size(offset as u64, patch.len() as u64, limit)?;
        let mut buf = Vec::new();
        write_at(&mut buf, offset as usize, patch);
        out.int(buf.len() as i64);
        let entry = ctx.new_entry(Value::Str(Str::Raw(buf)));
        ctx.db().insert(key, entry);
        return Ok(());
    };
    let s = string_of_mut(&mut entry.value)?;
    if patch.is_empty() {
        out.int(s.len() as i64);
        return Ok(());
    }
    check_size(offset as u64, patch.len() as u64, limit)?;
    let buf = s.make_raw();
    write_at(buf, offset as usize, patch);
    out.int(buf.len() as i64);
    Ok(())
}

fn write_at(buf: &mut Vec<u8>, offset: usize, patch: &[u8]) {
    let end = offset + patch.len();
    if buf.len() < end {
        buf.resize(end, 0);
    }
    buf[offset..end].copy_from_slice(patch);
}

/// A string may not grow past proto-max-bulk-len (Redis's `checkStringLength`).
fn check_size(size: u64, added: u64, limit: u64) -> CmdResult {
    match size.checked_add(added) {
        Some(total) if total <= limit => Ok(()),
        _ => Err(CmdError::msg(TOO_BIG)),
    }
}

// ---- LCS ----

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`
///
/// The longest common subsequence of the two strings (a missing key is an empty string); with
/// LEN its length; with IDX a map of the matching runs (last first) and the length.
fn lcs(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    // Redis reads both keys before it looks at their types or at the options.
    let a = lcs_input(ctx, args.get(1));
    let b = lcs_input(ctx, args.get(2));
    let (a, b) = (a?, b?);
    let opts = parse_lcs_options(args)?;
    if opts.idx && opts.len {
        return Err(CmdError::msg(LCS_LEN_AND_IDX));
    }
    // Lengths are u32 in the table, as in Redis.
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return Err(CmdError::msg(LCS_TOO_LONG));
    }
    let table = LcsTable::build(&a, &b, ctx.config.proto_max_bulk_len)?;
    if opts.len {
        out.int(table.len() as i64);
        return Ok(());
    }
    let (common, runs) = table.walk(opts.min_match_len);
    if !opts.idx {
        out.bulk(&common);
        return Ok(());
    }
    out.map(2);
    out.bulk(b"matches");
    out.array(runs.len());
    for run in &runs {
        out.array(2 + opts.with_match_len as usize);
        for (start, end) in [run.a, run.b] {
            out.array(2);
            out.int(start as i64);
            out.int(end as i64);
        }
        if opts.with_match_len {
            out.int(run.len() as i64);
        }
    }
    out.bulk(b"len");
    out.int(table.len() as i64);
    Ok(())
}

fn lcs_input(ctx: &mut Ctx, key: &[u8]) -> CmdResult<Vec<u8>> {
    match ctx.lookup(key).map(|e| string_of(&e.value)) {
        None => Ok(Vec::new()),
        Some(Ok(s)) => Ok(s.to_vec()),
        Some(Err(_)) => Err(CmdError::msg(LCS_NOT_STRINGS)),
    }
}

#[derive(Default)]
struct LcsOptions {
    len: bool,
    idx: bool,
    with_match_len: bool,
    min_match_len: u64,
}

fn parse_lcs_options(args: Args) -> CmdResult<LcsOptions> {
    let mut o = LcsOptions::default();
    let mut j = 3;
    while j < args.len() {
        let opt = args.get(j);
        if opt_is(opt, "idx") {
            o.idx = true;
        } else if opt_is(opt, "len") {
            o.len = true;
        } else if opt_is(opt, "withmatchlen") {
            o.with_match_len = true;
        } else if opt_is(opt, "minmatchlen") && j + 1 < args.len() {
            // Negative means "no minimum", like 0.
            o.min_match_len = args.i64(j + 1)?.max(0) as u64;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// One run of bytes common to both strings: inclusive (start, end) in each.
struct Run {
    a: (u32, u32),
    b: (u32, u32),
}

impl Run {
    fn len(&self) -> u32 {
        self.a.1 - self.a.0 + 1
    }
}

/// The dynamic-programming table: cell (i, j) holds the LCS length of a[..i] and b[..j].
struct LcsTable<'s> {
    a: &'s [u8],
    b: &'s [u8],
    cells: Vec<u32>,
}

impl<'s> LcsTable<'s> {
    /// Fills the table, refusing (as Redis does) one bigger than proto-max-bulk-len bytes.
    fn build(a: &'s [u8], b: &'s [u8], limit: u64) -> CmdResult<LcsTable<'s>> {
        let count = (a.len() as u64 + 1) * (b.len() as u64 + 1);
        let bytes = count.checked_mul(4).ok_or_else(|| CmdError::msg(LCS_NO_MEMORY))?;
        if bytes > limit {
            return Err(CmdError::msg(LCS_TABLE_TOO_BIG));
        }
        let mut cells = Vec::new();
        cells.try_reserve_exact(count as usize).map_err(|_| CmdError::msg(LCS_NO_MEMORY))?;
        cells.resize(count as usize, 0);
        let mut t = LcsTable { a, b, cells };
        let width = b.len() + 1;
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                t.cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    t.at(i - 1, j - 1) + 1
                } else {
                    t.at(i - 1, j).max(t.at(i, j - 1))
                };
            }
        }
        Ok(t)
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * (self.b.len() + 1) + j]
    }

    fn len(&self) -> u32 {
        self.at(self.a.len(), self.b.len())
    }

    /// Walks back from the end, collecting the common bytes and the runs of at least
    /// `min_len` bytes, in the order (last run first) and with the tie-breaks Redis uses.
    fn walk(&self, min_len: u64) -> (Vec<u8>, Vec<Run>) {
        let mut common = vec![0u8; self.len() as usize];
        let mut left = common.len();
        let mut runs = Vec::new();
        let mut run: Option<Run> = None;
        let (mut i, mut j) = (self.a.len(), self.b.len());
        while i > 0 && j > 0 {
            let emit;
            if self.a[i - 1] == self.b[j - 1] {
                common[left - 1] = self.a[i - 1];
                left -= 1;
                let (ai, bj) = ((i - 1) as u32, (j - 1) as u32);
                // A match right after a match always continues the run backwards.
                let r = run.get_or_insert(Run { a: (ai, ai), b: (bj, bj) });
                (r.a.0, r.b.0) = (ai, bj);
                emit = ai == 0 || bj == 0;
                i -= 1;
                j -= 1;
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                emit = run.is_some();
            }
            // Taking the run ends it, whether or not it is long enough to report.
            if emit
                && let Some(r) = run.take()
                && (min_len == 0 || r.len() as u64 >= min_len)
            {
                runs.push(r);
            }
        }
        (common, runs)
    }
}

#[cfg(test)]
mod tests {
    //! Expected replies were taken byte for byte from redis-server (7.0.15, whose string group
    //! matches 7.2's) by running the same commands; `WRONGTYPE` paths need a second value type
    //! and are covered once one exists.

    use super::*;
    use crate::commands::OwnedArgs;
    use crate::config::Config;
    use crate::shard::Shard;

    /// One shard and its config; runs commands by name through this file's table.
    struct T {
        shard: Shard,
        cfg: Config,
        now: u64,
        resp3: bool,
    }

    impl T {
        fn new(resp3: bool) -> T {
            T { shard: Shard::new(0, 16), cfg: Config::default(), now: crate::shard::now_ms(), resp3 }
        }

        /// The reply bytes, errors rendered as the dispatcher renders them.
        fn run(&mut self, argv: &[&str]) -> Vec<u8> {
            let name = argv[0].to_ascii_lowercase();
            let cmd = COMMANDS.iter().find(|c| c.name == name).expect("a string command");
            if !cmd.arity_ok(argv.len()) {
                return format!("-{}\r\n", CmdError::WrongArity(cmd.name.into())).into_bytes();
            }
            let (Exec::Shard(f) | Exec::Multi(f, _) | Exec::Cross(f, _)) = cmd.exec else {
                panic!("{name} does not run on a shard");
            };
            let args = OwnedArgs::from_slices(argv.iter().map(|a| a.as_bytes()));
            let mut out = Out::new(self.resp3);
            let mut ctx = Ctx { shard: &mut self.shard, db: 0, now_ms: self.now, config: &self.cfg };
            if let Err(e) = f(&mut ctx, args.args(), &mut out) {
                out.error(&e.to_string());
            }
            out.buf
        }

        fn check(&mut self, argv: &[&str], want: &[u8]) {
            let got = self.run(argv);
            assert!(got == want, "{argv:?}\n got: {}\nwant: {}", got.escape_ascii(), want.escape_ascii());
        }

        fn check_prefix(&mut self, argv: &[&str], want: &[u8]) {
            let got = self.run(argv);
            assert!(
                got.starts_with(want),
                "{argv:?}\n got: {}\nwant: {}...",
                got.escape_ascii(),
                want.escape_ascii()
            );
        }

        fn encoding(&self, key: &str) -> &'static str {
            self.shard.dbs[0].dict.get(key.as_bytes()).map_or("none", |e| e.value.encoding())
        }

        /// The stored expiry (0 = none) without expiring the key; None if it is not stored.
        fn expire(&self, key: &str) -> Option<u64> {
            self.shard.dbs[0].dict.get(key.as_bytes()).map(|e| e.expire_at_ms)
        }
    }

    #[test]
    fn table_has_redis_arity_and_keys() {
        let find = |n: &str| COMMANDS.iter().find(|c| c.name == n).unwrap();
        assert_eq!(COMMANDS.len(), 22);
        let mset = find("mset");
        assert_eq!((mset.arity, mset.first_key, mset.last_key, mset.step), (-3, 1, -1, 2));
        assert_eq!(mset.key_indexes(5).collect::<Vec<_>>(), [1, 3]);
        let lcs = find("lcs");
        assert_eq!((lcs.arity, lcs.first_key, lcs.last_key, lcs.step), (-3, 1, 2, 1));
        assert!(matches!(find("msetnx").exec, Exec::Cross(_, Special::MsetNx)));
        assert!(matches!(find("mget").exec, Exec::Multi(_, Merge::PerKeyArray)));
        assert_eq!(find("getex").flags, WRITE);
        assert_eq!(find("substr").flags, READONLY);
    }

    /// Writes reset the idle time too (Redis's lookupKeyWrite touches the key), even when
    /// nothing is written, as with SETNX on an existing key.
    #[test]
    fn writes_reset_idle_time() {
        let mut t = T::new(false);
        let writes: [&[&str]; 4] = [
            &["SETNX", "k", "v"],
            &["APPEND", "k", "x"],
            &["SETRANGE", "k", "0", "y"],
            &["INCRBYFLOAT", "k", "1"],
        ];
        for argv in writes {
            t.run(&["SET", "k", "1"]);
            t.shard.dbs[0].dict.get_mut(b"k").unwrap().access_secs = 12345;
            t.run(argv);
            let now = t.shard.clock_secs();
            assert_eq!(t.shard.dbs[0].dict.get(b"k").unwrap().access_secs, now, "{argv:?}");
        }
    }

    /// Which commands count keyspace hits and misses, as INFO showed on redis-server.
    #[test]
    fn reads_count_hits_and_misses_writes_do_not() {
        let mut t = T::new(false);
        let script: &[&[&str]] = &[
            &["GET", "k"],
            &["SETNX", "k", "1"],
            &["INCR", "k"],
            &["MGET", "k", "x"],
            &["SET", "k", "2", "GET"],
            &["LCS", "k", "zz"],
            &["GETRANGE", "k", "0", "1"],
            &["STRLEN", "q"],
            &["APPEND", "k", "x"],
            &["SETRANGE", "k", "0", "a"],
            &["INCRBYFLOAT", "k", "1"],
            &["GETEX", "k"],
            &["GETDEL", "k"],
            &["GETSET", "k", "v"],
            &["MSETNX", "k", "v"],
        ];
        for argv in script {
            t.run(argv);
        }
        assert_eq!((t.shard.stats.keyspace_hits, t.shard.stats.keyspace_misses), (6, 5));
    }

    #[test]
    fn set_get_and_conditions() {
        let mut t = T::new(false);
        t.check(&["GET", "k"], b"$-1\r\n");
        t.check(&["SET", "k", "v"], b"+OK\r\n");
        t.check(&["GET", "k"], b"$1\r\nv\r\n");
        t.check(&["SET", "k", "v2", "NX"], b"$-1\r\n");
        t.check(&["SET", "k", "v2", "XX"], b"+OK\r\n");
        t.check(&["GET", "k"], b"$2\r\nv2\r\n");
        t.check(&["SET", "k2", "v", "XX"], b"$-1\r\n");
        t.check(&["SET", "k2", "v", "nx"], b"+OK\r\n");
        t.check(&["SET", "k2", "w", "Nx"], b"$-1\r\n");
        t.check(&["SET", "k3", "v", "NX", "XX"], b"-ERR syntax error\r\n");
        t.check(&["SET", "k3", "v", "XX", "NX"], b"-ERR syntax error\r\n");
        t.check(&["GET", "k3"], b"$-1\r\n");
        t.check(&["SET", "k", "v3", "GET"], b"$2\r\nv2\r\n");
        t.check(&["SET", "k", "v4", "NX", "GET"], b"$2\r\nv3\r\n");
        t.check(&["GET", "k"], b"$2\r\nv3\r\n");
        t.check(&["SET", "k", "v5", "XX", "GET", "GET"], b"$2\r\nv3\r\n");
        t.check(&["SET", "nothing", "v", "GET"], b"$-1\r\n");
        t.check(&["SET", "nothing2", "v", "NX", "GET"], b"$-1\r\n");
        t.check(&["SET", "nothing3", "v", "XX", "GET"], b"$-1\r\n");
        t.check(&["GET", "nothing3"], b"$-1\r\n");
        t.check(&["SET", "k", "v", "nx\x00junk"], b"$-1\r\n");
        t.check(&["SET", "k", "v", "FOO"], b"-ERR syntax error\r\n");
        t.check(&["SET", "k", "v", "PERSIST"], b"-ERR syntax error\r\n");
        t.check(&["SET", "k", "v", "EX"], b"-ERR syntax error\r\n");
    }

    #[test]
    fn set_expire_options() {
        let mut t = T::new(false);
        t.check(&["SET", "k", "v", "EX", "0"], b"-ERR invalid expire time in 'set' command\r\n");
        t.check(&["SET", "k", "v", "EX", "-1"], b"-ERR invalid expire time in 'set' command\r\n");
        t.check(&["SET", "k", "v", "PX", "0"], b"-ERR invalid expire time in 'set' command\r\n");
        t.check(&["SET", "k", "v", "EXAT", "0"], b"-ERR invalid expire time in 'set' command\r\n");
        t.check(&["SET", "k", "v", "PXAT", "-5"], b"-ERR invalid expire time in 'set' command\r\n");
        t.check(&["SET", "k", "v", "EX", "abc"], b"-ERR value is not an integer or out of range\r\n");
        t.check(&["SET", "k", "v", "PX", "1.5"], b"-ERR value is not an integer or out of range\r\n");
        t.check(
            &["SET", "k", "v", "EX", "9223372036854776"],
            b"-ERR invalid expire time in 'set' command\r\n",
        );
        t.check(
            &["SET", "k", "v", "EX", "9223372036854775"],
            b"-ERR invalid expire time in 'set' command\r\n",
        );
        t.check(
            &["SET", "k", "v", "PX", "9223372036854775807"],
            b"-ERR invalid expire time in 'set' command\r\n",
        );
        t.check(&["SET", "k", "v", "KEEPTTL", "EX", "10"], b"-ERR syntax error\r\n");
        t.check(&["SET", "k", "v", "EX", "10", "KEEPTTL"], b"-ERR syntax error\r\n");
        t.check(&["SET", "k", "v", "EX", "10", "PX", "10"], b"-ERR syntax error\r\n");
        t.check(&["SET", "k", "v", "PX", "10", "EXAT", "10"], b"-ERR syntax error\r\n");
        t.check(&["SET", "k", "v", "EXAT", "10", "PXAT", "10"], b"-ERR syntax error\r\n");
        t.check(&["SET", "k", "v", "EX", "100"], b"+OK\r\n");
        assert_eq!(t.expire("k"), Some(t.now + 100_000));
        t.check(&["SET", "k", "v", "PX", "100", "PX", "2000"], b"+OK\r\n");
        assert_eq!(t.expire("k"), Some(t.now + 2_000));
        t.check(&["SET", "k", "v2", "KEEPTTL"], b"+OK\r\n");
        assert_eq!(t.expire("k"), Some(t.now + 2_000));
        t.check(&["SET", "k", "v3", "KEEPTTL", "KEEPTTL", "GET"], b"$2\r\nv2\r\n");
        assert_eq!(t.expire("k"), Some(t.now + 2_000));
        t.check(&["SET", "k", "v4"], b"+OK\r\n");
        assert_eq!(t.expire("k"), Some(0));
        t.check(&["SET", "k", "v", "EXAT", "99999999999"], b"+OK\r\n");
        assert_eq!(t.expire("k"), Some(99_999_999_999_000));
        t.check(&["SET", "k", "v", "PXAT", "99999999999999"], b"+OK\r\n");
        assert_eq!(t.expire("k"), Some(99_999_999_999_999));
        t.check(&["SET", "k", "v", "XX", "EX", "5", "GET"], b"$1\r\nv\r\n");
        assert_eq!(t.expire("k"), Some(t.now + 5_000));
        t.check(&["SET", "gone", "v", "PXAT", "1"], b"+OK\r\n");
        assert_eq!(t.expire("gone"), Some(1));
        t.check(&["GET", "gone"], b"$-1\r\n");
        t.check(&["SET", "gone", "v", "EXAT", "1", "GET"], b"$-1\r\n");
        t.check(&["SET", "gone", "v2", "PXAT", "1", "GET"], b"$-1\r\n");
    }

    #[test]
    fn setnx_setex_psetex() {
        let mut t = T::new(false);
        t.check(&["SETNX", "k", "v"], b":1\r\n");
        t.check(&["SETNX", "k", "w"], b":0\r\n");
        t.check(&["GET", "k"], b"$1\r\nv\r\n");
        t.check(&["SETEX", "k", "0", "v"], b"-ERR invalid expire time in 'setex' command\r\n");
        t.check(&["SETEX", "k", "-10", "v"], b"-ERR invalid expire time in 'setex' command\r\n");
        t.check(&["SETEX", "k", "abc", "v"], b"-ERR value is not an integer or out of range\r\n");
        t.check(&["SETEX", "k", "9223372036854775", "v"], b"-ERR invalid expire time in 'setex' command\r\n");
        t.check(&["SETEX", "k", "100", "w"], b"+OK\r\n");
        assert_eq!(t.expire("k"), Some(t.now + 100_000));
        t.check(&["GET", "k"], b"$1\r\nw\r\n");
        t.check(&["PSETEX", "k", "0", "v"], b"-ERR invalid expire time in 'psetex' command\r\n");
        t.check(&["PSETEX", "k", "1.5", "v"], b"-ERR value is not an integer or out of range\r\n");
        t.check(&["PSETEX", "k", "1500", "x"], b"+OK\r\n");
        assert_eq!(t.expire("k"), Some(t.now + 1_500));
        t.check(&["GET", "k"], b"$1\r\nx\r\n");
        t.check(&["SETNX", "k", "y"], b":0\r\n");
        assert_eq!(t.expire("k"), Some(t.now + 1_500));
    }

    #[test]
    fn getex_options() {
        let mut t = T::new(false);
        t.check(&["GETEX", "missing"], b"$-1\r\n");
        t.check(&["GETEX", "missing", "EX", "-1"], b"$-1\r\n");
        t.check(&["GETEX", "missing", "EX", "abc"], b"$-1\r\n");
        t.check(&["GETEX", "missing", "FOO"], b"-ERR syntax error\r\n");
        t.check(&["GETEX", "missing", "EX"], b"-ERR syntax error\r\n");
        t.check(&["GETEX", "missing", "KEEPTTL"], b"-ERR syntax error\r\n");
        t.check(&["GETEX", "missing", "NX"], b"-ERR syntax error\r\n");
        t.check(&["SET", "k", "v"], b"+OK\r\n");
        t.check(&["GETEX", "k", "EX", "-1"], b"-ERR invalid expire time in 'getex' command\r\n");
        t.check(&["GETEX", "k", "PXAT", "0"], b"-ERR invalid expire time in 'getex' command\r\n");
        t.check(&["GETEX", "k", "EX", "abc"], b"-ERR value is not an integer or out of range\r\n");
        t.check(&["GETEX", "k", "PX", "100", "PERSIST"], b"-ERR syntax error\r\n");
        t.check(&["GETEX", "k", "PERSIST", "EX", "10"], b"-ERR syntax error\r\n");
        t.check(&["GETEX", "k", "EX", "10", "PX", "10"], b"-ERR syntax error\r\n");
        t.check(&["GETEX", "k", "GET"], b"-ERR syntax error\r\n");
        t.check(&["GETEX", "k"], b"$1\r\nv\r\n");
        assert_eq!(t.expire("k"), Some(0));
        t.check(&["GETEX", "k", "EX", "100"], b"$1\r\nv\r\n");
        assert_eq!(t.expire("k"), Some(t.now + 100_000));
        t.check(&["GETEX", "k", "PERSIST", "PERSIST"], b"$1\r\nv\r\n");
        assert_eq!(t.expire("k"), Some(0));
        t.check(&["GETEX", "k", "EX", "10", "EX", "20"], b"$1\r\nv\r\n");
        assert_eq!(t.expire("k"), Some(t.now + 20_000));
        t.check(&["GETEX", "k", "PX", "1234"], b"$1\r\nv\r\n");
        assert_eq!(t.expire("k"), Some(t.now + 1_234));
        t.check(&["GETEX", "k", "EXAT", "99999999999"], b"$1\r\nv\r\n");
        assert_eq!(t.expire("k"), Some(99_999_999_999_000));
        t.check(&["GETEX", "k", "PXAT", "9223372036854775807"], b"$1\r\nv\r\n");
        assert_eq!(t.expire("k"), Some(i64::MAX as u64));
        t.check(
            &["GETEX", "k", "EX", "9223372036854775"],
            b"-ERR invalid expire time in 'getex' command\r\n",
        );
        t.check(&["GETEX", "k", "EXAT", "1"], b"$1\r\nv\r\n");
        assert_eq!(t.expire("k"), None);
        t.check(&["GET", "k"], b"$-1\r\n");
        t.check(&["SET", "n", "42"], b"+OK\r\n");
        t.check(&["GETEX", "n", "PERSIST"], b"$2\r\n42\r\n");
    }

    #[test]
    fn getdel_getset() {
        let mut t = T::new(false);
        t.check(&["GETDEL", "k"], b"$-1\r\n");
        t.check(&["SET", "k", "v"], b"+OK\r\n");
        t.check(&["GETDEL", "k"], b"$1\r\nv\r\n");
        t.check(&["GETDEL", "k"], b"$-1\r\n");
        t.check(&["GET", "k"], b"$-1\r\n");
        t.check(&["GETSET", "k", "a"], b"$-1\r\n");
        t.check(&["GETSET", "k", "b"], b"$1\r\na\r\n");
        t.check(&["GET", "k"], b"$1\r\nb\r\n");
        t.check(&["SETEX", "k", "100", "c"], b"+OK\r\n");
        t.check(&["GETSET", "k", "d"], b"$1\r\nc\r\n");
        assert_eq!(t.expire("k"), Some(0));
        t.check(&["SET", "n", "12"], b"+OK\r\n");
        t.check(&["GETSET", "n", "13"], b"$2\r\n12\r\n");
        t.check(&["GETDEL", "n"], b"$2\r\n13\r\n");
    }

    #[test]
    fn mget_mset_msetnx() {
        let mut t = T::new(false);
        t.check(&["MSET", "a", "1", "b", "2", "a", "3"], b"+OK\r\n");
        t.check(&["MGET", "a", "b", "c"], b"*3\r\n$1\r\n3\r\n$1\r\n2\r\n$-1\r\n");
        t.check(&["MSET", "a", "1", "b"], b"-ERR wrong number of arguments for 'mset' command\r\n");
        t.check(&["MSETNX", "a", "1", "b"], b"-ERR wrong number of arguments for 'msetnx' command\r\n");
        t.check(&["MSETNX", "a", "1", "z", "2"], b":0\r\n");
        t.check(&["MGET", "z"], b"*1\r\n$-1\r\n");
        t.check(&["MSETNX", "y", "1", "z", "2", "y", "3"], b":1\r\n");
        t.check(&["MGET", "y", "z"], b"*2\r\n$1\r\n3\r\n$1\r\n2\r\n");
        t.check(&["SETEX", "y", "100", "v"], b"+OK\r\n");
        t.check(&["MSET", "y", "w"], b"+OK\r\n");
        assert_eq!(t.expire("y"), Some(0));
        t.check(&["MGET", "y"], b"*1\r\n$1\r\nw\r\n");
    }

    #[test]
    fn append_and_strlen() {
        let mut t = T::new(false);
        t.check(&["STRLEN", "k"], b":0\r\n");
        t.check(&["APPEND", "k", "hello"], b":5\r\n");
        t.check(&["APPEND", "k", " world"], b":11\r\n");
        t.check(&["GET", "k"], b"$11\r\nhello world\r\n");
        t.check(&["STRLEN", "k"], b":11\r\n");
        assert_eq!(t.encoding("k"), "raw");
        t.check(&["APPEND", "n", "123"], b":3\r\n");
        assert_eq!(t.encoding("n"), "int");
        t.check(&["STRLEN", "n"], b":3\r\n");
        t.check(&["APPEND", "n", "4"], b":4\r\n");
        assert_eq!(t.encoding("n"), "raw");
        t.check(&["GET", "n"], b"$4\r\n1234\r\n");
        t.check(&["INCR", "n"], b":1235\r\n");
        assert_eq!(t.encoding("n"), "int");
        t.check(&["APPEND", "e", ""], b":0\r\n");
        t.check(&["GET", "e"], b"$0\r\n\r\n");
        t.check(&["STRLEN", "e"], b":0\r\n");
        t.check(&["SET", "big", "1234567890123456789012345678901234567890abcd"], b"+OK\r\n");
        assert_eq!(t.encoding("big"), "embstr");
        t.check(&["APPEND", "big", "e"], b":45\r\n");
        assert_eq!(t.encoding("big"), "raw");
        t.check(&["SETEX", "t", "100", "v"], b"+OK\r\n");
        t.check(&["APPEND", "t", "w"], b":2\r\n");
        assert_eq!(t.expire("t"), Some(t.now + 100_000));
    }

    #[test]
    fn append_size_limit() {
        let mut t = T::new(false);
        t.cfg.proto_max_bulk_len = 1_048_576;
        t.check(&["SETRANGE", "k", "1048570", "abcde"], b":1048575\r\n");
        t.check(&["APPEND", "k", "f"], b":1048576\r\n");
        t.check(&["APPEND", "k", "g"], b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
        t.check(&["STRLEN", "k"], b":1048576\r\n");
    }

    #[test]
    fn incr_family() {
        let mut t = T::new(false);
        t.check(&["INCR", "n"], b":1\r\n");
        assert_eq!(t.encoding("n"), "int");
        t.check(&["INCRBY", "n", "abc"], b"-ERR value is not an integer or out of range\r\n");
        t.check(&["INCRBY", "n", "9223372036854775806"], b":9223372036854775807\r\n");
        t.check(&["INCR", "n"], b"-ERR increment or decrement would overflow\r\n");
        t.check(&["DECRBY", "n", "-9223372036854775808"], b"-ERR decrement would overflow\r\n");
        t.check(&["DECRBY", "x", "-9223372036854775808"], b"-ERR decrement would overflow\r\n");
        t.check(&["DECRBY", "x", "9223372036854775807"], b":-9223372036854775807\r\n");
        t.check(&["DECRBY", "x", "2"], b"-ERR increment or decrement would overflow\r\n");
        t.check(&["DECR", "x"], b":-9223372036854775808\r\n");
        t.check(&["INCRBY", "x", "-9223372036854775808"], b"-ERR increment or decrement would overflow\r\n");
        t.check(&["INCRBY", "x", "9223372036854775808"], b"-ERR value is not an integer or out of range\r\n");
        t.check(&["INCRBY", "x", "1.5"], b"-ERR value is not an integer or out of range\r\n");
        t.check(&["GET", "x"], b"$20\r\n-9223372036854775808\r\n");
        t.check(&["SET", "s", "abc"], b"+OK\r\n");
        t.check(&["INCR", "s"], b"-ERR value is not an integer or out of range\r\n");
        t.check(&["SET", "s", " 1"], b"+OK\r\n");
        t.check(&["INCR", "s"], b"-ERR value is not an integer or out of range\r\n");
        t.check(&["SET", "s", "01"], b"+OK\r\n");
        t.check(&["INCR", "s"], b"-ERR value is not an integer or out of range\r\n");
        t.check(&["SET", "s", "-0"], b"+OK\r\n");
        t.check(&["INCR", "s"], b"-ERR value is not an integer or out of range\r\n");
        t.check(&["SET", "s", "+1"], b"+OK\r\n");
        t.check(&["INCR", "s"], b"-ERR value is not an integer or out of range\r\n");
        t.check(&["SET", "s", "00000000000000000000005"], b"+OK\r\n");
        t.check(&["INCR", "s"], b"-ERR value is not an integer or out of range\r\n");
        t.check(&["SET", "s", "1.0"], b"+OK\r\n");
        t.check(&["INCR", "s"], b"-ERR value is not an integer or out of range\r\n");
        t.check(&["SET", "s", "12"], b"+OK\r\n");
        t.check(&["APPEND", "s", "3"], b":3\r\n");
        t.check(&["INCRBY", "s", "10"], b":133\r\n");
        assert_eq!(t.encoding("s"), "int");
        t.check(&["SET", "t", "10", "EX", "100"], b"+OK\r\n");
        t.check(&["INCR", "t"], b":11\r\n");
        assert_eq!(t.expire("t"), Some(t.now + 100_000));
        t.check(&["DECR", "new"], b":-1\r\n");
        t.check(&["DECRBY", "new2", "5"], b":-5\r\n");
        t.check(&["INCRBY", "new3", "-7"], b":-7\r\n");
    }

    #[test]
    fn incrbyfloat_values() {
        let mut t = T::new(false);
        t.check(&["SET", "f", "10.50"], b"+OK\r\n");
        t.check(&["INCRBYFLOAT", "f", "0.1"], b"$4\r\n10.6\r\n");
        t.check(&["INCRBYFLOAT", "f", "-5"], b"$3\r\n5.6\r\n");
        assert_eq!(t.encoding("f"), "embstr");
        t.check(&["SET", "f", "5.0e3"], b"+OK\r\n");
        t.check(&["INCRBYFLOAT", "f", "2.0e2"], b"$4\r\n5200\r\n");
        t.check(&["INCRBYFLOAT", "g", "0.1"], b"$3\r\n0.1\r\n");
        t.check(&["INCRBYFLOAT", "g", "0.2"], b"$3\r\n0.3\r\n");
        t.check(&["INCRBYFLOAT", "h", "1000.1"], b"$22\r\n1000.09999999999999998\r\n");
        t.check(&["INCRBYFLOAT", "h", "0.2"], b"$22\r\n1000.29999999999999999\r\n");
        t.check(&["INCRBYFLOAT", "i", "1e30"], b"$31\r\n1000000000000000000024696061952\r\n");
        t.check(&["INCRBYFLOAT", "j", "1e-20"], b"$1\r\n0\r\n");
        t.check(&["INCRBYFLOAT", "m", "-0"], b"$1\r\n0\r\n");
        t.check(&["INCRBYFLOAT", "m2", "-0.0000000000000000001"], b"$1\r\n0\r\n");
        t.check(&["INCRBYFLOAT", "m3", "3"], b"$1\r\n3\r\n");
        assert_eq!(t.encoding("m3"), "embstr");
        t.check(&["INCRBYFLOAT", "m3", "1.5"], b"$3\r\n4.5\r\n");
        t.check(&["INCRBYFLOAT", "r", "17179869184"], b"$11\r\n17179869184\r\n");
        t.check(&["INCRBYFLOAT", "r", "1.5"], b"$13\r\n17179869185.5\r\n");
        t.check(&["INCRBYFLOAT", "x", "0x10"], b"$2\r\n16\r\n");
        t.check(&["INCRBYFLOAT", "x", "0x1.8p1"], b"$2\r\n19\r\n");
        t.check(&["INCRBYFLOAT", "x", ".5"], b"$4\r\n19.5\r\n");
        t.check(&["INCRBYFLOAT", "x", "1."], b"$4\r\n20.5\r\n");
        t.check(&["INCRBYFLOAT", "x", "+2"], b"$4\r\n22.5\r\n");
        t.check(&["INCRBYFLOAT", "y", "0.000011444091796875"], b"$19\r\n0.00001144409179688\r\n");
        t.check(&["INCRBYFLOAT", "z", "1.7976931348623157e308"], b"$309\r\n179769313486231569995921046774104434048386446944329178485314420765176628523124396354701868608387085564428793419425520689308708363451136055357897278026477617073498977686288394835618163294045594434929537447290627480669417384648879122776218333598953852832103282504751611691208117720159985926376802466863339536384\r\n");
        t.check_prefix(&["INCRBYFLOAT", "big", "1e400"], b"$401\r\n1000000000000000000028188068394758");
        assert_eq!(t.encoding("big"), "raw");
        t.check(&["SET", "q", "1e5"], b"+OK\r\n");
        t.check(&["INCRBYFLOAT", "q", "1"], b"$6\r\n100001\r\n");
        t.check(&["SET", "q", "99999999999999999999"], b"+OK\r\n");
        t.check(&["INCRBYFLOAT", "q", "1"], b"$21\r\n100000000000000000000\r\n");
        t.check(&["SET", "q", "9223372036854775807"], b"+OK\r\n");
        t.check(&["INCRBYFLOAT", "q", "1"], b"$19\r\n9223372036854775808\r\n");
        t.check(&["SET", "t", "1", "PX", "5000"], b"+OK\r\n");
        t.check(&["INCRBYFLOAT", "t", "1"], b"$1\r\n2\r\n");
        assert_eq!(t.expire("t"), Some(t.now + 5_000));
    }

    #[test]
    fn incrbyfloat_errors() {
        let mut t = T::new(false);
        t.check(&["INCRBYFLOAT", "f", "abc"], b"-ERR value is not a valid float\r\n");
        t.check(&["INCRBYFLOAT", "f", " 1"], b"-ERR value is not a valid float\r\n");
        t.check(&["INCRBYFLOAT", "f", "1 "], b"-ERR value is not a valid float\r\n");
        t.check(&["INCRBYFLOAT", "f", ""], b"-ERR value is not a valid float\r\n");
        t.check(&["INCRBYFLOAT", "f", "nan"], b"-ERR value is not a valid float\r\n");
        t.check(&["INCRBYFLOAT", "f", "1e"], b"-ERR value is not a valid float\r\n");
        t.check(&["INCRBYFLOAT", "f", "0x"], b"-ERR value is not a valid float\r\n");
        t.check(&["INCRBYFLOAT", "f", "1\x00"], b"-ERR value is not a valid float\r\n");
        t.check(&["INCRBYFLOAT", "f", "1e5000"], b"-ERR value is not a valid float\r\n");
        t.check(&["INCRBYFLOAT", "f", "1e-5000"], b"-ERR value is not a valid float\r\n");
        t.check(&["INCRBYFLOAT", "f", "+inf"], b"-ERR increment would produce NaN or Infinity\r\n");
        t.check(&["INCRBYFLOAT", "f", "-infinity"], b"-ERR increment would produce NaN or Infinity\r\n");
        t.check_prefix(
            &["INCRBYFLOAT", "f", "1.18973149535723176502e4932"],
            b"$4933\r\n118973149535723176502126385303097",
        );
        t.check(
            &["INCRBYFLOAT", "f", "1.18973149535723176502e4932"],
            b"-ERR increment would produce NaN or Infinity\r\n",
        );
        t.check(&["SET", "s", "abc"], b"+OK\r\n");
        t.check(&["INCRBYFLOAT", "s", "1"], b"-ERR value is not a valid float\r\n");
        t.check(&["INCRBYFLOAT", "s", "abc"], b"-ERR value is not a valid float\r\n");
        t.check(&["SET", "s", "inf"], b"+OK\r\n");
        t.check(&["INCRBYFLOAT", "s", "1"], b"-ERR increment would produce NaN or Infinity\r\n");
        t.check(&["SET", "s", " 2"], b"+OK\r\n");
        t.check(&["INCRBYFLOAT", "s", "1"], b"-ERR value is not a valid float\r\n");
        t.check_prefix(&["GET", "f"], b"$4933\r\n118973149535723176502126385303097");
    }

    #[test]
    fn getrange_and_substr() {
        let mut t = T::new(false);
        t.check(&["GETRANGE", "missing", "0", "-1"], b"$0\r\n\r\n");
        t.check(&["GETRANGE", "missing", "a", "1"], b"-ERR value is not an integer or out of range\r\n");
        t.check(&["SET", "s", "Hello World"], b"+OK\r\n");
        t.check(&["GETRANGE", "s", "0", "4"], b"$5\r\nHello\r\n");
        t.check(&["GETRANGE", "s", "-3", "-1"], b"$3\r\nrld\r\n");
        t.check(&["GETRANGE", "s", "-1", "-3"], b"$0\r\n\r\n");
        t.check(&["GETRANGE", "s", "0", "-100"], b"$1\r\nH\r\n");
        t.check(&["GETRANGE", "s", "-100", "-50"], b"$1\r\nH\r\n");
        t.check(&["GETRANGE", "s", "5", "3"], b"$0\r\n\r\n");
        t.check(&["GETRANGE", "s", "100", "200"], b"$0\r\n\r\n");
        t.check(&["GETRANGE", "s", "0", "9223372036854775807"], b"$11\r\nHello World\r\n");
        t.check(&["GETRANGE", "s", "-9223372036854775808", "2"], b"$3\r\nHel\r\n");
        t.check(
            &["GETRANGE", "s", "1", "9223372036854775808"],
            b"-ERR value is not an integer or out of range\r\n",
        );
        t.check(&["GETRANGE", "s", "1", "x"], b"-ERR value is not an integer or out of range\r\n");
        t.check(&["SUBSTR", "s", "0", "2"], b"$3\r\nHel\r\n");
        t.check(&["SET", "e", ""], b"+OK\r\n");
        t.check(&["GETRANGE", "e", "0", "-1"], b"$0\r\n\r\n");
        t.check(&["GETRANGE", "e", "0", "0"], b"$0\r\n\r\n");
        t.check(&["SET", "i", "12345"], b"+OK\r\n");
        t.check(&["GETRANGE", "i", "1", "2"], b"$2\r\n23\r\n");
        t.check(&["GETRANGE", "i", "-2", "-1"], b"$2\r\n45\r\n");
    }

    #[test]
    fn setrange_values() {
        let mut t = T::new(false);
        t.check(&["SETRANGE", "x", "0", ""], b":0\r\n");
        t.check(&["GET", "x"], b"$-1\r\n");
        t.check(&["SETRANGE", "x", "-1", "a"], b"-ERR offset is out of range\r\n");
        t.check(&["SETRANGE", "x", "a", "a"], b"-ERR value is not an integer or out of range\r\n");
        t.check(&["SETRANGE", "x", "5", "ab"], b":7\r\n");
        t.check(&["GET", "x"], b"$7\r\n\x00\x00\x00\x00\x00ab\r\n");
        assert_eq!(t.encoding("x"), "raw");
        t.check(&["SET", "i", "12345"], b"+OK\r\n");
        t.check(&["SETRANGE", "i", "1", "9"], b":5\r\n");
        assert_eq!(t.encoding("i"), "raw");
        t.check(&["GET", "i"], b"$5\r\n19345\r\n");
        t.check(&["SETRANGE", "i", "0", ""], b":5\r\n");
        t.check(&["SETRANGE", "i", "7", ""], b":5\r\n");
        t.check(&["SETRANGE", "i", "6", "Z"], b":7\r\n");
        t.check(&["GET", "i"], b"$7\r\n19345\x00Z\r\n");
        t.check(&["SET", "sh", "abc"], b"+OK\r\n");
        t.check(&["SETRANGE", "sh", "1", "X"], b":3\r\n");
        assert_eq!(t.encoding("sh"), "raw");
        t.check(&["SETRANGE", "y", "9223372036854775807", ""], b":0\r\n");
        t.check(
            &["SETRANGE", "y", "9223372036854775807", "a"],
            b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
        );
        t.check(
            &["SETRANGE", "y", "536870912", "a"],
            b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
        );
        t.check(&["SETRANGE", "sh", "536870912", ""], b":3\r\n");
        t.check(&["SETEX", "t", "100", "v"], b"+OK\r\n");
        t.check(&["SETRANGE", "t", "0", "w"], b":1\r\n");
        assert_eq!(t.expire("t"), Some(t.now + 100_000));
    }

    #[test]
    fn setrange_size_limit() {
        let mut t = T::new(false);
        t.cfg.proto_max_bulk_len = 1_048_576;
        t.check(&["SETRANGE", "k", "1048575", "a"], b":1048576\r\n");
        t.check(
            &["SETRANGE", "k", "1048576", "a"],
            b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
        );
        t.check(
            &["SETRANGE", "k", "1048575", "ab"],
            b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
        );
        t.check(&["STRLEN", "k"], b":1048576\r\n");
    }

    #[test]
    fn lcs_resp2() {
        let mut t = T::new(false);
        t.check(&["SET", "k1", "ohmytext"], b"+OK\r\n");
        t.check(&["SET", "k2", "mynewtext"], b"+OK\r\n");
        t.check(&["LCS", "k1", "k2"], b"$6\r\nmytext\r\n");
        t.check(&["LCS", "k1", "k2", "LEN"], b":6\r\n");
        t.check(&["LCS", "k1", "k2", "IDX"], b"*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n");
        t.check(
            &["LCS", "k1", "k2", "IDX", "MINMATCHLEN", "4"],
            b"*4\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n$3\r\nlen\r\n:6\r\n",
        );
        t.check(&["LCS", "k1", "k2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"], b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n");
        t.check(&["LCS", "k1", "k2", "IDX", "WITHMATCHLEN"], b"*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:6\r\n");
        t.check(&["LCS", "k1", "k2", "idx", "withmatchlen", "minmatchlen", "3"], b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n");
        t.check(
            &["LCS", "k1", "k2", "LEN", "IDX"],
            b"-ERR If you want both the length and indexes, please just use IDX.\r\n",
        );
        t.check(
            &["LCS", "k1", "k2", "IDX", "LEN"],
            b"-ERR If you want both the length and indexes, please just use IDX.\r\n",
        );
        t.check(&["LCS", "k1", "k2", "FOO"], b"-ERR syntax error\r\n");
        t.check(&["LCS", "k1", "k2", "MINMATCHLEN"], b"-ERR syntax error\r\n");
        t.check(
            &["LCS", "k1", "k2", "MINMATCHLEN", "abc"],
            b"-ERR value is not an integer or out of range\r\n",
        );
        t.check(&["LCS", "k1", "k2", "MINMATCHLEN", "-5", "IDX"], b"*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n");
        t.check(&["LCS", "k1", "k2", "WITHMATCHLEN"], b"$6\r\nmytext\r\n");
        t.check(&["LCS", "k1", "k2", "LEN", "WITHMATCHLEN", "MINMATCHLEN", "2"], b":6\r\n");
        t.check(&["LCS", "k1", "missing"], b"$0\r\n\r\n");
        t.check(&["LCS", "missing", "missing2", "IDX"], b"*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n");
        t.check(&["LCS", "k1", "missing", "LEN"], b":0\r\n");
        t.check(&["LCS", "k1", "k1", "IDX", "WITHMATCHLEN"], b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:0\r\n:7\r\n*2\r\n:0\r\n:7\r\n:8\r\n$3\r\nlen\r\n:8\r\n");
        t.check(&["SET", "a", "abcabcabc"], b"+OK\r\n");
        t.check(&["SET", "b", "cbacbacba"], b"+OK\r\n");
        t.check(&["LCS", "a", "b"], b"$5\r\ncbabc\r\n");
        t.check(&["LCS", "a", "b", "IDX", "WITHMATCHLEN"], b"*4\r\n$7\r\nmatches\r\n*5\r\n*3\r\n*2\r\n:8\r\n:8\r\n*2\r\n:6\r\n:6\r\n:1\r\n*3\r\n*2\r\n:7\r\n:7\r\n*2\r\n:4\r\n:4\r\n:1\r\n*3\r\n*2\r\n:6\r\n:6\r\n*2\r\n:2\r\n:2\r\n:1\r\n*3\r\n*2\r\n:4\r\n:4\r\n*2\r\n:1\r\n:1\r\n:1\r\n*3\r\n*2\r\n:2\r\n:2\r\n*2\r\n:0\r\n:0\r\n:1\r\n$3\r\nlen\r\n:5\r\n");
        t.check(&["SET", "n", "12345"], b"+OK\r\n");
        t.check(&["SET", "m", "2x4"], b"+OK\r\n");
        t.check(&["LCS", "n", "m", "IDX"], b"*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:3\r\n:3\r\n*2\r\n:2\r\n:2\r\n*2\r\n*2\r\n:1\r\n:1\r\n*2\r\n:0\r\n:0\r\n$3\r\nlen\r\n:2\r\n");
    }

    #[test]
    fn lcs_resp3() {
        let mut t = T::new(true);
        t.check(&["SET", "k1", "ohmytext"], b"+OK\r\n");
        t.check(&["SET", "k2", "mynewtext"], b"+OK\r\n");
        t.check(&["LCS", "k1", "k2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"], b"%2\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n");
        t.check(&["LCS", "k1", "k2", "IDX"], b"%2\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n");
        t.check(&["LCS", "missing", "missing2", "IDX"], b"%2\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n");
        t.check(&["LCS", "k1", "k2", "LEN"], b":6\r\n");
    }

    #[test]
    fn lcs_table_limit() {
        let mut t = T::new(false);
        t.cfg.proto_max_bulk_len = 1_048_576;
        t.check(&["SETRANGE", "a", "599", "x"], b":600\r\n");
        t.check(&["SETRANGE", "b", "599", "y"], b":600\r\n");
        t.check(
            &["LCS", "a", "b", "LEN"],
            b"-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n",
        );
        t.check(&["SETRANGE", "c", "400", "x"], b":401\r\n");
        t.check(&["LCS", "a", "c", "LEN"], b":401\r\n");
    }

    #[test]
    fn resp3_nulls() {
        let mut t = T::new(true);
        t.check(&["GET", "nothing"], b"_\r\n");
        t.check(&["MGET", "nothing", "nothing2"], b"*2\r\n_\r\n_\r\n");
        t.check(&["SET", "nothing", "v", "GET"], b"_\r\n");
        t.check(&["SET", "nothing3", "v", "XX"], b"_\r\n");
        t.check(&["GETEX", "nothing2"], b"_\r\n");
        t.check(&["GETDEL", "nothing2"], b"_\r\n");
        t.check(&["GETSET", "nothing2", "x"], b"_\r\n");
        t.check(&["SETNX", "nothing2", "y"], b":0\r\n");
        t.check(&["INCRBYFLOAT", "f", "1.5"], b"$3\r\n1.5\r\n");
    }
}
