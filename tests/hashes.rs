//! The hash group against redis-server: every command, option, error and edge case, compared
//! byte for byte with shardis (1 and 4 threads, RESP2 and RESP3), plus a seeded random sequence.
//! Replies whose order Redis leaves unspecified (a hashtable's HGETALL, HKEYS...) are compared
//! as multisets; random picks (HRANDFIELD) only where they are deterministic.
//!
//! Set `DIFF_VERBOSE=1` to print every command with both replies.

mod common;

use common::diff::*;

fn writes_and_reads() -> Script {
    let mut s = Script::new();
    s.lines(
        "HSET h a 1 b 2 c 3
         HSET h a 10 d 4
         HGET h a
         HGET h zz
         HGET missing a
         HMGET h a b zz d
         HMGET missing a b
         HLEN h
         HLEN missing
         HSTRLEN h a
         HSTRLEN h zz
         HSTRLEN missing a
         HEXISTS h a
         HEXISTS h zz
         HEXISTS missing a
         HKEYS h
         HVALS h
         HGETALL h
         HKEYS missing
         HVALS missing
         HGETALL missing
         HSETNX h a 5
         HSETNX h e 5
         HGET h e
         HSETNX new f v
         HGETALL new
         HMSET h a 100 f 6
         HMSET h a
         HMSET h a 1 b
         HSET h a
         HSET h a 1 b
         HGETALL h
         HDEL h a b zz
         HDEL h zz
         HDEL missing a
         HGETALL h
         HDEL h c d e f
         EXISTS h
         HSET n 1 -1 2 100000 3 9223372036854775807 4 -9223372036854775808 007 x -0 y 1.5 z
         HGETALL n
         HGET n 007
         HGET n 7
         HSTRLEN n 3
         HSTRLEN n 4
         SET s v
         HSET s a 1
         HMSET s a 1
         HSETNX s a 1
         HGET s a
         HMGET s a
         HLEN s
         HSTRLEN s a
         HEXISTS s a
         HKEYS s
         HVALS s
         HGETALL s
         HDEL s a
         HINCRBY s a 1
         HINCRBYFLOAT s a 1
         HRANDFIELD s
         HRANDFIELD s 1
         HSCAN s 0",
    );
    s.xa(&[b"HSET", b"bin", b"", b"empty", b"a\x00b", b"\r\n"]).x("HGETALL bin").xa(&[b"HGET", b"bin", b""]);
    s
}

fn counters() -> Script {
    let mut s = Script::new();
    s.lines(
        "HINCRBY h a 1
         HINCRBY h a 10
         HINCRBY h a -100
         HINCRBY h a abc
         HINCRBY h a 1.5
         HINCRBY h a 9223372036854775808
         HSET h big 9223372036854775806
         HINCRBY h big 1
         HINCRBY h big 1
         HINCRBY h big -1
         HSET h neg -9223372036854775807
         HINCRBY h neg -1
         HINCRBY h neg -1
         HSET h str abc
         HINCRBY h str 1
         HSET h lead 01
         HINCRBY h lead 1
         HINCRBY new f -5
         HGETALL new
         HINCRBYFLOAT f x 0.1
         HINCRBYFLOAT f x 0.2
         HINCRBYFLOAT f x 1e3
         HINCRBYFLOAT f x -1000.3
         HINCRBYFLOAT f y 10.5
         HINCRBYFLOAT f y 0x10
         HINCRBYFLOAT f y 1e-20
         HINCRBYFLOAT f z 1.7976931348623157e308
         HINCRBYFLOAT f x abc
         HINCRBYFLOAT f x ''
         HINCRBYFLOAT f x nan
         HINCRBYFLOAT f x inf
         HINCRBYFLOAT f x -inf
         HINCRBYFLOAT f x 1e5000
         HSET f s abc
         HINCRBYFLOAT f s 1
         HSET f i 5
         HINCRBYFLOAT f i 1.5
         HINCRBYFLOAT f i 1.18973149535723176502e4932
         HSET f e 1e5
         HINCRBYFLOAT f e 1
         HINCRBYFLOAT missing2 a 3.0e3
         HINCRBY h a
         HINCRBYFLOAT h a",
    );
    s.u("HGETALL f");
    s.xa(&[b"HSET", b"f", b"sp", b" 1"]).x("HINCRBYFLOAT f sp 1").x("HINCRBY f sp 1");
    s.x("HINCRBYFLOAT f big 1.18973149535723176502e4932").x("HINCRBYFLOAT f big 1.18973149535723176502e4932");
    s
}

