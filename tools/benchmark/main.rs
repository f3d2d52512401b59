//! shardis-benchmark: a load generator for any RESP server (see `--help` and README.md here).
//!
//! A run's life:
//! 1. `options` turns the command line into `Options` (or a message and exit status 2).
//! 2. `main` resolves the server, checks it answers (AUTH/HELLO/SELECT included), and builds
//!    the workloads (`workload`): the SET:GET mix, the `--command`s, or one per `--tests` test.
//! 3. For each run and workload, `engine` starts one pinned glommio executor per thread; each
//!    drives its connections (`io` for sockets, `keys` for key choice, `resp` to find replies)
//!    and sends its counts (`stats`) to the main thread once a second.
//! 4. `collect` merges the threads into totals and a per-second timeline and shows progress.
//! 5. `report` prints the table (or CSV) and writes JSON; `html` the page; `hdrlog` the
//!    HdrHistogram files.

mod collect;
mod engine;
mod hdrlog;
mod html;
mod io;
mod keys;
mod options;
mod report;
mod resp;
mod stats;
mod workload;

use collect::{Collector, RunInfo, RunResult};
use engine::{Plan, Settings, Stop};
use options::{Command, Options};
use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use workload::{CommandSpec, Shape, Workload};

/// The random seed every connection starts from (all alike unless --distinct-client-seed).
const SEED: u64 = 0x5348_4152_4449_5321;
/// Preload keeps at least this many SETs in flight per connection.
const PRELOAD_PIPELINE: usize = 64;

fn main() {
    std::process::exit(real_main());
}

fn real_main() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match options::parse(&args) {
        Ok(Command::Run(o)) => *o,
        Ok(Command::Help) => {
            print!("{}", options::help());
            return 0;
        }
        Ok(Command::Version) => {
            println!("shardis-benchmark {}", env!("CARGO_PKG_VERSION"));
            return 0;
        }
        Err(e) => {
            eprintln!("shardis-benchmark: {e}\nTry 'shardis-benchmark --help' for the options.");
            return 2;
        }
    };
    match run_all(&opts) {
        Ok(false) => 0,
        Ok(true) => 1,
        Err(e) => {
            eprintln!("shardis-benchmark: {e}");
            1
        }
    }
}

/// Everything the options ask for; Ok(true) when some run had connection failures.
fn run_all(opts: &Options) -> Result<bool, String> {
    let settings = Arc::new(settings_of(opts)?);
    engine::prepare_server(&settings, &[])?;
    let shape = shape_of(opts);
    let workloads = workloads_of(opts, &shape)?;
    if opts.csv {
        println!("{}", report::CSV_HEADER);
    } else {
        println!("{}", banner(opts, &settings));
    }
    if opts.preload {
        preload(opts, &settings, &shape)?;
    }
    let mut results = Vec::new();
    for run in 1..=opts.run_count {
        for w in &workloads {
            let result = run_one(opts, &settings, w.clone(), run)?;
            print_result(opts, &result);
            let fatal = result.fatal.clone();
            results.push(result);
            if let Some(e) = fatal {
                write_outputs(opts, &settings, &results, &[])?;
                return Err(e);
            }
        }
    }
    let medians = report::medians(&results);
    for m in &medians {
        if opts.csv {
            print!("{}", report::csv_rows(&m.test, "median", &m.rows, &m.totals));
        } else {
            let heading = format!("{}: median of {} runs (each number separately)", m.test, m.runs);
            print!("{}", report::table(&heading, &m.rows, &m.totals));
        }
    }
    write_outputs(opts, &settings, &results, &medians)?;
    Ok(results.iter().any(RunResult::failed))
}

fn settings_of(opts: &Options) -> Result<Settings, String> {
    let addr = (opts.server.as_str(), opts.port)
        .to_socket_addrs()
        .map_err(|e| format!("can't resolve {}: {e}", opts.server))?
        .next()
        .ok_or_else(|| format!("{} has no address", opts.server))?;
    Ok(Settings {
        addr,
        threads: opts.threads,
        clients: opts.clients,
        io: opts.io,
        spin: Duration::from_micros(opts.spin_us),
        handshake: handshake_of(opts),
        reconnect: opts.reconnect_on_error,
        max_reconnect_attempts: opts.max_reconnect_attempts,
        seed: SEED,
        distinct_seeds: opts.distinct_client_seed,
        cpus: io::allowed_cpus(),
    })
}

