//! The list group: pushes and pops at both ends (LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP), reads by
//! position (LLEN LINDEX LRANGE LPOS), edits in place (LSET LINSERT LREM LTRIM), moves between
//! lists (LMOVE RPOPLPUSH LMPOP) and the blocking forms (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP).
//!
//! Replies, error words and the order of checks (which argument is parsed before the key is
//! looked up) follow Redis 7.0's `t_list.c`, compared byte for byte with redis-server. Empty
//! lists are deleted. Reads count keyspace hits and misses (`Ctx::lookup`); writes look keys up
//! quietly but refresh their idle time, as `lookupKeyWrite` does.
//!
//! Blocking commands here make one non-blocking attempt; with nothing to pop they reply what
//! Redis replies on timeout (a null array), which is what the server keys off to park the
//! client. Multi-key commands see every declared key in their one `Ctx` (the coordinator
//! gathers them when they span shards).

use super::{Args, BLOCKING, Command, Exec, READONLY, Special, WRITE, eq_ic, numkeys_keys, parse_int};
use crate::error::{CmdError, CmdResult};
use crate::resp::Out;
use crate::shard::{Ctx, Entry, Value};
use crate::types::list::{End, List};
use crate::types::listpack::{Elem, as_int};
use crate::types::long_double::{self, LdError};

const fn cmd(name: &'static str, arity: i32, flags: u32, keys: (i32, i32, i32), exec: Exec) -> Command {
    Command { name, arity, flags, first_key: keys.0, last_key: keys.1, step: keys.2, keys_fn: None, exec }
}

const KEY1: (i32, i32, i32) = (1, 1, 1);
const TWO_KEYS: (i32, i32, i32) = (1, 2, 1);
/// BLPOP/BRPOP: every argument but the timeout.
const KEYS_BUT_LAST: (i32, i32, i32) = (1, -2, 1);

/// Arity and key positions are Redis 7.2's (`src/commands/*.json`).
pub const COMMANDS: &[Command] = &[
    cmd("lpush", -3, WRITE, KEY1, Exec::Shard(lpush)),
    cmd("rpush", -3, WRITE, KEY1, Exec::Shard(rpush)),
    cmd("lpushx", -3, WRITE, KEY1, Exec::Shard(lpushx)),
    cmd("rpushx", -3, WRITE, KEY1, Exec::Shard(rpushx)),
    cmd("lpop", -2, WRITE, KEY1, Exec::Shard(lpop)),
    cmd("rpop", -2, WRITE, KEY1, Exec::Shard(rpop)),
    cmd("llen", 2, READONLY, KEY1, Exec::Shard(llen)),
    cmd("lrange", 4, READONLY, KEY1, Exec::Shard(lrange)),
    cmd("lindex", 3, READONLY, KEY1, Exec::Shard(lindex)),
    cmd("lset", 4, WRITE, KEY1, Exec::Shard(lset)),
    cmd("linsert", 5, WRITE, KEY1, Exec::Shard(linsert)),
    cmd("lrem", 4, WRITE, KEY1, Exec::Shard(lrem)),
    cmd("ltrim", 4, WRITE, KEY1, Exec::Shard(ltrim)),
    cmd("lpos", -3, READONLY, KEY1, Exec::Shard(lpos)),
    cmd("lmove", 5, WRITE, TWO_KEYS, Exec::Cross(lmove, Special::Gather)),
    cmd("rpoplpush", 3, WRITE, TWO_KEYS, Exec::Cross(rpoplpush, Special::Gather)),
    Command {
        keys_fn: Some(numkeys_keys::<1, false>),
        ..cmd("lmpop", -4, WRITE, (0, 0, 0), Exec::Cross(lmpop, Special::Gather))
    },
    cmd("blpop", -3, WRITE | BLOCKING, KEYS_BUT_LAST, Exec::Cross(blpop, Special::Gather)),
    cmd("brpop", -3, WRITE | BLOCKING, KEYS_BUT_LAST, Exec::Cross(brpop, Special::Gather)),
    cmd("blmove", 6, WRITE | BLOCKING, TWO_KEYS, Exec::Cross(blmove, Special::Gather)),
    cmd("brpoplpush", 4, WRITE | BLOCKING, TWO_KEYS, Exec::Cross(brpoplpush, Special::Gather)),
    Command {
        keys_fn: Some(numkeys_keys::<2, false>),
        ..cmd("blmpop", -5, WRITE | BLOCKING, (0, 0, 0), Exec::Cross(blmpop, Special::Gather))
    },
];

