//! `gbswarm find-max`: the highest load a server holds within a service-level objective.
//!
//! The load (registration rate, or fleet size at a fixed heartbeat) grows by a factor each
//! step until the objective breaks (p99 above a limit, too many failures, or any timeout),
//! then the interval between the last load that held and the first that broke is bisected
//! until it is narrower than the requested precision. Each step is a fresh run whose first
//! seconds (warm-up) are left out of the measurement.
//!
//! A registration a 302 sends on to another server is one transaction that ends there: it
//! counts as held or failed by its final answer (timed from when it was due), never as a
//! rejection for the 302, so a redirecting platform is measured like any other.

use crate::camera::TxnKind;
use crate::engine;
use crate::profile::{Plan, Ramp};
use crate::stats::Snapshot;
use serde::Serialize;
use std::net::SocketAddr;
use std::time::Duration;

mod report;

pub use report::render_html;

/// What grows from step to step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    /// New registrations per second (fresh fleet each step, measured on registrations).
    Rate,
    /// Cameras online at the plan's heartbeat (measured on keepalives once all are up).
    Fleet,
}

impl Dimension {
    /// The unit of its load: `registrations/s` or `cameras`.
    pub fn unit(self) -> &'static str {
        match self {
            Dimension::Rate => "registrations/s",
            Dimension::Fleet => "cameras",
        }
    }
}

/// The service-level objective a step must meet.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Slo {
    /// Highest acceptable p99 latency.
    pub max_p99: Duration,
    /// Highest acceptable share of failed transactions (rejected, timed out or transport).
    pub max_failure_share: f64,
}

/// How the search runs.
#[derive(Clone, Debug)]
pub struct Search {
    /// Camera behaviour, target and layout; its ramp and fleet size are set per step.
    pub base: Plan,
    /// What to grow.
    pub dimension: Dimension,
    /// First load.
    pub start: f64,
    /// Growth factor between steps before the first break (> 1).
    pub factor: f64,
    /// Load never tried above this.
    pub max: f64,
    /// Stop bisecting when (broke − held) / held is below this.
    pub precision: f64,
    /// Measured length of a step.
    pub step: Duration,
    /// Left out at the start of each measurement.
    pub warmup: Duration,
    /// The objective.
    pub slo: Slo,
    /// At most this many steps.
    pub max_steps: usize,
}

/// The evidence of one step.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// Registrations per second, or cameras.
    pub load: f64,
    /// True if the objective held.
    pub held: bool,
    /// Transactions measured (after warm-up).
    pub measured: u64,
    /// Of those, answered 2xx.
    pub ok: u64,
    /// Of those, redirected by a 302 and ended at the server it named (counted by that end).
    pub redirected: u64,
    /// Rejected, timed out or lost to transport errors.
    pub failures: u64,
    /// Of the failures, timeouts.
    pub timeouts: u64,
    /// Median latency, µs.
    pub p50_us: u64,
    /// 99th percentile latency, µs.
    pub p99_us: u64,
    /// Why it broke, if it did.
    pub broke: Option<String>,
    /// Cut short by Ctrl-C / SIGTERM: neither held nor broke, and the search ended there.
    pub interrupted: bool,
    /// Every answer it measured was a transport error or none came: the target looks down
    /// or absent rather than overloaded.
    pub unanswered: bool,
}

/// The search's answer.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// What was grown.
    pub dimension: Dimension,
    /// The objective.
    pub slo: Slo,
    /// The highest load that held, if any did.
    pub best: Option<f64>,
    /// The highest load the search could try (`--max`): a `best` there may not be the
    /// server's limit.
    pub max: f64,
    /// Every step in the order run.
    pub steps: Vec<Step>,
}

