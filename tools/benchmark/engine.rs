//! The engine: threads, connections, and the request/reply loop.
//!
//! Like the server, the generator is thread-per-core: each thread runs one glommio
//! `LocalExecutor` pinned to a core (the i-th core this process may use, so `taskset` is
//! respected) with a small io_uring memory area (`io_memory(512 KiB)`, so two threads fit an
//! 8 MiB memlock limit). A thread owns `--clients` connections, each an async task that:
//!
//! 1. keeps up to `--pipeline` requests in flight, encoding new ones straight into its output
//!    buffer (see `workload::Encoder`) and sending them in one write;
//! 2. reads whatever replies arrived, finds each complete one (`resp::scan`), and charges its
//!    latency to the request at the head of the in-flight queue (replies come in order);
//! 3. refills the window as soon as replies come back (memtier's model, not redis-benchmark's
//!    send-P-then-wait-for-P).
//!
//! Closed loop (the default), a request's latency runs from just before its bytes are written.
//! With `--rate-limiting` every connection sends on a fixed schedule (open loop) and latency
//! runs from the request's *scheduled* time: if the server stalls, requests pile up behind the
//! schedule and their wait is measured, instead of silently sending fewer (coordinated
//! omission).
//!
//! Counts live in per-thread `CmdStats`; once a second a ticker task hands them to the main
//! thread over a channel (`stats::Event::Interval`), which merges threads and builds the
//! timeline. Nothing is shared between threads but that channel and the start barrier.

use crate::io::{self, Reactor, Socket};
use crate::keys;
use crate::options::IoMode;
use crate::resp::{self, ReplyKind};
use crate::stats::{CmdStats, Event, Interval};
use crate::workload::{self, Encoder, Workload};
use glommio::{LocalExecutorBuilder, Placement};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// After a timed run ends, how long connections wait for the replies still in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Initial input buffer per connection; it grows for larger replies.
const READ_BUF_BYTES: usize = 16 << 10;
/// Reads ask for at least this much free space.
const READ_MIN_FREE: usize = 4 << 10;

/// How connections reach the server: shared by every run.
#[derive(Clone, Debug)]
pub struct Settings {
    pub addr: SocketAddr,
    pub threads: usize,
    pub clients: usize,
    pub io: IoMode,
    pub spin: Duration,
    /// Sent on every new connection before the run: AUTH, HELLO 3, SELECT.
    pub handshake: Vec<Vec<Vec<u8>>>,
    pub reconnect: bool,
    /// Failed reconnects in a row before a connection gives up; 0 never gives up.
    pub max_reconnect_attempts: u32,
    pub seed: u64,
    pub distinct_seeds: bool,
    pub cpus: Vec<usize>,
}

impl Settings {
    pub fn connections(&self) -> u64 {
        (self.threads * self.clients) as u64
    }
}

/// When a run ends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stop {
    /// This many requests per connection.
    Requests(u64),
    /// Stop sending after this long, then collect the replies in flight.
    Time(Duration),
    /// Every connection walks its P-pattern slice once (preload).
    OnePass,
}

/// One run: what to send and how hard.
#[derive(Debug)]
pub struct Plan {
    pub workload: Arc<Workload>,
    pub stop: Stop,
    pub pipeline: usize,
    /// Requests per second per connection (open loop).
    pub rate_limit: Option<u64>,
}

