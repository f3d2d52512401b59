//! RDB snapshots and DUMP/RESTORE against a real redis-server 7: a dump.rdb Redis wrote loads
//! in shardis (1, 2 and 4 threads), a dump.rdb shardis wrote (SAVE, BGSAVE, SHUTDOWN, SIGTERM)
//! loads in Redis, payloads DUMPed by either RESTORE in the other, a snapshot survives a
//! restart with another thread count, and a damaged file stops shardis with an error naming it.
//!
//! Keyspaces are compared key by key: type, OBJECT ENCODING, contents (members of sets and
//! hashes sorted) and PEXPIRETIME, in every database.

mod common;

use common::*;
use redis::Connection;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn q<T: redis::FromRedisValue>(con: &mut Connection, cmd: &redis::Cmd) -> T {
    cmd.query(con).unwrap_or_else(|e| {
        panic!("command {:?} failed: {e}", String::from_utf8_lossy(&cmd.get_packed_command()))
    })
}

fn cmd(name: &str) -> redis::Cmd {
    redis::cmd(name)
}

/// Polls `probe` every 10ms for at most `limit` (saves and exits are not events a client
/// can wait on).
fn poll_until(limit: Duration, mut probe: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if probe() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    probe()
}

/// A directory of our own (removed on drop) for files moved between servers.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("shardis-rdb-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config_dir(con: &mut Connection) -> PathBuf {
    let pair: Vec<String> = q(con, cmd("CONFIG").arg("GET").arg("dir"));
    PathBuf::from(&pair[1])
}

// ---------------------------------------------------------------------------
// The data: every type in its small and big encodings, in several databases

fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Writes the test data set through `con` (the same commands on either server).
fn fill(con: &mut Connection) {
    let binary: Vec<u8> = (0..=255u8).chain([0, 13, 10, 0]).collect();
    let _: () = q(con, cmd("SELECT").arg(0));
    for (k, v) in [
        ("int", "12345"),
        ("negint", "-98765"),
        ("int64", "9223372036854775807"),
        ("int-like", "007"),
        ("str", "hello"),
        ("emb", "a string of thirty bytes......"),
        ("empty", ""),
    ] {
        let _: () = q(con, cmd("SET").arg(k).arg(v));
    }
    let _: () = q(con, cmd("SET").arg("raw-compressible").arg("abcd".repeat(500)));
    let _: () = q(con, cmd("SET").arg("binary").arg(&binary));
    let _: () = q(con, cmd("SET").arg(&binary[..40]).arg("binary key"));
    let _: () = q(con, cmd("SET").arg("ttl-string").arg("v").arg("EX").arg(100_000));
    let _: () = q(con, cmd("RPUSH").arg("list-small").arg(&["a", "b", "1", "-3", "", "12345678901"]));
    let _: () = q(con, cmd("RPUSH").arg("list-big").arg(numbered("element-", 5000)));
    let long: Vec<String> = (0..5).map(|i| format!("{i}").repeat(9000)).collect();
    let _: () = q(con, cmd("RPUSH").arg("list-long-elements").arg(long));
    let _: () = q(con, cmd("SADD").arg("set-intset").arg(&["1", "2", "3", "-100", "70000"]));
    let _: () =
        q(con, cmd("SADD").arg("set-wide-ints").arg(&["-9223372036854775808", "9223372036854775807", "0"]));
    let many_ints: Vec<String> = (0..600).map(|i| (i * 7).to_string()).collect();
    let _: () = q(con, cmd("SADD").arg("set-big-ints").arg(many_ints));
    let _: () = q(con, cmd("SADD").arg("set-strings").arg(&["a", "b", "c", "1"]));
    let _: () = q(con, cmd("SADD").arg("set-big").arg(numbered("member-", 1000)));
    let _: () = q(con, cmd("HSET").arg("hash-small").arg(&["f", "v", "n", "1", "neg", "-5"]));
    let mut pairs = Vec::new();
    for i in 0..1000 {
        pairs.push(format!("field-{i}"));
        pairs.push(format!("{}", i * 3));
    }
    let _: () = q(con, cmd("HSET").arg("hash-big").arg(pairs));
    let _: () = q(con, cmd("HSET").arg("hash-long-value").arg("f").arg("x".repeat(100)));
    let _: () = q(con, cmd("ZADD").arg("zset-small").arg(&["1", "a", "2.5", "b", "-inf", "c", "+inf", "d"]));
    let mut scored = Vec::new();
    for i in 0..300 {
        scored.push(format!("{}", i as f64 / 7.0));
        scored.push(format!("m{i}"));
    }
    let _: () = q(con, cmd("ZADD").arg("zset-big").arg(scored));
    let _: () = q(con, cmd("ZADD").arg("zset-long-member").arg(1).arg("m".repeat(100)));
    for k in ["list-small", "set-big", "hash-small", "zset-big"] {
        let _: () = q(con, cmd("PEXPIRE").arg(k).arg(50_000_000));
    }
    for db in [1, 7, 15] {
        let _: () = q(con, cmd("SELECT").arg(db));
        for i in 0..50 {
            let _: () = q(con, cmd("SET").arg(format!("db{db}:key:{i}")).arg(i * db));
        }
        let _: () = q(con, cmd("RPUSH").arg(format!("db{db}:list")).arg(&["x", "y"]));
        let _: () = q(con, cmd("SET").arg(format!("db{db}:ttl")).arg("t").arg("PX").arg(90_000_000));
    }
    let _: () = q(con, cmd("SELECT").arg(0));
}

