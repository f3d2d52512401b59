//! Raw protocol tests (RESP2/RESP3 framing, inline commands, protocol errors).
//!
//! Every expected byte string here was recorded from a real redis-server 7.0.
//! Each check is written against the `Target` trait and runs twice: against
//! shardis (2 threads) and, as `*_redis`, against redis-server when installed, so
//! the expectations themselves stay verified.

mod common;

use common::*;
use std::io::Write;
use std::time::Duration;

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

fn inline_commands(t: &dyn Target) {
    let mut c = t.raw();
    c.send(b"PING\r\n");
    assert_reply(&c.read_reply(), b"+PONG\r\n", "inline PING");
    c.send(b"SET a b\r\n");
    assert_reply(&c.read_reply(), b"+OK\r\n", "inline SET a b");
    c.send(b"GET a\r\n");
    assert_reply(&c.read_reply(), b"$1\r\nb\r\n", "inline GET a");
    // lower case, LF-only terminator, extra spaces and tabs
    c.send(b"get a\n");
    assert_reply(&c.read_reply(), b"$1\r\nb\r\n", "inline get with LF only");
    c.send(b"  PING  \r\n");
    assert_reply(&c.read_reply(), b"+PONG\r\n", "inline with surrounding spaces");
    c.send(b"ECHO\thello\r\n");
    assert_reply(&c.read_reply(), b"$5\r\nhello\r\n", "inline tab separator");
    // quoted arguments
    c.send(b"SET \"a b\" 'x'\r\n");
    assert_reply(&c.read_reply(), b"+OK\r\n", "inline quoted SET");
    c.send(b"GET \"a b\"\r\n");
    assert_reply(&c.read_reply(), b"$1\r\nx\r\n", "inline quoted GET");
    c.send(b"GET a\\ b\r\n"); // backslash outside quotes is literal, space splits
    assert_reply(
        &c.read_reply(),
        b"-ERR wrong number of arguments for 'get' command\r\n",
        "inline unquoted backslash",
    );
    // escapes inside double quotes: \xHH, \n, \t, \", \\ ; invalid \x stays literal
    c.send(b"ECHO \"a\\x41\\n\"\r\n");
    assert_reply(&c.read_reply(), b"$3\r\naA\n\r\n", "inline \\x and \\n escapes");
    c.send(b"ECHO \"\\t\\\"\\\\\"\r\n");
    assert_reply(&c.read_reply(), b"$3\r\n\t\"\\\r\n", "inline \\t \\\" \\\\ escapes");
    c.send(b"ECHO \"\\xzz\"\r\n");
    assert_reply(&c.read_reply(), b"$3\r\nxzz\r\n", "inline invalid \\x escape");
    c.send(b"SET bin \"\\x00\\xff\"\r\nSTRLEN bin\r\n");
    assert_reply(&c.read_reply(), b"+OK\r\n", "inline SET binary via \\x escapes");
    assert_reply(&c.read_reply(), b":2\r\n", "inline STRLEN binary");
    // single quotes: only \' is an escape
    c.send(b"ECHO 'it\\'s'\r\n");
    assert_reply(&c.read_reply(), b"$4\r\nit's\r\n", "inline single-quote escape");
    c.send(b"ECHO 'a\\n'\r\n");
    assert_reply(&c.read_reply(), b"$3\r\na\\n\r\n", "inline single quotes keep \\n literally");
    // empty quoted argument
    c.send(b"SET e \"\"\r\nSTRLEN e\r\n");
    assert_reply(&c.read_reply(), b"+OK\r\n", "inline SET empty");
    assert_reply(&c.read_reply(), b":0\r\n", "inline STRLEN empty");
    // arity / unknown command errors through the inline path
    c.send(b"echo a b\r\n");
    assert_reply(
        &c.read_reply(),
        b"-ERR wrong number of arguments for 'echo' command\r\n",
        "inline arity error",
    );
    c.send(b"FOO bar baz\r\n");
    assert_reply(
        &c.read_reply(),
        b"-ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \r\n",
        "inline unknown command",
    );
    // inline and multibulk mixed in one write
    c.send(b"PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING x\r\n");
    assert_reply(&c.read_reply(), b"+PONG\r\n", "mixed #1");
    assert_reply(&c.read_reply(), b"$2\r\nhi\r\n", "mixed #2");
    assert_reply(&c.read_reply(), b"$1\r\nx\r\n", "mixed #3");
}