impl Search {
    /// The plan of one step at `load`.
    fn step_plan(&self, load: f64) -> Result<Plan, String> {
        let mut plan = self.base.clone();
        let measured = self.step + self.warmup;
        let (cameras, duration) = match self.dimension {
            Dimension::Rate => {
                plan.ramp = Ramp::Rate(load);
                ((load * measured.as_secs_f64()).ceil() as u64, measured)
            }
            Dimension::Fleet => {
                let cameras = load.ceil() as u64;
                let ramp_s = match plan.ramp {
                    Ramp::Rate(r) => cameras as f64 / r,
                    Ramp::Burst => 0.0,
                };
                (cameras, Duration::from_secs_f64(ramp_s) + measured)
            }
        };
        let ids = match self.base.ids.devices() {
            // A device file: its first rows, as many as the step needs.
            Some(d) if cameras <= d.len() as u64 => {
                crate::gb::Ids::Listed(std::sync::Arc::new(d.slice(0, cameras.max(1) as usize)))
            }
            Some(d) => {
                return Err(format!(
                    "this step needs {cameras} cameras, but the device file lists {}",
                    d.len()
                ));
            }
            None => {
                let first = self.base.ids.get(0).ok_or("empty ID range")?;
                let prefix = first.to_string();
                // Keep the prefix of the base range; restart numbering at its first ID.
                let width = 7;
                let (head, tail) = prefix.split_at(20 - width);
                let first_n: u64 = tail.parse().map_err(|_| "bad first ID")?;
                crate::gb::IdRange::new(head, first_n, cameras.max(1))
                    .map_err(|e| format!("{cameras} cameras do not fit the ID range: {e}"))?
                    .into()
            }
        };
        plan.set_ids(ids);
        plan.duration = duration;
        // Steps end at once: a stop paced like the ramp would double every step's length, and
        // nothing after the measured window is measured.
        plan.stop_ramp = Ramp::Burst;
        // Large fleets share sockets so the descriptor limit is never the bottleneck.
        let limit = crate::net::limits::raise_nofile()
            .saturating_sub(512)
            .max(1000);
        let (udp, _) = plan.transport_counts();
        let needed = udp.div_ceil(u64::from(plan.cameras_per_socket.max(1)));
        if needed > limit {
            plan.cameras_per_socket = udp.div_ceil(limit) as u32;
        }
        Ok(plan)
    }

    /// Runs one step and judges it.
    pub fn run_step(
        &self,
        load: f64,
        target: SocketAddr,
        interrupt: &engine::Stop,
    ) -> Result<Step, String> {
        let plan = self.step_plan(load)?;
        let kind = match self.dimension {
            Dimension::Rate => TxnKind::Register,
            Dimension::Fleet => TxnKind::Keepalive,
        };
        let measure_from = (plan.duration - self.step).as_secs_f64();
        let mut window = Snapshot::default();
        let result = engine::run(&plan, target, interrupt, |iv| {
            if iv.t_s > measure_from {
                window.merge(iv.snap);
            }
        })?;
        let answered = |s: &Snapshot| -> u64 {
            s.kinds
                .iter()
                .flat_map(|k| k.statuses.iter().map(|(_, n)| n))
                .sum()
        };
        // Judged on the whole run, warm-up included: one answer anywhere means it is up.
        let unanswered = answered(&result.total) == 0;
        let k = window.kind(kind);
        let measured = k.total() - k.abandoned;
        let failures = k.rejected() + k.timeouts + k.transport_errors;
        let p99 = k.latency.value_at_quantile(0.99);
        let share = failures as f64 / measured.max(1) as f64;
        let broke = if measured == 0 {
            Some("no transaction completed in the measured window".to_string())
        } else if k.timeouts > 0 {
            Some(format!("{} timeouts", k.timeouts))
        } else if share > self.slo.max_failure_share {
            Some(format!("{:.3}% failed", share * 100.0))
        } else if Duration::from_micros(p99) > self.slo.max_p99 {
            Some(format!("p99 {:.2} ms", p99 as f64 / 1000.0))
        } else {
            None
        };
        Ok(Step {
            load,
            measured,
            ok: k.succeeded(),
            redirected: k.redirected,
            failures,
            timeouts: k.timeouts,
            p50_us: k.latency.value_at_quantile(0.5),
            p99_us: p99,
            held: broke.is_none() && !result.reason.interrupted(),
            broke: if result.reason.interrupted() {
                None
            } else {
                broke
            },
            interrupted: result.reason.interrupted(),
            unanswered,
        })
    }

