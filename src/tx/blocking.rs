//! Blocking commands (BLPOP, BLMOVE, BZPOPMIN, BLMPOP...): a client whose command found
//! nothing waits on its keys, on whichever shards they live, until a push makes one ready.
//!
//! * The command first runs once like any other (its shard function makes one non-blocking
//!   attempt and answers null when nothing is ready). On null, the client registers as a
//!   waiter on every key's shard (`Registry`, FIFO per key), then tries again, so a push that
//!   lands between the first try and the registration is not missed.
//! * A write that leaves a waited-on key holding the wanted type wakes the key's *first*
//!   waiter only (a message to the waiter's core when it lives elsewhere). The woken client
//!   runs its command again through the ordinary path, so it is atomic and isolated like any
//!   command (a push inside MULTI/EXEC is served after the EXEC, whose transaction holds the
//!   key until it concludes). If it got something, it unregisters from all its keys, and a
//!   key still ready then wakes its next waiter: waiters are served in the order they blocked.
//!   If another client took the element first, it simply waits again, still first in line.
//! * Timeouts use the executor's timers (sub-second); a client that times out, is killed,
//!   disconnects or is CLIENT UNBLOCKed unregisters, passing the turn on as above.

use crate::commands::{Args, Command, table};
use crate::resp::Out;
use crate::server::client::Client;
use crate::server::core::Core;
use ahash::AHashMap;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

type DbKey = (u16, Box<[u8]>);

/// One shard's waiters, per key, in the order they blocked.
#[derive(Default)]
pub struct Registry {
    keys: AHashMap<DbKey, VecDeque<Waiter>>,
    /// Clients to wake, (core, client id), collected while the shard is borrowed and sent
    /// by `Core::send_wakes` right after.
    pub wakes: Vec<(usize, u64)>,
}

#[derive(Clone, Copy)]
struct Waiter {
    core: usize,
    client: u64,
    /// The value type that serves the waiter ("list" or "zset").
    wants: &'static str,
}

impl Registry {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn add(&mut self, db: usize, key: &[u8], core: usize, client: u64, wants: &'static str) {
        let q = self.keys.entry((db as u16, key.into())).or_default();
        if !q.iter().any(|w| w.client == client) {
            q.push_back(Waiter { core, client, wants });
        }
    }

    /// A write left `key` holding a value of type `now` (None: absent): wakes its first
    /// waiter if that serves it.
    pub fn signal(&mut self, db: usize, key: &[u8], now: Option<&str>) {
        let Some(now) = now else { return };
        if let Some(first) = self.keys.get(&(db as u16, Box::from(key))).and_then(|q| q.front())
            && first.wants == now
        {
            self.wakes.push((first.core, first.client));
        }
    }

    pub fn is_waited_on(&self, db: usize, key: &[u8]) -> bool {
        !self.keys.is_empty() && self.keys.contains_key(&(db as u16, Box::from(key)))
    }

    /// Keys with waiters in `db`, for SWAPDB's signals.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    pub fn keys_in(&self, db: usize) -> Vec<Box<[u8]>> {
        self.keys.keys().filter(|(d, _)| *d as usize == db).map(|(_, k)| k.clone()).collect()
    }

    /// Removes `client` from every key; returns the keys where it was first in line, whose
    /// next waiter may now be due.
    pub fn remove(&mut self, client: u64) -> Vec<DbKey> {
        let mut was_first = Vec::new();
        self.keys.retain(|id, q| {
            if q.front().is_some_and(|w| w.client == client) {
                was_first.push(id.clone());
            }
            q.retain(|w| w.client != client);
            !q.is_empty()
        });
        was_first
    }
}

/// The timeout argument's position for each blocking command.
fn timeout_index(cmd: &Command, args: Args) -> usize {
    match cmd.name {
        "blmpop" | "bzmpop" => 1,
        _ => args.len() - 1,
    }
}

/// What serves a blocking command's waiters.
fn wanted_type(cmd: &Command) -> &'static str {
    if cmd.name.starts_with("bz") { "zset" } else { "list" }
}

/// A null reply: nothing was ready.
fn is_null(reply: &[u8]) -> bool {
    matches!(reply, b"*-1\r\n" | b"$-1\r\n" | b"_\r\n")
}

/// Runs a blocking command for a connection (outside MULTI): tries, and while nothing is
/// ready, waits on its keys until woken, timed out, killed or unblocked.
pub async fn run(core: &Rc<Core>, client: &mut Client, cmd_index: usize, args: Args<'_>, out: &mut Out) {
    let cmd = &table()[cmd_index];
    let mut reply = Out::new(client.resp3);
    crate::dispatch::coord::run_unblocked(core, client, cmd_index, args, &mut reply).await;
    if !is_null(&reply.buf) {
        out.raw(&reply.buf);
        return;
    }
    let secs = crate::commands::parse_float(args.get(timeout_index(cmd, args))).unwrap_or(0.0);
    let deadline = (secs > 0.0).then(|| Instant::now() + Duration::from_secs_f64(secs));
    let state = core.block_client(client.id());
    let shards = register(core, client, cmd, args).await;
    loop {
        reply.buf.clear();
        state.woken.set(false);
        crate::dispatch::coord::run_unblocked(core, client, cmd_index, args, &mut reply).await;
        if !is_null(&reply.buf) {
            break;
        }
        state.waiting.set(true);
        let outcome = state.wait(&client.info, client.socket.as_deref(), deadline).await;
        if outcome != Wake::Woken {
            reply.buf.clear();
            match outcome {
                Wake::UnblockedWithError => {
                    reply.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
                }
                Wake::Killed => {}
                // Redis answers every blocking command that timed out with a null array.
                _ => reply.null_array(),
            }
            break;
        }
    }
    core.unblock_client(client.id());
    unregister(core, client.id(), shards).await;
    out.raw(&reply.buf);
}

