//! The sorted-set group: ZADD ZINCRBY ZREM ZCARD ZCOUNT ZLEXCOUNT ZSCORE ZMSCORE ZRANK
//! ZREVRANK, the range family (ZRANGE with BYSCORE/BYLEX/REV/LIMIT and its legacy forms,
//! ZRANGESTORE, ZREMRANGEBY*), the pops (ZPOPMIN ZPOPMAX ZMPOP and the blocking BZPOPMIN
//! BZPOPMAX BZMPOP), ZRANDMEMBER, the algebra (ZUNION ZINTER ZDIFF, their STORE forms,
//! ZINTERCARD; plain sets count as members with score 1) and ZSCAN.
//!
//! Replies, errors and the order of checks follow Redis 7.0's `t_zset.c`, compared byte for
//! byte with redis-server (ZRANK's WITHSCORE is 7.2's documented addition). Every range is
//! turned into ascending ranks first (see `types::zset`), then emitted forward or reversed.
//!
//! Blocking commands make one non-blocking attempt and reply as Redis does on timeout (a
//! null array) when nothing is ready; the server parks the client on that reply.

use super::generic::{parse_scan_args, parse_scan_cursor, write_scan_reply};
use super::{
    Args, BLOCKING, Command, Exec, READONLY, Special, WRITE, eq_ic, numkeys_keys, parse_float, parse_int,
};
use crate::error::{CmdError, CmdResult};
use crate::resp::Out;
use crate::resp::write::format_double;
use crate::shard::{Ctx, Value};
use crate::types::glob::glob_match;
use crate::types::set::{Set, xorshift};
use crate::types::zset::{Limits, ZSet};

const fn cmd(name: &'static str, arity: i32, flags: u32, keys: (i32, i32, i32), exec: Exec) -> Command {
    Command { name, arity, flags, first_key: keys.0, last_key: keys.1, step: keys.2, keys_fn: None, exec }
}

const fn numkeys<const AT: usize, const DEST: bool>(
    name: &'static str,
    arity: i32,
    flags: u32,
    f: super::ShardFn,
) -> Command {
    let first = if DEST { 1 } else { 0 };
    Command {
        name,
        arity,
        flags,
        first_key: first,
        last_key: first,
        step: first,
        keys_fn: Some(numkeys_keys::<AT, DEST>),
        exec: Exec::Cross(f, Special::Gather),
    }
}

const KEY1: (i32, i32, i32) = (1, 1, 1);

/// Arity and key positions are Redis 7.2's (`src/commands/*.json`).
pub const COMMANDS: &[Command] = &[
    cmd("zadd", -4, WRITE, KEY1, Exec::Shard(zadd)),
    cmd("zincrby", 4, WRITE, KEY1, Exec::Shard(zincrby)),
    cmd("zrem", -3, WRITE, KEY1, Exec::Shard(zrem)),
    cmd("zcard", 2, READONLY, KEY1, Exec::Shard(zcard)),
    cmd("zcount", 4, READONLY, KEY1, Exec::Shard(zcount)),
    cmd("zlexcount", 4, READONLY, KEY1, Exec::Shard(zlexcount)),
    cmd("zscore", 3, READONLY, KEY1, Exec::Shard(zscore)),
    cmd("zmscore", -3, READONLY, KEY1, Exec::Shard(zmscore)),
    cmd("zrank", -3, READONLY, KEY1, Exec::Shard(zrank)),
    cmd("zrevrank", -3, READONLY, KEY1, Exec::Shard(zrevrank)),
    cmd("zrange", -4, READONLY, KEY1, Exec::Shard(zrange)),
    cmd("zrangestore", -5, WRITE, (1, 2, 1), Exec::Cross(zrangestore, Special::Gather)),
    cmd("zrevrange", -4, READONLY, KEY1, Exec::Shard(zrevrange)),
    cmd("zrangebyscore", -4, READONLY, KEY1, Exec::Shard(zrangebyscore)),
    cmd("zrevrangebyscore", -4, READONLY, KEY1, Exec::Shard(zrevrangebyscore)),
    cmd("zrangebylex", -4, READONLY, KEY1, Exec::Shard(zrangebylex)),
    cmd("zrevrangebylex", -4, READONLY, KEY1, Exec::Shard(zrevrangebylex)),
    cmd("zremrangebyrank", 4, WRITE, KEY1, Exec::Shard(zremrangebyrank)),
    cmd("zremrangebyscore", 4, WRITE, KEY1, Exec::Shard(zremrangebyscore)),
    cmd("zremrangebylex", 4, WRITE, KEY1, Exec::Shard(zremrangebylex)),
    cmd("zpopmin", -2, WRITE, KEY1, Exec::Shard(zpopmin)),
    cmd("zpopmax", -2, WRITE, KEY1, Exec::Shard(zpopmax)),
    numkeys::<1, false>("zmpop", -4, WRITE, zmpop),
    cmd("bzpopmin", -3, WRITE | BLOCKING, (1, -2, 1), Exec::Cross(bzpopmin, Special::Gather)),
    cmd("bzpopmax", -3, WRITE | BLOCKING, (1, -2, 1), Exec::Cross(bzpopmax, Special::Gather)),
    numkeys::<2, false>("bzmpop", -5, WRITE | BLOCKING, bzmpop),
    cmd("zrandmember", -2, READONLY, KEY1, Exec::Shard(zrandmember)),
    numkeys::<1, false>("zunion", -3, READONLY, zunion),
    numkeys::<1, false>("zinter", -3, READONLY, zinter),
    numkeys::<1, false>("zdiff", -3, READONLY, zdiff),
    numkeys::<2, true>("zunionstore", -4, WRITE, zunionstore),
    numkeys::<2, true>("zinterstore", -4, WRITE, zinterstore),
    numkeys::<2, true>("zdiffstore", -4, WRITE, zdiffstore),
    numkeys::<1, false>("zintercard", -3, READONLY, zintercard),
    cmd("zscan", -3, READONLY, KEY1, Exec::Shard(zscan)),
];

