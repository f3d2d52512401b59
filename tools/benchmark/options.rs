//! The command line: every option with its default, the parser, the checks, and `--help`.
//!
//! Names follow memtier_benchmark where it has the option (`--ratio`, `--key-pattern`,
//! `-n` per client...). Both `--name=value` and `--name value` work, short options take
//! `-p 6379` or `-p6379`. A bad option is an error value carrying a message for the user;
//! `main` prints it and exits with status 2.

use crate::keys::KeyPattern;
use crate::workload::{self, DataSize, Template};

/// How connections do socket I/O (see `io`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoMode {
    /// A per-thread epoll set polled by a glommio task; plain non-blocking recv/send.
    Epoll,
    /// glommio's own TcpStream (io_uring).
    Glommio,
}

/// One `--command`, with the `--command-ratio` and `--command-key-pattern` that followed it.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomCommand {
    pub line: String,
    pub template: Template,
    pub ratio: u32,
    pub key_pattern: KeyPattern,
}

/// Everything the command line can set.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub server: String,
    pub port: u16,
    pub password: Option<String>,
    pub user: Option<String>,
    pub resp: u8,
    pub select_db: Option<u32>,
    pub reconnect_on_error: bool,
    pub max_reconnect_attempts: u32,

    pub threads: usize,
    pub clients: usize,
    /// Requests per connection (memtier: per client).
    pub requests: u64,
    pub test_time_secs: Option<u64>,
    pub pipeline: usize,
    /// Requests per second per connection.
    pub rate_limit: Option<u64>,
    pub run_count: u32,
    pub preload: bool,
    pub distinct_client_seed: bool,

    pub ratio: (u32, u32),
    pub tests: Vec<String>,
    pub commands: Vec<CustomCommand>,
    pub data: DataSize,
    pub expiry: Option<(u64, u64)>,

    pub key_prefix: String,
    pub key_min: u64,
    pub key_max: u64,
    /// (for SET, for GET); the tests and --command use their own.
    pub key_pattern: (KeyPattern, KeyPattern),
    pub key_stddev: Option<f64>,
    pub key_median: Option<f64>,
    pub key_zipf_exp: f64,

    pub json_out: Option<String>,
    pub html_out: Option<String>,
    pub hdr_prefix: Option<String>,
    pub csv: bool,

    pub io: IoMode,
    pub spin_us: u64,
}

impl Options {
    /// memtier's defaults, with one thread per available core.
    pub fn defaults() -> Options {
        Options {
            server: "127.0.0.1".into(),
            port: 6379,
            password: None,
            user: None,
            resp: 2,
            select_db: None,
            reconnect_on_error: false,
            max_reconnect_attempts: 10,
            threads: available_cores(),
            clients: 50,
            requests: 10_000,
            test_time_secs: None,
            pipeline: 1,
            rate_limit: None,
            run_count: 1,
            preload: false,
            distinct_client_seed: false,
            ratio: (1, 10),
            tests: Vec::new(),
            commands: Vec::new(),
            data: DataSize { min: 32, max: 32 },
            expiry: None,
            key_prefix: "memtier-".into(),
            key_min: 0,
            key_max: 10_000_000,
            key_pattern: (KeyPattern::Uniform, KeyPattern::Uniform),
            key_stddev: None,
            key_median: None,
            key_zipf_exp: 1.0,
            json_out: None,
            html_out: None,
            hdr_prefix: None,
            csv: false,
            io: IoMode::Epoll,
            spin_us: 50,
        }
    }

    pub fn connections(&self) -> u64 {
        (self.threads * self.clients) as u64
    }

    /// The AUTH arguments: `-a USER:PASSWORD` splits at the first colon unless --user is
    /// given, in which case -a is the whole password.
    pub fn auth_args(&self) -> Option<Vec<String>> {
        let password = self.password.as_ref()?;
        match (&self.user, password.split_once(':')) {
            (Some(user), _) => Some(vec![user.clone(), password.clone()]),
            (None, Some((user, pass))) => Some(vec![user.to_string(), pass.to_string()]),
            (None, None) => Some(vec![password.clone()]),
        }
    }
}

/// The cores this process may run on (respects taskset).
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub enum Command {
    Run(Box<Options>),
    Help,
    Version,
}

