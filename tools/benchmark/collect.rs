//! The main thread's side of a run: merges the threads' per-second counts into totals and a
//! timeline, prints connection events and the live progress line, and produces the
//! `RunResult` every report is made from.
//!
//! Second k of the timeline is complete once every thread has reported it or finished; its
//! throughput and percentiles then go to the progress line (on a terminal only), and its
//! histograms, compressed, to the HdrHistogram interval log if one was asked for.

use crate::stats::{self, CmdStats, Event, Interval, Summary};
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, SystemTime};

/// One second of a run, all threads together.
#[derive(Clone, Debug)]
pub struct Second {
    /// 1 for the first second.
    pub index: u64,
    /// Completed ops per command type in this second.
    pub ops: Vec<u64>,
    /// Errors (all commands) in this second.
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Compressed (V2 deflate) histogram per command type, for the interval log.
    pub hdr: Vec<Vec<u8>>,
}

/// Everything measured in one run.
#[derive(Debug)]
pub struct RunResult {
    pub test: String,
    pub run: u32,
    /// Wall-clock time the run started (for the interval log).
    pub started: SystemTime,
    pub names: Vec<String>,
    /// Whole-run counts and histograms per command type, and merged.
    pub cmds: Vec<CmdStats>,
    pub total: CmdStats,
    pub rows: Vec<Summary>,
    pub totals: Summary,
    /// From the start to the last reply of the slowest thread.
    pub secs: f64,
    pub seconds: Vec<Second>,
    pub connection_errors: u64,
    pub lost_requests: u64,
    pub failed_connections: u64,
    /// Why the run could not start or a thread stopped early.
    pub fatal: Option<String>,
}

impl RunResult {
    /// Throughput of a second (the last one may be shorter than a second).
    pub fn second_secs(&self, s: &Second) -> f64 {
        (self.secs - (s.index - 1) as f64).clamp(1e-3, 1.0)
    }

    /// The seconds to chart: all but a last stub shorter than 0.2 s (the replies that were
    /// in flight when a timed run ended), whose rate would be noise.
    pub fn timeline(&self) -> &[Second] {
        match self.seconds.split_last() {
            Some((last, rest)) if !rest.is_empty() && self.second_secs(last) < 0.2 => rest,
            _ => &self.seconds,
        }
    }

    pub fn failed(&self) -> bool {
        self.fatal.is_some() || self.failed_connections > 0
    }
}

/// How a run reports progress.
pub struct RunInfo {
    pub label: String,
    pub threads: usize,
    /// Requests the run will send, if it is counted rather than timed.
    pub planned_ops: Option<u64>,
    pub test_time: Option<Duration>,
    pub keep_hdr: bool,
}

pub struct Collector {
    info: RunInfo,
    names: Vec<String>,
    tracks_hits: Vec<bool>,
    totals: Vec<CmdStats>,
    pending: BTreeMap<u64, Vec<CmdStats>>,
    reported: Vec<u64>,
    done: Vec<bool>,
    elapsed: Duration,
    seconds: Vec<Second>,
    completed_ops: u64,
    connection_errors: u64,
    lost_requests: u64,
    failed_connections: u64,
    fatal: Option<String>,
    progress: Progress,
}

impl Collector {
    pub fn new(info: RunInfo, names: Vec<String>, tracks_hits: Vec<bool>) -> Collector {
        let threads = info.threads;
        Collector {
            totals: names.iter().map(|_| CmdStats::new()).collect(),
            names,
            tracks_hits,
            pending: BTreeMap::new(),
            reported: vec![0; threads],
            done: vec![false; threads],
            elapsed: Duration::ZERO,
            seconds: Vec::new(),
            completed_ops: 0,
            connection_errors: 0,
            lost_requests: 0,
            failed_connections: 0,
            fatal: None,
            progress: Progress::new(),
            info,
        }
    }

