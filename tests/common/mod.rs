//! Shared helpers for the shardis integration tests.
//!
//! * [`Server`] spawns the `shardis` binary under test on a free port with a
//!   private temporary data directory and kills it on drop.
//! * [`RedisServer`] does the same for a real `redis-server` (if installed), used
//!   as the reference implementation by the differential tests.
//! * [`RawConn`] is a raw TCP connection that can send arbitrary bytes and read
//!   back exactly one complete RESP2/RESP3 reply as raw bytes.
//! * [`DataDir`], [`Server::start_in`], [`Server::kill9`] and [`Server::restart`] run
//!   servers one after another on one data directory (persistence tests).
#![allow(dead_code)]

pub mod diff;

use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long we wait for a spawned server to answer PING.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Default read timeout for raw connections and redis clients.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

static DIR_COUNTER: AtomicUsize = AtomicUsize::new(0);

// ---------------------------------------------------------------------------
// Process management
// ---------------------------------------------------------------------------

/// A port nobody listens on and that no other test of this process was given:
/// the kernel may hand a just-released port out again, and two tests given one
/// port would talk to each other's servers (shardis binds with SO_REUSEPORT).
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().unwrap().port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

fn unique_temp_dir(prefix: &str) -> PathBuf {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let n = DIR_COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{n}-{nanos}", std::process::id()));
    fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Last `max_bytes` of a file, lossily decoded.
fn file_tail(path: &Path, max_bytes: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let start = bytes.len().saturating_sub(max_bytes);
            String::from_utf8_lossy(&bytes[start..]).into_owned()
        }
        Err(e) => format!("<could not read {}: {e}>", path.display()),
    }
}

/// True when the server on `port` answers and is process `pid`. Checking the
/// pid matters: a port that was free when picked can be taken by another
/// test's server before ours binds it, and that server would answer too.
fn answers_as(port: u16, pid: u32) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = s.set_write_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n").is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match parse_value(&buf, 0) {
            Ok(Some(_)) => break,
            Ok(None) => {}
            Err(_) => return false,
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    // A server with requirepass answers NOAUTH: it is up, but cannot say who it is.
    if buf.starts_with(b"-NOAUTH") {
        return true;
    }
    let text = String::from_utf8_lossy(&buf);
    text.lines().any(|l| l.trim_end() == format!("process_id:{pid}"))
}

/// A spawned server process (shardis or redis-server).
struct Proc {
    name: &'static str,
    child: Child,
    port: u16,
    dir: PathBuf,
    log: PathBuf,
    /// Print the log tail on drop during a panic (off for the reference server).
    print_log_on_panic: bool,
    /// Remove `dir` on drop (false when the caller owns it: a [`DataDir`]).
    owns_dir: bool,
}

impl Proc {
    /// Spawns `program` with the args produced by `make_args(port, dir)` and waits
    /// until it answers PING. Retries with another port a couple of times if the
    /// process exits early (e.g. the port was grabbed by someone else meanwhile).
    fn spawn(name: &'static str, program: &str, make_args: &dyn Fn(u16, &Path) -> Vec<String>) -> Proc {
        Self::spawn_in(name, program, None, make_args)
    }

    /// `spawn`, in the caller's directory `dir` when given (kept on drop) instead of a fresh one.
    fn spawn_in(
        name: &'static str,
        program: &str,
        dir: Option<&Path>,
        make_args: &dyn Fn(u16, &Path) -> Vec<String>,
    ) -> Proc {
        let mut last_err = String::new();
        for _attempt in 0..3 {
            let mut p = Self::launch(name, program, dir, make_args);
            match p.wait_ready() {
                Ok(()) => return p,
                Err(e) => {
                    let args = make_args(p.port, &p.dir);
                    last_err = format!(
                        "{name} ({program} {args:?}) did not become ready: {e}\n--- log tail ---\n{}",
                        file_tail(&p.log, 4000)
                    );
                    // Drop kills the process and removes the directory (if it made it).
                    let exited_early = e.starts_with("exited");
                    drop(p);
                    if !exited_early {
                        break;
                    }
                }
            }
        }
        panic!("{last_err}");
    }

