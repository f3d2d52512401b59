//! MULTI/EXEC/DISCARD/WATCH/UNWATCH: Redis's edge cases compared byte for byte with
//! redis-server, and invariants of concurrent transactions over keys on every shard (bank
//! transfers, WATCH retry counters, cross-shard RENAME/COPY under writers).
//!
//! Concurrency checks run against shardis with 1, 2 and 4 threads and, as `*::redis`, against
//! a real redis-server when installed.

mod common;

use common::diff::*;
use common::*;
use redis::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

// ---------------------------------------------------------------------------
// Differential scripts
// ---------------------------------------------------------------------------

fn multi_script() -> Script {
    let mut s = Script::new();
    s.lines(
        "MULTI
         WATCH a
         MULTI
         SET a 1
         NOSUCHCOMMAND x
         SET a
         EXEC
         EXEC
         DISCARD
         MULTI
         SET a 1
         INCR a
         HSETNX_MISSING a
         EXEC
         MULTI
         SET a 1
         INCR a
         APPEND a x
         INCR a
         GET a
         EXEC
         MULTI
         PING
         ECHO hi
         DISCARD
         GET a
         UNWATCH
         MULTI
         EXEC
         MULTI
         SET {x}1 a
         SET {y}2 b
         MSET k1 1 k2 2 k3 3 k4 4 k5 5
         MGET k1 k2 k3 k4 k5 {x}1 {y}2 nokey
         DEL k1 k2 nokey
         EXISTS k1 k2 k3 k4
         RENAME k3 k9
         RENAMENX k4 k9
         COPY k5 k6
         MSETNX k7 7 k8 8
         GET k9
         EXEC
         MULTI
         GET nokey
         INCRBY k9 abc
         INCRBY k9 10
         EXEC
         MULTI
         SELECT 1
         SET a in-db1
         SELECT 0
         GET a
         EXEC
         SELECT 1
         GET a
         SELECT 0
         MULTI
         FLUSHDB
         SET z 1
         DBSIZE
         EXEC
         MULTI
         SET big 1
         MULTI
         EXEC
         MULTI
         MULTI
         GET big
         EXEC",
    );
    // A WATCHed key changed by this very connection fails the EXEC too.
    s.lines(
        "WATCH w1 w2
         SET w1 changed
         MULTI
         GET w1
         EXEC
         WATCH w1
         GET w1
         MULTI
         GET w1
         EXEC
         WATCH w1
         UNWATCH
         SET w1 again
         MULTI
         GET w1
         EXEC
         WATCH w1
         MULTI
         SET w1 inside
         DISCARD
         SET w1 after-discard
         MULTI
         GET w1
         EXEC
         WATCH nokey
         MULTI
         SET nokey x
         EXEC
         WATCH w1
         SETNX w1 no-op
         MULTI
         GET w1
         EXEC
         WATCH w1
         SET w1 after-discard
         MULTI
         GET w1
         EXEC
         WATCH w1
         FLUSHDB
         MULTI
         PING
         EXEC
         WATCH stale
         FLUSHDB
         MULTI
         PING
         EXEC
         SET x 1
         WATCH x
         SWAPDB 0 1
         MULTI
         PING
         EXEC
         SWAPDB 0 1
         WATCH x
         RENAME x {other}x
         MULTI
         PING
         EXEC
         WATCH {other}x
         RENAME nokey2 x
         MULTI
         PING
         EXEC
         RPUSH sl 3 1 2
         WATCH sl
         SORT sl
         MULTI
         PING
         EXEC
         WATCH sl
         SORT sl STORE sl2
         MULTI
         PING
         EXEC
         WATCH sl2
         SORT sl STORE sl2
         MULTI
         PING
         EXEC
         WATCH sl
         LPUSH sl 9
         MULTI
         LRANGE sl 0 -1
         EXEC
         MULTI
         LPUSH q a
         BLPOP q 0
         BLMOVE q q2 LEFT RIGHT 0
         BRPOPLPUSH q q2 0
         EXEC",
    );
    s
}

#[test]
fn multi_matches_redis_threads1() {
    run_diff("multi", &multi_script(), 1, false);
}

#[test]
fn multi_matches_redis_threads4() {
    run_diff("multi", &multi_script(), 4, false);
}

#[test]
fn multi_matches_redis_resp3_threads4() {
    run_diff("multi", &multi_script(), 4, true);
}

