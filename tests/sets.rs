//! Set commands against redis-server 7.0 (differential, RESP2 and RESP3, 1 and 4 threads),
//! plus a seeded random sequence. Multi-key commands use keys sharing a `{t}` hash tag.

mod common;

use common::diff::*;

fn set_script() -> Script {
    let mut s = Script::new();
    s.lines(
        "SADD {t}a 3 1 2
         SADD {t}a 2 5
         OBJECT ENCODING {t}a
         SMEMBERS {t}a
         SCARD {t}a
         SISMEMBER {t}a 1
         SISMEMBER {t}a 9
         SISMEMBER {t}nokey 1
         SMISMEMBER {t}a 1 9 5
         SMISMEMBER {t}nokey 1
         SREM {t}a 1 9
         SMEMBERS {t}a
         SADD {t}b 2 3 4 -100 70000 9223372036854775807
         SMEMBERS {t}b
         SINTER {t}a {t}b
         SINTER {t}a {t}nokey
         SUNION {t}a {t}b
         SDIFF {t}b {t}a
         SDIFF {t}nokey {t}a
         SINTERSTORE {t}d {t}a {t}b
         SMEMBERS {t}d
         SUNIONSTORE {t}d {t}a {t}b
         SMEMBERS {t}d
         SDIFFSTORE {t}d {t}b {t}a
         SMEMBERS {t}d
         SINTERSTORE {t}d {t}a {t}nokey
         EXISTS {t}d
         SINTERCARD 2 {t}a {t}b
         SINTERCARD 2 {t}a {t}b LIMIT 1
         SINTERCARD 2 {t}a {t}b LIMIT 0
         SINTERCARD 0 {t}a
         SINTERCARD x {t}a
         SINTERCARD 3 {t}a {t}b
         SINTERCARD 1 {t}a LIMIT -1
         SINTERCARD 1 {t}a LIMIT x
         SINTERCARD 1 {t}a FOO 1
         SINTERCARD 1 {t}a LIMIT
         SMOVE {t}a {t}c 3
         SMOVE {t}a {t}c 3
         SMOVE {t}nokey {t}c 3
         SMOVE {t}c {t}c 3
         SMOVE {t}c {t}c 9
         SMEMBERS {t}c
         EXISTS {t}a
         SMEMBERS {t}a
         SMOVE {t}a {t}c 2
         SMOVE {t}a {t}c 5
         EXISTS {t}a
         SSCAN {t}b 0
         SSCAN {t}b 0 MATCH 7*
         SSCAN {t}b 0 COUNT 0
         SSCAN {t}nokey 0 COUNT 0
         SSCAN {t}b x
         SSCAN {t}b 0 FOO
         SET {t}s str
         SADD {t}s a
         SREM {t}s a
         SMEMBERS {t}s
         SISMEMBER {t}s a
         SMISMEMBER {t}s a
         SCARD {t}s
         SPOP {t}s
         SRANDMEMBER {t}s
         SINTER {t}nokey {t}s
         SUNION {t}b {t}s
         SDIFF {t}nokey {t}s
         SINTERSTORE {t}d {t}s
         SMOVE {t}s {t}b 1
         SMOVE {t}b {t}s 2
         SINTERCARD 2 {t}nokey {t}s
         SSCAN {t}s 0
         SADD {t}a
         SREM {t}a
         SMISMEMBER {t}a
         SPOP
         SPOP {t}b -1
         SPOP {t}b x
         SPOP {t}b 1 2
         SPOP {t}b 0
         SPOP {t}nokey
         SPOP {t}nokey 3
         SRANDMEMBER {t}nokey
         SRANDMEMBER {t}nokey 3
         SRANDMEMBER {t}b 0
         SRANDMEMBER {t}b x
         SRANDMEMBER {t}b 1 2
         SRANDMEMBER {t}b -9223372036854775808
         SRANDMEMBER {t}b 100
         SADD {t}one 7
         SPOP {t}one
         EXISTS {t}one
         SADD {t}one 7
         SRANDMEMBER {t}one
         SRANDMEMBER {t}one -3
         SPOP {t}one 5
         EXISTS {t}one",
    );
    // Conversions: a string member, and CONFIG'd intset size.
    s.lines(
        "SADD {t}e 1 2
         SADD {t}e 01
         OBJECT ENCODING {t}e
         SREM {t}e 01
         OBJECT ENCODING {t}e
         CONFIG SET set-max-intset-entries 3
         SADD {t}f 1 2 3
         OBJECT ENCODING {t}f
         SADD {t}f 4
         OBJECT ENCODING {t}f
         SADD {t}g 1 2 3 4
         OBJECT ENCODING {t}g
         SUNIONSTORE {t}h {t}f {t}f
         OBJECT ENCODING {t}h
         SINTERSTORE {t}h {t}f {t}f
         OBJECT ENCODING {t}h
         CONFIG SET set-max-intset-entries 512
         SADD {t}i -0 1
         OBJECT ENCODING {t}i",
    );
    s.u("SMEMBERS {t}e").u("SMEMBERS {t}f").u("SMEMBERS {t}i");
    s.lines(
        "SADD {t}w a b c d 1 2
         SADD {t}v c d e 2 3",
    );
    s.u("SINTER {t}w {t}v").u("SUNION {t}w {t}v").u("SDIFF {t}w {t}v").u("SMEMBERS {t}w");
    s.u("SRANDMEMBER {t}w 100").u("SPOP {t}w 100");
    s.x("EXISTS {t}w");
    s.x("SUNIONSTORE {t}x {t}w {t}v {t}nokey").x("OBJECT ENCODING {t}x");
    s.x("SET {t}x str").x("SDIFFSTORE {t}x {t}v").x("TYPE {t}x");
    s.x("EXPIRE {t}x 100").x("SUNIONSTORE {t}x {t}v").x("TTL {t}x");
    s
}

