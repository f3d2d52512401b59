//! Per-connection state. The connection task owns `Client`; what other connections may see
//! (CLIENT LIST, CLIENT KILL) lives in `ClientInfo`, shared with the core's registry.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::Waker;
use std::time::Instant;

/// What CLIENT LIST/INFO shows about a connection, and the switch CLIENT KILL flips.
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub created: Instant,
    pub last_active: Cell<Instant>,
    pub name: RefCell<String>,
    pub lib_name: RefCell<String>,
    pub lib_ver: RefCell<String>,
    pub db: Cell<usize>,
    pub last_cmd: Cell<&'static str>,
    pub resp: Cell<u8>,
    pub killed: Cell<bool>,
    /// Wakes the connection's task when it must act without input: a kill, monitor output.
    pub waker: RefCell<Option<Waker>>,
    /// In MONITOR mode; `monitor_out` holds the lines not yet written.
    pub monitoring: Cell<bool>,
    pub monitor_out: RefCell<Vec<u8>>,
    pub qbuf: Cell<usize>,
    pub obuf: Cell<usize>,
}

impl ClientInfo {
    /// One CLIENT LIST line, in Redis 7's field order.
    pub fn list_line(&self) -> String {
        let now = Instant::now();
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi=-1 qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            self.name.borrow(),
            now.duration_since(self.created).as_secs(),
            now.duration_since(self.last_active.get()).as_secs(),
            if self.monitoring.get() { "O" } else { "N" },
            self.db.get(),
            self.qbuf.get(),
            self.last_cmd.get(),
            self.resp.get(),
            self.lib_name.borrow(),
            self.lib_ver.borrow(),
        )
    }

    pub fn kill(&self) {
        self.killed.set(true);
        self.wake();
    }

    pub fn wake(&self) {
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

pub struct Client {
    pub info: Rc<ClientInfo>,
    pub db: usize,
    pub resp3: bool,
    pub authenticated: bool,
    /// Set by QUIT (and protocol errors): close once the pending replies are written.
    pub close_after_reply: bool,
    /// CLIENT REPLY OFF: replies are dropped until CLIENT REPLY ON.
    pub reply_off: bool,
    /// CLIENT REPLY SKIP: the next command's reply is dropped.
    pub skip_next_reply: bool,
    pub core: Rc<crate::server::core::Core>,
    /// Commands queued since MULTI.
    pub multi: Option<crate::tx::multi::Queued>,
    /// WATCHed keys (db, key), and the shards they live on.
    pub watched: Vec<(usize, Vec<u8>)>,
    pub watching: Vec<usize>,
    /// The connection's socket registration, watched for a hangup while the client blocks.
    pub socket: Option<Rc<crate::server::reactor::Registration>>,
}

impl Client {
    pub fn id(&self) -> u64 {
        self.info.id
    }

    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.info.db.set(db);
    }
}