const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";
const RANDOM_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

// ---- Lookups ----

fn zset_of(v: &Value) -> CmdResult<&ZSet> {
    match v {
        Value::ZSet(z) => Ok(z),
        _ => Err(CmdError::WrongType),
    }
}

fn read<'c>(ctx: &'c mut Ctx, key: &[u8]) -> CmdResult<Option<&'c ZSet>> {
    ctx.lookup(key).map(|e| zset_of(&e.value)).transpose()
}

fn write<'c>(ctx: &'c mut Ctx, key: &[u8]) -> CmdResult<Option<&'c mut ZSet>> {
    let clock = ctx.clock_secs();
    match ctx.lookup_quiet(key) {
        None => Ok(None),
        Some(e) => {
            e.access_secs = clock;
            match &mut e.value {
                Value::ZSet(z) => Ok(Some(z)),
                _ => Err(CmdError::WrongType),
            }
        }
    }
}

fn limits(ctx: &Ctx) -> Limits {
    Limits {
        max_entries: ctx.config.zset_max_listpack_entries,
        max_value: ctx.config.zset_max_listpack_value,
    }
}

fn drop_if_empty(ctx: &mut Ctx, key: &[u8]) {
    if ctx.lookup_quiet(key).is_some_and(|e| matches!(&e.value, Value::ZSet(z) if z.is_empty())) {
        ctx.db().remove(key);
    }
}

/// Stores `z` at `key` (replacing it and its TTL), or deletes `key` when `z` is empty.
fn store(ctx: &mut Ctx, key: &[u8], z: ZSet) {
    if z.is_empty() {
        ctx.db().remove(key);
    } else {
        let entry = ctx.new_entry(Value::ZSet(Box::new(z)));
        ctx.db().insert(key, entry);
    }
}

// ---- ZADD and friends ----

#[derive(Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// `ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]`
///
/// The number of members added (or changed, with CH); with INCR the new score, or nil when
/// the condition held the write back.
fn zadd(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let mut f = AddFlags::default();
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i);
        let flag = match () {
            _ if eq_ic(a, "nx") => &mut f.nx,
            _ if eq_ic(a, "xx") => &mut f.xx,
            _ if eq_ic(a, "gt") => &mut f.gt,
            _ if eq_ic(a, "lt") => &mut f.lt,
            _ if eq_ic(a, "ch") => &mut f.ch,
            _ if eq_ic(a, "incr") => &mut f.incr,
            _ => break,
        };
        *flag = true;
        i += 1;
    }
    let elements = args.len() - i;
    if elements == 0 || !elements.is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    if f.nx && f.xx {
        return Err(CmdError::msg("ERR XX and NX options at the same time are not compatible"));
    }
    if [f.gt, f.lt, f.nx].iter().filter(|&&on| on).count() > 1 {
        return Err(CmdError::msg("ERR GT, LT, and/or NX options at the same time are not compatible"));
    }
    if f.incr && elements > 2 {
        return Err(CmdError::msg("ERR INCR option supports a single increment-element pair"));
    }
    let mut scores = Vec::with_capacity(elements / 2);
    for j in (i..args.len()).step_by(2) {
        scores.push(parse_float(args.get(j))?);
    }
    add_generic(ctx, args.get(1), &f, &scores, |k| args.get(i + 1 + 2 * k), out)
}

/// `ZINCRBY key increment member`
///
/// The member's new score.
fn zincrby(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let f = AddFlags { incr: true, ..AddFlags::default() };
    let score = parse_float(args.get(2))?;
    add_generic(ctx, args.get(1), &f, &[score], |_| args.get(3), out)
}

