//! What a command leaves in the shard's AOF (see `aof` for the format): the command itself,
//! unless replaying it verbatim later would not give the same result. Called after every
//! command a shard runs while the AOF is on; scratch shards and replay have no log.

use crate::commands::{Args, Command, WRITE};
use crate::shard::{Ctx, Entry, Shard, Value};

/// How a write command is logged.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Logged {
    Verbatim,
    /// Only the TTL it produced (EXPIRE and friends, GETEX).
    TtlOnly,
    /// The command, then the TTL it produced (SETEX, PSETEX, RESTORE).
    ThenTtl,
    /// SET: the command, then its TTL when it had a TTL option.
    Set,
    /// SPOP: the SREM of what it popped.
    Popped,
}

/// Per command-table index: how it is logged (built once).
fn logged_as(cmd_index: usize) -> Logged {
    static KINDS: std::sync::OnceLock<Vec<Logged>> = std::sync::OnceLock::new();
    KINDS.get_or_init(|| {
        crate::commands::table()
            .iter()
            .map(|c| match c.name {
                "expire" | "pexpire" | "expireat" | "pexpireat" | "getex" => Logged::TtlOnly,
                "setex" | "psetex" | "restore" => Logged::ThenTtl,
                "set" => Logged::Set,
                "spop" => Logged::Popped,
                _ => Logged::Verbatim,
            })
            .collect()
    })[cmd_index]
}

/// Logs keys that expired since the last call (as DEL), then the command that just ran
/// with `reply`, if it is a write that succeeded.
pub fn after_command(ctx: &mut Ctx, cmd_index: usize, cmd: &Command, args: Args, reply: &[u8], ok: bool) {
    log_expired(ctx.shard);
    if !ok || cmd.flags & WRITE == 0 {
        return;
    }
    match logged_as(cmd_index) {
        Logged::Verbatim => log_args(ctx, args),
        Logged::TtlOnly => log_ttl(ctx, args.get(1)),
        Logged::ThenTtl => {
            log_args(ctx, args);
            log_ttl(ctx, args.get(1));
        }
        Logged::Set => {
            log_args(ctx, args);
            if sets_ttl(args) {
                log_ttl(ctx, args.get(1));
            }
        }
        Logged::Popped => log_popped(ctx, args.get(1), reply),
    }
}

/// Whether a SET carries a TTL option (without one it clears the TTL or keeps it, both of
/// which replay the same).
fn sets_ttl(args: Args) -> bool {
    args.iter().skip(3).any(|a| {
        a.len() <= 4 && ["ex", "px", "exat", "pxat"].iter().any(|o| a.eq_ignore_ascii_case(o.as_bytes()))
    })
}

fn log_args(ctx: &mut Ctx, args: Args) {
    let db = ctx.db;
    if let Some(log) = ctx.shard.aof.as_mut() {
        log.record(db, args.iter_exact());
    }
}

/// Logs `key`'s TTL as it is now: PEXPIREAT, PERSIST, or DEL when the key is gone.
fn log_ttl(ctx: &mut Ctx, key: &[u8]) {
    let (db, now) = (ctx.db, ctx.now_ms);
    let state = ctx.shard.dbs[db].peek(key, now).map(|e| e.expire_at_ms);
    let Some(log) = ctx.shard.aof.as_mut() else { return };
    match state {
        Some(0) => log.record(db, [&b"PERSIST"[..], key].into_iter()),
        Some(at) => {
            let mut tmp = [0u8; 24];
            let n = crate::resp::write::format_i64(&mut tmp, at as i64);
            log.record(db, [&b"PEXPIREAT"[..], key, &tmp[..n]].into_iter());
        }
        None => log.record(db, [&b"DEL"[..], key].into_iter()),
    }
}

/// SPOP's reply names what it removed: log that as SREM.
fn log_popped(ctx: &mut Ctx, key: &[u8], reply: &[u8]) {
    let members = bulk_strings(reply);
    if members.is_empty() {
        return;
    }
    let db = ctx.db;
    if let Some(log) = ctx.shard.aof.as_mut() {
        let args: Vec<&[u8]> = [&b"SREM"[..], key].into_iter().chain(members).collect();
        log.record(db, args.into_iter());
    }
}

