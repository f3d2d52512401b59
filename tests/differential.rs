//! Differential tests: run the same command script against a real redis-server
//! and against shardis, and compare the raw reply bytes.
//!
//! Every script runs with shardis started with 1 and with 4 threads. String and
//! key scripts additionally run under RESP3 (after `HELLO 3`). If redis-server is
//! not installed the tests print a skip message and pass.
//!
//! Set `DIFF_VERBOSE=1` to print every command with both replies.

mod common;

use common::diff::*;
use common::*;

// ---------------------------------------------------------------------------
// Scripts
// ---------------------------------------------------------------------------

/// A far-future absolute unix time (2100-01-01) for EXAT/EXPIREAT.
const FAR_SECS: &str = "4102444800";

fn strings_script() -> Script {
    let mut s = Script::new();
    // --- SET and its options -------------------------------------------------
    s.lines(
        "SET k1 v1
         GET k1
         SET k1 v2 NX
         GET k1
         SET k1 v3 XX
         GET k1
         SET k2 v XX
         EXISTS k2
         SET k2 v NX
         GET k2
         SET k5 a GET
         SET k5 b GET
         SET k5 c NX GET
         SET k5 d XX GET
         SET k6 d XX GET
         EXISTS k6
         SET k5 e get
         set k7 lower
         SeT k8 MiXeD
         gEt k8
         SET k1 v EX 10 PX 100
         SET k1 v EX 10 EXAT 4102444800
         SET k1 v PX 10 PXAT 4102444800000
         SET k1 v NX XX
         SET k1 v EX 10 KEEPTTL
         SET k1 v PX 10 KEEPTTL
         SET k1 v EX 0
         SET k1 v EX -1
         SET k1 v PX 0
         SET k1 v PX -100
         SET k1 v EXAT 0
         SET k1 v PXAT -1
         SET k1 v EX abc
         SET k1 v EX 1.5
         SET k1 v PX 1e3
         SET k1 v EX 9223372036854775807
         SET k1 v PX 9223372036854775807
         SET k1 v EXAT 9223372036854775807
         SET k1 v EX 9223372036854775808
         SET k1 v EX
         SET k1 v PX
         SET k1 v FOO
         SET k1 v NX NX
         SET k1 v EX 100 EX 100
         SET k1
         SET
         GET k1
         SET k3 v EX 100000",
    );
    s.approx("TTL k3", 2);
    s.x("SET k3 v PX 100000000");
    s.approx("PTTL k3", 5000);
    s.approx("TTL k3", 5);
    s.x("SET {tag}k4 v EXAT 4102444800")
        .x("EXPIRETIME {tag}k4")
        .x("PEXPIRETIME {tag}k4")
        .x("SET {tag}k4 v PXAT 4102444800123")
        .x("PEXPIRETIME {tag}k4")
        .x("EXPIRETIME {tag}k4")
        .x("SET {tag}k4 v2 KEEPTTL")
        .x("PEXPIRETIME {tag}k4")
        .x("GET {tag}k4")
        .x("SET {tag}k4 v3 KEEPTTL GET")
        .x("PEXPIRETIME {tag}k4")
        .x("SET {tag}k4 v4")
        .x("TTL {tag}k4")
        .x("PEXPIRETIME {tag}k4")
        .x("SET k9 v KEEPTTL")
        .x("TTL k9")
        .x("SET k10 v EX 1000 NX")
        .x("SET k10 v EX 1000 NX")
        .x("SET k10 w PX 2000000 XX GET")
        .approx("TTL k10", 2);
    // values: empty, binary, long
    s.xa(&[b"SET", b"empty", b""])
        .x("GET empty")
        .x("STRLEN empty")
        .xa(&[b"SET", b"bin", b"a\x00b\r\nc\xff"])
        .x("GET bin")
        .x("STRLEN bin")
        .xa(&[b"SET", b"sp ace", b"with space"])
        .xa(&[b"GET", b"sp ace"]);
    let long = "x".repeat(5000);
    s.x(&format!("SET long {long}")).x("GET long").x("STRLEN long");
    // Same-sized values (shardis overwrites those in place): content, encoding and TTL must
    // come out as a fresh SET's, also after an APPEND and with TTLs on either side.
    for (n, c) in [(32, 'a'), (32, 'b'), (100, 'c'), (100, 'd')] {
        let v = c.to_string().repeat(n);
        s.x(&format!("SET same{n} {v}"))
            .x(&format!("GET same{n}"))
            .x(&format!("OBJECT ENCODING same{n}"))
            .x(&format!("TTL same{n}"));
    }
    s.lines(
        "SET same32 12345678901234567890123456789012 EX 100
         TTL same32
         SET same32 abcdefghijabcdefghijabcdefghij12
         TTL same32
         GET same32
         APPEND same100 x
         SET same100 eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee
         GET same100
         OBJECT ENCODING same100
         MSET same32 ffffffffffffffffffffffffffffffff same100 gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg
         MGET same32 same100",
    );

    // --- GETEX -----------------------------------------------------------
    s.lines(
        "SET gx v
         GETEX gx
         TTL gx
         GETEX gx EX 100000
         GETEX gx PERSIST
         TTL gx
         GETEX gx PX 100000000
         GETEX gx EXAT 4102444800
         EXPIRETIME gx
         GETEX gx PXAT 4102444800999
         PEXPIRETIME gx
         GETEX gx EX 0
         GETEX gx EX -1
         GETEX gx PX 0
         GETEX gx EX abc
         GETEX gx EX 9223372036854775807
         GETEX gx EX 10 PX 100
         GETEX gx EX 10 PERSIST
         GETEX gx KEEPTTL
         GETEX gx FOO
         GETEX gx EX
         GETEX missing
         GETEX missing EX 100
         GETEX missing FOO
         GETEX
         PEXPIRETIME gx
         GETEX gx PERSIST
         PEXPIRETIME gx
         GETEX gx PXAT 1
         EXISTS gx
         GET gx",
    );

    // --- GETDEL / GETSET / SETNX / SETEX / PSETEX --------------------------------
    s.lines(
        "SET gd v
         GETDEL gd
         GETDEL gd
         EXISTS gd
         GETDEL
         GETDEL a b
         GETSET gs v1
         GETSET gs v2
         GET gs
         SET gs2 v EX 100000
         GETSET gs2 w
         TTL gs2
         GETSET gs
         SETNX sn v1
         SETNX sn v2
         GET sn
         SETNX sn
         SETEX se 100000 v
         GET se
         SETEX se 0 v
         SETEX se -5 v
         SETEX se 1.5 v
         SETEX se abc v
         SETEX se 9223372036854775807 v
         SETEX se 100
         GET se
         PSETEX pe 100000000 v
         GET pe
         PSETEX pe 0 v
         PSETEX pe -5 v
         PSETEX pe 1.5 v
         PSETEX pe abc v
         PSETEX pe 9223372036854775807 v
         PSETEX pe 100
         GET pe",
    );
    s.approx("TTL se", 2).approx("PTTL pe", 5000);

    // --- MGET / MSET / MSETNX ------------------------------------------------------
    s.lines(
        "MSET m1 a m2 b m3 c {m}1 d {m}2 e
         MGET m1 m2 m3 {m}1 {m}2 missing m1
         MGET missing
         MGET
         MSET
         MSET m1
         MSET m1 a m2
         MSET m1 z m1 y
         GET m1
         MSETNX n1 a n2 b n3 c
         MGET n1 n2 n3
         MSETNX n4 x n1 y n5 z
         MGET n4 n1 n5
         EXISTS n4 n5
         MSETNX n6 a n6 b
         GET n6
         MSETNX
         MSETNX n7
         MSETNX n7 a n8",
    );

    // --- APPEND / STRLEN -------------------------------------------------------
    s.lines(
        "APPEND ap Hello
         APPEND ap _World
         GET ap
         STRLEN ap
         STRLEN missing
         APPEND
         APPEND ap
         SET apn 12
         APPEND apn 34
         GET apn
         STRLEN apn
         SET sl 123456
         STRLEN sl",
    );
    s.xa(&[b"APPEND", b"ap2", b""]).x("EXISTS ap2").x("GET ap2");

    // --- INCR family -----------------------------------------------------------
    s.lines(
        "INCR i1
         INCR i1
         DECR i1
         INCRBY i1 10
         DECRBY i1 100
         GET i1
         DECR i2
         INCRBY i3 -5
         DECRBY i4 -5
         SET i5 9223372036854775806
         INCR i5
         INCR i5
         GET i5
         INCRBY i5 0
         SET i6 -9223372036854775807
         DECR i6
         DECR i6
         GET i6
         SET i7 0
         INCRBY i7 9223372036854775807
         INCRBY i7 1
         DECRBY i7 -9223372036854775808
         SET i8 0
         DECRBY i8 -9223372036854775808
         DECRBY i8 9223372036854775807
         INCRBY i8 -9223372036854775808
         INCRBY i8 9223372036854775808
         INCRBY i8 abc
         INCRBY i8 1.5
         INCRBY i8
         INCR
         INCR a b
         SET s1 abc
         INCR s1
         DECR s1
         INCRBY s1 1
         SET s2 1.5
         INCR s2
         SET s3 9223372036854775808
         INCR s3
         SET s4 +1
         INCR s4
         SET s5 01
         INCR s5
         SET s6 -0
         INCR s6
         SET s7 10
         INCR s7
         OBJECT ENCODING s7
         INCRBY s7 -20
         GET s7",
    );
    s.xa(&[b"SET", b"s8", b" 1"]).x("INCR s8");
    s.xa(&[b"SET", b"s9", b"1 "]).x("INCR s9");
    s.xa(&[b"SET", b"s10", b""]).x("INCR s10");

    // --- INCRBYFLOAT -------------------------------------------------------------
    // Values here give the same text whether computed with Redis' long double or
    // with f64 + shortest round-trip formatting. Precision-sensitive cases live in
    // `incrbyfloat_precision_script`.
    s.lines(
        "SET f 10.5
         INCRBYFLOAT f 0.1
         GET f
         INCRBYFLOAT f -0.6
         INCRBYFLOAT f 3.0e3
         INCRBYFLOAT f -5
         INCRBYFLOAT f 0.25
         INCRBYFLOAT f nan
         INCRBYFLOAT f inf
         INCRBYFLOAT f -inf
         INCRBYFLOAT f abc
         INCRBYFLOAT f 1.5x
         INCRBYFLOAT f
         INCRBYFLOAT f 1 2
         GET f
         INCRBYFLOAT f2 1
         INCRBYFLOAT f2 2.5
         INCRBYFLOAT f2 -3.5
         GET f2
         INCRBYFLOAT f3 5.0e3
         INCRBYFLOAT f3 2.0e2
         INCRBYFLOAT f3 1.5e10
         INCRBYFLOAT f3 1
         SET f4 1
         INCRBYFLOAT f4 0.1
         INCRBYFLOAT f4 -1.1
         SET f5 abc
         INCRBYFLOAT f5 1
         SET f6 1e3
         INCRBYFLOAT f6 1
         SET f6b 1.23e2
         INCRBYFLOAT f6b 1
         GET f6b
         SET f8 3
         INCRBYFLOAT f8 0.0
         INCRBYFLOAT f8 -0.0
         INCRBYFLOAT f8 1.25
         INCRBYFLOAT f8 .5
         INCRBYFLOAT f8 5.
         INCRBYFLOAT f8 1E2
         INCRBYFLOAT f9 -2.5
         INCRBYFLOAT f9 2.5
         INCRBYFLOAT f9 -0.0
         INCRBYFLOAT f10 123.456
         INCRBYFLOAT f10 0.5
         INCRBYFLOAT f10b 3.14159
         INCRBYFLOAT f10c +1.5
         INCRBYFLOAT f10c 0.1
         INCRBYFLOAT f10d -0.1
         SET f12 inf
         INCRBYFLOAT f12 1
         SET f12b nan
         INCRBYFLOAT f12b 1
         SET f13 10
         INCRBYFLOAT f13 1e-5
         INCR f13
         OBJECT ENCODING f13",
    );
    s.xa(&[b"SET", b"f14", b" 1"]).x("INCRBYFLOAT f14 1");
    s.xa(&[b"SET", b"f15", b"1 "]).x("INCRBYFLOAT f15 1");
    s.xa(&[b"INCRBYFLOAT", b"f16", b" 1"]);
    s.xa(&[b"INCRBYFLOAT", b"f16", b""]);
    s.xa(&[b"SET", b"f17", b""]).x("INCRBYFLOAT f17 1");

    // --- GETRANGE / SUBSTR ---------------------------------------------------------
    s.xa(&[b"SET", b"gr", b"Hello World"]);
    s.lines(
        "GETRANGE gr 0 4
         GETRANGE gr -5 -1
         GETRANGE gr 6 100
         GETRANGE gr 5 2
         GETRANGE gr -100 100
         GETRANGE gr -100 -50
         GETRANGE gr 100 200
         GETRANGE gr 0 -100
         GETRANGE gr 0 0
         GETRANGE gr -1 -1
         GETRANGE gr 10 10
         GETRANGE gr 11 11
         GETRANGE gr 0 -1
         GETRANGE gr a b
         GETRANGE gr 0
         GETRANGE missing 0 10
         GETRANGE missing 0 -1
         GETRANGE gr 9223372036854775807 9223372036854775807
         GETRANGE gr -9223372036854775808 9223372036854775807
         SUBSTR gr 0 4
         SUBSTR gr -3 -1
         SUBSTR gr 3 1
         SUBSTR missing 0 1
         SET grn 1234567
         GETRANGE grn 1 3
         OBJECT ENCODING grn",
    );
    s.xa(&[b"SET", b"gre", b""]).x("GETRANGE gre 0 -1").x("GETRANGE gre 0 0");

    // --- SETRANGE -----------------------------------------------------------------
    s.xa(&[b"SET", b"sr", b"Hello World"]);
    s.lines(
        "SETRANGE sr 6 Redis
         GET sr
         SETRANGE sr 20 X
         GET sr
         STRLEN sr
         SETRANGE srpad 5 abc
         GET srpad
         SETRANGE sr -1 x
         SETRANGE sr abc x
         SETRANGE sr 536870912 x
         SETRANGE sr 9223372036854775807 x
         SETRANGE sr 0
         SETRANGE sr 0 abc
         GET sr
         SET srn 12345
         SETRANGE srn 1 x
         GET srn",
    );
    s.xa(&[b"SETRANGE", b"srmissing", b"0", b""])
        .x("EXISTS srmissing")
        .xa(&[b"SETRANGE", b"srmissing", b"100", b""])
        .x("EXISTS srmissing")
        .xa(&[b"SETRANGE", b"sr", b"100", b""])
        .x("STRLEN sr")
        .xa(&[b"SETRANGE", b"sr", b"536870912", b""]);

    // --- LCS -------------------------------------------------------------------
    s.lines(
        "MSET lcs1 ohmytext lcs2 mynewtext {lcs}a ohmytext {lcs}b mynewtext
         LCS lcs1 lcs2
         LCS {lcs}a {lcs}b
         LCS lcs1 lcs2 LEN
         LCS lcs1 lcs2 IDX
         LCS lcs1 lcs2 IDX MINMATCHLEN 4
         LCS lcs1 lcs2 IDX WITHMATCHLEN
         LCS lcs1 lcs2 IDX MINMATCHLEN 4 WITHMATCHLEN
         LCS lcs1 lcs2 IDX WITHMATCHLEN MINMATCHLEN 2
         LCS lcs1 lcs2 idx withmatchlen
         LCS lcs1 lcs2 LEN IDX
         LCS lcs1 lcs2 MINMATCHLEN 4
         LCS lcs1 lcs2 IDX MINMATCHLEN -1
         LCS lcs1 lcs2 IDX MINMATCHLEN abc
         LCS lcs1 lcs2 IDX MINMATCHLEN
         LCS lcs1 lcs2 FOO
         LCS lcs1 missing
         LCS missing1 missing2
         LCS missing1 missing2 LEN
         LCS missing1 missing2 IDX
         LCS lcs1 lcs1
         LCS lcs1 lcs1 IDX WITHMATCHLEN
         LCS lcs1
         MSET lcs3 abc lcs4 xyz
         LCS lcs3 lcs4
         LCS lcs3 lcs4 LEN
         LCS lcs3 lcs4 IDX
         MSET lcs5 AAAAXXXXBBBB lcs6 BBBBAAAA
         LCS lcs5 lcs6 IDX WITHMATCHLEN",
    );
    s
}

