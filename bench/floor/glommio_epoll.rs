//! Floor server (c): the scheme the real server is built on.
//!
//! A glommio LocalExecutor pinned to one core runs ONE task that owns a per-core,
//! level-triggered epoll set (listener + all connections). Loop:
//!   * `epoll_wait(epfd, .., 0)` and handle every ready fd with nonblocking recv/send;
//!   * let the glommio reactor run (`--yield MODE`, see below);
//!   * when epoll has been empty for `--spin-us` µs, park on the epoll fd itself through
//!     glommio's public API: `TcpStream::from_raw_fd(dup(epfd))` arms an io_uring
//!     POLL_ADD(POLLIN) on the epoll fd, and the stream's first `poll_read` only registers
//!     the waker on that poll (it does not call recv). The first event after idle wakes
//!     the task through io_uring; an idle server sleeps in io_uring_enter.
//!
//! Yield modes (how the loop lets glommio poll its rings between rounds):
//!   zero      `glommio::timer::sleep(Duration::ZERO)` -- NOTE: in glommio 0.9 this
//!             completes on its first poll (deadline already passed) and never yields.
//!   none      never yield except when parking.
//!   yield_now futures_lite::future::yield_now() -- re-queued in the same task queue;
//!             glommio only polls io_uring when the queue runs dry or the preempt timer fires.
//!   preempt   glommio::yield_if_needed(): yields only when glommio's preempt timer fired
//!             (default 100ms; shorten with --preempt-us or --latency-us, which puts the task
//!             in a Latency::Matters queue). WARNING: with a short preempt timer this HANGS
//!             under load in a few seconds (glommio 0.9 bug: when need_preempt() is already
//!             true on entry, run_task_queues() reports "nothing ran" and the executor parks
//!             in io_uring_enter with the task still runnable). See bench/README.md.
//!   sleep1us  glommio::timer::sleep(1µs): really leaves the task queue every round, so the
//!             executor runs its full loop (poll_io: ~2 io_uring_enter + timer re-arming).
//!   periodic  sleep1us, but only when --yield-every-us µs have passed since the reactor last
//!             ran (a park counts): bounds reactor latency, amortizes its cost. DEFAULT.
//!
//! `--port P --core N [--spin-us US (20)] [--yield MODE (periodic)] [--yield-every-us US (50)]
//!  [--glommio-spin-us US] [--preempt-us US] [--latency-us US] [--probe] [--stats]`
//! `--probe` runs a 1ms glommio timer task and `--stats` prints, every second, loop counters
//! and the worst gap between probe ticks (= how long the glommio reactor was starved).
//! FLOOR_WATCHDOG=1 starts a thread that reports when the loop stops while fds are ready.
#[path = "common.rs"]
mod common;

use futures_lite::AsyncRead;
use glommio::{Latency, LocalExecutorBuilder, Placement, Shares, net::TcpStream};
use std::cell::Cell;
use std::os::unix::io::FromRawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

static PARKS_IN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static PARKS_OUT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static LOOPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// FLOOR_WATCHDOG=1: a plain thread that reports when the loop makes no progress while the
/// epoll set has ready events (debug aid for lost wake-ups).
fn start_watchdog(epfd: libc::c_int) {
    use std::sync::atomic::Ordering::Relaxed;
    std::thread::spawn(move || {
        let mut last = 0;
        loop {
            std::thread::sleep(Duration::from_secs(1));
            let l = LOOPS.load(Relaxed);
            let mut ev = [libc::epoll_event { events: 0, u64: 0 }; 8];
            let ready = unsafe { libc::epoll_wait(epfd, ev.as_mut_ptr(), 8, 0) };
            if l == last && ready > 0 {
                eprintln!(
                    "WATCHDOG: no progress for 1s with {ready} ready fds; parks in {} out {}",
                    PARKS_IN.load(Relaxed),
                    PARKS_OUT.load(Relaxed)
                );
            }
            last = l;
        }
    });
}

/// Wait until `epfd` is readable (has ready events), sleeping in glommio's reactor.
async fn park_on_epoll(epfd: libc::c_int) {
    let dup = unsafe { libc::dup(epfd) };
    assert!(dup >= 0, "dup: {}", std::io::Error::last_os_error());
    // Arms a POLL_ADD(POLLIN) on the dup'd epoll fd (NonBufferedStream::init).
    let mut s = unsafe { TcpStream::from_raw_fd(dup) };
    let mut first = true;
    let mut b = [0u8; 1];
    std::future::poll_fn(|cx| {
        if first {
            first = false;
            // The armed poll has no result yet, so this registers the waker and returns
            // Pending without calling recv on the epoll fd.
            match Pin::new(&mut s).poll_read(cx, &mut b) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(_) => Poll::Ready(()),
            }
        } else {
            Poll::Ready(())
        }
    })
    .await;
    drop(s); // cancels the poll if still armed, closes the dup
}