/// Everything about a key a client can see.
#[derive(Debug, PartialEq)]
struct KeyView {
    kind: String,
    encoding: String,
    contents: Vec<Vec<u8>>,
    expire_at_ms: i64,
}

type Keyspace = BTreeMap<(usize, Vec<u8>), KeyView>;

fn key_view(con: &mut Connection, key: &[u8]) -> KeyView {
    let kind: String = q(con, cmd("TYPE").arg(key));
    let encoding: String = q(con, cmd("OBJECT").arg("ENCODING").arg(key));
    let contents: Vec<Vec<u8>> = match kind.as_str() {
        "string" => vec![q(con, cmd("GET").arg(key))],
        "list" => q(con, cmd("LRANGE").arg(key).arg(0).arg(-1)),
        "set" => {
            let mut m: Vec<Vec<u8>> = q(con, cmd("SMEMBERS").arg(key));
            m.sort();
            m
        }
        "hash" => {
            let flat: Vec<Vec<u8>> = q(con, cmd("HGETALL").arg(key));
            let mut pairs: Vec<Vec<u8>> =
                flat.chunks(2).map(|p| [p[0].clone(), b"=".to_vec(), p[1].clone()].concat()).collect();
            pairs.sort();
            pairs
        }
        "zset" => q(con, cmd("ZRANGE").arg(key).arg(0).arg(-1).arg("WITHSCORES")),
        other => panic!("unexpected type {other}"),
    };
    let expire_at_ms: i64 = q(con, cmd("PEXPIRETIME").arg(key));
    KeyView { kind, encoding, contents, expire_at_ms }
}

fn keyspace(con: &mut Connection) -> Keyspace {
    let mut all = Keyspace::new();
    for db in 0..16 {
        let _: () = q(con, cmd("SELECT").arg(db));
        let keys: Vec<Vec<u8>> = q(con, cmd("KEYS").arg("*"));
        for k in keys {
            let view = key_view(con, &k);
            all.insert((db, k), view);
        }
    }
    let _: () = q(con, cmd("SELECT").arg(0));
    all
}

fn assert_same_keyspace(expected: &Keyspace, actual: &Keyspace, context: &str) {
    for (k, want) in expected {
        match actual.get(k) {
            Some(got) => {
                assert_eq!(got, want, "{context}: key {:?} in db {}", String::from_utf8_lossy(&k.1), k.0)
            }
            None => panic!("{context}: key {:?} of db {} is missing", String::from_utf8_lossy(&k.1), k.0),
        }
    }
    assert_eq!(actual.len(), expected.len(), "{context}: extra keys");
}

fn info_field(con: &mut Connection, section: &str, field: &str) -> String {
    let info: String = q(con, cmd("INFO").arg(section));
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .trim()
        .to_string()
}

// ---------------------------------------------------------------------------
// (a) A dump.rdb written by redis-server loads in shardis

#[test]
fn redis_snapshot_loads_in_shardis() {
    let Some(redis) = start_redis_or_skip() else { return };
    let mut rc = redis.client();
    fill(&mut rc);
    let expected = keyspace(&mut rc);
    let _: () = q(&mut rc, &cmd("SAVE"));
    let dir = TempDir::new("from-redis");
    std::fs::copy(config_dir(&mut rc).join("dump.rdb"), dir.path().join("dump.rdb")).unwrap();
    for threads in [1, 2, 4] {
        let server = Server::start(threads, &["--dir", dir.arg()]);
        let mut sc = server.client();
        assert_same_keyspace(&expected, &keyspace(&mut sc), &format!("shardis with {threads} threads"));
        let loaded: usize = info_field(&mut sc, "persistence", "rdb_last_load_keys_loaded").parse().unwrap();
        assert_eq!(loaded, expected.len());
    }
}

