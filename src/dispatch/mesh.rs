//! The cross-core mesh: for every ordered pair of cores a bounded request channel one way and a
//! bounded reply channel back (glommio shared channels). Each core runs one receiving task per
//! peer for requests and one per peer for replies. Replies are matched to their waiting callers
//! by id, so requests that wait for their turn on a shard may answer out of order.

use crate::commands::OwnedArgs;
use crate::tx::TxId;
use glommio::channels::shared_channel::{
    self, ConnectedReceiver, ConnectedSender, SharedReceiver, SharedSender,
};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

thread_local! {
    /// Replies this core's tasks are waiting for: while any is outstanding, the socket loop
    /// lets glommio poll its rings (where replies arrive) on every round.
    static AWAITED: Cell<usize> = const { Cell::new(0) };
}

/// Whether a task on this core waits for a reply from another core.
pub fn awaiting_replies() -> bool {
    AWAITED.with(|a| a.get() > 0)
}

/// Messages in flight per direction before a sender waits.
pub const CHANNEL_CAPACITY: usize = 4096;

/// Commands of one connection for one shard, executed there in order.
pub struct Batch {
    pub db: u16,
    pub resp3: bool,
    pub args: OwnedArgs,
    /// Per command: its table index and how many arguments it has in `args`.
    pub cmds: Vec<(u16, u32)>,
    /// As a transaction's hop: conclude the transaction here right after running it.
    pub conclude: bool,
    /// Without a transaction: run all commands as one isolated step (EXEC on one shard).
    pub atomic: bool,
    /// Parts of split transactions among the commands (see `pipeline`): a batch with any runs
    /// only as far as it can without waiting, and answers `Stopped` where it cannot go on.
    pub parts: Vec<TxPart>,
}

/// A command of a batch that is one shard's part of a transaction split over two shards, the
/// other being the sender's: it is scheduled here when the batch reaches it, and runs (and
/// concludes here) only if it may run at once.
pub struct TxPart {
    /// The command's index in the batch.
    pub at: u32,
    pub tx: TxId,
    pub keys: Vec<crate::tx::queue::LockKey>,
}

impl Batch {
    pub fn new(db: usize, resp3: bool) -> Batch {
        Batch {
            db: db as u16,
            resp3,
            args: OwnedArgs { buf: Vec::new(), ranges: Vec::new() },
            cmds: Vec::new(),
            conclude: false,
            atomic: false,
            parts: Vec::new(),
        }
    }

    pub fn push<'b>(&mut self, cmd: usize, args: impl Iterator<Item = &'b [u8]>) {
        let before = self.args.ranges.len();
        for a in args {
            self.args.push(a);
        }
        self.cmds.push((cmd as u16, (self.args.ranges.len() - before) as u32));
    }

    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// Command `i`: its table index and arguments.
    pub fn command(&self, i: usize) -> (usize, crate::commands::Args<'_>) {
        let at: usize = self.cmds[..i].iter().map(|&(_, argc)| argc as usize).sum();
        let (cmd, argc) = self.cmds[i];
        (
            cmd as usize,
            crate::commands::Args { buf: &self.args.buf, ranges: &self.args.ranges[at..at + argc as usize] },
        )
    }
}

/// Work run on the target core with access to its state (Seastar's `invoke_on`).
pub type RemoteFn = Box<dyn FnOnce(&Rc<crate::server::core::Core>) -> Box<dyn Any + Send> + Send>;

pub enum ReqBody {
    Batch(Batch),
    /// Schedule the transaction in `Request::tx` with these intents; answered with
    /// `Scheduled(false)` when the shard refuses it (see `tx::queue::TxQueue::schedule`).
    Schedule {
        keys: Vec<crate::tx::queue::LockKey>,
        shard_wide: bool,
    },
    /// Conclude the transaction here, releasing its intents; not answered.
    Conclude,
    /// Wake this core's blocked client with this id (a key it waits on is ready); not answered.
    Wake(u64),
    /// Run a function on the core (as a hop of `Request::tx` when that is not 0).
    Call(RemoteFn),
    /// Lines for this core's monitoring clients (see `server::monitor`); not answered.
    MonitorLines(Vec<u8>),
}