    /// Starts the process without waiting for it: its output goes to a log file of its own in
    /// the directory (several servers may run in one directory, one after another).
    fn launch(
        name: &'static str,
        program: &str,
        dir: Option<&Path>,
        make_args: &dyn Fn(u16, &Path) -> Vec<String>,
    ) -> Proc {
        let port = free_port();
        let (dir, owns_dir, log) = match dir {
            Some(d) => {
                let n = DIR_COUNTER.fetch_add(1, Ordering::SeqCst);
                (d.to_path_buf(), false, d.join(format!("server-{n}.log")))
            }
            None => {
                let d = unique_temp_dir(&format!("{name}-test"));
                let log = d.join("server.log");
                (d, true, log)
            }
        };
        let log_file = File::create(&log).expect("create log file");
        let log_file2 = log_file.try_clone().expect("clone log file");
        let args = make_args(port, &dir);
        let child = Command::new(program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_file))
            .stderr(Stdio::from(log_file2))
            .spawn()
            .unwrap_or_else(|e| panic!("failed to spawn {program}: {e}"));
        Proc { name, child, port, dir, log, print_log_on_panic: name != "redis-server", owns_dir }
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited early with {status}"));
            }
            if answers_as(self.port, self.child.id()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("timed out after {STARTUP_TIMEOUT:?}"));
            }
            // No event to await for a child's readiness: poll with a short sleep.
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() && self.print_log_on_panic {
            eprintln!(
                "===== {} (port {}) log tail: {} =====\n{}\n===== end of {} log =====",
                self.name,
                self.port,
                self.log.display(),
                file_tail(&self.log, 8000),
                self.name
            );
        }
        if self.owns_dir {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn make_client(port: u16) -> redis::Connection {
    use redis::IntoConnectionInfo;
    let info = format!("redis://127.0.0.1:{port}/").into_connection_info().expect("connection info");
    // Don't send CLIENT SETINFO on connect: keep the handshake minimal.
    let settings = info.redis_settings().clone().set_skip_set_lib_name();
    let info = info.set_redis_settings(settings);
    let client = redis::Client::open(info).expect("redis client");
    let con = client
        .get_connection_with_timeout(READ_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"));
    con.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    con.set_write_timeout(Some(READ_TIMEOUT)).unwrap();
    con
}

/// Anything we can run tests against: shardis or a real redis-server.
pub trait Target {
    fn port(&self) -> u16;
    fn name(&self) -> &'static str;
    fn client(&self) -> redis::Connection {
        make_client(self.port())
    }
    fn raw(&self) -> RawConn {
        RawConn::connect(self.port())
    }
}

/// The shardis binary under test.
pub struct Server {
    inner: Proc,
    pub threads: usize,
}

impl Server {
    /// Starts shardis with `--port P --threads N --dir D` followed by `extra_args`.
    pub fn start(threads: usize, extra_args: &[&str]) -> Server {
        let inner = Proc::spawn("shardis", env!("CARGO_BIN_EXE_shardis"), &|port, dir| {
            shardis_args(port, threads, dir, extra_args)
        });
        Server { inner, threads }
    }

    /// Starts shardis on the existing data directory `dir` (kept when the server is dropped) and
    /// waits until it answers, like `start`.
    pub fn start_in(dir: &Path, threads: usize, extra_args: &[&str]) -> Server {
        let inner = Proc::spawn_in("shardis", env!("CARGO_BIN_EXE_shardis"), Some(dir), &|port, dir| {
            shardis_args(port, threads, dir, extra_args)
        });
        Server { inner, threads }
    }

    /// Starts shardis on `dir` expecting it to refuse to start: waits until it exits and returns
    /// its exit code and everything it logged. Panics if it answers clients instead.
    pub fn start_in_expecting_exit(dir: &Path, threads: usize, extra_args: &[&str]) -> (Option<i32>, String) {
        let mut p = Proc::launch("shardis", env!("CARGO_BIN_EXE_shardis"), Some(dir), &|port, dir| {
            shardis_args(port, threads, dir, extra_args)
        });
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(Some(status)) = p.child.try_wait() {
                let log =
                    fs::read(&p.log).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
                return (status.code(), log);
            }
            if answers_as(p.port, p.child.id()) {
                panic!(
                    "shardis was expected to refuse to start, but it serves clients; log:\n{}",
                    file_tail(&p.log, 4000)
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "shardis neither exited nor served within {STARTUP_TIMEOUT:?}; log:\n{}",
                    file_tail(&p.log, 4000)
                );
            }
            // No event to await for a child's exit or readiness at once: poll with a short sleep.
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// kill -9: SIGKILL, then wait until the process is gone (its files are left as they are).
    pub fn kill9(&mut self) {
        // Child::kill sends SIGKILL on Unix.
        let _ = self.inner.child.kill();
        let _ = self.inner.child.wait();
    }

    /// kill -9, then starts a new server on the same data directory with `threads` and
    /// `extra_args`; the new server takes over the directory (removed with it if this one made it).
    pub fn restart(mut self, threads: usize, extra_args: &[&str]) -> Server {
        self.kill9();
        let mut next = Server::start_in(&self.inner.dir, threads, extra_args);
        next.inner.owns_dir = std::mem::replace(&mut self.inner.owns_dir, false);
        next
    }

    pub fn pid(&self) -> u32 {
        self.inner.child.id()
    }

    /// Everything this server process logged so far.
    pub fn log(&self) -> String {
        fs::read(&self.inner.log).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    pub fn port(&self) -> u16 {
        self.inner.port
    }

    pub fn client(&self) -> redis::Connection {
        make_client(self.inner.port)
    }

    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.inner.port)
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn log_tail(&self) -> String {
        file_tail(&self.inner.log, 8000)
    }

    /// True if the process is still alive.
    pub fn is_running(&mut self) -> bool {
        self.inner.is_running()
    }
}

/// The command line of a shardis under test.
fn shardis_args(port: u16, threads: usize, dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut a = vec![
        "--port".to_string(),
        port.to_string(),
        "--threads".to_string(),
        threads.to_string(),
        "--dir".to_string(),
        dir.display().to_string(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// A data directory for servers started one after another (`Server::start_in`); removed on
/// drop, except when a test fails: then it is kept and its path printed, to look at the files.
pub struct DataDir {
    path: PathBuf,
}

impl DataDir {
    pub fn new(prefix: &str) -> DataDir {
        DataDir { path: unique_temp_dir(prefix) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed: data directory kept at {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

impl Target for Server {
    fn port(&self) -> u16 {
        self.inner.port
    }
    fn name(&self) -> &'static str {
        "shardis"
    }
}

/// A real redis-server used as the reference implementation.
pub struct RedisServer {
    inner: Proc,
}

/// True if `redis-server` can be executed.
pub fn redis_server_available() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

impl RedisServer {
    /// Starts `redis-server` if installed, otherwise returns None (callers print
    /// "redis-server not installed, skipping" and return).
    pub fn start() -> Option<RedisServer> {
        Self::start_with(&[])
    }

    pub fn start_with(extra_args: &[&str]) -> Option<RedisServer> {
        if !redis_server_available() {
            return None;
        }
        let extra: Vec<String> = extra_args.iter().map(|s| s.to_string()).collect();
        let inner = Proc::spawn("redis-server", "redis-server", &|port, dir| {
            let mut a = vec![
                "--port".to_string(),
                port.to_string(),
                "--bind".to_string(),
                "127.0.0.1".to_string(),
                "--save".to_string(),
                String::new(),
                "--appendonly".to_string(),
                "no".to_string(),
                "--dir".to_string(),
                dir.display().to_string(),
            ];
            a.extend(extra.iter().cloned());
            a
        });
        Some(RedisServer { inner })
    }

    pub fn port(&self) -> u16 {
        self.inner.port
    }

    pub fn client(&self) -> redis::Connection {
        make_client(self.inner.port)
    }

    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.inner.port)
    }
}

impl Target for RedisServer {
    fn port(&self) -> u16 {
        self.inner.port
    }
    fn name(&self) -> &'static str {
        "redis-server"
    }
}

/// Starts redis-server or prints the skip message. Use as
/// `let Some(redis) = start_redis_or_skip() else { return };`
pub fn start_redis_or_skip() -> Option<RedisServer> {
    let r = RedisServer::start();
    if r.is_none() {
        eprintln!("redis-server not installed, skipping");
    }
    r
}

// ---------------------------------------------------------------------------
// RESP encoding / parsing
// ---------------------------------------------------------------------------

/// Encodes a command as a RESP multibulk request.
pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Splits a command written as a whitespace separated string into args.
pub fn args_of(s: &str) -> Vec<Vec<u8>> {
    s.split_whitespace().map(|a| a.as_bytes().to_vec()).collect()
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    if from >= buf.len() {
        return None;
    }
    buf[from..].windows(2).position(|w| w == b"\r\n").map(|p| from + p)
}

fn parse_len(line: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| format!("bad length line {:?}", escape(line)))
}

/// Tries to parse one complete RESP2/RESP3 value starting at `pos`.
/// Returns Ok(Some(end)) with the index just past the value, Ok(None) if more
/// bytes are needed, or Err on malformed input.
pub fn parse_value(buf: &[u8], pos: usize) -> Result<Option<usize>, String> {
    if pos >= buf.len() {
        return Ok(None);
    }
    let t = buf[pos];
    let Some(eol) = find_crlf(buf, pos + 1) else {
        return Ok(None);
    };
    let line = &buf[pos + 1..eol];
    let after = eol + 2;
    match t {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Ok(Some(after)),
        b'$' | b'!' | b'=' => {
            let n = parse_len(line)?;
            if n < 0 {
                return Ok(Some(after));
            }
            let end = after + n as usize + 2;
            if buf.len() < end {
                return Ok(None);
            }
            if &buf[end - 2..end] != b"\r\n" {
                return Err(format!("bulk of length {n} not terminated by CRLF"));
            }
            Ok(Some(end))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = parse_len(line)?;
            if n < 0 {
                return Ok(Some(after));
            }
            let count = if t == b'%' || t == b'|' { n * 2 } else { n };
            let mut p = after;
            for _ in 0..count {
                match parse_value(buf, p)? {
                    Some(e) => p = e,
                    None => return Ok(None),
                }
            }
            if t == b'|' {
                // An attribute is followed by the actual reply.
                return parse_value(buf, p);
            }
            Ok(Some(p))
        }
        other => Err(format!("unknown RESP type byte {:?} at offset {pos}", escape(&[other]))),
    }
}

/// For an aggregate reply (`*`, `~`, `%`, `>`) returns its header line
/// (e.g. `*3\r\n`) and the raw bytes of each element (for maps: each key and
/// value is one element). Returns None for non-aggregates and null arrays.
pub fn split_aggregate(reply: &[u8]) -> Option<(Vec<u8>, Vec<Vec<u8>>)> {
    let t = *reply.first()?;
    if !matches!(t, b'*' | b'~' | b'%' | b'>') {
        return None;
    }
    let eol = find_crlf(reply, 1)?;
    let n = parse_len(&reply[1..eol]).ok()?;
    if n < 0 {
        return None;
    }
    let count = if t == b'%' { n * 2 } else { n };
    let header = reply[..eol + 2].to_vec();
    let mut elems = Vec::new();
    let mut p = eol + 2;
    for _ in 0..count {
        let e = parse_value(reply, p).ok()??;
        elems.push(reply[p..e].to_vec());
        p = e;
    }
    Some((header, elems))
}

/// For a map reply (RESP3 `%` or RESP2 flat array of pairs) returns the pairs.
pub fn map_pairs(reply: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let (_, elems) = split_aggregate(reply)?;
    if elems.len() % 2 != 0 {
        return None;
    }
    Some(elems.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect())
}

/// Parses an integer reply `:N\r\n`.
pub fn as_int(reply: &[u8]) -> Option<i64> {
    if reply.first() != Some(&b':') || !reply.ends_with(b"\r\n") {
        return None;
    }
    std::str::from_utf8(&reply[1..reply.len() - 2]).ok()?.parse().ok()
}

/// Payload of a bulk string reply (`$` / `=` / `!`), or a simple string (`+`).
pub fn as_bulk(reply: &[u8]) -> Option<Vec<u8>> {
    match reply.first()? {
        b'$' | b'!' | b'=' => {
            let eol = find_crlf(reply, 1)?;
            let n = parse_len(&reply[1..eol]).ok()?;
            if n < 0 {
                return None;
            }
            Some(reply[eol + 2..eol + 2 + n as usize].to_vec())
        }
        b'+' => Some(reply[1..reply.len() - 2].to_vec()),
        _ => None,
    }
}

/// Human readable escaping of raw protocol bytes (`\r`, `\n`, `\xNN`).
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 8);
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// Escaped, length-limited rendering for failure messages.
pub fn show(bytes: &[u8]) -> String {
    const MAX: usize = 2000;
    if bytes.len() > MAX {
        format!("\"{}\"... ({} bytes total)", escape(&bytes[..MAX]), bytes.len())
    } else {
        format!("\"{}\"", escape(bytes))
    }
}

/// Renders a command's args for messages: `SET k "a b"`; long args are shortened.
pub fn show_cmd(args: &[Vec<u8>]) -> String {
    const MAX_ARG: usize = 60;
    args.iter()
        .map(|a| {
            let (shown, cut) = if a.len() > MAX_ARG {
                (&a[..MAX_ARG], format!("...({} bytes)", a.len()))
            } else {
                (&a[..], String::new())
            };
            if !shown.is_empty() && shown.iter().all(|&b| b.is_ascii_graphic() && b != b'"' && b != b'\\') {
                format!("{}{cut}", String::from_utf8_lossy(shown))
            } else {
                format!("\"{}\"{cut}", escape(shown))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------
// Raw connection
// ---------------------------------------------------------------------------

/// A raw TCP connection speaking RESP byte for byte.
pub struct RawConn {
    pub stream: TcpStream,
    buf: Vec<u8>,
    port: u16,
}

impl RawConn {
    pub fn connect(port: u16) -> RawConn {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"));
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(READ_TIMEOUT)).unwrap();
        RawConn { stream, buf: Vec::new(), port }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Writes raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap_or_else(|e| panic!("write to port {}: {e}", self.port));
        self.stream.flush().unwrap();
    }

    /// Like `send` but returns the io error instead of panicking (useful after the
    /// server may have closed the connection).
    pub fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Writes `bytes` in chunks of `chunk` bytes with a flush after each chunk.
    pub fn send_in_chunks(&mut self, bytes: &[u8], chunk: usize) {
        for c in bytes.chunks(chunk.max(1)) {
            self.send(c);
        }
    }

    fn fill(&mut self) -> std::io::Result<usize> {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads exactly one complete RESP2/RESP3 reply and returns its raw bytes.
    /// A RESP3 attribute (`|`) is returned together with the reply it precedes.
    /// Panics on close, timeout or malformed data.
    pub fn read_reply(&mut self) -> Vec<u8> {
        self.try_read_reply().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like `read_reply` but returns an error description instead of panicking.
    pub fn try_read_reply(&mut self) -> Result<Vec<u8>, String> {
        loop {
            match parse_value(&self.buf, 0) {
                Ok(Some(end)) => {
                    let rest = self.buf.split_off(end);
                    return Ok(std::mem::replace(&mut self.buf, rest));
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(format!(
                        "malformed reply from port {}: {e}; buffered: {}",
                        self.port,
                        show(&self.buf)
                    ));
                }
            }
            match self.fill() {
                Ok(0) => {
                    return Err(format!(
                        "connection to port {} closed while waiting for a reply; buffered: {}",
                        self.port,
                        show(&self.buf)
                    ));
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(format!(
                        "error/timeout reading reply from port {}: {e}; buffered: {}",
                        self.port,
                        show(&self.buf)
                    ));
                }
            }
        }
    }

    /// Sends a multibulk command and returns the raw reply.
    pub fn cmd(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(&encode_command(args));
        self.read_reply()
    }

    /// `cmd` for owned args.
    pub fn cmd_v(&mut self, args: &[Vec<u8>]) -> Vec<u8> {
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        self.cmd(&refs)
    }

    /// `cmd` with whitespace separated args: `c.cmd_s("SET k v")`.
    pub fn cmd_s(&mut self, s: &str) -> Vec<u8> {
        self.cmd_v(&args_of(s))
    }

    /// Asserts the server closes the connection (read returns 0 or a reset)
    /// within a few seconds, and that no further bytes arrive before that.
    pub fn expect_closed(&mut self) {
        assert!(
            self.buf.is_empty(),
            "expected the connection to be closed, but unread reply bytes are buffered: {}",
            show(&self.buf)
        );
        self.stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) => {}
            Ok(n) => panic!("expected the connection to be closed, got more data: {}", show(&chunk[..n])),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("expected the connection to be closed, but it is still open after 5s")
            }
            Err(_) => {} // connection reset etc.: closed
        }
        self.stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    }

    /// Asserts that no bytes arrive within `dur` and the connection stays open.
    pub fn expect_silence(&mut self, dur: Duration) {
        assert!(self.buf.is_empty(), "expected no reply, but bytes are buffered: {}", show(&self.buf));
        self.stream.set_read_timeout(Some(dur)).unwrap();
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) => panic!("expected the connection to stay open, but it was closed"),
            Ok(n) => panic!("expected no reply, got {}", show(&chunk[..n])),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("expected the connection to stay open, got error {e}"),
        }
        self.stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    }

    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// Asserts two raw replies are equal, printing escaped bytes on failure.
#[track_caller]
pub fn assert_reply(actual: &[u8], expected: &[u8], context: &str) {
    if actual != expected {
        panic!("reply mismatch ({context})\n  expected: {}\n  actual:   {}", show(expected), show(actual));
    }
}

/// Defines, for each check `fn(&dyn Target)`, a module of tests that run it against shardis
/// with 1, 2 and 4 threads and, as `redis`, against a real redis-server when installed.
#[macro_export]
macro_rules! for_threads {
    ($($check:ident),* $(,)?) => {
        $(
            mod $check {
                use super::*;

                #[test]
                fn threads1() {
                    let s = Server::start(1, &[]);
                    super::$check(&s);
                }

                #[test]
                fn threads2() {
                    let s = Server::start(2, &[]);
                    super::$check(&s);
                }

                #[test]
                fn threads4() {
                    let s = Server::start(4, &[]);
                    super::$check(&s);
                }

                #[test]
                fn redis() {
                    let Some(r) = start_redis_or_skip() else { return };
                    super::$check(&r);
                }
            }
        )*
    };
}