/// INCRBYFLOAT cases whose exact text depends on Redis computing in 80-bit
/// long double (x86) and printing with "%.17Lf" (trailing zeros trimmed), plus
/// strtold() parsing quirks (hex input, exponents beyond f64 range).
fn incrbyfloat_precision_script() -> Script {
    let mut s = Script::new();
    s.lines(
        "SET f 5.6
         INCRBYFLOAT f 3.0e3
         INCRBYFLOAT f2 0.1
         INCRBYFLOAT f2 0.2
         SET f3 3005.25
         INCRBYFLOAT f3 1e-5
         INCRBYFLOAT f4 123456789.125
         INCRBYFLOAT f4 -0.000001
         INCRBYFLOAT f5 1e17
         INCRBYFLOAT f5 1
         INCRBYFLOAT f6 1e300
         INCRBYFLOAT f7 1e400
         INCRBYFLOAT f7 -1e400
         SET f8 1.7976931348623157e308
         INCRBYFLOAT f8 1.7976931348623157e308
         GET f8
         INCRBYFLOAT f9 1e-320
         SET f10 0x10
         INCRBYFLOAT f10 1
         INCRBYFLOAT f10 0x1p3
         INCRBYFLOAT f11 1e5000",
    );
    s
}

fn keys_script() -> Script {
    let mut s = Script::new();
    s.lines(
        "MSET k1 a k2 b k3 c {tag}a x {tag}b y k4 d k5 e k6 f
         DEL k1 k2 missing
         DEL k1
         DEL
         UNLINK k3 missing
         UNLINK k3
         EXISTS k4 k4 k5 missing k4
         EXISTS missing
         EXISTS
         TYPE {tag}a
         TYPE missing
         TYPE
         RENAME {tag}a {tag}b
         GET {tag}b
         EXISTS {tag}a
         RENAME {tag}a {tag}c
         RENAME missing missing
         RENAME k4 k4
         GET k4
         RENAME k4 k14
         GET k14
         RENAME k14 k4
         RENAME k4
         RENAMENX k4 k5
         RENAMENX k4 k4
         RENAMENX k4 k15
         GET k15
         RENAMENX missing k16
         RENAMENX missing missing
         SET r1 v EX 100000
         RENAME r1 r2",
    );
    s.approx("TTL r2", 2);
    s.lines(
        "TTL r1
         RENAMENX r2 r3",
    );
    s.approx("TTL r3", 2);
    // COPY
    s.lines(
        "SET csrc hello
         COPY csrc cdst
         GET cdst
         COPY csrc cdst
         SET csrc world
         COPY csrc cdst REPLACE
         GET cdst
         COPY csrc cdst DB 1
         COPY csrc cdst DB 1
         COPY csrc cdst DB 1 REPLACE
         COPY csrc csrc
         COPY csrc csrc DB 0
         COPY csrc csrc DB 1
         COPY missing cdst2
         EXISTS cdst2
         COPY csrc cdst DB 99
         COPY csrc cdst DB -1
         COPY csrc cdst DB abc
         COPY csrc cdst FOO
         COPY csrc cdst DB
         COPY csrc
         SELECT 1
         GET cdst
         DBSIZE
         SELECT 0
         SET cttl v EX 100000
         COPY cttl cttl2",
    );
    s.approx("TTL cttl2", 2);
    // MOVE
    s.lines(
        "SET mv v
         MOVE mv 1
         EXISTS mv
         MOVE mv 1
         SET mv v2
         MOVE mv 0
         MOVE mv 16
         MOVE mv -1
         MOVE mv abc
         SET cdst local
         MOVE cdst 1
         GET cdst
         SELECT 1
         GET mv
         GET cdst
         MOVE mv 0
         SELECT 0
         GET mv
         MOVE missing 1
         MOVE mv",
    );
    // TOUCH
    s.lines(
        "TOUCH k4 k5 missing k4
         TOUCH missing
         TOUCH",
    );
    // OBJECT
    let s44 = "e".repeat(44);
    let s45 = "r".repeat(45);
    s.lines(&format!(
        "SET oi 12345
         OBJECT ENCODING oi
         SET oi2 -42
         OBJECT ENCODING oi2
         SET oi3 9223372036854775807
         OBJECT ENCODING oi3
         SET oi4 9223372036854775808
         OBJECT ENCODING oi4
         SET oi5 0123
         OBJECT ENCODING oi5
         SET oi6 1.5
         OBJECT ENCODING oi6
         SET os hello
         OBJECT ENCODING os
         SET o44 {s44}
         OBJECT ENCODING o44
         SET o45 {s45}
         OBJECT ENCODING o45
         SET oa ab
         APPEND oa cd
         OBJECT ENCODING oa
         INCR oinc
         OBJECT ENCODING oinc
         SET osr abc
         SETRANGE osr 1 x
         OBJECT ENCODING osr
         OBJECT ENCODING missing
         OBJECT ENCODING
         OBJECT HELP
         OBJECT help
         OBJECT FREQ os
         OBJECT FREQ missing
         OBJECT FOO
         OBJECT
         OBJECT REFCOUNT missing"
    ));
    s.xa(&[b"SET", b"oe", b""]).x("OBJECT ENCODING oe");
    // RANDOMKEY
    s.lines(
        "FLUSHDB
         RANDOMKEY
         SET only1 v
         RANDOMKEY
         RANDOMKEY x
         DEL only1
         RANDOMKEY",
    );
    // KEYS with glob patterns
    s.lines(
        "MSET hello 1 hallo 2 hxllo 3 hllo 4 heeeello 5 a 6 b 7 c 8 d 9 ab 10 abc 11 {tag}x 12 {tag}y 13 foo:1 14 foo:2 15 bar:1 16",
    );
    s.xa(&[b"SET", b"h*llo", b"17"])
        .xa(&[b"SET", b"h?llo", b"18"])
        .xa(&[b"SET", b"h[a]llo", b"19"])
        .xa(&[b"SET", b"back\\slash", b"20"])
        .xa(&[b"SET", b"-dash", b"21"]);
    for p in [
        "*",
        "h?llo",
        "h*llo",
        "h[ae]llo",
        "h[^e]llo",
        "h[!e]llo",
        "h[a-c]llo",
        "h[c-a]llo",
        "[a-c]",
        "[a-c]*",
        "?",
        "??",
        "???",
        "a*",
        "*o",
        "*:*",
        "foo:*",
        "{tag}*",
        "\\{tag\\}*",
        "h\\*llo",
        "h\\?llo",
        "h\\[a\\]llo",
        "h[\\*]llo",
        "back\\\\slash",
        "back*",
        "[-]*",
        "[a-]*",
        "nomatch*",
        "h[a",
        "h[",
        "**",
        "*l*o*",
        "[abc]",
        "[^abc]",
    ] {
        s.ua(&[b"KEYS", p.as_bytes()]);
    }
    s.x("KEYS").x("KEYS a b").x("DBSIZE");
    s
}

