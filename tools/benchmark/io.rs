//! Socket I/O for the connections of one thread.
//!
//! Two transports, chosen with `--io`:
//!
//! * `epoll` (default): the scheme the shardis server uses (src/server/reactor.rs), written
//!   again here so the tool depends on nothing of the server. Each thread keeps one
//!   level-triggered epoll set with all its sockets and polls it without blocking from a
//!   glommio task, waking the connection tasks whose sockets are ready; they use plain
//!   non-blocking recv/send. When nothing has been ready for `--spin-us` the task parks on the
//!   epoll fd itself through an io_uring poll (a glommio stream built on a dup of the fd), so
//!   an idle thread sleeps in the kernel and wakes on the first reply. Between busy rounds it
//!   yields to the connection tasks it woke, and every 50us lets glommio poll its rings too
//!   (by sleeping on a 1us glommio timer) so timers fire on time: the ticker, rate limiting.
//! * `glommio`: glommio's TcpStream, where every read that finds no data arms a one-shot
//!   io_uring poll.
//!
//! Why epoll is the default: with one generator thread on its own core against redis-server
//! on the other (tools/benchmark/compare.sh, medians of 3), epoll reached 8-11% more requests
//! per second than glommio's streams at pipeline 1 and 34-37% more at pipeline 16 (numbers in
//! tools/benchmark/README.md): a request costs one recv and one send system call, with no poll
//! to arm and no completion to reap.

use crate::options::IoMode;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// How often a busy loop lets glommio poll its rings (timers: the ticker, rate limiting).
/// In between it only yields to the connection tasks it woke: arming a glommio timer every
/// round cost ~10% of a thread's time at pipeline 16.
const GLOMMIO_POLL_INTERVAL: Duration = Duration::from_micros(50);

#[derive(Default)]
struct Slot {
    readable: bool,
    writable: bool,
    want_write: bool,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

/// A thread's epoll set and the wakers of the tasks waiting on its sockets.
pub struct Reactor {
    epfd: RawFd,
    slots: RefCell<Vec<Option<Slot>>>,
    free: RefCell<Vec<usize>>,
    spin: Duration,
    stop: Cell<bool>,
}

impl Reactor {
    pub fn new(spin: Duration) -> io::Result<Rc<Reactor>> {
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epfd < 0 {
            return Err(io::Error::last_os_error());
        }
        let (slots, free) = (RefCell::new(Vec::new()), RefCell::new(Vec::new()));
        Ok(Rc::new(Reactor { epfd, slots, free, spin, stop: Cell::new(false) }))
    }

    /// Ends `run` at its next round.
    pub fn stop(&self) {
        self.stop.set(true);
    }

    fn register(self: &Rc<Self>, fd: RawFd) -> io::Result<Registration> {
        let token = self.free.borrow_mut().pop().unwrap_or_else(|| {
            let mut slots = self.slots.borrow_mut();
            slots.push(None);
            slots.len() - 1
        });
        self.slots.borrow_mut()[token] = Some(Slot::default());
        if let Err(e) = self.control(libc::EPOLL_CTL_ADD, fd, token, false) {
            self.release(token);
            return Err(e);
        }
        Ok(Registration { reactor: self.clone(), token, fd })
    }