    pub fn on_event(&mut self, event: Event) {
        match event {
            Event::Interval(interval) => self.on_interval(interval),
            Event::ConnectionLost { thread, conn, error, in_flight } => {
                self.connection_errors += 1;
                self.lost_requests += in_flight as u64;
                let lost = if in_flight > 0 {
                    format!(" ({in_flight} requests in flight lost)")
                } else {
                    String::new()
                };
                self.progress.message(&format!("thread {thread} connection {conn} lost: {error}{lost}"));
            }
            Event::Reconnected { thread, conn } => {
                self.progress.message(&format!("thread {thread} connection {conn}: reconnected"));
            }
            Event::ThreadDone { thread, elapsed, failed_connections, error } => {
                self.done[thread] = true;
                self.elapsed = self.elapsed.max(elapsed);
                self.failed_connections += failed_connections;
                if self.fatal.is_none() {
                    self.fatal = error;
                }
                self.finish_complete_seconds();
            }
        }
    }

    fn on_interval(&mut self, interval: Interval) {
        let Interval { thread, index, cmds } = interval;
        for (total, c) in self.totals.iter_mut().zip(&cmds) {
            total.merge(c);
        }
        match self.pending.get_mut(&index) {
            Some(merged) => merged.iter_mut().zip(&cmds).for_each(|(m, c)| m.merge(c)),
            None => {
                self.pending.insert(index, cmds);
            }
        }
        self.reported[thread] = self.reported[thread].max(index);
        self.finish_complete_seconds();
    }

    fn finish_complete_seconds(&mut self) {
        while let Some((&index, _)) = self.pending.first_key_value() {
            let complete = self.reported.iter().zip(&self.done).all(|(&r, &d)| d || r >= index);
            if !complete {
                break;
            }
            let cmds = self.pending.remove(&index).expect("present");
            self.finish_second(index, cmds);
        }
    }

    fn finish_second(&mut self, index: u64, cmds: Vec<CmdStats>) {
        let mut all = CmdStats::new();
        cmds.iter().for_each(|c| all.merge(c));
        let latency = stats::latency_of(&all.hist);
        let hdr =
            if self.info.keep_hdr { cmds.iter().map(|c| compress(&c.hist)).collect() } else { Vec::new() };
        self.completed_ops += all.ops;
        let second = Second {
            index,
            ops: cmds.iter().map(|c| c.ops).collect(),
            errors: all.errors,
            p50_ms: latency.p50,
            p99_ms: latency.p99,
            hdr,
        };
        self.show_progress(&second, all.ops);
        self.seconds.push(second);
    }

    fn show_progress(&mut self, s: &Second, ops: u64) {
        if !self.progress.enabled {
            return;
        }
        let elapsed = s.index as f64;
        let left = match (self.info.test_time, self.info.planned_ops) {
            (Some(t), _) => format!("{:.0}s left", (t.as_secs_f64() - elapsed).max(0.0)),
            (None, Some(planned)) if ops > 0 => {
                let rate = self.completed_ops as f64 / elapsed;
                format!("~{:.0}s left", planned.saturating_sub(self.completed_ops) as f64 / rate)
            }
            _ => "? left".into(),
        };
        self.progress.update(&format!(
            "[{}] {:>4}s elapsed, {:>9}  {:>12.0} ops/sec  p99 {:.3} ms  errors {}",
            self.info.label, s.index, left, ops as f64, s.p99_ms, s.errors
        ));
    }

    /// Closes the run.
    pub fn finish(mut self, test: &str, run: u32, started: SystemTime) -> RunResult {
        self.done.iter_mut().for_each(|d| *d = true);
        self.finish_complete_seconds();
        self.progress.clear();
        let secs = self.elapsed.as_secs_f64();
        let rows: Vec<Summary> = self
            .names
            .iter()
            .zip(&self.totals)
            .zip(&self.tracks_hits)
            .map(|((n, c), &t)| Summary::of(n, c, secs, t))
            .collect();
        let (totals, total) = stats::totals(&self.totals, &self.tracks_hits, secs);
        RunResult {
            test: test.to_string(),
            run,
            started,
            names: self.names,
            cmds: self.totals,
            total,
            rows,
            totals,
            secs,
            seconds: self.seconds,
            connection_errors: self.connection_errors,
            lost_requests: self.lost_requests,
            failed_connections: self.failed_connections,
            fatal: self.fatal,
        }
    }
}

