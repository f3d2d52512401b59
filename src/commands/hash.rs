//! The hash group: HSET HSETNX HMSET HGET HMGET HDEL HLEN HSTRLEN HEXISTS HKEYS HVALS HGETALL
//! HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN.
//!
//! Replies, error words and the order of checks follow Redis 7.0's `t_hash.c`, compared byte for
//! byte with redis-server. The encoding (listpack or hashtable) follows Redis's rules with the
//! `hash-max-listpack-*` limits read from the config on each write; a hash never converts back.
//! Empty hashes are deleted. Reads count keyspace hits and misses; writes look keys up quietly
//! but refresh their idle time, as `lookupKeyWrite` does.

use super::generic::{parse_scan_args, parse_scan_cursor};
use super::{Args, Command, Exec, READONLY, WRITE, eq_ic, parse_int};
use crate::error::{CmdError, CmdResult};
use crate::resp::Out;
use crate::shard::{Ctx, Entry, Value};
use crate::types::glob::glob_match;
use crate::types::hash::{Hash, Limits};
use crate::types::long_double::{self, LdError};

const fn cmd(name: &'static str, arity: i32, flags: u32, exec: Exec) -> Command {
    Command { name, arity, flags, first_key: 1, last_key: 1, step: 1, keys_fn: None, exec }
}

/// Arity and key positions are Redis 7.2's (`src/commands/*.json`); every command has one key.
pub const COMMANDS: &[Command] = &[
    cmd("hset", -4, WRITE, Exec::Shard(hset)),
    cmd("hmset", -4, WRITE, Exec::Shard(hmset)),
    cmd("hsetnx", 4, WRITE, Exec::Shard(hsetnx)),
    cmd("hget", 3, READONLY, Exec::Shard(hget)),
    cmd("hmget", -3, READONLY, Exec::Shard(hmget)),
    cmd("hdel", -3, WRITE, Exec::Shard(hdel)),
    cmd("hlen", 2, READONLY, Exec::Shard(hlen)),
    cmd("hstrlen", 3, READONLY, Exec::Shard(hstrlen)),
    cmd("hexists", 3, READONLY, Exec::Shard(hexists)),
    cmd("hkeys", 2, READONLY, Exec::Shard(hkeys)),
    cmd("hvals", 2, READONLY, Exec::Shard(hvals)),
    cmd("hgetall", 2, READONLY, Exec::Shard(hgetall)),
    cmd("hincrby", 4, WRITE, Exec::Shard(hincrby)),
    cmd("hincrbyfloat", 4, WRITE, Exec::Shard(hincrbyfloat)),
    cmd("hrandfield", -2, READONLY, Exec::Shard(hrandfield)),
    cmd("hscan", -3, READONLY, Exec::Shard(hscan)),
];

const NOT_INTEGER_VALUE: &str = "ERR hash value is not an integer";
const NOT_FLOAT_VALUE: &str = "ERR hash value is not a float";
const NAN_OR_INFINITY_INCR: &str = "ERR value is NaN or Infinity";
const NAN_OR_INFINITY: &str = "ERR increment would produce NaN or Infinity";
const OUT_OF_RANGE: &str = "ERR value is out of range";

// ---- Lookups ----

fn hash_of(v: &Value) -> CmdResult<&Hash> {
    match v {
        Value::Hash(h) => Ok(h),
        _ => Err(CmdError::WrongType),
    }
}

fn hash_of_mut(v: &mut Value) -> CmdResult<&mut Hash> {
    match v {
        Value::Hash(h) => Ok(h),
        _ => Err(CmdError::WrongType),
    }
}

/// A hash read by a client (a keyspace hit or miss): None if missing, WRONGTYPE if not a hash.
fn read<'c>(ctx: &'c mut Ctx, key: &[u8]) -> CmdResult<Option<&'c Hash>> {
    ctx.lookup(key).map(|e| hash_of(&e.value)).transpose()
}

/// A key looked up to write it (Redis's `lookupKeyWrite`): not counted, but its idle time resets.
fn lookup_write<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Option<&'c mut Entry> {
    let clock = ctx.clock_secs();
    let entry = ctx.lookup_quiet(key)?;
    entry.access_secs = clock;
    Some(entry)
}

fn write<'c>(ctx: &'c mut Ctx, key: &[u8]) -> CmdResult<Option<&'c mut Hash>> {
    lookup_write(ctx, key).map(|e| hash_of_mut(&mut e.value)).transpose()
}

/// The hash at `key`, created empty if missing (Redis's `hashTypeLookupWriteOrCreate`).
fn write_or_create<'c>(ctx: &'c mut Ctx, key: &[u8]) -> CmdResult<&'c mut Hash> {
    if write(ctx, key)?.is_none() {
        let entry = ctx.new_entry(Value::Hash(Hash::default()));
        ctx.db().insert(key, entry);
    }
    Ok(write(ctx, key)?.expect("just created"))
}

