//! Shared pieces of the "floor" servers (included with `#[path = "common.rs"] mod common;`).
//!
//! * argument parsing (`--port P --core N` plus a few knobs used by glommio_epoll),
//! * pinning the calling thread to one core,
//! * a RESP command counter (multibulk `*N\r\n$len\r\n...` and inline `PING\r\n`),
//! * `EpollServer`: a level-triggered, per-core epoll set holding the listener and all
//!   connections, driven with plain nonblocking syscalls. Used by both `epoll_loop.rs`
//!   (blocking `epoll_wait`) and `glommio_epoll.rs` (`epoll_wait(.., 0)` inside a glommio task).
#![allow(dead_code)]

use std::io;

pub const PONG: &[u8] = b"+PONG\r\n";

#[derive(Debug, Clone)]
pub struct Args {
    pub port: u16,
    pub core: usize,
    /// glommio_epoll: how long (µs) to keep re-polling an empty epoll set before parking.
    pub spin_us: u64,
    /// glommio_epoll / glommio_naive: LocalExecutorBuilder::spin_before_park (µs); None = unset.
    pub glommio_spin_us: Option<u64>,
    /// glommio_epoll: how the epoll task lets the glommio reactor run between rounds.
    pub yield_mode: String,
    /// glommio_epoll: with --yield periodic, yield to the reactor at least this often (µs).
    pub yield_every_us: u64,
    /// glommio_epoll: Latency::Matters(µs) for the epoll task queue (0 = default queue).
    pub latency_us: u64,
    /// glommio executors: LocalExecutorBuilder::preempt_timer (µs); None = glommio default (100ms).
    pub preempt_us: Option<u64>,
    /// glommio_epoll: spawn a 1ms glommio timer task and report the worst gap between its ticks.
    pub probe: bool,
    /// print per-second counters to stderr.
    pub stats: bool,
}

pub fn parse_args() -> Args {
    let mut a = Args {
        port: 7000,
        core: 0,
        spin_us: 20,
        glommio_spin_us: None,
        yield_mode: "periodic".to_string(),
        latency_us: 0,
        yield_every_us: 50,
        preempt_us: None,
        probe: false,
        stats: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    let val = |i: usize| -> &str {
        argv.get(i + 1).map(|s| s.as_str()).unwrap_or_else(|| {
            eprintln!("missing value for {}", argv[i]);
            std::process::exit(2)
        })
    };
    let num = |s: &str| -> u64 {
        s.parse().unwrap_or_else(|_| {
            eprintln!("bad number {s:?}");
            std::process::exit(2)
        })
    };
    while i < argv.len() {
        match argv[i].as_str() {
            "--port" => a.port = num(val(i)) as u16,
            "--core" => a.core = num(val(i)) as usize,
            "--spin-us" => a.spin_us = num(val(i)),
            "--glommio-spin-us" => a.glommio_spin_us = Some(num(val(i))),
            "--yield" => a.yield_mode = val(i).to_string(),
            "--yield-every-us" => a.yield_every_us = num(val(i)),
            "--latency-us" => a.latency_us = num(val(i)),
            "--preempt-us" => a.preempt_us = Some(num(val(i))),
            "--probe" => {
                a.probe = true;
                i += 1;
                continue;
            }
            "--stats" => {
                a.stats = true;
                i += 1;
                continue;
            }
            "-h" | "--help" => {
                eprintln!(
                    "usage: [--port P] [--core N] [--spin-us US] [--glommio-spin-us US] \
                     [--yield zero|none|preempt|yield_now|sleep1us|periodic] [--yield-every-us US] [--latency-us US] [--preempt-us US] [--probe] [--stats]"
                );
                std::process::exit(0)
            }
            other => {
                eprintln!("unknown argument {other:?}");
                std::process::exit(2)
            }
        }
        i += 2;
    }
    a
}

/// Pin the calling thread to `core`.
pub fn pin_to_core(core: usize) {
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(core, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            panic!("sched_setaffinity({core}): {}", io::Error::last_os_error());
        }
    }
}

fn cvt(r: libc::c_int, what: &str) -> io::Result<libc::c_int> {
    if r < 0 {
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("{what}: {e}")))
    } else {
        Ok(r)
    }
}

/// A nonblocking listening socket on 127.0.0.1:port.
pub fn listen_nonblocking(port: u16) -> io::Result<libc::c_int> {
    unsafe {
        let fd = cvt(
            libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0),
            "socket",
        )?;
        let one: libc::c_int = 1;
        cvt(
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                &one as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            ),
            "SO_REUSEADDR",
        )?;
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_port = port.to_be();
        sa.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        cvt(
            libc::bind(
                fd,
                &sa as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ),
            "bind",
        )?;
        cvt(libc::listen(fd, 1024), "listen")?;
        Ok(fd)
    }
}

