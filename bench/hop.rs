//! Micro-benchmark: the cross-shard hop. Two pinned glommio executors connected by the same
//! mesh the server uses; core 0 sends `ROUNDS` requests to core 1 one at a time (latency of a
//! hop) and then in windows of 64 (throughput). Run: `cargo bench --bench hop`.

use futures_lite::future::poll_once;
use glommio::{LocalExecutorBuilder, Placement};
use shardis::dispatch::mesh::{self, ReqBody, Request, RespBody, Response};
use std::time::Instant;

const ROUNDS: u32 = 200_000;

/// How long an idle executor spins before parking (HOP_SPIN_US, default 0).
fn spin() -> std::time::Duration {
    let us = std::env::var("HOP_SPIN_US").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    std::time::Duration::from_micros(us)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("hop: bench");
        return;
    }
    let mut ends = mesh::build(2).into_iter();
    let (e0, e1) = (ends.next().unwrap(), ends.next().unwrap());
    let _server = LocalExecutorBuilder::new(Placement::Fixed(1))
        .io_memory(512 << 10)
        .spin_before_park(spin())
        .spawn(move || async move {
            let (mesh, rx) = mesh::connect(1, e1).await;
            let mesh = std::rc::Rc::new(mesh);
            let (_, requests) = rx.requests.into_iter().next().unwrap();
            while let Some(Request { id, .. }) = requests.recv().await {
                mesh.reply(0, Response { id, body: RespBody::Scheduled(true) });
            }
        })
        .unwrap();
    let client = LocalExecutorBuilder::new(Placement::Fixed(0))
        .io_memory(512 << 10)
        .spin_before_park(spin())
        .spawn(move || async move {
            let (mesh, rx) = mesh::connect(0, e0).await;
            let mesh = std::rc::Rc::new(mesh);
            let (_, replies) = rx.replies.into_iter().next().unwrap();
            let m = mesh.clone();
            glommio::spawn_local(async move {
                while let Some(r) = replies.recv().await {
                    m.complete(1, r);
                }
            })
            .detach();
            let start = Instant::now();
            for _ in 0..ROUNDS {
                mesh.call(1, 0, ReqBody::Conclude).await;
            }
            let one = start.elapsed();
            let start = Instant::now();
            let mut waits = Vec::with_capacity(64);
            for _ in 0..ROUNDS / 64 {
                for _ in 0..64 {
                    waits.push(mesh.start(1, 0, ReqBody::Conclude).await);
                }
                for w in waits.drain(..) {
                    w.await;
                }
            }
            let windowed = start.elapsed();
            let _ = poll_once(async {}).await;
            println!("hop round trip, one at a time: {:.0} ns/op", one.as_nanos() as f64 / ROUNDS as f64);
            println!(
                "hop round trip, 64 in flight: {:.0} ns/op",
                windowed.as_nanos() as f64 / (ROUNDS / 64 * 64) as f64
            );
            std::process::exit(0);
        })
        .unwrap();
    // The server side loops forever; the client exits the process when it is done.
    client.join().unwrap();
}
