//! Prometheus metrics, written in the text exposition format (version 0.0.4) by hand: a few counters
//! and one histogram do not justify a metrics framework.
//!
//! Routes are labelled by their template (`/api/v1/crates/{name}/owners`), never by the raw path,
//! so the number of series stays bounded whatever clients request.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the publish latency buckets: a publish stores a blob and commits one
/// transaction, so most land between 10 ms and 1 s; the tail reaches the request timeout.
pub const PUBLISH_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Label for requests that matched no route (404s from the fallback).
pub const UNMATCHED_ROUTE: &str = "unmatched";

pub struct Metrics {
    /// (route template, method, status) → count.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    in_flight: AtomicU64,
    connections: AtomicU64,
    publish: Histogram,
    index_ok: AtomicU64,
    index_not_modified: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Mutex::new(BTreeMap::new()),
            in_flight: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            publish: Histogram::new(PUBLISH_BUCKETS),
            index_ok: AtomicU64::new(0),
            index_not_modified: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    pub fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one finished request. `route` is the matched template.
    pub fn request_finished(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        {
            // A poisoned lock only means another thread panicked mid-increment; counts stay usable.
            let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            *map.entry((route.to_owned(), method.to_owned(), status))
                .or_insert(0) += 1;
        }
        if route == "/api/v1/crates/new" {
            self.publish.observe(elapsed.as_secs_f64());
        }
        if route.starts_with("/index/") {
            match status {
                200 => self.index_ok.fetch_add(1, Ordering::Relaxed),
                304 => self.index_not_modified.fetch_add(1, Ordering::Relaxed),
                _ => 0,
            };
        }
    }