/// Parses the arguments (without the program name).
pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Command, String> {
    let mut opts = Options::defaults();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_ref();
        i += 1;
        let (name, inline_value) = split_arg(arg)?;
        let spec = find_spec(&name).ok_or_else(|| format!("unknown option '{arg}'"))?;
        match spec.long {
            "help" => return Ok(Command::Help),
            "version" => return Ok(Command::Version),
            _ => {}
        }
        let value = if spec.takes_value {
            match inline_value {
                Some(v) => Some(v),
                None if i < args.len() => {
                    i += 1;
                    Some(args[i - 1].as_ref().to_string())
                }
                None => return Err(format!("option '{arg}' needs a value")),
            }
        } else {
            if inline_value.is_some() {
                return Err(format!("option '--{}' takes no value", spec.long));
            }
            None
        };
        apply(&mut opts, spec.long, value.as_deref().unwrap_or(""))
            .map_err(|e| format!("--{}: {e}", spec.long))?;
    }
    check(&opts)?;
    Ok(Command::Run(Box::new(opts)))
}

/// `--name=value` -> ("name", Some(value)); `-p6379` -> ("p", Some("6379")).
fn split_arg(arg: &str) -> Result<(String, Option<String>), String> {
    if let Some(long) = arg.strip_prefix("--") {
        return Ok(match long.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (long.to_string(), None),
        });
    }
    let short = arg
        .strip_prefix('-')
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("unexpected argument '{arg}' (options start with - or --; see --help)"))?;
    let mut chars = short.chars();
    let letter = chars.next().expect("non-empty").to_string();
    let rest: String = chars.collect();
    Ok((letter, (!rest.is_empty()).then_some(rest)))
}

struct Spec {
    long: &'static str,
    short: Option<&'static str>,
    takes_value: bool,
}

const fn opt(long: &'static str, short: Option<&'static str>, takes_value: bool) -> Spec {
    Spec { long, short, takes_value }
}

const SPECS: &[Spec] = &[
    opt("server", Some("s"), true),
    opt("port", Some("p"), true),
    opt("authenticate", Some("a"), true),
    opt("user", None, true),
    opt("resp", None, true),
    opt("tls", None, false),
    opt("cluster-mode", None, false),
    opt("select-db", None, true),
    opt("reconnect-on-error", None, false),
    opt("max-reconnect-attempts", None, true),
    opt("threads", Some("t"), true),
    opt("clients", Some("c"), true),
    opt("requests", Some("n"), true),
    opt("test-time", None, true),
    opt("pipeline", None, true),
    opt("rate-limiting", None, true),
    opt("run-count", Some("x"), true),
    opt("preload", None, false),
    opt("distinct-client-seed", None, false),
    opt("ratio", None, true),
    opt("tests", None, true),
    opt("command", None, true),
    opt("command-ratio", None, true),
    opt("command-key-pattern", None, true),
    opt("data-size", Some("d"), true),
    opt("data-size-range", None, true),
    opt("expiry-range", None, true),
    opt("key-prefix", None, true),
    opt("key-minimum", None, true),
    opt("key-maximum", None, true),
    opt("key-pattern", None, true),
    opt("key-stddev", None, true),
    opt("key-median", None, true),
    opt("key-zipf-exp", None, true),
    opt("json-out-file", None, true),
    opt("html-out-file", None, true),
    opt("hdr-file-prefix", None, true),
    opt("csv", None, false),
    opt("io", None, true),
    opt("spin-us", None, true),
    opt("help", Some("h"), false),
    opt("version", Some("v"), false),
];

fn find_spec(name: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.long == name || s.short == Some(name))
}