#[test]
fn multi_matches_redis_resp3_threads2() {
    run_diff("multi", &multi_script(), 2, true);
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn q<T: redis::FromRedisValue>(con: &mut Connection, cmd: &redis::Cmd) -> T {
    cmd.query(con).unwrap_or_else(|e| {
        panic!("command {:?} failed: {e}", String::from_utf8_lossy(&cmd.get_packed_command()))
    })
}

fn cmd(name: &str) -> redis::Cmd {
    redis::cmd(name)
}

/// Account names spread over every shard (no hash tags).
fn accounts(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("acct:{i}")).collect()
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

// ---------------------------------------------------------------------------
// Concurrency checks
// ---------------------------------------------------------------------------

const ACCOUNTS: usize = 12;
const START_BALANCE: i64 = 1000;
const TRANSFERS: usize = 600;

/// Transfers between random accounts with MULTI/DECRBY/INCRBY/EXEC while other clients MGET
/// all accounts: every MGET (one moment) and the final state sum to the same total.
fn bank_transfers_keep_the_total(t: &dyn Target) {
    let names = accounts(ACCOUNTS);
    let total = START_BALANCE * ACCOUNTS as i64;
    {
        let mut con = t.client();
        let mut c = cmd("MSET");
        for a in &names {
            c.arg(a).arg(START_BALANCE);
        }
        let _: () = q(&mut con, &c);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let audits = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let mut movers = Vec::new();
        for w in 0..4u64 {
            let mut con = t.client();
            let names = names.clone();
            movers.push(s.spawn(move || {
                let mut rng = 0x9e37_79b9_7f4a_7c15 ^ (w + 1);
                for _ in 0..TRANSFERS {
                    let from = &names[(xorshift(&mut rng) % ACCOUNTS as u64) as usize];
                    let to = &names[(xorshift(&mut rng) % ACCOUNTS as u64) as usize];
                    let amount = (xorshift(&mut rng) % 50) as i64;
                    let (a, b): (i64, i64) = redis::pipe()
                        .atomic()
                        .cmd("DECRBY")
                        .arg(from)
                        .arg(amount)
                        .cmd("INCRBY")
                        .arg(to)
                        .arg(amount)
                        .query(&mut con)
                        .expect("transfer");
                    assert!(a <= total && b <= total);
                }
            }));
        }
        for _ in 0..3 {
            let mut con = t.client();
            let names = names.clone();
            let stop = stop.clone();
            let audits = &audits;
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut c = cmd("MGET");
                    c.arg(&names);
                    let vals: Vec<i64> = q(&mut con, &c);
                    let sum: i64 = vals.iter().sum();
                    assert_eq!(sum, total, "MGET saw a transfer half done: {vals:?}");
                    // The same audit inside a transaction, mixed with a cross-shard read.
                    let (vals,): (Vec<i64>,) =
                        redis::pipe().atomic().cmd("MGET").arg(&names).query(&mut con).expect("audit");
                    assert_eq!(vals.iter().sum::<i64>(), total, "EXEC'd MGET saw a torn state");
                    audits.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        for m in movers {
            m.join().expect("mover panicked");
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(audits.load(Ordering::Relaxed) > 0, "the auditors never ran");
    let mut con = t.client();
    let mut c = cmd("MGET");
    c.arg(&names);
    let vals: Vec<i64> = q(&mut con, &c);
    assert_eq!(vals.iter().sum::<i64>(), total);
}

/// Optimistic counters: clients WATCH a counter on one shard and a log key on another, read,
/// and EXEC an increment of both; the counters end exactly at the number of successful EXECs.
fn watch_counters_count_successful_execs(t: &dyn Target) {
    const CLIENTS: usize = 4;
    const SUCCESSES_EACH: usize = 60;
    let attempts = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..CLIENTS {
            let mut con = t.client();
            let attempts = &attempts;
            s.spawn(move || {
                let mut done = 0;
                while done < SUCCESSES_EACH {
                    attempts.fetch_add(1, Ordering::Relaxed);
                    let _: () = q(&mut con, cmd("WATCH").arg("counter").arg("shadow"));
                    let n: Option<i64> = q(&mut con, cmd("GET").arg("counter"));
                    let n = n.unwrap_or(0);
                    let reply: Option<(String, String)> = redis::pipe()
                        .atomic()
                        .cmd("SET")
                        .arg("counter")
                        .arg(n + 1)
                        .cmd("SET")
                        .arg("shadow")
                        .arg(n + 1)
                        .query(&mut con)
                        .expect("exec");
                    if reply.is_some() {
                        done += 1;
                    }
                }
            });
        }
    });
    let mut con = t.client();
    let n: i64 = q(&mut con, cmd("GET").arg("counter"));
    let shadow: i64 = q(&mut con, cmd("GET").arg("shadow"));
    assert_eq!(n, (CLIENTS * SUCCESSES_EACH) as i64, "lost or doubled an increment");
    assert_eq!(shadow, n);
    assert!(attempts.load(Ordering::Relaxed) >= CLIENTS * SUCCESSES_EACH);
}

/// A token moves around a ring of keys on different shards with RENAME and is copied with
/// COPY while writers set other keys and readers check it exists exactly once.
fn rename_copy_under_writers(t: &dyn Target) {
    const RING: usize = 8;
    const MOVES: usize = 400;
    let ring: Vec<String> = (0..RING).map(|i| format!("ring:{i}")).collect();
    {
        let mut con = t.client();
        let _: () = q(&mut con, cmd("SET").arg(&ring[0]).arg("token"));
    }
    let stop = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        let mover = {
            let mut con = t.client();
            let ring = ring.clone();
            s.spawn(move || {
                for i in 0..MOVES {
                    let (from, to) = (&ring[i % RING], &ring[(i + 1) % RING]);
                    let _: () = q(&mut con, cmd("RENAME").arg(from).arg(to));
                    let copied: i64 = q(&mut con, cmd("COPY").arg(to).arg("ring:copy").arg("REPLACE"));
                    assert_eq!(copied, 1);
                }
            })
        };
        for w in 0..2 {
            let mut con = t.client();
            let stop = stop.clone();
            s.spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let _: () = q(&mut con, cmd("SET").arg(format!("noise:{w}:{}", i % 32)).arg(i));
                    i += 1;
                }
            });
        }
        for _ in 0..2 {
            let mut con = t.client();
            let ring = ring.clone();
            let stop = stop.clone();
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut c = cmd("EXISTS");
                    c.arg(&ring);
                    let n: i64 = q(&mut con, &c);
                    assert_eq!(n, 1, "the token must exist exactly once, mid-RENAME included");
                    let (n,): (i64,) =
                        redis::pipe().atomic().cmd("EXISTS").arg(&ring).query(&mut con).unwrap();
                    assert_eq!(n, 1);
                }
            });
        }
        mover.join().expect("mover panicked");
        stop.store(true, Ordering::Relaxed);
    });
    let mut con = t.client();
    let v: String = q(&mut con, cmd("GET").arg(&ring[MOVES % RING]));
    assert_eq!(v, "token");
}

