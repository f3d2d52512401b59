//! The core's socket loop. glommio's own stream reads arm a one-shot io_uring poll after every
//! partial read, which costs each request a poll arm and a completion interrupt. Instead each
//! core keeps one level-triggered epoll set with all its sockets and polls it without blocking
//! from a glommio task, waking the connection tasks whose sockets are ready; connections then
//! use plain non-blocking recv/send.
//!
//! Idle: after `spin` with nothing ready the loop parks on the epoll fd itself through
//! glommio's public API (a glommio stream built on a dup of the epoll fd arms an io_uring
//! readiness poll at construction, and its first read waits for it). So the first request
//! after idle wakes the core at once through io_uring, and an idle core sleeps in the kernel.
//! Each spinning round first offers the CPU to any other thread ready on the core (a client
//! sharing it, the kernel worker of an O_DSYNC write): spinning answers sooner than sleeping
//! and waking, but must not starve whoever would send the next request.
//! Between busy rounds the loop yields with a 1us glommio timer: glommio polls its rings only
//! between task-queue runs, so a plain yield would starve cross-core channels and timers.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::os::fd::{FromRawFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

#[derive(Default)]
struct IoSlot {
    fd: RawFd,
    readable: bool,
    writable: bool,
    want_write: bool,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

/// Longest a busy socket loop runs before glommio gets to poll its rings.
const REACTOR_TURN: Duration = Duration::from_micros(50);
/// The same while a task of this core waits for a reply from another core (where replies
/// arrive): shorter, but not every round, since each turn costs an io_uring submission.
const AWAITING_TURN: Duration = Duration::from_micros(10);

pub struct Reactor {
    epfd: RawFd,
    slots: RefCell<Vec<Option<IoSlot>>>,
    free: RefCell<Vec<usize>>,
    pub spin: Cell<Duration>,
    pub stop: Cell<bool>,
}

impl Reactor {
    pub fn new(spin: Duration) -> io::Result<Rc<Reactor>> {
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epfd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Rc::new(Reactor {
            epfd,
            slots: RefCell::new(Vec::new()),
            free: RefCell::new(Vec::new()),
            spin: Cell::new(spin),
            stop: Cell::new(false),
        }))
    }

    /// Ends `run` at its next round.
    pub fn stop(&self) {
        self.stop.set(true);
    }

