//! The set group: SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER SMOVE, the
//! algebra (SINTER SINTERCARD SUNION SDIFF and their STORE forms) and SSCAN.
//!
//! Replies, errors and the order of checks follow Redis 7.0's `t_set.c`, which the
//! differential tests compare against: 7.0 has no listpack sets, so a set is an intset or a
//! hashtable (see `types::set`). Results of the algebra are built as Redis builds them (an
//! intset first, converted as members come), so an all-integer result replies in ascending
//! order exactly as Redis's does.
//!
//! Multi-key commands see all their keys in one `Ctx` (the coordinator gathers them when they
//! span shards) and touch no other key.

use super::generic::{parse_scan_args, parse_scan_cursor};
use super::{Args, Command, Exec, READONLY, Special, WRITE, numkeys_keys, parse_int};
use crate::error::{CmdError, CmdResult};
use crate::resp::Out;
use crate::shard::{Ctx, Value};
use crate::types::glob::glob_match;
use crate::types::set::{Set, xorshift};

const fn cmd(name: &'static str, arity: i32, flags: u32, keys: (i32, i32, i32), exec: Exec) -> Command {
    Command { name, arity, flags, first_key: keys.0, last_key: keys.1, step: keys.2, keys_fn: None, exec }
}

const fn numkeys(name: &'static str, arity: i32, exec: Exec) -> Command {
    Command {
        name,
        arity,
        flags: READONLY,
        first_key: 0,
        last_key: 0,
        step: 0,
        keys_fn: Some(numkeys_keys::<1, false>),
        exec,
    }
}

const KEY1: (i32, i32, i32) = (1, 1, 1);
const ALL_KEYS: (i32, i32, i32) = (1, -1, 1);

/// Arity and key positions are Redis 7.2's (`src/commands/*.json`).
pub const COMMANDS: &[Command] = &[
    cmd("sadd", -3, WRITE, KEY1, Exec::Shard(sadd)),
    cmd("srem", -3, WRITE, KEY1, Exec::Shard(srem)),
    cmd("smembers", 2, READONLY, KEY1, Exec::Shard(smembers)),
    cmd("sismember", 3, READONLY, KEY1, Exec::Shard(sismember)),
    cmd("smismember", -3, READONLY, KEY1, Exec::Shard(smismember)),
    cmd("scard", 2, READONLY, KEY1, Exec::Shard(scard)),
    cmd("spop", -2, WRITE, KEY1, Exec::Shard(spop)),
    cmd("srandmember", -2, READONLY, KEY1, Exec::Shard(srandmember)),
    cmd("smove", 4, WRITE, (1, 2, 1), Exec::Cross(smove, Special::Gather)),
    cmd("sinter", -2, READONLY, ALL_KEYS, Exec::Cross(sinter, Special::Gather)),
    numkeys("sintercard", -3, Exec::Cross(sintercard, Special::Gather)),
    cmd("sinterstore", -3, WRITE, ALL_KEYS, Exec::Cross(sinterstore, Special::Gather)),
    cmd("sunion", -2, READONLY, ALL_KEYS, Exec::Cross(sunion, Special::Gather)),
    cmd("sunionstore", -3, WRITE, ALL_KEYS, Exec::Cross(sunionstore, Special::Gather)),
    cmd("sdiff", -2, READONLY, ALL_KEYS, Exec::Cross(sdiff, Special::Gather)),
    cmd("sdiffstore", -3, WRITE, ALL_KEYS, Exec::Cross(sdiffstore, Special::Gather)),
    cmd("sscan", -3, READONLY, KEY1, Exec::Shard(sscan)),
];

const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";

// ---- Lookups ----

fn set_of(v: &Value) -> CmdResult<&Set> {
    match v {
        Value::Set(s) => Ok(s),
        _ => Err(CmdError::WrongType),
    }
}

/// A key's set as a client read sees it (a keyspace hit or miss).
fn read<'c>(ctx: &'c mut Ctx, key: &[u8]) -> CmdResult<Option<&'c Set>> {
    ctx.lookup(key).map(|e| set_of(&e.value)).transpose()
}

/// A key's set looked up to write it (not counted; resets its idle time, as Redis's
/// `lookupKeyWrite`).
fn write<'c>(ctx: &'c mut Ctx, key: &[u8]) -> CmdResult<Option<&'c mut Set>> {
    let clock = ctx.clock_secs();
    match ctx.lookup_quiet(key) {
        None => Ok(None),
        Some(e) => {
            e.access_secs = clock;
            match &mut e.value {
                Value::Set(s) => Ok(Some(s)),
                _ => Err(CmdError::WrongType),
            }
        }
    }
}