fn parse_int(b: &[u8]) -> Option<i64> {
    if b.is_empty() {
        return None;
    }
    let (neg, digits) = if b[0] == b'-' { (true, &b[1..]) } else { (false, b) };
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as i64)?;
    }
    Some(if neg { -v } else { v })
}

/// Finds the `\r\n`-terminated line starting at `pos`; returns (line content end, next pos).
#[inline]
fn line(b: &[u8], pos: usize) -> Option<(usize, usize)> {
    let nl = b[pos..].iter().position(|&c| c == b'\n')? + pos;
    let end = if nl > pos && b[nl - 1] == b'\r' { nl - 1 } else { nl };
    Some((end, nl + 1))
}

/// Length of the first complete command in `b`: Ok(Some(n)), Ok(None) if incomplete,
/// Err(()) on a protocol error.
pub fn parse_one(b: &[u8]) -> Result<Option<usize>, ()> {
    if b.is_empty() {
        return Ok(None);
    }
    if b[0] != b'*' {
        // inline command: one line
        return Ok(line(b, 0).map(|(_, next)| next));
    }
    let Some((end, mut pos)) = line(b, 1) else { return Ok(None) };
    let n = parse_int(&b[1..end]).ok_or(())?;
    for _ in 0..n.max(0) {
        if pos >= b.len() {
            return Ok(None);
        }
        if b[pos] != b'$' {
            return Err(());
        }
        let Some((end, next)) = line(b, pos + 1) else { return Ok(None) };
        let len = parse_int(&b[pos + 1..end]).ok_or(())?;
        if len < 0 {
            return Err(());
        }
        pos = next + len as usize + 2;
        if pos > b.len() {
            return Ok(None);
        }
    }
    Ok(Some(pos))
}

/// Counts complete commands at the start of `b`: Ok((count, bytes consumed)).
pub fn count_commands(b: &[u8]) -> Result<(usize, usize), ()> {
    let mut pos = 0;
    let mut count = 0;
    while let Some(n) = parse_one(&b[pos..])? {
        pos += n;
        count += 1;
    }
    Ok((count, pos))
}

/// Input buffer + parsed-command accounting for one connection.
pub struct InBuf {
    pub buf: Vec<u8>,
    pub len: usize,
}

impl InBuf {
    pub fn new() -> Self {
        InBuf { buf: vec![0u8; 16 * 1024], len: 0 }
    }
    /// Free space to read into (grows the buffer when full).
    pub fn spare(&mut self) -> &mut [u8] {
        if self.len == self.buf.len() {
            let n = self.buf.len() * 2;
            self.buf.resize(n, 0);
        }
        &mut self.buf[self.len..]
    }
    /// After `n` bytes were read into `spare()`: count complete commands, drop them from
    /// the buffer, and return how many there were.
    pub fn filled(&mut self, n: usize) -> Result<usize, ()> {
        self.len += n;
        let (count, consumed) = count_commands(&self.buf[..self.len])?;
        if consumed > 0 {
            self.buf.copy_within(consumed..self.len, 0);
            self.len -= consumed;
        }
        Ok(count)
    }
}

pub fn push_pongs(out: &mut Vec<u8>, count: usize) {
    out.reserve(count * PONG.len());
    for _ in 0..count {
        out.extend_from_slice(PONG);
    }
}

struct Conn {
    inb: InBuf,
    out: Vec<u8>,
    out_pos: usize,
    want_write: bool,
}

const LISTENER_TOKEN: u64 = u64::MAX;

/// A per-core, level-triggered epoll set holding the listener and every connection.
pub struct EpollServer {
    pub epfd: libc::c_int,
    lfd: libc::c_int,
    conns: Vec<Option<Box<Conn>>>,
    events: Vec<libc::epoll_event>,
    pub accepted: u64,
}

