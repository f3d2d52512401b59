//! Snapshots taken while clients write (`persistence::cow`): a BGSAVE or an AOF rewrite must
//! capture the keyspace of one moment, not a mix of before and after.
//!
//! The writer changes keys strictly in order (append, delete, create) after the snapshot
//! starts, so a snapshot of one moment shows, for each kind of change, a prefix of the writer's
//! sequence: a key changed later than one that is missing its change would betray a walk that
//! read a value written after its start.

mod common;

use common::*;

const KEYS: usize = 200_000;

fn pipeline(con: &mut RawConn, cmds: &[Vec<Vec<u8>>]) -> Vec<Vec<u8>> {
    let mut bytes = Vec::new();
    for c in cmds {
        let args: Vec<&[u8]> = c.iter().map(|a| a.as_slice()).collect();
        bytes.extend(encode_command(&args));
    }
    con.send(&bytes);
    cmds.iter().map(|_| con.read_reply()).collect()
}

fn key(i: usize) -> Vec<u8> {
    format!("k:{i}").into_bytes()
}

fn fill(con: &mut RawConn) {
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(1000) {
        let cmds: Vec<Vec<Vec<u8>>> =
            chunk.iter().map(|&i| vec![b"SET".to_vec(), key(i), b"old".to_vec()]).collect();
        for r in pipeline(con, &cmds) {
            assert_eq!(r, b"+OK\r\n");
        }
    }
}

/// Appends to keys 0.., deletes keys from the top down, and creates new keys, in that order,
/// 100 of each per batch, while `busy` says the snapshot is still being taken (and at least
/// `min_rounds` batches). Returns how many keys of each kind it changed.
fn write_in_order(con: &mut RawConn, min_rounds: usize, busy: &mut dyn FnMut(&mut RawConn) -> bool) -> usize {
    let mut r = 0;
    while r * 100 < KEYS / 4 && (r < min_rounds || busy(con)) {
        let mut cmds = Vec::new();
        for j in 0..100 {
            let n = r * 100 + j;
            // APPEND, not SET: applied twice (a walk that saw it, then the log again) it shows.
            cmds.push(vec![b"APPEND".to_vec(), key(n), b"+".to_vec()]);
            cmds.push(vec![b"DEL".to_vec(), key(KEYS - 1 - n)]);
            cmds.push(vec![b"SET".to_vec(), format!("fresh:{n}").into_bytes(), b"x".to_vec()]);
        }
        pipeline(con, &cmds);
        r += 1;
    }
    r * 100
}

/// For each kind of change, how far the snapshot got; panics unless each is a prefix.
fn check_one_moment(con: &mut RawConn, changed: usize) {
    let mut overwritten = Vec::new();
    let mut deleted = Vec::new();
    let mut created = Vec::new();
    for n in 0..changed {
        let r = pipeline(
            con,
            &[
                vec![b"GET".to_vec(), key(n)],
                vec![b"EXISTS".to_vec(), key(KEYS - 1 - n)],
                vec![b"EXISTS".to_vec(), format!("fresh:{n}").into_bytes()],
            ],
        );
        assert!(r[0] == b"$4\r\nold+\r\n" || r[0] == b"$3\r\nold\r\n", "key {n}: {}", show(&r[0]));
        overwritten.push(r[0] == b"$4\r\nold+\r\n");
        deleted.push(r[1] == b":0\r\n");
        created.push(r[2] == b":1\r\n");
    }
    for (what, v) in [("overwritten", &overwritten), ("deleted", &deleted), ("created", &created)] {
        let first_false = v.iter().position(|b| !b).unwrap_or(v.len());
        assert!(
            v[first_false..].iter().all(|b| !b),
            "{what}: changes after position {first_false} are in the snapshot but earlier ones are not"
        );
    }
    // Keys nobody touched are all there, with their old value.
    let untouched: Vec<Vec<Vec<u8>>> =
        (changed..KEYS - changed).map(|i| vec![b"GET".to_vec(), key(i)]).collect();
    for chunk in untouched.chunks(1000) {
        for r in pipeline(con, chunk) {
            assert_eq!(r, b"$3\r\nold\r\n");
        }
    }
}

fn info_field(con: &mut RawConn, field: &str) -> String {
    let reply = con.cmd(&[b"INFO", b"persistence"]);
    let text = String::from_utf8_lossy(&reply).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

#[test]
fn bgsave_captures_one_moment_while_clients_write() {
    for threads in [1, 2] {
        let dir = DataDir::new("cow-bgsave");
        let server = Server::start_in(dir.path(), threads, &["--save", ""]);
        let mut con = server.raw();
        fill(&mut con);
        assert_eq!(con.cmd(&[b"BGSAVE"]), b"+Background saving started\r\n");
        let changed = write_in_order(&mut con, 5, &mut |c| info_field(c, "rdb_bgsave_in_progress") != "0");
        // No event to wait on from outside: poll INFO until the save is done.
        let start = std::time::Instant::now();
        while info_field(&mut con, "rdb_bgsave_in_progress") != "0" {
            assert!(start.elapsed().as_secs() < 30, "BGSAVE did not finish");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
        // Load the snapshot alone: a new server on a copy of the file.
        let copy = DataDir::new("cow-bgsave-load");
        std::fs::copy(dir.path().join("dump.rdb"), copy.path().join("dump.rdb")).unwrap();
        drop(server);
        let loaded = Server::start_in(copy.path(), threads, &["--save", ""]);
        let mut con = loaded.raw();
        check_one_moment(&mut con, changed);
    }
}

#[test]
fn aof_rewrite_captures_one_moment_while_clients_write() {
    for threads in [1, 2] {
        let dir = DataDir::new("cow-aof");
        let server = Server::start_in(dir.path(), threads, &["--appendonly", "yes", "--save", ""]);
        let mut con = server.raw();
        fill(&mut con);
        assert_eq!(con.cmd(&[b"BGREWRITEAOF"]), b"+Background append only file rewriting started\r\n");
        let changed = write_in_order(&mut con, 5, &mut |c| {
            info_field(c, "aof_rewrites") == "0" || info_field(c, "aof_rewrite_in_progress") != "0"
        });
        let start = std::time::Instant::now();
        while info_field(&mut con, "aof_rewrites") == "0"
            || info_field(&mut con, "aof_rewrite_in_progress") != "0"
        {
            assert!(start.elapsed().as_secs() < 30, "the rewrite did not finish");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // Base + the writes after it must give exactly the final state: everything changed.
        let server = server.restart(threads, &["--appendonly", "yes", "--save", ""]);
        let mut con = server.raw();
        for n in 0..changed {
            let r = pipeline(
                &mut con,
                &[
                    vec![b"GET".to_vec(), key(n)],
                    vec![b"EXISTS".to_vec(), key(KEYS - 1 - n)],
                    vec![b"GET".to_vec(), format!("fresh:{n}").into_bytes()],
                ],
            );
            assert_eq!(r[0], b"$4\r\nold+\r\n", "key {n}");
            assert_eq!(r[1], b":0\r\n", "key {}", KEYS - 1 - n);
            assert_eq!(r[2], b"$1\r\nx\r\n", "fresh:{n}");
        }
        let dbsize = con.cmd(&[b"DBSIZE"]);
        assert_eq!(dbsize, format!(":{KEYS}\r\n").into_bytes());
    }
}