    /// Grows, then bisects, against `target`; `on_start` hears each step's load as it
    /// starts, `on_step` sees each step as it finishes.
    pub fn run(
        &self,
        target: SocketAddr,
        interrupt: &engine::Stop,
        mut on_start: impl FnMut(f64),
        on_step: impl FnMut(&Step),
    ) -> Result<Outcome, String> {
        self.search(
            |load| {
                on_start(load);
                self.run_step(load, target, interrupt)
            },
            interrupt,
            on_step,
        )
    }

    /// The search itself, over any way of measuring a step (tests use a model server).
    pub fn search(
        &self,
        mut measure: impl FnMut(f64) -> Result<Step, String>,
        interrupt: &engine::Stop,
        mut on_step: impl FnMut(&Step),
    ) -> Result<Outcome, String> {
        if self.factor <= 1.0 || self.start <= 0.0 || self.max < self.start {
            return Err("find-max needs start > 0, factor > 1 and max >= start".into());
        }
        let mut steps = Vec::new();
        let mut held: Option<f64> = None;
        let mut broke: Option<f64> = None;
        let mut load = self.start;
        let integral = |x: f64| x.round().max(1.0);
        while steps.len() < self.max_steps && !interrupt.is_requested() {
            let step = measure(load)?;
            on_step(&step);
            if step.interrupted {
                steps.push(step);
                break;
            }
            if step.held {
                held = Some(held.map_or(load, |h: f64| h.max(load)));
            } else {
                broke = Some(broke.map_or(load, |b: f64| b.min(load)));
            }
            steps.push(step);
            load = match (held, broke) {
                (Some(h), None) if h >= self.max => break,
                (Some(h), None) => integral((h * self.factor).min(self.max)),
                (None, _) => break,
                (Some(h), Some(b)) => {
                    if (b - h) / h <= self.precision {
                        break;
                    }
                    let mid = integral((h + b) / 2.0);
                    if mid <= h || mid >= b {
                        break;
                    }
                    mid
                }
            };
        }
        Ok(Outcome {
            dimension: self.dimension,
            slo: self.slo,
            best: held,
            max: self.max,
            steps,
        })
    }
}

/// The steps as a markdown table, for stdout and the README.
pub fn table(o: &Outcome) -> String {
    let unit = o.dimension.unit();
    let mut s = format!(
        "| {unit} | held | measured | ok | failures | timeouts | p50 ms | p99 ms | why it broke |\n|---|---|---|---|---|---|---|---|---|\n"
    );
    for st in &o.steps {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {} |\n",
            st.load,
            if st.interrupted {
                "interrupted"
            } else if st.held {
                "yes"
            } else {
                "no"
            },
            st.measured,
            st.ok,
            st.failures,
            st.timeouts,
            st.p50_us as f64 / 1000.0,
            st.p99_us as f64 / 1000.0,
            st.broke.as_deref().unwrap_or("")
        ));
    }
    let objective = format!(
        "p99 <= {:.1} ms, failures <= {:.3}%, no timeouts",
        o.slo.max_p99.as_secs_f64() * 1000.0,
        o.slo.max_failure_share * 100.0
    );
    if o.interrupted() {
        match o.best {
            Some(b) => s.push_str(&format!(
                "\ninterrupted: the search did not finish; highest load that held so far: {b} {unit} ({objective})\n"
            )),
            None => s.push_str("\ninterrupted before any step held\n"),
        }
        return s;
    }
    match o.best {
        Some(b) => s.push_str(&format!(
            "\nhighest load that held: {b} {unit} ({objective})\n"
        )),
        None => {
            s.push_str("\nno step held: ");
            s.push_str(&o.why_none_held());
            s.push('\n');
        }
    }
    s
}

impl Outcome {
    /// True if the search was cut short by Ctrl-C / SIGTERM.
    pub fn interrupted(&self) -> bool {
        self.steps.last().is_some_and(|s| s.interrupted)
    }