impl EpollServer {
    pub fn new(port: u16) -> io::Result<Self> {
        let lfd = listen_nonblocking(port)?;
        let epfd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) }, "epoll_create1")?;
        let s = EpollServer {
            epfd,
            lfd,
            conns: Vec::new(),
            events: vec![libc::epoll_event { events: 0, u64: 0 }; 512],
            accepted: 0,
        };
        s.ctl(libc::EPOLL_CTL_ADD, lfd, libc::EPOLLIN as u32, LISTENER_TOKEN)?;
        Ok(s)
    }

    fn ctl(&self, op: libc::c_int, fd: libc::c_int, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        cvt(unsafe { libc::epoll_ctl(self.epfd, op, fd, &mut ev) }, "epoll_ctl").map(|_| ())
    }

    /// One `epoll_wait(timeout_ms)` and handling of every ready fd.
    /// Returns the number of ready events handled.
    pub fn poll(&mut self, timeout_ms: libc::c_int) -> usize {
        let n = unsafe {
            libc::epoll_wait(
                self.epfd,
                self.events.as_mut_ptr(),
                self.events.len() as libc::c_int,
                timeout_ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return 0;
            }
            panic!("epoll_wait: {e}");
        }
        for i in 0..n as usize {
            let ev = self.events[i];
            let (token, flags) = (ev.u64, ev.events);
            if token == LISTENER_TOKEN {
                self.accept_all();
            } else {
                self.handle_conn(token as libc::c_int, flags);
            }
        }
        n as usize
    }

    fn accept_all(&mut self) {
        loop {
            let fd = unsafe {
                libc::accept4(
                    self.lfd,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if fd < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::ECONNABORTED) | Some(libc::EINTR) => return,
                    _ => {
                        eprintln!("accept4: {e}");
                        return;
                    }
                }
            }
            let one: libc::c_int = 1;
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    &one as *const _ as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
            let idx = fd as usize;
            if self.conns.len() <= idx {
                self.conns.resize_with(idx + 1, || None);
            }
            self.conns[idx] = Some(Box::new(Conn {
                inb: InBuf::new(),
                out: Vec::with_capacity(4096),
                out_pos: 0,
                want_write: false,
            }));
            if self.ctl(libc::EPOLL_CTL_ADD, fd, libc::EPOLLIN as u32, fd as u64).is_err() {
                self.close(fd);
            }
            self.accepted += 1;
        }
    }

    fn close(&mut self, fd: libc::c_int) {
        unsafe {
            libc::epoll_ctl(self.epfd, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut());
            libc::close(fd);
        }
        if let Some(slot) = self.conns.get_mut(fd as usize) {
            *slot = None;
        }
    }

    fn handle_conn(&mut self, fd: libc::c_int, flags: u32) {
        let Some(Some(conn)) = self.conns.get_mut(fd as usize) else { return };
        let mut dead = false;
        if conn.want_write {
            // Only EPOLLOUT (or an error) is registered while output is pending.
            match flush(fd, conn) {
                Ok(true) => {
                    conn.want_write = false;
                    let _ = {
                        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: fd as u64 };
                        unsafe { libc::epoll_ctl(self.epfd, libc::EPOLL_CTL_MOD, fd, &mut ev) }
                    };
                }
                Ok(false) => {}
                Err(_) => dead = true,
            }
        } else if flags & (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0 {
            let spare = conn.inb.spare();
            let r = unsafe { libc::recv(fd, spare.as_mut_ptr() as *mut libc::c_void, spare.len(), 0) };
            if r == 0 {
                dead = true;
            } else if r < 0 {
                let e = io::Error::last_os_error().raw_os_error();
                dead = !matches!(e, Some(libc::EAGAIN) | Some(libc::EINTR));
            } else {
                match conn.inb.filled(r as usize) {
                    Err(()) => dead = true,
                    Ok(0) => {}
                    Ok(count) => {
                        push_pongs(&mut conn.out, count);
                        match flush(fd, conn) {
                            Ok(true) => {}
                            Ok(false) => {
                                conn.want_write = true;
                                let mut ev =
                                    libc::epoll_event { events: libc::EPOLLOUT as u32, u64: fd as u64 };
                                unsafe { libc::epoll_ctl(self.epfd, libc::EPOLL_CTL_MOD, fd, &mut ev) };
                            }
                            Err(_) => dead = true,
                        }
                    }
                }
            }
        }
        if dead {
            self.close(fd);
        }
    }
}

/// Sends pending output. Ok(true) when everything was sent, Ok(false) on EAGAIN.
fn flush(fd: libc::c_int, conn: &mut Conn) -> io::Result<bool> {
    while conn.out_pos < conn.out.len() {
        let rest = &conn.out[conn.out_pos..];
        let r =
            unsafe { libc::send(fd, rest.as_ptr() as *const libc::c_void, rest.len(), libc::MSG_NOSIGNAL) };
        if r < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN) => return Ok(false),
                Some(libc::EINTR) => continue,
                _ => return Err(e),
            }
        }
        conn.out_pos += r as usize;
    }
    conn.out.clear();
    conn.out_pos = 0;
    Ok(true)
}

/// Process CPU time (user+sys) in clock ticks, from /proc/self/stat.
pub fn cpu_ticks() -> u64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // after ")" : state(0) ppid(1) ... utime(11) stime(12)
    let u: u64 = f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0);
    let s: u64 = f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0);
    u + s
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn counts() {
        let one = b"*1\r\n$4\r\nPING\r\n";
        assert_eq!(count_commands(one), Ok((1, one.len())));
        let mut two = one.to_vec();
        two.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
        assert_eq!(count_commands(&two), Ok((2, two.len())));
        for cut in 0..two.len() {
            let (c, n) = count_commands(&two[..cut]).unwrap();
            assert!(c <= 1 && (n == 0 || n == one.len()));
        }
        assert_eq!(count_commands(b"PING\r\nPI"), Ok((1, 6)));
        assert!(count_commands(b"*1\r\nX").is_err());
    }
}