/// Deletes `key` if its set became empty (Redis never keeps empty collections).
fn drop_if_empty(ctx: &mut Ctx, key: &[u8]) {
    if ctx.lookup_quiet(key).is_some_and(|e| matches!(&e.value, Value::Set(s) if s.is_empty())) {
        ctx.db().remove(key);
    }
}

fn reply_members(out: &mut Out, set: &Set) {
    out.set(set.len());
    set.for_each(|m| out.bulk(m));
}

/// The empty set reply (`*0` / `~0`).
fn empty_set(out: &mut Out) {
    out.set(0);
}

// ---- Single-key commands ----

/// `SADD key member [member ...]`
///
/// The number of members that were new.
fn sadd(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let (key, max) = (args.get(1), ctx.config.set_max_intset_entries);
    let mut added = 0;
    match write(ctx, key)? {
        Some(set) => args.iter().skip(2).for_each(|m| added += set.add(m, max) as i64),
        None => {
            let mut set = Set::for_member(args.get(2));
            args.iter().skip(2).for_each(|m| added += set.add(m, max) as i64);
            let entry = ctx.new_entry(Value::Set(set));
            ctx.db().insert(key, entry);
        }
    }
    out.int(added);
    Ok(())
}

/// `SREM key member [member ...]`
///
/// The number of members removed.
fn srem(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let key = args.get(1);
    let Some(set) = write(ctx, key)? else {
        out.int(0);
        return Ok(());
    };
    let removed = args.iter().skip(2).filter(|m| set.remove(m)).count();
    drop_if_empty(ctx, key);
    out.int(removed as i64);
    Ok(())
}

/// `SMEMBERS key`
///
/// Every member (a RESP3 set).
fn smembers(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    match read(ctx, args.get(1))? {
        Some(set) => reply_members(out, set),
        None => empty_set(out),
    }
    Ok(())
}

/// `SISMEMBER key member`
///
/// :1 if `member` is in the set, else :0.
fn sismember(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let found = read(ctx, args.get(1))?.is_some_and(|s| s.contains(args.get(2)));
    out.int(found as i64);
    Ok(())
}