/// Runs `plan` on `settings.threads` pinned threads; every event they send goes to
/// `on_event` on this thread until all are done. Err when a thread could not start.
pub fn run(
    settings: &Arc<Settings>,
    plan: &Arc<Plan>,
    on_event: &mut dyn FnMut(Event),
) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    let barrier = Arc::new(Barrier::new(settings.threads));
    let abort = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for thread in 0..settings.threads {
        let init = ThreadInit {
            thread,
            settings: settings.clone(),
            plan: plan.clone(),
            events: tx.clone(),
            barrier: barrier.clone(),
            abort: abort.clone(),
        };
        let cpu = settings.cpus[thread % settings.cpus.len()];
        let spawned = LocalExecutorBuilder::new(Placement::Fixed(cpu))
            .io_memory(512 << 10)
            .name(&format!("bench-{thread}"))
            .spawn(move || thread_main(init));
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                // Threads already started wait at the barrier: let them through and out.
                abort.store(true, Ordering::SeqCst);
                for _ in thread..settings.threads {
                    let b = barrier.clone();
                    std::thread::spawn(move || b.wait());
                }
                drop(tx);
                for h in handles {
                    let _ = h.join();
                }
                return Err(format!("could not start thread {thread} on cpu {cpu}: {e}"));
            }
        }
    }
    drop(tx);
    for event in rx {
        on_event(event);
    }
    for (i, h) in handles.into_iter().enumerate() {
        h.join().map_err(|e| format!("thread {i} failed: {e}"))?;
    }
    Ok(())
}

struct ThreadInit {
    thread: usize,
    settings: Arc<Settings>,
    plan: Arc<Plan>,
    events: Sender<Event>,
    barrier: Arc<Barrier>,
    abort: Arc<AtomicBool>,
}

/// What every task of one thread shares.
struct Shared {
    thread: usize,
    settings: Arc<Settings>,
    plan: Arc<Plan>,
    reactor: Rc<Reactor>,
    stats: RefCell<Vec<CmdStats>>,
    start: Instant,
    stop_at: Option<Instant>,
    last_reply: Cell<Instant>,
    ticks: Cell<u64>,
    events: Sender<Event>,
}

impl Shared {
    fn send(&self, event: Event) {
        // The main thread outlives the run; a closed channel only means it is exiting.
        let _ = self.events.send(event);
    }
}

async fn thread_main(init: ThreadInit) {
    match connect_then_wait(&init).await {
        Ok((reactor, sockets)) => run_connections(init, reactor, sockets).await,
        Err(error) => {
            let (thread, elapsed) = (init.thread, Duration::ZERO);
            let _ = init.events.send(Event::ThreadDone { thread, elapsed, failed_connections: 0, error });
        }
    }
}

/// Opens this thread's connections, then waits for the other threads at the barrier.
/// Err(Some) when this thread failed, Err(None) when another one did.
async fn connect_then_wait(init: &ThreadInit) -> Result<(Rc<Reactor>, Vec<Socket>), Option<String>> {
    let opened = match Reactor::new(init.settings.spin) {
        Ok(reactor) => {
            glommio::spawn_local(reactor.clone().run()).detach();
            connect_all(&init.settings, &reactor).await.map(|sockets| (reactor, sockets))
        }
        Err(e) => Err(format!("epoll_create: {e}")),
    };
    if opened.is_err() {
        init.abort.store(true, Ordering::SeqCst);
    }
    init.barrier.wait();
    match opened {
        Ok(_) if init.abort.load(Ordering::SeqCst) => Err(None),
        other => other.map_err(Some),
    }
}

/// The run proper: every connection's task, the ticker, and the final report.
async fn run_connections(init: ThreadInit, reactor: Rc<Reactor>, sockets: Vec<Socket>) {
    let start = Instant::now();
    let stop_at = match init.plan.stop {
        Stop::Time(d) => Some(start + d),
        _ => None,
    };
    let ncmds = init.plan.workload.commands.len();
    let shared = Rc::new(Shared {
        thread: init.thread,
        settings: init.settings,
        plan: init.plan,
        reactor: reactor.clone(),
        stats: RefCell::new((0..ncmds).map(|_| CmdStats::new()).collect()),
        start,
        stop_at,
        last_reply: Cell::new(start),
        ticks: Cell::new(0),
        events: init.events,
    });
    let ticker = glommio::spawn_local(tick(shared.clone()));
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, s)| glommio::spawn_local(conn_task(Conn::new(&shared, i, s), shared.clone())))
        .collect();
    let mut failed = 0;
    for t in tasks {
        failed += u64::from(!t.await);
    }
    ticker.cancel().await;
    reactor.stop();
    let (thread, index) = (shared.thread, shared.ticks.get() + 1);
    let cmds = shared.stats.borrow_mut().iter_mut().map(CmdStats::take).collect();
    shared.send(Event::Interval(Interval { thread, index, cmds }));
    let elapsed = shared.last_reply.get() - start;
    shared.send(Event::ThreadDone { thread, elapsed, failed_connections: failed, error: None });
}