const MUST_BE_POSITIVE: &str = "value is out of range, must be positive";
const NO_SUCH_KEY: &str = "ERR no such key";
const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
const RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
const NUMKEYS: &str = "numkeys should be greater than 0";
const COUNT_POSITIVE: &str = "count should be greater than 0";
const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";

// ---- Lookups and argument helpers ----

fn list_of(v: &Value) -> CmdResult<&List> {
    match v {
        Value::List(l) => Ok(l),
        _ => Err(CmdError::WrongType),
    }
}

fn list_of_mut(v: &mut Value) -> CmdResult<&mut List> {
    match v {
        Value::List(l) => Ok(l),
        _ => Err(CmdError::WrongType),
    }
}

/// A list read by a client (a keyspace hit or miss): None if missing, WRONGTYPE if not a list.
fn read<'c>(ctx: &'c mut Ctx, key: &[u8]) -> CmdResult<Option<&'c List>> {
    ctx.lookup(key).map(|e| list_of(&e.value)).transpose()
}

/// A key looked up to write it (Redis's `lookupKeyWrite`): not counted, but its idle time resets.
fn lookup_write<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Option<&'c mut Entry> {
    let clock = ctx.clock_secs();
    let entry = ctx.lookup_quiet(key)?;
    entry.access_secs = clock;
    Some(entry)
}

/// A list to write: None if missing, WRONGTYPE if not a list.
fn write<'c>(ctx: &'c mut Ctx, key: &[u8]) -> CmdResult<Option<&'c mut List>> {
    lookup_write(ctx, key).map(|e| list_of_mut(&mut e.value)).transpose()
}

/// Deletes `key` if its list became empty.
fn drop_if_empty(ctx: &mut Ctx, key: &[u8]) {
    if ctx.lookup_quiet(key).is_some_and(|e| matches!(&e.value, Value::List(l) if l.is_empty())) {
        ctx.db().remove(key);
    }
}

fn fill(ctx: &Ctx) -> i64 {
    ctx.config.list_max_listpack_size
}

fn bulk_elem(out: &mut Out, e: Elem) {
    match e {
        Elem::Str(s) => out.bulk(s),
        Elem::Int(i) => out.bulk_i64(i),
    }
}

/// Redis's `getRangeLongFromObjectOrReply`: `msg` (if given) replaces both the parse error
/// and the range error.
fn long_in(arg: &[u8], min: i64, max: i64, msg: Option<&str>) -> CmdResult<i64> {
    let custom = || CmdError::msg(format!("ERR {}", msg.unwrap_or_default()));
    let v = match parse_int(arg) {
        Ok(v) => v,
        Err(e) => return Err(if msg.is_some() { custom() } else { e }),
    };
    if v < min || v > max {
        return Err(match msg {
            Some(_) => custom(),
            None => CmdError::msg(format!("ERR value is out of range, value must between {min} and {max}")),
        });
    }
    Ok(v)
}

fn end_of(arg: &[u8]) -> CmdResult<End> {
    if eq_ic(arg, "left") {
        Ok(End::Head)
    } else if eq_ic(arg, "right") {
        Ok(End::Tail)
    } else {
        Err(CmdError::Syntax)
    }
}

// ---- Pushes ----

/// `LPUSH key element [element ...]`
///
/// The length after pushing; each element goes to the head in turn.
fn lpush(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    push(ctx, args, End::Head, false, out)
}

