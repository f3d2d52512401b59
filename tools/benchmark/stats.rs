//! Counting: per command type counters and HDR latency histograms, the messages threads send
//! the main thread once a second, and the summaries (rates, percentiles, medians of runs)
//! that the reports print.
//!
//! Latencies are recorded in nanoseconds with 3 significant digits (a value is stored within
//! 0.1%), up to an hour; longer ones saturate at an hour rather than vanish. A reply that is an
//! error counts as an error, never as an op, and its latency is not recorded.

use crate::resp::ReplyKind;
use hdrhistogram::Histogram;
use std::time::Duration;

pub const HIST_MAX_NS: u64 = 3_600_000_000_000;
pub const HIST_SIGFIG: u8 = 3;

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_NS, HIST_SIGFIG).expect("valid histogram bounds")
}

/// What one thread saw for one command type (over an interval or a whole run).
#[derive(Clone, Debug)]
pub struct CmdStats {
    pub ops: u64,
    pub hits: u64,
    pub misses: u64,
    pub errors: u64,
    /// Request bytes sent plus reply bytes received.
    pub bytes: u64,
    pub hist: Histogram<u64>,
    pub first_error: Option<String>,
}

impl CmdStats {
    pub fn new() -> CmdStats {
        CmdStats { ops: 0, hits: 0, misses: 0, errors: 0, bytes: 0, hist: new_histogram(), first_error: None }
    }

    /// Counts one reply. Nulls are misses and anything else a hit (reports show hits and
    /// misses only for read commands).
    pub fn record(&mut self, kind: ReplyKind, latency_ns: u64, bytes: u64) {
        self.bytes += bytes;
        match kind {
            ReplyKind::Error => self.errors += 1,
            ReplyKind::Push => {}
            ReplyKind::Value | ReplyKind::Null => {
                self.ops += 1;
                if kind == ReplyKind::Null {
                    self.misses += 1;
                } else {
                    self.hits += 1;
                }
                self.hist.saturating_record(latency_ns.max(1));
            }
        }
    }

    pub fn merge(&mut self, other: &CmdStats) {
        self.ops += other.ops;
        self.hits += other.hits;
        self.misses += other.misses;
        self.errors += other.errors;
        self.bytes += other.bytes;
        self.hist.add(&other.hist).expect("histograms share bounds");
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }

    /// Hands out the counts so far and starts from zero.
    pub fn take(&mut self) -> CmdStats {
        std::mem::replace(self, CmdStats::new())
    }
}

/// A thread's counts for one second of the run (the last one may be shorter).
#[derive(Debug)]
pub struct Interval {
    pub thread: usize,
    /// 1 for the first second of the run.
    pub index: u64,
    pub cmds: Vec<CmdStats>,
}

/// What threads tell the main thread while a run goes on.
#[derive(Debug)]
pub enum Event {
    Interval(Interval),
    /// A connection broke; `in_flight` requests were lost with it.
    ConnectionLost {
        thread: usize,
        conn: usize,
        error: String,
        in_flight: usize,
    },
    Reconnected {
        thread: usize,
        conn: usize,
    },
    /// The thread finished; `elapsed` counts from the run's start to its last reply.
    ThreadDone {
        thread: usize,
        elapsed: Duration,
        failed_connections: u64,
        error: Option<String>,
    },
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Latency {
    pub avg: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub p9999: f64,
    pub max: f64,
}

/// The percentiles a report shows, from a nanosecond histogram. A percentile is the highest
/// value of the bucket it falls in, so within 0.1% of the recorded value.
pub fn latency_of(h: &Histogram<u64>) -> Latency {
    if h.is_empty() {
        return Latency::default();
    }
    let ms = |ns: u64| ns as f64 / 1e6;
    Latency {
        avg: h.mean() / 1e6,
        p50: ms(h.value_at_quantile(0.5)),
        p90: ms(h.value_at_quantile(0.9)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        p9999: ms(h.value_at_quantile(0.9999)),
        max: ms(h.max()),
    }
}

/// One table row: a command type or the totals, over a run (or the median of runs).
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub name: String,
    pub ops: u64,
    pub hits: u64,
    pub misses: u64,
    pub errors: u64,
    pub bytes: u64,
    pub secs: f64,
    pub tracks_hits: bool,
    pub latency: Latency,
    pub first_error: Option<String>,
}

impl Summary {
    pub fn of(name: &str, stats: &CmdStats, secs: f64, tracks_hits: bool) -> Summary {
        Summary {
            name: name.to_string(),
            ops: stats.ops,
            hits: if tracks_hits { stats.hits } else { 0 },
            misses: if tracks_hits { stats.misses } else { 0 },
            errors: stats.errors,
            bytes: stats.bytes,
            secs,
            tracks_hits,
            latency: latency_of(&stats.hist),
            first_error: stats.first_error.clone(),
        }
    }

    fn per_sec(&self, n: u64) -> f64 {
        if self.secs > 0.0 { n as f64 / self.secs } else { 0.0 }
    }

    pub fn ops_per_sec(&self) -> f64 {
        self.per_sec(self.ops)
    }

    pub fn hits_per_sec(&self) -> f64 {
        self.per_sec(self.hits)
    }

    pub fn misses_per_sec(&self) -> f64 {
        self.per_sec(self.misses)
    }