/// Opens the thread's connections concurrently; the first failure fails them all.
async fn connect_all(settings: &Arc<Settings>, reactor: &Rc<Reactor>) -> Result<Vec<Socket>, String> {
    let tasks: Vec<_> = (0..settings.clients)
        .map(|_| glommio::spawn_local(open(settings.clone(), reactor.clone())))
        .collect();
    let mut sockets = Vec::with_capacity(tasks.len());
    for t in tasks {
        sockets.push(t.await?);
    }
    Ok(sockets)
}

/// Connects and runs the handshake (AUTH, HELLO, SELECT).
async fn open(settings: Arc<Settings>, reactor: Rc<Reactor>) -> Result<Socket, String> {
    let addr = settings.addr;
    let mut sock = Socket::connect(addr, settings.io, &reactor)
        .await
        .map_err(|e| format!("could not connect to {addr}: {e}"))?;
    if settings.handshake.is_empty() {
        return Ok(sock);
    }
    let mut request = Vec::new();
    for cmd in &settings.handshake {
        request.extend_from_slice(&workload::encode_plain(cmd));
    }
    sock.write_all(&request).await.map_err(|e| format!("handshake with {addr}: {e}"))?;
    let mut replies = Replies::new(&settings.handshake);
    let mut chunk = vec![0u8; 16 << 10];
    while !replies.done() {
        let n = sock.read(&mut chunk).await.map_err(|e| format!("handshake with {addr}: {e}"))?;
        if n == 0 {
            return Err(format!("{addr} closed the connection during the handshake"));
        }
        replies.feed(&chunk[..n])?;
    }
    Ok(sock)
}

/// Checks the replies to a list of setup commands: any error reply fails.
struct Replies<'a> {
    cmds: &'a [Vec<Vec<u8>>],
    next: usize,
    buf: Vec<u8>,
}