pub struct Request {
    pub id: u32,
    pub tx: TxId,
    pub body: ReqBody,
}

pub enum RespBody {
    /// The batch's replies, concatenated; `ends[i]` is where reply i ends.
    Replies {
        out: Vec<u8>,
        ends: Vec<u32>,
    },
    /// A batch with transaction parts that ran its first `ends.len()` commands only: the next
    /// one would have had to wait. The batch comes back for the sender to run the rest.
    Stopped {
        out: Vec<u8>,
        ends: Vec<u32>,
        batch: Batch,
    },
    Scheduled(bool),
    Value(Box<dyn Any + Send>),
}

pub struct Response {
    pub id: u32,
    pub body: RespBody,
}

/// One core's ends of all channels, before they are connected on that core's executor.
pub struct MeshEnds {
    pub req_tx: Vec<Option<SharedSender<Request>>>,
    pub req_rx: Vec<Option<SharedReceiver<Request>>>,
    pub rep_tx: Vec<Option<SharedSender<Response>>>,
    pub rep_rx: Vec<Option<SharedReceiver<Response>>>,
}

/// Builds the full mesh for `n` cores; element i goes to core i.
pub fn build(n: usize) -> Vec<MeshEnds> {
    let mut ends: Vec<MeshEnds> = (0..n)
        .map(|_| MeshEnds {
            req_tx: (0..n).map(|_| None).collect(),
            req_rx: (0..n).map(|_| None).collect(),
            rep_tx: (0..n).map(|_| None).collect(),
            rep_rx: (0..n).map(|_| None).collect(),
        })
        .collect();
    for i in 0..n {
        for j in 0..n {
            if i == j {
                continue;
            }
            let (tx, rx) = shared_channel::new_bounded(CHANNEL_CAPACITY);
            ends[i].req_tx[j] = Some(tx);
            ends[j].req_rx[i] = Some(rx);
            let (tx, rx) = shared_channel::new_bounded(CHANNEL_CAPACITY);
            ends[j].rep_tx[i] = Some(tx);
            ends[i].rep_rx[j] = Some(rx);
        }
    }
    ends
}

#[derive(Default)]
struct Slot {
    value: RefCell<Option<RespBody>>,
    waker: RefCell<Option<Waker>>,
}

pub struct ReplyFuture(Rc<Slot>);

