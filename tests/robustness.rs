//! Malformed input never crashes the server or affects other clients: random bytes and
//! RESP-shaped garbage are thrown at it on many connections while a well-behaved client keeps
//! checking that it still answers correctly.

mod common;
use common::Server;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A blob that is random bytes, or RESP framing with random damage.
fn garbage(rng: &mut Rng) -> Vec<u8> {
    let pieces: [&[u8]; 14] = [
        b"*",
        b"$",
        b"\r\n",
        b"-1",
        b"3",
        b"99999999999",
        b"SET",
        b"GET",
        b"\"",
        b"'",
        b"\\x4",
        b"*2\r\n$3\r\nGET\r\n",
        b"\x00",
        b"MSET a b c",
    ];
    let mut out = Vec::new();
    for _ in 0..rng.below(40) + 1 {
        if rng.below(3) == 0 {
            out.push(rng.next() as u8);
        } else {
            out.extend_from_slice(pieces[rng.below(pieces.len() as u64) as usize]);
        }
    }
    out
}

#[test]
fn garbage_never_hurts_other_clients() {
    let server = Server::start(2, &[]);
    let mut good = server.raw();
    assert_eq!(good.cmd_s("SET canary alive"), b"+OK\r\n");
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    for round in 0..300 {
        let mut s = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let blob = garbage(&mut rng);
        let _ = s.write_all(&blob);
        // Read whatever comes back (an error, replies, or nothing while it waits for more).
        let mut sink = [0u8; 4096];
        let _ = s.read(&mut sink);
        drop(s);
        if round % 25 == 0 {
            assert_eq!(good.cmd_s("GET canary"), b"$5\r\nalive\r\n", "after round {round}, blob {blob:?}");
        }
    }
    assert_eq!(good.cmd_s("GET canary"), b"$5\r\nalive\r\n");
    assert_eq!(server.raw().cmd_s("PING"), b"+PONG\r\n");
}

#[test]
fn huge_declared_lengths_are_refused_not_allocated() {
    let server = Server::start(1, &[]);
    let mut c = server.raw();
    c.send(b"*1\r\n$536870913\r\n");
    assert_eq!(c.read_reply(), b"-ERR Protocol error: invalid bulk length\r\n");
    c.expect_closed();
    let mut d = server.raw();
    d.send(b"*2147483648\r\n");
    assert_eq!(d.read_reply(), b"-ERR Protocol error: invalid multibulk length\r\n");
    d.expect_closed();
    // A bulk within the limit but never sent in full just waits; others are unaffected.
    let mut e = server.raw();
    e.send(b"*1\r\n$100000000\r\nabc");
    assert_eq!(server.raw().cmd_s("PING"), b"+PONG\r\n");
}