fn apply(o: &mut Options, long: &str, v: &str) -> Result<(), String> {
    match long {
        "server" => o.server = non_empty(v)?,
        "port" => o.port = number(v)?,
        "authenticate" => o.password = Some(v.to_string()),
        "user" => o.user = Some(non_empty(v)?),
        "resp" => o.resp = resp_version(v)?,
        "tls" => return Err("TLS is not supported yet".into()),
        "cluster-mode" => return Err("not supported until shardis has cluster support".into()),
        "select-db" => o.select_db = Some(number(v)?),
        "reconnect-on-error" => o.reconnect_on_error = true,
        "max-reconnect-attempts" => o.max_reconnect_attempts = number(v)?,
        "threads" => o.threads = positive(v)?,
        "clients" => o.clients = positive(v)?,
        "requests" => o.requests = positive(v)?,
        "test-time" => o.test_time_secs = Some(positive(v)?),
        "pipeline" => o.pipeline = positive(v)?,
        "rate-limiting" => o.rate_limit = Some(positive(v)?),
        "run-count" => o.run_count = positive(v)?,
        "preload" => o.preload = true,
        "distinct-client-seed" => o.distinct_client_seed = true,
        "ratio" => o.ratio = ratio(v)?,
        "tests" => o.tests = test_list(v)?,
        "command" => o.commands.push(custom_command(v)?),
        "command-ratio" => last_command(o)?.ratio = positive(v)?,
        "command-key-pattern" => last_command(o)?.key_pattern = KeyPattern::parse(v)?,
        "data-size" => o.data = DataSize { min: positive(v)?, max: positive(v)? },
        "data-size-range" => o.data = data_range(v)?,
        "expiry-range" => o.expiry = expiry_range(v)?,
        "key-prefix" => o.key_prefix = v.to_string(),
        "key-minimum" => o.key_min = number(v)?,
        "key-maximum" => o.key_max = number(v)?,
        "key-pattern" => o.key_pattern = key_patterns(v)?,
        "key-stddev" => o.key_stddev = Some(positive_float(v)?),
        "key-median" => o.key_median = Some(float(v)?),
        "key-zipf-exp" => o.key_zipf_exp = zipf_exp(v)?,
        "json-out-file" => o.json_out = Some(non_empty(v)?),
        "html-out-file" => o.html_out = Some(non_empty(v)?),
        "hdr-file-prefix" => o.hdr_prefix = Some(non_empty(v)?),
        "csv" => o.csv = true,
        "io" => o.io = io_mode(v)?,
        "spin-us" => o.spin_us = number(v)?,
        other => unreachable!("option {other} has a spec but no handler"),
    }
    Ok(())
}

/// Checks that need several options at once.
fn check(o: &Options) -> Result<(), String> {
    if o.key_min > o.key_max {
        return Err(format!("--key-minimum ({}) is above --key-maximum ({})", o.key_min, o.key_max));
    }
    if !o.tests.is_empty() && !o.commands.is_empty() {
        return Err("--tests and --command can't be combined: run them separately".into());
    }
    if o.user.is_some() && o.password.is_none() {
        return Err("--user needs a password with -a/--authenticate".into());
    }
    if o.data.max > 512 << 20 {
        return Err("values are limited to 512 MiB (--data-size)".into());
    }
    let total_ratio: u64 = o.commands.iter().map(|c| c.ratio as u64).sum();
    if total_ratio > 1_000_000 {
        return Err("the --command-ratio values add up to more than 1000000".into());
    }
    if o.ratio.0 as u64 + o.ratio.1 as u64 > 1_000_000 {
        return Err("--ratio parts add up to more than 1000000".into());
    }
    Ok(())
}

fn non_empty(v: &str) -> Result<String, String> {
    if v.is_empty() { Err("needs a non-empty value".into()) } else { Ok(v.to_string()) }
}

fn number<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.trim().parse().map_err(|_| format!("'{v}' is not a valid number"))
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(v: &str) -> Result<T, String> {
    let n: T = number(v)?;
    if n > T::default() { Ok(n) } else { Err(format!("'{v}' must be at least 1")) }
}

fn float(v: &str) -> Result<f64, String> {
    match v.trim().parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(f),
        _ => Err(format!("'{v}' is not a valid number")),
    }
}

fn positive_float(v: &str) -> Result<f64, String> {
    let f = float(v)?;
    if f > 0.0 { Ok(f) } else { Err(format!("'{v}' must be above 0")) }
}

fn zipf_exp(v: &str) -> Result<f64, String> {
    let f = positive_float(v)?;
    if f <= 10.0 { Ok(f) } else { Err(format!("'{v}' must be in (0, 10]")) }
}

fn resp_version(v: &str) -> Result<u8, String> {
    match v {
        "2" => Ok(2),
        "3" => Ok(3),
        _ => Err(format!("'{v}' is not a protocol version (2 or 3)")),
    }
}

fn io_mode(v: &str) -> Result<IoMode, String> {
    match v {
        "epoll" => Ok(IoMode::Epoll),
        "glommio" => Ok(IoMode::Glommio),
        _ => Err(format!("'{v}' is not an I/O mode (epoll or glommio)")),
    }
}

