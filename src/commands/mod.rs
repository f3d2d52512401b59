//! The command table and argument helpers. Each Redis group has its own file, which declares
//! its commands (name, arity, key positions, flags, how they execute) beside their handlers;
//! routing, locking and COMMAND all read this one table.

pub mod connection;
pub mod generic;
pub mod hash;
pub mod list;
pub mod meta;
pub mod server;
pub mod set;
pub mod sort;
pub mod sorted_set;
pub mod string;
pub mod transactions;

use crate::error::{CmdError, CmdResult};
use crate::resp::Out;
use crate::shard::Ctx;
use std::sync::OnceLock;

/// A parsed command's arguments: ranges into the buffer they were read into.
#[derive(Clone, Copy)]
pub struct Args<'a> {
    pub buf: &'a [u8],
    pub ranges: &'a [(u32, u32)],
}

impl<'a> Args<'a> {
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn get(&self, i: usize) -> &'a [u8] {
        let (s, e) = self.ranges[i];
        &self.buf[s as usize..e as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The arguments, for callers that need the count up front.
    pub fn iter_exact(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    pub fn to_vecs(&self) -> Vec<Vec<u8>> {
        self.iter().map(|a| a.to_vec()).collect()
    }

    pub fn i64(&self, i: usize) -> CmdResult<i64> {
        parse_int(self.get(i))
    }
}

/// An owned argument list, for commands that must survive an `.await`.
pub struct OwnedArgs {
    pub buf: Vec<u8>,
    pub ranges: Vec<(u32, u32)>,
}

impl OwnedArgs {
    pub fn from_slices<'b>(items: impl IntoIterator<Item = &'b [u8]>) -> OwnedArgs {
        let mut o = OwnedArgs { buf: Vec::new(), ranges: Vec::new() };
        for a in items {
            o.push(a);
        }
        o
    }

    pub fn push(&mut self, a: &[u8]) {
        let s = self.buf.len() as u32;
        self.buf.extend_from_slice(a);
        self.ranges.push((s, self.buf.len() as u32));
    }

    pub fn args(&self) -> Args<'_> {
        Args { buf: &self.buf, ranges: &self.ranges }
    }
}

pub fn parse_int(b: &[u8]) -> CmdResult<i64> {
    crate::resp::parse::parse_i64(b).ok_or(CmdError::NotInteger)
}

/// Parses a float as Redis's string2d: no spaces, and neither nan nor empty.
pub fn parse_float(b: &[u8]) -> CmdResult<f64> {
    let s = std::str::from_utf8(b).map_err(|_| CmdError::NotFloat)?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return Err(CmdError::NotFloat);
    }
    let v: f64 = match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => s.parse().map_err(|_| CmdError::NotFloat)?,
    };
    if v.is_nan() {
        return Err(CmdError::NotFloat);
    }
    Ok(v)
}

pub fn eq_ic(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

pub type ShardFn = fn(&mut Ctx, Args, &mut Out) -> CmdResult;
pub type ConnFn = fn(&mut crate::server::client::Client, Args, &mut Out) -> CmdResult;

/// How a multi-key command's per-shard replies combine when its keys span shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// Integer replies are added (DEL, EXISTS, TOUCH, UNLINK).
    SumInts,
    /// One reply element per key, put back in the caller's key order (MGET).
    PerKeyArray,
    /// Every shard answers +OK (MSET, FLUSHDB).
    AllOk,
    /// Array replies are concatenated (KEYS).
    Concat,
}

/// Commands that need more than one shard or the connection's core: handled by the
/// coordinator in `dispatch::special`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    MsetNx,
    Rename,
    RenameNx,
    Copy,
    FlushDb,
    FlushAll,
    DbSize,
    Keys,
    Scan,
    RandomKey,
    SwapDb,
    Info,
    ConfigGet,
    ConfigSet,
    ConfigResetStat,
    ClientList,
    ClientKill,
    Shutdown,
    DebugSleep,
    Save,
    Time,
    /// A read-only command over keys of several shards: copies of the keys are gathered under
    /// the shards' gates into a scratch shard and the command runs there (LCS).
    Gather,
    ClientPause,
    ClientUnpause,
    ClientUnblock,
    Exec,
    Discard,
    Watch,
    Unwatch,
    BgRewriteAof,
    Monitor,
}