/// Redis's `zsetAdd` over every pair, then ZADD's reply.
fn add_generic<'a>(
    ctx: &mut Ctx,
    key: &[u8],
    f: &AddFlags,
    scores: &[f64],
    member: impl Fn(usize) -> &'a [u8],
    out: &mut Out,
) -> CmdResult {
    let lim = limits(ctx);
    let created = write(ctx, key)?.is_none();
    if created {
        if f.xx {
            if f.incr {
                out.null()
            } else {
                out.int(0)
            }
            return Ok(());
        }
        let entry = ctx.new_entry(Value::ZSet(Box::default()));
        ctx.db().insert(key, entry);
    }
    let z = write(ctx, key)?.expect("created above");
    let (mut added, mut updated, mut processed) = (0, 0, 0);
    let mut last = 0.0;
    let mut result = Ok(());
    for (k, &score) in scores.iter().enumerate() {
        let m = member(k);
        match z.score(m) {
            Some(cur) => {
                if f.nx {
                    continue;
                }
                let new = if f.incr { cur + score } else { score };
                if new.is_nan() {
                    result = Err(CmdError::msg("ERR resulting score is not a number (NaN)"));
                    break;
                }
                if (f.lt && new >= cur) || (f.gt && new <= cur) {
                    continue;
                }
                if new != cur {
                    z.update(m, cur, new);
                    updated += 1;
                }
                last = new;
                processed += 1;
            }
            None if f.xx => {}
            None => {
                z.insert_new(m, score, lim);
                added += 1;
                last = score;
                processed += 1;
            }
        }
    }
    // Only a set made above can be empty (a NaN error before its first member).
    if created {
        drop_if_empty(ctx, key);
    }
    result?;
    if f.incr {
        if processed > 0 { out.double(last) } else { out.null() }
    } else {
        out.int(if f.ch { added + updated } else { added });
    }
    Ok(())
}

/// `ZREM key member [member ...]`
fn zrem(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let key = args.get(1);
    let Some(z) = write(ctx, key)? else {
        out.int(0);
        return Ok(());
    };
    let removed = args.iter().skip(2).filter(|m| z.remove(m)).count();
    drop_if_empty(ctx, key);
    out.int(removed as i64);
    Ok(())
}

/// `ZCARD key`
fn zcard(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let n = read(ctx, args.get(1))?.map_or(0, |z| z.len());
    out.int(n as i64);
    Ok(())
}

/// `ZSCORE key member`
fn zscore(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    match read(ctx, args.get(1))?.and_then(|z| z.score(args.get(2))) {
        Some(s) => out.double(s),
        None => out.null(),
    }
    Ok(())
}

/// `ZMSCORE key member [member ...]`
fn zmscore(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let z = read(ctx, args.get(1))?;
    out.array(args.len() - 2);
    for m in args.iter().skip(2) {
        match z.and_then(|z| z.score(m)) {
            Some(s) => out.double(s),
            None => out.null(),
        }
    }
    Ok(())
}

/// `ZRANK key member [WITHSCORE]`
fn zrank(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    rank_generic(ctx, args, false, out)
}

/// `ZREVRANK key member [WITHSCORE]`
fn zrevrank(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    rank_generic(ctx, args, true, out)
}

fn rank_generic(ctx: &mut Ctx, args: Args, rev: bool, out: &mut Out) -> CmdResult {
    let with_score = match args.len() {
        3 => false,
        4 if eq_ic(args.get(3), "withscore") => true,
        _ => return Err(CmdError::Syntax),
    };
    let found = read(ctx, args.get(1))?.and_then(|z| {
        let (r, s) = z.rank(args.get(2))?;
        Some((if rev { z.len() - 1 - r } else { r }, s))
    });
    match (found, with_score) {
        (None, false) => out.null(),
        (None, true) => out.null_array(),
        (Some((r, _)), false) => out.int(r as i64),
        (Some((r, s)), true) => {
            out.array(2);
            out.int(r as i64);
            out.double(s);
        }
    }
    Ok(())
}

// ---- Ranges ----

/// One end of a score range.
#[derive(Clone, Copy)]
struct ScoreBound {
    value: f64,
    exclusive: bool,
}

fn parse_score_bound(b: &[u8]) -> Option<ScoreBound> {
    let (exclusive, text) = match b.first() {
        Some(b'(') => (true, &b[1..]),
        _ => (false, b),
    };
    let value = parse_float(text).ok()?;
    Some(ScoreBound { value, exclusive })
}

/// One end of a lex range: `-`, `+`, `[member` or `(member`.
#[derive(Clone, Copy)]
enum LexBound<'a> {
    Min,
    Max,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

fn parse_lex_bound(b: &[u8]) -> Option<LexBound<'_>> {
    match b.first()? {
        b'-' if b.len() == 1 => Some(LexBound::Min),
        b'+' if b.len() == 1 => Some(LexBound::Max),
        b'[' => Some(LexBound::Incl(&b[1..])),
        b'(' => Some(LexBound::Excl(&b[1..])),
        _ => None,
    }
}

/// A parsed range, ready to become ranks.
#[derive(Clone, Copy)]
enum Range<'a> {
    Rank(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound<'a>, LexBound<'a>),
}

/// Ascending ranks `start..end` covered by a score or lex range.
fn ranks_of(z: &ZSet, range: &Range) -> (usize, usize) {
    match *range {
        Range::Rank(..) => unreachable!("rank ranges are resolved by rank_window"),
        Range::Score(min, max) => {
            if min.value > max.value || (min.value == max.value && (min.exclusive || max.exclusive)) {
                return (0, 0);
            }
            let lo = z.count_while(|s, _| if min.exclusive { s <= min.value } else { s < min.value });
            let hi = z.count_while(|s, _| if max.exclusive { s < max.value } else { s <= max.value });
            (lo, hi.max(lo))
        }
        Range::Lex(min, max) => {
            if lex_empty(min, max) {
                return (0, 0);
            }
            let lo = z.count_while(|_, m| !lex_gte_min(m, min));
            let hi = z.count_while(|_, m| lex_lte_max(m, max));
            (lo, hi.max(lo))
        }
    }
}