/// EXEC with keys on several shards while other transactions touch overlapping keys in the
/// opposite order: nothing deadlocks and every EXEC's writes land together.
fn crossing_transactions_never_deadlock(t: &dyn Target) {
    const ROUNDS: usize = 300;
    let keys: Vec<String> = (0..6).map(|i| format!("x:{i}")).collect();
    std::thread::scope(|s| {
        for w in 0..4 {
            let mut con = t.client();
            let mut keys = keys.clone();
            if w % 2 == 1 {
                keys.reverse();
            }
            s.spawn(move || {
                for r in 0..ROUNDS {
                    let v = format!("{w}-{r}");
                    let mut p = redis::pipe();
                    p.atomic();
                    for k in &keys {
                        p.cmd("SET").arg(k).arg(&v);
                    }
                    p.cmd("MGET").arg(&keys);
                    let replies: Vec<redis::Value> = p.query(&mut con).expect("exec");
                    let mget: Vec<String> =
                        redis::from_redis_value(replies.last().expect("mget reply").clone()).unwrap();
                    assert!(mget.iter().all(|x| *x == v), "another EXEC interleaved: {mget:?}");
                }
            });
        }
    });
}

/// An EXEC whose commands wait in the middle (DEBUG SLEEP, like INFO or CONFIG, waits for a
/// timer or other cores) still runs as one step: a write another client sends meanwhile lands
/// before or after it, never between its commands (a special command makes the EXEC lock every
/// shard whole, even when all its keys are local).
#[test]
fn an_exec_that_waits_stays_isolated() {
    for threads in [1, 2] {
        let s = Server::start(threads, &[]);
        let (mut a, mut b) = (s.raw(), s.raw());
        for _ in 0..3 {
            for c in ["MULTI", "SET k 1", "DEBUG SLEEP 0.2", "GET k"] {
                assert!(a.cmd_s(c).starts_with(b"+"), "{c}");
            }
            a.send(b"EXEC\r\n");
            assert_eq!(b.cmd_s("SET k 2"), b"+OK\r\n");
            assert_eq!(a.read_reply(), b"*3\r\n+OK\r\n+OK\r\n$1\r\n1\r\n", "{threads} threads");
        }
    }
}

for_threads!(
    bank_transfers_keep_the_total,
    watch_counters_count_successful_execs,
    rename_copy_under_writers,
    crossing_transactions_never_deadlock,
);