    /// The whole exposition, ready to serve as `text/plain; version=0.0.4`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        header(
            &mut out,
            "gantry_http_requests_total",
            "counter",
            "HTTP requests answered, by route template, method and status.",
        );
        {
            let map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            for ((route, method, status), n) in map.iter() {
                let _ = writeln!(
                    out,
                    "gantry_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                    escape(route),
                    escape(method)
                );
            }
        }
        header(
            &mut out,
            "gantry_http_requests_in_flight",
            "gauge",
            "HTTP requests being handled now.",
        );
        let _ = writeln!(
            out,
            "gantry_http_requests_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "gantry_http_connections_open",
            "gauge",
            "Client connections open now (at most --max-connections).",
        );
        let _ = writeln!(
            out,
            "gantry_http_connections_open {}",
            self.connections.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "gantry_index_responses_total",
            "counter",
            "Sparse index responses: 200 sent the file, 304 confirmed the client's cached copy.",
        );
        let ok = self.index_ok.load(Ordering::Relaxed);
        let hits = self.index_not_modified.load(Ordering::Relaxed);
        let _ = writeln!(out, "gantry_index_responses_total{{status=\"200\"}} {ok}");
        let _ = writeln!(out, "gantry_index_responses_total{{status=\"304\"}} {hits}");
        header(
            &mut out,
            "gantry_index_cache_hits_total",
            "counter",
            "Conditional index requests answered 304 Not Modified (the client's cache was current).",
        );
        let _ = writeln!(out, "gantry_index_cache_hits_total {hits}");
        header(
            &mut out,
            "gantry_publish_duration_seconds",
            "histogram",
            "Time to answer PUT /api/v1/crates/new, whatever the outcome.",
        );
        self.publish
            .render(&mut out, "gantry_publish_duration_seconds");
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Label values escape `\`, `"` and newlines.
fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// Cumulative-on-render histogram: each observation increments exactly one bucket.
struct Histogram {
    bounds: &'static [f64],
    /// One per bound, plus the overflow (+Inf) bucket.
    counts: Vec<AtomicU64>,
    /// Sum in microseconds, so it can be an atomic integer.
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn observe(&self, secs: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((secs * 1e6).round() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str) {
        let mut cumulative = 0;
        for (i, bound) in self.bounds.iter().enumerate() {
            cumulative += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.counts[self.bounds.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {cumulative}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix} in\n{text}"))
    }

    #[test]
    fn requests_are_counted_by_route_method_and_status() {
        let m = Metrics::default();
        for status in [200, 200, 404] {
            m.request_started();
            m.request_finished("/api/v1/crates", "GET", status, Duration::from_millis(1));
        }
        let t = m.render();
        assert_eq!(
            line(
                &t,
                "gantry_http_requests_total{route=\"/api/v1/crates\",method=\"GET\",status=\"200\"}"
            ),
            "gantry_http_requests_total{route=\"/api/v1/crates\",method=\"GET\",status=\"200\"} 2"
        );
        assert!(t.contains("status=\"404\"} 1\n"), "{t}");
        assert_eq!(
            line(&t, "gantry_http_requests_in_flight "),
            "gantry_http_requests_in_flight 0"
        );
        assert!(t.contains("# TYPE gantry_http_requests_total counter\n"));
    }

    #[test]
    fn publish_histogram_is_cumulative_with_sum_and_count() {
        let m = Metrics::default();
        for ms in [3, 40, 40, 700, 200_000] {
            m.request_started();
            m.request_finished("/api/v1/crates/new", "PUT", 200, Duration::from_millis(ms));
        }
        let t = m.render();
        let p = "gantry_publish_duration_seconds";
        assert_eq!(
            line(&t, &format!("{p}_bucket{{le=\"0.005\"}}")),
            format!("{p}_bucket{{le=\"0.005\"}} 1")
        );
        assert_eq!(
            line(&t, &format!("{p}_bucket{{le=\"0.025\"}}")),
            format!("{p}_bucket{{le=\"0.025\"}} 1")
        );
        assert_eq!(
            line(&t, &format!("{p}_bucket{{le=\"0.05\"}}")),
            format!("{p}_bucket{{le=\"0.05\"}} 3")
        );
        assert_eq!(
            line(&t, &format!("{p}_bucket{{le=\"1\"}}")),
            format!("{p}_bucket{{le=\"1\"}} 4")
        );
        assert_eq!(
            line(&t, &format!("{p}_bucket{{le=\"120\"}}")),
            format!("{p}_bucket{{le=\"120\"}} 4")
        );
        assert_eq!(
            line(&t, &format!("{p}_bucket{{le=\"+Inf\"}}")),
            format!("{p}_bucket{{le=\"+Inf\"}} 5")
        );
        assert_eq!(line(&t, &format!("{p}_count")), format!("{p}_count 5"));
        assert_eq!(line(&t, &format!("{p}_sum")), format!("{p}_sum 200.783"));
        assert!(t.contains(&format!("# TYPE {p} histogram\n")));
        // Publishes are not index responses.
        assert_eq!(
            line(&t, "gantry_index_cache_hits_total "),
            "gantry_index_cache_hits_total 0"
        );
    }

    #[test]
    fn index_304s_are_cache_hits() {
        let m = Metrics::default();
        for status in [200, 304, 304, 404] {
            m.request_started();
            m.request_finished("/index/{*path}", "GET", status, Duration::ZERO);
        }
        let t = m.render();
        assert_eq!(
            line(&t, "gantry_index_responses_total{status=\"200\"}"),
            "gantry_index_responses_total{status=\"200\"} 1"
        );
        assert_eq!(
            line(&t, "gantry_index_responses_total{status=\"304\"}"),
            "gantry_index_responses_total{status=\"304\"} 2"
        );
        assert_eq!(
            line(&t, "gantry_index_cache_hits_total "),
            "gantry_index_cache_hits_total 2"
        );
    }

    #[test]
    fn every_sample_line_is_well_formed() {
        let m = Metrics::default();
        m.request_started();
        m.request_finished("/a\"b\\c\nd", "GET", 200, Duration::ZERO);
        let t = m.render();
        assert!(t.contains("route=\"/a\\\"b\\\\c\\nd\""), "{t}");
        for l in t.lines() {
            if l.starts_with('#') {
                assert!(l.starts_with("# HELP ") || l.starts_with("# TYPE "), "{l}");
                continue;
            }
            let (series, value) = l.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{l}");
            assert!(series.starts_with("gantry_"), "{l}");
            assert_eq!(
                series.matches('{').count(),
                series.matches('}').count(),
                "{l}"
            );
        }
    }
}