fn limits(ctx: &Ctx) -> Limits {
    Limits { entries: ctx.config.hash_max_listpack_entries, value: ctx.config.hash_max_listpack_value }
}

// ---- Writes ----

/// `HSET key field value [field value ...]`
///
/// The number of fields that were new.
fn hset(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let added = set_pairs(ctx, args, "hset")?;
    out.int(added as i64);
    Ok(())
}

/// `HMSET key field value [field value ...]` (HSET's old form)
///
/// +OK.
fn hmset(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    set_pairs(ctx, args, "hmset")?;
    out.ok();
    Ok(())
}

fn set_pairs(ctx: &mut Ctx, args: Args, name: &str) -> CmdResult<usize> {
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity(name.into()));
    }
    let limits = limits(ctx);
    let hash = write_or_create(ctx, args.get(1))?;
    if hash.fill_empty(args.len() - 2, |i| args.get(2 + i), limits) {
        return Ok((args.len() - 2) / 2);
    }
    // Redis converts before setting anything if any argument is too long for a listpack.
    for i in 2..args.len() {
        hash.prepare_write(args.get(i), b"", limits);
    }
    let mut added = 0;
    for i in (2..args.len()).step_by(2) {
        added += hash.set(args.get(i), args.get(i + 1), limits) as usize;
    }
    Ok(added)
}

/// `HSETNX key field value`
///
/// :1 if the field was set, :0 if it already existed (and then nothing converts, as in 7.0).
fn hsetnx(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let limits = limits(ctx);
    let (field, value) = (args.get(2), args.get(3));
    let hash = write_or_create(ctx, args.get(1))?;
    let set = !hash.contains(field);
    if set {
        hash.set(field, value, limits);
    }
    out.int(set as i64);
    Ok(())
}

/// `HDEL key field [field ...]`
///
/// How many of the fields existed; the key goes when no field remains.
fn hdel(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let key = args.get(1);
    let Some(hash) = write(ctx, key)? else {
        out.int(0);
        return Ok(());
    };
    let mut removed = 0;
    for field in args.iter().skip(2) {
        removed += hash.remove(field) as i64;
        if hash.is_empty() {
            break;
        }
    }
    if hash.is_empty() {
        ctx.db().remove(key);
    }
    out.int(removed);
    Ok(())
}

/// `HINCRBY key field increment`
///
/// The field's new value; a missing field counts from 0.
fn hincrby(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let by = args.i64(3)?;
    let limits = limits(ctx);
    let field = args.get(2);
    let hash = write_or_create(ctx, args.get(1))?;
    let old = hash.with_value(field, |v| match v {
        None => Ok(0),
        Some(v) => parse_int(v).map_err(|_| CmdError::msg(NOT_INTEGER_VALUE)),
    })?;
    let new = old.checked_add(by).ok_or(CmdError::Overflow)?;
    let mut tmp = [0u8; 24];
    let n = crate::resp::write::format_i64(&mut tmp, new);
    hash.set(field, &tmp[..n], limits);
    out.int(new);
    Ok(())
}

/// `HINCRBYFLOAT key field increment`
///
/// The field's new value as a bulk string, computed in long double and printed as Redis's
/// INCRBYFLOAT prints it.
fn hincrbyfloat(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let by = args.get(3);
    if by.contains(&0) || !long_double::is_valid(by) {
        return Err(CmdError::NotFloat);
    }
    if long_double::add(b"0", by) == Err(LdError::NanOrInfinity) {
        return Err(CmdError::msg(NAN_OR_INFINITY_INCR));
    }
    let limits = limits(ctx);
    let field = args.get(2);
    let hash = write_or_create(ctx, args.get(1))?;
    let old = hash.get(field).unwrap_or_else(|| b"0".to_vec());
    if old.contains(&0) || !long_double::is_valid(&old) {
        return Err(CmdError::msg(NOT_FLOAT_VALUE));
    }
    let text = long_double::add(&old, by).map_err(|e| match e {
        LdError::NotFloat => CmdError::msg(NOT_FLOAT_VALUE),
        LdError::NanOrInfinity => CmdError::msg(NAN_OR_INFINITY),
    })?;
    hash.set(field, &text, limits);
    out.bulk(&text);
    Ok(())
}

// ---- Reads ----

/// `HGET key field`
fn hget(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    match read(ctx, args.get(1))? {
        Some(h) => h.with_value(args.get(2), |v| match v {
            Some(v) => out.bulk(v),
            None => out.null(),
        }),
        None => out.null(),
    }
    Ok(())
}