fn inline_unbalanced_quotes(t: &dyn Target) {
    for req in [
        &b"SET \"a\r\n"[..],
        b"\"unterminated\r\n",
        b"ECHO 'abc\r\n",
        b"ECHO \"a\"b\r\n", // closing quote must be followed by a space
    ] {
        let mut c = t.raw();
        c.send(req);
        assert_reply(
            &c.read_reply(),
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
            &format!("unbalanced quotes for {}", show(req)),
        );
        c.expect_closed();
    }
}

fn ignored_empty_requests(t: &dyn Target) {
    let mut c = t.raw();
    // Null multibulk, empty multibulk and empty lines are silently skipped.
    c.send(b"*-1\r\n");
    c.send(b"*0\r\n");
    c.send(b"\r\n");
    c.send(b"\n");
    c.send(b"\r\n\r\nPING\r\n");
    assert_reply(&c.read_reply(), b"+PONG\r\n", "PING after ignored requests");
    c.send(b"*-1\r\n*1\r\n$4\r\nPING\r\n");
    assert_reply(&c.read_reply(), b"+PONG\r\n", "PING after *-1 in same write");
    // A trailing empty line after a multibulk command is ignored too.
    c.send(b"*1\r\n$4\r\nPING\r\n\r\n*1\r\n$4\r\nPING\r\n");
    assert_reply(&c.read_reply(), b"+PONG\r\n", "first PING");
    assert_reply(&c.read_reply(), b"+PONG\r\n", "second PING after empty line");
    // Empty command name is an unknown command, not a protocol error.
    c.send(b"*1\r\n$0\r\n\r\n");
    assert_reply(
        &c.read_reply(),
        b"-ERR unknown command '', with args beginning with: \r\n",
        "empty command name",
    );
    c.cmd(&[b"PING"]);
}

fn pipelining_10000(t: &dyn Target) {
    const N: usize = 10_000;
    let mut c = t.raw();
    let mut req = Vec::with_capacity(N * 40);
    let mut expected: Vec<Vec<u8>> = Vec::with_capacity(N);
    for i in 0..N {
        match i % 4 {
            0 => {
                let k = format!("pipe:{i}");
                req.extend_from_slice(&encode_command(&[b"SET", k.as_bytes(), k.as_bytes()]));
                expected.push(b"+OK\r\n".to_vec());
            }
            1 => {
                let k = format!("pipe:{}", i - 1);
                req.extend_from_slice(&encode_command(&[b"GET", k.as_bytes()]));
                expected.push(format!("${}\r\n{k}\r\n", k.len()).into_bytes());
            }
            2 => {
                req.extend_from_slice(&encode_command(&[b"INCR", b"pipe:counter"]));
                expected.push(format!(":{}\r\n", i / 4 + 1).into_bytes());
            }
            _ => {
                // inline commands mixed in
                req.extend_from_slice(b"PING\r\n");
                expected.push(b"+PONG\r\n".to_vec());
            }
        }
    }
    // Write the whole pipeline in one write from another thread while reading
    // replies here, so neither side can block on full socket buffers.
    let mut w = c.stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        w.write_all(&req).expect("write pipeline");
        w.flush().unwrap();
    });
    for (i, exp) in expected.iter().enumerate() {
        let got = c.read_reply();
        assert_reply(&got, exp, &format!("pipelined reply #{i}"));
    }
    writer.join().unwrap();
    assert_reply(&c.cmd(&[b"GET", b"pipe:counter"]), b"$4\r\n2500\r\n", "counter after pipeline");
}