impl<'a> Replies<'a> {
    fn new(cmds: &'a [Vec<Vec<u8>>]) -> Replies<'a> {
        Replies { cmds, next: 0, buf: Vec::new() }
    }

    fn done(&self) -> bool {
        self.next == self.cmds.len()
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.buf.extend_from_slice(bytes);
        while !self.done() {
            let Some((len, kind)) = resp::scan(&self.buf)? else { break };
            if kind == ReplyKind::Error {
                let name = String::from_utf8_lossy(&self.cmds[self.next][0]).to_ascii_uppercase();
                return Err(format!("{name} failed: {}", resp::error_text(&self.buf[..len])));
            }
            if kind != ReplyKind::Push {
                self.next += 1;
            }
            self.buf.drain(..len);
        }
        Ok(())
    }
}

/// Connects from the calling thread, runs the handshake and then `setup`, failing on any
/// error reply. Used before each run (it also proves the server is there).
pub fn prepare_server(settings: &Settings, setup: &[Vec<Vec<u8>>]) -> Result<(), String> {
    let addr = settings.addr;
    let mut sock = io::blocking_connect(addr).map_err(|e| format!("could not connect to {addr}: {e}"))?;
    let cmds: Vec<Vec<Vec<u8>>> = settings.handshake.iter().chain(setup).cloned().collect();
    let request: Vec<u8> = cmds.iter().flat_map(|c| workload::encode_plain(c)).collect();
    sock.write_all(&request).map_err(|e| format!("writing to {addr}: {e}"))?;
    let mut replies = Replies::new(&cmds);
    let mut chunk = vec![0u8; 16 << 10];
    while !replies.done() {
        match sock.read(&mut chunk) {
            Ok(0) => return Err(format!("{addr} closed the connection")),
            Ok(n) => replies.feed(&chunk[..n])?,
            Err(e) => return Err(format!("reading from {addr}: {e}")),
        }
    }
    Ok(())
}

/// Once a second, hands this thread's counts to the main thread.
async fn tick(sh: Rc<Shared>) {
    loop {
        let index = sh.ticks.get() + 1;
        let at = sh.start + Duration::from_secs(index);
        glommio::timer::sleep(at.saturating_duration_since(Instant::now())).await;
        let cmds = sh.stats.borrow_mut().iter_mut().map(CmdStats::take).collect();
        sh.send(Event::Interval(Interval { thread: sh.thread, index, cmds }));
        sh.ticks.set(index);
    }
}

/// A request waiting for its reply.
struct Pending {
    cmd: u32,
    /// Request bytes, charged with the reply's bytes to the command's KB/sec.
    bytes: u32,
    /// When it was sent, or (rate limited) when it was scheduled to be.
    start: Instant,
}

/// One connection's state across reconnects.
struct Conn {
    index: usize,
    socket: Option<Socket>,
    encoder: Encoder,
    in_flight: VecDeque<Pending>,
    inbuf: Vec<u8>,
    head: usize,
    tail: usize,
    outbuf: Vec<u8>,
    /// Requests still to send (u64::MAX: until the time is up).
    remaining: u64,
    /// Rate limited: the schedule's next slot and its spacing.
    next_due: Option<Instant>,
    interval: Duration,
}

impl Conn {
    fn new(sh: &Shared, index: usize, socket: Socket) -> Conn {
        let s = &sh.settings;
        let conns = s.connections();
        let global = (sh.thread * s.clients + index) as u64;
        let seed = if s.distinct_seeds { s.seed ^ keys::Rng::new(global + 1).next_u64() } else { s.seed };
        let workload = &sh.plan.workload;
        let remaining = match sh.plan.stop {
            Stop::Requests(n) => n,
            Stop::Time(_) => u64::MAX,
            Stop::OnePass => {
                let (lo, hi) = keys::parallel_slice(&workload.keys, global, conns);
                hi - lo + 1
            }
        };
        let interval = sh.plan.rate_limit.map_or(Duration::ZERO, |r| Duration::from_secs_f64(1.0 / r as f64));
        // Spread the connections' schedules over the first interval.
        let next_due = sh.plan.rate_limit.map(|_| sh.start + interval.mul_f64(global as f64 / conns as f64));
        Conn {
            index,
            socket: Some(socket),
            encoder: Encoder::new(workload.clone(), seed, global, conns),
            in_flight: VecDeque::with_capacity(sh.plan.pipeline),
            inbuf: vec![0; READ_BUF_BYTES],
            head: 0,
            tail: 0,
            outbuf: Vec::with_capacity(4096),
            remaining,
            next_due,
            interval,
        }
    }

    fn may_send(&self, sh: &Shared, now: Instant) -> bool {
        self.remaining > 0 && sh.stop_at.is_none_or(|t| now < t)
    }

    /// Runs until the connection has nothing left to do (Ok) or breaks (Err).
    async fn drive(&mut self, sh: &Shared) -> Result<(), String> {
        loop {
            let now = Instant::now();
            self.fill(sh, now);
            if !self.outbuf.is_empty() {
                let sock = self.socket.as_mut().expect("connected");
                sock.write_all(&self.outbuf).await.map_err(|e| format!("write failed: {e}"))?;
                self.outbuf.clear();
            }
            let more = self.may_send(sh, now);
            match (self.in_flight.is_empty(), self.next_due) {
                (true, _) if !more => return Ok(()),
                (true, Some(due)) => glommio::timer::sleep(due.saturating_duration_since(now)).await,
                _ => self.receive(sh, self.read_deadline(sh, now, more)).await?,
            }
        }
    }

