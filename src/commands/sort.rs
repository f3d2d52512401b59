//! SORT and SORT_RO: the elements of a list, set or sorted set, sorted numerically or
//! lexicographically, by themselves or by other keys named after them (`BY weight_*`,
//! `BY obj_*->field`), windowed by LIMIT, projected by GET, replied or STOREd as a list.
//!
//! The steps and their order are Redis 7.0's `sort.c`, because they show: options are parsed
//! (the first error wins), the key is read, the elements are loaded (for a list or sorted set
//! with a constant BY only the LIMIT window, in the key's own order), weights are looked up,
//! the vector is sorted (stably, as glibc's merge-sorting `qsort`), and only then are GET
//! patterns resolved and the result replied or stored.
//!
//! Pattern keys are not declared keys: they are read through the `Ctx` the handler is given,
//! so they are found when they are present in it. The handler is deterministic and changes
//! nothing until every read is done (the sorted set's re-encoding and STORE come last), so a
//! coordinator may re-run it on a shard that has gathered the pattern keys it missed.

use super::{Args, Command, Exec, READONLY, Special, WRITE, eq_ic};
use crate::error::{CmdError, CmdResult};
use crate::resp::Out;
use crate::shard::{Ctx, Value};
use crate::types::list::{End, List};
use crate::types::zset::{self, ZSet};
use std::cmp::Ordering;

/// Arity and legacy key positions are Redis 7.2's; SORT's STORE destination is found by
/// `sort_keys`, as Redis's `sortGetKeys`.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "sort",
        arity: -2,
        flags: WRITE,
        first_key: 1,
        last_key: 1,
        step: 1,
        keys_fn: Some(sort_keys),
        exec: Exec::Cross(sort, Special::Gather),
    },
    Command {
        name: "sort_ro",
        arity: -2,
        flags: READONLY,
        first_key: 1,
        last_key: 1,
        step: 1,
        keys_fn: None,
        exec: Exec::Cross(sort_ro, Special::Gather),
    },
];

const NOT_A_DOUBLE: &str = "ERR One or more scores can't be converted into double";

/// `SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA] [STORE dest]`
///
/// The sorted elements (or their GET projections, nil for missing ones), or with STORE the
/// length of the list stored at `dest` (which is deleted when the result is empty).
fn sort(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    sort_generic(ctx, args, out, false)
}

/// `SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]`
///
/// SORT without STORE.
fn sort_ro(ctx: &mut Ctx, args: Args, out: &mut Out) -> CmdResult {
    sort_generic(ctx, args, out, true)
}

/// The key arguments of SORT: the sorted key and, when given, the (last) STORE destination.
/// Options are skipped as the command parses them, so the destination found is the one the
/// command writes.
fn sort_keys(args: Args, keys: &mut Vec<usize>) {
    if args.len() < 2 {
        return;
    }
    keys.push(1);
    let mut store = None;
    let mut j = 2;
    while j < args.len() {
        let (a, left) = (args.get(j), args.len() - j - 1);
        if eq_ic(a, "limit") && left >= 2 {
            j += 2;
        } else if (eq_ic(a, "by") || eq_ic(a, "get")) && left >= 1 {
            j += 1;
        } else if eq_ic(a, "store") && left >= 1 {
            store = Some(j + 1);
            j += 1;
        }
        j += 1;
    }
    keys.extend(store);
}

// ---- Options ----

struct Options<'a> {
    desc: bool,
    alpha: bool,
    /// LIMIT as given (count < 0: to the end).
    offset: i64,
    count: i64,
    by: Option<Pattern<'a>>,
    /// A BY without `*`: the elements keep the key's order (sticky, as in Redis).
    dont_sort: bool,
    gets: Vec<Pattern<'a>>,
    store: Option<&'a [u8]>,
}

