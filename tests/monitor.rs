//! MONITOR: commands from every core reach a monitor, formatted, escaped and redacted as Redis
//! does; MULTI/EXEC is fed as Redis feeds it; a monitoring client is restricted, and RESET or
//! a disconnect ends monitoring. The line format is compared with redis-server's.

mod common;
use common::{RawConn, Server, as_int, start_redis_or_skip};

/// The core a client lives on: ids are handed out as k * cores + core + 1.
fn core_of(c: &mut RawConn, cores: i64) -> i64 {
    (as_int(&c.cmd_s("CLIENT ID")).unwrap() - 1) % cores
}

/// Connections until one lives on each of `cores` cores (SO_REUSEPORT spreads them).
fn one_per_core(server: &Server, cores: i64) -> Vec<RawConn> {
    let mut found: Vec<Option<RawConn>> = (0..cores).map(|_| None).collect();
    for _ in 0..200 {
        let mut c = server.raw();
        let core = core_of(&mut c, cores) as usize;
        if found[core].is_none() {
            found[core] = Some(c);
        }
        if found.iter().all(Option::is_some) {
            return found.into_iter().map(Option::unwrap).collect();
        }
    }
    panic!("200 connections never covered all {cores} cores");
}

/// A monitor line with its timestamp and client address replaced: `[db] "arg" ...`.
fn shape(line: &[u8]) -> String {
    let text = String::from_utf8(line.to_vec()).unwrap();
    let body = text.strip_prefix('+').and_then(|t| t.strip_suffix("\r\n")).expect("a status line");
    let (stamp, rest) = body.split_once(' ').expect("a timestamp");
    let (secs, micros) = stamp.split_once('.').expect("seconds.micros");
    assert!(secs.parse::<u64>().is_ok() && micros.len() == 6 && micros.parse::<u32>().is_ok(), "{text}");
    let (client, args) = rest.strip_prefix('[').and_then(|r| r.split_once("] ")).expect("[db addr]");
    let (db, addr) = client.split_once(' ').expect("db and address");
    assert!(addr.starts_with("127.0.0.1:"), "{text}");
    format!("[{db}] {args}")
}

/// The address a client's lines carry.
fn addr_of(c: &mut RawConn) -> String {
    let info = String::from_utf8(common::as_bulk(&c.cmd_s("CLIENT INFO")).unwrap()).unwrap();
    info.split(' ').find_map(|f| f.strip_prefix("addr=")).unwrap().to_string()
}

#[test]
fn commands_of_every_core_reach_a_monitor() {
    let server = Server::start(2, &[]);
    let mut clients = one_per_core(&server, 2);
    for monitor_core in 0..2 {
        let mut m = one_per_core(&server, 2).swap_remove(monitor_core);
        assert_eq!(m.cmd_s("MONITOR"), b"+OK\r\n");
        // After the +OK, every core feeds it: no waiting needed.
        for (i, c) in clients.iter_mut().enumerate() {
            assert_eq!(c.cmd(&[b"SET", format!("k{i}").as_bytes(), b"a\"b\\\n\x00\xff"]), b"+OK\r\n");
            c.cmd_s("CONFIG GET maxmemory");
            c.cmd_s(&format!("AUTH secret{i}"));
            c.cmd_s("SELECT 3");
            c.cmd_s(&format!("GET k{i}"));
            c.cmd_s("SELECT 0");
            c.cmd_s(&format!("ECHO done{i}"));
        }
        let mut seen: Vec<Vec<String>> = vec![Vec::new(); clients.len()];
        let addrs: Vec<String> = clients.iter_mut().map(addr_of).collect();
        while seen.iter().enumerate().any(|(i, s)| s.last() != Some(&format!("[0] \"ECHO\" \"done{i}\""))) {
            let line = m.read_reply();
            let text = String::from_utf8_lossy(&line).to_string();
            let Some(i) = addrs.iter().position(|a| text.contains(&format!(" {a}]"))) else {
                continue; // the CLIENT INFO above, or the monitor's own connection setup
            };
            seen[i].push(shape(&line));
        }
        for (i, lines) in seen.iter().enumerate() {
            let expected = [
                format!("[0] \"SET\" \"k{i}\" \"a\\\"b\\\\\\n\\x00\\xff\""),
                "[0] \"AUTH\" \"(redacted)\"".to_string(),
                "[3] \"SELECT\" \"3\"".to_string(),
                format!("[3] \"GET\" \"k{i}\""),
                "[0] \"SELECT\" \"0\"".to_string(),
                format!("[0] \"ECHO\" \"done{i}\""),
            ];
            assert_eq!(
                lines.iter().filter(|l| !l.contains("CLIENT")).cloned().collect::<Vec<_>>(),
                expected,
                "client {i} on core {i}, monitor on core {monitor_core}: CONFIG hidden, AUTH redacted, in order"
            );
        }
        m.send(b"RESET\r\n");
        while m.read_reply() != b"+RESET\r\n" {} // past the CLIENT INFO lines
    }
}