#[derive(Clone, Copy)]
pub enum Exec {
    /// All keys on one shard: runs there, locally or in a batch to that shard.
    Shard(ShardFn),
    /// Runs on one shard when all keys share it; otherwise split per shard and run on all of
    /// them as one isolated step, replies merged.
    Multi(ShardFn, Merge),
    /// Keyless: runs on every shard as one isolated step, replies merged (DBSIZE, FLUSHDB).
    AllShards(ShardFn, Merge),
    /// Runs the function when all keys share a shard; otherwise the coordinator's special
    /// (RENAME across shards moves the value between them).
    Cross(ShardFn, Special),
    /// Runs on the connection's core with the connection's state.
    Conn(ConnFn),
    Special(Special),
}

/// The exec of a container entry (CLIENT, CONFIG): never runs, because `lookup` always
/// resolves a container to one of its subcommands.
pub fn container_only(_c: &mut crate::server::client::Client, _args: Args, _out: &mut Out) -> CmdResult {
    unreachable!("lookup resolves containers to their subcommands")
}

pub const WRITE: u32 = 1;
pub const READONLY: u32 = 1 << 1;
/// May run before AUTH.
pub const NOAUTH: u32 = 1 << 2;
/// Has subcommands: the table holds `name|sub` entries.
pub const CONTAINER: u32 = 1 << 3;
/// May block (BLPOP, BZPOPMIN, ...). Its shard function makes one non-blocking attempt and
/// replies null when nothing is ready; the server then parks the client on the keys (and
/// inside MULTI the null reply stands, as Redis's non-blocking form).
pub const BLOCKING: u32 = 1 << 4;

pub struct Command {
    /// Lower case; subcommands are `container|sub`.
    pub name: &'static str,
    /// Redis arity: exact count if positive, minimum count if negative (name included).
    pub arity: i32,
    pub flags: u32,
    /// Legacy key spec: first key, last key (negative counts from the end), step; 0 = no keys.
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    /// Finds the keys of commands whose keys are not a first/last/step range (a `numkeys`
    /// argument, a STORE option); `None` uses the range.
    pub keys_fn: Option<KeysFn>,
    pub exec: Exec,
}

/// Pushes the indexes of a command's key arguments.
pub type KeysFn = fn(Args, &mut Vec<usize>);

/// Keys counted by a `numkeys` argument at index `AT` and following it (ZUNION, LMPOP,
/// SINTERCARD, BLMPOP), plus argument 1 when `DEST` (ZUNIONSTORE). A bad numkeys finds no
/// counted keys; the command itself reports the error.
pub fn numkeys_keys<const AT: usize, const DEST: bool>(args: Args, keys: &mut Vec<usize>) {
    if DEST && args.len() > 1 {
        keys.push(1);
    }
    let Some(n) = (AT < args.len()).then(|| parse_int(args.get(AT)).ok()).flatten() else { return };
    if n > 0 && (n as usize) < args.len() - AT {
        keys.extend(AT + 1..AT + 1 + n as usize);
    }
}

/// Key argument positions, by range or by a command's own `KeysFn`.
pub enum KeyPositions {
    Range(std::iter::StepBy<std::ops::Range<usize>>),
    Listed(std::vec::IntoIter<usize>),
}

impl Iterator for KeyPositions {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        match self {
            KeyPositions::Range(r) => r.next(),
            KeyPositions::Listed(l) => l.next(),
        }
    }
}