    /// Encodes requests until the window is full (or, rate limited, none is due).
    fn fill(&mut self, sh: &Shared, now: Instant) {
        while self.in_flight.len() < sh.plan.pipeline && self.may_send(sh, now) {
            let start = match self.next_due {
                Some(due) if due > now => break,
                Some(due) => {
                    self.next_due = Some(due + self.interval);
                    due
                }
                None => now,
            };
            let before = self.outbuf.len();
            let cmd = self.encoder.encode_next(&mut self.outbuf) as u32;
            let bytes = (self.outbuf.len() - before) as u32;
            self.in_flight.push_back(Pending { cmd, bytes, start });
            self.remaining -= 1;
        }
    }

    /// Rate limited with room in the window: wake for the next slot. After a timed run: give
    /// the replies in flight a bounded time.
    fn read_deadline(&self, sh: &Shared, now: Instant, more: bool) -> Deadline {
        match (self.next_due, sh.stop_at) {
            (Some(due), _) if more && self.in_flight.len() < sh.plan.pipeline => Deadline::NextSlot(due),
            (_, Some(stop)) if now >= stop => Deadline::Drain(stop + DRAIN_TIMEOUT),
            _ => Deadline::None,
        }
    }

    /// Reads once and counts every complete reply.
    async fn receive(&mut self, sh: &Shared, deadline: Deadline) -> Result<(), String> {
        self.make_room();
        let sock = self.socket.as_mut().expect("connected");
        let buf = &mut self.inbuf[self.tail..];
        let read = match deadline {
            Deadline::None => sock.read(buf).await,
            Deadline::NextSlot(at) | Deadline::Drain(at) => match read_until(sock, buf, at).await {
                Some(r) => r,
                None if matches!(deadline, Deadline::Drain(_)) => {
                    return Err(format!(
                        "no reply within {}s after the end of the run",
                        DRAIN_TIMEOUT.as_secs()
                    ));
                }
                None => return Ok(()),
            },
        };
        match read {
            Ok(0) => Err("connection closed by the server".into()),
            Ok(n) => {
                self.tail += n;
                let now = Instant::now();
                sh.last_reply.set(now);
                self.count_replies(sh, now)
            }
            Err(e) => Err(format!("read failed: {e}")),
        }
    }

    fn count_replies(&mut self, sh: &Shared, now: Instant) -> Result<(), String> {
        let mut stats = sh.stats.borrow_mut();
        while self.head < self.tail {
            let buf = &self.inbuf[self.head..self.tail];
            let Some((len, kind)) = resp::scan(buf).map_err(|e| format!("protocol error: {e}"))? else {
                break;
            };
            if kind != ReplyKind::Push {
                let p = self.in_flight.pop_front().ok_or("protocol error: a reply nobody asked for")?;
                let latency_ns = now.saturating_duration_since(p.start).as_nanos() as u64;
                let cmd = &mut stats[p.cmd as usize];
                cmd.record(kind, latency_ns, p.bytes as u64 + len as u64);
                if kind == ReplyKind::Error && cmd.first_error.is_none() {
                    cmd.first_error = Some(resp::error_text(&buf[..len]));
                }
            }
            self.head += len;
        }
        if self.head == self.tail {
            (self.head, self.tail) = (0, 0);
        }
        Ok(())
    }

    /// Makes at least READ_MIN_FREE bytes free after `tail`: compacts, then grows.
    fn make_room(&mut self) {
        if self.inbuf.len() - self.tail >= READ_MIN_FREE {
            return;
        }
        self.inbuf.copy_within(self.head..self.tail, 0);
        (self.head, self.tail) = (0, self.tail - self.head);
        if self.inbuf.len() - self.tail < READ_MIN_FREE {
            let grown = self.inbuf.len() * 2;
            self.inbuf.resize(grown, 0);
        }
    }