fn handshake_of(opts: &Options) -> Vec<Vec<Vec<u8>>> {
    let mut cmds = Vec::new();
    if let Some(auth) = opts.auth_args() {
        cmds.push(std::iter::once("AUTH".to_string()).chain(auth).map(String::into_bytes).collect());
    }
    if opts.resp == 3 {
        cmds.push(vec![b"HELLO".to_vec(), b"3".to_vec()]);
    }
    if let Some(db) = opts.select_db {
        cmds.push(vec![b"SELECT".to_vec(), db.to_string().into_bytes()]);
    }
    cmds
}

fn shape_of(opts: &Options) -> Shape {
    Shape {
        keys: keys::KeySpace {
            min: opts.key_min,
            max: opts.key_max,
            stddev: opts.key_stddev,
            median: opts.key_median,
            zipf_exp: opts.key_zipf_exp,
        },
        key_prefix: opts.key_prefix.clone(),
        data: opts.data,
        expiry: opts.expiry,
    }
}

fn workloads_of(opts: &Options, shape: &Shape) -> Result<Vec<Arc<Workload>>, String> {
    if !opts.tests.is_empty() {
        return opts.tests.iter().map(|t| Workload::test(t, opts.key_pattern, shape).map(Arc::new)).collect();
    }
    if !opts.commands.is_empty() {
        let mut specs: Vec<CommandSpec> = opts
            .commands
            .iter()
            .map(|c| CommandSpec::new(c.template.clone(), c.ratio, c.key_pattern))
            .collect();
        number_duplicate_names(&mut specs);
        return Ok(vec![Arc::new(Workload::new("commands", specs, Vec::new(), shape))]);
    }
    Ok(vec![Arc::new(Workload::set_get(opts.ratio, opts.key_pattern, shape))])
}

/// Two --command ZADD ... become ZADD and ZADD#2 in the reports.
fn number_duplicate_names(specs: &mut [CommandSpec]) {
    for i in 1..specs.len() {
        let same = specs[..i].iter().filter(|s| s.template.name() == specs[i].name).count();
        if same > 0 {
            specs[i].name = format!("{}#{}", specs[i].name, same + 1);
        }
    }
}

fn banner(opts: &Options, s: &Settings) -> String {
    let amount = match opts.test_time_secs {
        Some(t) => format!("{t} s per run"),
        None => format!("{} requests per client", opts.requests),
    };
    let rate = opts.rate_limit.map(|r| format!(", {r} requests/s per connection")).unwrap_or_default();
    format!(
        "shardis-benchmark {}: {} ({}), {} threads x {} clients = {} connections, pipeline {}, {amount}{rate}",
        env!("CARGO_PKG_VERSION"),
        s.addr,
        if opts.resp == 3 { "RESP3" } else { "RESP2" },
        s.threads,
        s.clients,
        s.connections(),
        opts.pipeline
    )
}

fn preload(opts: &Options, settings: &Arc<Settings>, shape: &Shape) -> Result<(), String> {
    let plan = Plan {
        workload: Arc::new(Workload::preload(shape)),
        stop: Stop::OnePass,
        pipeline: opts.pipeline.max(PRELOAD_PIPELINE),
        rate_limit: None,
    };
    let started = Instant::now();
    let r = execute(settings, plan, "preload", 1, false)?;
    if let Some(e) = r.fatal.or((r.failed_connections > 0).then(|| "connections failed".to_string())) {
        return Err(format!("preload failed: {e}"));
    }
    eprintln!(
        "preloaded keys {}..{} with {} SETs in {:.2} s ({} errors)",
        opts.key_min,
        opts.key_max,
        r.totals.ops,
        started.elapsed().as_secs_f64(),
        r.totals.errors
    );
    Ok(())
}