fn pair<'a>(v: &'a str, sep: char, what: &str) -> Result<(&'a str, &'a str), String> {
    v.split_once(sep).ok_or_else(|| format!("'{v}' is not {what}"))
}

fn ratio(v: &str) -> Result<(u32, u32), String> {
    let (s, g) = pair(v, ':', "a SET:GET ratio like 1:10")?;
    let r = (number(s)?, number(g)?);
    if r == (0, 0) { Err("the ratio 0:0 sends nothing".into()) } else { Ok(r) }
}

fn key_patterns(v: &str) -> Result<(KeyPattern, KeyPattern), String> {
    match v.split_once(':') {
        Some((s, g)) => Ok((KeyPattern::parse(s)?, KeyPattern::parse(g)?)),
        None => KeyPattern::parse(v).map(|p| (p, p)),
    }
}

fn data_range(v: &str) -> Result<DataSize, String> {
    let (lo, hi) = pair(v, '-', "a range like 32-128")?;
    let d = DataSize { min: positive(lo)?, max: positive(hi)? };
    if d.min > d.max { Err(format!("range '{v}' is empty (minimum above maximum)")) } else { Ok(d) }
}

fn expiry_range(v: &str) -> Result<Option<(u64, u64)>, String> {
    let (lo, hi) = pair(v, '-', "a range of seconds like 10-100")?;
    let (lo, hi): (u64, u64) = (number(lo)?, number(hi)?);
    match (lo, hi) {
        (0, 0) => Ok(None),
        (0, _) => Err("expiry times start at 1 second (0-0 means no expiry)".into()),
        _ if lo > hi => Err(format!("range '{v}' is empty (minimum above maximum)")),
        _ => Ok(Some((lo, hi))),
    }
}

fn test_list(v: &str) -> Result<Vec<String>, String> {
    let tests: Result<Vec<String>, String> = v
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| workload::canonical_test(t).map(String::from))
        .collect();
    let tests = tests?;
    if tests.is_empty() { Err("no test named".into()) } else { Ok(tests) }
}

fn custom_command(v: &str) -> Result<CustomCommand, String> {
    let template = Template::parse(v)?;
    Ok(CustomCommand { line: v.to_string(), template, ratio: 1, key_pattern: KeyPattern::Uniform })
}

fn last_command(o: &mut Options) -> Result<&mut CustomCommand, String> {
    o.commands.last_mut().ok_or_else(|| "must follow a --command".to_string())
}