#[test]
fn exec_feeds_its_commands_then_itself() {
    let server = Server::start(2, &[]);
    let mut m = server.raw();
    let mut c = server.raw();
    assert_eq!(m.cmd_s("MONITOR"), b"+OK\r\n");
    for cmd in [
        "MULTI",
        "SET {a}x 1",
        "INCR {b}y",
        "EXEC",
        "MULTI",
        "SET z 1",
        "DISCARD",
        "MULTI",
        "NOSUCH",
        "SET z 2",
    ] {
        c.cmd_s(cmd);
    }
    assert!(c.cmd_s("EXEC").starts_with(b"-EXECABORT"));
    c.cmd_s("WATCH w");
    c.cmd_s("MULTI");
    c.cmd_s("SET w 1");
    assert_eq!(c.cmd_s("EXEC"), b"*1\r\n+OK\r\n");
    let expected = [
        "[0] \"MULTI\"",
        "[0] \"SET\" \"{a}x\" \"1\"",
        "[0] \"INCR\" \"{b}y\"",
        "[0] \"EXEC\"",
        "[0] \"MULTI\"",
        "[0] \"DISCARD\"",
        "[0] \"MULTI\"",
        "[0] \"EXEC\"",
        "[0] \"WATCH\" \"w\"",
        "[0] \"MULTI\"",
        "[0] \"SET\" \"w\" \"1\"",
        "[0] \"EXEC\"",
    ];
    for want in expected {
        assert_eq!(shape(&m.read_reply()), want);
    }
}

#[test]
fn a_monitor_is_restricted_and_reset_or_disconnect_ends_it() {
    let server = Server::start(2, &[]);
    let mut others = one_per_core(&server, 2);
    let mut m = server.raw();
    assert_eq!(m.cmd_s("MONITOR"), b"+OK\r\n");
    let list = String::from_utf8(common::as_bulk(&others[0].cmd_s("CLIENT LIST")).unwrap()).unwrap();
    assert_eq!(list.matches("flags=O").count(), 1, "{list}");
    // CLIENT LIST is an admin command: not shown.
    assert_eq!(m.cmd_s("GET x"), b"-ERR Replica can't interact with the keyspace\r\n");
    assert_eq!(m.cmd_s("SET x 1"), b"-ERR Replica can't interact with the keyspace\r\n");
    assert_eq!(m.cmd_s("PING"), b"+PONG\r\n");
    assert_eq!(shape(&m.read_reply()), "[0] \"PING\"", "a monitor sees its own commands");
    m.send(b"MONITOR\r\nPING\r\n");
    assert_eq!(m.read_reply(), b"+PONG\r\n", "a second MONITOR has no reply");
    assert_eq!(shape(&m.read_reply()), "[0] \"PING\"");
    assert_eq!(m.cmd_s("RESET"), b"+RESET\r\n");
    for o in others.iter_mut() {
        assert_eq!(o.cmd_s("SET after reset"), b"+OK\r\n");
    }
    assert_eq!(m.cmd_s("GET after"), b"$5\r\nreset\r\n", "out of monitor mode, nothing fed");

    // A monitor that disconnects: the others go on, and a new monitor works.
    let mut gone = server.raw();
    assert_eq!(gone.cmd_s("MONITOR"), b"+OK\r\n");
    drop(gone);
    let mut fresh = server.raw();
    assert_eq!(fresh.cmd_s("MONITOR"), b"+OK\r\n");
    for (i, o) in others.iter_mut().enumerate() {
        assert_eq!(o.cmd_s("INCR n"), format!(":{}\r\n", i + 1).into_bytes());
    }
    for _ in 0..others.len() {
        assert_eq!(shape(&fresh.read_reply()), "[0] \"INCR\" \"n\"");
    }
}

#[test]
fn monitor_lines_match_redis() {
    let Some(redis) = start_redis_or_skip() else { return };
    let server = Server::start(2, &[]);
    let script: &[&[&[u8]]] = &[
        &[b"SET", b"k", b"v with space"],
        &[b"GET", b"\t\r\n\x07\x08\x01\x7f\x80 \\\""],
        &[b"HELLO", b"3", b"AUTH", b"default", b"pw"],
        &[b"HELLO", b"2", b"auth"],
        &[b"AUTH", b"onlypass"],
        &[b"AUTH", b"a", b"b", b"c"],
        &[b"MSET", b"{x}1", b"1", b"{y}2", b"2"],
        &[b"DEBUG", b"JMAP"],
        &[b"CONFIG", b"SET", b"hz", b"10"],
        &[b"SET", b"a", b"b", b"XX", b"NX"],
        &[b"NOSUCH"],
        &[b"GET"],
        &[b"CLIENT", b"SETNAME", b"n1"],
        &[b"ZADD", b"z", b"1.5", b"m"],
        &[b"ECHO", b"end"],
    ];
    let lines = |port: u16| -> Vec<String> {
        let mut m = RawConn::connect(port);
        let mut c = RawConn::connect(port);
        assert_eq!(m.cmd_s("MONITOR"), b"+OK\r\n");
        for cmd in script {
            c.cmd(cmd);
        }
        let mut got = Vec::new();
        loop {
            let line = shape(&m.read_reply());
            let end = line.ends_with("\"ECHO\" \"end\"");
            got.push(line);
            if end {
                return got;
            }
        }
    };
    assert_eq!(lines(server.port()), lines(redis.port()));
}