    fn control(&self, op: libc::c_int, fd: RawFd, token: usize, write: bool) -> io::Result<()> {
        let mut events = (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
        if write {
            events |= libc::EPOLLOUT as u32;
        }
        let mut ev = libc::epoll_event { events, u64: token as u64 };
        if unsafe { libc::epoll_ctl(self.epfd, op, fd, &mut ev) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn release(&self, token: usize) {
        self.slots.borrow_mut()[token] = None;
        self.free.borrow_mut().push(token);
    }

    /// The polling loop; runs until `stop`.
    pub async fn run(self: Rc<Self>) {
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        let mut idle_since: Option<Instant> = None;
        let mut glommio_polled = Instant::now();
        while !self.stop.get() {
            let n = unsafe { libc::epoll_wait(self.epfd, events.as_mut_ptr(), events.len() as i32, 0) };
            let now = Instant::now();
            if n > 0 {
                self.wake(&events[..n as usize]);
                idle_since = None;
            } else if now - *idle_since.get_or_insert(now) >= self.spin {
                park_until_readable(self.epfd).await;
                (idle_since, glommio_polled) = (None, Instant::now());
                continue;
            }
            if now - glommio_polled >= GLOMMIO_POLL_INTERVAL {
                yield_to_glommio().await;
                glommio_polled = Instant::now();
            } else {
                futures_lite::future::yield_now().await;
            }
        }
    }

    fn wake(&self, events: &[libc::epoll_event]) {
        let mut slots = self.slots.borrow_mut();
        for ev in events {
            let Some(Some(slot)) = slots.get_mut(ev.u64 as usize) else { continue };
            let bits = ev.events;
            let failed = bits & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0;
            if failed || bits & (libc::EPOLLIN | libc::EPOLLRDHUP) as u32 != 0 {
                slot.readable = true;
                if let Some(w) = slot.read_waker.take() {
                    w.wake();
                }
            }
            if failed || bits & libc::EPOLLOUT as u32 != 0 {
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

/// Lets glommio poll its rings (timers, the park poll) before the loop runs again.
async fn yield_to_glommio() {
    glommio::timer::sleep(Duration::from_micros(1)).await;
}

/// Sleeps until the epoll fd is readable: glommio arms an io_uring poll when a stream is built
/// on a dup of it, and the stream's first poll_read only registers our waker on that poll.
async fn park_until_readable(epfd: RawFd) {
    let dup = unsafe { libc::dup(epfd) };
    if dup < 0 {
        yield_to_glommio().await;
        return;
    }
    let mut stream = unsafe { glommio::net::TcpStream::from_raw_fd(dup) };
    let mut first = true;
    std::future::poll_fn(|cx| {
        if !std::mem::take(&mut first) {
            return Poll::Ready(());
        }
        let mut byte = [0u8; 1];
        match futures_lite::AsyncRead::poll_read(Pin::new(&mut stream), cx, &mut byte) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => Poll::Ready(()),
        }
    })
    .await;
}

/// A socket's place in the epoll set; leaves it and closes the socket on drop.
pub struct Registration {
    reactor: Rc<Reactor>,
    token: usize,
    fd: RawFd,
}

impl Registration {
    fn ready(&self, write: bool) -> Ready<'_> {
        Ready { reg: self, write }
    }

    fn clear_readable(&self) {
        if let Some(Some(s)) = self.reactor.slots.borrow_mut().get_mut(self.token) {
            s.readable = false;
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        unsafe {
            libc::epoll_ctl(self.reactor.epfd, libc::EPOLL_CTL_DEL, self.fd, std::ptr::null_mut());
            libc::close(self.fd);
        }
        self.reactor.release(self.token);
    }
}

/// Resolves when the socket is readable (or writable), as last reported by epoll.
struct Ready<'a> {
    reg: &'a Registration,
    write: bool,
}

impl Future for Ready<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let (reactor, token, fd) = (&self.reg.reactor, self.reg.token, self.reg.fd);
        let mut slots = reactor.slots.borrow_mut();
        let Some(Some(slot)) = slots.get_mut(token) else { return Poll::Ready(()) };
        if !self.write {
            if std::mem::take(&mut slot.readable) {
                return Poll::Ready(());
            }
            slot.read_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        if std::mem::take(&mut slot.writable) {
            // Stop asking for EPOLLOUT: a writable socket would wake the loop every round.
            if std::mem::take(&mut slot.want_write) {
                drop(slots);
                let _ = reactor.control(libc::EPOLL_CTL_MOD, fd, token, false);
            }
            return Poll::Ready(());
        }
        slot.write_waker = Some(cx.waker().clone());
        if !std::mem::replace(&mut slot.want_write, true) {
            drop(slots);
            let _ = reactor.control(libc::EPOLL_CTL_MOD, fd, token, true);
        }
        Poll::Pending
    }
}

/// A connected socket of either transport.
pub enum Socket {
    Epoll(Registration),
    Glommio(glommio::net::TcpStream),
}

impl Socket {
    /// Connects (without blocking the thread) and turns Nagle off.
    pub async fn connect(addr: SocketAddr, mode: IoMode, reactor: &Rc<Reactor>) -> io::Result<Socket> {
        match mode {
            IoMode::Glommio => {
                let stream = glommio::net::TcpStream::connect(addr).await.map_err(io::Error::from)?;
                stream.set_nodelay(true).map_err(io::Error::from)?;
                Ok(Socket::Glommio(stream))
            }
            IoMode::Epoll => connect_epoll(addr, reactor).await.map(Socket::Epoll),
        }
    }

    /// Writes all of `buf`.
    pub async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        match self {
            Socket::Glommio(s) => futures_lite::AsyncWriteExt::write_all(s, buf).await,
            Socket::Epoll(reg) => {
                while !buf.is_empty() {
                    match send(reg.fd, buf) {
                        Ok(n) => buf = &buf[n..],
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => reg.ready(true).await,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
        }
    }

    /// Reads what is available (waiting for at least one byte); Ok(0) is end of stream.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Glommio(s) => futures_lite::AsyncReadExt::read(s, buf).await,
            Socket::Epoll(reg) => loop {
                match recv(reg.fd, buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        reg.clear_readable();
                        reg.ready(false).await;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            },
        }
    }
}

async fn connect_epoll(addr: SocketAddr, reactor: &Rc<Reactor>) -> io::Result<Registration> {
    let domain = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let reg = match reactor.register(fd) {
        Ok(reg) => reg,
        Err(e) => {
            unsafe { libc::close(fd) };
            return Err(e);
        }
    };
    let (storage, len) = sockaddr_of(&addr);
    let rc = unsafe { libc::connect(fd, &storage as *const _ as *const libc::sockaddr, len) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(err);
        }
        reg.ready(true).await;
        socket_error(fd)?;
    }
    set_nodelay(fd);
    Ok(reg)
}

fn socket_error(fd: RawFd) -> io::Result<()> {
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            &mut err as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    match (rc, err) {
        (0, 0) => Ok(()),
        (0, e) => Err(io::Error::from_raw_os_error(e)),
        _ => Err(io::Error::last_os_error()),
    }
}

fn set_nodelay(fd: RawFd) {
    let one: libc::c_int = 1;
    unsafe {
        libc::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, &one as *const _ as *const libc::c_void, 4)
    };
}

fn sockaddr_of(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
                sin_zero: [0; 8],
            };
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in, sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
                sin6_scope_id: a.scope_id(),
            };
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in6, sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
}

fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    let n = unsafe { libc::send(fd, buf.as_ptr() as *const libc::c_void, buf.len(), libc::MSG_NOSIGNAL) };
    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
}

/// A blocking connection for the setup commands and checks run from the main thread.
pub fn blocking_connect(addr: SocketAddr) -> io::Result<std::net::TcpStream> {
    let s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    Ok(s)
}

/// The cores this process may run on, in order (sched_getaffinity; respects taskset).
pub fn allowed_cpus() -> Vec<usize> {
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    let cpus: Vec<usize> = if rc == 0 {
        (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) }).collect()
    } else {
        Vec::new()
    };
    if cpus.is_empty() { (0..crate::options::available_cores()).collect() } else { cpus }
}