/// `HMGET key field [field ...]`
///
/// One value (or nil) per field.
fn hmget(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let hash = read(ctx, args.get(1))?;
    out.array(args.len() - 2);
    for field in args.iter().skip(2) {
        match hash {
            Some(h) => h.with_value(field, |v| match v {
                Some(v) => out.bulk(v),
                None => out.null(),
            }),
            None => out.null(),
        }
    }
    Ok(())
}

/// `HLEN key`
fn hlen(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let len = read(ctx, args.get(1))?.map_or(0, Hash::len);
    out.int(len as i64);
    Ok(())
}

/// `HSTRLEN key field`
///
/// The length of the field's value, 0 if missing.
fn hstrlen(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let len = read(ctx, args.get(1))?.map_or(0, |h| h.with_value(args.get(2), |v| v.map_or(0, <[u8]>::len)));
    out.int(len as i64);
    Ok(())
}

/// `HEXISTS key field`
fn hexists(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let found = read(ctx, args.get(1))?.is_some_and(|h| h.contains(args.get(2)));
    out.int(found as i64);
    Ok(())
}

/// What HKEYS, HVALS and HGETALL reply with.
#[derive(Clone, Copy, PartialEq)]
enum Parts {
    Fields,
    Values,
    Both,
}

/// `HKEYS key`
fn hkeys(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    get_all(ctx, args, Parts::Fields, out)
}

/// `HVALS key`
fn hvals(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    get_all(ctx, args, Parts::Values, out)
}

/// `HGETALL key`
///
/// A map of every field to its value (a flat array in RESP2).
fn hgetall(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    get_all(ctx, args, Parts::Both, out)
}

fn get_all(ctx: &mut Ctx, args: Args, parts: Parts, out: &mut Out) -> CmdResult {
    let hash = read(ctx, args.get(1))?;
    let len = hash.map_or(0, Hash::len);
    match parts {
        Parts::Both => out.map(len),
        _ => out.array(len),
    }
    if let Some(h) = hash {
        h.for_each(|f, v| {
            if parts != Parts::Values {
                out.bulk(f);
            }
            if parts != Parts::Fields {
                out.bulk(v);
            }
        });
    }
    Ok(())
}

// ---- HRANDFIELD ----

fn xorshift(state: &mut u64) -> u64 {
    let mut x = if *state == 0 { 0x9E37_79B9_7F4A_7C15 } else { *state };
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// `HRANDFIELD key [count [WITHVALUES]]`
///
/// One random field (nil if the key is missing). With a count: up to `count` distinct fields,
/// or for a negative count exactly `-count` fields that may repeat; WITHVALUES adds each value
/// (a flat array in RESP2, `[field, value]` pairs in RESP3).
fn hrandfield(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    if args.len() >= 3 {
        let count = super::parse_int(args.get(2))?;
        if count == i64::MIN {
            return Err(CmdError::msg(format!(
                "ERR value is out of range, value must between {} and {}",
                -i64::MAX,
                i64::MAX
            )));
        }
        let with_values = match args.len() {
            3 => false,
            4 if eq_ic(args.get(3), "withvalues") => true,
            _ => return Err(CmdError::Syntax),
        };
        if with_values && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
            return Err(CmdError::msg(OUT_OF_RANGE));
        }
        return rand_with_count(ctx, args.get(1), count, with_values, out);
    }
    let mut rng = ctx.shard.rng;
    match read(ctx, args.get(1))? {
        Some(h) => {
            let picks = pick_random(h, 1, &mut rng);
            with_pair(h, &picks[0], |f, _| out.bulk(f));
        }
        None => out.null(),
    }
    ctx.shard.rng = rng;
    Ok(())
}

/// A pick: a listpack pair index, or a hashtable field.
enum Pick {
    Pos(usize),
    Field(Vec<u8>),
}

/// Calls `f` with the field and value a pick names.
fn with_pair(h: &Hash, pick: &Pick, mut f: impl FnMut(&[u8], &[u8])) {
    match pick {
        Pick::Pos(i) => {
            let lp = h.as_listpack().expect("positions come from listpacks");
            let (field, value) = Hash::lp_pair(lp, *i);
            let (mut ft, mut vt) = ([0u8; 24], [0u8; 24]);
            f(field.bytes(&mut ft), value.bytes(&mut vt));
        }
        Pick::Field(field) => h.with_value(field, |v| f(field, v.unwrap_or_default())),
    }
}

/// `n` random picks, repeats allowed.
fn pick_random(h: &Hash, n: usize, rng: &mut u64) -> Vec<Pick> {
    match h.as_table() {
        Some(d) => (0..n).filter_map(|_| d.random_key(rng).map(|k| Pick::Field(k.to_vec()))).collect(),
        None => (0..n).map(|_| Pick::Pos((xorshift(rng) % h.len() as u64) as usize)).collect(),
    }
}