fn encodings() -> Script {
    let mut s = Script::new();
    s.lines(
        "HSET h a 1
         OBJECT ENCODING h
         CONFIG SET hash-max-listpack-entries 4
         HSET h b 2 c 3 d 4
         OBJECT ENCODING h
         HSET h e 5
         OBJECT ENCODING h
         HDEL h a b c d
         OBJECT ENCODING h
         HGETALL h
         CONFIG SET hash-max-listpack-value 5
         HSET v a 12345
         OBJECT ENCODING v
         HSET v a 123456
         OBJECT ENCODING v
         HSET w 123456 a
         OBJECT ENCODING w
         HSETNX x a 1
         HSETNX x a 1234567
         OBJECT ENCODING x
         HSET y a 1 b 2
         HSET y c 3 long 1234567
         OBJECT ENCODING y
         HINCRBY z a 99999
         OBJECT ENCODING z
         HINCRBY z a 1
         OBJECT ENCODING z
         HINCRBYFLOAT q a 1.5
         HINCRBYFLOAT q a 1000
         OBJECT ENCODING q
         HINCRBYFLOAT q2 abcdef 1
         OBJECT ENCODING q2
         HMSET m a 1 b 2 c 3 d 4 e 5
         OBJECT ENCODING m
         CONFIG SET hash-max-ziplist-entries 0
         HSET zero a 1
         OBJECT ENCODING zero
         CONFIG SET hash-max-listpack-entries 512
         CONFIG SET hash-max-listpack-value 64",
    );
    for i in 0..600 {
        s.x(&format!("HSET big f{i} {i}"));
        if i == 511 || i == 512 {
            s.x("OBJECT ENCODING big");
        }
    }
    s.x("HLEN big")
        .u("HKEYS big")
        .u("HVALS big")
        .u("HGETALL big")
        .x("HGET big f300")
        .x("HMGET big f1 f599 nope");
    s.x("HDEL big f1 f2 f3").x("HLEN big").x("HEXISTS big f2").x("HSTRLEN big f599");
    let long = "v".repeat(65);
    s.x(&format!("HSET lv f {long}")).x("OBJECT ENCODING lv").x("HGET lv f");
    s.x(&format!("HSET lf {long} v")).x("OBJECT ENCODING lf").x(&format!("HGET lf {long}"));
    s
}

fn randfield() -> Script {
    let mut s = Script::new();
    s.lines(
        "HSET h a 1 b 2 c 3
         HRANDFIELD h 3
         HRANDFIELD h 5
         HRANDFIELD h 3 WITHVALUES
         HRANDFIELD h 10 withvalues
         HRANDFIELD h 0
         HRANDFIELD h 0 WITHVALUES
         HRANDFIELD h 1 FOO
         HRANDFIELD h 1 WITHVALUES x
         HRANDFIELD h abc
         HRANDFIELD h -9223372036854775808
         HRANDFIELD h 9223372036854775807 WITHVALUES
         HRANDFIELD h -4611686018427387904 WITHVALUES
         HRANDFIELD h 4611686018427387904 WITHVALUES
         HRANDFIELD missing
         HRANDFIELD missing 5
         HRANDFIELD missing -5 WITHVALUES
         HRANDFIELD missing 0
         HRANDFIELD missing abc
         HSET one only 1
         HRANDFIELD one
         HRANDFIELD one 1
         HRANDFIELD one -3
         HRANDFIELD one -2 WITHVALUES
         HRANDFIELD one 1 WITHVALUES
         HRANDFIELD one 5 WITHVALUES",
    );
    // Random picks from several fields: compare only the reply's shape.
    for c in [
        "HRANDFIELD h",
        "HRANDFIELD h 2",
        "HRANDFIELD h -5",
        "HRANDFIELD h -5 WITHVALUES",
        "HRANDFIELD h 2 WITHVALUES",
    ] {
        s.ignore(c);
    }
    s
}

fn scans() -> Script {
    let mut s = Script::new();
    s.lines(
        "HSET h a 1 b 2 c 3 ab 4
         HSCAN h 0
         HSCAN h 0 MATCH a*
         HSCAN h 0 MATCH *b COUNT 1
         HSCAN h 0 COUNT 100
         HSCAN h 5
         HSCAN h 0 COUNT 0
         HSCAN h 0 COUNT -1
         HSCAN h 0 COUNT abc
         HSCAN h 0 MATCH
         HSCAN h 0 TYPE string
         HSCAN h 0 FOO bar
         HSCAN h abc
         HSCAN h -1
         HSCAN h 18446744073709551616
         HSCAN missing 0
         HSCAN missing abc
         HSCAN missing 0 COUNT 0
         HSCAN h",
    );
    for i in 0..200 {
        s.x(&format!("HSET big field:{i} {i}"));
    }
    s.x("HSCAN big 0 MATCH nomatch* COUNT 1000");
    s
}

