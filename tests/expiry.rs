//! Key expiry: lazy and active expiration, TTL reporting, PERSIST, KEEPTTL.
//!
//! Expiration is a time-based event the client cannot await, so tests poll
//! with short sleeps inside strictly bounded loops. Each check runs against
//! shardis with 1 and 4 threads and (as `*::redis`) against redis-server.

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

/// Polls `probe` every 10ms until it returns true or `limit` passes.
/// Returns the elapsed time when it became true, None on timeout.
fn poll_until(limit: Duration, mut probe: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if probe() {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

/// SET PX 100: visible right away, gone within 2s, and not before ~100ms.
fn px_key_disappears(t: &dyn Target) {
    let mut con = t.client();
    let t0 = Instant::now();
    let _: () = q(&mut con, cmd("SET").arg("short").arg("v").arg("PX").arg(100));
    let v: Option<String> = q(&mut con, cmd("GET").arg("short"));
    let early = t0.elapsed();
    if early < Duration::from_millis(80) {
        assert_eq!(v.as_deref(), Some("v"), "key must exist right after SET PX 100");
    }
    let gone = poll_until(Duration::from_secs(2), || {
        let v: Option<String> = q(&mut con, cmd("GET").arg("short"));
        v.is_none()
    });
    assert!(gone.is_some(), "key with PX 100 still readable after 2s");
    let elapsed = t0.elapsed();
    assert!(elapsed >= Duration::from_millis(95), "key expired too early: after {elapsed:?}");
    let e: i64 = q(&mut con, cmd("EXISTS").arg("short"));
    assert_eq!(e, 0);
    let ttl: i64 = q(&mut con, cmd("TTL").arg("short"));
    assert_eq!(ttl, -2);
    let pttl: i64 = q(&mut con, cmd("PTTL").arg("short"));
    assert_eq!(pttl, -2);
    let n: i64 = q(&mut con, &cmd("DBSIZE"));
    assert_eq!(n, 0);

    // The same through EXISTS polling, for several keys spread over shards.
    let keys: Vec<String> = (0..20).map(|i| format!("exp{i}")).collect();
    for k in &keys {
        let _: () = q(&mut con, cmd("SET").arg(k).arg("v").arg("PX").arg(100));
    }
    let gone = poll_until(Duration::from_secs(2), || {
        let mut c = cmd("EXISTS");
        c.arg(&keys);
        let n: i64 = q(&mut con, &c);
        n == 0
    });
    assert!(gone.is_some(), "20 keys with PX 100 not all gone after 2s");
    let mut c = cmd("MGET");
    c.arg(&keys);
    let vals: Vec<Option<String>> = q(&mut con, &c);
    assert!(vals.iter().all(|v| v.is_none()));
}

/// 1000 keys with PX 50 that are never touched must be reclaimed by active
/// expiry: DBSIZE (which counts not-yet-reclaimed keys) drops to the number of
/// persistent keys within 3s.
fn active_expiry(t: &dyn Target) {
    let mut raw = t.raw();
    let mut pipe = Vec::new();
    for i in 0..1000 {
        let k = format!("active:{i}");
        pipe.extend_from_slice(&encode_command(&[b"SET", k.as_bytes(), b"v", b"PX", b"50"]));
    }
    for i in 0..10 {
        let k = format!("persistent:{i}");
        pipe.extend_from_slice(&encode_command(&[b"SET", k.as_bytes(), b"v"]));
    }
    raw.send(&pipe);
    for i in 0..1010 {
        assert_reply(&raw.read_reply(), b"+OK\r\n", &format!("SET #{i}"));
    }
    let mut last = -1;
    let done = poll_until(Duration::from_secs(3), || {
        let r = raw.cmd(&[b"DBSIZE"]);
        last = as_int(&r).unwrap_or_else(|| panic!("DBSIZE reply {}", show(&r)));
        last == 10
    });
    assert!(done.is_some(), "active expiry did not reclaim keys within 3s: DBSIZE still {last}");
    let keys = raw.cmd(&[b"KEYS", b"*"]);
    let (_, elems) = split_aggregate(&keys).expect("KEYS array");
    let got: BTreeSet<Vec<u8>> = elems.iter().map(|e| as_bulk(e).unwrap()).collect();
    let exp: BTreeSet<Vec<u8>> = (0..10).map(|i| format!("persistent:{i}").into_bytes()).collect();
    assert_eq!(got, exp);
}

/// Expired keys are never returned by KEYS / SCAN / RANDOMKEY even before they
/// are reclaimed.
fn expired_keys_invisible_to_iteration(t: &dyn Target) {
    let mut con = t.client();
    for i in 0..50 {
        let _: () = q(&mut con, cmd("SET").arg(format!("vol{i}")).arg("v").arg("PX").arg(100));
    }
    for i in 0..5 {
        let _: () = q(&mut con, cmd("SET").arg(format!("keep{i}")).arg("v"));
    }
    let keep: BTreeSet<String> = (0..5).map(|i| format!("keep{i}")).collect();
    let ok = poll_until(Duration::from_secs(2), || {
        let keys: Vec<String> = q(&mut con, cmd("KEYS").arg("*"));
        keys.into_iter().collect::<BTreeSet<_>>() == keep
    });
    assert!(ok.is_some(), "KEYS still lists expired keys after 2s");
    let mut cursor = "0".to_string();
    let mut seen = BTreeSet::new();
    for _ in 0..10_000 {
        let (next, batch): (String, Vec<String>) = q(&mut con, cmd("SCAN").arg(&cursor));
        seen.extend(batch);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen, keep, "SCAN after expiry");
    for _ in 0..50 {
        let k: Option<String> = q(&mut con, &cmd("RANDOMKEY"));
        let k = k.expect("RANDOMKEY");
        assert!(keep.contains(&k), "RANDOMKEY returned expired key {k}");
    }
}

fn ttl_pttl_ranges(t: &dyn Target) {
    let mut con = t.client();
    let ttl: i64 = q(&mut con, cmd("TTL").arg("missing"));
    assert_eq!(ttl, -2);
    let pttl: i64 = q(&mut con, cmd("PTTL").arg("missing"));
    assert_eq!(pttl, -2);
    let _: () = q(&mut con, cmd("SET").arg("plain").arg("v"));
    let ttl: i64 = q(&mut con, cmd("TTL").arg("plain"));
    assert_eq!(ttl, -1);
    let pttl: i64 = q(&mut con, cmd("PTTL").arg("plain"));
    assert_eq!(pttl, -1);

    let _: () = q(&mut con, cmd("SET").arg("ex").arg("v").arg("EX").arg(100));
    let ttl: i64 = q(&mut con, cmd("TTL").arg("ex"));
    assert!((98..=100).contains(&ttl), "TTL after EX 100: {ttl}");
    let pttl: i64 = q(&mut con, cmd("PTTL").arg("ex"));
    assert!((98_000..=100_000).contains(&pttl), "PTTL after EX 100: {pttl}");

    // TTL is rounded to the nearest second: 5500ms left -> 6, 5499ms -> 5.
    let _: () = q(&mut con, cmd("SET").arg("px").arg("v").arg("PX").arg(5500));
    let ttl: i64 = q(&mut con, cmd("TTL").arg("px"));
    assert!((5..=6).contains(&ttl), "TTL after PX 5500: {ttl}");
    let pttl: i64 = q(&mut con, cmd("PTTL").arg("px"));
    assert!((4_000..=5_500).contains(&pttl), "PTTL after PX 5500: {pttl}");

    let r: i64 = q(&mut con, cmd("PEXPIRE").arg("plain").arg(2500));
    assert_eq!(r, 1);
    let ttl: i64 = q(&mut con, cmd("TTL").arg("plain"));
    assert!((2..=3).contains(&ttl), "TTL after PEXPIRE 2500: {ttl}");

    // EXPIRETIME / PEXPIRETIME are absolute and consistent with the clock.
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let at: i64 = q(&mut con, cmd("PEXPIRETIME").arg("ex"));
    assert!((at - (now_ms + 100_000)).abs() < 5_000, "PEXPIRETIME {at} vs now+100s {}", now_ms + 100_000);
    let at_s: i64 = q(&mut con, cmd("EXPIRETIME").arg("ex"));
    assert!((at_s - at / 1000).abs() <= 1);
    let e: i64 = q(&mut con, cmd("EXPIRETIME").arg("missing"));
    assert_eq!(e, -2);
    let e: i64 = q(&mut con, cmd("PEXPIRETIME").arg("ex_none"));
    assert_eq!(e, -2);
    let _: () = q(&mut con, cmd("SET").arg("noexp").arg("v"));
    let e: i64 = q(&mut con, cmd("EXPIRETIME").arg("noexp"));
    assert_eq!(e, -1);
}

fn persist_and_expire_zero(t: &dyn Target) {
    let mut con = t.client();
    let _: () = q(&mut con, cmd("SET").arg("p").arg("v").arg("PX").arg(150));
    let r: i64 = q(&mut con, cmd("PERSIST").arg("p"));
    assert_eq!(r, 1);
    let r: i64 = q(&mut con, cmd("PERSIST").arg("p"));
    assert_eq!(r, 0);
    let r: i64 = q(&mut con, cmd("PERSIST").arg("missing"));
    assert_eq!(r, 0);
    let ttl: i64 = q(&mut con, cmd("TTL").arg("p"));
    assert_eq!(ttl, -1);

    // EXPIRE 0 / negative / past EXPIREAT delete immediately.
    for (i, args) in [
        vec!["EXPIRE", "0"],
        vec!["EXPIRE", "-10"],
        vec!["PEXPIRE", "0"],
        vec!["PEXPIRE", "-1"],
        vec!["EXPIREAT", "1"],
        vec!["PEXPIREAT", "1000"],
    ]
    .into_iter()
    .enumerate()
    {
        let k = format!("del{i}");
        let _: () = q(&mut con, cmd("SET").arg(&k).arg("v"));
        let r: i64 = q(&mut con, cmd(args[0]).arg(&k).arg(args[1]));
        assert_eq!(r, 1, "{} {k} {}", args[0], args[1]);
        let e: i64 = q(&mut con, cmd("EXISTS").arg(&k));
        assert_eq!(e, 0, "{} {} must delete the key", args[0], args[1]);
    }
    let n: i64 = q(&mut con, &cmd("DBSIZE"));
    assert_eq!(n, 1, "only 'p' remains");

    // The persisted key outlives its former TTL (bounded wait).
    std::thread::sleep(Duration::from_millis(250));
    let v: Option<String> = q(&mut con, cmd("GET").arg("p"));
    assert_eq!(v.as_deref(), Some("v"), "PERSIST must remove the TTL");
}

fn getex_persist(t: &dyn Target) {
    let mut con = t.client();
    let _: () = q(&mut con, cmd("SET").arg("g").arg("v").arg("PX").arg(150));
    let v: Option<String> = q(&mut con, cmd("GETEX").arg("g").arg("PERSIST"));
    assert_eq!(v.as_deref(), Some("v"));
    let ttl: i64 = q(&mut con, cmd("TTL").arg("g"));
    assert_eq!(ttl, -1);
    // GETEX PX gives it a TTL again, and it disappears.
    let v: Option<String> = q(&mut con, cmd("GETEX").arg("g").arg("PX").arg(100));
    assert_eq!(v.as_deref(), Some("v"));
    let pttl: i64 = q(&mut con, cmd("PTTL").arg("g"));
    assert!((0..=100).contains(&pttl), "PTTL after GETEX PX 100: {pttl}");
    let gone = poll_until(Duration::from_secs(2), || {
        let e: i64 = q(&mut con, cmd("EXISTS").arg("g"));
        e == 0
    });
    assert!(gone.is_some(), "GETEX PX 100 key still exists after 2s");
    // GETEX without options does not touch the TTL.
    let _: () = q(&mut con, cmd("SET").arg("g2").arg("v").arg("EX").arg(100));
    let _: Option<String> = q(&mut con, cmd("GETEX").arg("g2"));
    let ttl: i64 = q(&mut con, cmd("TTL").arg("g2"));
    assert!((98..=100).contains(&ttl));
    std::thread::sleep(Duration::from_millis(250));
    let v: Option<String> = q(&mut con, cmd("GET").arg("g"));
    assert_eq!(v, None);
}

fn set_keepttl(t: &dyn Target) {
    let mut con = t.client();
    let _: () = q(&mut con, cmd("SET").arg("kt").arg("v1").arg("PX").arg(300));
    let _: () = q(&mut con, cmd("SET").arg("kt").arg("v2").arg("KEEPTTL"));
    let v: Option<String> = q(&mut con, cmd("GET").arg("kt"));
    assert_eq!(v.as_deref(), Some("v2"));
    let pttl: i64 = q(&mut con, cmd("PTTL").arg("kt"));
    assert!((1..=300).contains(&pttl), "PTTL after KEEPTTL: {pttl}");
    // The kept TTL really fires.
    let gone = poll_until(Duration::from_secs(2), || {
        let v: Option<String> = q(&mut con, cmd("GET").arg("kt"));
        v.is_none()
    });
    assert!(gone.is_some(), "key with kept TTL still there after 2s");

    // A plain SET clears the TTL; other writes keep it.
    let _: () = q(&mut con, cmd("SET").arg("kt2").arg("v").arg("EX").arg(100));
    let _: i64 = q(&mut con, cmd("APPEND").arg("kt2").arg("x"));
    let _: i64 = q(&mut con, cmd("SETRANGE").arg("kt2").arg(0).arg("y"));
    let ttl: i64 = q(&mut con, cmd("TTL").arg("kt2"));
    assert!((98..=100).contains(&ttl), "APPEND/SETRANGE keep the TTL: {ttl}");
    let _: () = q(&mut con, cmd("SET").arg("kt3").arg("1").arg("EX").arg(100));
    let _: i64 = q(&mut con, cmd("INCR").arg("kt3"));
    let _: String = q(&mut con, cmd("INCRBYFLOAT").arg("kt3").arg("1.5"));
    let ttl: i64 = q(&mut con, cmd("TTL").arg("kt3"));
    assert!((98..=100).contains(&ttl), "INCR/INCRBYFLOAT keep the TTL: {ttl}");
    let _: () = q(&mut con, cmd("SET").arg("kt2").arg("plain"));
    let ttl: i64 = q(&mut con, cmd("TTL").arg("kt2"));
    assert_eq!(ttl, -1, "plain SET clears the TTL");
    let _: Option<String> = q(&mut con, cmd("GETSET").arg("kt3").arg("z"));
    let ttl: i64 = q(&mut con, cmd("TTL").arg("kt3"));
    assert_eq!(ttl, -1, "GETSET clears the TTL");
}

/// Expiry works in databases other than 0 and after SWAPDB/MOVE.
fn expiry_in_other_dbs(t: &dyn Target) {
    let mut con = t.client();
    let _: () = q(&mut con, cmd("SELECT").arg(2));
    let _: () = q(&mut con, cmd("SET").arg("d2").arg("v").arg("PX").arg(100));
    let _: () = q(&mut con, cmd("SET").arg("mv").arg("v").arg("PX").arg(150));
    let r: i64 = q(&mut con, cmd("MOVE").arg("mv").arg(3));
    assert_eq!(r, 1);
    let gone = poll_until(Duration::from_secs(2), || {
        let e: i64 = q(&mut con, cmd("EXISTS").arg("d2"));
        e == 0
    });
    assert!(gone.is_some(), "key in db 2 did not expire");
    let _: () = q(&mut con, cmd("SELECT").arg(3));
    let gone = poll_until(Duration::from_secs(2), || {
        let e: i64 = q(&mut con, cmd("EXISTS").arg("mv"));
        e == 0
    });
    assert!(gone.is_some(), "MOVEd key lost its TTL");
    let n: i64 = q(&mut con, &cmd("DBSIZE"));
    assert_eq!(n, 0);
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

for_threads!(
    px_key_disappears,
    active_expiry,
    expired_keys_invisible_to_iteration,
    ttl_pttl_ranges,
    persist_and_expire_zero,
    getex_persist,
    set_keepttl,
    expiry_in_other_dbs,
);