/// Redis's `zslIsInLexRange` emptiness test.
fn lex_empty(min: LexBound, max: LexBound) -> bool {
    match (min, max) {
        (LexBound::Max, _) | (_, LexBound::Min) => true,
        (LexBound::Min, _) | (_, LexBound::Max) => false,
        (a, b) => {
            let (am, bm) = (lex_text(a), lex_text(b));
            am > bm || (am == bm && (matches!(a, LexBound::Excl(_)) || matches!(b, LexBound::Excl(_))))
        }
    }
}

fn lex_text<'a>(b: LexBound<'a>) -> &'a [u8] {
    match b {
        LexBound::Incl(m) | LexBound::Excl(m) => m,
        _ => b"",
    }
}

fn lex_gte_min(m: &[u8], min: LexBound) -> bool {
    match min {
        LexBound::Min => true,
        LexBound::Max => false,
        LexBound::Incl(v) => m >= v,
        LexBound::Excl(v) => m > v,
    }
}

fn lex_lte_max(m: &[u8], max: LexBound) -> bool {
    match max {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::Incl(v) => m <= v,
        LexBound::Excl(v) => m < v,
    }
}

/// Z[REV]RANGE's start/stop, normalized as Redis does, as ascending ranks `start..end`.
fn rank_window(len: usize, start: i64, stop: i64, rev: bool) -> (usize, usize) {
    let len = len as i64;
    let (mut s, mut e) = (start, stop);
    if s < 0 {
        s += len;
    }
    if e < 0 {
        e += len;
    }
    s = s.max(0);
    if s > e || s >= len {
        return (0, 0);
    }
    e = e.min(len - 1);
    if rev { ((len - 1 - e) as usize, (len - s) as usize) } else { (s as usize, e as usize + 1) }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Auto,
    Rank,
    Score,
    Lex,
}

/// A fully parsed ZRANGE-family request.
struct RangeRequest<'a> {
    range: Range<'a>,
    rev: bool,
    with_scores: bool,
    offset: i64,
    limit: i64,
}