    pub fn kb_per_sec(&self) -> f64 {
        self.per_sec(self.bytes) / 1024.0
    }
}

/// The totals row: every command merged.
pub fn totals(cmds: &[CmdStats], tracks_hits: &[bool], secs: f64) -> (Summary, CmdStats) {
    let mut all = CmdStats::new();
    let (mut hits, mut misses) = (0, 0);
    for (c, &tracks) in cmds.iter().zip(tracks_hits) {
        all.merge(c);
        if tracks {
            hits += c.hits;
            misses += c.misses;
        }
    }
    let mut s = Summary::of("Totals", &all, secs, tracks_hits.iter().any(|&t| t));
    s.hits = hits;
    s.misses = misses;
    (s, all)
}

/// The median of a list (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 { v[mid] } else { (v[mid - 1] + v[mid]) / 2.0 }
}

/// A row whose every number is the median of that number over the runs. Counts are scaled
/// to a one-second run so the per-second rates come out as the medians of the rates.
pub fn median_summary(rows: &[&Summary]) -> Summary {
    let first = rows[0];
    let med = |f: &dyn Fn(&Summary) -> f64| median(&rows.iter().map(|r| f(r)).collect::<Vec<_>>());
    let lat = |f: &dyn Fn(&Latency) -> f64| med(&|s: &Summary| f(&s.latency));
    Summary {
        name: first.name.clone(),
        ops: med(&|s| s.ops_per_sec()).round() as u64,
        hits: med(&|s| s.hits_per_sec()).round() as u64,
        misses: med(&|s| s.misses_per_sec()).round() as u64,
        errors: med(&|s| s.errors as f64).round() as u64,
        bytes: med(&|s| s.kb_per_sec() * 1024.0).round() as u64,
        secs: 1.0,
        tracks_hits: first.tracks_hits,
        latency: Latency {
            avg: lat(&|l| l.avg),
            p50: lat(&|l| l.p50),
            p90: lat(&|l| l.p90),
            p99: lat(&|l| l.p99),
            p999: lat(&|l| l.p999),
            p9999: lat(&|l| l.p9999),
            max: lat(&|l| l.max),
        },
        first_error: rows.iter().find_map(|r| r.first_error.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= b.abs() * 0.001 + 1e-9
    }

    #[test]
    fn percentiles_of_a_known_uniform_set() {
        // 1us, 2us, ..., 10000us once each.
        let mut s = CmdStats::new();
        for us in 1..=10_000u64 {
            s.record(ReplyKind::Value, us * 1000, 0);
        }
        let l = latency_of(&s.hist);
        assert!(close(l.avg, 5.0005), "avg {}", l.avg);
        assert!(close(l.p50, 5.0), "p50 {}", l.p50);
        assert!(close(l.p90, 9.0), "p90 {}", l.p90);
        assert!(close(l.p99, 9.9), "p99 {}", l.p99);
        assert!(close(l.p999, 9.99), "p99.9 {}", l.p999);
        assert!(close(l.p9999, 9.999), "p99.99 {}", l.p9999);
        assert!(close(l.max, 10.0), "max {}", l.max);
    }

    #[test]
    fn a_rare_stall_shows_in_the_tail_only() {
        let mut s = CmdStats::new();
        for _ in 0..999 {
            s.record(ReplyKind::Value, 100_000, 0); // 0.1 ms
        }
        s.record(ReplyKind::Value, 2_000_000_000, 0); // one 2 s stall
        let l = latency_of(&s.hist);
        assert!(close(l.p50, 0.1) && close(l.p99, 0.1), "{l:?}");
        assert!(close(l.p9999, 2000.0) && close(l.max, 2000.0), "{l:?}");
        assert!(close(l.avg, (999.0 * 0.1 + 2000.0) / 1000.0), "{l:?}");
    }

    #[test]
    fn replies_are_classified() {
        let mut s = CmdStats::new();
        s.record(ReplyKind::Value, 10, 5);
        s.record(ReplyKind::Null, 10, 5);
        s.record(ReplyKind::Error, 10, 5);
        s.record(ReplyKind::Push, 10, 5);
        assert_eq!((s.ops, s.hits, s.misses, s.errors, s.bytes), (2, 1, 1, 1, 20));
        assert_eq!(s.hist.len(), 2);
    }

    #[test]
    fn merging_threads_adds_histograms() {
        let (mut a, mut b) = (CmdStats::new(), CmdStats::new());
        a.record(ReplyKind::Value, 1_000_000, 0);
        b.record(ReplyKind::Value, 3_000_000, 0);
        b.first_error = Some("ERR x".into());
        a.merge(&b);
        assert_eq!(a.ops, 2);
        assert!(close(latency_of(&a.hist).max, 3.0));
        assert_eq!(a.first_error.as_deref(), Some("ERR x"));
        let taken = a.take();
        assert_eq!((taken.ops, a.ops, a.hist.len()), (2, 0, 0));
    }

    #[test]
    fn rates_and_totals() {
        let mut set = CmdStats::new();
        let mut get = CmdStats::new();
        set.record(ReplyKind::Value, 1000, 2048);
        get.record(ReplyKind::Null, 1000, 0);
        get.record(ReplyKind::Value, 1000, 0);
        let (t, all) = totals(&[set, get], &[false, true], 2.0);
        assert_eq!((t.ops, t.hits, t.misses, all.ops), (3, 1, 1, 3));
        assert!(close(t.ops_per_sec(), 1.5) && close(t.kb_per_sec(), 1.0));
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let row = |ops, secs, p99| Summary {
            name: "GET".into(),
            ops,
            hits: 0,
            misses: 0,
            errors: 0,
            bytes: 0,
            secs,
            tracks_hits: true,
            latency: Latency { p99, ..Latency::default() },
            first_error: None,
        };
        let (a, b, c) = (row(100, 1.0, 1.0), row(300, 1.0, 5.0), row(400, 2.0, 2.0));
        let m = median_summary(&[&a, &b, &c]);
        assert_eq!(m.ops_per_sec(), 200.0);
        assert_eq!(m.latency.p99, 2.0);
    }
}
