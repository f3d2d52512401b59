//! The list group against redis-server: every command, option, error and edge case, compared
//! byte for byte with shardis (1 and 4 threads, RESP2 and RESP3), plus a seeded random sequence.
//! Multi-key commands use keys sharing a hash tag (`{l}`) so they run on one shard.
//!
//! Set `DIFF_VERBOSE=1` to print every command with both replies.

mod common;

use common::diff::*;

fn pushes_and_pops() -> Script {
    let mut s = Script::new();
    s.lines(
        "LPUSH l a b c
         RPUSH l d e
         LRANGE l 0 -1
         LLEN l
         LPUSHX l x
         RPUSHX l y z
         LPUSHX nol x
         RPUSHX nol x
         EXISTS nol
         LRANGE l 0 -1
         LPOP l
         RPOP l
         LPOP l 2
         RPOP l 2
         LPOP l 0
         RPOP l 0
         LRANGE l 0 -1
         LPOP l 100
         EXISTS l
         LPOP l
         RPOP l
         LPOP l 2
         RPOP l 0
         LPOP l abc
         LPOP l -1
         RPOP l 1 2
         LPOP
         LPUSH
         LPUSH l
         RPUSH l 1 2 3 -1 100000 -100000 9223372036854775807 -9223372036854775808 007 -0 1.5 abc
         LRANGE l 0 -1
         LINDEX l 5
         LPOP l 3
         RPOP l 3
         LRANGE l 0 -1
         DEL l
         SET s v
         LPUSH s a
         RPUSH s a
         LPUSHX s a
         RPUSHX s a
         LPOP s
         RPOP s
         LPOP s 2
         LLEN s
         LLEN missing
         LLEN",
    );
    s.xa(&[b"RPUSH", b"bin", b"", b"a\x00b", b"\r\n"]).x("LRANGE bin 0 -1").x("LPOP bin 3");
    let long = "x".repeat(10000);
    s.x(&format!("RPUSH big {long} small {long}")).x("LRANGE big 0 -1").x("LLEN big").x("RPOP big");
    s
}

fn reads() -> Script {
    let mut s = Script::new();
    s.lines(
        "RPUSH l a b c d e f a b c
         LRANGE l 0 -1
         LRANGE l 0 0
         LRANGE l -3 -1
         LRANGE l -100 2
         LRANGE l 5 2
         LRANGE l 100 200
         LRANGE l -1 -3
         LRANGE l 2 100
         LRANGE l 0 -100
         LRANGE l -9223372036854775808 9223372036854775807
         LRANGE l a 1
         LRANGE l 1 b
         LRANGE missing 0 -1
         LRANGE missing a 1
         LINDEX l 0
         LINDEX l -1
         LINDEX l 8
         LINDEX l 9
         LINDEX l -9
         LINDEX l -10
         LINDEX l abc
         LINDEX missing 0
         LINDEX missing abc
         LPOS l a
         LPOS l c
         LPOS l z
         LPOS l a RANK 2
         LPOS l a RANK 3
         LPOS l a RANK -1
         LPOS l a RANK -2
         LPOS l a RANK -3
         LPOS l a COUNT 0
         LPOS l a COUNT 1
         LPOS l a COUNT 5
         LPOS l b COUNT 0 RANK -1
         LPOS l b COUNT 1 RANK 2
         LPOS l c MAXLEN 3
         LPOS l c MAXLEN 2
         LPOS l c MAXLEN 0
         LPOS l c COUNT 0 MAXLEN 9
         LPOS l c RANK -1 MAXLEN 1
         LPOS l c RANK -1 MAXLEN 2 COUNT 0
         LPOS l a RANK 0
         LPOS l a RANK abc
         LPOS l a RANK -9223372036854775808
         LPOS l a RANK 9223372036854775807
         LPOS l a RANK -9223372036854775807
         LPOS l a COUNT -1
         LPOS l a COUNT abc
         LPOS l a MAXLEN -1
         LPOS l a MAXLEN abc
         LPOS l a FOO
         LPOS l a RANK
         LPOS l a COUNT
         LPOS missing a
         LPOS missing a COUNT 0
         LPOS missing a RANK 0
         LPOS l
         SET s v
         LRANGE s 0 -1
         LINDEX s 0
         LPOS s a
         LPOS s a COUNT 1",
    );
    s.x("RPUSH n 1 2 3 1 2 3 100 -5").x("LPOS n 1 COUNT 0").x("LPOS n 100").x("LPOS n -5").x("LPOS n 01");
    s
}