/// `SMISMEMBER key member [member ...]`
///
/// One :1 or :0 per member.
fn smismember(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let set = read(ctx, args.get(1))?;
    out.array(args.len() - 2);
    for m in args.iter().skip(2) {
        out.int(set.is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

/// `SCARD key`
///
/// The number of members (0 for a missing key).
fn scard(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let n = read(ctx, args.get(1))?.map_or(0, |s| s.len());
    out.int(n as i64);
    Ok(())
}

/// `SPOP key [count]`
///
/// Without count: one random member removed, or nil. With count: up to `count` random
/// distinct members removed (a RESP3 set).
fn spop(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let key = args.get(1);
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = if args.len() == 3 {
        let c = parse_int(args.get(2)).map_err(|_| CmdError::msg(NOT_POSITIVE))?;
        if c < 0 {
            return Err(CmdError::msg(NOT_POSITIVE));
        }
        Some(c as u64)
    } else {
        None
    };
    let mut rng = ctx.shard.rng;
    let Some(set) = write(ctx, key)? else {
        match count {
            Some(_) => empty_set(out),
            None => out.null(),
        }
        return Ok(());
    };
    match count {
        None => {
            let m = set.pop_random(&mut rng).expect("stored sets are not empty");
            out.bulk(&m);
        }
        Some(0) => empty_set(out),
        Some(c) if c >= set.len() as u64 => {
            reply_members(out, set);
            *set = Set::default();
        }
        Some(c) => {
            out.set(c as usize);
            for _ in 0..c {
                let m = set.pop_random(&mut rng).expect("count is below the size");
                out.bulk(&m);
            }
        }
    }
    ctx.shard.rng = rng;
    drop_if_empty(ctx, key);
    Ok(())
}

/// `SRANDMEMBER key [count]`
///
/// Without count: a random member, or nil. With a positive count: up to `count` distinct
/// members; with a negative count: exactly `-count` members, possibly repeated.
fn srandmember(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = if args.len() == 3 {
        let c = parse_int(args.get(2))?;
        if c == i64::MIN {
            return Err(CmdError::msg(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        Some(c)
    } else {
        None
    };
    let mut rng = ctx.shard.rng;
    let set = read(ctx, args.get(1))?;
    match (set, count) {
        (None, None) => out.null(),
        (None, Some(_)) | (Some(_), Some(0)) => out.array(0),
        (Some(set), None) => {
            set.random(&mut rng).expect("stored sets are not empty").with_bytes(|m| out.bulk(m))
        }
        (Some(set), Some(c)) if c < 0 => {
            out.array(c.unsigned_abs() as usize);
            for _ in 0..c.unsigned_abs() {
                set.random(&mut rng).expect("not empty").with_bytes(|m| out.bulk(m));
            }
        }
        (Some(set), Some(c)) if c as u64 >= set.len() as u64 => {
            out.array(set.len());
            set.for_each(|m| out.bulk(m));
        }
        (Some(set), Some(c)) => {
            let picked = distinct_random(set, c as usize, &mut rng);
            out.array(picked.len());
            picked.iter().for_each(|m| out.bulk(m));
        }
    }
    ctx.shard.rng = rng;
    Ok(())
}

/// `n` distinct random members of a set larger than `n`: drawn at random while that is cheap,
/// else by removing random members from a copy (Redis's two strategies).
fn distinct_random(set: &Set, n: usize, rng: &mut u64) -> Vec<Vec<u8>> {
    if n * 3 > set.len() {
        let mut all = Vec::with_capacity(set.len());
        set.for_each(|m| all.push(m.to_vec()));
        while all.len() > n {
            let i = (xorshift(rng) % all.len() as u64) as usize;
            all.swap_remove(i);
        }
        return all;
    }
    let mut picked: Vec<Vec<u8>> = Vec::with_capacity(n);
    let mut seen = crate::types::dict::Dict::new();
    while picked.len() < n {
        let m = set.random(rng).expect("not empty").to_vec();
        if seen.insert_slice(&m, ()).is_none() {
            picked.push(m);
        }
    }
    picked
}

/// `SMOVE source destination member`
///
/// :1 if `member` moved (or is in `source` when both keys are the same), :0 if it was not in
/// `source`.
fn smove(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let (src, dst, member) = (args.get(1), args.get(2), args.get(3));
    let max = ctx.config.set_max_intset_entries;
    if write(ctx, src)?.is_none() {
        out.int(0);
        return Ok(());
    }
    write(ctx, dst)?;
    if src == dst {
        let found = write(ctx, src)?.is_some_and(|s| s.contains(member));
        out.int(found as i64);
        return Ok(());
    }
    let removed = write(ctx, src)?.is_some_and(|s| s.remove(member));
    if !removed {
        out.int(0);
        return Ok(());
    }
    drop_if_empty(ctx, src);
    match write(ctx, dst)? {
        Some(set) => {
            set.add(member, max);
        }
        None => {
            let mut set = Set::for_member(member);
            set.add(member, max);
            let entry = ctx.new_entry(Value::Set(set));
            ctx.db().insert(dst, entry);
        }
    }
    out.int(1);
    Ok(())
}

// ---- The algebra ----

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// The sets at `keys`, each `None` when missing; WRONGTYPE if any key holds another type
/// (Redis checks every key before computing).
fn sets_at<'c>(ctx: &'c mut Ctx, keys: &[&[u8]]) -> CmdResult<Vec<Option<&'c Set>>> {
    for key in keys {
        read(ctx, key)?;
    }
    let db = &ctx.shard.dbs[ctx.db];
    let now = ctx.now_ms;
    keys.iter().map(|k| db.peek(k, now).map(|e| set_of(&e.value)).transpose()).collect()
}

/// Computes `op` over the sets at `keys` into a new set, built as Redis builds it (an intset
/// first). `limit` stops an intersection early (SINTERCARD; 0 = none).
fn combine(ctx: &mut Ctx, keys: &[&[u8]], op: Op, limit: usize) -> CmdResult<Set> {
    let max = ctx.config.set_max_intset_entries;
    let sets = sets_at(ctx, keys)?;
    let mut result = Set::default();
    match op {
        Op::Inter => {
            if sets.iter().any(|s| s.is_none()) {
                return Ok(result);
            }
            let mut sets: Vec<&Set> = sets.into_iter().flatten().collect();
            sets.sort_by_key(|s| s.len());
            let (first, rest) = sets.split_first().expect("at least one key");
            first.for_each(|m| {
                if (limit == 0 || result.len() < limit) && rest.iter().all(|s| s.contains(m)) {
                    result.add(m, max);
                }
            });
        }
        Op::Union => {
            for s in sets.iter().flatten() {
                s.for_each(|m| {
                    result.add(m, max);
                });
            }
        }
        Op::Diff => {
            if let Some(Some(first)) = sets.first() {
                first.for_each(|m| {
                    if !sets[1..].iter().flatten().any(|s| s.contains(m)) {
                        result.add(m, max);
                    }
                });
            }
        }
    }
    Ok(result)
}

fn keys_from<'a>(args: Args<'a>, from: usize) -> Vec<&'a [u8]> {
    args.iter().skip(from).collect()
}

fn reply_combined(ctx: &mut Ctx, args: Args, op: Op, out: &mut Out) -> CmdResult {
    let result = combine(ctx, &keys_from(args, 1), op, 0)?;
    reply_members(out, &result);
    Ok(())
}

/// Stores `op` over `args[2..]` at `args[1]` (replacing it, TTL included), or deletes it if
/// the result is empty. Replies with the result's size.
fn store_combined(ctx: &mut Ctx, args: Args, op: Op, out: &mut Out) -> CmdResult {
    let dst = args.get(1);
    let result = combine(ctx, &keys_from(args, 2), op, 0)?;
    let n = result.len();
    if n == 0 {
        ctx.db().remove(dst);
    } else {
        let entry = ctx.new_entry(Value::Set(result));
        ctx.db().insert(dst, entry);
    }
    out.int(n as i64);
    Ok(())
}

/// `SINTER key [key ...]`
///
/// The members in every set (a missing key is an empty set).
fn sinter(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    reply_combined(ctx, args, Op::Inter, out)
}

/// `SUNION key [key ...]`
fn sunion(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    reply_combined(ctx, args, Op::Union, out)
}

/// `SDIFF key [key ...]`
///
/// The members of the first set that are in none of the others.
fn sdiff(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    reply_combined(ctx, args, Op::Diff, out)
}

/// `SINTERSTORE destination key [key ...]`
fn sinterstore(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    store_combined(ctx, args, Op::Inter, out)
}

/// `SUNIONSTORE destination key [key ...]`
fn sunionstore(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    store_combined(ctx, args, Op::Union, out)
}

/// `SDIFFSTORE destination key [key ...]`
fn sdiffstore(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    store_combined(ctx, args, Op::Diff, out)
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`
///
/// The size of the intersection, counting stopped at `limit` when it is not 0.
fn sintercard(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let numkeys = parse_int(args.get(1))
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| CmdError::msg("ERR numkeys should be greater than 0"))? as usize;
    if numkeys > args.len() - 2 {
        return Err(CmdError::msg("ERR Number of keys can't be greater than number of args"));
    }
    let mut limit = 0;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if super::eq_ic(args.get(i), "limit") && i + 1 < args.len() {
            limit = parse_int(args.get(i + 1))
                .ok()
                .filter(|&l| l >= 0)
                .ok_or_else(|| CmdError::msg("ERR LIMIT can't be negative"))? as usize;
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let keys: Vec<&[u8]> = args.iter().skip(2).take(numkeys).collect();
    let result = combine(ctx, &keys, Op::Inter, limit)?;
    out.int(result.len() as i64);
    Ok(())
}

// ---- SSCAN ----

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`
///
/// `[next cursor, [member ...]]`. An intset comes back whole with cursor 0.
fn sscan(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    parse_scan_cursor(args.get(2))?;
    let Some(set) = read(ctx, args.get(1))? else {
        super::generic::write_scan_reply(out, 0, &[]);
        return Ok(());
    };
    let opts = parse_scan_args(args, 3)?;
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut cursor = opts.cursor;
    let mut iterations = opts.count.saturating_mul(10);
    loop {
        cursor = set.scan(cursor, |m| found.push(m.to_vec()));
        if cursor == 0 || iterations == 0 || found.len() >= opts.count {
            break;
        }
        iterations -= 1;
    }
    if let Some(p) = &opts.pattern {
        found.retain(|m| glob_match(p, m, false));
    }
    super::generic::write_scan_reply(out, cursor, &found);
    Ok(())
}