fn split_writes(t: &dyn Target) {
    let mut c = t.raw();
    // Multibulk command byte by byte.
    let set = encode_command(&[b"SET", b"split", b"value\r\nwith crlf"]);
    c.send_in_chunks(&set, 1);
    assert_reply(&c.read_reply(), b"+OK\r\n", "SET sent byte by byte");
    c.send_in_chunks(&encode_command(&[b"GET", b"split"]), 1);
    assert_reply(&c.read_reply(), b"$16\r\nvalue\r\nwith crlf\r\n", "GET sent byte by byte");
    // Inline command byte by byte.
    c.send_in_chunks(b"ECHO \"in line\"\r\n", 1);
    assert_reply(&c.read_reply(), b"$7\r\nin line\r\n", "inline ECHO byte by byte");
    // Several commands, chunk boundaries at odd places.
    let mut pipe = Vec::new();
    for i in 0..50 {
        let k = format!("chunk{i}");
        pipe.extend_from_slice(&encode_command(&[b"SET", k.as_bytes(), format!("{i}").as_bytes()]));
    }
    pipe.extend_from_slice(&encode_command(&[b"MGET", b"chunk0", b"chunk49"]));
    c.send_in_chunks(&pipe, 7);
    for i in 0..50 {
        assert_reply(&c.read_reply(), b"+OK\r\n", &format!("chunked SET #{i}"));
    }
    assert_reply(&c.read_reply(), b"*2\r\n$1\r\n0\r\n$2\r\n49\r\n", "MGET after chunked writes");
    // Large value (1 MiB) in one write, read back.
    let big = vec![b'z'; 1 << 20];
    assert_reply(&c.cmd(&[b"SET", b"big", &big]), b"+OK\r\n", "SET 1MiB");
    let got = c.cmd(&[b"GET", b"big"]);
    let mut exp = format!("${}\r\n", big.len()).into_bytes();
    exp.extend_from_slice(&big);
    exp.extend_from_slice(b"\r\n");
    assert_reply(&got, &exp, "GET 1MiB");
}

/// Sends `req` on a fresh connection and expects exactly `reply` followed by the
/// server closing the connection.
fn expect_error_and_close(t: &dyn Target, req: &[u8], reply: &[u8]) {
    let mut c = t.raw();
    c.send(req);
    assert_reply(&c.read_reply(), reply, &format!("request {}", show(req)));
    c.expect_closed();
}

