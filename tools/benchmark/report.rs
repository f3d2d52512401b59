//! Text reports: the memtier-style table, CSV, and the JSON file.
//!
//! The table has one row per command type and a Totals row: Ops/sec, Hits/sec and
//! Misses/sec (for reads: a null reply is a miss; other commands show ---), Errors (error
//! replies: never counted as ops), average and percentile latencies in milliseconds, and
//! KB/sec (request plus reply bytes). A second table gives the full percentile ladder.
//!
//! JSON schema (`--json-out-file`), all latencies in milliseconds unless named `_ns`:
//! ```text
//! { "tool": "shardis-benchmark", "version": "...",
//!   "configuration": { "server", "port", "threads", "clients_per_thread", "connections",
//!       "requests_per_client" (null when timed), "test_time_secs", "pipeline",
//!       "rate_limit_per_connection", "ratio", "tests", "commands", "key_prefix",
//!       "key_minimum", "key_maximum", "key_pattern", "data_size_min", "data_size_max",
//!       "expiry_range", "resp", "select_db", "run_count", "preload", "io" },
//!   "runs": [ { "test", "run", "duration_secs", "connection_errors", "lost_requests",
//!       "failed_connections", "error",
//!       "totals": STATS, "commands": [ STATS + { "first_error",
//!           "histogram": { "unit": "ns", "significant_digits", "count",
//!                          "buckets": [[highest_value_ns, count], ...] } } ],
//!       "throughput": [ { "second", "ops_per_sec", "errors", "p50_latency_ms",
//!                         "p99_latency_ms", "commands": { TYPE: ops_per_sec } } ] } ],
//!   "medians": [ { "test", "runs", "totals": STATS, "commands": [STATS] } ] }
//! STATS = { "type", "ops", "ops_per_sec", "hits", "misses", "hits_per_sec",
//!           "misses_per_sec" (the four are null for commands that have no misses, like SET),
//!           "errors", "kb_per_sec", "latency_ms": { "avg", "p50", "p90", "p99", "p99.9",
//!           "p99.99", "max" } }
//! ```

use crate::collect::RunResult;
use crate::options::{IoMode, Options};
use crate::stats::{self, Summary};
use serde_json::{Value, json};
use std::fmt::Write;

/// The medians of every number over the runs of one test.
#[derive(Debug)]
pub struct Median {
    pub test: String,
    pub runs: usize,
    pub rows: Vec<Summary>,
    pub totals: Summary,
}

/// One Median per test, in the order the tests ran (only when a test ran more than once).
pub fn medians(results: &[RunResult]) -> Vec<Median> {
    let mut tests: Vec<&str> = Vec::new();
    for r in results {
        if !tests.contains(&r.test.as_str()) {
            tests.push(&r.test);
        }
    }
    tests
        .into_iter()
        .filter_map(|test| {
            let runs: Vec<&RunResult> = results.iter().filter(|r| r.test == test).collect();
            if runs.len() < 2 {
                return None;
            }
            let rows = (0..runs[0].rows.len())
                .map(|i| stats::median_summary(&runs.iter().map(|r| &r.rows[i]).collect::<Vec<_>>()))
                .collect();
            let totals = stats::median_summary(&runs.iter().map(|r| &r.totals).collect::<Vec<_>>());
            Some(Median { test: test.to_string(), runs: runs.len(), rows, totals })
        })
        .collect()
}

const RULE_WIDTH: usize = 133;

/// The memtier-style table for one run (or median), with a heading.
pub fn table(heading: &str, rows: &[Summary], totals: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n{heading}");
    let _ = writeln!(out, "{}", "=".repeat(RULE_WIDTH));
    let _ = writeln!(
        out,
        "{:<12}{:>13}{:>13}{:>13}{:>10}{:>14}{:>14}{:>14}{:>15}{:>14}",
        "Type",
        "Ops/sec",
        "Hits/sec",
        "Misses/sec",
        "Errors",
        "Avg. Latency",
        "p50 Latency",
        "p99 Latency",
        "p99.9 Latency",
        "KB/sec"
    );
    let _ = writeln!(out, "{}", "-".repeat(RULE_WIDTH));
    for row in rows.iter().chain(std::iter::once(totals)) {
        let _ = writeln!(out, "{}", table_row(row));
    }
    let _ = writeln!(out, "\nLatency (ms)        p50        p90        p99      p99.9     p99.99        max");
    for row in rows.iter().chain(std::iter::once(totals)) {
        let l = &row.latency;
        let _ = writeln!(
            out,
            "{:<12}{:>11.3}{:>11.3}{:>11.3}{:>11.3}{:>11.3}{:>11.3}",
            row.name, l.p50, l.p90, l.p99, l.p999, l.p9999, l.max
        );
    }
    for row in rows.iter().filter(|r| r.errors > 0) {
        let first = row.first_error.as_deref().unwrap_or("?");
        let _ = writeln!(out, "\n{}: {} error replies; the first: {first}", row.name, row.errors);
    }
    out
}