    /// Adds a non-blocking fd to the epoll set (level-triggered, readable).
    pub fn register(self: &Rc<Self>, fd: RawFd) -> io::Result<Registration> {
        let token = match self.free.borrow_mut().pop() {
            Some(t) => t,
            None => {
                let mut slots = self.slots.borrow_mut();
                slots.push(None);
                slots.len() - 1
            }
        };
        self.slots.borrow_mut()[token] = Some(IoSlot { fd, ..Default::default() });
        let mut ev =
            libc::epoll_event { events: (libc::EPOLLIN | libc::EPOLLRDHUP) as u32, u64: token as u64 };
        if unsafe { libc::epoll_ctl(self.epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
            let err = io::Error::last_os_error();
            self.slots.borrow_mut()[token] = None;
            self.free.borrow_mut().push(token);
            return Err(err);
        }
        Ok(Registration { reactor: self.clone(), token, fd })
    }

    fn set_write_interest(&self, token: usize, fd: RawFd, on: bool) {
        let mut events = (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
        if on {
            events |= libc::EPOLLOUT as u32;
        }
        let mut ev = libc::epoll_event { events, u64: token as u64 };
        unsafe { libc::epoll_ctl(self.epfd, libc::EPOLL_CTL_MOD, fd, &mut ev) };
    }

    /// Runs the socket loop until `stop` is set.
    pub async fn run(self: Rc<Self>) {
        let mut events: Vec<libc::epoll_event> = vec![libc::epoll_event { events: 0, u64: 0 }; 512];
        let mut idle_since: Option<Instant> = None;
        let mut last_reactor_turn = Instant::now();
        while !self.stop.get() {
            let n = unsafe { libc::epoll_wait(self.epfd, events.as_mut_ptr(), events.len() as i32, 0) };
            if n > 0 {
                self.wake_ready(&events[..n as usize]);
                idle_since = None;
                // Let the woken connections run; give glommio's rings (cross-core channels,
                // timers) a turn only every REACTOR_TURN: the timer yield costs ~10% of a
                // busy core when taken every round.
                let now = Instant::now();
                let turn =
                    if crate::dispatch::mesh::awaiting_replies() { AWAITING_TURN } else { REACTOR_TURN };
                if now - last_reactor_turn >= turn {
                    last_reactor_turn = now;
                    yield_to_reactor().await;
                } else {
                    futures_lite::future::yield_now().await;
                }
                continue;
            }
            last_reactor_turn = Instant::now();
            let now = Instant::now();
            let since = *idle_since.get_or_insert(now);
            if now - since < self.spin.get() {
                // Spin politely: whatever else is runnable on this core (a client, the kernel
                // worker of our O_DSYNC write) runs first; alone on the core this returns at once.
                unsafe { libc::sched_yield() };
                yield_to_reactor().await;
                continue;
            }
            park_until_readable(self.epfd).await;
            idle_since = None;
        }
    }

    fn wake_ready(&self, events: &[libc::epoll_event]) {
        let mut slots = self.slots.borrow_mut();
        for ev in events {
            let token = ev.u64 as usize;
            let Some(Some(slot)) = slots.get_mut(token) else { continue };
            let bits = ev.events;
            let err = bits & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0;
            if err || bits & (libc::EPOLLIN | libc::EPOLLRDHUP) as u32 != 0 {
                slot.readable = true;
                if let Some(w) = slot.read_waker.take() {
                    w.wake();
                }
            }
            if err || bits & libc::EPOLLOUT as u32 != 0 {
                slot.writable = true;
                if let Some(w) = slot.write_waker.take() {
                    w.wake();
                }
            }
        }
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        unsafe { libc::close(self.epfd) };
    }
}

/// Lets glommio poll its rings (channels, timers) before this task runs again.
pub async fn yield_to_reactor() {
    glommio::timer::sleep(Duration::from_micros(1)).await;
}

/// Sleeps until the epoll fd becomes readable, via an io_uring poll that glommio arms when a
/// stream is built on the fd. The stream is never read from: its first `poll_read` only
/// registers our waker on that pending poll.
async fn park_until_readable(epfd: RawFd) {
    let dup = unsafe { libc::dup(epfd) };
    if dup < 0 {
        yield_to_reactor().await;
        return;
    }
    let mut stream = unsafe { glommio::net::TcpStream::from_raw_fd(dup) };
    let mut first = true;
    futures_lite::future::poll_fn(|cx| {
        if !first {
            return Poll::Ready(());
        }
        first = false;
        let mut byte = [0u8; 1];
        match futures_lite::AsyncRead::poll_read(Pin::new(&mut stream), cx, &mut byte) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => Poll::Ready(()),
        }
    })
    .await;
}

/// A socket's membership in the epoll set; removed on drop (the fd is closed by its owner).
pub struct Registration {
    reactor: Rc<Reactor>,
    token: usize,
    pub fd: RawFd,
}

impl Registration {
    pub fn readable(&self) -> ReadyFuture<'_> {
        ReadyFuture { reg: self, write: false }
    }

    pub fn writable(&self) -> ReadyFuture<'_> {
        ReadyFuture { reg: self, write: true }
    }

    /// Forgets a stale readiness (after a read returned EAGAIN).
    pub fn clear_readable(&self) {
        if let Some(Some(s)) = self.reactor.slots.borrow_mut().get_mut(self.token) {
            s.readable = false;
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        unsafe { libc::epoll_ctl(self.reactor.epfd, libc::EPOLL_CTL_DEL, self.fd, std::ptr::null_mut()) };
        self.reactor.slots.borrow_mut()[self.token] = None;
        self.reactor.free.borrow_mut().push(self.token);
    }
}