fn expiry_script() -> Script {
    let mut s = Script::new();
    s.lines(
        "SET e1 v
         EXPIRE e1 100000",
    );
    s.approx("TTL e1", 2);
    s.lines(
        "EXPIRE missing 100
         PEXPIRE missing 100
         EXPIREAT missing 4102444800
         PEXPIREAT missing 4102444800000
         EXPIRE e1 100000 NX
         SET e2 v
         EXPIRE e2 100000 NX
         EXPIRE e1 200000 XX
         SET e3 v
         EXPIRE e3 100 XX
         TTL e3
         EXPIRE e1 500000 GT
         EXPIRE e1 10 GT
         EXPIRE e1 400000 LT
         EXPIRE e1 600000 LT
         EXPIRE e3 100 GT
         TTL e3
         EXPIRE e3 100000 LT
         EXPIRE e1 100 NX XX
         EXPIRE e1 100 GT LT
         EXPIRE e1 100 NX GT
         EXPIRE e1 100 NX LT
         EXPIRE e1 100 XX GT
         EXPIRE e1 100 XX LT
         EXPIRE e1 100 FOO
         EXPIRE e1 100 NX NX
         EXPIRE e1 100 nx
         EXPIRE e1 abc
         EXPIRE e1 1.5
         EXPIRE e1
         EXPIRE e1 9223372036854775807
         EXPIRE e1 9223372036854775806
         EXPIRE e1 92233720368547758
         EXPIRE e1 -9223372036854775808
         PEXPIRE e1 9223372036854775807
         EXPIREAT e1 9223372036854775807
         PEXPIREAT e1 9223372036854775807
         EXPIRE e1 9223372036854775808",
    );
    s.approx("TTL e1", 2);
    s.lines(
        "PEXPIRE e1 100000000 XX GT
         PEXPIRE e1 1 GT",
    );
    s.approx("PTTL e1", 5000);
    s.lines(
        "SET neg v
         EXPIRE neg -1
         EXISTS neg
         GET neg
         SET neg v
         EXPIRE neg 0
         EXISTS neg
         SET neg v
         PEXPIRE neg 0
         EXISTS neg
         SET neg v
         PEXPIRE neg -100
         EXISTS neg
         SET neg v
         EXPIREAT neg 1
         EXISTS neg
         SET neg v
         PEXPIREAT neg 1
         EXISTS neg
         SET neg v
         EXPIREAT neg 0
         EXISTS neg
         SET neg v EX 1000
         EXPIRE neg -5 GT
         EXISTS neg
         EXPIRE neg -5 LT
         EXISTS neg
         SET neg v
         EXPIRE neg -5 XX
         EXISTS neg
         EXPIRE neg -5 NX
         EXISTS neg",
    );
    s.lines(
        "TTL missing
         PTTL missing
         SET p v
         TTL p
         PTTL p
         EXPIRETIME missing
         PEXPIRETIME missing
         EXPIRETIME p
         PEXPIRETIME p
         EXPIRETIME
         TTL
         EXPIREAT p 4102444800
         EXPIRETIME p
         PEXPIRETIME p
         PEXPIREAT p 4102444800123
         EXPIRETIME p
         PEXPIRETIME p
         PEXPIREAT p 4102444800500
         EXPIRETIME p
         PEXPIREAT p 4102444800499
         EXPIRETIME p
         PEXPIREAT p 4102444800999
         EXPIRETIME p
         EXPIREAT p 4102444800 NX
         EXPIREAT p 4102444801 GT
         EXPIRETIME p
         EXPIREAT p 4102444900 LT
         EXPIRETIME p
         EXPIREAT p abc
         PERSIST p
         PERSIST p
         TTL p
         PERSIST missing
         PERSIST
         SET p2 v EX 100000
         SET p2 w
         TTL p2
         SET p3 v EXAT 4102444800
         APPEND p3 x
         INCR p3
         SETRANGE p3 0 y
         EXPIRETIME p3
         GETSET p3 z
         EXPIRETIME p3",
    );
    s.x(&format!("SET p4 v EXAT {FAR_SECS}")).x("MSET p4 w").x("EXPIRETIME p4");
    s
}

