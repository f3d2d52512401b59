//! The `--html-out-file` report: one self-contained page (inline CSS and SVG, no scripts, no
//! external URLs) with, per run, the results table and three charts: the latency percentile
//! distribution per command type (x: percentile on a log scale, as HdrHistogram plots it),
//! throughput over time (ops/sec each second, per command type and total), and p50/p99
//! latency over time.

use crate::collect::RunResult;
use crate::report::Median;
use crate::stats::Summary;
use std::fmt::Write;

const WIDTH: f64 = 820.0;
const HEIGHT: f64 = 300.0;
const MARGIN_LEFT: f64 = 70.0;
const MARGIN_RIGHT: f64 = 150.0;
const MARGIN_TOP: f64 = 30.0;
const MARGIN_BOTTOM: f64 = 45.0;
const COLORS: &[&str] =
    &["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

/// A line to draw: a name and its points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// How the x axis is labelled.
#[derive(Clone, Copy)]
pub enum XAxis {
    Seconds,
    /// x = log10(1 / (1 - q)): 0 is 0%, 1 is 90%, 2 is 99%...
    Percentile,
}

/// The page.
pub fn page(title: &str, config: &str, results: &[RunResult], medians: &[Median]) -> String {
    let mut body = String::new();
    let _ = write!(body, "<h1>{}</h1><p class=\"config\">{}</p>", escape(title), escape(config));
    for r in results {
        body.push_str(&run_section(r));
    }
    for m in medians {
        let _ = write!(body, "<section><h2>{}: median of {} runs</h2>", escape(&m.test), m.runs);
        body.push_str(&summary_table(&m.rows, &m.totals));
        body.push_str("</section>");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{}</style></head>\
         <body>{body}</body></html>\n",
        escape(title),
        STYLE
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}\
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccc}\
.config{color:#555;font-size:13px}table{border-collapse:collapse;font-size:13px;margin:8px 0}\
th,td{padding:3px 10px;text-align:right;border-bottom:1px solid #eee}th:first-child,td:first-child{text-align:left}\
tr.total td{font-weight:bold}.error{color:#b00}svg{display:block;margin:12px 0}\
svg text{font-size:11px;fill:#333}svg .title{font-size:13px;font-weight:bold}";

fn run_section(r: &RunResult) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<section><h2>{} &mdash; run {}</h2><p>{} requests in {:.2} s</p>",
        escape(&r.test),
        r.run,
        r.totals.ops + r.totals.errors,
        r.secs
    );
    if let Some(e) = &r.fatal {
        let _ = write!(s, "<p class=\"error\">{}</p>", escape(e));
    }
    if r.connection_errors > 0 {
        let _ = write!(
            s,
            "<p class=\"error\">{} connection errors, {} requests lost in flight, {} connections given up</p>",
            r.connection_errors, r.lost_requests, r.failed_connections
        );
    }
    s.push_str(&summary_table(&r.rows, &r.totals));
    s.push_str(&line_chart(
        "Latency by percentile",
        "percentile",
        "latency (ms)",
        &percentile_series(r),
        XAxis::Percentile,
    ));
    s.push_str(&line_chart("Throughput", "time (s)", "ops/sec", &throughput_series(r), XAxis::Seconds));
    s.push_str(&line_chart(
        "Latency over time (all commands)",
        "time (s)",
        "latency (ms)",
        &latency_series(r),
        XAxis::Seconds,
    ));
    s.push_str("</section>");
    s
}

fn summary_table(rows: &[Summary], totals: &Summary) -> String {
    let mut t = String::from(
        "<table><tr><th>Type</th><th>Ops/sec</th><th>Hits/sec</th><th>Misses/sec</th><th>Errors</th>\
         <th>Avg (ms)</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>p99.99</th><th>max</th>\
         <th>KB/sec</th></tr>",
    );
    for (row, class) in rows.iter().map(|r| (r, "")).chain(std::iter::once((totals, " class=\"total\""))) {
        let l = &row.latency;
        let hits = |v: f64| if row.tracks_hits { format!("{v:.2}") } else { "&mdash;".into() };
        let _ = write!(
            t,
            "<tr{class}><td>{}</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td>\
             <td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.2}</td></tr>",
            escape(&row.name),
            row.ops_per_sec(),
            hits(row.hits_per_sec()),
            hits(row.misses_per_sec()),
            row.errors,
            l.avg,
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.p9999,
            l.max,
            row.kb_per_sec()
        );
    }
    t.push_str("</table>");
    for row in rows.iter().filter(|r| r.errors > 0) {
        let first = row.first_error.as_deref().unwrap_or("?");
        let _ = write!(
            t,
            "<p class=\"error\">{}: {} error replies; the first: {}</p>",
            escape(&row.name),
            row.errors,
            escape(first)
        );
    }
    t
}

/// Latency at percentiles from 0 to as far as the sample count supports (at most 99.9999%).
fn percentile_series(r: &RunResult) -> Vec<Series> {
    r.names
        .iter()
        .zip(&r.cmds)
        .filter(|(_, c)| !c.hist.is_empty())
        .map(|(name, c)| {
            let h = &c.hist;
            let x_max = (h.len() as f64).log10().clamp(1.0, 6.0);
            let points = (0..=240)
                .map(|i| {
                    let x = x_max * i as f64 / 240.0;
                    let q = 1.0 - 10f64.powf(-x);
                    (x, h.value_at_quantile(q) as f64 / 1e6)
                })
                .collect();
            Series { name: name.clone(), points }
        })
        .collect()
}

fn throughput_series(r: &RunResult) -> Vec<Series> {
    let mut series: Vec<Series> = r
        .names
        .iter()
        .enumerate()
        .map(|(i, name)| Series {
            name: name.clone(),
            points: r
                .timeline()
                .iter()
                .map(|s| (s.index as f64, s.ops[i] as f64 / r.second_secs(s)))
                .collect(),
        })
        .collect();
    if series.len() > 1 {
        let total = r
            .timeline()
            .iter()
            .map(|s| (s.index as f64, s.ops.iter().sum::<u64>() as f64 / r.second_secs(s)));
        series.push(Series { name: "Total".into(), points: total.collect() });
    }
    series
}

fn latency_series(r: &RunResult) -> Vec<Series> {
    let at =
        |f: fn(&crate::collect::Second) -> f64| r.timeline().iter().map(|s| (s.index as f64, f(s))).collect();
    vec![
        Series { name: "p50".into(), points: at(|s| s.p50_ms) },
        Series { name: "p99".into(), points: at(|s| s.p99_ms) },
    ]
}

/// An SVG line chart with axes, ticks and a legend.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series], axis: XAxis) -> String {
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (x_min, x_max) = pts.clone().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let y_top = nice_ceiling(pts.fold(0.0, |m: f64, p| m.max(p.1)));
    if series.iter().all(|s| s.points.is_empty()) {
        return format!("<p>{}: no data</p>", escape(title));
    }
    let (x_min, x_max) = if x_max > x_min { (x_min, x_max) } else { (x_min - 1.0, x_min + 1.0) };
    let plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
    let plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;
    let sx = |x: f64| MARGIN_LEFT + (x - x_min) / (x_max - x_min) * plot_w;
    let sy = |y: f64| MARGIN_TOP + plot_h - y / y_top * plot_h;
    let mut svg = format!(
        "<svg width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\">\
         <text class=\"title\" x=\"{MARGIN_LEFT}\" y=\"18\">{}</text>",
        escape(title)
    );
    for i in 0..=5 {
        let y = y_top * i as f64 / 5.0;
        let _ = write!(
            svg,
            "<line x1=\"{MARGIN_LEFT}\" x2=\"{:.1}\" y1=\"{y1:.1}\" y2=\"{y1:.1}\" stroke=\"#e5e5e5\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            MARGIN_LEFT + plot_w,
            MARGIN_LEFT - 6.0,
            sy(y) + 4.0,
            short_number(y),
            y1 = sy(y)
        );
    }
    for (x, label) in x_ticks(x_min, x_max, axis) {
        let _ = write!(
            svg,
            "<line x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{MARGIN_TOP}\" y2=\"{:.1}\" stroke=\"#f0f0f0\"/>\
             <text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
            MARGIN_TOP + plot_h,
            MARGIN_TOP + plot_h + 16.0,
            px = sx(x)
        );
    }
    let _ = write!(
        svg,
        "<rect x=\"{MARGIN_LEFT}\" y=\"{MARGIN_TOP}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"none\" stroke=\"#999\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
         <text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        MARGIN_LEFT + plot_w / 2.0,
        HEIGHT - 8.0,
        escape(x_label),
        MARGIN_TOP + plot_h / 2.0,
        escape(y_label)
    );
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let path: Vec<String> = s.points.iter().map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y))).collect();
        let legend_y = MARGIN_TOP + 14.0 + 18.0 * i as f64;
        let legend_x = MARGIN_LEFT + plot_w + 12.0;
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.8\" points=\"{}\"/>\
             <rect x=\"{legend_x:.1}\" y=\"{:.1}\" width=\"12\" height=\"3\" fill=\"{color}\"/>\
             <text x=\"{:.1}\" y=\"{legend_y:.1}\">{}</text>",
            path.join(" "),
            legend_y - 4.0,
            legend_x + 18.0,
            escape(&s.name)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn x_ticks(x_min: f64, x_max: f64, axis: XAxis) -> Vec<(f64, String)> {
    match axis {
        XAxis::Percentile => (0..=(x_max + 1e-9).floor() as u32)
            .map(|k| {
                let label = match k {
                    0 => "0%".to_string(),
                    1 => "90%".to_string(),
                    2 => "99%".to_string(),
                    k => format!("99.{}%", "9".repeat(k as usize - 2)),
                };
                (k as f64, label)
            })
            .collect(),
        XAxis::Seconds => {
            let step = nice_ceiling((x_max - x_min) / 8.0).max(1.0);
            let first = (x_min / step).ceil() as i64;
            let last = (x_max / step).floor() as i64;
            (first..=last).map(|k| (k as f64 * step, short_number(k as f64 * step))).collect()
        }
    }
}