// ---------------------------------------------------------------------------
// (b) A dump.rdb written by shardis loads in redis-server

fn wait_for_bgsave(con: &mut Connection, saves_before: u64) {
    let done = poll_until(Duration::from_secs(20), || {
        info_field(con, "persistence", "rdb_bgsave_in_progress") == "0"
            && info_field(con, "persistence", "rdb_saves").parse::<u64>().unwrap() > saves_before
    });
    assert!(done, "BGSAVE did not finish");
    assert_eq!(info_field(con, "persistence", "rdb_last_bgsave_status"), "ok");
}

fn shardis_snapshot_loads_in_redis(threads: usize, background: bool) {
    if !redis_server_available() {
        eprintln!("redis-server not installed, skipping");
        return;
    }
    let server = Server::start(threads, &[]);
    let mut sc = server.client();
    fill(&mut sc);
    let expected = keyspace(&mut sc);
    let before: i64 = q(&mut sc, &cmd("LASTSAVE"));
    let dirty: u64 = info_field(&mut sc, "persistence", "rdb_changes_since_last_save").parse().unwrap();
    assert!(dirty > 0);
    if background {
        let reply: String = q(&mut sc, &cmd("BGSAVE"));
        assert_eq!(reply, "Background saving started");
        wait_for_bgsave(&mut sc, 0);
    } else {
        let _: () = q(&mut sc, &cmd("SAVE"));
    }
    assert_eq!(info_field(&mut sc, "persistence", "rdb_changes_since_last_save"), "0");
    let after: i64 = q(&mut sc, &cmd("LASTSAVE"));
    assert!(after >= before);
    let dir = TempDir::new("from-shardis");
    std::fs::copy(server.dir().join("dump.rdb"), dir.path().join("dump.rdb")).unwrap();
    let redis = RedisServer::start_with(&["--dir", dir.arg()]).expect("redis-server");
    let mut rc = redis.client();
    assert_same_keyspace(
        &expected,
        &keyspace(&mut rc),
        &format!("redis-server on a {threads}-thread snapshot"),
    );
}

#[test]
fn save_with_1_thread_loads_in_redis() {
    shardis_snapshot_loads_in_redis(1, false);
}

#[test]
fn save_with_4_threads_loads_in_redis() {
    shardis_snapshot_loads_in_redis(4, false);
}

#[test]
fn bgsave_with_2_threads_loads_in_redis() {
    shardis_snapshot_loads_in_redis(2, true);
}

/// Without compression and checksum, as Redis writes with `rdbcompression no` and
/// `rdbchecksum no`, the file still loads in both.
#[test]
fn uncompressed_unchecksummed_snapshot_loads_in_both() {
    if !redis_server_available() {
        return;
    }
    let server = Server::start(2, &["--rdbcompression", "no", "--rdbchecksum", "no"]);
    let mut sc = server.client();
    fill(&mut sc);
    let expected = keyspace(&mut sc);
    let _: () = q(&mut sc, &cmd("SAVE"));
    let bytes = std::fs::read(server.dir().join("dump.rdb")).unwrap();
    assert_eq!(&bytes[bytes.len() - 8..], &[0; 8], "no checksum written");
    let dir = TempDir::new("plain");
    std::fs::write(dir.path().join("dump.rdb"), &bytes).unwrap();
    let redis = RedisServer::start_with(&["--dir", dir.arg(), "--rdbchecksum", "no"]).expect("redis-server");
    assert_same_keyspace(&expected, &keyspace(&mut redis.client()), "redis-server");
    let again = Server::start(1, &["--dir", dir.arg()]);
    assert_same_keyspace(&expected, &keyspace(&mut again.client()), "shardis");
}

// ---------------------------------------------------------------------------
// (c) DUMP and RESTORE both ways

fn all_keys_db0(con: &mut Connection) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = q(con, cmd("KEYS").arg("*"));
    keys.sort();
    keys
}