    /// Drops the socket and everything in flight; returns how many requests were lost (they
    /// go back into the budget, so a request count still means replies received).
    fn disconnect(&mut self) -> usize {
        let lost = self.in_flight.len();
        self.socket = None;
        self.in_flight.clear();
        (self.head, self.tail) = (0, 0);
        self.outbuf.clear();
        if self.remaining != u64::MAX {
            self.remaining += lost as u64;
        }
        lost
    }
}

#[derive(Clone, Copy)]
enum Deadline {
    None,
    NextSlot(Instant),
    Drain(Instant),
}

/// Reads, or gives up at `deadline` (None). Dropping a pending read loses no data: both
/// transports only consume bytes when the read completes.
async fn read_until(sock: &mut Socket, buf: &mut [u8], deadline: Instant) -> Option<std::io::Result<usize>> {
    let read = async { Some(sock.read(buf).await) };
    let timer = async {
        glommio::timer::sleep(deadline.saturating_duration_since(Instant::now())).await;
        None
    };
    futures_lite::future::or(read, timer).await
}

/// A connection's life: drive it; on a failure report it and, with --reconnect-on-error,
/// reconnect with backoff. Returns false when the connection was given up.
async fn conn_task(mut conn: Conn, sh: Rc<Shared>) -> bool {
    loop {
        let error = match conn.drive(&sh).await {
            Ok(()) => return true,
            Err(e) => e,
        };
        let in_flight = conn.disconnect();
        sh.send(Event::ConnectionLost { thread: sh.thread, conn: conn.index, error, in_flight });
        if !sh.settings.reconnect {
            return false;
        }
        match reconnect(&sh, &conn).await {
            Reconnect::Done(socket) => {
                conn.socket = Some(socket);
                sh.send(Event::Reconnected { thread: sh.thread, conn: conn.index });
            }
            Reconnect::RunOver => return true,
            Reconnect::GaveUp(error) => {
                sh.send(Event::ConnectionLost { thread: sh.thread, conn: conn.index, error, in_flight: 0 });
                return false;
            }
        }
    }
}

enum Reconnect {
    Done(Socket),
    RunOver,
    GaveUp(String),
}

async fn reconnect(sh: &Shared, conn: &Conn) -> Reconnect {
    let max = sh.settings.max_reconnect_attempts;
    let mut attempts = 0u32;
    loop {
        // 100 ms, doubling to at most 1.6 s.
        glommio::timer::sleep(Duration::from_millis(100 << attempts.min(4))).await;
        if !conn.may_send(sh, Instant::now()) {
            return Reconnect::RunOver;
        }
        match open(sh.settings.clone(), sh.reactor.clone()).await {
            Ok(socket) => return Reconnect::Done(socket),
            Err(e) => {
                attempts += 1;
                if max > 0 && attempts >= max {
                    return Reconnect::GaveUp(format!("gave up after {attempts} reconnect attempts: {e}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_replies_fail_on_errors() {
        let cmds = vec![vec![b"auth".to_vec(), b"x".to_vec()], vec![b"SELECT".to_vec(), b"1".to_vec()]];
        let mut r = Replies::new(&cmds);
        r.feed(b"+O").unwrap();
        assert!(!r.done());
        r.feed(b"K\r\n>1\r\n+push\r\n").unwrap();
        assert_eq!(r.next, 1);
        let e = r.feed(b"-ERR DB index is out of range\r\n").unwrap_err();
        assert_eq!(e, "SELECT failed: ERR DB index is out of range");
        let mut r = Replies::new(&cmds);
        assert!(r.feed(b"-WRONGPASS invalid\r\n").unwrap_err().starts_with("AUTH failed: WRONGPASS"));
    }
}