impl Future for ReplyFuture {
    type Output = RespBody;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<RespBody> {
        if let Some(v) = self.0.value.borrow_mut().take() {
            return Poll::Ready(v);
        }
        *self.0.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A core's connected view of the mesh.
pub struct Mesh {
    pub me: usize,
    to: Vec<Option<ConnectedSender<Request>>>,
    reply_to: Vec<Option<ConnectedSender<Response>>>,
    pending: RefCell<Vec<HashMap<u32, Rc<Slot>>>>,
    next_id: Cell<u32>,
}

/// Receivers handed to the per-peer receiving tasks.
pub struct MeshReceivers {
    pub requests: Vec<(usize, ConnectedReceiver<Request>)>,
    pub replies: Vec<(usize, ConnectedReceiver<Response>)>,
}

/// Connects every end on the current executor; all connects run at once because a connect
/// completes only when its peer connects too.
pub async fn connect(me: usize, ends: MeshEnds) -> (Mesh, MeshReceivers) {
    let n = ends.req_tx.len();
    let mut handles_tx = Vec::new();
    let mut handles_rep_tx = Vec::new();
    let mut handles_rx = Vec::new();
    let mut handles_rep_rx = Vec::new();
    for (peer, s) in ends.req_tx.into_iter().enumerate() {
        if let Some(s) = s {
            handles_tx.push((peer, glommio::spawn_local(s.connect()).detach()));
        }
    }
    for (peer, s) in ends.rep_tx.into_iter().enumerate() {
        if let Some(s) = s {
            handles_rep_tx.push((peer, glommio::spawn_local(s.connect()).detach()));
        }
    }
    for (peer, r) in ends.req_rx.into_iter().enumerate() {
        if let Some(r) = r {
            handles_rx.push((peer, glommio::spawn_local(r.connect()).detach()));
        }
    }
    for (peer, r) in ends.rep_rx.into_iter().enumerate() {
        if let Some(r) = r {
            handles_rep_rx.push((peer, glommio::spawn_local(r.connect()).detach()));
        }
    }
    let mut to: Vec<Option<ConnectedSender<Request>>> = (0..n).map(|_| None).collect();
    let mut reply_to: Vec<Option<ConnectedSender<Response>>> = (0..n).map(|_| None).collect();
    let mut receivers = MeshReceivers { requests: Vec::new(), replies: Vec::new() };
    for (peer, h) in handles_tx {
        to[peer] = h.await;
    }
    for (peer, h) in handles_rep_tx {
        reply_to[peer] = h.await;
    }
    for (peer, h) in handles_rx {
        receivers.requests.push((peer, h.await.expect("mesh receiver connect")));
    }
    for (peer, h) in handles_rep_rx {
        receivers.replies.push((peer, h.await.expect("mesh reply receiver connect")));
    }
    let mesh = Mesh {
        me,
        to,
        reply_to,
        pending: RefCell::new((0..n).map(|_| HashMap::new()).collect()),
        next_id: Cell::new(0),
    };
    (mesh, receivers)
}

impl Mesh {
    /// Sends a request to `peer` and waits for its reply.
    pub async fn call(&self, peer: usize, tx: TxId, body: ReqBody) -> RespBody {
        self.start(peer, tx, body).await.await
    }

    /// Sends a request and returns the future of its reply, so several can be in flight.
    pub async fn start(&self, peer: usize, tx: TxId, body: ReqBody) -> ReplyFuture {
        let id = self.next_id.get().wrapping_add(1).max(1);
        self.next_id.set(id);
        let slot = Rc::new(Slot::default());
        self.pending.borrow_mut()[peer].insert(id, slot.clone());
        AWAITED.with(|a| a.set(a.get() + 1));
        self.send(peer, Request { id, tx, body }).await;
        ReplyFuture(slot)
    }

    /// Sends a request that gets no reply (Conclude).
    pub async fn notify(&self, peer: usize, tx: TxId, body: ReqBody) {
        self.send(peer, Request { id: 0, tx, body }).await;
    }

    async fn send(&self, peer: usize, req: Request) {
        let sender = self.to[peer].as_ref().expect("no channel to self");
        match sender.try_send(req) {
            Ok(()) => {}
            Err(glommio::GlommioError::WouldBlock(glommio::ResourceType::Channel(req))) => {
                if sender.send(req).await.is_err() {
                    panic!("mesh channel to core {peer} closed");
                }
            }
            Err(_) => panic!("mesh channel to core {peer} closed"),
        }
    }

    /// Sends a reply back to `peer`; never waits (a full channel hands it to a task), so the
    /// request-receiving task keeps draining its channel.
    pub fn reply(self: &Rc<Self>, peer: usize, resp: Response) {
        let sender = self.reply_to[peer].as_ref().expect("no reply channel to self");
        match sender.try_send(resp) {
            Ok(()) => {}
            Err(glommio::GlommioError::WouldBlock(glommio::ResourceType::Channel(resp))) => {
                let mesh = self.clone();
                glommio::spawn_local(async move {
                    let sender = mesh.reply_to[peer].as_ref().expect("reply channel");
                    let _ = sender.send(resp).await;
                })
                .detach();
            }
            Err(_) => {}
        }
    }

    /// Hands a reply to the caller waiting for it.
    pub fn complete(&self, peer: usize, resp: Response) {
        let slot = self.pending.borrow_mut()[peer].remove(&resp.id);
        if let Some(slot) = slot {
            AWAITED.with(|a| a.set(a.get() - 1));
            *slot.value.borrow_mut() = Some(resp.body);
            if let Some(w) = slot.waker.borrow_mut().take() {
                w.wake();
            }
        }
    }
}
