//! `--hdr-log FILE`: a standard HdrHistogram interval log (the text format HdrHistogram's
//! `HistogramLogProcessor` and plotters read), one tagged histogram per transaction kind per
//! second, latencies in microseconds.

use super::Snapshot;
use crate::camera::TxnKind;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// An open interval log.
pub struct HdrLog {
    out: BufWriter<File>,
    serializer: V2DeflateSerializer,
}

impl HdrLog {
    /// Creates the file and writes the header (start time, legend).
    pub fn create(path: &Path, start: SystemTime) -> io::Result<HdrLog> {
        let mut out = BufWriter::new(File::create(path)?);
        let mut serializer = V2DeflateSerializer::new();
        IntervalLogWriterBuilder::new()
            .add_comment("gbswarm latency log: one histogram per transaction kind per second, in microseconds")
            .with_start_time(start)
            .with_base_time(start)
            .begin_log_with(&mut out, &mut serializer)?;
        writeln!(
            out,
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
        )?;
        Ok(HdrLog { out, serializer })
    }

    /// Appends the histograms of one interval (kinds with samples only) and flushes them.
    pub fn write_interval(
        &mut self,
        start: Duration,
        length: Duration,
        snap: &Snapshot,
    ) -> io::Result<()> {
        let mut w =
            IntervalLogWriterBuilder::new().begin_log_with(&mut self.out, &mut self.serializer)?;
        for k in TxnKind::ALL {
            let h = &snap.kind(k).latency;
            if h.is_empty() {
                continue;
            }
            let tag = Tag::new(k.as_str());
            w.write_histogram(h, start, length, tag)
                .map_err(|e| io::Error::other(format!("{e}")))?;
        }
        // Every finished second reaches the file, even if the process is killed later.
        self.out.flush()
    }

    /// Flushes the file.
    pub fn finish(mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::{Outcome, Record};
    use crate::clock::Span;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    #[test]
    fn writes_a_log_hdrhistogram_reads_back() {
        let dir = std::env::temp_dir().join(format!("gbswarm-hdr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("run.hlog");
        let mut log = HdrLog::create(&path, SystemTime::now()).unwrap();
        for t in 0..3u64 {
            let mut s = Snapshot::default();
            for i in 0..100 {
                s.record(&Record {
                    kind: TxnKind::Register,
                    outcome: Outcome::Status(200),
                    latency: Span::from_micros(100 + i),
                    lag: Span::ZERO,
                    retransmits: 0,
                    redirected: false,
                });
                s.record(&Record {
                    kind: TxnKind::Keepalive,
                    outcome: Outcome::Status(200),
                    latency: Span::from_micros(50 + i),
                    lag: Span::ZERO,
                    retransmits: 0,
                    redirected: false,
                });
            }
            log.write_interval(Duration::from_secs(t), Duration::from_secs(1), &s)
                .unwrap();
        }
        log.finish().unwrap();
        let text = std::fs::read(&path).unwrap();
        let mut histograms = 0;
        let mut tags = Vec::new();
        for entry in IntervalLogIterator::new(&text) {
            if let Ok(LogEntry::Interval(h)) = entry {
                histograms += 1;
                tags.push(h.tag().map(|t| t.as_str().to_string()).unwrap_or_default());
            }
        }
        assert_eq!(histograms, 6);
        assert_eq!(tags.iter().filter(|t| *t == "register").count(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