fn table_row(r: &Summary) -> String {
    let hits = |v: f64| if r.tracks_hits { format!("{v:.2}") } else { "---".into() };
    let lat = |v: f64| if r.ops > 0 { format!("{v:.3}") } else { "---".into() };
    format!(
        "{:<12}{:>13.2}{:>13}{:>13}{:>10}{:>14}{:>14}{:>14}{:>15}{:>14.2}",
        r.name,
        r.ops_per_sec(),
        hits(r.hits_per_sec()),
        hits(r.misses_per_sec()),
        r.errors,
        lat(r.latency.avg),
        lat(r.latency.p50),
        lat(r.latency.p99),
        lat(r.latency.p999),
        r.kb_per_sec()
    )
}

/// The heading of a run's table.
pub fn run_heading(r: &RunResult, run_count: u32) -> String {
    let mut h = format!(
        "{} (run {} of {run_count}): {} requests in {:.2} s",
        r.test,
        r.run,
        r.totals.ops + r.totals.errors,
        r.secs
    );
    if r.connection_errors > 0 {
        let _ = write!(
            h,
            "; {} connection errors, {} requests lost in flight, {} connections given up",
            r.connection_errors, r.lost_requests, r.failed_connections
        );
    }
    h
}

pub const CSV_HEADER: &str = "test,run,type,ops_per_sec,hits_per_sec,misses_per_sec,errors,avg_latency_ms,\
p50_latency_ms,p90_latency_ms,p99_latency_ms,p99_9_latency_ms,p99_99_latency_ms,max_latency_ms,kb_per_sec";

/// CSV lines (no header) for a run or a median; `run` is a number or "median".
pub fn csv_rows(test: &str, run: &str, rows: &[Summary], totals: &Summary) -> String {
    let mut out = String::new();
    for r in rows.iter().chain(std::iter::once(totals)) {
        let l = &r.latency;
        let _ = writeln!(
            out,
            "{test},{run},{},{:.2},{:.2},{:.2},{},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.2}",
            r.name,
            r.ops_per_sec(),
            r.hits_per_sec(),
            r.misses_per_sec(),
            r.errors,
            l.avg,
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.p9999,
            l.max,
            r.kb_per_sec()
        );
    }
    out
}