#[test]
fn dump_payloads_restore_both_ways() {
    let Some(redis) = start_redis_or_skip() else { return };
    let server = Server::start(2, &[]);
    let (mut rc, mut sc) = (redis.client(), server.client());
    fill(&mut rc);
    fill(&mut sc);
    for key in all_keys_db0(&mut rc) {
        let view = key_view(&mut rc, &key);
        let from_redis: Vec<u8> = q(&mut rc, cmd("DUMP").arg(&key));
        let from_shardis: Vec<u8> = q(&mut sc, cmd("DUMP").arg(&key));
        let copy = [b"copy:".as_slice(), &key].concat();
        let _: () = q(&mut sc, cmd("RESTORE").arg(&copy).arg(0).arg(&from_redis));
        let _: () = q(&mut rc, cmd("RESTORE").arg(&copy).arg(0).arg(&from_shardis));
        for (name, con) in [("shardis", &mut sc), ("redis", &mut rc)] {
            let got = key_view(con, &copy);
            assert_eq!(got.contents, view.contents, "{name} restored {:?}", String::from_utf8_lossy(&key));
            assert_eq!(
                (got.kind.as_str(), got.encoding.as_str()),
                (view.kind.as_str(), view.encoding.as_str())
            );
            assert_eq!(got.expire_at_ms, -1);
        }
    }
}

#[test]
fn restore_options_and_errors_match_redis() {
    let Some(redis) = start_redis_or_skip() else { return };
    let server = Server::start(2, &[]);
    let (mut rr, mut sr) = (redis.raw(), server.raw());
    for r in [&mut rr, &mut sr] {
        r.cmd_s("SET src hello");
        r.cmd_s("SET busy x");
        r.cmd_s("RPUSH lsrc a b c");
    }
    let payload = as_bulk(&rr.cmd_s("DUMP src")).unwrap();
    let list_payload = as_bulk(&sr.cmd_s("DUMP lsrc")).unwrap();
    let mut bad_crc = payload.clone();
    *bad_crc.last_mut().unwrap() ^= 1;
    let mut newer = payload.clone();
    let n = newer.len();
    newer[n - 10] = 12;
    let far_future =
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
            + 100_000_000)
            .to_string();
    let cases: Vec<Vec<&[u8]>> = vec![
        vec![b"RESTORE", b"busy", b"0", &payload],
        vec![b"RESTORE", b"busy", b"0", &payload, b"REPLACE"],
        vec![b"GET", b"busy"],
        vec![b"RESTORE", b"k1", b"-1", &payload],
        vec![b"RESTORE", b"k1", b"abc", &payload],
        vec![b"RESTORE", b"k1", b"0", &bad_crc],
        vec![b"RESTORE", b"k1", b"0", &newer],
        vec![b"RESTORE", b"k1", b"0", b"short"],
        vec![b"RESTORE", b"k1", b"0", &payload, b"BOGUS"],
        vec![b"RESTORE", b"k1", b"0", &payload, b"IDLETIME"],
        vec![b"RESTORE", b"k1", b"0", &payload, b"IDLETIME", b"-1"],
        vec![b"RESTORE", b"k1", b"0", &payload, b"IDLETIME", b"x"],
        vec![b"RESTORE", b"k1", b"0", &payload, b"FREQ", b"256"],
        vec![b"RESTORE", b"k1", b"0", &payload, b"IDLETIME", b"1", b"FREQ", b"1"],
        vec![b"RESTORE", b"k1", b"0", &payload, b"IDLETIME", b"1000"],
        vec![b"OBJECT", b"IDLETIME", b"k1"],
        vec![b"RESTORE", b"k2", b"5000", &payload],
        vec![b"PTTL", b"k2"],
        vec![b"RESTORE", b"k3", far_future.as_bytes(), &list_payload, b"ABSTTL"],
        vec![b"PEXPIRETIME", b"k3"],
        vec![b"LRANGE", b"k3", b"0", b"-1"],
        vec![b"RESTORE", b"k4", b"1", &payload, b"ABSTTL"],
        vec![b"EXISTS", b"k4"],
        vec![b"RESTORE", b"busy", b"1", &payload, b"ABSTTL", b"REPLACE"],
        vec![b"EXISTS", b"busy"],
        vec![b"RESTORE", b"k5", b"9223372036854775807", &payload],
        vec![b"EXISTS", b"k5"],
        vec![b"DUMP", b"nosuchkey"],
        vec![b"RESTORE", b"k6", b"0"],
    ];
    for case in cases {
        let want = rr.cmd(&case);
        let got = sr.cmd(&case);
        let shown: Vec<String> = case
            .iter()
            .map(|a| if a.len() > 20 { "<payload>".into() } else { String::from_utf8_lossy(a).into() })
            .collect();
        // Times may differ by the clock ticks between the two servers' replies.
        let near = match shown[0].as_str() {
            "PTTL" => Some(4000..=5000),
            "OBJECT" => Some(1000..=1001),
            _ => None,
        };
        if let Some(range) = near {
            let (w, g) = (as_int(&want).unwrap(), as_int(&got).unwrap());
            assert!(range.contains(&w) && range.contains(&g), "{shown:?}: {w} vs {g}");
            continue;
        }
        assert_reply(&got, &want, &format!("{shown:?}"));
    }
}