impl Command {
    /// Redis's arity rule, plus whole key/value groups for commands like MSET (step > 1 up
    /// to the last argument), which Redis's MSET checks itself.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        let counted = if self.arity >= 0 { argc == self.arity } else { argc >= -self.arity };
        let grouped = self.step <= 1 || self.last_key != -1 || (argc - self.first_key) % self.step == 0;
        counted && grouped
    }

    /// Indexes of the key arguments in `argc` arguments (by the legacy first/last/step spec).
    pub fn key_indexes(&self, argc: usize) -> std::iter::StepBy<std::ops::Range<usize>> {
        let (first, step) = (self.first_key, self.step.max(1));
        let last = if self.last_key < 0 { argc as i32 + self.last_key } else { self.last_key };
        let range = if first <= 0 || last < first { 0..0 } else { first..last.min(argc as i32 - 1) + 1 };
        (range.start as usize..range.end as usize).step_by(step as usize)
    }

    /// Indexes of the keys a write command may change: all its keys, except SORT's source
    /// (only its STORE destination is written; re-encoding the source changes nothing).
    pub fn written_keys(&self, args: Args) -> impl Iterator<Item = usize> {
        let sort = self.name == "sort";
        self.keys(args).filter(move |&i| !(sort && i == 1))
    }

    /// Indexes of the key arguments of one call.
    pub fn keys(&self, args: Args) -> KeyPositions {
        match self.keys_fn {
            None => KeyPositions::Range(self.key_indexes(args.len())),
            Some(f) => {
                let mut found = Vec::new();
                f(args, &mut found);
                KeyPositions::Listed(found.into_iter())
            }
        }
    }
}

/// The whole command table, built once; indexes are stable and travel in cross-shard batches.
pub fn table() -> &'static [Command] {
    static TABLE: OnceLock<Vec<Command>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut all = Vec::new();
        for family in [
            string::COMMANDS,
            generic::COMMANDS,
            list::COMMANDS,
            hash::COMMANDS,
            set::COMMANDS,
            sorted_set::COMMANDS,
            sort::COMMANDS,
            transactions::COMMANDS,
            connection::COMMANDS,
            server::COMMANDS,
            meta::COMMANDS,
        ] {
            for c in family {
                all.push(Command { ..*c });
            }
        }
        all
    })
}

impl Clone for Command {
    fn clone(&self) -> Self {
        Command { ..*self }
    }
}

fn index() -> &'static ahash::AHashMap<&'static str, usize> {
    static INDEX: OnceLock<ahash::AHashMap<&'static str, usize>> = OnceLock::new();
    INDEX.get_or_init(|| table().iter().enumerate().map(|(i, c)| (c.name, i)).collect())
}

/// The table index of a command known to exist (used by coordinators composing commands).
pub fn index_of(name: &str) -> usize {
    *index().get(name).unwrap_or_else(|| panic!("command {name} missing from the table"))
}

/// Finds a command by its (any case) name and, for containers, its subcommand. Returns the
/// table index, or the exact error Redis gives.
pub fn lookup(args: Args) -> CmdResult<usize> {
    let mut name = [0u8; 64];
    let raw = args.get(0);
    let lowered = lower_into(raw, &mut name);
    let found = lowered.and_then(|n| std::str::from_utf8(n).ok()).and_then(|n| index().get(n).copied());
    let Some(i) = found else {
        return Err(unknown_command(args));
    };
    let cmd = &table()[i];
    if cmd.flags & CONTAINER == 0 {
        return Ok(i);
    }
    if args.len() < 2 {
        return Err(CmdError::WrongArity(cmd.name.into()));
    }
    let sub = String::from_utf8_lossy(args.get(1)).to_ascii_lowercase();
    let full = format!("{}|{}", cmd.name, sub);
    index().get(full.as_str()).copied().ok_or_else(|| CmdError::UnknownSubcommand {
        sub: crate::error::printable_snippet(args.get(1), 128),
        cmd: cmd.name.to_ascii_uppercase(),
    })
}

fn lower_into<'b>(raw: &[u8], buf: &'b mut [u8; 64]) -> Option<&'b [u8]> {
    if raw.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(raw) {
        *d = s.to_ascii_lowercase();
    }
    Some(&buf[..raw.len()])
}

/// `ERR unknown command 'x', with args beginning with: 'a' 'b' ` exactly as Redis words it.
pub fn unknown_command(args: Args) -> CmdError {
    let mut rest = String::new();
    for a in args.iter().skip(1) {
        if rest.len() >= 128 {
            break;
        }
        let room = 128 - rest.len();
        rest.push_str(&format!("'{}' ", crate::error::printable_snippet(a, room)));
    }
    CmdError::UnknownCommand(format!(
        "ERR unknown command '{}', with args beginning with: {rest}",
        crate::error::printable_snippet(args.get(0), 128)
    ))
}

/// The name Redis uses for a command in arity errors (`config|get`).
pub fn display_name(cmd: &Command) -> String {
    cmd.name.to_string()
}