pub struct ReadyFuture<'a> {
    reg: &'a Registration,
    write: bool,
}

impl Future for ReadyFuture<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let reactor = &self.reg.reactor;
        let token = self.reg.token;
        let mut slots = reactor.slots.borrow_mut();
        let Some(Some(slot)) = slots.get_mut(token) else { return Poll::Ready(()) };
        if self.write {
            if slot.writable {
                slot.writable = false;
                if slot.want_write {
                    slot.want_write = false;
                    let fd = slot.fd;
                    drop(slots);
                    reactor.set_write_interest(token, fd, false);
                }
                return Poll::Ready(());
            }
            slot.write_waker = Some(cx.waker().clone());
            if !slot.want_write {
                slot.want_write = true;
                let fd = slot.fd;
                drop(slots);
                reactor.set_write_interest(token, fd, true);
            }
            Poll::Pending
        } else {
            if slot.readable {
                slot.readable = false;
                return Poll::Ready(());
            }
            slot.read_waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// Creates a non-blocking listening socket with SO_REUSEPORT, so every core can bind the port
/// and the kernel spreads connections over them.
pub fn listen(bind: &str, port: u16) -> io::Result<RawFd> {
    let addr: std::net::SocketAddr = format!("{bind}:{port}")
        .parse()
        .or_else(|_| format!("[{bind}]:{port}").parse())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("bad bind address {bind}")))?;
    let domain = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let one: libc::c_int = 1;
    let setopt = |opt| unsafe {
        libc::setsockopt(fd, libc::SOL_SOCKET, opt, &one as *const _ as *const libc::c_void, 4)
    };
    setopt(libc::SO_REUSEADDR);
    setopt(libc::SO_REUSEPORT);
    let (storage, len) = sockaddr_of(&addr);
    let rc = unsafe { libc::bind(fd, &storage as *const _ as *const libc::sockaddr, len) };
    if rc < 0 || unsafe { libc::listen(fd, 511) } < 0 {
        let err = io::Error::last_os_error();
        unsafe { libc::close(fd) };
        return Err(err);
    }
    Ok(fd)
}

/// The C socket address of `addr`, for bind and connect.
pub fn sockaddr_of(addr: &std::net::SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        std::net::SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
                sin_zero: [0; 8],
            };
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in, sin) };
            (storage, std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t)
        }
        std::net::SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
                sin6_scope_id: 0,
            };
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in6, sin6) };
            (storage, std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t)
        }
    }
}

/// Accepts one pending connection: (fd, peer address), or None when there is none.
pub fn accept(listen_fd: RawFd) -> io::Result<Option<(RawFd, String)>> {
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let fd = unsafe {
        libc::accept4(
            listen_fd,
            &mut storage as *mut _ as *mut libc::sockaddr,
            &mut len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        let err = io::Error::last_os_error();
        return match err.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
            _ => Err(err),
        };
    }
    let one: libc::c_int = 1;
    unsafe {
        libc::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, &one as *const _ as *const libc::c_void, 4)
    };
    Ok(Some((fd, addr_string(&storage))))
}

fn addr_string(storage: &libc::sockaddr_storage) -> String {
    match storage.ss_family as i32 {
        libc::AF_INET => {
            let sin = unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
            let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            format!("{}:{}", ip, u16::from_be(sin.sin_port))
        }
        libc::AF_INET6 => {
            let sin6 = unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
            let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            format!("{}:{}", ip, u16::from_be(sin6.sin6_port))
        }
        _ => "?:0".into(),
    }
}

pub fn local_addr_string(fd: RawFd) -> String {
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    unsafe { libc::getsockname(fd, &mut storage as *mut _ as *mut libc::sockaddr, &mut len) };
    addr_string(&storage)
}

/// Non-blocking recv into `buf`: Ok(0) is end of stream; WouldBlock means not ready.
pub fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
}

pub fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    let n = unsafe { libc::send(fd, buf.as_ptr() as *const libc::c_void, buf.len(), libc::MSG_NOSIGNAL) };
    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
}