/// A full HSCAN of a hashtable hash (cursor until 0) reports every field with its value at
/// least once, with and without MATCH, while the hash keeps its fields.
#[test]
fn hscan_walks_every_field() {
    let server = common::Server::start(2, &[]);
    let mut c = server.client();
    for i in 0..1000 {
        let _: i64 = redis::cmd("HSET").arg("big").arg(format!("field:{i}")).arg(i).query(&mut c).unwrap();
    }
    let enc: String = redis::cmd("OBJECT").arg("ENCODING").arg("big").query(&mut c).unwrap();
    assert_eq!(enc, "hashtable");
    for (pattern, want) in [("*", 1000), ("field:1*", 111)] {
        let mut seen = std::collections::HashMap::new();
        let mut cursor = 0u64;
        let mut calls = 0;
        loop {
            let (next, items): (u64, Vec<String>) = redis::cmd("HSCAN")
                .arg("big")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(20)
                .query(&mut c)
                .unwrap();
            for pair in items.chunks(2) {
                seen.insert(pair[0].clone(), pair[1].clone());
            }
            calls += 1;
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), want, "pattern {pattern}");
        assert!(seen.iter().all(|(f, v)| f == &format!("field:{v}")));
        assert!(calls > 5, "COUNT 20 should take several calls, took {calls}");
    }
}

fn arity_errors() -> Script {
    let mut s = Script::new();
    for c in [
        "HSET k f",
        "HSETNX k f",
        "HGET k",
        "HMGET k",
        "HDEL k",
        "HLEN",
        "HLEN a b",
        "HSTRLEN k",
        "HEXISTS k",
        "HKEYS",
        "HVALS",
        "HGETALL",
        "HINCRBY k f",
        "HINCRBYFLOAT k f",
        "HRANDFIELD",
        "HSCAN k",
        "HMSET k f",
    ] {
        s.x(c);
    }
    s
}

/// A seeded random sequence over the hash commands, with small listpack limits so hashes convert
/// part way. HGETALL-like replies of a converted hash are compared unordered.
fn random_script(seed: u64, steps: usize) -> Script {
    let mut rng = seed;
    let mut next = move |n: usize| -> usize {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let keys = ["a", "b", "c", "s"];
    let fields = ["f1", "f2", "f3", "f4", "f5", "f6", "1", "2", ""];
    let values = ["1", "-7", "0", "10.5", "abc", "", "9223372036854775807", "123456789012", "3e2"];
    let mut s = Script::new();
    s.x("CONFIG SET hash-max-listpack-entries 5").x("CONFIG SET hash-max-listpack-value 10").x("SET s str");
    for _ in 0..steps {
        let k = keys[next(keys.len())];
        let f = fields[next(fields.len())];
        let f2 = fields[next(fields.len())];
        let v = values[next(values.len())];
        let v2 = values[next(values.len())];
        let (cmd, check): (Vec<&str>, Check) = match next(17) {
            0 | 1 => (vec!["HSET", k, f, v], Check::Exact),
            2 => (vec!["HSET", k, f, v, f2, v2], Check::Exact),
            3 => (vec!["HSETNX", k, f, v], Check::Exact),
            4 | 5 => (vec!["HGET", k, f], Check::Exact),
            6 => (vec!["HMGET", k, f, f2], Check::Exact),
            7 => (vec!["HDEL", k, f, f2], Check::Exact),
            8 => (vec!["HLEN", k], Check::Exact),
            9 => (vec!["HSTRLEN", k, f], Check::Exact),
            10 => (vec!["HEXISTS", k, f], Check::Exact),
            11 => (vec!["HINCRBY", k, f, ["1", "-3", "abc", "100"][next(4)]], Check::Exact),
            12 => (vec!["HINCRBYFLOAT", k, f, ["1.5", "-0.25", "abc", "1e3"][next(4)]], Check::Exact),
            13 => (vec![["HKEYS", "HVALS", "HGETALL"][next(3)], k], Check::Unordered),
            14 => (vec!["OBJECT", "ENCODING", k], Check::Exact),
            15 => (vec!["HRANDFIELD", k, ["100", "0"][next(2)]], Check::Unordered),
            _ => (vec!["HSCAN", k, "0", "COUNT", "100"], Check::Exact),
        };
        // A hashtable's HSCAN order is unspecified, and the fields sit inside the reply's second
        // element, so it is not compared here (`hscan_walks_every_field` checks it).
        let check = if cmd[0] == "HSCAN" { Check::Ignore } else { check };
        s.push(cmd.iter().map(|a| a.as_bytes().to_vec()).collect(), check);
    }
    for k in keys {
        s.u(&format!("HGETALL {k}"));
    }
    s.x("CONFIG SET hash-max-listpack-entries 512").x("CONFIG SET hash-max-listpack-value 64");
    s
}

fn random_seed1() -> Script {
    random_script(0x9e37_79b9_7f4a_7c15, 3000)
}

fn random_seed2() -> Script {
    random_script(0x2545_f491_4f6c_dd1d, 3000)
}

diff_matrix! {
    writes_reads => writes_and_reads;
    counters_diff => counters;
    encodings_diff => encodings;
    randfield_diff => randfield;
    scans_diff => scans;
    arity_diff => arity_errors;
    random1 => random_seed1;
    random2 => random_seed2;
}