// ---------------------------------------------------------------------------
// (d) Restart round trips: SHUTDOWN, SIGTERM, DEBUG RELOAD, save points

/// Waits for the server to exit (after SHUTDOWN or a signal).
fn wait_exit(server: &mut Server) {
    assert!(poll_until(Duration::from_secs(20), || !server.is_running()), "shardis did not exit");
}

#[test]
fn shutdown_saves_and_a_restart_with_other_threads_loads() {
    let dir = TempDir::new("restart");
    let mut first = Server::start(2, &["--dir", dir.arg()]);
    let mut sc = first.client();
    fill(&mut sc);
    let mut expected = keyspace(&mut sc);
    let mut raw = first.raw();
    raw.send(&encode_command(&[b"SHUTDOWN"]));
    raw.expect_closed();
    wait_exit(&mut first);
    assert!(first.log_tail().contains("DB saved on disk"), "{}", first.log_tail());
    for threads in [4, 1] {
        let mut next = Server::start(threads, &["--dir", dir.arg()]);
        assert_same_keyspace(
            &expected,
            &keyspace(&mut next.client()),
            &format!("restart with {threads} threads"),
        );
        // A SIGTERM saves too (save points are configured by default).
        let _: () = q(&mut next.client(), cmd("SET").arg("added-before-sigterm").arg(threads));
        expected = keyspace(&mut next.client());
        let pid = info_field(&mut next.client(), "server", "process_id");
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        wait_exit(&mut next);
    }
    let last = Server::start(2, &["--dir", dir.arg()]);
    let v: String = q(&mut last.client(), cmd("GET").arg("added-before-sigterm"));
    assert_eq!(v, "1");
}

#[test]
fn shutdown_nosave_does_not_save() {
    let dir = TempDir::new("nosave");
    let mut server = Server::start(2, &["--dir", dir.arg()]);
    let _: () = q(&mut server.client(), cmd("SET").arg("k").arg("v"));
    let mut raw = server.raw();
    raw.send(&encode_command(&[b"SHUTDOWN", b"NOSAVE"]));
    raw.expect_closed();
    wait_exit(&mut server);
    assert!(!dir.path().join("dump.rdb").exists());
}

#[test]
fn debug_reload_keeps_everything() {
    let server = Server::start(4, &[]);
    let mut sc = server.client();
    fill(&mut sc);
    let expected = keyspace(&mut sc);
    let _: () = q(&mut sc, cmd("DEBUG").arg("RELOAD"));
    assert_same_keyspace(&expected, &keyspace(&mut sc), "after DEBUG RELOAD");
    assert!(server.dir().join("dump.rdb").exists());
    // NOSAVE loads the file on disk: a key written since is gone, as in Redis.
    let _: () = q(&mut sc, cmd("SET").arg("unsaved").arg("1"));
    let _: () = q(&mut sc, cmd("DEBUG").arg("RELOAD").arg("NOSAVE"));
    assert_same_keyspace(&expected, &keyspace(&mut sc), "after DEBUG RELOAD NOSAVE");
    let mut raw = server.raw();
    assert_reply(
        &raw.cmd_s("DEBUG RELOAD BOGUS"),
        b"-ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.\r\n",
        "bad option",
    );
}

#[test]
fn save_points_trigger_a_background_save() {
    let server = Server::start(2, &["--save", "1 3"]);
    let mut sc = server.client();
    let before: i64 = q(&mut sc, &cmd("LASTSAVE"));
    for i in 0..3 {
        let _: () = q(&mut sc, cmd("SET").arg(format!("k{i}")).arg(i));
    }
    let saved = poll_until(Duration::from_secs(10), || {
        let now: i64 = q(&mut sc, &cmd("LASTSAVE"));
        now > before && server.dir().join("dump.rdb").exists()
    });
    assert!(saved, "no save within 10s: {}", server.log_tail());
    assert!(server.log_tail().contains("3 changes in 1 seconds. Saving..."));
    assert_eq!(info_field(&mut sc, "persistence", "rdb_changes_since_last_save"), "0");
}