fn rand_with_count(ctx: &mut Ctx, key: &[u8], count: i64, with_values: bool, out: &mut Out) -> CmdResult {
    let mut rng = ctx.shard.rng;
    let Some(h) = read(ctx, key)? else {
        out.array(0);
        return Ok(());
    };
    let resp3 = out.resp3;
    let size = h.len();
    let n = count.unsigned_abs() as usize;
    let reply_pair = |out: &mut Out, f: &[u8], v: &[u8]| {
        if with_values && resp3 {
            out.array(2);
        }
        out.bulk(f);
        if with_values {
            out.bulk(v);
        }
    };
    let header = |out: &mut Out, n: usize| out.array(if with_values && !resp3 { n * 2 } else { n });
    if n == 0 {
        out.array(0);
    } else if count < 0 || n == 1 {
        // Repeats allowed (also fine for one pick): sample the whole hash each time.
        header(out, n);
        if let Some(lp) = h.as_listpack() {
            // Index the pairs once so each pick is O(1).
            let mut offsets = Vec::with_capacity(size);
            let mut off = 0;
            while off < lp.bytes() {
                offsets.push(off);
                off = lp.next(lp.next(off));
            }
            let (mut ft, mut vt) = ([0u8; 24], [0u8; 24]);
            for _ in 0..n {
                let o = offsets[(xorshift(&mut rng) % size as u64) as usize];
                let (f, voff) = lp.get(o);
                reply_pair(out, f.bytes(&mut ft), lp.get(voff).0.bytes(&mut vt));
            }
        } else {
            for pick in pick_random(h, n, &mut rng) {
                with_pair(h, &pick, |f, v| reply_pair(out, f, v));
            }
        }
    } else if n >= size {
        header(out, size);
        h.for_each(|f, v| reply_pair(out, f, v));
    } else {
        header(out, n);
        for pick in pick_distinct(h, n, &mut rng) {
            with_pair(h, &pick, |f, v| reply_pair(out, f, v));
        }
    }
    ctx.shard.rng = rng;
    Ok(())
}

/// `n` (< len) distinct random picks.
fn pick_distinct(h: &Hash, n: usize, rng: &mut u64) -> Vec<Pick> {
    let size = h.len();
    let mut picks: Vec<Pick> = match h.as_table() {
        // Few picks from a big table: draw until there are enough distinct ones.
        Some(d) if n * 3 <= size => {
            let mut seen = std::collections::HashSet::with_capacity(n);
            while seen.len() < n {
                if let Some(k) = d.random_key(rng) {
                    seen.insert(k.to_vec());
                }
            }
            return seen.into_iter().map(Pick::Field).collect();
        }
        Some(d) => d.iter().map(|(k, _)| Pick::Field(k.to_vec())).collect(),
        None => (0..size).map(Pick::Pos).collect(),
    };
    // A partial Fisher-Yates shuffle: the first `n` are a uniform sample.
    for i in 0..n {
        let j = i + (xorshift(rng) % (size - i) as u64) as usize;
        picks.swap(i, j);
    }
    picks.truncate(n);
    picks
}

// ---- HSCAN ----

/// `HSCAN key cursor [MATCH pattern] [COUNT count]`
///
/// `[next cursor, [field, value, ...]]`. A listpack hash is returned whole with cursor 0, as
/// Redis does; a hashtable is walked with Redis's reverse-binary cursor.
fn hscan(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    parse_scan_cursor(args.get(2))?;
    let Some(h) = read(ctx, args.get(1))? else {
        out.array(2);
        out.bulk(b"0");
        out.array(0);
        return Ok(());
    };
    let opts = parse_scan_args(args, 3)?;
    let pattern = opts.pattern.as_deref();
    let keep = |f: &[u8]| pattern.is_none_or(|p| glob_match(p, f, false));
    let mut found: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let cursor = match h.as_table() {
        None => {
            h.for_each(|f, v| {
                if keep(f) {
                    found.push((f.to_vec(), v.to_vec()));
                }
            });
            0
        }
        Some(d) => {
            // Redis counts fields and values against COUNT, and filters only afterwards.
            let mut seen = 0usize;
            let mut cursor = opts.cursor;
            let mut iterations_left = opts.count.saturating_mul(10);
            loop {
                cursor = d.scan(cursor, |f, v| {
                    seen += 2;
                    if keep(f) {
                        found.push((f.to_vec(), v.as_bytes().to_vec()));
                    }
                });
                if cursor == 0 || iterations_left == 0 || seen >= opts.count {
                    break;
                }
                iterations_left -= 1;
            }
            cursor
        }
    };
    out.array(2);
    out.bulk(cursor.to_string().as_bytes());
    out.array(found.len() * 2);
    for (f, v) in &found {
        out.bulk(f);
        out.bulk(v);
    }
    Ok(())
}
