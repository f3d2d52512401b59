//! Socket I/O for the connections of one thread.
//!
//! Two transports, chosen with `--io`:
//!
//! * `epoll` (default): the shardis server's own socket loop (src/server/reactor.rs). Each thread keeps one
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
use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::Duration;

pub use shardis::server::reactor::Reactor;
use shardis::server::reactor::{Registration, recv, send, sockaddr_of};

/// A socket in the thread's epoll set; it leaves the set and is closed on drop.
pub struct EpollConn {
    reg: Option<Registration>,
    fd: RawFd,
}

impl EpollConn {
    fn reg(&self) -> &Registration {
        self.reg.as_ref().expect("registered until dropped")
    }
}

impl Drop for EpollConn {
    fn drop(&mut self) {
        drop(self.reg.take());
        unsafe { libc::close(self.fd) };
    }
}

/// A connected socket of either transport.
pub enum Socket {
    Epoll(EpollConn),
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
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => reg.reg().writable().await,
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
                        reg.reg().clear_readable();
                        reg.reg().readable().await;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            },
        }
    }
}

async fn connect_epoll(addr: SocketAddr, reactor: &Rc<Reactor>) -> io::Result<EpollConn> {
    let domain = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let conn = match reactor.register(fd) {
        Ok(reg) => EpollConn { reg: Some(reg), fd },
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
        conn.reg().writable().await;
        socket_error(fd)?;
    }
    set_nodelay(fd);
    Ok(conn)
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