/// Parses Redis's `zrangeGenericCommand` arguments: `args[from]` is the source key, then min,
/// max and options. `kind` and `rev` are preset by the legacy commands.
fn parse_range(
    args: Args,
    from: usize,
    mut kind: Kind,
    rev: Option<bool>,
    store: bool,
) -> CmdResult<RangeRequest> {
    let (mut with_scores, mut offset, mut limit) = (false, 0, -1);
    let mut direction = rev;
    let mut j = from + 3;
    while j < args.len() {
        let a = args.get(j);
        let left = args.len() - j - 1;
        if !store && eq_ic(a, "withscores") {
            with_scores = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            offset = parse_int(args.get(j + 1))?;
            limit = parse_int(args.get(j + 2))?;
            j += 2;
        } else if direction.is_none() && eq_ic(a, "rev") {
            direction = Some(true);
        } else if kind == Kind::Auto && eq_ic(a, "bylex") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && eq_ic(a, "byscore") {
            kind = Kind::Score;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let rev = direction.unwrap_or(false);
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    if limit != -1 && kind == Kind::Rank {
        return Err(CmdError::msg(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if with_scores && kind == Kind::Lex {
        return Err(CmdError::msg("ERR syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    let (mut min, mut max) = (args.get(from + 1), args.get(from + 2));
    if rev && kind != Kind::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let range = match kind {
        Kind::Score => {
            let (a, b) =
                parse_score_bound(min).zip(parse_score_bound(max)).ok_or(CmdError::msg(NOT_FLOAT_RANGE))?;
            Range::Score(a, b)
        }
        Kind::Lex => {
            let (a, b) =
                parse_lex_bound(min).zip(parse_lex_bound(max)).ok_or(CmdError::msg(NOT_LEX_RANGE))?;
            Range::Lex(a, b)
        }
        _ => Range::Rank(parse_int(min)?, parse_int(max)?),
    };
    Ok(RangeRequest { range, rev, with_scores, offset, limit })
}

/// Calls `f` on the elements a request selects, in reply order.
fn select(z: &ZSet, req: &RangeRequest, f: impl FnMut(&[u8], f64)) {
    let (start, end) = window(z, req);
    z.range(start, end, req.rev, f);
}

/// The ascending ranks `start..end` a request selects (empty when `start >= end`).
fn window(z: &ZSet, req: &RangeRequest) -> (usize, usize) {
    match req.range {
        Range::Rank(s, e) => rank_window(z.len(), s, e, req.rev),
        _ => {
            let (lo, hi) = ranks_of(z, &req.range);
            if req.offset < 0 {
                return (0, 0);
            }
            let offset = usize::try_from(req.offset).unwrap_or(usize::MAX);
            let take = if req.limit < 0 { usize::MAX } else { req.limit as usize };
            let n = (hi - lo).saturating_sub(offset).min(take);
            if req.rev {
                (hi - offset.min(hi - lo) - n, hi - offset.min(hi - lo))
            } else {
                (lo + offset.min(hi - lo), lo + offset.min(hi - lo) + n)
            }
        }
    }
}

/// Writes a list of (member, score) pairs: flat in RESP2 (or without scores), pairs in RESP3.
fn reply_pairs(out: &mut Out, pairs: &[(Vec<u8>, f64)], with_scores: bool) {
    if !with_scores {
        out.array(pairs.len());
        pairs.iter().for_each(|(m, _)| out.bulk(m));
        return;
    }
    out.array(if out.resp3 { pairs.len() } else { pairs.len() * 2 });
    for (m, s) in pairs {
        if out.resp3 {
            out.array(2);
        }
        out.bulk(m);
        out.double(*s);
    }
}

/// A reply of the elements `req` selects from `z`, written straight to `out`.
fn reply_range(out: &mut Out, z: &ZSet, req: &RangeRequest) {
    // The count comes from the window, so the header precedes the elements without a buffer.
    let (start, end) = window(z, req);
    let n = end.min(z.len()).saturating_sub(start);
    let pairs = req.with_scores && out.resp3;
    out.array(if req.with_scores && !out.resp3 { n * 2 } else { n });
    z.range(start, end, req.rev, |m, s| {
        if pairs {
            out.array(2);
        }
        out.bulk(m);
        if req.with_scores {
            out.double(s);
        }
    });
}

fn range_generic(ctx: &mut Ctx, args: Args, kind: Kind, rev: Option<bool>, out: &mut Out) -> CmdResult {
    let req = parse_range(args, 1, kind, rev, false)?;
    match read(ctx, args.get(1))? {
        Some(z) => reply_range(out, z, &req),
        None => out.array(0),
    }
    Ok(())
}

/// `ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`
fn zrange(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    range_generic(ctx, args, Kind::Auto, None, out)
}

/// `ZREVRANGE key start stop [WITHSCORES]`
fn zrevrange(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    range_generic(ctx, args, Kind::Rank, Some(true), out)
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`
fn zrangebyscore(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    range_generic(ctx, args, Kind::Score, Some(false), out)
}

/// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`
fn zrevrangebyscore(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    range_generic(ctx, args, Kind::Score, Some(true), out)
}

/// `ZRANGEBYLEX key min max [LIMIT offset count]`
fn zrangebylex(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    range_generic(ctx, args, Kind::Lex, Some(false), out)
}

/// `ZREVRANGEBYLEX key max min [LIMIT offset count]`
fn zrevrangebylex(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    range_generic(ctx, args, Kind::Lex, Some(true), out)
}

/// `ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]`
///
/// The number of elements stored at `dst` (deleted when none).
fn zrangestore(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let req = parse_range(args, 2, Kind::Auto, None, true)?;
    let lim = limits(ctx);
    let mut result = ZSet::default();
    if let Some(z) = read(ctx, args.get(2))? {
        select(z, &req, |m, s| result.insert_new(m, s, lim));
    }
    let n = result.len();
    store(ctx, args.get(1), result);
    out.int(n as i64);
    Ok(())
}

/// `ZCOUNT key min max`
fn zcount(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let (min, max) = parse_score_bound(args.get(2))
        .zip(parse_score_bound(args.get(3)))
        .ok_or(CmdError::msg(NOT_FLOAT_RANGE))?;
    count_generic(ctx, args, Range::Score(min, max), out)
}

/// `ZLEXCOUNT key min max`
fn zlexcount(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let (min, max) =
        parse_lex_bound(args.get(2)).zip(parse_lex_bound(args.get(3))).ok_or(CmdError::msg(NOT_LEX_RANGE))?;
    count_generic(ctx, args, Range::Lex(min, max), out)
}

fn count_generic(ctx: &mut Ctx, args: Args, range: Range, out: &mut Out) -> CmdResult {
    let n = read(ctx, args.get(1))?.map_or(0, |z| {
        let (lo, hi) = ranks_of(z, &range);
        hi - lo
    });
    out.int(n as i64);
    Ok(())
}

/// `ZREMRANGEBYRANK key start stop`
fn zremrangebyrank(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let range = Range::Rank(parse_int(args.get(2))?, parse_int(args.get(3))?);
    remrange_generic(ctx, args, range, out)
}

/// `ZREMRANGEBYSCORE key min max`
fn zremrangebyscore(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let (min, max) = parse_score_bound(args.get(2))
        .zip(parse_score_bound(args.get(3)))
        .ok_or(CmdError::msg(NOT_FLOAT_RANGE))?;
    remrange_generic(ctx, args, Range::Score(min, max), out)
}

/// `ZREMRANGEBYLEX key min max`
fn zremrangebylex(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let (min, max) =
        parse_lex_bound(args.get(2)).zip(parse_lex_bound(args.get(3))).ok_or(CmdError::msg(NOT_LEX_RANGE))?;
    remrange_generic(ctx, args, Range::Lex(min, max), out)
}

fn remrange_generic(ctx: &mut Ctx, args: Args, range: Range, out: &mut Out) -> CmdResult {
    let key = args.get(1);
    let Some(z) = write(ctx, key)? else {
        out.int(0);
        return Ok(());
    };
    let (start, end) = match range {
        Range::Rank(s, e) => rank_window(z.len(), s, e, false),
        _ => ranks_of(z, &range),
    };
    z.remove_rank_range(start, end, |_, _| ());
    drop_if_empty(ctx, key);
    out.int(end.saturating_sub(start) as i64);
    Ok(())
}

// ---- Pops ----

/// Removes up to `count` elements from the low (or high) end of the zset at `key`.
fn pop(ctx: &mut Ctx, key: &[u8], max: bool, count: usize) -> Vec<(Vec<u8>, f64)> {
    let mut popped = Vec::new();
    if let Ok(Some(z)) = write(ctx, key) {
        let n = count.min(z.len());
        let (start, end) = if max { (z.len() - n, z.len()) } else { (0, n) };
        z.remove_rank_range(start, end, |m, s| popped.push((m.to_vec(), s)));
        if max {
            popped.reverse();
        }
    }
    drop_if_empty(ctx, key);
    popped
}

/// `ZPOPMIN key [count]`
fn zpopmin(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    zpop_generic(ctx, args, false, out)
}

/// `ZPOPMAX key [count]`
fn zpopmax(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    zpop_generic(ctx, args, true, out)
}

fn zpop_generic(ctx: &mut Ctx, args: Args, max: bool, out: &mut Out) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match args.len() {
        3 => parse_int(args.get(2)).ok().filter(|&c| c >= 0).ok_or(CmdError::msg(NOT_POSITIVE))?,
        _ => 1,
    };
    let key = args.get(1);
    if write(ctx, key)?.is_none() || count == 0 {
        out.array(0);
        return Ok(());
    }
    let popped = pop(ctx, key, max, count as usize);
    // With a count, RESP3 answers pairs; without, one flat pair.
    if args.len() == 3 {
        reply_pairs(out, &popped, true);
    } else {
        out.array(popped.len() * 2);
        for (m, s) in &popped {
            out.bulk(m);
            out.double(*s);
        }
    }
    Ok(())
}

/// Parses a blocking command's timeout (seconds, fractions allowed) as Redis does.
fn parse_timeout(b: &[u8]) -> CmdResult<f64> {
    let bad = || CmdError::msg("ERR timeout is not a float or out of range");
    let t = parse_float(b).map_err(|_| bad())?;
    if t.is_infinite() {
        return Err(bad());
    }
    if t < 0.0 {
        return Err(CmdError::msg("ERR timeout is negative"));
    }
    Ok(t)
}

/// `BZPOPMIN key [key ...] timeout`
///
/// `[key, member, score]` from the first non-empty key; a null array when none is (the
/// server then blocks the client).
fn bzpopmin(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    bzpop_generic(ctx, args, false, out)
}

/// `BZPOPMAX key [key ...] timeout`
fn bzpopmax(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    bzpop_generic(ctx, args, true, out)
}

fn bzpop_generic(ctx: &mut Ctx, args: Args, max: bool, out: &mut Out) -> CmdResult {
    parse_timeout(args.get(args.len() - 1))?;
    for i in 1..args.len() - 1 {
        let key = args.get(i);
        if write(ctx, key)?.is_some() {
            let popped = pop(ctx, key, max, 1);
            let (m, s) = &popped[0];
            out.array(3);
            out.bulk(key);
            out.bulk(m);
            out.double(*s);
            return Ok(());
        }
    }
    out.null_array();
    Ok(())
}

/// `ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]`
///
/// `[key, [[member, score], ...]]` from the first non-empty key, or a null array.
fn zmpop(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    mpop_generic(ctx, args, 1, out)
}

/// `BZMPOP timeout numkeys key [key ...] MIN | MAX [COUNT count]`
fn bzmpop(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    parse_timeout(args.get(1))?;
    mpop_generic(ctx, args, 2, out)
}

fn mpop_generic(ctx: &mut Ctx, args: Args, at: usize, out: &mut Out) -> CmdResult {
    let numkeys = parse_int(args.get(at))
        .ok()
        .filter(|&n| n > 0)
        .ok_or(CmdError::msg("ERR numkeys should be greater than 0"))? as usize;
    let where_at = at.saturating_add(numkeys).saturating_add(1);
    if where_at >= args.len() {
        return Err(CmdError::Syntax);
    }
    let max = match args.get(where_at) {
        w if eq_ic(w, "min") => false,
        w if eq_ic(w, "max") => true,
        _ => return Err(CmdError::Syntax),
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && eq_ic(args.get(j), "count") && j + 1 < args.len() {
            let c = parse_int(args.get(j + 1))
                .ok()
                .filter(|&c| c > 0)
                .ok_or(CmdError::msg("ERR count should be greater than 0"))?;
            count = Some(c as usize);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    for i in at + 1..where_at {
        let key = args.get(i);
        if write(ctx, key)?.is_some() {
            let popped = pop(ctx, key, max, count.unwrap_or(1));
            out.array(2);
            out.bulk(key);
            out.array(popped.len());
            for (m, s) in &popped {
                out.array(2);
                out.bulk(m);
                out.double(*s);
            }
            return Ok(());
        }
    }
    out.null_array();
    Ok(())
}

// ---- ZRANDMEMBER ----

/// `ZRANDMEMBER key [count [WITHSCORES]]`
///
/// A random member (or nil); with a positive count up to `count` distinct members, with a
/// negative one exactly `-count`, possibly repeated.
fn zrandmember(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let with_scores = match args.len() {
        2 | 3 => false,
        4 if eq_ic(args.get(3), "withscores") => true,
        _ => return Err(CmdError::Syntax),
    };
    let count = if args.len() >= 3 {
        let c = parse_int(args.get(2))?;
        if c == i64::MIN {
            return Err(CmdError::msg(RANDOM_RANGE));
        }
        Some(c)
    } else {
        None
    };
    let mut rng = ctx.shard.rng;
    let z = read(ctx, args.get(1))?;
    let mut picked: Vec<(Vec<u8>, f64)> = Vec::new();
    match (z, count) {
        (None, None) => out.null(),
        (None, Some(_)) | (Some(_), Some(0)) => out.array(0),
        (Some(z), None) => {
            let r = (xorshift(&mut rng) % z.len() as u64) as usize;
            z.range(r, r + 1, false, |m, _| out.bulk(m));
        }
        (Some(z), Some(c)) => {
            let len = z.len();
            if c < 0 {
                for _ in 0..c.unsigned_abs() {
                    let r = (xorshift(&mut rng) % len as u64) as usize;
                    z.range(r, r + 1, false, |m, s| picked.push((m.to_vec(), s)));
                }
            } else {
                z.for_each(|m, s| picked.push((m.to_vec(), s)));
                while picked.len() > c as usize {
                    let r = (xorshift(&mut rng) % picked.len() as u64) as usize;
                    picked.swap_remove(r);
                }
            }
            reply_pairs(out, &picked, with_scores);
        }
    }
    ctx.shard.rng = rng;
    Ok(())
}

// ---- The algebra ----

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// An input of the algebra: a sorted set, or a plain set whose members score 1.
#[derive(Clone, Copy)]
enum Src<'a> {
    Missing,
    Z(&'a ZSet),
    S(&'a Set),
}

impl Src<'_> {
    fn len(&self) -> usize {
        match self {
            Src::Missing => 0,
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
        }
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::Missing => None,
            Src::Z(z) => z.score(m),
            Src::S(s) => s.contains(m).then_some(1.0),
        }
    }

    fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            Src::Missing => {}
            Src::Z(z) => z.for_each(f),
            Src::S(s) => s.for_each(|m| f(m, 1.0)),
        }
    }
}

fn aggregate(agg: Aggregate, acc: f64, v: f64) -> f64 {
    match agg {
        Aggregate::Sum => {
            let s = acc + v;
            if s.is_nan() { 0.0 } else { s }
        }
        Aggregate::Min => acc.min(v),
        Aggregate::Max => acc.max(v),
    }
}

fn weighted(score: f64, weight: f64) -> f64 {
    let v = score * weight;
    if v.is_nan() { 0.0 } else { v }
}

/// The options after the keys: WEIGHTS, AGGREGATE, WITHSCORES, LIMIT.
struct AlgebraOpts {
    weights: Vec<f64>,
    agg: Aggregate,
    with_scores: bool,
    limit: usize,
}

/// Parses Redis's `zunionInterDiffGenericCommand` arguments from `args[at]` (numkeys) on,
/// type-checking the keys before the options as Redis does. Returns the key indexes.
fn parse_algebra(
    ctx: &mut Ctx,
    args: Args,
    at: usize,
    op: Op,
    store: bool,
    card: bool,
) -> CmdResult<(Vec<usize>, AlgebraOpts)> {
    let n = parse_int(args.get(at))?;
    if n < 1 {
        let name = String::from_utf8_lossy(args.get(0)).to_ascii_lowercase();
        return Err(CmdError::msg(format!("ERR at least 1 input key is needed for '{name}' command")));
    }
    if n as u64 > (args.len() - at - 1) as u64 {
        return Err(CmdError::Syntax);
    }
    let n = n as usize;
    let keys: Vec<usize> = (at + 1..at + 1 + n).collect();
    for &k in &keys {
        if let Some(e) = ctx.lookup(args.get(k))
            && !matches!(e.value, Value::ZSet(_) | Value::Set(_))
        {
            return Err(CmdError::WrongType);
        }
    }
    let mut o = AlgebraOpts { weights: vec![1.0; n], agg: Aggregate::Sum, with_scores: false, limit: 0 };
    let mut j = at + 1 + n;
    while j < args.len() {
        let a = args.get(j);
        let remaining = args.len() - j;
        if op != Op::Diff && !card && remaining > n && eq_ic(a, "weights") {
            for i in 0..n {
                o.weights[i] = parse_float(args.get(j + 1 + i))
                    .map_err(|_| CmdError::msg("ERR weight value is not a float"))?;
            }
            j += 1 + n;
        } else if op != Op::Diff && !card && remaining >= 2 && eq_ic(a, "aggregate") {
            o.agg = match args.get(j + 1) {
                x if eq_ic(x, "sum") => Aggregate::Sum,
                x if eq_ic(x, "min") => Aggregate::Min,
                x if eq_ic(x, "max") => Aggregate::Max,
                _ => return Err(CmdError::Syntax),
            };
            j += 2;
        } else if !store && !card && eq_ic(a, "withscores") {
            o.with_scores = true;
            j += 1;
        } else if card && remaining >= 2 && eq_ic(a, "limit") {
            o.limit = parse_int(args.get(j + 1))
                .ok()
                .filter(|&l| l >= 0)
                .ok_or(CmdError::msg("ERR LIMIT can't be negative"))? as usize;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok((keys, o))
}

/// Computes `op` over the inputs into (member, score) pairs sorted as a zset orders them.
fn compute(ctx: &mut Ctx, args: Args, keys: &[usize], op: Op, o: &AlgebraOpts) -> Vec<(Vec<u8>, f64)> {
    let (db, now) = (&ctx.shard.dbs[ctx.db], ctx.now_ms);
    let mut srcs: Vec<(Src, f64)> = keys
        .iter()
        .zip(&o.weights)
        .map(|(&k, &w)| {
            let src = match db.peek(args.get(k), now).map(|e| &e.value) {
                Some(Value::ZSet(z)) => Src::Z(z),
                Some(Value::Set(s)) => Src::S(s),
                _ => Src::Missing,
            };
            (src, w)
        })
        .collect();
    let mut result: Vec<(Vec<u8>, f64)> = Vec::new();
    match op {
        Op::Union => {
            let mut acc: ahash::AHashMap<Vec<u8>, f64> = ahash::AHashMap::new();
            for (src, w) in &srcs {
                src.for_each(|m, s| {
                    let v = weighted(s, *w);
                    match acc.get_mut(m) {
                        Some(a) => *a = aggregate(o.agg, *a, v),
                        None => {
                            acc.insert(m.to_vec(), v);
                        }
                    }
                });
            }
            result.extend(acc);
        }
        Op::Inter => {
            if srcs.iter().any(|(s, _)| s.len() == 0) {
                return result;
            }
            srcs.sort_by_key(|(s, _)| s.len());
            let (first, rest) = srcs.split_first().expect("at least one key");
            first.0.for_each(|m, s| {
                if o.limit != 0 && result.len() >= o.limit {
                    return;
                }
                let mut v = weighted(s, first.1);
                for (src, w) in rest {
                    match src.score(m) {
                        Some(s2) => v = aggregate(o.agg, v, weighted(s2, *w)),
                        None => return,
                    }
                }
                result.push((m.to_vec(), v));
            });
        }
        Op::Diff => {
            let (first, rest) = srcs.split_first().expect("at least one key");
            first.0.for_each(|m, s| {
                if rest.iter().all(|(src, _)| src.score(m).is_none()) {
                    result.push((m.to_vec(), s));
                }
            });
        }
    }
    result.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    result
}

fn algebra_reply(ctx: &mut Ctx, args: Args, op: Op, out: &mut Out) -> CmdResult {
    let (keys, o) = parse_algebra(ctx, args, 1, op, false, false)?;
    let result = compute(ctx, args, &keys, op, &o);
    reply_pairs(out, &result, o.with_scores);
    Ok(())
}

fn algebra_store(ctx: &mut Ctx, args: Args, op: Op, out: &mut Out) -> CmdResult {
    let (keys, o) = parse_algebra(ctx, args, 2, op, true, false)?;
    let result = compute(ctx, args, &keys, op, &o);
    let lim = limits(ctx);
    let mut z = ZSet::default();
    for (m, s) in &result {
        z.insert_new(m, *s, lim);
    }
    store(ctx, args.get(1), z);
    out.int(result.len() as i64);
    Ok(())
}

/// `ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]`
fn zunion(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    algebra_reply(ctx, args, Op::Union, out)
}

/// `ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]`
fn zinter(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    algebra_reply(ctx, args, Op::Inter, out)
}

/// `ZDIFF numkeys key [key ...] [WITHSCORES]`
fn zdiff(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    algebra_reply(ctx, args, Op::Diff, out)
}

/// `ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]`
fn zunionstore(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    algebra_store(ctx, args, Op::Union, out)
}

/// `ZINTERSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]`
fn zinterstore(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    algebra_store(ctx, args, Op::Inter, out)
}

/// `ZDIFFSTORE destination numkeys key [key ...]`
fn zdiffstore(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    algebra_store(ctx, args, Op::Diff, out)
}

/// `ZINTERCARD numkeys key [key ...] [LIMIT limit]`
fn zintercard(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    let (keys, o) = parse_algebra(ctx, args, 1, Op::Inter, false, true)?;
    let n = compute(ctx, args, &keys, Op::Inter, &o).len();
    out.int(n as i64);
    Ok(())
}

// ---- ZSCAN ----

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`
///
/// `[next cursor, [member, score, ...]]`, scores as bulk strings. A listpack comes back whole
/// with cursor 0.
fn zscan(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    parse_scan_cursor(args.get(2))?;
    let Some(z) = read(ctx, args.get(1))? else {
        write_scan_reply(out, 0, &[]);
        return Ok(());
    };
    let opts = parse_scan_args(args, 3)?;
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut cursor = opts.cursor;
    let mut iterations = opts.count.saturating_mul(10);
    loop {
        cursor = z.scan(cursor, |m, s| {
            found.push(m.to_vec());
            found.push(format_double(s).into_bytes());
        });
        // Redis counts members and scores alike against COUNT.
        if cursor == 0 || iterations == 0 || found.len() >= opts.count {
            break;
        }
        iterations -= 1;
    }
    if let Some(p) = &opts.pattern {
        let mut kept = Vec::with_capacity(found.len());
        let mut it = found.into_iter();
        while let (Some(m), Some(s)) = (it.next(), it.next()) {
            if glob_match(p, &m, false) {
                kept.push(m);
                kept.push(s);
            }
        }
        found = kept;
    }
    write_scan_reply(out, cursor, &found);
    Ok(())
}