/// Registers the client on each key's shard; returns the shards.
async fn register(core: &Rc<Core>, client: &Client, cmd: &Command, args: Args<'_>) -> Vec<usize> {
    let (me, id, db, wants) = (core.id, client.id(), client.db, wanted_type(cmd));
    let mut per_shard: std::collections::BTreeMap<usize, Vec<Vec<u8>>> = Default::default();
    // BLMOVE/BRPOPLPUSH wait on their source only.
    let keys: Vec<usize> = match cmd.name {
        "blmove" | "brpoplpush" => vec![1],
        _ => cmd.keys(args).collect(),
    };
    for i in keys {
        let key = args.get(i);
        per_shard.entry(crate::dispatch::slot::key_shard(key, core.shards)).or_default().push(key.to_vec());
    }
    for (&shard, keys) in &per_shard {
        let keys = keys.clone();
        crate::dispatch::invoke_on(core, shard, 0, move |c| {
            let mut sh = c.shard.borrow_mut();
            for k in keys {
                sh.blocked.add(db, &k, me, id, wants);
            }
        })
        .await;
    }
    per_shard.into_keys().collect()
}

/// Removes the client from its shards' registries, waking the next waiter of a key it
/// leaves ready.
async fn unregister(core: &Rc<Core>, client: u64, shards: Vec<usize>) {
    for shard in shards {
        crate::dispatch::invoke_on(core, shard, 0, move |c| {
            {
                let mut sh = c.shard.borrow_mut();
                let now = crate::shard::now_ms();
                for (db, key) in sh.blocked.remove(client) {
                    let t = sh.dbs[db as usize].peek(&key, now).map(|e| e.value.type_name());
                    sh.blocked.signal(db as usize, &key, t);
                }
            }
            c.send_wakes();
        })
        .await;
    }
}

/// Why a blocked client stopped waiting.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Wake {
    Woken,
    TimedOut,
    Killed,
    UnblockedWithTimeout,
    UnblockedWithError,
}

/// A blocked client's mailbox on its own core.
#[derive(Default)]
pub struct BlockState {
    pub woken: std::cell::Cell<bool>,
    /// Registered on all its keys and found nothing: what INFO counts as blocked.
    pub waiting: std::cell::Cell<bool>,
    /// CLIENT UNBLOCK: 1 = as a timeout, 2 = with an error.
    pub unblock: std::cell::Cell<u8>,
    pub waker: std::cell::RefCell<Option<std::task::Waker>>,
}

impl BlockState {
    pub fn wake(&self) {
        self.woken.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    async fn wait(
        &self,
        info: &crate::server::client::ClientInfo,
        socket: Option<&crate::server::reactor::Registration>,
        deadline: Option<Instant>,
    ) -> Wake {
        let timer = async {
            match deadline {
                Some(d) => glommio::timer::sleep(d.saturating_duration_since(Instant::now())).await,
                None => std::future::pending::<()>().await,
            }
            Wake::TimedOut
        };
        let signal = std::future::poll_fn(|cx| {
            if info.killed.get() {
                return std::task::Poll::Ready(Wake::Killed);
            }
            match self.unblock.get() {
                1 => return std::task::Poll::Ready(Wake::UnblockedWithTimeout),
                2 => return std::task::Poll::Ready(Wake::UnblockedWithError),
                _ => {}
            }
            if self.woken.get() {
                return std::task::Poll::Ready(Wake::Woken);
            }
            *self.waker.borrow_mut() = Some(cx.waker().clone());
            *info.waker.borrow_mut() = Some(cx.waker().clone());
            std::task::Poll::Pending
        });
        let hangup = async {
            match socket {
                Some(reg) => hangup(reg).await,
                None => std::future::pending().await,
            }
        };
        futures_lite::future::or(signal, futures_lite::future::or(timer, hangup)).await
    }
}

/// Resolves when the blocked client's peer closes the connection. Input that arrives while
/// blocked (a pipelined next command) stays unread until the block ends, as in Redis; then a
/// hangup cannot be seen before it, so this waits forever.
async fn hangup(reg: &crate::server::reactor::Registration) -> Wake {
    loop {
        reg.readable().await;
        let mut byte = [0u8; 1];
        let n = unsafe { libc::recv(reg.fd, byte.as_mut_ptr().cast(), 1, libc::MSG_PEEK) };
        if n > 0 {
            return std::future::pending().await;
        }
        let again = n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock;
        if !again {
            return Wake::Killed;
        }
    }
}