fn databases_script() -> Script {
    let mut s = Script::new();
    s.lines(
        "SELECT 0
         SELECT 15
         SELECT 16
         SELECT -1
         SELECT abc
         SELECT 1.5
         SELECT
         SELECT 0 1
         SELECT 0
         MSET a 1 b 2 c 3 {x}1 4 {x}2 5
         DBSIZE
         DBSIZE x
         SELECT 1
         DBSIZE
         GET a
         SET a db1
         SET only1 v
         DBSIZE
         SWAPDB 0 1
         DBSIZE
         GET a
         SELECT 0
         DBSIZE
         GET a
         SWAPDB 1 0
         DBSIZE
         GET a
         SWAPDB 0 0
         DBSIZE
         SWAPDB 0 16
         SWAPDB 16 0
         SWAPDB -1 0
         SWAPDB abc 0
         SWAPDB 0 abc
         SWAPDB 0
         SWAPDB 2 3
         SELECT 3
         DBSIZE
         SELECT 0
         FLUSHDB
         DBSIZE
         GET a
         SELECT 1
         DBSIZE
         GET a
         FLUSHDB ASYNC
         DBSIZE
         SET z 1
         FLUSHDB SYNC
         DBSIZE
         FLUSHDB FOO
         FLUSHDB ASYNC SYNC
         SET y 1
         SELECT 5
         SET y 5
         SELECT 15
         SET y 15
         DBSIZE
         FLUSHALL
         DBSIZE
         SELECT 5
         DBSIZE
         SELECT 1
         DBSIZE
         SET y 1
         FLUSHALL ASYNC
         DBSIZE
         FLUSHALL FOO
         SET y 1
         SELECT 0
         KEYS *
         SELECT 1
         KEYS *",
    );
    s
}