/// The smallest 1, 2 or 5 times a power of ten at or above `v` (1 for nothing).
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|&c| c >= v * (1.0 - 1e-12))
        .unwrap_or(10.0 * magnitude)
}

/// 1200000 -> 1.2M, 0.25 -> 0.25.
fn short_number(v: f64) -> String {
    let trim = |s: String| {
        if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
    };
    match v.abs() {
        a if a >= 1e6 => format!("{}M", trim(format!("{:.2}", v / 1e6))),
        a if a >= 1e3 => format!("{}k", trim(format!("{:.2}", v / 1e3))),
        _ => trim(format!("{v:.3}")),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_without_external_references() {
        let series =
            vec![Series { name: "GET <x>".into(), points: vec![(1.0, 10.0), (2.0, 30.0), (3.0, 20.0)] }];
        let svg = line_chart("T", "time (s)", "ops/sec", &series, XAxis::Seconds);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<polyline") && svg.contains("GET &lt;x&gt;"));
        assert!(!svg.contains("http") && !svg.contains("<script"));
    }

    #[test]
    fn percentile_ticks() {
        let t = x_ticks(0.0, 3.5, XAxis::Percentile);
        let labels: Vec<&str> = t.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, vec!["0%", "90%", "99%", "99.9%"]);
    }

    #[test]
    fn nice_numbers() {
        assert_eq!(nice_ceiling(7.3), 10.0);
        assert_eq!(nice_ceiling(0.13), 0.2);
        assert_eq!(nice_ceiling(4500.0), 5000.0);
        assert_eq!(short_number(1_250_000.0), "1.25M");
        assert_eq!(short_number(2000.0), "2k");
        assert_eq!(short_number(0.25), "0.25");
    }

    #[test]
    fn empty_charts_say_so() {
        assert!(line_chart("T", "x", "y", &[], XAxis::Seconds).contains("no data"));
    }
}
