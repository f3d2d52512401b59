//! One connection's life: wait for input, read it into the query buffer, run every complete
//! command in it (local ones at once, remote ones gathered per shard), write the replies.

use crate::commands::{self, Args, Exec, OwnedArgs, table};
use crate::dispatch::{coord, exec_local, pipeline::Pipeline};
use crate::error::CmdError;
use crate::resp::{Out, Parsed, Parser};
use crate::server::client::{Client, ClientInfo};
use crate::server::core::{CONNECTED_CLIENTS, Core};
use crate::server::monitor;
use crate::server::reactor::{self, Registration};
use crate::shard::prefetch;
use crate::tx::multi;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

const READ_CHUNK_BYTES: usize = 16 * 1024;
/// Replies beyond this are sent before parsing more of a long pipeline, bounding memory.
const OUT_FLUSH_BYTES: usize = 256 * 1024;

/// What the synchronous first pass decided for one command.
enum Step {
    Done,
    /// Needs to wait (a transaction, earlier remote commands, other shards): run by the coordinator.
    Defer(usize, OwnedArgs),
}

pub async fn serve(core: Rc<Core>, fd: RawFd, addr: String) {
    let reg = match core.reactor.register(fd) {
        Ok(r) => Rc::new(r),
        Err(_) => {
            unsafe { libc::close(fd) };
            CONNECTED_CLIENTS.fetch_sub(1, Ordering::Relaxed);
            return;
        }
    };
    let now = Instant::now();
    let info = Rc::new(ClientInfo {
        id: core.new_client_id(),
        laddr: reactor::local_addr_string(fd),
        addr,
        fd,
        created: now,
        last_active: Cell::new(now),
        name: RefCell::new(String::new()),
        lib_name: RefCell::new(String::new()),
        lib_ver: RefCell::new(String::new()),
        db: Cell::new(0),
        last_cmd: Cell::new("NULL"),
        resp: Cell::new(2),
        killed: Cell::new(false),
        waker: RefCell::new(None),
        monitoring: Cell::new(false),
        monitor_out: RefCell::new(Vec::new()),
        qbuf: Cell::new(0),
        obuf: Cell::new(0),
    });
    core.clients.borrow_mut().insert(info.id, info.clone());
    core.stats.borrow_mut().connections_received += 1;
    let authenticated = core.config.borrow().requirepass.is_empty();
    let mut client = Client {
        info: info.clone(),
        db: 0,
        resp3: false,
        authenticated,
        close_after_reply: false,
        reply_off: false,
        skip_next_reply: false,
        core: core.clone(),
        multi: None,
        watched: Vec::new(),
        watching: Vec::new(),
        socket: Some(reg.clone()),
    };
    let _ = run(&core, &mut client, &reg).await;
    monitor::stop(&core, &info);
    crate::tx::multi::unwatch_all(&core, &mut client).await;
    drop(client);
    core.clients.borrow_mut().remove(&info.id);
    drop(reg);
    unsafe { libc::close(fd) };
    CONNECTED_CLIENTS.fetch_sub(1, Ordering::Relaxed);
}

/// Waits until the socket is readable or the client was killed.
struct WaitInput<'a> {
    info: &'a ClientInfo,
    ready: crate::server::reactor::ReadyFuture<'a>,
}

impl Future for WaitInput<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.info.killed.get() || !self.info.monitor_out.borrow().is_empty() {
            return Poll::Ready(());
        }
        *self.info.waker.borrow_mut() = Some(cx.waker().clone());
        Pin::new(&mut self.ready).poll(cx)
    }
}