fn edits() -> Script {
    let mut s = Script::new();
    s.lines(
        "RPUSH l a b c d e
         LSET l 0 A
         LSET l -1 E
         LSET l 2 123
         LRANGE l 0 -1
         LSET l 5 x
         LSET l -6 x
         LSET l abc x
         LSET missing 0 x
         LSET missing abc x
         LINSERT l BEFORE b x
         LINSERT l AFTER b y
         LINSERT l after E z
         LINSERT l before A w
         LINSERT l BEFORE nope x
         LINSERT l MIDDLE b x
         LINSERT missing BEFORE a x
         LINSERT missing MIDDLE a x
         LINSERT l BEFORE 123 x
         LRANGE l 0 -1
         RPUSH r a b a c a b a
         LREM r 2 a
         LRANGE r 0 -1
         LREM r -1 a
         LRANGE r 0 -1
         LREM r 0 b
         LRANGE r 0 -1
         LREM r 0 zz
         LREM r abc a
         LREM missing 1 a
         LREM r 0 a
         LREM r 0 c
         EXISTS r
         RPUSH t 0 1 2 3 4 5 6 7 8 9
         LTRIM t 1 -2
         LRANGE t 0 -1
         LTRIM t -3 100
         LRANGE t 0 -1
         LTRIM t 0 0
         LRANGE t 0 -1
         LTRIM t 5 1
         EXISTS t
         LTRIM missing 0 1
         LTRIM t a 1
         RPUSH t2 a b c
         LTRIM t2 -100 -3
         LRANGE t2 0 -1
         LTRIM t2 1 0
         EXISTS t2
         SET s v
         LSET s 0 x
         LINSERT s BEFORE a b
         LREM s 0 a
         LTRIM s 0 1",
    );
    s
}

fn moves() -> Script {
    let mut s = Script::new();
    s.lines(
        "RPUSH {l}a 1 2 3
         LMOVE {l}a {l}b LEFT RIGHT
         LMOVE {l}a {l}b RIGHT LEFT
         LMOVE {l}a {l}b left left
         LRANGE {l}b 0 -1
         EXISTS {l}a
         LMOVE {l}a {l}b LEFT RIGHT
         LMOVE {l}b {l}b LEFT RIGHT
         LRANGE {l}b 0 -1
         LMOVE {l}b {l}b RIGHT LEFT
         LMOVE {l}b {l}b MIDDLE LEFT
         LMOVE {l}b {l}b LEFT UP
         RPOPLPUSH {l}b {l}c
         RPOPLPUSH {l}b {l}c
         RPOPLPUSH {l}b {l}c
         RPOPLPUSH {l}b {l}c
         LRANGE {l}c 0 -1
         SET {l}s v
         RPOPLPUSH {l}c {l}s
         LMOVE {l}c {l}s LEFT LEFT
         LRANGE {l}c 0 -1
         RPOPLPUSH {l}s {l}c
         RPOPLPUSH {l}missing {l}s
         LMOVE {l}missing {l}s LEFT LEFT
         LMPOP 2 {l}x {l}c LEFT
         LMPOP 2 {l}x {l}c RIGHT COUNT 10
         LMPOP 2 {l}x {l}c RIGHT COUNT 10
         RPUSH {l}y 1 2 3 4 5
         LMPOP 1 {l}y LEFT COUNT 2
         LMPOP 1 {l}y right COUNT 2
         LMPOP 1 {l}y LEFT COUNT 0
         LMPOP 1 {l}y LEFT COUNT -1
         LMPOP 1 {l}y LEFT COUNT abc
         LMPOP 1 {l}y LEFT COUNT 1 COUNT 1
         LMPOP 1 {l}y LEFT COUNT
         LMPOP 1 {l}y LEFT FOO
         LMPOP 1 {l}y MIDDLE
         LMPOP 0 {l}y LEFT
         LMPOP -1 {l}y LEFT
         LMPOP abc {l}y LEFT
         LMPOP 2 {l}y LEFT
         LMPOP 3 {l}y LEFT
         LMPOP 1 {l}y
         LMPOP 2 {l}s {l}y LEFT
         LMPOP 2 {l}y {l}s LEFT
         LMPOP 1 {l}y LEFT
         LMPOP 1 {l}none LEFT
         LMOVE {l}a {l}b
         RPOPLPUSH {l}a",
    );
    s
}

