//! One scrape's worth of metrics: families of labelled counters, gauges and histograms, filled
//! from a second's numbers and encoded by `prometheus-client` in the Prometheus text format.
//!
//! A [`Page`] is built fresh each second by the reporter (never by a worker), so a scrape
//! always sees one consistent second. Histograms are read from HdrHistograms into fixed
//! buckets here.

use hdrhistogram::Histogram;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

/// A sample's labels, `(name, value)`.
type Labels = Vec<(&'static str, String)>;

/// A histogram read into fixed buckets: per bucket (not cumulative) counts by upper bound in
/// seconds, the last one `+Inf`.
#[derive(Clone, Debug, PartialEq)]
struct Buckets {
    sum: f64,
    count: u64,
    per_bucket: Vec<(f64, u64)>,
}

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Counter(u64),
    Gauge(f64),
    Histogram(Buckets),
}

#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    samples: Vec<(Labels, Value)>,
}

/// The metrics of one scrape, in the order they were added.
#[derive(Debug, Default)]
pub struct Page {
    families: Vec<Family>,
}

fn labels(l: &[(&'static str, &str)]) -> Labels {
    l.iter().map(|&(k, v)| (k, v.to_string())).collect()
}

/// Reads `h` (µs) into buckets with these upper bounds (µs), plus `+Inf`. A recorded value
/// goes to the first bound at or above it, at HdrHistogram's resolution (three significant
/// digits); the sum is in seconds.
fn buckets(h: &Histogram<u64>, bounds_us: &[u64]) -> Buckets {
    let mut per_bucket: Vec<(f64, u64)> = bounds_us
        .iter()
        .map(|&b| (b as f64 / 1e6, 0))
        .chain(std::iter::once((f64::INFINITY, 0)))
        .collect();
    let mut sum_us = 0.0;
    for v in h.iter_recorded() {
        let value = h.median_equivalent(v.value_iterated_to());
        let n = v.count_at_value();
        sum_us += value as f64 * n as f64;
        let i = bounds_us.partition_point(|&b| b < value);
        per_bucket[i].1 += n;
    }
    Buckets {
        sum: sum_us / 1e6,
        count: h.len(),
        per_bucket,
    }
}

impl Page {
    /// An empty page.
    pub fn new() -> Page {
        Page::default()
    }

    fn family(&mut self, name: &'static str, help: &'static str, kind: MetricType) -> &mut Family {
        let i = match self.families.iter().position(|f| f.name == name) {
            Some(i) => i,
            None => {
                self.families.push(Family {
                    name,
                    help,
                    kind,
                    samples: Vec::new(),
                });
                self.families.len() - 1
            }
        };
        &mut self.families[i]
    }

    /// Adds a counter sample (`name` without `_total`: the encoder appends it).
    pub fn counter(
        &mut self,
        name: &'static str,
        help: &'static str,
        l: &[(&'static str, &str)],
        n: u64,
    ) {
        let f = self.family(name, help, MetricType::Counter);
        f.samples.push((labels(l), Value::Counter(n)));
    }

    /// Adds a gauge sample.
    pub fn gauge(
        &mut self,
        name: &'static str,
        help: &'static str,
        l: &[(&'static str, &str)],
        x: f64,
    ) {
        let f = self.family(name, help, MetricType::Gauge);
        f.samples.push((labels(l), Value::Gauge(x)));
    }

    /// Adds the µs histogram `h` as a Prometheus histogram in seconds with fixed buckets
    /// (`bounds_us`, plus `+Inf`).
    pub fn histogram(
        &mut self,
        name: &'static str,
        help: &'static str,
        l: &[(&'static str, &str)],
        h: &Histogram<u64>,
        bounds_us: &[u64],
    ) {
        let b = buckets(h, bounds_us);
        let f = self.family(name, help, MetricType::Histogram);
        f.samples.push((labels(l), Value::Histogram(b)));
    }

    /// Adds the exact percentiles of the µs histogram `h` ([`super::QUANTILES`]) as gauges in
    /// seconds with a `quantile` label; nothing when `h` is empty (no latency is not 0).
    pub fn quantiles(
        &mut self,
        name: &'static str,
        help: &'static str,
        l: &[(&'static str, &str)],
        h: &Histogram<u64>,
    ) {
        if h.is_empty() {
            return;
        }
        for (q, label) in super::QUANTILES {
            let us = if q >= 1.0 {
                h.max()
            } else {
                h.value_at_quantile(q)
            };
            let mut all = l.to_vec();
            all.push(("quantile", label));
            self.gauge(name, help, &all, us as f64 / 1e6);
        }
    }

    /// The page in the Prometheus text format (version 0.0.4).
    pub fn encode(self) -> String {
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(self));
        let mut out = String::new();
        // Writing into a String cannot fail; the encoder only reports the writer's errors.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
        out
    }
}

impl Collector for Page {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in &self.families {
            let mut m = encoder.encode_descriptor(f.name, f.help, None, f.kind)?;
            for (l, v) in &f.samples {
                let mut s = m.encode_family(l)?;
                match v {
                    Value::Counter(n) => s.encode_counter::<NoLabelSet, u64, f64>(n, None)?,
                    Value::Gauge(x) => s.encode_gauge(x)?,
                    Value::Histogram(b) => {
                        s.encode_histogram::<NoLabelSet>(b.sum, b.count, &b.per_bucket, None)?
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_with_le_in_seconds_and_sum_and_count() {
        let mut h = crate::stats::snapshot::new_histogram();
        for us in [300, 900, 1_000, 40_000, 60_000_000] {
            h.record(us).unwrap();
        }
        let mut p = Page::new();
        p.histogram(
            "x_seconds",
            "X.",
            &[("kind", "register")],
            &h,
            &[1_000, 50_000],
        );
        let text = p.encode();
        for line in [
            "# TYPE x_seconds histogram",
            "x_seconds_count{kind=\"register\"} 5",
            "x_seconds_bucket{kind=\"register\",le=\"0.001\"} 3",
            "x_seconds_bucket{kind=\"register\",le=\"0.05\"} 4",
            "x_seconds_bucket{kind=\"register\",le=\"+Inf\"} 5",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        let sum: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("x_seconds_sum{kind=\"register\"} "))
            .unwrap()
            .parse()
            .unwrap();
        // 60.0422 s, each value at HdrHistogram's three significant digits.
        assert!((sum - 60.0422).abs() < 0.1, "{sum}");
    }

    #[test]
    fn counters_gain_total_and_quantiles_are_exact_and_absent_without_samples() {
        let mut h = crate::stats::snapshot::new_histogram();
        for us in 1..=1000 {
            h.record(us).unwrap();
        }
        let mut p = Page::new();
        p.counter("t", "T.", &[("code", "200")], 7);
        p.counter("t", "T.", &[("code", "401")], 3);
        p.gauge("g", "G.", &[], 2.0);
        p.quantiles("q_seconds", "Q.", &[("kind", "ka")], &h);
        p.quantiles(
            "e_seconds",
            "E.",
            &[],
            &crate::stats::snapshot::new_histogram(),
        );
        let text = p.encode();
        for line in [
            "# TYPE t_total counter",
            "t_total{code=\"200\"} 7",
            "t_total{code=\"401\"} 3",
            "g 2.0",
            "q_seconds{kind=\"ka\",quantile=\"0.5\"} 0.0005",
            "q_seconds{kind=\"ka\",quantile=\"0.99\"} 0.00099",
            "q_seconds{kind=\"ka\",quantile=\"1\"} 0.001",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        assert!(!text.contains("e_seconds"), "{text}");
    }
}