#[test]
fn save_commands_reply_as_redis() {
    let server = Server::start(2, &["--save", ""]);
    let mut raw = server.raw();
    assert_reply(&raw.cmd_s("SAVE"), b"+OK\r\n", "SAVE");
    assert_reply(&raw.cmd_s("BGSAVE"), b"+Background saving started\r\n", "BGSAVE");
    let mut sc = server.client();
    wait_for_bgsave(&mut sc, 1);
    assert_reply(&raw.cmd_s("BGSAVE SCHEDULE"), b"+Background saving started\r\n", "BGSAVE SCHEDULE");
    wait_for_bgsave(&mut sc, 2);
    assert_reply(&raw.cmd_s("BGSAVE NOW"), b"-ERR syntax error\r\n", "BGSAVE NOW");
    assert_reply(&raw.cmd_s("SAVE x"), b"-ERR wrong number of arguments for 'save' command\r\n", "SAVE x");
    assert_reply(&raw.cmd_s("SHUTDOWN SAVE NOSAVE"), b"-ERR syntax error\r\n", "SHUTDOWN SAVE NOSAVE");
    assert_reply(&raw.cmd_s("MULTI"), b"+OK\r\n", "MULTI");
    assert_reply(&raw.cmd_s("SAVE"), b"-ERR Command not allowed inside a transaction\r\n", "SAVE in MULTI");
    raw.cmd_s("DISCARD");
    // A directory that cannot be written: SAVE fails with Redis's bare error, BGSAVE reports it.
    let blocked = server.dir().join("not-a-dir");
    std::fs::write(&blocked, b"file").unwrap();
    assert_reply(&raw.cmd_s(&format!("CONFIG SET dir {}", blocked.display())), b"+OK\r\n", "CONFIG SET dir");
    assert_reply(&raw.cmd_s("SAVE"), b"-ERR\r\n", "failing SAVE");
    raw.cmd_s("BGSAVE");
    assert!(poll_until(Duration::from_secs(10), || info_field(
        &mut sc,
        "persistence",
        "rdb_last_bgsave_status"
    ) == "err"));
}

/// A second save while a BGSAVE runs is refused as Redis refuses it (the first BGSAVE takes a
/// while: 100k keys to serialize and write).
#[test]
fn saves_during_a_bgsave_are_refused() {
    let server = Server::start(2, &["--save", ""]);
    let mut sc = server.client();
    for batch in 0..100 {
        let mut mset = cmd("MSET");
        for i in 0..1000 {
            mset.arg(format!("{{t}}key:{batch}:{i}")).arg("some value to write".repeat(3));
        }
        let _: () = q(&mut sc, &mset);
    }
    let mut raw = server.raw();
    let replies = raw.cmd_s("BGSAVE");
    assert_reply(&replies, b"+Background saving started\r\n", "first BGSAVE");
    assert_reply(&raw.cmd_s("BGSAVE"), b"-ERR Background save already in progress\r\n", "second BGSAVE");
    assert_reply(&raw.cmd_s("SAVE"), b"-ERR Background save already in progress\r\n", "SAVE");
    assert_eq!(info_field(&mut sc, "persistence", "rdb_bgsave_in_progress"), "1");
    wait_for_bgsave(&mut sc, 0);
}

// ---------------------------------------------------------------------------
// (e) A damaged dump.rdb stops shardis with an error naming the file