/// `RPUSH key element [element ...]`
fn rpush(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    push(ctx, args, End::Tail, false, out)
}

/// `LPUSHX key element [element ...]`
///
/// As LPUSH, but only onto an existing list; :0 otherwise.
fn lpushx(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    push(ctx, args, End::Head, true, out)
}

/// `RPUSHX key element [element ...]`
fn rpushx(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    push(ctx, args, End::Tail, true, out)
}

fn push(ctx: &mut Ctx, args: Args, end: End, only_existing: bool, out: &mut Out) -> CmdResult {
    let key = args.get(1);
    let fill = fill(ctx);
    let list = match write(ctx, key)? {
        Some(l) => l,
        None if only_existing => {
            out.int(0);
            return Ok(());
        }
        None => {
            let entry = ctx.new_entry(Value::List(List::default()));
            ctx.db().insert(key, entry);
            write(ctx, key)?.expect("just inserted")
        }
    };
    for v in args.iter().skip(2) {
        list.push(end, v, fill);
    }
    out.int(list.len() as i64);
    Ok(())
}

// ---- Pops ----

/// `LPOP key [count]`
///
/// The head element (nil if none); with a count, an array of up to `count` elements (a null
/// array if the key is missing).
fn lpop(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    pop(ctx, args, End::Head, out)
}

/// `RPOP key [count]`
fn rpop(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    pop(ctx, args, End::Tail, out)
}

fn pop(ctx: &mut Ctx, args: Args, end: End, out: &mut Out) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::WrongArity(if end == End::Head { "lpop" } else { "rpop" }.into()));
    }
    let count = match args.len() {
        3 => Some(long_in(args.get(2), 0, i64::MAX, Some(MUST_BE_POSITIVE))? as usize),
        _ => None,
    };
    let key = args.get(1);
    let Some(list) = write(ctx, key)? else {
        match count {
            Some(_) => out.null_array(),
            None => out.null(),
        }
        return Ok(());
    };
    match count {
        None => {
            list.pop_with(end, |e| bulk_elem(out, e));
        }
        Some(n) => pop_many(list, end, n, out),
    }
    drop_if_empty(ctx, key);
    Ok(())
}

/// Pops up to `n` elements from `end`, replying with them as an array.
fn pop_many(list: &mut List, end: End, n: usize, out: &mut Out) {
    let n = n.min(list.len());
    out.array(n);
    for _ in 0..n {
        list.pop_with(end, |e| bulk_elem(out, e));
    }
}

// ---- Reads ----

/// `LLEN key`
fn llen(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let len = read(ctx, args.get(1))?.map_or(0, List::len);
    out.int(len as i64);
    Ok(())
}

/// `LINDEX key index`
///
/// The element at `index` (negative counts from the tail), nil if out of range.
fn lindex(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    // Redis looks the key up before it parses the index.
    let Some(list) = read(ctx, args.get(1))? else {
        out.null();
        return Ok(());
    };
    let index = args.i64(2)?;
    match list.resolve(index).and_then(|i| list.get(i)) {
        Some(e) => bulk_elem(out, e),
        None => out.null(),
    }
    Ok(())
}

/// Redis's clamping of a start/stop range: None if empty, else inclusive positions.
fn clamp_range(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop.min(len - 1) as usize))
}

/// `LRANGE key start stop`
///
/// The elements from `start` to `stop`, inclusive; negative positions count from the tail.
fn lrange(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let (start, stop) = (args.i64(2)?, args.i64(3)?);
    let Some(list) = read(ctx, args.get(1))? else {
        out.array(0);
        return Ok(());
    };
    match clamp_range(list.len(), start, stop) {
        None => out.array(0),
        Some((from, to)) => {
            out.array(to - from + 1);
            for e in list.iter_from(from).take(to - from + 1) {
                bulk_elem(out, e);
            }
        }
    }
    Ok(())
}

/// The LPOS options.
struct LposOptions {
    rank: i64,
    count: Option<usize>,
    maxlen: usize,
}

