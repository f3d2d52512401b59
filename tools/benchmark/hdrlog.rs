//! `--hdr-file-prefix`: HdrHistogram files that HdrHistogram's own tools read.
//!
//! Per run, `PREFIX_<test>_run<N>.hlog` is an interval log (hdrhistogram's writer and V2
//! deflate serialization): one histogram per command type per second, tagged with the
//! command's name, values in nanoseconds (the max column divided to milliseconds). And per
//! command type plus `ALL`, `PREFIX_<test>_run<N>_<TYPE>.hgrm` is the whole run's percentile
//! distribution in milliseconds, the text format HdrHistogram's plotter takes.

use crate::collect::RunResult;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};
use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

/// Writes the files of one run; returns their paths.
pub fn write_run(prefix: &str, r: &RunResult) -> Result<Vec<String>, String> {
    let base = format!("{prefix}_{}_run{}", r.test, r.run);
    let mut written = vec![format!("{base}.hlog")];
    write_file(&written[0], &interval_log(r)?)?;
    for (name, c) in r.names.iter().zip(&r.cmds).chain(std::iter::once((&"ALL".to_string(), &r.total))) {
        let path = format!("{base}_{}.hgrm", file_safe(name));
        write_file(&path, percentile_distribution(&c.hist).as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

fn write_file(path: &str, bytes: &[u8]) -> Result<(), String> {
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| format!("writing {path}: {e}"))
}

fn interval_log(r: &RunResult) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment(&format!(
            "shardis-benchmark {}: test {} run {}",
            env!("CARGO_PKG_VERSION"),
            r.test,
            r.run
        ))
        .add_comment("values in nanoseconds; one histogram per command type per second, tagged with its name")
        .with_start_time(r.started)
        .with_base_time(r.started)
        .with_max_value_divisor(1e6)
        .begin_log_with(&mut out, &mut serializer)
        .map_err(|e| e.to_string())?;
    let mut deserializer = Deserializer::new();
    let tags: Vec<String> = r.names.iter().map(|n| file_safe(n)).collect();
    for s in &r.seconds {
        let start = Duration::from_secs(s.index - 1);
        let length = Duration::from_secs_f64(r.second_secs(s));
        for (bytes, tag) in s.hdr.iter().zip(&tags) {
            let h: Histogram<u64> =
                deserializer.deserialize(&mut &bytes[..]).map_err(|e| format!("{e:?}"))?;
            log.write_histogram(&h, start, length, Tag::new(tag)).map_err(|e| e.to_string())?;
        }
    }
    drop(log);
    Ok(out)
}

/// HdrHistogram's percentile distribution text, values in milliseconds.
pub fn percentile_distribution(h: &Histogram<u64>) -> String {
    let mut out =
        format!("{:>12} {:>14} {:>10} {:>14}\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
    let mut total = 0u64;
    for v in h.iter_quantiles(5) {
        total += v.count_since_last_iteration();
        let q = v.quantile_iterated_to();
        let value = v.value_iterated_to() as f64 / 1e6;
        if q < 1.0 {
            let _ = writeln!(out, "{value:>12.3} {q:>14.12} {total:>10} {:>14.2}", 1.0 / (1.0 - q));
        } else {
            let _ = writeln!(out, "{value:>12.3} {q:>14.12} {total:>10}");
        }
    }
    let _ = writeln!(
        out,
        "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]\n#[Max     = {:>12.3}, Total count    = {:>12}]\n\
         #[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.mean() / 1e6,
        h.stdev() / 1e6,
        h.max() as f64 / 1e6,
        h.len(),
        h.buckets(),
        h.distinct_values()
    );
    out
}

/// Command names as file names and log tags (no spaces, commas or slashes).
fn file_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    #[test]
    fn distribution_text_has_the_hgrm_shape() {
        let mut h = crate::stats::new_histogram();
        for us in 1..=1000u64 {
            h.record(us * 1000).unwrap();
        }
        let text = percentile_distribution(&h);
        assert!(text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)"));
        let last = text.lines().rfind(|l| !l.starts_with('#') && !l.trim().is_empty()).unwrap();
        let cols: Vec<&str> = last.split_whitespace().collect();
        assert_eq!((cols[0], cols[2]), ("1.000", "1000"));
        assert!(text.contains("Total count    =         1000"));
    }

    #[test]
    fn interval_log_round_trips() {
        use crate::collect::{Collector, RunInfo};
        use crate::resp::ReplyKind;
        use crate::stats::{CmdStats, Event, Interval};
        let info =
            RunInfo { label: "t".into(), threads: 1, planned_ops: None, test_time: None, keep_hdr: true };
        let mut c = Collector::new(info, vec!["GET".into()], vec![true]);
        for index in 1..=2 {
            let mut s = CmdStats::new();
            s.record(ReplyKind::Value, 1_000_000 * index, 1);
            c.on_event(Event::Interval(Interval { thread: 0, index, cmds: vec![s] }));
        }
        let elapsed = Duration::from_millis(1500);
        c.on_event(Event::ThreadDone { thread: 0, elapsed, failed_connections: 0, error: None });
        let r = c.finish("get", 1, std::time::SystemTime::now());
        let log = interval_log(&r).unwrap();
        let hists: Vec<_> = IntervalLogIterator::new(&log)
            .filter_map(|e| match e.unwrap() {
                LogEntry::Interval(h) => Some(h),
                _ => None,
            })
            .collect();
        assert_eq!(hists.len(), 2);
        assert_eq!(hists[0].tag().unwrap().as_str(), "GET");
        assert_eq!(hists[1].duration(), Duration::from_millis(500));
        assert!((hists[1].max() - 2.0).abs() < 0.01, "max in ms: {}", hists[1].max());
    }
}