/// The `--help` text.
pub fn help() -> String {
    format!(
        "Usage: shardis-benchmark [options]

A load generator for Redis-compatible servers (RESP2 and RESP3): one pinned thread per core,
many connections per thread, pipelining, and HdrHistogram latencies per command type.
Options are named as in memtier_benchmark. Values go as --name=value or --name value.

Connection options:
  -s, --server=ADDR              server address (default: 127.0.0.1)
  -p, --port=PORT                server port (default: 6379)
  -a, --authenticate=PASSWORD    AUTH with this password; USER:PASSWORD authenticates an ACL user
      --user=USER                ACL user for AUTH; -a is then the whole password
      --resp=2|3                 protocol; 3 sends HELLO 3 on connect (default: 2)
      --select-db=DB             SELECT this database on connect
      --tls                      not supported yet
      --cluster-mode             not supported until shardis has cluster support
      --reconnect-on-error       reconnect a lost connection and carry on (default: report the
                                 loss, stop that connection, exit with status 1)
      --max-reconnect-attempts=N give up after N failed reconnects in a row (default: 10; 0: never)

Test options:
  -t, --threads=NUMBER           threads, each an executor pinned to a core (default: {cores},
                                 the cores this process may use)
  -c, --clients=NUMBER           connections per thread (default: 50)
  -n, --requests=NUMBER          requests per client (per connection), as in memtier: a run sends
                                 threads x clients x NUMBER requests (default: 10000)
      --test-time=SECS           run for SECS seconds instead (overrides --requests)
      --pipeline=NUMBER          requests kept in flight per connection (default: 1)
      --rate-limiting=RPS        requests per second per connection on a fixed schedule (open loop);
                                 latency counts from each request's scheduled send time, so a stalled
                                 server shows up in the percentiles (no coordinated omission)
      --ratio=SET:GET            SET to GET ratio (default: 1:10)
      --tests=LIST               comma-separated redis-benchmark style tests, each run in turn and
                                 reported separately: ping_inline, ping (ping_mbulk), set, get, incr,
                                 lpush, rpush, lpop, rpop, sadd, hset, spop, zadd, zpopmin, lrange
                                 (lrange_100), lrange_300, lrange_500, lrange_600, mset, xadd
                                 (collections use redis-benchmark's keys: mylist, myset, ...)
  -x, --run-count=NUMBER         repeat everything NUMBER times; report each run and the medians
      --preload                  first fill the whole key range with SET (pattern P, pipelined)
      --distinct-client-seed     a different random seed per connection (default: all alike)

Object options:
  -d, --data-size=BYTES          value size (default: 32)
      --data-size-range=MIN-MAX  random value sizes in this range
      --expiry-range=MIN-MAX     SET with EX, seconds drawn from this range (default: no expiry)

Key options:
      --key-prefix=PREFIX        key name prefix (default: memtier-)
      --key-minimum=NUMBER       smallest key number (default: 0)
      --key-maximum=NUMBER       largest key number (default: 10000000)
      --key-pattern=SET:GET      how keys are chosen, for SET and for GET (one letter sets both;
                                 default R:R): R uniform, S sequential, G gaussian, Z zipf,
                                 P parallel (each connection walks its own slice of the range)
      --key-stddev=NUMBER        gaussian standard deviation (default: range / 6)
      --key-median=NUMBER        gaussian center (default: middle of the range)
      --key-zipf-exp=EXP         zipf exponent in (0, 10] (default: 1)

Arbitrary command options (replace the SET:GET mix):
      --command=COMMAND          a command to send, e.g. \"ZADD myzset 1 __key__\"; __key__ becomes a
                                 key, __data__ a value; double quotes group words. Repeatable.
      --command-ratio=NUMBER     share of the preceding --command (default: 1)
      --command-key-pattern=R|S|G|Z|P  key pattern of the preceding --command (default: R)

Output options:
      --json-out-file=FILE       configuration, results, percentiles and full histograms as JSON
      --html-out-file=FILE       one self-contained page: latency percentile and throughput charts
      --hdr-file-prefix=PREFIX   HdrHistogram files per run: PREFIX_<test>_run<N>.hlog (interval log,
                                 one histogram per command per second) and PREFIX_<test>_run<N>_<CMD>.hgrm
      --csv                      print CSV instead of the table
  A live progress line is shown on stderr when it is a terminal.

Engine options:
      --io=epoll|glommio         socket I/O: per-thread epoll set (default) or glommio's io_uring streams
      --spin-us=US               how long an idle thread polls before sleeping (default: 50)

  -h, --help                     this text
  -v, --version                  the version

Examples:
  shardis-benchmark                                   # 1:10 SET:GET, {cores} threads x 50 clients x 10000 requests
  shardis-benchmark -t 1 -c 50 --pipeline 16 --ratio 1:1 --test-time 30
  shardis-benchmark --tests set,get,lpush,lrange -n 20000 --csv
  shardis-benchmark --preload --key-maximum 100000 --key-pattern G --ratio 0:1
  shardis-benchmark --command \"ZADD myzset 1 __key__\" --command-ratio 2 --command \"ZCARD myzset\"
  shardis-benchmark --rate-limiting 1000 --test-time 60 --html-out-file report.html

Exit status: 0 done; 1 the run failed (could not connect, a connection was lost); 2 bad options.
",
        cores = available_cores()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Options {
        match parse(args) {
            Ok(Command::Run(o)) => *o,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn fails(args: &[&str]) -> String {
        match parse(args) {
            Err(e) => e,
            ok => panic!("{args:?} should fail, got {ok:?}"),
        }
    }

    #[test]
    fn no_arguments_means_memtier_defaults() {
        let o = run(&[]);
        assert_eq!((o.server.as_str(), o.port), ("127.0.0.1", 6379));
        assert_eq!((o.clients, o.requests, o.ratio, o.pipeline), (50, 10_000, (1, 10), 1));
        assert_eq!(o.threads, available_cores());
        assert_eq!((o.key_prefix.as_str(), o.key_min, o.key_max), ("memtier-", 0, 10_000_000));
        assert_eq!(o.data, DataSize { min: 32, max: 32 });
    }

    #[test]
    fn long_short_and_equals_forms() {
        let o =
            run(&["-s", "10.0.0.1", "-p7000", "--threads=3", "-c", "4", "--requests", "5", "--pipeline=16"]);
        assert_eq!(
            (o.server.as_str(), o.port, o.threads, o.clients, o.requests, o.pipeline),
            ("10.0.0.1", 7000, 3, 4, 5, 16)
        );
        let o =
            run(&["--ratio", "0:1", "--key-pattern=S:G", "--data-size-range=8-64", "--expiry-range", "5-10"]);
        assert_eq!(o.ratio, (0, 1));
        assert_eq!(o.key_pattern, (KeyPattern::Sequential, KeyPattern::Gaussian));
        assert_eq!(o.data, DataSize { min: 8, max: 64 });
        assert_eq!(o.expiry, Some((5, 10)));
        assert_eq!(run(&["--key-pattern", "Z"]).key_pattern, (KeyPattern::Zipf, KeyPattern::Zipf));
        assert_eq!(run(&["--expiry-range=0-0"]).expiry, None);
    }

    #[test]
    fn commands_collect_their_ratio_and_pattern() {
        let o = run(&[
            "--command",
            "ZADD z 1 __key__",
            "--command-ratio",
            "3",
            "--command-key-pattern",
            "P",
            "--command=GET __key__",
        ]);
        assert_eq!(o.commands.len(), 2);
        assert_eq!((o.commands[0].ratio, o.commands[0].key_pattern), (3, KeyPattern::Parallel));
        assert_eq!((o.commands[1].ratio, o.commands[1].key_pattern), (1, KeyPattern::Uniform));
    }

    #[test]
    fn tests_resolve_aliases() {
        assert_eq!(
            run(&["--tests", "set,GET,ping,lrange"]).tests,
            vec!["set", "get", "ping_mbulk", "lrange_100"]
        );
    }

    #[test]
    fn auth_forms() {
        assert_eq!(run(&["-a", "pw"]).auth_args(), Some(vec!["pw".into()]));
        assert_eq!(run(&["-a", "bob:pw:x"]).auth_args(), Some(vec!["bob".into(), "pw:x".into()]));
        assert_eq!(run(&["-a", "a:b", "--user", "u"]).auth_args(), Some(vec!["u".into(), "a:b".into()]));
        assert_eq!(run(&[]).auth_args(), None);
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(&["-h"]).unwrap(), Command::Help);
        assert_eq!(parse(&["-p", "1", "--help"]).unwrap(), Command::Help);
        assert_eq!(parse(&["--version"]).unwrap(), Command::Version);
        assert!(help().contains("--rate-limiting"));
    }

    #[test]
    fn bad_options_say_what_is_wrong() {
        assert!(fails(&["--bogus"]).contains("unknown option '--bogus'"));
        assert!(fails(&["stray"]).contains("unexpected argument"));
        assert!(fails(&["-p"]).contains("needs a value"));
        assert!(fails(&["-p", "99999"]).contains("not a valid number"));
        assert!(fails(&["-c", "0"]).contains("at least 1"));
        assert!(fails(&["--ratio", "1-10"]).contains("SET:GET"));
        assert!(fails(&["--ratio", "0:0"]).contains("sends nothing"));
        assert!(fails(&["--key-pattern", "X"]).contains("unknown key pattern"));
        assert!(fails(&["--key-minimum", "10", "--key-maximum", "5"]).contains("above --key-maximum"));
        assert!(fails(&["--tls"]).contains("TLS is not supported yet"));
        assert!(fails(&["--cluster-mode"]).contains("not supported until shardis has cluster support"));
        assert!(fails(&["--resp", "4"]).contains("2 or 3"));
        assert!(fails(&["--command-ratio", "2"]).contains("must follow a --command"));
        assert!(fails(&["--tests", "set,nope"]).contains("unknown test 'nope'"));
        assert!(fails(&["--tests", "set", "--command", "PING"]).contains("can't be combined"));
        assert!(fails(&["--data-size-range", "10-5"]).contains("empty"));
        assert!(fails(&["--expiry-range", "0-5"]).contains("start at 1 second"));
        assert!(fails(&["--key-zipf-exp", "0"]).contains("above 0"));
        assert!(fails(&["--command", "SET \"x"]).contains("unbalanced quotes"));
        assert!(fails(&["--csv=1"]).contains("takes no value"));
        assert!(fails(&["--user", "u"]).contains("needs a password"));
    }
}