fn blocking() -> Script {
    let mut s = Script::new();
    s.lines(
        "RPUSH {l}a 1 2 3
         RPUSH {l}b x
         BLPOP {l}a 0
         BRPOP {l}a 0
         BLPOP {l}none {l}b {l}a 1
         BRPOP {l}none {l}a 0.5
         EXISTS {l}b
         BLPOP {l}a 0.01
         BRPOP {l}a 0.01
         BLPOP {l}a -1
         BLPOP {l}a abc
         BLPOP {l}a inf
         BLPOP {l}a -inf
         BLPOP {l}a nan
         BLPOP {l}a 1e20
         BLPOP {l}a 9223372036854776
         BLPOP {l}a 0x
         BLPOP {l}a 1e-5000
         BLPOP {l}a
         SET {l}s v
         BLPOP {l}s 0
         BLPOP {l}none {l}s 0
         BLPOP {l}s abc
         RPUSH {l}c 1 2 3
         BLMOVE {l}c {l}d LEFT RIGHT 0
         BLMOVE {l}c {l}d RIGHT LEFT 0.01
         LRANGE {l}d 0 -1
         BLMOVE {l}none {l}d LEFT RIGHT 0.01
         BLMOVE {l}c {l}d LEFT RIGHT -1
         BLMOVE {l}c {l}d MIDDLE RIGHT -1
         BLMOVE {l}c {l}d LEFT RIGHT abc
         BLMOVE {l}c {l}s LEFT RIGHT 0
         BLMOVE {l}s {l}d LEFT RIGHT 0
         BRPOPLPUSH {l}c {l}d 0
         BRPOPLPUSH {l}c {l}d 0.01
         BRPOPLPUSH {l}c {l}d -1
         BRPOPLPUSH {l}s {l}d 0
         LRANGE {l}d 0 -1
         BLMPOP 0 2 {l}none {l}d LEFT
         BLMPOP 0.01 2 {l}none {l}d RIGHT COUNT 5
         BLMPOP 0.01 2 {l}none {l}d RIGHT COUNT 5
         BLMPOP -1 1 {l}d LEFT
         BLMPOP abc 1 {l}d LEFT
         BLMPOP 0 0 {l}d LEFT
         BLMPOP 0 1 {l}d MIDDLE
         BLMPOP 0 1 {l}d LEFT COUNT 0
         BLMPOP 0 1 {l}s LEFT
         BLMPOP 0 1",
    );
    s
}

fn encodings() -> Script {
    let mut s = Script::new();
    s.lines(
        "RPUSH l a b c
         OBJECT ENCODING l
         CONFIG SET list-max-listpack-size 4
         RPUSH l d e f g h i j
         OBJECT ENCODING l
         LINSERT l BEFORE e x
         LSET l 1 yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy
         LRANGE l 0 -1
         LTRIM l 0 1
         OBJECT ENCODING l
         LRANGE l 0 -1
         CONFIG SET list-max-listpack-size 1
         RPUSH l 1 2 3
         LRANGE l 0 -1
         LINSERT l AFTER 2 z
         LRANGE l 0 -1
         CONFIG SET list-max-ziplist-size -1
         CONFIG GET list-max-listpack-size
         CONFIG SET list-max-listpack-size -2",
    );
    let long = "v".repeat(3000);
    s.x(&format!("RPUSH big {long} {long} {long} {long} {long}"))
        .x("OBJECT ENCODING big")
        .x("LINDEX big 3")
        .x(&format!("LINSERT big BEFORE {long} w"))
        .x("LRANGE big 0 1")
        .x("LLEN big");
    for i in 0..300 {
        s.x(&format!("RPUSH many item{i} {i}"));
    }
    s.x("LRANGE many 0 -1").x("LINDEX many 301").x("LPOS many 150").x("LREM many 0 item77").x("LLEN many");
    s.x("LTRIM many 100 -100").x("LRANGE many 0 -1").x("LSET many 200 x").x("LRANGE many 195 205");
    s
}

