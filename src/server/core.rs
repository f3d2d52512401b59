//! Everything one core owns: its shard, transaction queue, mesh view, config copy, clients and counters.
//! Reached through `Rc<Core>` by every task on that core and by no other thread.

use crate::config::Config;
use crate::dispatch::mesh::Mesh;
use crate::server::client::ClientInfo;
use crate::server::reactor::Reactor;
use crate::shard::Shard;
use crate::tx::queue::TxQueue;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Connections open on all cores (for maxclients); only touched on accept and close.
pub static CONNECTED_CLIENTS: AtomicUsize = AtomicUsize::new(0);

/// Per-command counters for INFO commandstats, indexed like the command table.
#[derive(Clone, Copy, Default, Debug)]
pub struct CmdStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected: u64,
    pub failed: u64,
}

#[derive(Default, Clone, Debug)]
pub struct CoreStats {
    pub connections_received: u64,
    pub rejected_connections: u64,
    pub commands_processed: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub total_error_replies: u64,
    pub cmd: Vec<CmdStat>,
    pub errors: BTreeMap<String, u64>,
}

pub struct Core {
    pub id: usize,
    pub shards: usize,
    pub shard: RefCell<Shard>,
    pub txq: TxQueue,
    pub mesh: Rc<Mesh>,
    pub config: RefCell<Config>,
    pub reactor: Rc<Reactor>,
    pub clients: RefCell<BTreeMap<u64, Rc<ClientInfo>>>,
    pub stats: RefCell<CoreStats>,
    next_client: Cell<u64>,
    pub started: std::time::Instant,
    pub started_unix: u64,
    /// Wall-clock ms at `started`, refreshed by the cron so clock adjustments are followed.
    pub started_unix_ms: Cell<u64>,
    /// The command clock: unix ms as of the batch of input being processed (refreshed once
    /// per read, as Redis caches its clock per event-loop turn).
    pub now_ms: Cell<u64>,
    /// Clients of this core blocked in a blocking command, by id.
    pub blocked: RefCell<ahash::AHashMap<u64, Rc<crate::tx::blocking::BlockState>>>,
    /// CLIENT PAUSE: until when, and whether only writes are held back.
    pub pause: Cell<Option<(std::time::Instant, bool)>>,
    /// The shard's AOF writer, when `appendonly` is on (set once at startup).
    pub aof: std::cell::OnceCell<Rc<crate::persistence::aof::Aof>>,
    /// MONITOR's clients here and elsewhere (see `server::monitor`).
    pub monitor: crate::server::monitor::Monitors,
}

impl Core {
    pub fn new(
        id: usize,
        shards: usize,
        config: Config,
        mesh: Rc<Mesh>,
        reactor: Rc<Reactor>,
        started_unix: u64,
    ) -> Core {
        let table_len = crate::commands::table().len();
        Core {
            id,
            shards,
            shard: RefCell::new(Shard::new(id, config.databases)),
            txq: TxQueue::default(),
            mesh,
            config: RefCell::new(config),
            reactor,
            clients: RefCell::new(BTreeMap::new()),
            stats: RefCell::new(CoreStats { cmd: vec![CmdStat::default(); table_len], ..Default::default() }),
            next_client: Cell::new(0),
            started: std::time::Instant::now(),
            started_unix,
            started_unix_ms: Cell::new(crate::shard::now_ms()),
            pause: Cell::new(None),
            blocked: RefCell::new(Default::default()),
            now_ms: Cell::new(crate::shard::now_ms()),
            aof: std::cell::OnceCell::new(),
            monitor: crate::server::monitor::Monitors::new(shards),
        }
    }

    /// Client ids are unique across cores: core i hands out i+1, i+1+n, ...
    pub fn new_client_id(&self) -> u64 {
        let k = self.next_client.get();
        self.next_client.set(k + 1);
        k * self.shards as u64 + self.id as u64 + 1
    }

    pub fn block_client(&self, id: u64) -> Rc<crate::tx::blocking::BlockState> {
        self.blocked.borrow_mut().entry(id).or_default().clone()
    }

    pub fn unblock_client(&self, id: u64) {
        self.blocked.borrow_mut().remove(&id);
    }

    /// Wakes a blocked client of this core (a key it waits on became ready).
    pub fn wake_client(&self, id: u64) {
        let state = self.blocked.borrow().get(&id).cloned();
        if let Some(state) = state {
            state.wake();
        }
    }

    /// Delivers the wake-ups the shard collected: to clients here directly, to clients of
    /// other cores by a message (sent from a task, since this runs in the middle of work).
    pub fn send_wakes(self: &Rc<Self>) {
        let wakes = {
            let mut shard = self.shard.borrow_mut();
            if shard.blocked.wakes.is_empty() {
                return;
            }
            std::mem::take(&mut shard.blocked.wakes)
        };
        for (core, client) in wakes {
            if core == self.id {
                self.wake_client(client);
            } else {
                let me = self.clone();
                glommio::spawn_local(async move {
                    me.mesh.notify(core, 0, crate::dispatch::mesh::ReqBody::Wake(client)).await;
                })
                .detach();
            }
        }
    }

    /// Whether CLIENT PAUSE holds `cmd` back right now (CLIENT UNPAUSE never is).
    pub fn paused_for(&self, cmd: &crate::commands::Command) -> bool {
        match self.pause.get() {
            Some((until, write_only)) if std::time::Instant::now() < until => {
                cmd.name != "client|unpause" && (!write_only || cmd.flags & crate::commands::WRITE != 0)
            }
            Some(_) => {
                self.pause.set(None);
                false
            }
            None => false,
        }
    }

    /// Unix time in ms at `at`, without another clock read: the monotonic clock plus the
    /// wall-clock offset taken at start (commands read the clock once).
    pub fn unix_ms_at(&self, at: std::time::Instant) -> u64 {
        self.started_unix_ms.get() + at.saturating_duration_since(self.started).as_millis() as u64
    }

    /// Refreshes the command clock (one clock read for a whole batch of commands).
    pub fn tick(&self) {
        self.now_ms.set(self.unix_ms_at(std::time::Instant::now()));
    }

    /// Re-reads the wall clock so `unix_ms_at` follows clock adjustments.
    pub fn resync_clock(&self) {
        let elapsed = self.started.elapsed().as_millis() as u64;
        self.started_unix_ms.set(crate::shard::now_ms().saturating_sub(elapsed));
    }

    pub fn connected_clients() -> usize {
        CONNECTED_CLIENTS.load(Ordering::Relaxed)
    }

    pub fn count_error(&self, msg: &str) {
        let mut stats = self.stats.borrow_mut();
        stats.total_error_replies += 1;
        let code = msg.split(' ').next().unwrap_or("ERR").to_string();
        *stats.errors.entry(code).or_insert(0) += 1;
    }
}
