//! Measurements: CPU and memory accounting of this process.

pub mod cpu;

pub use cpu::{CpuTime, peak_rss_bytes};