/// A seeded random sequence over the set commands on a few keys, intset and hashtable alike.
/// Replies whose order Redis leaves unspecified compare unordered; random picks compare only
/// their sizes (by the command that counts them afterwards).
fn random_set_script(seed: u64, steps: usize) -> Script {
    let mut rng = seed;
    let mut next = move |n: usize| -> usize {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let keys = ["{t}a", "{t}b", "{t}c", "{t}str", "{t}none"];
    let members = ["1", "2", "3", "-5", "100000", "a", "b", "", "01", "x y"];
    let mut s = Script::new();
    s.x("SET {t}str v");
    for _ in 0..steps {
        let k = keys[next(keys.len())];
        let k2 = keys[next(keys.len())];
        let m = members[next(members.len())];
        let m2 = members[next(members.len())];
        let args: Vec<&str> = match next(16) {
            0..=3 => vec!["SADD", k, m, m2],
            4 | 5 => vec!["SREM", k, m, m2],
            6 => vec!["SISMEMBER", k, m],
            7 => vec!["SMISMEMBER", k, m, m2],
            8 => vec!["SCARD", k],
            9 => vec!["SMOVE", k, k2, m],
            10 => vec!["SINTERCARD", "2", k, k2],
            11 => vec!["SINTERSTORE", k, k, k2],
            12 => vec!["SUNIONSTORE", k, k2, k],
            13 => vec!["SDIFFSTORE", k, k2, k],
            14 => vec!["OBJECT", "ENCODING", k],
            _ => vec!["TYPE", k],
        };
        s.ua(&args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>());
        if next(4) == 0 {
            s.u(&format!("SMEMBERS {k}"));
            s.u(&format!("SUNION {k} {k2}"));
            s.u(&format!("SDIFF {k} {k2}"));
            s.u(&format!("SINTER {k} {k2}"));
        }
    }
    s
}

fn random_set_script_1() -> Script {
    random_set_script(0x9e37_79b9_7f4a_7c15, 2000)
}

fn random_set_script_2() -> Script {
    random_set_script(0x1234_5678_9abc_def1, 2000)
}

diff_cases! {
    sets_t1_resp2: set_script, 1, false;
    sets_t4_resp2: set_script, 4, false;
    sets_t1_resp3: set_script, 1, true;
    sets_t4_resp3: set_script, 4, true;
    random_sets_1_t1: random_set_script_1, 1, false;
    random_sets_1_t4_resp3: random_set_script_1, 4, true;
    random_sets_2_t1_resp3: random_set_script_2, 1, true;
    random_sets_2_t4: random_set_script_2, 4, false;
}

/// SSCAN over a hashtable returns every member exactly once across the cursor's walk
/// (bucket order is ours, so this is not compared with Redis byte for byte).
#[test]
fn sscan_walks_a_hashtable_set() {
    let server = common::Server::start(1, &[]);
    let mut c = server.raw();
    let mut args: Vec<Vec<u8>> = vec![b"SADD".to_vec(), b"big".to_vec()];
    for i in 0..1000 {
        args.push(format!("m{i}").into_bytes());
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    assert_eq!(c.cmd(&refs), b":1000\r\n");
    let mut seen = std::collections::HashSet::new();
    let mut cursor = b"0".to_vec();
    loop {
        let reply = c.cmd(&[b"SSCAN", b"big", &cursor, b"COUNT", b"50"]);
        let (next, members) = parse_scan_reply(&reply);
        for m in members {
            seen.insert(m);
        }
        if next == b"0" {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 1000);
}

/// Splits a `[cursor, [item ...]]` reply of bulk strings.
pub fn parse_scan_reply(r: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let text = r.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).collect::<Vec<_>>();
    // *2, $n, cursor, *m, then ($n, item) pairs.
    let cursor = text[2].to_vec();
    let items = text[4..].chunks(2).filter(|c| c.len() == 2).map(|c| c[1].to_vec()).collect();
    (cursor, items)
}
