//! Starts one pinned glommio executor per core, wires the mesh between them, and on each
//! core: the listener(s), the socket loop, the mesh receivers and the periodic cron.

use crate::config::Config;
use crate::dispatch::{mesh, serve_replies, serve_requests};
use crate::server::core::{CONNECTED_CLIENTS, Core};
use crate::server::{conn, reactor};
use glommio::{LocalExecutorBuilder, Placement};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// io_uring buffer memory per executor; small so that all cores fit in an 8 MiB memlock limit.
const IO_MEMORY_BYTES: usize = 512 * 1024;
/// glommio busy-polls its rings this long before sleeping in the kernel. The socket loop
/// yields with a 1us timer between busy rounds; without this spin each such yield would be a
/// kernel sleep and wake-up (measured: pipelined SET/GET about 10-30% slower, see README).
const PARK_SPIN: Duration = Duration::from_micros(20);

pub fn run(config: Config) -> Result<(), String> {
    let threads = config.threads.max(1);
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let started_unix = crate::shard::now_ms() / 1000;
    crate::types::cycles::calibrate();
    let mut handles = Vec::new();
    for (i, ends) in mesh::build(threads).into_iter().enumerate() {
        let cfg = config.clone();
        let handle = LocalExecutorBuilder::new(Placement::Fixed(i % cpus))
            .name(&format!("shardis-{i}"))
            .io_memory(IO_MEMORY_BYTES)
            .spin_before_park(PARK_SPIN)
            .spawn(move || async move { core_main(i, threads, cfg, ends, started_unix).await })
            .map_err(|e| format!("can't start executor {i}: {e}"))?;
        handles.push(handle);
    }
    for h in handles {
        h.join().map_err(|e| format!("executor failed: {e}"))?;
    }
    Ok(())
}

async fn core_main(id: usize, threads: usize, cfg: Config, ends: mesh::MeshEnds, started_unix: u64) {
    let (mesh, receivers) = mesh::connect(id, ends).await;
    let reactor = reactor::Reactor::new(Duration::from_micros(cfg.spin_us)).expect("epoll_create1");
    let core = Rc::new(Core::new(id, threads, cfg.clone(), Rc::new(mesh), reactor.clone(), started_unix));
    if let Err(e) = crate::persistence::load_at_startup(&core).await {
        crate::log(&e);
        std::process::exit(1);
    }
    for (peer, rx) in receivers.requests {
        glommio::spawn_local(serve_requests(core.clone(), peer, rx)).detach();
    }
    for (peer, rx) in receivers.replies {
        glommio::spawn_local(serve_replies(core.clone(), peer, rx)).detach();
    }
    for addr in cfg.bind.split_whitespace() {
        match reactor::listen(addr, cfg.port) {
            Ok(fd) => {
                glommio::spawn_local(accept_loop(core.clone(), fd)).detach();
            }
            Err(e) => {
                crate::log(&format!("Could not create server TCP listening socket {addr}:{}: {e}", cfg.port));
                std::process::exit(1);
            }
        }
    }
    if id == 0 {
        crate::log(&format!("Ready to accept connections tcp (port {}, {threads} threads)", cfg.port));
    }
    glommio::spawn_local(cron(core.clone())).detach();
    reactor.run().await;
}

async fn accept_loop(core: Rc<Core>, listen_fd: i32) {
    let reg = match core.reactor.register(listen_fd) {
        Ok(r) => r,
        Err(e) => {
            crate::log(&format!("can't watch the listening socket: {e}"));
            return;
        }
    };
    loop {
        reg.readable().await;
        loop {
            match reactor::accept(listen_fd) {
                Ok(Some((fd, addr))) => {
                    let max = core.config.borrow().maxclients as usize;
                    if CONNECTED_CLIENTS.fetch_add(1, Ordering::Relaxed) >= max {
                        reactor::send(fd, b"-ERR max number of clients reached\r\n").ok();
                        unsafe { libc::close(fd) };
                        CONNECTED_CLIENTS.fetch_sub(1, Ordering::Relaxed);
                        core.stats.borrow_mut().rejected_connections += 1;
                        continue;
                    }
                    glommio::spawn_local(conn::serve(core.clone(), fd, addr)).detach();
                }
                Ok(None) => break,
                Err(e) => {
                    crate::log(&format!("accept: {e}"));
                    break;
                }
            }
        }
    }
}

/// Periodic work, `hz` times a second: active expiry within a small time budget, so dead keys
/// do not fill memory and the shard's latency stays low.
async fn cron(core: Rc<Core>) {
    loop {
        let hz = core.config.borrow().hz.clamp(1, 500);
        glommio::timer::sleep(Duration::from_millis(1000 / hz)).await;
        core.resync_clock();
        core.tick();
        if !core.txq.is_idle() {
            continue;
        }
        let effort = core.config.borrow().active_expire_effort;
        let mut shard = core.shard.borrow_mut();
        shard.active_expire(crate::shard::now_ms(), Duration::from_micros(1000 * effort));
        crate::persistence::propagate::log_expired(&mut shard);
        shard.collect_expired();
        for db in &mut shard.dbs {
            db.dict.rehash_steps(100);
            db.volatile.rehash_steps(100);
        }
    }
}