/// The whole JSON document.
pub fn json_report(opts: &Options, results: &[RunResult], medians: &[Median]) -> Value {
    json!({
        "tool": "shardis-benchmark",
        "version": env!("CARGO_PKG_VERSION"),
        "configuration": configuration(opts),
        "runs": results.iter().map(run_json).collect::<Vec<_>>(),
        "medians": medians.iter().map(|m| json!({
            "test": m.test,
            "runs": m.runs,
            "totals": stats_json(&m.totals),
            "commands": m.rows.iter().map(stats_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn configuration(o: &Options) -> Value {
    json!({
        "server": o.server,
        "port": o.port,
        "threads": o.threads,
        "clients_per_thread": o.clients,
        "connections": o.connections(),
        "requests_per_client": if o.test_time_secs.is_some() { None } else { Some(o.requests) },
        "test_time_secs": o.test_time_secs,
        "pipeline": o.pipeline,
        "rate_limit_per_connection": o.rate_limit,
        "ratio": format!("{}:{}", o.ratio.0, o.ratio.1),
        "tests": o.tests,
        "commands": o.commands.iter().map(|c| json!({
            "command": c.line, "ratio": c.ratio, "key_pattern": c.key_pattern.letter().to_string(),
        })).collect::<Vec<_>>(),
        "key_prefix": o.key_prefix,
        "key_minimum": o.key_min,
        "key_maximum": o.key_max,
        "key_pattern": format!("{}:{}", o.key_pattern.0.letter(), o.key_pattern.1.letter()),
        "key_stddev": o.key_stddev,
        "key_median": o.key_median,
        "key_zipf_exp": o.key_zipf_exp,
        "data_size_min": o.data.min,
        "data_size_max": o.data.max,
        "expiry_range": o.expiry.map(|(a, b)| format!("{a}-{b}")),
        "resp": o.resp,
        "select_db": o.select_db,
        "run_count": o.run_count,
        "preload": o.preload,
        "distinct_client_seed": o.distinct_client_seed,
        "reconnect_on_error": o.reconnect_on_error,
        "io": match o.io { IoMode::Epoll => "epoll", IoMode::Glommio => "glommio" },
    })
}

fn run_json(r: &RunResult) -> Value {
    let commands: Vec<Value> = r
        .rows
        .iter()
        .zip(&r.cmds)
        .map(|(row, c)| {
            let mut v = stats_json(row);
            v["first_error"] = json!(row.first_error);
            v["histogram"] = histogram_json(&c.hist);
            v
        })
        .collect();
    let throughput: Vec<Value> = r
        .timeline()
        .iter()
        .map(|s| {
            let secs = r.second_secs(s);
            let per_cmd: serde_json::Map<String, Value> =
                r.names.iter().zip(&s.ops).map(|(n, &ops)| (n.clone(), json!(ops as f64 / secs))).collect();
            json!({
                "second": s.index,
                "ops_per_sec": s.ops.iter().sum::<u64>() as f64 / secs,
                "errors": s.errors,
                "p50_latency_ms": s.p50_ms,
                "p99_latency_ms": s.p99_ms,
                "commands": per_cmd,
            })
        })
        .collect();
    let mut totals = stats_json(&r.totals);
    totals["histogram"] = histogram_json(&r.total.hist);
    json!({
        "test": r.test,
        "run": r.run,
        "duration_secs": r.secs,
        "connection_errors": r.connection_errors,
        "lost_requests": r.lost_requests,
        "failed_connections": r.failed_connections,
        "error": r.fatal,
        "totals": totals,
        "commands": commands,
        "throughput": throughput,
    })
}

fn stats_json(s: &Summary) -> Value {
    let l = &s.latency;
    json!({
        "type": s.name,
        "ops": s.ops,
        "ops_per_sec": s.ops_per_sec(),
        "hits": if s.tracks_hits { Some(s.hits) } else { None },
        "misses": if s.tracks_hits { Some(s.misses) } else { None },
        "hits_per_sec": if s.tracks_hits { Some(s.hits_per_sec()) } else { None },
        "misses_per_sec": if s.tracks_hits { Some(s.misses_per_sec()) } else { None },
        "errors": s.errors,
        "kb_per_sec": s.kb_per_sec(),
        "latency_ms": {
            "avg": l.avg, "p50": l.p50, "p90": l.p90, "p99": l.p99,
            "p99.9": l.p999, "p99.99": l.p9999, "max": l.max,
        },
    })
}

/// Every non-empty bucket: [highest value in the bucket (ns), count].
fn histogram_json(h: &hdrhistogram::Histogram<u64>) -> Value {
    let buckets: Vec<[u64; 2]> =
        h.iter_recorded().map(|v| [v.value_iterated_to(), v.count_at_value()]).collect();
    json!({
        "unit": "ns",
        "significant_digits": h.sigfig(),
        "count": h.len(),
        "buckets": buckets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Latency;

    fn row(name: &str, ops: u64, tracks_hits: bool) -> Summary {
        Summary {
            name: name.into(),
            ops,
            hits: ops / 2,
            misses: ops - ops / 2,
            errors: 0,
            bytes: 2048,
            secs: 2.0,
            tracks_hits,
            latency: Latency { avg: 0.25, p50: 0.2, p90: 0.3, p99: 0.5, p999: 0.9, p9999: 1.0, max: 1.5 },
            first_error: None,
        }
    }

    #[test]
    fn table_shows_dashes_for_writes_and_numbers_for_reads() {
        let mut set = row("SET", 100, false);
        set.errors = 3;
        set.first_error = Some("ERR x".into());
        let t = table("heading", &[set, row("GET", 1000, true)], &row("Totals", 1100, true));
        let lines: Vec<&str> = t.lines().collect();
        let set_line = lines.iter().find(|l| l.starts_with("SET ")).unwrap();
        assert!(set_line.contains("---") && set_line.contains("50.00"), "{set_line}");
        let get_line = lines.iter().find(|l| l.starts_with("GET ")).unwrap();
        assert!(get_line.contains("500.00") && get_line.contains("250.00"), "{get_line}");
        assert!(t.contains("SET: 3 error replies; the first: ERR x"));
    }

    #[test]
    fn csv_has_a_line_per_row() {
        let csv = csv_rows("set", "1", &[row("SET", 10, false)], &row("Totals", 10, false));
        assert_eq!(csv.lines().count(), 2);
        assert_eq!(csv.lines().next().unwrap().split(',').count(), CSV_HEADER.split(',').count());
    }

    #[test]
    fn histogram_json_lists_buckets() {
        let mut h = stats::new_histogram();
        h.record(1000).unwrap();
        h.record(1000).unwrap();
        h.record(5000).unwrap();
        let v = histogram_json(&h);
        assert_eq!(v["count"], 3);
        assert_eq!(v["buckets"], json!([[1000, 2], [5003, 1]]), "5000 falls in a bucket 4 wide");
    }
}