/// Parses the options after the key, as Redis does: later ASC/DESC, LIMIT, BY and STORE
/// replace earlier ones; an option short of its arguments is a syntax error.
fn parse_options(args: Args, readonly: bool) -> CmdResult<Options> {
    let mut o = Options {
        desc: false,
        alpha: false,
        offset: 0,
        count: -1,
        by: None,
        dont_sort: false,
        gets: Vec::new(),
        store: None,
    };
    let mut j = 2;
    while j < args.len() {
        let (a, left) = (args.get(j), args.len() - j - 1);
        if eq_ic(a, "asc") {
            o.desc = false;
        } else if eq_ic(a, "desc") {
            o.desc = true;
        } else if eq_ic(a, "alpha") {
            o.alpha = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            o.offset = args.i64(j + 1)?;
            o.count = args.i64(j + 2)?;
            j += 2;
        } else if !readonly && eq_ic(a, "store") && left >= 1 {
            o.store = Some(args.get(j + 1));
            j += 1;
        } else if eq_ic(a, "by") && left >= 1 {
            let by = Pattern::parse(args.get(j + 1));
            // `#` has no `*` either: only a `*` makes BY sort.
            o.dont_sort |= !matches!(by, Pattern::Key { .. });
            o.by = Some(by);
            j += 1;
        } else if eq_ic(a, "get") && left >= 1 {
            o.gets.push(Pattern::parse(args.get(j + 1)));
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// A BY or GET pattern, read as Redis reads it: as a C string (up to a NUL byte) when looking
/// for `#`, `*` and `->`, but with its full length when building the key and field.
#[derive(Clone, Copy)]
enum Pattern<'a> {
    /// `#`: the element itself.
    Element,
    /// No `*`: names no key (GET replies nil; BY means "do not sort").
    Constant,
    /// `prefix*postfix`, or `prefix*postfix->field` for a hash field.
    Key { prefix: &'a [u8], postfix: &'a [u8], field: Option<&'a [u8]> },
}

impl<'a> Pattern<'a> {
    fn parse(p: &'a [u8]) -> Pattern<'a> {
        let c = c_str(p);
        if c == b"#" {
            return Pattern::Element;
        }
        let Some(star) = c.iter().position(|&b| b == b'*') else {
            return Pattern::Constant;
        };
        let arrow = c[star + 1..].windows(2).position(|w| w == b"->").map(|i| star + 1 + i);
        match arrow {
            // `->` followed by at least one byte before the C string ends.
            Some(f) if f + 2 < c.len() => {
                Pattern::Key { prefix: &p[..star], postfix: &p[star + 1..f], field: Some(&p[f + 2..]) }
            }
            _ => Pattern::Key { prefix: &p[..star], postfix: &p[star + 1..], field: None },
        }
    }

    /// Calls `f` with the value the pattern names for `elem`: the string at the key, or the
    /// hash field; None when the key is missing or of the other type. `key` is scratch space.
    fn with_value<R>(
        &self,
        ctx: &mut Ctx,
        elem: &[u8],
        key: &mut Vec<u8>,
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> R {
        let (prefix, postfix, field) = match *self {
            Pattern::Element => return f(Some(elem)),
            Pattern::Constant => return f(None),
            Pattern::Key { prefix, postfix, field } => (prefix, postfix, field),
        };
        key.clear();
        key.extend_from_slice(prefix);
        key.extend_from_slice(elem);
        key.extend_from_slice(postfix);
        match (ctx.lookup(key).map(|e| &e.value), field) {
            (Some(Value::Str(s)), None) => s.with_bytes(|b| f(Some(b))),
            (Some(Value::Hash(h)), Some(field)) => h.with_value(field, f),
            _ => f(None),
        }
    }
}

/// The bytes C code sees in a string: those before the first NUL.
fn c_str(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |n| &b[..n])
}

// ---- Loading ----

/// One element to sort: its bytes in `Vector::bytes`, and what it sorts by.
struct Item {
    at: usize,
    len: usize,
    /// The numeric weight (0 when a BY key is missing).
    score: f64,
    /// The ALPHA weight from a BY key, in `Vector::weights`; None when missing.
    weight: Option<(usize, usize)>,
}

/// The elements, copied out of the key so that pattern keys can be read while sorting.
#[derive(Default)]
struct Vector {
    bytes: Vec<u8>,
    weights: Vec<u8>,
    items: Vec<Item>,
}

impl Vector {
    fn push(&mut self, elem: &[u8]) {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(elem);
        self.items.push(Item { at, len: elem.len(), score: 0.0, weight: None });
    }

    fn elem(&self, i: usize) -> &[u8] {
        let it = &self.items[i];
        &self.bytes[it.at..it.at + it.len]
    }
}

/// The LIMIT window over `len` elements as inclusive positions, with Redis's arithmetic
/// (an empty window is `end < start`).
fn window(len: i64, offset: i64, count: i64) -> (i64, i64) {
    let start = offset.max(0);
    let end = if count < 0 { len - 1 } else { start.wrapping_add(count).wrapping_sub(1) };
    if start >= len {
        return (len - 1, len - 2);
    }
    (start, end.min(len - 1))
}

/// What the sorted key holds (a missing key sorts as an empty list).
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    List,
    Set,
    ZSet,
}

/// Loads the elements of `key` into a vector. For a list or sorted set that is not to be
/// sorted, only the window is loaded, in the key's order (reversed for DESC), and the window
/// is moved to cover the vector. Returns the key's kind.
fn load(ctx: &mut Ctx, key: &[u8], o: &Options, win: &mut (i64, i64), v: &mut Vector) -> CmdResult<Kind> {
    let value = ctx.lookup(key).map(|e| &e.value);
    let (kind, len) = match value {
        None => (Kind::List, 0),
        Some(Value::List(l)) => (Kind::List, l.len()),
        Some(Value::Set(s)) => (Kind::Set, s.len()),
        Some(Value::ZSet(z)) => (Kind::ZSet, z.len()),
        Some(_) => return Err(CmdError::WrongType),
    };
    *win = window(len as i64, o.offset, o.count);
    let (start, end) = *win;
    let in_order = o.dont_sort && kind != Kind::Set;
    let n = if in_order { (end - start + 1).max(0) as usize } else { len };
    v.items.reserve_exact(n);
    let mut tmp = [0u8; 24];
    match value {
        Some(Value::List(l)) if in_order && end >= start => {
            let s = start as usize;
            if o.desc {
                l.iter_rev_from(len - s - 1).take(n).for_each(|e| v.push(e.bytes(&mut tmp)));
            } else {
                l.iter_from(s).take(n).for_each(|e| v.push(e.bytes(&mut tmp)));
            }
            *win = (0, end - start);
        }
        // An empty window over a list keeps its positions (Redis moves it only when loading).
        Some(Value::List(_)) if in_order => {}
        Some(Value::List(l)) => l.iter().for_each(|e| v.push(e.bytes(&mut tmp))),
        Some(Value::Set(s)) => s.for_each(|m| v.push(m)),
        Some(Value::ZSet(z)) if in_order => {
            let s = start.max(0) as usize;
            if o.desc {
                z.range(len - s - n, len - s, true, |m, _| v.push(m));
            } else {
                z.range(s, s + n, false, |m, _| v.push(m));
            }
            *win = (0, end - start);
        }
        Some(Value::ZSet(z)) => z.for_each(|m, _| v.push(m)),
        _ => {}
    }
    Ok(kind)
}

// ---- Sorting ----

/// How two elements compare.
#[derive(Clone, Copy)]
enum Order {
    /// By score, ties by the elements' bytes.
    Numeric,
    /// By the BY values (missing ones first, equal ones in load order).
    AlphaBy { binary: bool },
    /// By the elements.
    Alpha { binary: bool },
}

/// Strings as Redis compares them for ALPHA: with STORE byte-wise (`compareStringObjects`),
/// otherwise with `strcoll`, which under the C and C.UTF-8 locales is `strcmp`.
fn compare_alpha(a: &[u8], b: &[u8], binary: bool) -> Ordering {
    if binary { a.cmp(b) } else { c_str(a).cmp(c_str(b)) }
}

/// Reads the weights: the elements' own, or the BY keys' values. Returns false if one of the
/// numeric weights is not a number.
fn load_weights(ctx: &mut Ctx, o: &Options, v: &mut Vector) -> bool {
    let mut valid = true;
    let mut key = Vec::new();
    for i in 0..v.items.len() {
        let Vector { bytes, weights, items } = v;
        let item = &mut items[i];
        let elem = &bytes[item.at..item.at + item.len];
        match (&o.by, o.alpha) {
            (None, true) => {}
            (None, false) => match strtod(elem) {
                Some(s) => item.score = s,
                None => valid = false,
            },
            (Some(by), true) => by.with_value(ctx, elem, &mut key, |w| {
                if let Some(w) = w {
                    item.weight = Some((weights.len(), w.len()));
                    weights.extend_from_slice(w);
                }
            }),
            (Some(by), false) => by.with_value(ctx, elem, &mut key, |w| match w.map(strtod) {
                None => {}
                Some(Some(s)) => item.score = s,
                Some(None) => valid = false,
            }),
        }
    }
    valid
}

fn sort_vector(v: &mut Vector, order: Order, desc: bool) {
    let Vector { bytes, weights, items } = v;
    let elem = |it: &Item| &bytes[it.at..it.at + it.len];
    let weight = |it: &Item| it.weight.map(|(at, len)| &weights[at..at + len]);
    items.sort_by(|a, b| {
        let cmp = match order {
            Order::Numeric => {
                if a.score > b.score {
                    Ordering::Greater
                } else if a.score < b.score {
                    Ordering::Less
                } else {
                    elem(a).cmp(elem(b))
                }
            }
            Order::AlphaBy { binary } => match (weight(a), weight(b)) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) => compare_alpha(x, y, binary),
            },
            Order::Alpha { binary } => compare_alpha(elem(a), elem(b), binary),
        };
        if desc { cmp.reverse() } else { cmp }
    });
}

// ---- The command ----

fn sort_generic(ctx: &mut Ctx, args: Args, out: &mut Out, readonly: bool) -> CmdResult {
    let mut o = parse_options(args, readonly)?;
    let key = args.get(1);
    let mut v = Vector::default();
    let mut win = (0, -1);
    let kind = load(ctx, key, &o, &mut win, &mut v)?;
    // A set has no order of its own to keep: stored, it is sorted ALPHA (Redis does so for
    // replication's sake).
    if o.dont_sort && kind == Kind::Set && o.store.is_some() {
        o.dont_sort = false;
        o.alpha = true;
        o.by = None;
    }
    let mut numbers_ok = true;
    if !o.dont_sort {
        numbers_ok = load_weights(ctx, &o, &mut v);
        if numbers_ok {
            let binary = o.store.is_some();
            let order = match (o.alpha, o.by.is_some()) {
                (false, _) => Order::Numeric,
                (true, true) => Order::AlphaBy { binary },
                (true, false) => Order::Alpha { binary },
            };
            sort_vector(&mut v, order, o.desc);
        }
    }
    let (start, end) = win;
    let window = if end >= start { start as usize..end as usize + 1 } else { 0..0 };
    let per_elem = o.gets.len().max(1);
    let stored = if !numbers_ok {
        None
    } else if let Some(dest) = o.store {
        Some((dest, stored_list(ctx, &o, &v, window)))
    } else {
        reply_sorted(ctx, &o, &v, window, per_elem, out);
        None
    };
    // Every read is done: now the writes.
    if kind == Kind::ZSet {
        skiplist_encode(ctx, key);
    }
    if !numbers_ok {
        return Err(CmdError::msg(NOT_A_DOUBLE));
    }
    if let Some((dest, list)) = stored {
        let n = list.len();
        if n == 0 {
            ctx.db().remove(dest);
        } else {
            let entry = ctx.new_entry(Value::List(list));
            ctx.db().insert(dest, entry);
        }
        out.int(n as i64);
    }
    Ok(())
}

/// Replies the window: each element, or each element's GET values (nil when missing).
fn reply_sorted(
    ctx: &mut Ctx,
    o: &Options,
    v: &Vector,
    window: std::ops::Range<usize>,
    per_elem: usize,
    out: &mut Out,
) {
    out.array(window.len() * per_elem);
    let mut key = Vec::new();
    for i in window {
        let elem = v.elem(i);
        if o.gets.is_empty() {
            out.bulk(elem);
        }
        for get in &o.gets {
            get.with_value(ctx, elem, &mut key, |val| match val {
                Some(b) => out.bulk(b),
                None => out.null(),
            });
        }
    }
}

/// The list STORE writes: the window's elements, or their GET values ("" when missing).
fn stored_list(ctx: &mut Ctx, o: &Options, v: &Vector, window: std::ops::Range<usize>) -> List {
    let fill = ctx.config.list_max_listpack_size;
    let mut list = List::new();
    let mut key = Vec::new();
    for i in window {
        let elem = v.elem(i);
        if o.gets.is_empty() {
            list.push(End::Tail, elem, fill);
        }
        for get in &o.gets {
            get.with_value(ctx, elem, &mut key, |val| list.push(End::Tail, val.unwrap_or(b""), fill));
        }
    }
    list
}

/// Redis 7.0 converts a listpack sorted set to a skiplist before sorting it (visible in
/// OBJECT ENCODING afterwards); we do it once the reads are done.
fn skiplist_encode(ctx: &mut Ctx, key: &[u8]) {
    let Some(entry) = ctx.lookup_quiet(key) else { return };
    let Value::ZSet(z) = &mut entry.value else { return };
    if matches!(**z, ZSet::Tree(_)) {
        return;
    }
    // Limits of zero force the skiplist encoding from the first insert on.
    let forced = zset::Limits { max_entries: 0, max_value: 0 };
    let mut big = ZSet::default();
    z.for_each(|m, s| big.insert_new(m, s, forced));
    **z = big;
}

// ---- Weights as numbers ----

/// A weight read as Redis reads it, with C's `strtod`: leading white space, decimal or `0x`
/// hex notation, `inf`/`infinity`; the whole string (up to a NUL) must be used, and NaN or a
/// result out of range (overflow, or underflow to zero or a subnormal: `ERANGE`) is rejected.
fn strtod(b: &[u8]) -> Option<f64> {
    if let Some(i) = crate::resp::parse::parse_i64(b) {
        return Some(i as f64);
    }
    let s = c_str(b);
    // No number at all leaves strtod's end at the start: fine only if there is nothing there.
    if s.is_empty() {
        return Some(0.0);
    }
    let s = &s[s.iter().take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')).count()..];
    let (neg, body) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let magnitude = if lower == b"inf" || lower == b"infinity" {
        f64::INFINITY
    } else if lower.len() > 2 && lower.starts_with(b"0x") {
        hex_magnitude(&lower[2..])?
    } else {
        decimal_magnitude(body)?
    };
    Some(if neg { -magnitude } else { magnitude })
}

/// `digits[.digits][e[+-]digits]` with at least one mantissa digit, and in range.
fn decimal_magnitude(s: &[u8]) -> Option<f64> {
    let digits = |from: usize| s[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let int = digits(0);
    let mut i = int;
    let mut frac = 0;
    if s.get(i) == Some(&b'.') {
        frac = digits(i + 1);
        i += 1 + frac;
    }
    if int + frac == 0 {
        return None;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        let sign = matches!(s.get(i + 1), Some(b'+' | b'-')) as usize;
        let exp = digits(i + 1 + sign);
        if exp == 0 {
            return None;
        }
        i += 1 + sign + exp;
    }
    if i != s.len() {
        return None;
    }
    let v: f64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    let nonzero = s.iter().take(int + frac + 1).any(|c| matches!(c, b'1'..=b'9'));
    let underflow = (v == 0.0 && nonzero) || (v != 0.0 && v < f64::MIN_POSITIVE);
    (v.is_finite() && !underflow).then_some(v)
}

/// `hexdigits[.hexdigits][p[+-]digits]` (after `0x`, lower-cased) with at least one mantissa
/// digit, and in range.
fn hex_magnitude(s: &[u8]) -> Option<f64> {
    let hex = |from: usize| s[from..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
    let int = hex(0);
    let mut i = int;
    let mut frac = 0;
    if s.get(i) == Some(&b'.') {
        frac = hex(i + 1);
        i += 1 + frac;
    }
    if int + frac == 0 {
        return None;
    }
    let mut exp: i64 = 0;
    if s.get(i) == Some(&b'p') {
        let sign = matches!(s.get(i + 1), Some(b'+' | b'-')) as usize;
        let n = s[i + 1 + sign..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        for c in &s[i + 1 + sign..i + 1 + sign + n] {
            exp = (exp * 10 + (c - b'0') as i64).min(1 << 40);
        }
        if s[i + 1] == b'-' {
            exp = -exp;
        }
        i += 1 + sign + n;
    }
    if i != s.len() {
        return None;
    }
    // The mantissa's first 15 significant digits (60 bits) are exact; further ones only move
    // the exponent and make the result inexact.
    let (mut mant, mut inexact) = (0u64, false);
    for (k, c) in s[..int + frac + (frac > 0) as usize].iter().filter(|c| **c != b'.').enumerate() {
        let d = (*c as char).to_digit(16).unwrap_or(0) as u64;
        if mant >> 56 == 0 {
            mant = mant * 16 + d;
            if k >= int {
                exp -= 4;
            }
        } else {
            inexact |= d != 0;
            if k < int {
                exp += 4;
            }
        }
    }
    let v = ldexp(mant as f64, exp);
    let lossy = inexact || ldexp(v, -exp) != mant as f64 || mant >= 1 << 53;
    let underflow = (v == 0.0 && mant != 0) || (v != 0.0 && v < f64::MIN_POSITIVE && lossy);
    (v.is_finite() && !underflow).then_some(v)
}

/// `x * 2^e` without overflowing the intermediate power.
fn ldexp(mut x: f64, mut e: i64) -> f64 {
    while e > 1000 && x.is_finite() && x != 0.0 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 && x != 0.0 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e.clamp(-2000, 2000) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_matches_glibc() {
        let ok: &[(&[u8], f64)] = &[
            (b"12", 12.0),
            (b" 5", 5.0),
            (b"\t+.5", 0.5),
            (b"", 0.0),
            (b"0x10", 16.0),
            (b"0x1.8p1", 3.0),
            (b"0X1P+2", 4.0),
            (b"1e5", 1e5),
            (b"1.e2", 100.0),
            (b"-Infinity", f64::NEG_INFINITY),
            (b"inf", f64::INFINITY),
            (b"0e-500", 0.0),
            (b"0x1p-1074", f64::from_bits(1)),
            (b"2.2250738585072014e-308", 2.2250738585072014e-308),
            (b"3\0junk", 3.0),
        ];
        for (s, want) in ok {
            assert_eq!(strtod(s), Some(*want), "{}", String::from_utf8_lossy(s));
        }
        let bad: &[&[u8]] = &[
            b"5 ", b"1e", b"0x", b".e1", b"+", b"infx", b"1_0", b"nan", b"nan(1)", b"1e309", b"-1e309",
            b"1e-400", b"4e-320", b"abc", b".", b" ",
        ];
        for s in bad {
            assert_eq!(strtod(s), None, "{}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn patterns_read_as_c_strings() {
        assert!(matches!(Pattern::parse(b"#"), Pattern::Element));
        assert!(matches!(Pattern::parse(b"#\0x"), Pattern::Element));
        assert!(matches!(Pattern::parse(b"nosort"), Pattern::Constant));
        assert!(matches!(Pattern::parse(b"a\0*"), Pattern::Constant));
        let Pattern::Key { prefix, postfix, field } = Pattern::parse(b"w_*_x->f") else { panic!() };
        assert_eq!((prefix, postfix, field), (&b"w_"[..], &b"_x"[..], Some(&b"f"[..])));
        let Pattern::Key { postfix, field, .. } = Pattern::parse(b"w_*->") else { panic!() };
        assert_eq!((postfix, field), (&b"->"[..], None));
        let Pattern::Key { prefix, field, .. } = Pattern::parse(b"a->b*") else { panic!() };
        assert_eq!((prefix, field), (&b"a->b"[..], None));
    }

    #[test]
    fn windows_follow_redis_arithmetic() {
        assert_eq!(window(5, 0, -1), (0, 4));
        assert_eq!(window(5, -3, 2), (0, 1));
        assert_eq!(window(5, 3, 10), (3, 4));
        assert_eq!(window(5, 5, 1), (4, 3));
        assert_eq!(window(5, 1, 0), (1, 0));
        assert_eq!(window(0, 0, -1), (-1, -2));
        assert_eq!(window(5, 1, i64::MAX), (1, 4));
    }

    #[test]
    fn store_key_is_the_last_store() {
        let o = crate::commands::OwnedArgs::from_slices(
            ["SORT", "k", "BY", "store", "LIMIT", "0", "1", "STORE", "a", "GET", "store", "STORE", "b"]
                .map(str::as_bytes),
        );
        let mut keys = Vec::new();
        sort_keys(o.args(), &mut keys);
        assert_eq!(keys, vec![1, 12]);
    }
}