fn run_one(
    opts: &Options,
    settings: &Arc<Settings>,
    workload: Arc<Workload>,
    run: u32,
) -> Result<RunResult, String> {
    engine::prepare_server(settings, &workload.setup)?;
    let stop = match opts.test_time_secs {
        Some(t) => Stop::Time(Duration::from_secs(t)),
        None => Stop::Requests(opts.requests),
    };
    let name = workload.name.clone();
    let plan = Plan { workload, stop, pipeline: opts.pipeline, rate_limit: opts.rate_limit };
    let label = format!("run {run}/{} {name}", opts.run_count);
    execute(settings, plan, &label, run, opts.hdr_prefix.is_some())
}

/// Runs a plan with a collector; `keep_hdr` keeps per-second histograms for the interval log.
fn execute(
    settings: &Arc<Settings>,
    plan: Plan,
    label: &str,
    run: u32,
    keep_hdr: bool,
) -> Result<RunResult, String> {
    let w = &plan.workload;
    let info = RunInfo {
        label: label.to_string(),
        threads: settings.threads,
        planned_ops: match plan.stop {
            Stop::Requests(n) => Some(n * settings.connections()),
            Stop::OnePass => Some(w.keys.count()),
            Stop::Time(_) => None,
        },
        test_time: match plan.stop {
            Stop::Time(t) => Some(t),
            _ => None,
        },
        keep_hdr,
    };
    let mut collector =
        Collector::new(info, w.command_names(), w.commands.iter().map(|c| c.tracks_hits).collect());
    let test = w.name.clone();
    let started = SystemTime::now();
    engine::run(settings, &Arc::new(plan), &mut |e| collector.on_event(e))?;
    Ok(collector.finish(&test, run, started))
}

fn print_result(opts: &Options, r: &RunResult) {
    if opts.csv {
        print!("{}", report::csv_rows(&r.test, &r.run.to_string(), &r.rows, &r.totals));
    } else {
        print!("{}", report::table(&report::run_heading(r, opts.run_count), &r.rows, &r.totals));
    }
}

fn write_outputs(
    opts: &Options,
    settings: &Settings,
    results: &[RunResult],
    medians: &[report::Median],
) -> Result<(), String> {
    if let Some(path) = &opts.json_out {
        let doc = report::json_report(opts, results, medians);
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("writing {path}: {e}"))?;
        eprintln!("JSON results written to {path}");
    }
    if let Some(path) = &opts.html_out {
        let config = banner(opts, settings);
        let title = format!("shardis-benchmark: {}:{}", opts.server, opts.port);
        std::fs::write(path, html::page(&title, &config, results, medians))
            .map_err(|e| format!("writing {path}: {e}"))?;
        eprintln!("HTML report written to {path}");
    }
    if let Some(prefix) = &opts.hdr_prefix {
        for r in results {
            let files = hdrlog::write_run(prefix, r)?;
            eprintln!("HdrHistogram files written: {}", files.join(", "));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(args: &[&str]) -> Options {
        match options::parse(args).unwrap() {
            Command::Run(o) => *o,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn handshake_authenticates_then_switches_protocol_then_selects() {
        let cmds = handshake_of(&opts(&["-a", "u:p", "--resp", "3", "--select-db", "2"]));
        let words: Vec<String> = cmds.iter().map(|c| String::from_utf8(c.join(&b' ')).unwrap()).collect();
        assert_eq!(words, ["AUTH u p", "HELLO 3", "SELECT 2"]);
        assert!(handshake_of(&opts(&[])).is_empty());
    }

    #[test]
    fn workloads_follow_the_options() {
        let o = opts(&["--tests", "set,get"]);
        let names: Vec<String> =
            workloads_of(&o, &shape_of(&o)).unwrap().iter().map(|w| w.name.clone()).collect();
        assert_eq!(names, ["set", "get"]);
        let o = opts(&[
            "--command",
            "ZADD z 1 __key__",
            "--command",
            "ZADD y 1 __key__",
            "--command",
            "GET __key__",
        ]);
        let w = workloads_of(&o, &shape_of(&o)).unwrap();
        assert_eq!(w[0].command_names(), ["ZADD", "ZADD#2", "GET"]);
        let o = opts(&["--ratio", "0:1"]);
        assert_eq!(workloads_of(&o, &shape_of(&o)).unwrap()[0].command_names(), ["GET"]);
    }
}