/// The bulk strings of a reply that is one bulk string or an array/set of them.
fn bulk_strings(reply: &[u8]) -> Vec<&[u8]> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < reply.len() {
        let Some(eol) = memchr::memmem::find(&reply[at..], b"\r\n") else { break };
        let line = &reply[at..at + eol];
        at += eol + 2;
        if line.first() == Some(&b'$') {
            let Some(len) = crate::resp::parse::parse_i64(&line[1..]) else { break };
            if len < 0 {
                continue;
            }
            let end = at + len as usize;
            if end > reply.len() {
                break;
            }
            found.push(&reply[at..end]);
            at = end + 2;
        }
    }
    found
}

/// Logs the keys lazy or active expiry removed, as DEL, each in its database.
pub fn log_expired(shard: &mut Shard) {
    let Some(sink) = shard.expired_sink.as_ref() else { return };
    if sink.borrow().is_empty() {
        return;
    }
    let keys = std::mem::take(&mut *sink.borrow_mut());
    if let Some(log) = shard.aof.as_mut() {
        for (db, key) in keys {
            log.record_untagged(db, [&b"DEL"[..], &key].into_iter());
        }
    }
}

/// Logs `key`'s whole state as it is now (a key moved in, or written back after a command
/// ran on gathered copies): DEL, then the commands that rebuild it.
pub fn log_key_state(ctx: &mut Ctx, key: &[u8]) {
    // Keys that expired earlier (maybe this one, on the way here) are logged first.
    log_expired(ctx.shard);
    let (db, now) = (ctx.db, ctx.now_ms);
    let shard = &mut *ctx.shard;
    let Some(log) = shard.aof.as_mut() else { return };
    log.record(db, [&b"DEL"[..], key].into_iter());
    if let Some(entry) = shard.dbs[db].peek(key, now) {
        emit_entry(&mut |args: &[&[u8]]| log.record(db, args.iter().copied()), key, entry);
    }
}

/// How many elements one rebuilding command carries (as Redis's AOF rewrite batches them).
const ITEMS_PER_COMMAND: usize = 64;

/// Calls `emit` with the commands that recreate `key` holding `entry` (value, then TTL).
pub fn emit_entry(emit: &mut dyn FnMut(&[&[u8]]), key: &[u8], entry: &Entry) {
    match &entry.value {
        Value::Str(s) => s.with_bytes(|b| emit(&[b"SET", key, b])),
        Value::List(l) => {
            let items: Vec<Vec<u8>> = l.iter().map(|e| e.to_vec()).collect();
            emit_chunks(emit, b"RPUSH", key, items.iter().map(|v| vec![v.as_slice()]));
        }
        Value::Hash(h) => {
            let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(h.len());
            h.for_each(|f, v| pairs.push((f.to_vec(), v.to_vec())));
            emit_chunks(emit, b"HSET", key, pairs.iter().map(|(f, v)| vec![f.as_slice(), v.as_slice()]));
        }
        Value::Set(s) => {
            let mut members: Vec<Vec<u8>> = Vec::with_capacity(s.len());
            s.for_each(|m| members.push(m.to_vec()));
            emit_chunks(emit, b"SADD", key, members.iter().map(|m| vec![m.as_slice()]));
        }
        Value::ZSet(z) => {
            let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(z.len());
            z.for_each(|m, score| {
                pairs.push((crate::resp::write::format_double(score).into_bytes(), m.to_vec()))
            });
            emit_chunks(emit, b"ZADD", key, pairs.iter().map(|(s, m)| vec![s.as_slice(), m.as_slice()]));
        }
    }
    if entry.expire_at_ms != 0 {
        let mut tmp = [0u8; 24];
        let n = crate::resp::write::format_i64(&mut tmp, entry.expire_at_ms as i64);
        emit(&[b"PEXPIREAT", key, &tmp[..n]]);
    }
}

fn emit_chunks<'a>(
    emit: &mut dyn FnMut(&[&[u8]]),
    name: &[u8],
    key: &[u8],
    items: impl Iterator<Item = Vec<&'a [u8]>>,
) {
    let mut args: Vec<&[u8]> = vec![name, key];
    let mut count = 0;
    for item in items {
        args.extend(item);
        count += 1;
        if count == ITEMS_PER_COMMAND {
            emit(&args);
            args.truncate(2);
            count = 0;
        }
    }
    if count > 0 {
        emit(&args);
    }
}