fn protocol_errors(t: &dyn Target) {
    let cases: &[(&[u8], &[u8])] = &[
        (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\nfoo\r\n", b"-ERR Protocol error: expected '$', got 'f'\r\n"),
        (b"*1\r\n*1\r\n", b"-ERR Protocol error: expected '$', got '*'\r\n"),
        (b"*2\r\n$4\r\nECHO\r\n:1\r\n", b"-ERR Protocol error: expected '$', got ':'\r\n"),
        // multibulk count above INT_MAX
        (b"*2147483648\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*9999999999999999999999\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        // bulk length above proto-max-bulk-len (512MB) or negative
        (b"*1\r\n$536870913\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$-1\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    ];
    for (req, reply) in cases {
        expect_error_and_close(t, req, reply);
    }
    // Replies to earlier pipelined commands are delivered before the error.
    let mut c = t.raw();
    c.send(b"PING\r\n*1\r\n$4\r\nPING\r\n*abc\r\n");
    assert_reply(&c.read_reply(), b"+PONG\r\n", "inline PING before error");
    assert_reply(&c.read_reply(), b"+PONG\r\n", "multibulk PING before error");
    assert_reply(
        &c.read_reply(),
        b"-ERR Protocol error: invalid multibulk length\r\n",
        "error after pipelined PINGs",
    );
    c.expect_closed();
}

/// Redis parses lengths strictly (string2ll): no sign, spaces or leading zeros.
fn protocol_errors_strict_lengths(t: &dyn Target) {
    let cases: &[(&[u8], &[u8])] = &[
        (b"*+1\r\n$4\r\nPING\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*01\r\n$4\r\nPING\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n$+4\r\nPING\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$ 4\r\nPING\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    ];
    for (req, reply) in cases {
        expect_error_and_close(t, req, reply);
    }
}

fn too_big_inline_request(t: &dyn Target) {
    // More than 64KB (65536 bytes) without a newline. Exactly one byte over the
    // limit, so the server has consumed everything when it errors out (no unread
    // data that could turn the close into a reset).
    let mut c = t.raw();
    let junk = vec![b'A'; 65_537];
    // The server may close while we are still writing: ignore write errors.
    let _ = c.try_send(&junk);
    assert_reply(
        &c.read_reply(),
        b"-ERR Protocol error: too big inline request\r\n",
        "65537 bytes without newline",
    );
    c.expect_closed();
}

/// A large (but <= INT_MAX) multibulk count or a bulk length equal to
/// proto-max-bulk-len is accepted: the server just waits for more data.
fn large_lengths_are_accepted(t: &dyn Target) {
    let mut c = t.raw();
    c.send(b"*1048577\r\n");
    c.expect_silence(Duration::from_millis(300));
    let mut c = t.raw();
    c.send(b"*1\r\n$536870912\r\n");
    c.expect_silence(Duration::from_millis(300));
    // A modest bulk announced and delivered in pieces works.
    let mut c = t.raw();
    c.send(b"*3\r\n$3\r\nSET\r\n$2\r\nbl\r\n$100000\r\n");
    c.send(&vec![b'q'; 50_000]);
    c.send(&vec![b'q'; 50_000]);
    c.send(b"\r\n");
    assert_reply(&c.read_reply(), b"+OK\r\n", "SET with bulk delivered in pieces");
    assert_reply(&c.cmd(&[b"STRLEN", b"bl"]), b":100000\r\n", "STRLEN");
}

fn other_connections_survive_protocol_error(t: &dyn Target) {
    let mut good = t.raw();
    assert_reply(&good.cmd(&[b"SET", b"survivor", b"yes"]), b"+OK\r\n", "SET before");
    for req in [&b"*abc\r\n"[..], b"*1\r\n$abc\r\n", b"*1\r\nfoo\r\n", b"SET \"x\r\n"] {
        let mut bad = t.raw();
        bad.send(req);
        let r = bad.read_reply();
        assert!(r.starts_with(b"-ERR Protocol error"), "got {}", show(&r));
        bad.expect_closed();
        assert_reply(&good.cmd(&[b"PING"]), b"+PONG\r\n", "existing connection still works");
        assert_reply(&good.cmd(&[b"GET", b"survivor"]), b"$3\r\nyes\r\n", "data intact");
        let mut fresh = t.raw();
        assert_reply(&fresh.cmd(&[b"PING"]), b"+PONG\r\n", "new connection works");
    }
}

fn quit_closes_connection(t: &dyn Target) {
    let mut c = t.raw();
    c.send(b"*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n");
    assert_reply(&c.read_reply(), b"+OK\r\n", "QUIT");
    c.expect_closed();
    let mut c = t.raw();
    c.send(b"QUIT\r\n");
    assert_reply(&c.read_reply(), b"+OK\r\n", "inline QUIT");
    c.expect_closed();
}

fn resp3_hello(t: &dyn Target) {
    let mut c = t.raw();
    let hello = c.cmd(&[b"HELLO", b"3"]);
    assert!(hello.starts_with(b"%"), "HELLO 3 must reply with a map, got {}", show(&hello));
    let pairs = map_pairs(&hello).expect("HELLO 3 map");
    let field =
        |name: &[u8]| pairs.iter().find(|(k, _)| as_bulk(k).as_deref() == Some(name)).map(|(_, v)| v.clone());
    assert_eq!(field(b"proto"), Some(b":3\r\n".to_vec()), "proto field in {}", show(&hello));
    assert!(field(b"server").is_some(), "server field in {}", show(&hello));
    assert!(field(b"version").is_some(), "version field in {}", show(&hello));
    assert_reply(&c.cmd(&[b"GET", b"resp3:missing"]), b"_\r\n", "RESP3 null");
    assert_reply(
        &c.cmd(&[b"MGET", b"resp3:missing", b"resp3:missing"]),
        b"*2\r\n_\r\n_\r\n",
        "RESP3 nulls in array",
    );
    assert_reply(&c.cmd(&[b"PING"]), b"+PONG\r\n", "RESP3 PING");
    // Unsupported versions: error, protocol unchanged.
    assert_reply(&c.cmd(&[b"HELLO", b"4"]), b"-NOPROTO unsupported protocol version\r\n", "HELLO 4");
    assert_reply(&c.cmd(&[b"HELLO", b"1"]), b"-NOPROTO unsupported protocol version\r\n", "HELLO 1");
    assert_reply(
        &c.cmd(&[b"HELLO", b"abc"]),
        b"-ERR Protocol version is not an integer or out of range\r\n",
        "HELLO abc",
    );
    assert_reply(&c.cmd(&[b"GET", b"resp3:missing"]), b"_\r\n", "still RESP3");
    // Back to RESP2.
    let hello2 = c.cmd(&[b"HELLO", b"2"]);
    assert!(hello2.starts_with(b"*14\r\n"), "HELLO 2 reply {}", show(&hello2));
    assert_reply(&c.cmd(&[b"GET", b"resp3:missing"]), b"$-1\r\n", "RESP2 null again");

    // HELLO 4 on a fresh connection.
    let mut c = t.raw();
    assert_reply(&c.cmd(&[b"HELLO", b"4"]), b"-NOPROTO unsupported protocol version\r\n", "HELLO 4 fresh");
    assert_reply(&c.cmd(&[b"GET", b"resp3:missing"]), b"$-1\r\n", "still RESP2");
}

// ---------------------------------------------------------------------------
// Tests: each check against shardis (2 threads) and against redis-server.
// ---------------------------------------------------------------------------

macro_rules! protocol_tests {
    ($($check:ident => $shardis_test:ident, $redis_test:ident;)*) => {
        $(
            #[test]
            fn $shardis_test() {
                let server = Server::start(2, &[]);
                $check(&server);
            }

            #[test]
            fn $redis_test() {
                let Some(redis) = start_redis_or_skip() else { return };
                $check(&redis);
            }
        )*
    };
}

protocol_tests! {
    inline_commands => inline_commands_shardis, inline_commands_redis;
    inline_unbalanced_quotes => inline_unbalanced_quotes_shardis, inline_unbalanced_quotes_redis;
    ignored_empty_requests => ignored_empty_requests_shardis, ignored_empty_requests_redis;
    pipelining_10000 => pipelining_10000_shardis, pipelining_10000_redis;
    split_writes => split_writes_shardis, split_writes_redis;
    protocol_errors => protocol_errors_shardis, protocol_errors_redis;
    protocol_errors_strict_lengths => protocol_errors_strict_lengths_shardis, protocol_errors_strict_lengths_redis;
    too_big_inline_request => too_big_inline_request_shardis, too_big_inline_request_redis;
    large_lengths_are_accepted => large_lengths_are_accepted_shardis, large_lengths_are_accepted_redis;
    other_connections_survive_protocol_error => other_connections_survive_protocol_error_shardis, other_connections_survive_protocol_error_redis;
    quit_closes_connection => quit_closes_connection_shardis, quit_closes_connection_redis;
    resp3_hello => resp3_hello_shardis, resp3_hello_redis;
}

/// The RawConn reply reader itself: every RESP2/RESP3 type, nested aggregates
/// and attributes, fed in arbitrary fragments. Needs no server.
#[test]
fn raw_reader_parses_all_resp_types() {
    use std::io::Read;
    use std::net::TcpListener;

    let replies: Vec<&[u8]> = vec![
        b"+OK\r\n",
        b"-ERR x\r\n",
        b":-42\r\n",
        b"$5\r\nab\r\nc\r\n",
        b"$-1\r\n",
        b"$0\r\n\r\n",
        b"*-1\r\n",
        b"*0\r\n",
        b"*2\r\n*1\r\n:1\r\n$1\r\nx\r\n",
        b"_\r\n",
        b",3.14\r\n",
        b",inf\r\n",
        b"#t\r\n",
        b"!9\r\nSYNTAX xx\r\n",
        b"=7\r\ntxt:abc\r\n",
        b"(12345678901234567890\r\n",
        b"%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n_\r\n",
        b"~2\r\n+x\r\n+y\r\n",
        b">3\r\n+message\r\n+ch\r\n$2\r\nhi\r\n",
        b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*1\r\n:7\r\n",
    ];
    let all: Vec<u8> = replies.concat();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        // Wait for the client's request, then dribble replies in 3-byte chunks.
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf).unwrap();
        for chunk in all.chunks(3) {
            s.write_all(chunk).unwrap();
            s.flush().unwrap();
        }
    });
    let mut c = RawConn::connect(port);
    c.send(b"GO\r\n");
    for exp in &replies {
        let got = c.read_reply();
        assert_reply(&got, exp, "parsed reply");
    }
    server.join().unwrap();
    c.expect_closed();
}
