//! Connection and server commands that reach every core: CONFIG SET applied everywhere,
//! CLIENT LIST/KILL across cores, INFO totals, AUTH/requirepass, COMMAND.

mod common;
use common::{RawConn, Server, as_bulk, as_int};

/// Opens enough connections that, with SO_REUSEPORT spreading them, several cores serve one.
fn many(server: &Server, n: usize) -> Vec<RawConn> {
    (0..n).map(|_| server.raw()).collect()
}

fn bulk_text(reply: &[u8]) -> String {
    String::from_utf8(as_bulk(reply).expect("bulk reply")).unwrap()
}

#[test]
fn config_set_reaches_every_core() {
    let server = Server::start(4, &[]);
    let mut conns = many(&server, 16);
    assert_eq!(conns[0].cmd_s("CONFIG SET maxclients 1234 hz 20"), b"+OK\r\n");
    for c in conns.iter_mut() {
        assert_eq!(
            c.cmd_s("CONFIG GET maxclients"),
            b"*2\r\n$10\r\nmaxclients\r\n$4\r\n1234\r\n",
            "every core sees the new value"
        );
    }
    assert_eq!(
        conns[1].cmd_s("CONFIG SET port 1"),
        b"-ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config\r\n"
    );
    assert!(conns[1].cmd_s("CONFIG SET nosuch 1").starts_with(b"-ERR Unknown option"));
    let reply = conns[2].cmd_s("CONFIG GET max*");
    let text = String::from_utf8_lossy(&reply);
    assert!(text.contains("maxmemory-policy") && text.contains("maxclients"), "{text}");
}

#[test]
fn client_list_and_kill_span_cores() {
    let server = Server::start(4, &[]);
    let mut conns = many(&server, 12);
    let ids: Vec<i64> = conns.iter_mut().map(|c| as_int(&c.cmd_s("CLIENT ID")).unwrap()).collect();
    let list = bulk_text(&conns[0].cmd_s("CLIENT LIST"));
    for id in &ids {
        assert!(list.contains(&format!("id={id} ")), "CLIENT LIST misses client {id}: {list}");
    }
    let victim = ids[7];
    assert_eq!(conns[0].cmd_s(&format!("CLIENT KILL ID {victim}")), b":1\r\n");
    conns[7].expect_closed();
    assert_eq!(conns[0].cmd_s("CLIENT KILL ID 999999"), b":0\r\n");
    assert_eq!(conns[0].cmd_s("CLIENT KILL 1.2.3.4:5"), b"-ERR No such client\r\n");
    assert_eq!(conns[1].cmd_s("PING"), b"+PONG\r\n", "others survive");
}

#[test]
fn info_counts_keys_of_every_shard() {
    let server = Server::start(4, &[]);
    let mut c = server.raw();
    for i in 0..200 {
        c.cmd_s(&format!("SET key:{i} v"));
    }
    c.cmd_s("EXPIRE key:0 1000");
    let info = bulk_text(&c.cmd_s("INFO keyspace"));
    assert!(info.contains("db0:keys=200,expires=1,"), "{info}");
    let stats = bulk_text(&c.cmd_s("INFO commandstats"));
    assert!(stats.contains("cmdstat_set:calls=200,"), "{stats}");
    assert_eq!(as_int(&c.cmd_s("DBSIZE")), Some(200));
}

#[test]
fn requirepass_guards_commands() {
    let server = Server::start(2, &["--requirepass", "s3cret"]);
    let mut c = server.raw();
    assert_eq!(c.cmd_s("GET k"), b"-NOAUTH Authentication required.\r\n");
    assert_eq!(c.cmd_s("AUTH wrong"), b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    assert_eq!(c.cmd_s("AUTH s3cret"), b"+OK\r\n");
    assert_eq!(c.cmd_s("SET k v"), b"+OK\r\n");
    let mut d = server.raw();
    let hello = d.cmd_s("HELLO 3 AUTH default s3cret");
    assert!(hello.starts_with(b"%7\r\n"), "{}", String::from_utf8_lossy(&hello));
    assert_eq!(d.cmd_s("GET k"), b"$1\r\nv\r\n");
    assert_eq!(d.cmd_s("GET missing"), b"_\r\n");
}

#[test]
fn command_introspection() {
    let server = Server::start(1, &[]);
    let mut c = server.raw();
    let count = as_int(&c.cmd_s("COMMAND COUNT")).unwrap();
    assert!(count > 60, "COMMAND COUNT = {count}");
    let info = c.cmd_s("COMMAND INFO get");
    assert!(info.starts_with(b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n"), "{}", String::from_utf8_lossy(&info));
    assert_eq!(c.cmd_s("COMMAND GETKEYS mset a 1 b 2"), b"*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    assert_eq!(c.cmd_s("COMMAND INFO nosuchcommand"), b"*1\r\n$-1\r\n", "as Redis");
}