fn arity_errors() -> Script {
    let mut s = Script::new();
    for c in [
        "LPUSH k",
        "RPUSH k",
        "LPUSHX k",
        "RPUSHX k",
        "LPOP",
        "RPOP",
        "LLEN",
        "LLEN a b",
        "LRANGE k 0",
        "LINDEX k",
        "LSET k 0",
        "LINSERT k BEFORE a",
        "LREM k 0",
        "LTRIM k 0",
        "LPOS k",
        "LMOVE a b LEFT",
        "RPOPLPUSH a",
        "LMPOP 1 a",
        "BLPOP k",
        "BRPOP k",
        "BLMOVE a b LEFT RIGHT",
        "BRPOPLPUSH a b",
        "BLMPOP 0 1 a",
    ] {
        s.x(c);
    }
    s
}

/// A seeded random sequence over the list commands on a few keys (one of them a string, two
/// sharing a hash tag), with a small node size so nodes split and empty often.
fn random_script(seed: u64, steps: usize) -> Script {
    let mut rng = seed;
    let mut next = move |n: usize| -> usize {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let keys = ["{r}a", "{r}b", "{r}c", "{r}s"];
    let values = ["1", "2", "x", "yy", "", "-5", "300", "abc", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"];
    let idx = ["0", "1", "-1", "2", "-3", "5", "100", "-100"];
    let mut s = Script::new();
    s.x("CONFIG SET list-max-listpack-size 3").x("SET {r}s str");
    for _ in 0..steps {
        let k = keys[next(keys.len())];
        let k2 = keys[next(keys.len())];
        let v = values[next(values.len())];
        let v2 = values[next(values.len())];
        let i = idx[next(idx.len())];
        let j = idx[next(idx.len())];
        let side = ["LEFT", "RIGHT"][next(2)];
        let side2 = ["LEFT", "RIGHT"][next(2)];
        let cmd: Vec<&str> = match next(22) {
            0 | 1 => vec!["RPUSH", k, v, v2],
            2 | 3 => vec!["LPUSH", k, v],
            4 => vec!["LPUSHX", k, v],
            5 => vec!["RPUSHX", k, v, v2],
            6 => vec!["LPOP", k],
            7 => vec!["RPOP", k, ["1", "2", "0"][next(3)]],
            8 | 9 => vec!["LRANGE", k, i, j],
            10 => vec!["LINDEX", k, i],
            11 => vec!["LSET", k, i, v],
            12 => vec!["LINSERT", k, ["BEFORE", "AFTER"][next(2)], v, v2],
            13 => vec!["LREM", k, i, v],
            14 => vec!["LTRIM", k, i, j],
            15 => vec!["LPOS", k, v, "RANK", ["1", "-1", "2"][next(3)], "COUNT", ["0", "1", "2"][next(3)]],
            16 => vec!["LMOVE", k, k2, side, side2],
            17 => vec!["RPOPLPUSH", k, k2],
            18 => vec!["LMPOP", "2", k, k2, side, "COUNT", ["1", "3"][next(2)]],
            19 => vec!["BLPOP", k, k2, "0.01"],
            20 => vec!["LLEN", k],
            _ => vec!["BRPOPLPUSH", k, k2, "0.01"],
        };
        s.xa(&cmd.iter().map(|a| a.as_bytes()).collect::<Vec<_>>());
    }
    for k in keys {
        s.x(&format!("LRANGE {k} 0 -1"));
    }
    s.x("CONFIG SET list-max-listpack-size -2");
    s
}

fn random_seed1() -> Script {
    random_script(0x9e37_79b9_7f4a_7c15, 3000)
}

fn random_seed2() -> Script {
    random_script(0x2545_f491_4f6c_dd1d, 3000)
}

diff_matrix! {
    pushes_pops => pushes_and_pops;
    reads_diff => reads;
    edits_diff => edits;
    moves_diff => moves;
    blocking_diff => blocking;
    encodings_diff => encodings;
    arity_diff => arity_errors;
    random1 => random_seed1;
    random2 => random_seed2;
}