async fn run(core: &Rc<Core>, client: &mut Client, reg: &Registration) -> io::Result<()> {
    let fd = reg.fd;
    let mut buf: Vec<u8> = vec![0; READ_CHUNK_BYTES];
    let (mut pos, mut filled) = (0usize, 0usize);
    let mut parser = Parser::new(core.config.borrow().proto_max_bulk_len as i64);
    parser.authenticated = client.authenticated;
    let mut out = Out::new(false);
    let mut pipe = Pipeline::new(core.shards);
    let mut scout = Parser::new(i64::MAX);
    loop {
        WaitInput { info: &client.info, ready: reg.readable() }.await;
        if client.info.killed.get() {
            return Ok(());
        }
        if client.info.monitoring.get() {
            out.buf.append(&mut client.info.monitor_out.borrow_mut());
            write_all(core, reg, &mut out).await?;
        }
        // Read what is there; a full buffer means more may be waiting.
        loop {
            if buf.len() - filled < READ_CHUNK_BYTES / 4 {
                buf.resize(buf.len() * 2, 0);
            }
            match reactor::recv(fd, &mut buf[filled..]) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    filled += n;
                    core.stats.borrow_mut().net_input_bytes += n as u64;
                    if filled < buf.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        if filled == pos {
            continue;
        }
        let now = Instant::now();
        client.info.last_active.set(now);
        core.now_ms.set(core.unix_ms_at(now));
        let limit = core.config.borrow().client_query_buffer_limit as usize;
        prefetch_keys(core, client, &buf[pos..filled], &mut scout);
        // Run every complete command in the buffer.
        loop {
            parser.authenticated = client.authenticated;
            match parser.parse(&buf[pos..filled]) {
                Parsed::Command { consumed, inline } => {
                    // CLIENT REPLY OFF/SKIP: run the command with nothing pending, then drop its reply.
                    let quiet = client.reply_off || client.skip_next_reply;
                    if quiet {
                        pipe.flush(core, client, &mut out).await;
                    }
                    let mark = out.len();
                    let skip = quiet && std::mem::take(&mut client.skip_next_reply);
                    let step = {
                        let args = if inline {
                            Args { buf: &parser.inline, ranges: &parser.args }
                        } else {
                            Args { buf: &buf[pos..filled], ranges: &parser.args }
                        };
                        prepare(core, client, args, &mut pipe, &mut out)
                    };
                    pos += consumed;
                    if let Step::Defer(cmd, args) = step {
                        pipe.flush(core, client, &mut out).await;
                        coord::run(core, client, cmd, &args, &mut out).await;
                        parser.max_bulk_bytes = core.config.borrow().proto_max_bulk_len as i64;
                    }
                    if quiet {
                        pipe.flush(core, client, &mut out).await;
                        if skip || client.reply_off {
                            out.buf.truncate(mark);
                        }
                    }
                    if client.close_after_reply {
                        break;
                    }
                    if out.len() > OUT_FLUSH_BYTES && !pipe.has_remote() {
                        write_all(core, reg, &mut out).await?;
                    }
                }
                Parsed::Skip { consumed } => pos += consumed,
                Parsed::Incomplete { want } => {
                    if filled - pos > limit {
                        // Redis closes such a client without a reply.
                        return Ok(());
                    }
                    // Make room by moving the partial command to the front; the read loop
                    // grows the buffer as data actually arrives, so a huge declared length
                    // costs nothing until it is sent.
                    if pos > 0 && pos + want > buf.len() {
                        buf.copy_within(pos..filled, 0);
                        filled -= pos;
                        pos = 0;
                    }
                    break;
                }
                Parsed::Error(e) => {
                    pipe.flush(core, client, &mut out).await;
                    let text = format!("ERR Protocol error: {}", e.message());
                    core.count_error(&text);
                    out.error(&text);
                    client.close_after_reply = true;
                    break;
                }
            }
        }
        pipe.flush(core, client, &mut out).await;
        if pos == filled {
            pos = 0;
            filled = 0;
            if buf.len() > 4 * READ_CHUNK_BYTES {
                buf = vec![0; READ_CHUNK_BYTES];
            }
        }
        client.info.qbuf.set(filled - pos);
        write_all(core, reg, &mut out).await?;
        if client.close_after_reply {
            return Ok(());
        }
    }
}

/// Before a pipelined batch runs, finds the first key of each upcoming local command (and the
/// member of one-member commands on a large hash or sorted set) and prefetches their lookups
/// (`shard::prefetch`). Only a hint; nothing is changed.
fn prefetch_keys(core: &Core, client: &Client, input: &[u8], scout: &mut Parser) {
    if input.first() != Some(&b'*') {
        return;
    }
    let mut keys: [&[u8]; prefetch::AHEAD] = [&[]; prefetch::AHEAD];
    let mut members: [&[u8]; prefetch::AHEAD] = [&[]; prefetch::AHEAD];
    let (mut n, mut seen, mut at) = (0, 0, 0);
    while seen < prefetch::AHEAD {
        seen += 1;
        match scout.parse(&input[at..]) {
            Parsed::Command { consumed, inline: false } => {
                let arg =
                    |i: usize| scout.args.get(i).map(|&(s, e)| &input[at + s as usize..at + e as usize]);
                if let (Some(name), Some(key)) = (arg(0), arg(1))
                    && crate::dispatch::slot::key_shard(key, core.shards) == core.id
                {
                    keys[n] = key;
                    members[n] =
                        prefetch::member_arg(name, scout.args.len()).and_then(arg).unwrap_or_default();
                    n += 1;
                }
                at += consumed;
            }
            _ => break,
        }
    }
    scout.reset();
    if n < 2 {
        return;
    }
    let shard = core.shard.borrow();
    prefetch::lookups(&shard.dbs[client.db].dict, &keys[..n], &members[..n]);
}

/// The synchronous first pass over one command: checks it, and runs it at once when it is
/// local and nothing is in the way, or queues it for its shard.
fn prepare(core: &Rc<Core>, client: &mut Client, args: Args, pipe: &mut Pipeline, out: &mut Out) -> Step {
    let cmd_index = match commands::lookup(args) {
        Ok(i) => i,
        Err(e) => {
            reject(core, client, pipe, out, e, None);
            return Step::Done;
        }
    };
    let cmd = &table()[cmd_index];
    if !cmd.arity_ok(args.len()) {
        reject(core, client, pipe, out, CmdError::WrongArity(cmd.name.into()), Some(cmd_index));
        return Step::Done;
    }
    if !client.authenticated && cmd.flags & commands::NOAUTH == 0 {
        reject(core, client, pipe, out, CmdError::NoAuth, Some(cmd_index));
        return Step::Done;
    }
    client.info.last_cmd.set(cmd.name);
    if client.info.monitoring.get() && monitor::refused_to_monitor(cmd_index) {
        reject(core, client, pipe, out, CmdError::msg(monitor::KEYSPACE_REFUSED), Some(cmd_index));
        return Step::Done;
    }
    if client.multi.is_some() && !multi::runs_immediately(cmd.name) {
        if multi::refused_in_multi(cmd.name) {
            let e = CmdError::msg("ERR Command not allowed inside a transaction");
            reject(core, client, pipe, out, e, Some(cmd_index));
        } else if let Some(queued) = client.multi.as_mut() {
            queued.cmds.push((cmd_index, OwnedArgs::from_slices(args.iter())));
            pipe.local_reply(out, |o| o.simple("QUEUED"));
        }
        return Step::Done;
    }
    monitor::before_run(core, &client.info, client.db, cmd_index, args);
    let defer = || Step::Defer(cmd_index, OwnedArgs::from_slices(args.iter()));
    if core.paused_for(cmd) || cmd.flags & commands::BLOCKING != 0 {
        return defer();
    }
    match cmd.exec {
        Exec::Conn(f) => {
            if pipe.has_remote() {
                return defer();
            }
            let start = Instant::now();
            let result = f(client, args, out);
            monitor::after_run(core, &client.info, client.db, cmd_index, args);
            let mut stats = core.stats.borrow_mut();
            stats.cmd[cmd_index].calls += 1;
            stats.cmd[cmd_index].usec += start.elapsed().as_micros() as u64;
            if let Err(e) = result {
                stats.cmd[cmd_index].failed += 1;
                drop(stats);
                let text = e.to_string();
                core.count_error(&text);
                out.error(&text);
            }
            Step::Done
        }
        Exec::Shard(_) | Exec::Multi(..) | Exec::Cross(..) => {
            match coord::single_shard(core, cmd_index, args) {
                Some(shard) if shard == core.id => {
                    if !crate::dispatch::admitted(core, cmd_index, client.db, args) {
                        return defer();
                    }
                    let db = client.db;
                    pipe.local_reply(out, |o| exec_local(core, cmd_index, db, args, o));
                    Step::Done
                }
                Some(shard) => {
                    pipe.push_remote(shard, client.db, client.resp3, cmd_index, args);
                    Step::Done
                }
                None if coord::split_into_pipeline(core, client, cmd_index, args, pipe) => Step::Done,
                None => defer(),
            }
        }
        Exec::AllShards(..) if core.shards == 1 && core.txq.is_idle() => {
            let db = client.db;
            pipe.local_reply(out, |o| exec_local(core, cmd_index, db, args, o));
            Step::Done
        }
        Exec::AllShards(..) | Exec::Special(_) => defer(),
    }
}

/// Answers a command refused before it ran; inside MULTI the refusal also dooms the EXEC.
fn reject(
    core: &Core,
    client: &mut Client,
    pipe: &mut Pipeline,
    out: &mut Out,
    e: CmdError,
    cmd: Option<usize>,
) {
    if let Some(queued) = client.multi.as_mut() {
        queued.failed = true;
    }
    let text = e.to_string();
    core.count_error(&text);
    if let Some(i) = cmd {
        core.stats.borrow_mut().cmd[i].rejected += 1;
    }
    pipe.local_reply(out, |o| o.error(&text));
}

async fn write_all(core: &Core, reg: &Registration, out: &mut Out) -> io::Result<()> {
    if out.buf.is_empty() {
        return Ok(());
    }
    if let Some(aof) = core.aof.get() {
        aof.before_reply(core).await;
    }
    let mut off = 0;
    while off < out.buf.len() {
        match reactor::send(reg.fd, &out.buf[off..]) {
            Ok(n) => off += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => reg.writable().await,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    core.stats.borrow_mut().net_output_bytes += off as u64;
    out.buf.clear();
    if out.buf.capacity() > 1 << 20 {
        out.buf = Vec::with_capacity(16 * 1024);
    }
    Ok(())
}