/// Runs shardis on `dir` and returns (exit status, output) once it exits.
fn run_to_exit(dir: &Path, threads: usize) -> (std::process::ExitStatus, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardis"))
        .args([
            "--port",
            &port.to_string(),
            "--threads",
            &threads.to_string(),
            "--dir",
            dir.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("shardis kept running on a damaged dump.rdb");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = child.wait_with_output().unwrap();
    (status, String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout))
}

#[test]
fn damaged_snapshots_stop_the_server() {
    let source = Server::start(2, &[]);
    let mut sc = source.client();
    fill(&mut sc);
    let _: () = q(&mut sc, &cmd("SAVE"));
    let good = std::fs::read(source.dir().join("dump.rdb")).unwrap();
    let mut flipped = good.clone();
    let mid = good.len() / 2;
    flipped[mid] ^= 0x55;
    let mut bad_version = good.clone();
    bad_version[5..9].copy_from_slice(b"0099");
    for (name, bytes) in [
        ("truncated", &good[..good.len() * 2 / 3]),
        ("cut-before-checksum", &good[..good.len() - 4]),
        ("flipped", &flipped[..]),
        ("version", &bad_version[..]),
        ("garbage", b"this is not an rdb file at all"),
    ] {
        let dir = TempDir::new(name);
        let file = dir.path().join("dump.rdb");
        std::fs::write(&file, bytes).unwrap();
        let (status, output) = run_to_exit(dir.path(), 2);
        assert!(!status.success(), "{name}: exited with {status}");
        assert!(output.contains(file.to_str().unwrap()), "{name}: the error names the file: {output}");
        assert!(output.contains("offset"), "{name}: the error names the offset: {output}");
    }
}

// ---------------------------------------------------------------------------
// Formats only older Redis versions write, checked against redis-server's own reader

/// RDB primitives, to write by hand the value types Redis 7 no longer writes.
mod old {
    pub fn len(out: &mut Vec<u8>, n: usize) {
        if n < 64 {
            out.push(n as u8);
        } else if n < 16384 {
            out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
        } else {
            out.push(0x80);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }

    pub fn string(out: &mut Vec<u8>, s: &[u8]) {
        len(out, s.len());
        out.extend_from_slice(s);
    }

    /// A ziplist as Redis 2.6-6.2 writes it.
    pub fn ziplist(items: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        let (mut prevlen, mut tail) = (0usize, 10usize);
        for item in items {
            let start = body.len();
            tail = 10 + start;
            if prevlen < 254 {
                body.push(prevlen as u8);
            } else {
                body.push(0xFE);
                body.extend_from_slice(&(prevlen as u32).to_le_bytes());
            }
            let as_int = std::str::from_utf8(item)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .filter(|v| v.to_string().as_bytes() == *item);
            match as_int {
                Some(v @ 0..=12) => body.push(0xF1 + v as u8),
                Some(v) if i8::try_from(v).is_ok() => body.extend_from_slice(&[0xFE, v as u8]),
                Some(v) if i16::try_from(v).is_ok() => {
                    body.push(0xC0);
                    body.extend_from_slice(&(v as i16).to_le_bytes());
                }
                Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => {
                    body.push(0xF0);
                    body.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
                }
                Some(v) if i32::try_from(v).is_ok() => {
                    body.push(0xD0);
                    body.extend_from_slice(&(v as i32).to_le_bytes());
                }
                Some(v) => {
                    body.push(0xE0);
                    body.extend_from_slice(&v.to_le_bytes());
                }
                None if item.len() < 64 => {
                    body.push(item.len() as u8);
                    body.extend_from_slice(item);
                }
                None => {
                    body.extend_from_slice(&[0x40 | (item.len() >> 8) as u8, item.len() as u8]);
                    body.extend_from_slice(item);
                }
            }
            prevlen = body.len() - start;
        }
        let mut zl = Vec::new();
        zl.extend_from_slice(&((11 + body.len()) as u32).to_le_bytes());
        zl.extend_from_slice(&(tail as u32).to_le_bytes());
        zl.extend_from_slice(&(items.len() as u16).to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(0xFF);
        zl
    }

    /// A zipmap as Redis 2.x writes it.
    pub fn zipmap(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut zm = vec![pairs.len() as u8];
        for (k, v) in pairs {
            zm.push(k.len() as u8);
            zm.extend_from_slice(k);
            zm.push(v.len() as u8);
            zm.push(1);
            zm.extend_from_slice(v);
            zm.push(0);
        }
        zm.push(0xFF);
        zm
    }

    pub fn intset(members: &[i64]) -> Vec<u8> {
        let mut is = Vec::new();
        is.extend_from_slice(&4u32.to_le_bytes());
        is.extend_from_slice(&(members.len() as u32).to_le_bytes());
        for m in members {
            is.extend_from_slice(&(*m as i32).to_le_bytes());
        }
        is
    }
}

/// A version 9 file with every value type of Redis 2.x-6.2, seconds expiries, idle and freq
/// opcodes, several databases and an already expired key.
fn old_format_file() -> Vec<u8> {
    let mut f = b"REDIS0009".to_vec();
    let aux = |f: &mut Vec<u8>, k: &str, v: &str| {
        f.push(0xFA);
        old::string(f, k.as_bytes());
        old::string(f, v.as_bytes());
    };
    aux(&mut f, "redis-ver", "5.0.14");
    aux(&mut f, "redis-bits", "64");
    f.extend_from_slice(&[0xFE, 0, 0xFB, 12, 1]);
    let key = |f: &mut Vec<u8>, t: u8, k: &str| {
        f.push(t);
        old::string(f, k.as_bytes());
    };
    key(&mut f, 1, "linked-list");
    old::len(&mut f, 3);
    for e in [b"a".as_slice(), b"12", &[b'z'; 100]] {
        old::string(&mut f, e);
    }
    key(&mut f, 3, "zset-text-scores");
    old::len(&mut f, 3);
    old::string(&mut f, b"m1");
    old::string(&mut f, b"1.5");
    old::string(&mut f, b"m2");
    f.push(254);
    old::string(&mut f, b"m3");
    f.push(255);
    key(&mut f, 9, "zipmap-hash");
    old::string(&mut f, &old::zipmap(&[(b"name", b"redis"), (b"n", b"42")]));
    let big: Vec<u8> = vec![b'q'; 300];
    let items: [&[u8]; 8] = [b"x", b"-5", b"300", b"70000", b"5000000000", b"12", b"", &big];
    key(&mut f, 10, "ziplist-list");
    old::string(&mut f, &old::ziplist(&items));
    key(&mut f, 11, "intset");
    old::string(&mut f, &old::intset(&[-100, 1, 2, 70000]));
    key(&mut f, 12, "ziplist-zset");
    old::string(&mut f, &old::ziplist(&[b"c", b"-3", b"a", b"1", b"b", b"2.5"]));
    key(&mut f, 13, "ziplist-hash");
    old::string(&mut f, &old::ziplist(&[b"f1", b"v1", b"f2", b"300", b"f3", &big]));
    // Long members: Redis keeps packed sorted sets and hashes packed, but not zipmaps.
    key(&mut f, 12, "ziplist-zset-long-member");
    old::string(&mut f, &old::ziplist(&[&big, b"1"]));
    key(&mut f, 9, "zipmap-long-value");
    old::string(&mut f, &old::zipmap(&[(b"f", &[b'v'; 100])]));
    key(&mut f, 14, "quicklist");
    old::len(&mut f, 2);
    old::string(&mut f, &old::ziplist(&items[..4]));
    old::string(&mut f, &old::ziplist(&items[4..]));
    // Seconds expiry (0xFD) in the future, an idle time (0xF8), an LFU counter (0xF9).
    f.push(0xFD);
    f.extend_from_slice(&2_000_000_000u32.to_le_bytes());
    key(&mut f, 0, "expires-in-seconds");
    old::string(&mut f, b"v");
    f.extend_from_slice(&[0xF8, 10]);
    key(&mut f, 0, "idle");
    old::string(&mut f, b"v");
    f.extend_from_slice(&[0xF9, 7]);
    key(&mut f, 0, "freq");
    old::string(&mut f, b"v");
    f.push(0xFC);
    f.extend_from_slice(&1000u64.to_le_bytes());
    key(&mut f, 0, "expired-long-ago");
    old::string(&mut f, b"gone");
    f.extend_from_slice(&[0xFE, 3]);
    key(&mut f, 0, "int8");
    f.extend_from_slice(&[0xC0, 0x85]);
    key(&mut f, 0, "int32");
    f.extend_from_slice(&[0xC2, 0x15, 0xCD, 0x5B, 0x07]);
    key(&mut f, 0, "lzf");
    // "aaaa...a" (50 bytes) as redis-server compressed it.
    f.extend_from_slice(&[0xC3, 0x09, 0x32, 0x01, 0x61, 0x61, 0xe0, 0x25, 0x00, 0x01, 0x61, 0x61]);
    f.push(0xFF);
    let crc = shardis::persistence::crc64::crc64(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

#[test]
fn old_formats_load_as_redis_loads_them() {
    if !redis_server_available() {
        eprintln!("redis-server not installed, skipping");
        return;
    }
    let dir = TempDir::new("old-formats");
    std::fs::write(dir.path().join("dump.rdb"), old_format_file()).unwrap();
    let redis = RedisServer::start_with(&["--dir", dir.arg(), "--sanitize-dump-payload", "yes"])
        .expect("redis-server");
    let expected = keyspace(&mut redis.client());
    assert_eq!(expected.len(), 16, "redis-server loaded {:?}", expected.keys().collect::<Vec<_>>());
    for threads in [1, 3] {
        let server = Server::start(threads, &["--dir", dir.arg()]);
        assert_same_keyspace(&expected, &keyspace(&mut server.client()), &format!("{threads} threads"));
    }
}

#[test]
fn a_stream_in_the_file_is_refused_by_name() {
    let Some(redis) = start_redis_or_skip() else { return };
    let mut rc = redis.client();
    let _: () = q(&mut rc, cmd("SET").arg("plain").arg("v"));
    let _: String = q(&mut rc, cmd("XADD").arg("events").arg("*").arg("f").arg("v"));
    let _: () = q(&mut rc, &cmd("SAVE"));
    let dir = TempDir::new("stream");
    let file = dir.path().join("dump.rdb");
    std::fs::copy(config_dir(&mut rc).join("dump.rdb"), &file).unwrap();
    let (status, output) = run_to_exit(dir.path(), 2);
    assert!(!status.success());
    assert!(output.contains("key 'events'") && output.contains("stream"), "{output}");
    assert!(output.contains(file.to_str().unwrap()), "{output}");
}
