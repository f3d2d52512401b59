//! shardis-benchmark, the bundled load generator (tools/benchmark), run as a user would run
//! it: its command line (good and bad options, exit statuses), and end-to-end runs against a
//! shardis server checking that the counts add up (ops, hits + misses, errors, and what the
//! server saw in INFO commandstats), the JSON schema, the HTML page, the HdrHistogram files,
//! key patterns, preload, authentication, RESP3, rate limiting and reconnection.
//!
//! The distribution checks of the key patterns, the percentile math and the option parser's
//! details are unit tests inside the tool's modules (`cargo test --bin shardis-benchmark`).

mod common;

use common::Server;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shardis-benchmark")).args(args).output().expect("run shardis-benchmark")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs against `server` and asserts success; returns stdout.
fn bench_ok(server: &Server, args: &[&str]) -> String {
    let port = server.port().to_string();
    let mut all = vec!["-p", port.as_str()];
    all.extend_from_slice(args);
    let out = bench(&all);
    assert!(
        out.status.success(),
        "shardis-benchmark {all:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shardis-benchmark-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn read_json(path: &PathBuf) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("JSON file written")).expect("valid JSON")
}

/// `calls` of a command in INFO commandstats (0 when absent).
fn server_calls(server: &Server, cmd: &str) -> u64 {
    let info = common::as_bulk(&server.raw().cmd_s("INFO commandstats")).expect("INFO reply");
    let info = String::from_utf8_lossy(&info).into_owned();
    let prefix = format!("cmdstat_{cmd}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|rest| rest.split(',').next().unwrap().parse().unwrap())
        .unwrap_or(0)
}

fn command<'a>(run: &'a Value, kind: &str) -> &'a Value {
    run["commands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an unsigned number: {v}"))
}