fn main() {
    let args = common::parse_args();
    let mut b = LocalExecutorBuilder::new(Placement::Fixed(args.core)).io_memory(1 << 20).name("floor");
    if let Some(us) = args.glommio_spin_us {
        b = b.spin_before_park(Duration::from_micros(us));
    }
    if let Some(us) = args.preempt_us {
        b = b.preempt_timer(Duration::from_micros(us));
    }
    let ex = b.make().expect("executor");
    ex.run(async move {
        let max_gap = Rc::new(Cell::new(Duration::ZERO));
        let ticks = Rc::new(Cell::new(0u64));
        if args.probe {
            let (max_gap, ticks) = (max_gap.clone(), ticks.clone());
            glommio::spawn_local(async move {
                loop {
                    let t = Instant::now();
                    glommio::timer::sleep(Duration::from_millis(1)).await;
                    let g = t.elapsed();
                    if g > max_gap.get() {
                        max_gap.set(g);
                    }
                    ticks.set(ticks.get() + 1);
                }
            })
            .detach();
        }
        let tq = if args.latency_us > 0 {
            glommio::executor().create_task_queue(
                Shares::default(),
                Latency::Matters(Duration::from_micros(args.latency_us)),
                "epoll",
            )
        } else {
            glommio::executor().current_task_queue()
        };
        let task = glommio::spawn_local_into(
            async move {
                let mut srv = common::EpollServer::new(args.port).expect("listen");
                eprintln!(
                    "floor_glommio_epoll listening on 127.0.0.1:{} core {} spin_us {} yield {} latency_us {} glommio_spin_us {:?}",
                    args.port, args.core, args.spin_us, args.yield_mode, args.latency_us, args.glommio_spin_us
                );
                if std::env::var_os("FLOOR_WATCHDOG").is_some() {
                    start_watchdog(srv.epfd);
                }
                let spin = Duration::from_micros(args.spin_us);
                let mode = args.yield_mode.clone();
                let (mut iters, mut busy, mut events, mut parks) = (0u64, 0u64, 0u64, 0u64);
                let mut last = Instant::now();
                let mut last_cpu = common::cpu_ticks();
                let mut idle_start: Option<Instant> = None;
                let every = Duration::from_micros(args.yield_every_us);
                let mut last_yield = Instant::now();
                loop {
                    let n = srv.poll(0);
                    iters += 1;
                    LOOPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let mut parked = false;
                    if n > 0 {
                        busy += 1;
                        events += n as u64;
                        idle_start = None;
                    } else {
                        let now = Instant::now();
                        let start = *idle_start.get_or_insert(now);
                        if now.duration_since(start) >= spin {
                            PARKS_IN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            park_on_epoll(srv.epfd).await;
                            PARKS_OUT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            parks += 1;
                            idle_start = None;
                            parked = true;
                            last_yield = Instant::now();
                        }
                    }
                    if !parked {
                        match mode.as_str() {
                            "zero" => glommio::timer::sleep(Duration::ZERO).await,
                            "none" => {}
                            "yield_now" => futures_lite::future::yield_now().await,
                            "preempt" => glommio::yield_if_needed().await,
                            "sleep1us" => glommio::timer::sleep(Duration::from_micros(1)).await,
                            "periodic" => {
                                if last_yield.elapsed() >= every {
                                    glommio::timer::sleep(Duration::from_micros(1)).await;
                                    last_yield = Instant::now();
                                }
                            }
                            m => panic!("unknown --yield {m}"),
                        }
                    }
                    if args.stats && (parked || iters & 1023 == 0) && last.elapsed() >= Duration::from_secs(1) {
                        let cpu = common::cpu_ticks();
                        eprintln!(
                            "iters {iters} busy {busy} events {events} parks {parks} cpu_ticks {} probe_ticks {} probe_max_gap {:?}",
                            cpu - last_cpu,
                            ticks.get(),
                            max_gap.get()
                        );
                        (iters, busy, events, parks) = (0, 0, 0, 0);
                        ticks.set(0);
                        max_gap.set(Duration::ZERO);
                        last = Instant::now();
                        last_cpu = cpu;
                    }
                }
            },
            tq,
        )
        .expect("spawn");
        task.await;
    });
}
