//! Measurements: per-worker latency histograms and outcome counts merged into run totals, and
//! CPU and memory accounting of this process.

pub mod cpu;
pub mod handover;
pub mod hdr;
pub mod html;
pub mod info;
pub mod merge;
pub mod series;
pub mod snapshot;
pub mod summary;
pub mod video;

pub use cpu::{CpuTime, peak_rss_bytes, this_thread_cpu, threads_cpu};
pub use snapshot::{Gauges, KindStats, Snapshot};