fn compress(h: &hdrhistogram::Histogram<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    V2DeflateSerializer::new().serialize(h, &mut out).expect("serializing to memory");
    out
}

/// The live line on stderr; off unless stderr is a terminal.
pub struct Progress {
    enabled: bool,
    shown: bool,
}

impl Progress {
    pub fn new() -> Progress {
        Progress { enabled: std::io::stderr().is_terminal(), shown: false }
    }

    fn update(&mut self, line: &str) {
        eprint!("\r\x1b[K{line}");
        let _ = std::io::stderr().flush();
        self.shown = true;
    }

    /// Prints a message on its own line (clearing the progress line first).
    fn message(&mut self, msg: &str) {
        self.clear();
        eprintln!("{msg}");
    }

    fn clear(&mut self) {
        if std::mem::take(&mut self.shown) {
            eprint!("\r\x1b[K");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::ReplyKind;

    fn stats(ops: u64, latency_ns: u64) -> Vec<CmdStats> {
        let mut c = CmdStats::new();
        for _ in 0..ops {
            c.record(ReplyKind::Value, latency_ns, 10);
        }
        vec![c]
    }

    fn collector(threads: usize) -> Collector {
        let info = RunInfo { label: "t".into(), threads, planned_ops: None, test_time: None, keep_hdr: true };
        Collector::new(info, vec!["GET".into()], vec![true])
    }

    #[test]
    fn seconds_complete_when_every_thread_reported() {
        let mut c = collector(2);
        c.on_event(Event::Interval(Interval { thread: 0, index: 1, cmds: stats(5, 1000) }));
        assert!(c.seconds.is_empty());
        c.on_event(Event::Interval(Interval { thread: 1, index: 1, cmds: stats(7, 1000) }));
        assert_eq!(c.seconds.len(), 1);
        assert_eq!(c.seconds[0].ops, vec![12]);
        c.on_event(Event::Interval(Interval { thread: 1, index: 2, cmds: stats(3, 1000) }));
        let elapsed = Duration::from_millis(1500);
        c.on_event(Event::ThreadDone { thread: 1, elapsed, failed_connections: 0, error: None });
        c.on_event(Event::Interval(Interval { thread: 0, index: 2, cmds: stats(1, 1000) }));
        c.on_event(Event::ThreadDone { thread: 0, elapsed, failed_connections: 0, error: None });
        let r = c.finish("get", 1, SystemTime::now());
        assert_eq!(r.seconds.len(), 2);
        assert_eq!(r.seconds[1].ops, vec![4]);
        assert_eq!(r.totals.ops, 16);
        assert_eq!(r.second_secs(&r.seconds[1]), 0.5);
        assert_eq!(r.timeline().len(), 2, "half a second is worth charting");
        assert!((r.totals.ops_per_sec() - 16.0 / 1.5).abs() < 1e-9);
        assert!(!r.failed());
    }

    #[test]
    fn connection_events_are_counted() {
        let mut c = collector(1);
        c.on_event(Event::ConnectionLost { thread: 0, conn: 3, error: "reset".into(), in_flight: 4 });
        c.on_event(Event::ThreadDone {
            thread: 0,
            elapsed: Duration::ZERO,
            failed_connections: 1,
            error: None,
        });
        let r = c.finish("x", 1, SystemTime::now());
        assert_eq!((r.connection_errors, r.lost_requests, r.failed_connections), (1, 4, 1));
        assert!(r.failed());
    }
}