fn parse_lpos(args: Args) -> CmdResult<LposOptions> {
    let mut o = LposOptions { rank: 1, count: None, maxlen: 0 };
    let mut j = 3;
    while j < args.len() {
        let opt = args.get(j);
        let more = j + 1 < args.len();
        if eq_ic(opt, "rank") && more {
            j += 1;
            o.rank = args.i64(j)?;
            // Redis 7.0 negates the rank unchecked; for the most negative one its build
            // behaves as RANK -1 (7.2 refuses it with a range error).
            if o.rank == i64::MIN {
                o.rank = -1;
            }
            if o.rank == 0 {
                return Err(CmdError::msg(RANK_ZERO));
            }
        } else if eq_ic(opt, "count") && more {
            j += 1;
            o.count = Some(long_in(args.get(j), 0, i64::MAX, Some("COUNT can't be negative"))? as usize);
        } else if eq_ic(opt, "maxlen") && more {
            j += 1;
            o.maxlen = long_in(args.get(j), 0, i64::MAX, Some("MAXLEN can't be negative"))? as usize;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`
///
/// The position of the `rank`-th match (negative ranks search from the tail), or nil; with
/// COUNT an array of up to that many positions (0 = all). MAXLEN bounds the elements compared.
fn lpos(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let o = parse_lpos(args)?;
    let Some(list) = read(ctx, args.get(1))? else {
        match o.count {
            Some(_) => out.array(0),
            None => out.null(),
        }
        return Ok(());
    };
    let (v, v_int) = (args.get(2), as_int(args.get(2)));
    let len = list.len();
    let limit = if o.maxlen == 0 { len } else { o.maxlen.min(len) };
    let from_tail = o.rank < 0;
    let mut skip = o.rank.unsigned_abs() - 1;
    let want = o.count.map_or(1, |c| if c == 0 { usize::MAX } else { c });
    let mut found = Vec::new();
    let mut visit = |k: usize, e: Elem| {
        if !e.eq_bytes(v, v_int) {
            return true;
        }
        if skip > 0 {
            skip -= 1;
            return true;
        }
        found.push(if from_tail { len - 1 - k } else { k });
        found.len() < want
    };
    if from_tail {
        for (k, e) in list.iter_rev_from(len.wrapping_sub(1)).take(limit).enumerate() {
            if !visit(k, e) {
                break;
            }
        }
    } else {
        for (k, e) in list.iter().take(limit).enumerate() {
            if !visit(k, e) {
                break;
            }
        }
    }
    match o.count {
        Some(_) => {
            out.array(found.len());
            for p in found {
                out.int(p as i64);
            }
        }
        None => match found.first() {
            Some(&p) => out.int(p as i64),
            None => out.null(),
        },
    }
    Ok(())
}

// ---- Edits ----

/// `LSET key index element`
///
/// +OK; errors if the key is missing or the index out of range.
fn lset(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let fill = fill(ctx);
    let list = write(ctx, args.get(1))?.ok_or_else(|| CmdError::msg(NO_SUCH_KEY))?;
    let index = args.i64(2)?;
    let i = list.resolve(index).ok_or_else(|| CmdError::msg(INDEX_OUT_OF_RANGE))?;
    list.set(i, args.get(3), fill);
    out.ok();
    Ok(())
}

/// `LINSERT key BEFORE|AFTER pivot element`
///
/// The length after inserting next to the first `pivot`; -1 if there is no pivot, 0 if the
/// key is missing.
fn linsert(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let after = if eq_ic(args.get(2), "after") {
        true
    } else if eq_ic(args.get(2), "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let fill = fill(ctx);
    let Some(list) = write(ctx, args.get(1))? else {
        out.int(0);
        return Ok(());
    };
    let (pivot, pivot_int) = (args.get(3), as_int(args.get(3)));
    let found = list.iter().position(|e| e.eq_bytes(pivot, pivot_int));
    match found {
        Some(p) => {
            list.insert(p + after as usize, args.get(4), fill);
            out.int(list.len() as i64);
        }
        None => out.int(-1),
    }
    Ok(())
}

/// `LREM key count element`
///
/// How many elements equal to `element` were removed: the first `count` from the head if
/// positive, the last `-count` if negative, all if 0.
fn lrem(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let count = args.i64(2)?;
    let key = args.get(1);
    let Some(list) = write(ctx, key)? else {
        out.int(0);
        return Ok(());
    };
    let from = if count < 0 { End::Tail } else { End::Head };
    let max = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let removed = list.remove_matching(args.get(3), max, from);
    out.int(removed as i64);
    drop_if_empty(ctx, key);
    Ok(())
}

/// `LTRIM key start stop`
///
/// +OK; keeps only the elements from `start` to `stop` (the key goes if none remain).
fn ltrim(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let (start, stop) = (args.i64(2)?, args.i64(3)?);
    let key = args.get(1);
    if let Some(list) = write(ctx, key)? {
        let len = list.len();
        match clamp_range(len, start, stop) {
            None => list.remove_range(0, len),
            Some((from, to)) => {
                list.remove_range(to + 1, len - to - 1);
                list.remove_range(0, from);
            }
        }
        drop_if_empty(ctx, key);
    }
    out.ok();
    Ok(())
}

// ---- Moves between lists ----

/// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`
///
/// The element moved from one end of `source` to one end of `destination`, or nil if
/// `source` is missing.
fn lmove(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let (from, to) = (end_of(args.get(3))?, end_of(args.get(4))?);
    move_one(ctx, args.get(1), args.get(2), from, to, out)
}

/// `RPOPLPUSH source destination` (LMOVE source destination RIGHT LEFT)
fn rpoplpush(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    move_one(ctx, args.get(1), args.get(2), End::Tail, End::Head, out)
}

/// LMOVE's work. Returns whether an element moved and was replied; false leaves the reply
/// (LMOVE's nil, or the blocking forms' timeout reply) to the caller.
fn try_move(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End, out: &mut Out) -> CmdResult<bool> {
    let fill = fill(ctx);
    let Some(list) = write(ctx, src)? else {
        return Ok(false);
    };
    let value = list.peek(from).expect("lists are never empty").to_vec();
    // The destination's type is checked before anything moves.
    write(ctx, dst)?;
    let list = write(ctx, src)?.expect("source checked above");
    list.pop(from);
    drop_if_empty(ctx, src);
    match write(ctx, dst)? {
        Some(d) => d.push(to, &value, fill),
        None => {
            let mut l = List::new();
            l.push(to, &value, fill);
            let entry = ctx.new_entry(Value::List(l));
            ctx.db().insert(dst, entry);
        }
    }
    out.bulk(&value);
    Ok(true)
}

fn move_one(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End, out: &mut Out) -> CmdResult {
    if !try_move(ctx, src, dst, from, to, out)? {
        out.null();
    }
    Ok(())
}

/// Parses `numkeys key... LEFT|RIGHT [COUNT count]` from `at`; returns (first key index,
/// number of keys, end, count).
fn parse_mpop(args: Args, at: usize) -> CmdResult<(usize, usize, End, usize)> {
    let numkeys = long_in(args.get(at), 1, i64::MAX, Some(NUMKEYS))? as usize;
    let where_at = at.saturating_add(numkeys).saturating_add(1);
    if where_at >= args.len() {
        return Err(CmdError::Syntax);
    }
    let end = end_of(args.get(where_at))?;
    let mut count = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && eq_ic(args.get(j), "count") && j + 1 < args.len() {
            j += 1;
            count = Some(long_in(args.get(j), 1, i64::MAX, Some(COUNT_POSITIVE))? as usize);
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok((at + 1, numkeys, end, count.unwrap_or(1)))
}

/// Pops up to `count` from the first non-empty list among `keys`, replying `[key, [elements]]`;
/// returns false (replying nothing) if every list is missing.
fn mpop(
    ctx: &mut Ctx,
    args: Args,
    keys: std::ops::Range<usize>,
    end: End,
    count: usize,
    out: &mut Out,
) -> CmdResult<bool> {
    for i in keys {
        let key = args.get(i);
        if let Some(list) = write(ctx, key)? {
            out.array(2);
            out.bulk(key);
            pop_many(list, end, count, out);
            drop_if_empty(ctx, key);
            return Ok(true);
        }
    }
    Ok(false)
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`
///
/// `[key, [elements]]` from the first non-empty list, or a null array.
fn lmpop(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let (first, n, end, count) = parse_mpop(args, 1)?;
    if !mpop(ctx, args, first..first + n, end, count, out)? {
        out.null_array();
    }
    Ok(())
}

// ---- Blocking forms: one attempt, then the timeout reply ----

/// Checks a timeout in seconds as Redis's `getTimeoutFromObjectOrReply` does: parsed as a long
/// double, times 1000 truncated to an integer (where anything out of range, infinity included,
/// becomes the most negative integer, as on x86), then not negative.
fn check_timeout(arg: &[u8]) -> CmdResult {
    if arg.contains(&0) {
        return Err(CmdError::msg(TIMEOUT_NOT_FLOAT));
    }
    let ms = match long_double::add(b"0", arg) {
        Ok(text) => {
            let secs: f64 =
                std::str::from_utf8(&text).ok().and_then(|s| s.parse().ok()).unwrap_or(f64::INFINITY);
            let ms = secs * 1000.0;
            if ms.abs() < 9.223_372_036_854_775e18 { ms as i64 } else { i64::MIN }
        }
        Err(LdError::NanOrInfinity) => i64::MIN,
        Err(LdError::NotFloat) => return Err(CmdError::msg(TIMEOUT_NOT_FLOAT)),
    };
    if ms < 0 {
        return Err(CmdError::msg(TIMEOUT_NEGATIVE));
    }
    // Redis 7.2 also refuses a timeout past the clock's end ("ERR timeout is out of range");
    // 7.0, which the differential tests compare against, accepts it.
    Ok(())
}

/// `BLPOP key [key ...] timeout`
///
/// `[key, element]` from the first non-empty list; a null array when all are empty (the
/// timeout reply, on which the server parks the client).
fn blpop(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    blocking_pop(ctx, args, End::Head, out)
}

/// `BRPOP key [key ...] timeout`
fn brpop(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    blocking_pop(ctx, args, End::Tail, out)
}

fn blocking_pop(ctx: &mut Ctx, args: Args, end: End, out: &mut Out) -> CmdResult {
    check_timeout(args.get(args.len() - 1))?;
    for i in 1..args.len() - 1 {
        let key = args.get(i);
        if let Some(list) = write(ctx, key)? {
            out.array(2);
            out.bulk(key);
            list.pop_with(end, |e| bulk_elem(out, e));
            drop_if_empty(ctx, key);
            return Ok(());
        }
    }
    out.null_array();
    Ok(())
}

/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`
///
/// As LMOVE; a null array (the timeout reply) if `source` is empty.
fn blmove(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let (from, to) = (end_of(args.get(3))?, end_of(args.get(4))?);
    check_timeout(args.get(5))?;
    blocking_move(ctx, args.get(1), args.get(2), from, to, out)
}

/// `BRPOPLPUSH source destination timeout`
fn brpoplpush(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    check_timeout(args.get(3))?;
    blocking_move(ctx, args.get(1), args.get(2), End::Tail, End::Head, out)
}

fn blocking_move(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End, out: &mut Out) -> CmdResult {
    // On timeout Redis replies with a null array, not LMOVE's null bulk.
    if !try_move(ctx, src, dst, from, to, out)? {
        out.null_array();
    }
    Ok(())
}

/// `BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`
fn blmpop(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    check_timeout(args.get(1))?;
    let (first, n, end, count) = parse_mpop(args, 2)?;
    if !mpop(ctx, args, first..first + n, end, count, out)? {
        out.null_array();
    }
    Ok(())
}