fn connection_script() -> Script {
    let mut s = Script::new();
    s.lines(
        "PING
         ping
         PiNg
         PING hello
         PING a b
         ECHO hi
         echo hi
         ECHO
         ECHO a b
         GET
         get
         gEt
         SET k
         MGET
         DEL
         EXISTS
         FOO
         FOO bar baz
         foo BAR
         fOo 1 2 3 4",
    );
    s.xa(&[b"PING", b""])
        .xa(&[b"ECHO", b""])
        .xa(&[b"ECHO", b"bin\x00\xff\r\n"])
        .xa(&[b"FOO", b"with space", b"'quote'"])
        .xa(&[b""])
        .xa(&[b"", b"x"])
        .xa(&[b"SPACE CMD", b"x"])
        .xa(&[b"FOO", b"a\r\nb", b"c\nd"])
        .xa(&[b"GET", b"a\r\nb"]);
    let long_arg = "A".repeat(300);
    s.x(&format!("FOO {long_arg} tail"));
    s.x(&format!("FOO short {long_arg}"));
    s.x(&long_arg);
    s.x("SET k v").x("GET k").x("PING");
    s
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

diff_cases! {
    strings_threads1: strings_script, 1, false;
    strings_threads4: strings_script, 4, false;
    strings_resp3_threads1: strings_script, 1, true;
    strings_resp3_threads4: strings_script, 4, true;
    keys_threads1: keys_script, 1, false;
    keys_threads4: keys_script, 4, false;
    keys_resp3_threads1: keys_script, 1, true;
    keys_resp3_threads4: keys_script, 4, true;
    expiry_threads1: expiry_script, 1, false;
    expiry_threads4: expiry_script, 4, false;
    databases_threads1: databases_script, 1, false;
    databases_threads4: databases_script, 4, false;
    connection_threads1: connection_script, 1, false;
    connection_threads4: connection_script, 4, false;
    connection_resp3_threads4: connection_script, 4, true;
    incrbyfloat_precision_threads1: incrbyfloat_precision_script, 1, false;
    incrbyfloat_precision_threads4: incrbyfloat_precision_script, 4, false;
    random_seed1_threads1: random_script_seed1, 1, false;
    random_seed1_threads4: random_script_seed1, 4, false;
    random_seed2_resp3_threads4: random_script_seed2, 4, true;
    random_seed3_threads2: random_script_seed3, 2, false;
}

fn random_script_seed1() -> Script {
    random_script(0x9e37_79b9_7f4a_7c15, 1500)
}

fn random_script_seed2() -> Script {
    random_script(0x2545_f491_4f6c_dd1d, 1500)
}

fn random_script_seed3() -> Script {
    random_script(0x1234_5678_9abc_def1, 1500)
}

/// A seeded random sequence over the string, key and database commands, with arguments drawn
/// from a small pool of keys (spread over every shard, some sharing a hash tag), values
/// (integers, floats, text, empty) and options, so commands collide on the same keys and hit
/// their edge cases. Commands whose replies depend on the clock or on hash order are compared
/// loosely (TTL within a second, KEYS/SCAN unordered) or not at all (RANDOMKEY).
fn random_script(seed: u64, steps: usize) -> Script {
    let mut rng = seed;
    let mut next = move |n: usize| -> usize {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let keys = ["a", "b", "c", "{t}x", "{t}y", "num", "f", "k:1", "k:22", "k:333", "missing"];
    let values = ["1", "-7", "0", "10.5", "abc", "", "9223372036854775807", "x y", "3e2", "00"];
    let mut s = Script::new();
    for _ in 0..steps {
        let k = keys[next(keys.len())];
        let k2 = keys[next(keys.len())];
        let v = values[next(values.len())];
        let n = ["0", "1", "-1", "3", "100", "-100", "abc"][next(7)];
        let cmd: Vec<String> = match next(34) {
            0 => vec!["SET".into(), k.into(), v.into()],
            1 => vec![
                "SET".into(),
                k.into(),
                v.into(),
                ["NX", "XX", "GET", "KEEPTTL", "EX 100", "PX 0", "GET NX"][next(7)].into(),
            ],
            2 | 3 => vec!["GET".into(), k.into()],
            4 => vec!["INCR".into(), k.into()],
            5 => vec!["DECRBY".into(), k.into(), n.into()],
            6 => vec!["INCRBYFLOAT".into(), k.into(), ["1.5", "-0.25", "abc", "1e3"][next(4)].into()],
            7 => vec!["APPEND".into(), k.into(), v.into()],
            8 => vec!["STRLEN".into(), k.into()],
            9 => vec!["GETRANGE".into(), k.into(), n.into(), ["2", "-1", "0"][next(3)].into()],
            10 => vec!["SETRANGE".into(), k.into(), ["0", "3", "-1"][next(3)].into(), v.into()],
            11 => vec!["MGET".into(), k.into(), k2.into(), "missing".into()],
            12 => vec!["MSET".into(), k.into(), v.into(), k2.into(), "z".into()],
            13 => vec!["MSETNX".into(), k.into(), v.into(), k2.into(), "z".into()],
            14 => vec!["DEL".into(), k.into(), k2.into()],
            15 => vec!["EXISTS".into(), k.into(), k2.into(), k.into()],
            16 => vec!["TYPE".into(), k.into()],
            17 => vec!["RENAME".into(), k.into(), k2.into()],
            18 => vec!["RENAMENX".into(), k.into(), k2.into()],
            19 => vec![
                "COPY".into(),
                k.into(),
                k2.into(),
                ["", "REPLACE", "DB 1", "DB 1 REPLACE"][next(4)].into(),
            ],
            20 => vec![
                "EXPIRE".into(),
                k.into(),
                ["1000", "0", "-1", "abc"][next(4)].into(),
                ["", "NX", "XX", "GT", "LT"][next(5)].into(),
            ],
            21 => vec!["PERSIST".into(), k.into()],
            22 => vec!["TTL".into(), k.into()],
            23 => vec!["OBJECT".into(), "ENCODING".into(), k.into()],
            24 => vec!["GETDEL".into(), k.into()],
            25 => vec!["GETSET".into(), k.into(), v.into()],
            26 => vec!["SETNX".into(), k.into(), v.into()],
            27 => vec!["GETEX".into(), k.into(), ["", "PERSIST", "EX 50"][next(3)].into()],
            28 => vec!["SELECT".into(), ["0", "1"][next(2)].into()],
            29 => vec!["MOVE".into(), k.into(), ["0", "1"][next(2)].into()],
            30 => vec!["DBSIZE".into()],
            31 => vec!["KEYS".into(), ["*", "k:*", "{t}*", "?"][next(4)].into()],
            32 => vec!["LCS".into(), k.into(), k2.into()],
            _ => vec!["SWAPDB".into(), "0".into(), "1".into()],
        };
        let args: Vec<Vec<u8>> = cmd
            .iter()
            .flat_map(|part| {
                if part.is_empty() {
                    vec![]
                } else if part.contains(' ') && !values.contains(&part.as_str()) {
                    part.split(' ').map(|p| p.as_bytes().to_vec()).collect()
                } else {
                    vec![part.as_bytes().to_vec()]
                }
            })
            .collect();
        let check = match args[0].as_slice() {
            b"TTL" => Check::Approx(1),
            b"KEYS" => Check::Unordered,
            _ => Check::Exact,
        };
        s.push(args, check);
    }
    s
}

/// Self-check of the comparison helpers (runs without any server).
#[test]
fn framework_compare_helpers() {
    assert!(compare(&Check::Exact, b"+OK\r\n", b"+OK\r\n").is_ok());
    assert!(compare(&Check::Exact, b"+OK\r\n", b"+Ok\r\n").is_err());
    assert!(compare(&Check::Approx(1), b":100\r\n", b":99\r\n").is_ok());
    assert!(compare(&Check::Approx(1), b":100\r\n", b":98\r\n").is_err());
    assert!(compare(&Check::Approx(1), b":100\r\n", b"$-1\r\n").is_err());
    let a = b"*3\r\n$1\r\na\r\n$1\r\nb\r\n:3\r\n";
    let b = b"*3\r\n:3\r\n$1\r\nb\r\n$1\r\na\r\n";
    let c = b"*3\r\n:3\r\n$1\r\nb\r\n$1\r\nb\r\n";
    assert!(compare(&Check::Unordered, a, b).is_ok());
    assert!(compare(&Check::Unordered, a, c).is_err());
    assert!(compare(&Check::Unordered, a, b"~3\r\n$1\r\na\r\n$1\r\nb\r\n:3\r\n").is_err());
    assert!(compare(&Check::Unordered, b"*0\r\n", b"*0\r\n").is_ok());
    assert!(compare(&Check::Unordered, b"-ERR x\r\n", b"-ERR x\r\n").is_ok());
    assert!(compare(&Check::Unordered, b"-ERR x\r\n", b"*0\r\n").is_err());
    // Nested aggregates and RESP3 types parse as single elements.
    let nested = b"*2\r\n%1\r\n+k\r\n*2\r\n,1.5\r\n#t\r\n|1\r\n+a\r\n+b\r\n_\r\n";
    let (_, elems) = split_aggregate(nested).unwrap();
    assert_eq!(elems.len(), 2);
    assert_eq!(elems[1], b"|1\r\n+a\r\n+b\r\n_\r\n".to_vec());
    assert_eq!(parse_value(nested, 0).unwrap(), Some(nested.len()));
    assert_eq!(parse_value(&nested[..nested.len() - 1], 0).unwrap(), None);
}

/// Validates the framework itself: redis-server against redis-server must
/// produce no mismatches for any script. Only runs with SHARDIS_DIFF_SELFTEST=1
/// (it needs redis-server and doubles the runtime).
#[test]
fn framework_selftest_redis_vs_redis() {
    if std::env::var_os("SHARDIS_DIFF_SELFTEST").is_none() {
        eprintln!("set SHARDIS_DIFF_SELFTEST=1 to run redis-vs-redis framework self test");
        return;
    }
    let Some(a) = start_redis_or_skip() else { return };
    let Some(b) = start_redis_or_skip() else { return };
    for (name, script) in [
        ("strings", strings_script()),
        ("keys", keys_script()),
        ("expiry", expiry_script()),
        ("databases", databases_script()),
        ("connection", connection_script()),
        ("incrbyfloat_precision", incrbyfloat_precision_script()),
    ] {
        for resp3 in [false, true] {
            run_diff_on(name, &script, &a, &b, 0, resp3);
        }
    }
}
