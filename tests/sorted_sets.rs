//! Sorted-set commands against redis-server 7.0 (differential, RESP2 and RESP3, 1 and 4
//! threads), plus a seeded random sequence. Multi-key commands use keys sharing `{t}`.

mod common;

use common::diff::*;

fn zset_script() -> Script {
    let mut s = Script::new();
    s.lines(
        "ZADD {t}z 1 a 2 b 3 c
         ZADD {t}z 1.5 d -1 e
         ZADD {t}z NX 10 a 7 f
         ZADD {t}z XX 10 a 7 g
         ZADD {t}z XX CH 11 a 2 b
         ZADD {t}z GT CH 5 a 20 b
         ZADD {t}z LT CH 50 a 1 b
         ZADD {t}z INCR 2.5 a
         ZADD {t}z NX INCR 1 a
         ZADD {t}z XX INCR 1 nokey
         ZADD {t}z GT INCR -1 a
         ZADD {t}z 1e300 big -inf minf +inf pinf
         ZINCRBY {t}z 0.1 e
         ZINCRBY {t}z x e
         ZINCRBY {t}z -inf pinf
         ZINCRBY {t}z 1 newm
         ZADD {t}z XX NX 1 a
         ZADD {t}z GT LT 1 a
         ZADD {t}z NX GT 1 a
         ZADD {t}z INCR 1 a 2 b
         ZADD {t}z 1 a 2
         ZADD {t}z x a
         ZADD {t}z nan a
         ZADD {t}z 1
         ZADD {t}z ch 1
         ZADD {t}nokey XX 1 a
         EXISTS {t}nokey
         ZCARD {t}z
         ZCARD {t}nokey
         ZSCORE {t}z a
         ZSCORE {t}z big
         ZSCORE {t}z minf
         ZSCORE {t}z nope
         ZMSCORE {t}z a nope e
         ZMSCORE {t}nokey a
         ZRANK {t}z a
         ZREVRANK {t}z a
         ZRANK {t}z nope
         ZRANK {t}nokey a
         ZRANGE {t}z 0 -1
         ZRANGE {t}z 0 -1 WITHSCORES
         ZRANGE {t}z 2 3 WITHSCORES
         ZRANGE {t}z -3 -1 REV WITHSCORES
         ZRANGE {t}z 5 1
         ZRANGE {t}z 100 200
         ZRANGE {t}z -100 100 REV
         ZRANGE {t}z 0 1 LIMIT 0 1
         ZRANGE {t}z x 1
         ZRANGE {t}z 0 -1 FOO
         ZRANGE {t}z (1 3 BYSCORE WITHSCORES
         ZRANGE {t}z 3 (1 BYSCORE REV WITHSCORES
         ZRANGE {t}z -inf +inf BYSCORE LIMIT 1 2
         ZRANGE {t}z -inf +inf BYSCORE LIMIT -1 2
         ZRANGE {t}z -inf +inf BYSCORE LIMIT 2 -1
         ZRANGE {t}z +inf -inf BYSCORE REV LIMIT 1 3 WITHSCORES
         ZRANGE {t}z a b BYSCORE
         ZRANGE {t}z a b BYLEX
         ZRANGE {t}z [a [b BYLEX WITHSCORES
         ZRANGE {t}z 0 1 BYLEX BYSCORE
         ZRANGE {t}z 0 1 REV REV
         ZRANGE {t}nokey 0 -1
         ZREVRANGE {t}z 0 2 WITHSCORES
         ZREVRANGE {t}z 0 1 LIMIT 0 1
         ZRANGEBYSCORE {t}z 1 3
         ZRANGEBYSCORE {t}z (1 (3 WITHSCORES
         ZRANGEBYSCORE {t}z 1 3 REV
         ZRANGEBYSCORE {t}z -inf inf LIMIT 2 2 WITHSCORES
         ZREVRANGEBYSCORE {t}z 3 1 WITHSCORES
         ZREVRANGEBYSCORE {t}z +inf -inf LIMIT 0 3
         ZRANGEBYSCORE {t}z 3 1
         ZRANGEBYSCORE {t}z (2 2
         ZCOUNT {t}z 1 3
         ZCOUNT {t}z (1 3
         ZCOUNT {t}z -inf +inf
         ZCOUNT {t}z x 3
         ZCOUNT {t}nokey 1 3
         ZREMRANGEBYSCORE {t}z 1e300 1e300
         ZREMRANGEBYSCORE {t}z x 1
         ZREMRANGEBYRANK {t}z 0 0
         ZREMRANGEBYRANK {t}z -1 -1
         ZREMRANGEBYRANK {t}z 5 1
         ZREMRANGEBYRANK {t}z x 1
         ZRANGE {t}z 0 -1 WITHSCORES
         ZPOPMIN {t}z
         ZPOPMAX {t}z
         ZPOPMIN {t}z 2
         ZPOPMAX {t}z 0
         ZPOPMIN {t}z -1
         ZPOPMIN {t}z x
         ZPOPMIN {t}z 1 2
         ZPOPMIN {t}nokey
         ZPOPMIN {t}nokey 2
         ZRANGE {t}z 0 -1 WITHSCORES
         ZPOPMAX {t}z 100
         EXISTS {t}z",
    );
    // Lex ranges (all scores equal).
    s.lines(
        "ZADD {t}l 0 a 0 b 0 c 0 d 0 e 0 ff 0 g
         ZRANGEBYLEX {t}l - +
         ZRANGEBYLEX {t}l [b (e
         ZRANGEBYLEX {t}l (b [e LIMIT 1 2
         ZREVRANGEBYLEX {t}l + - LIMIT 0 3
         ZREVRANGEBYLEX {t}l [e (b
         ZRANGEBYLEX {t}l + -
         ZRANGEBYLEX {t}l [e [b
         ZRANGEBYLEX {t}l b e
         ZRANGEBYLEX {t}l [a [z WITHSCORES
         ZRANGE {t}l [f + BYLEX
         ZRANGE {t}l + [f BYLEX REV
         ZLEXCOUNT {t}l [b [f
         ZLEXCOUNT {t}l - +
         ZLEXCOUNT {t}l (a (a
         ZLEXCOUNT {t}l x +
         ZREMRANGEBYLEX {t}l [b (d
         ZREMRANGEBYLEX {t}l x +
         ZRANGE {t}l 0 -1",
    );
    // The algebra; plain sets count with score 1.
    s.lines(
        "ZADD {t}p 1 a 2 b 3 c
         ZADD {t}q 10 b 20 c 30 d
         SADD {t}set a d x
         ZUNION 2 {t}p {t}q WITHSCORES
         ZUNION 2 {t}p {t}q WEIGHTS 2 0.5 WITHSCORES
         ZUNION 2 {t}p {t}q AGGREGATE MIN WITHSCORES
         ZUNION 2 {t}p {t}q AGGREGATE MAX
         ZUNION 3 {t}p {t}q {t}set WITHSCORES
         ZUNION 2 {t}p {t}nokey
         ZINTER 2 {t}p {t}q WITHSCORES
         ZINTER 2 {t}p {t}q WEIGHTS 1 -1 AGGREGATE SUM WITHSCORES
         ZINTER 2 {t}p {t}set WITHSCORES
         ZINTER 2 {t}p {t}nokey
         ZDIFF 2 {t}p {t}q WITHSCORES
         ZDIFF 2 {t}q {t}set
         ZDIFF 2 {t}p {t}q WEIGHTS 1 1
         ZDIFF 1 {t}nokey
         ZINTERCARD 2 {t}p {t}q
         ZINTERCARD 2 {t}p {t}q LIMIT 1
         ZINTERCARD 2 {t}p {t}q LIMIT -1
         ZINTERCARD 0 {t}p
         ZINTERCARD x {t}p
         ZINTERCARD 3 {t}p {t}q
         ZINTERCARD 2 {t}p {t}q WITHSCORES
         ZUNION 0 {t}p
         ZUNION x {t}p
         ZUNION 3 {t}p {t}q
         ZUNION 2 {t}p {t}q WEIGHTS 1
         ZUNION 2 {t}p {t}q WEIGHTS 1 x
         ZUNION 2 {t}p {t}q AGGREGATE FOO
         ZUNION 2 {t}p {t}q FOO
         ZUNIONSTORE {t}d 2 {t}p {t}q
         ZRANGE {t}d 0 -1 WITHSCORES
         OBJECT ENCODING {t}d
         ZUNIONSTORE {t}d 2 {t}p {t}q WITHSCORES
         ZINTERSTORE {t}d 2 {t}p {t}q AGGREGATE MAX
         ZRANGE {t}d 0 -1 WITHSCORES
         ZDIFFSTORE {t}d 2 {t}p {t}q
         ZRANGE {t}d 0 -1 WITHSCORES
         ZINTERSTORE {t}d 2 {t}p {t}nokey
         EXISTS {t}d
         ZUNIONSTORE {t}d 0 {t}p
         ZRANGESTORE {t}d {t}q 0 1
         ZRANGE {t}d 0 -1 WITHSCORES
         ZRANGESTORE {t}d {t}q (10 +inf BYSCORE LIMIT 0 1
         ZRANGE {t}d 0 -1 WITHSCORES
         ZRANGESTORE {t}d {t}q 0 -1 WITHSCORES
         ZRANGESTORE {t}d {t}nokey 0 -1
         EXISTS {t}d
         SET {t}str v
         ZADD {t}str 1 a
         ZUNION 2 {t}p {t}str
         ZUNION 2 {t}p {t}str FOO
         ZRANGE {t}str 0 -1
         ZRANGE {t}str a b BYSCORE
         ZSCORE {t}str a
         ZCARD {t}str
         ZREM {t}str a
         ZPOPMIN {t}str
         ZRANDMEMBER {t}str
         ZRANGESTORE {t}d {t}str 0 -1
         ZMPOP 1 {t}str MIN
         ZSCAN {t}str 0",
    );
    // ZMPOP and the blocking pops' non-blocking form.
    s.lines(
        "ZADD {t}m 1 a 2 b 3 c
         ZMPOP 2 {t}nokey {t}m MIN
         ZMPOP 2 {t}nokey {t}m MAX COUNT 5
         ZMPOP 1 {t}m MIN
         ZMPOP 0 {t}m MIN
         ZMPOP 1 {t}m FOO
         ZMPOP 1 {t}m MIN COUNT 0
         ZMPOP 1 {t}m MIN COUNT 1 COUNT 1
         ZMPOP 5 {t}m MIN
         ZADD {t}m 1 a 2 b 3 c
         BZPOPMIN {t}nokey {t}m 0
         BZPOPMAX {t}m 0.5
         BZPOPMIN {t}m -1
         BZPOPMIN {t}m x
         BZMPOP 0 2 {t}nokey {t}m MAX COUNT 2
         BZMPOP x 1 {t}m MIN
         BZMPOP -1 1 {t}m MIN
         EXISTS {t}m",
    );
    // Encodings and CONFIG'd thresholds; listpack-vs-skiplist specific scores.
    s.lines(
        "ZADD {t}e 1 a 2 b
         OBJECT ENCODING {t}e
         ZADD {t}e 3 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
         OBJECT ENCODING {t}e
         ZREM {t}e aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
         OBJECT ENCODING {t}e
         CONFIG SET zset-max-listpack-entries 3
         ZADD {t}f 1 a 2 b 3 c
         OBJECT ENCODING {t}f
         ZADD {t}f 4 d
         OBJECT ENCODING {t}f
         ZRANGE {t}f 0 -1 WITHSCORES
         ZRANK {t}f c
         ZREVRANK {t}f c
         ZRANGE {t}f 1 2 REV
         ZUNIONSTORE {t}g 1 {t}f
         OBJECT ENCODING {t}g
         ZDIFFSTORE {t}g 2 {t}f {t}e
         OBJECT ENCODING {t}g
         ZRANGESTORE {t}g {t}f 0 1
         OBJECT ENCODING {t}g
         CONFIG SET zset-max-listpack-entries 0
         ZADD {t}h -0 a 0.1 b 1e300 c -1e-300 d
         OBJECT ENCODING {t}h
         ZRANGE {t}h 0 -1 WITHSCORES
         ZINCRBY {t}h -0 a
         CONFIG SET zset-max-listpack-entries 128
         ZADD {t}i -0 a 0.1 b 1e300 c -1e-300 d
         ZINCRBY {t}i -0 a
         ZRANGE {t}i 0 -1 WITHSCORES
         ZSCAN {t}i 0
         ZSCAN {t}i 0 MATCH a*
         ZSCAN {t}i 0 COUNT 0
         ZSCAN {t}nokey 0 COUNT 0
         ZSCAN {t}i x
         ZRANDMEMBER {t}nokey
         ZRANDMEMBER {t}nokey 2
         ZRANDMEMBER {t}i 0
         ZRANDMEMBER {t}i x
         ZRANDMEMBER {t}i -9223372036854775808
         ZRANDMEMBER {t}i 1 FOO
         ZRANDMEMBER {t}i 1 WITHSCORES x
         ZADD {t}one 5 only
         ZRANDMEMBER {t}one
         ZRANDMEMBER {t}one -3 WITHSCORES
         ZRANDMEMBER {t}one 3 WITHSCORES",
    );
    // A skiplist's ZSCAN follows our hash order (its pairs were checked by hand to match);
    // a filter that keeps nothing is exact.
    s.x("ZSCAN {t}h 0 MATCH nomatch COUNT 100");
    s.u("ZRANDMEMBER {t}i 10").u("ZRANDMEMBER {t}f 10");
    s
}

/// A seeded random sequence over the sorted-set commands: members with clashing scores,
/// conditional adds, ranges of every kind, removals and the algebra, on a few keys, some
/// pushed to the large encoding by a long member.
fn random_zset_script(seed: u64, steps: usize) -> Script {
    let mut rng = seed;
    let mut next = move |n: usize| -> usize {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let keys = ["{t}a", "{t}b", "{t}c", "{t}str", "{t}none"];
    let long = "m".repeat(70);
    let members = ["a", "b", "c", "d", "e", "f", "", "x y", "1", long.as_str()];
    let scores = ["0", "1", "-1", "2.5", "1e10", "-inf", "+inf", "3", "(1", "x"];
    let ranks = ["0", "1", "-1", "2", "-3", "10", "x"];
    let mut s = Script::new();
    s.x("SET {t}str v");
    s.x("CONFIG SET zset-max-listpack-entries 6");
    for _ in 0..steps {
        let k = keys[next(keys.len())];
        let k2 = keys[next(keys.len())];
        let m = members[next(members.len())];
        let sc = scores[next(scores.len())];
        let sc2 = scores[next(scores.len())];
        let r1 = ranks[next(ranks.len())];
        let r2 = ranks[next(ranks.len())];
        let opt = ["", "NX", "XX", "GT", "LT", "CH", "XX GT CH", "INCR"][next(8)];
        let mut args: Vec<&str> = match next(24) {
            0..=3 => vec!["ZADD", k],
            4 => vec!["ZINCRBY", k, sc, m],
            5 => vec!["ZREM", k, m],
            6 => vec!["ZSCORE", k, m],
            7 => vec!["ZRANK", k, m],
            8 => vec!["ZREVRANK", k, m],
            9 => vec!["ZRANGE", k, r1, r2, "WITHSCORES"],
            10 => vec!["ZRANGE", k, r1, r2, "REV"],
            11 => vec!["ZRANGEBYSCORE", k, sc, sc2, "WITHSCORES"],
            12 => vec!["ZREVRANGEBYSCORE", k, sc, sc2, "LIMIT", "1", "2"],
            13 => vec!["ZCOUNT", k, sc, sc2],
            14 => vec!["ZREMRANGEBYRANK", k, r1, r2],
            15 => vec!["ZREMRANGEBYSCORE", k, sc, sc2],
            16 => vec!["ZPOPMIN", k, r1],
            17 => vec!["ZPOPMAX", k],
            18 => vec!["ZUNIONSTORE", k, "2", k, k2, "WEIGHTS", "2", "1"],
            19 => vec!["ZINTERSTORE", k, "2", k2, k, "AGGREGATE", "MAX"],
            20 => vec!["ZDIFF", "2", k, k2, "WITHSCORES"],
            21 => vec!["ZRANGESTORE", k2, k, sc, sc2, "BYSCORE", "LIMIT", "0", "3"],
            22 => vec!["OBJECT", "ENCODING", k],
            _ => vec!["ZCARD", k],
        };
        if args[0] == "ZADD" {
            args.extend(opt.split_whitespace());
            args.extend([sc, m]);
            if opt != "INCR" && next(2) == 0 {
                args.extend([sc2, members[next(members.len())]]);
            }
        }
        s.xa(&args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>());
    }
    s.x("CONFIG SET zset-max-listpack-entries 128");
    s
}

fn random_zset_script_1() -> Script {
    random_zset_script(0x9e37_79b9_7f4a_7c15, 2500)
}

fn random_zset_script_2() -> Script {
    random_zset_script(0x2545_f491_4f6c_dd1d, 2500)
}

/// A seeded xorshift stream: each call gives a number below its argument.
fn below(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut rng = seed;
    move |n| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    }
}

/// A large sorted set of a few hundred members whose scores keep changing: moves across the
/// order, changes that keep a member in place (small ZINCRBYs), and ties broken by the
/// member; the whole order, ranks and score ranges are checked as it goes.
fn large_zset_updates_script() -> Script {
    let mut next = below(0x0123_4567_89ab_cdef);
    let mut s = Script::new();
    for i in 0..300 {
        s.x(&format!("ZADD {{t}}big {} m{i}", next(100)));
    }
    for step in 0..1500 {
        let m = format!("m{}", next(320));
        let cmd = match next(6) {
            0 | 1 => format!("ZADD {{t}}big {} {m}", next(100)),
            2 => format!("ZINCRBY {{t}}big 0.001 {m}"),
            3 => format!("ZADD {{t}}big XX CH {}.5 {m}", next(100)),
            4 => format!("ZRANK {{t}}big {m}"),
            _ => format!("ZRANGEBYSCORE {{t}}big {} +inf WITHSCORES LIMIT 0 5", next(100)),
        };
        s.x(&cmd);
        if step % 100 == 99 {
            s.x("ZRANGE {t}big 0 -1 WITHSCORES");
        }
    }
    s.x("ZCARD {t}big");
    s.x("OBJECT ENCODING {t}big");
    s
}

/// A sorted set of thousands of members (a tree of three levels) that grows, churns and
/// shrinks back: adds and score changes with many ties, removals one by one and by rank and
/// score ranges (which merge nodes), pops from both ends, and rank, range and count queries
/// at every depth; the whole order is compared as it goes.
fn large_zset_churn_script() -> Script {
    let mut next = below(0x5eed_cafe_f00d_0001);
    let mut s = Script::new();
    for batch in 0..60 {
        let mut cmd = String::from("ZADD {t}huge");
        for j in 0..50 {
            cmd += &format!(" {} m{}", next(400), batch * 50 + j);
        }
        s.x(&cmd);
    }
    for step in 0..4000 {
        let m = format!("m{}", next(3200));
        let rank = next(3200) as i64 - 1600;
        let (lo, hi) = (next(400) as i64 - 20, next(60));
        let cmd = match next(16) {
            0..=2 => format!("ZADD {{t}}huge {} {m}", next(400)),
            3 => format!("ZINCRBY {{t}}huge {} {m}", next(7) as i64 - 3),
            4 | 5 => format!("ZREM {{t}}huge {m} m{}", next(3200)),
            6 => format!("ZRANK {{t}}huge {m}"),
            7 => format!("ZREVRANK {{t}}huge {m}"),
            8 => format!("ZRANGE {{t}}huge {rank} {} WITHSCORES", rank + next(12) as i64),
            9 => format!("ZRANGEBYSCORE {{t}}huge {lo} {} WITHSCORES LIMIT {} 4", lo + hi as i64, next(5)),
            10 => format!("ZCOUNT {{t}}huge ({lo} {}", lo + hi as i64),
            11 => format!("ZREMRANGEBYRANK {{t}}huge {rank} {}", rank + next(30) as i64),
            12 => format!("ZREMRANGEBYSCORE {{t}}huge {lo} {}", lo + next(3) as i64),
            13 => format!("ZPOPMIN {{t}}huge {}", next(3)),
            14 => format!("ZPOPMAX {{t}}huge {}", next(3)),
            _ => format!("ZSCORE {{t}}huge {m}"),
        };
        s.x(&cmd);
        if step % 800 == 799 {
            s.x("ZRANGE {t}huge 0 -1 WITHSCORES");
        }
    }
    s.x("ZCARD {t}huge");
    s.x("ZRANGE {t}huge 0 -1 WITHSCORES");
    s.x("OBJECT ENCODING {t}huge");
    s
}

diff_cases! {
    large_zset_churn_t1: large_zset_churn_script, 1, false;
    large_zset_updates_t1: large_zset_updates_script, 1, false;
    zsets_t1_resp2: zset_script, 1, false;
    zsets_t4_resp2: zset_script, 4, false;
    zsets_t1_resp3: zset_script, 1, true;
    zsets_t4_resp3: zset_script, 4, true;
    random_zsets_1_t1: random_zset_script_1, 1, false;
    random_zsets_1_t4_resp3: random_zset_script_1, 4, true;
    random_zsets_2_t1_resp3: random_zset_script_2, 1, true;
    random_zsets_2_t4: random_zset_script_2, 4, false;
}