#[test]
fn help_is_grouped_and_explains_per_client_requests() {
    let out = bench(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for section in [
        "Connection options:",
        "Test options:",
        "Object options:",
        "Key options:",
        "Arbitrary command options",
        "Output options:",
    ] {
        assert!(help.contains(section), "missing {section}");
    }
    assert!(help.contains("-n, --requests=NUMBER") && help.contains("requests per client (per connection)"));
    assert!(help.contains("--rate-limiting") && help.contains("coordinated omission"));
    let version = bench(&["--version"]);
    assert!(version.status.success() && text(&version.stdout).starts_with("shardis-benchmark "));
}

#[test]
fn bad_options_exit_2_with_a_clear_message() {
    let cases: &[(&[&str], &str)] = &[
        (&["--bogus"], "unknown option '--bogus'"),
        (&["-c", "0"], "--clients: '0' must be at least 1"),
        (&["--ratio", "1-10"], "--ratio"),
        (&["--tls"], "TLS is not supported yet"),
        (&["--cluster-mode"], "not supported until shardis has cluster support"),
        (&["--key-pattern", "Q"], "unknown key pattern 'Q'"),
        (&["--tests", "set,frobnicate"], "unknown test 'frobnicate'"),
        (&["-p"], "needs a value"),
    ];
    for (args, message) in cases {
        let out = bench(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(message), "{args:?}: expected {message:?} in {err:?}");
        assert!(err.contains("--help"), "{args:?} points at --help");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
}

#[test]
fn an_unreachable_server_exits_1() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = bench(&["-p", &port.to_string(), "-n", "10"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("could not connect to 127.0.0.1"), "{}", text(&out.stderr));
}

#[test]
fn counts_add_up_and_the_server_saw_them() {
    let server = Server::start(2, &[]);
    let json = temp_path("counts.json");
    let stdout = bench_ok(
        &server,
        &[
            "-t",
            "2",
            "-c",
            "2",
            "--requests",
            "100",
            "--ratio",
            "1:3",
            "--key-maximum",
            "50",
            "--json-out-file",
            json.to_str().unwrap(),
        ],
    );
    assert!(
        stdout.contains("Totals") && stdout.contains("Ops/sec") && stdout.contains("Misses/sec"),
        "{stdout}"
    );
    let doc = read_json(&json);
    let run = &doc["runs"][0];
    // memtier semantics: 100 requests per client, 2 threads x 2 clients.
    assert_eq!(u(&run["totals"]["ops"]), 400);
    assert_eq!(u(&run["totals"]["errors"]), 0);
    let (set, get) = (command(run, "SET"), command(run, "GET"));
    assert_eq!((u(&set["ops"]), u(&get["ops"])), (100, 300), "1:3 of 400");
    assert_eq!(u(&get["hits"]) + u(&get["misses"]), 300);
    assert_eq!(u(&run["totals"]["hits"]) + u(&run["totals"]["misses"]), 300);
    assert!(set["hits"].is_null(), "SET has no hits or misses");
    assert_eq!(u(&set["histogram"]["count"]), 100);
    assert_eq!(server_calls(&server, "set"), 100);
    assert_eq!(server_calls(&server, "get"), 300);
}

#[test]
fn json_output_follows_the_documented_schema() {
    let server = Server::start(2, &[]);
    let json = temp_path("schema.json");
    bench_ok(
        &server,
        &["-t", "1", "-c", "2", "-n", "50", "-x", "2", "--json-out-file", json.to_str().unwrap()],
    );
    let doc = read_json(&json);
    assert_eq!(doc["tool"], "shardis-benchmark");
    assert!(doc["version"].is_string());
    let config = &doc["configuration"];
    for key in
        ["server", "port", "threads", "clients_per_thread", "connections", "requests_per_client", "pipeline"]
    {
        assert!(!config[key].is_null(), "configuration.{key}");
    }
    assert_eq!(config["ratio"], "1:10");
    assert_eq!(config["key_pattern"], "R:R");
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for run in runs {
        assert_eq!(run["test"], "set-get");
        assert!(run["duration_secs"].as_f64().unwrap() > 0.0);
        assert_eq!(u(&run["connection_errors"]), 0);
        for stats in std::iter::once(&run["totals"]).chain(run["commands"].as_array().unwrap()) {
            for key in ["type", "ops", "ops_per_sec", "errors", "kb_per_sec"] {
                assert!(!stats[key].is_null(), "{key} in {stats}");
            }
            for p in ["avg", "p50", "p90", "p99", "p99.9", "p99.99", "max"] {
                assert!(stats["latency_ms"][p].as_f64().unwrap() >= 0.0, "latency_ms.{p}");
            }
            let h = &stats["histogram"];
            assert_eq!(h["unit"], "ns");
            let buckets = h["buckets"].as_array().unwrap();
            let counted: u64 = buckets.iter().map(|b| u(&b[1])).sum();
            assert_eq!(counted, u(&h["count"]));
            assert_eq!(counted, u(&stats["ops"]));
        }
        let l = &run["totals"]["latency_ms"];
        assert!(l["p50"].as_f64() <= l["p99"].as_f64() && l["p99"].as_f64() <= l["max"].as_f64());
        assert!(!run["throughput"].as_array().unwrap().is_empty());
    }
    let medians = doc["medians"].as_array().unwrap();
    assert_eq!((medians.len(), u(&medians[0]["runs"])), (1, 2));
}

#[test]
fn error_replies_are_counted_per_command_never_as_ops() {
    let server = Server::start(2, &[]);
    let json = temp_path("errors.json");
    let stdout = bench_ok(
        &server,
        &[
            "-t",
            "1",
            "-c",
            "2",
            "-n",
            "50",
            "--command",
            "PING",
            "--command",
            "NOSUCHCOMMAND __key__",
            "--json-out-file",
            json.to_str().unwrap(),
        ],
    );
    let doc = read_json(&json);
    let run = &doc["runs"][0];
    let (ping, bad) = (command(run, "PING"), command(run, "NOSUCHCOMMAND"));
    assert_eq!((u(&ping["ops"]), u(&ping["errors"])), (50, 0));
    assert_eq!((u(&bad["ops"]), u(&bad["errors"])), (0, 50));
    assert!(bad["first_error"].as_str().unwrap().contains("unknown command"), "{}", bad["first_error"]);
    assert_eq!((u(&run["totals"]["ops"]), u(&run["totals"]["errors"])), (50, 50));
    assert!(stdout.contains("NOSUCHCOMMAND: 50 error replies; the first: ERR unknown command"), "{stdout}");
}

#[test]
fn tests_suite_reports_each_test_in_csv() {
    let server = Server::start(2, &[]);
    let stdout =
        bench_ok(&server, &["-t", "1", "-c", "2", "-n", "25", "--tests", "ping,set,get,incr", "--csv"]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("test,run,type,ops_per_sec"), "{stdout}");
    for (test, kind) in [("ping_mbulk", "PING"), ("set", "SET"), ("get", "GET"), ("incr", "INCR")] {
        let row = lines.iter().find(|l| l.starts_with(&format!("{test},1,{kind},"))).expect(test);
        let errors: u64 = row.split(',').nth(6).unwrap().parse().unwrap();
        assert_eq!(errors, 0, "{row}");
        assert!(lines.iter().any(|l| l.starts_with(&format!("{test},1,Totals,"))));
    }
    assert_eq!(server_calls(&server, "incr"), 50);
}

#[test]
fn sequential_and_parallel_patterns_touch_the_expected_keys() {
    let server = Server::start(2, &[]);
    // S: every connection walks 1..=10 from the start: 2 connections x 5 requests = keys 1..=5.
    bench_ok(
        &server,
        &[
            "-t",
            "1",
            "-c",
            "2",
            "-n",
            "5",
            "--command",
            "SET s:__key__ v",
            "--command-key-pattern",
            "S",
            "--key-minimum",
            "1",
            "--key-maximum",
            "10",
        ],
    );
    // P: 2 connections split 1..=10, 5 requests each: every key once.
    bench_ok(
        &server,
        &[
            "-t",
            "1",
            "-c",
            "2",
            "-n",
            "5",
            "--command",
            "SET p:__key__ v",
            "--command-key-pattern",
            "P",
            "--key-minimum",
            "1",
            "--key-maximum",
            "10",
        ],
    );
    let mut conn = server.raw();
    let keys = |conn: &mut common::RawConn, pattern: &str| {
        let reply = conn.cmd_s(&format!("KEYS {pattern}"));
        let (_, elems) = common::split_aggregate(&reply).unwrap();
        let mut names: Vec<String> =
            elems.iter().map(|e| String::from_utf8(common::as_bulk(e).unwrap()).unwrap()).collect();
        names.sort();
        names
    };
    assert_eq!(
        keys(&mut conn, "s:*"),
        ["s:memtier-1", "s:memtier-2", "s:memtier-3", "s:memtier-4", "s:memtier-5"]
    );
    assert_eq!(keys(&mut conn, "p:*").len(), 10);
}

#[test]
fn preload_fills_the_key_range_so_gets_hit() {
    let server = Server::start(2, &[]);
    let json = temp_path("preload.json");
    bench_ok(
        &server,
        &[
            "-t",
            "2",
            "-c",
            "3",
            "-n",
            "50",
            "--preload",
            "--key-minimum",
            "1",
            "--key-maximum",
            "1000",
            "--ratio",
            "0:1",
            "--json-out-file",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(common::as_int(&server.raw().cmd_s("DBSIZE")), Some(1000));
    let doc = read_json(&json);
    let get = command(&doc["runs"][0], "GET");
    assert_eq!((u(&get["hits"]), u(&get["misses"])), (300, 0));
}

#[test]
fn auth_resp3_and_select_db() {
    let server = Server::start(2, &["--requirepass", "sekret"]);
    bench_ok(&server, &["-t", "1", "-c", "2", "-n", "20", "-a", "sekret", "--resp", "3", "--select-db", "3"]);
    let mut conn = server.raw();
    conn.cmd_s("AUTH sekret");
    conn.cmd_s("SELECT 3");
    assert!(common::as_int(&conn.cmd_s("DBSIZE")).unwrap() > 0, "the SETs went to db 3");
    let port = server.port().to_string();
    let out = bench(&["-p", &port, "-n", "5", "-a", "wrong"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("AUTH failed"), "{}", text(&out.stderr));
}

#[test]
fn rate_limiting_paces_each_connection() {
    let server = Server::start(2, &[]);
    let json = temp_path("rate.json");
    let started = Instant::now();
    bench_ok(
        &server,
        &[
            "-t",
            "1",
            "-c",
            "2",
            "--rate-limiting",
            "100",
            "--test-time",
            "2",
            // A window that never fills: on a loaded machine a late reply must not hold back
            // the next scheduled request.
            "--pipeline",
            "64",
            "--json-out-file",
            json.to_str().unwrap(),
        ],
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
    let doc = read_json(&json);
    let ops = u(&doc["runs"][0]["totals"]["ops"]);
    // Every scheduled request: 2 connections x 100/s x 2 s.
    assert!((380..=410).contains(&ops), "{ops} ops");
    assert_eq!(doc["configuration"]["rate_limit_per_connection"], 100);
}

#[test]
fn html_report_is_one_self_contained_page() {
    let server = Server::start(2, &[]);
    let html = temp_path("report.html");
    bench_ok(&server, &["-t", "1", "-c", "2", "-n", "200", "--html-out-file", html.to_str().unwrap()]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
    assert!(page.contains("Latency by percentile") && page.contains("Throughput"));
    assert!(page.matches("<svg").count() >= 2 && page.contains("<polyline"));
    assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("<script"));
}

#[test]
fn hdr_files_are_written_per_run_and_command() {
    let server = Server::start(2, &[]);
    let prefix = temp_path("hdr");
    bench_ok(&server, &["-t", "1", "-c", "2", "-n", "100", "--hdr-file-prefix", prefix.to_str().unwrap()]);
    let base = format!("{}_set-get_run1", prefix.display());
    let log = std::fs::read_to_string(format!("{base}.hlog")).unwrap();
    assert!(log.contains("#[BaseTime:") && log.contains("Tag=GET"), "{log}");
    for kind in ["SET", "GET", "ALL"] {
        let hgrm = std::fs::read_to_string(format!("{base}_{kind}.hgrm")).unwrap();
        assert!(hgrm.contains("Percentile") && hgrm.contains("#[Mean"), "{kind}");
    }
}

#[test]
fn lost_connections_are_reported_and_recovered_with_reconnect_on_error() {
    let server = Server::start(2, &[]);
    let port = server.port().to_string();
    // Kills every client a few times during the 2 s run (so a slow start can't dodge it).
    let kill_all = |server: &Server| {
        let laddr = format!("127.0.0.1:{}", server.port());
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(400));
            server.raw().cmd_s(&format!("CLIENT KILL LADDR {laddr} SKIPME yes"));
        }
    };
    let args = ["-p", &port, "-t", "1", "-c", "2", "--test-time", "2", "--rate-limiting", "200"];

    let plain = std::thread::scope(|s| {
        let run = s.spawn(|| bench(&args));
        kill_all(&server);
        run.join().unwrap()
    });
    assert_eq!(plain.status.code(), Some(1), "{}", text(&plain.stderr));
    // "connection closed by the server", or a reset when requests were in flight.
    assert!(text(&plain.stderr).contains("thread 0 connection 0 lost: "), "{}", text(&plain.stderr));

    let mut with_reconnect = args.to_vec();
    with_reconnect.push("--reconnect-on-error");
    let recovered = std::thread::scope(|s| {
        let run = s.spawn(|| bench(&with_reconnect));
        kill_all(&server);
        run.join().unwrap()
    });
    let err = text(&recovered.stderr);
    assert_eq!(recovered.status.code(), Some(0), "{err}");
    assert!(err.contains(" lost: ") && err.contains("thread 0 connection 0: reconnected"), "{err}");
    assert!(text(&recovered.stdout).contains("connection errors"), "the table heading counts them");
}