    /// Why no step held, in words that fit: a target that answered nothing is not overloaded.
    pub fn why_none_held(&self) -> String {
        match self.steps.first() {
            None => "no step ran".into(),
            Some(first) if first.unanswered => format!(
                "the target answered nothing at the first load ({}: {}); check that it is running and that --target names it (lowering --start will not help)",
                first.load,
                first.broke.as_deref().unwrap_or("no answer")
            ),
            Some(first) => format!(
                "even the first load ({}) broke the objective ({}); lower --start",
                first.load,
                first.broke.as_deref().unwrap_or("objective missed")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(start: f64, max: f64) -> Search {
        Search {
            base: crate::profile::Profile::default().plan().unwrap(),
            dimension: Dimension::Rate,
            start,
            factor: 2.0,
            max,
            precision: 0.05,
            step: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            slo: Slo {
                max_p99: Duration::from_millis(10),
                max_failure_share: 0.001,
            },
            max_steps: 20,
        }
    }

    /// A server that holds up to `capacity` and breaks above it.
    fn model(capacity: f64) -> impl FnMut(f64) -> Result<Step, String> {
        move |load| {
            let held = load <= capacity;
            Ok(Step {
                load,
                held,
                measured: 100,
                ok: if held { 100 } else { 90 },
                redirected: 0,
                failures: if held { 0 } else { 10 },
                timeouts: 0,
                p50_us: 500,
                p99_us: 900,
                broke: (!held).then(|| "10% failed".into()),
                interrupted: false,
                unanswered: false,
            })
        }
    }

    #[test]
    fn grows_then_bisects_to_the_capacity() {
        let s = search(1000.0, 1e6);
        let o = s
            .search(model(12_345.0), &engine::Stop::default(), |_| {})
            .unwrap();
        let best = o.best.unwrap();
        assert!((12_345.0 / 1.05..=12_345.0).contains(&best), "{best}");
        let loads: Vec<f64> = o.steps.iter().map(|s| s.load).collect();
        assert_eq!(&loads[..5], &[1000.0, 2000.0, 4000.0, 8000.0, 16000.0]);
        assert!(o.steps.len() < 20, "the search stops by itself");
        assert!(table(&o).contains("highest load that held"));
    }

    #[test]
    fn stops_at_max_or_at_a_first_failure() {
        let o = search(1000.0, 5000.0)
            .search(model(1e9), &engine::Stop::default(), |_| {})
            .unwrap();
        assert_eq!(o.best, Some(5000.0));
        assert_eq!(o.steps.last().unwrap().load, 5000.0);
        let o = search(1000.0, 1e6)
            .search(model(10.0), &engine::Stop::default(), |_| {})
            .unwrap();
        assert_eq!((o.best, o.steps.len()), (None, 1));
        assert!(table(&o).contains("lower --start"));
        assert!(
            search(0.0, 1.0)
                .search(model(1.0), &engine::Stop::default(), |_| {})
                .is_err()
        );
    }

    #[test]
    fn a_dead_target_is_not_told_to_lower_start() {
        let o = search(1000.0, 1e6)
            .search(
                |load| {
                    let mut st = model(0.0)(load)?;
                    st.unanswered = true;
                    st.broke = Some("1000 transport errors".into());
                    Ok(st)
                },
                &engine::Stop::default(),
                |_| {},
            )
            .unwrap();
        let t = table(&o);
        assert!(
            t.contains("no step held: the target answered nothing at the first load (1000: 1000 transport errors)"),
            "{t}"
        );
        assert!(!t.contains("; lower --start"), "{t}");
    }

    #[test]
    fn an_interrupted_step_is_neither_held_nor_broken_and_ends_the_search() {
        let stop = engine::Stop::default();
        let mut n = 0;
        let o = search(1000.0, 1e6)
            .search(
                |load| {
                    n += 1;
                    let mut st = model(1e9)(load)?;
                    if n == 3 {
                        st.held = false;
                        st.interrupted = true;
                    }
                    Ok(st)
                },
                &stop,
                |_| {},
            )
            .unwrap();
        assert_eq!((o.steps.len(), o.best), (3, Some(2000.0)));
        assert!(o.interrupted());
        let t = table(&o);
        assert!(t.contains("| 4000 | interrupted |"), "{t}");
        assert!(
            t.contains("interrupted: the search did not finish; highest load that held so far: 2000 registrations/s"),
            "{t}"
        );
        assert!(!t.contains("| no |"), "{t}");
    }
}
