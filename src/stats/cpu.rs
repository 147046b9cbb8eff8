//! CPU time and memory of this process from the kernel's own accounting (`getrusage`, and
//! `/proc/self` for threads by name and peak memory), so reports and benches state what work
//! cost rather than guessing from wall time.

use nix::sys::resource::{UsageWho, getrusage};
use std::time::Duration;

/// User and system CPU time consumed so far by the whole process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTime {
    /// Time in user mode.
    pub user: Duration,
    /// Time in the kernel on our behalf.
    pub system: Duration,
}

impl CpuTime {
    /// User plus system time.
    pub fn total(&self) -> Duration {
        self.user + self.system
    }

    /// This process's CPU time so far, from `getrusage(RUSAGE_SELF)` (microseconds); zero
    /// where unavailable.
    pub fn now() -> CpuTime {
        usage(UsageWho::RUSAGE_SELF)
    }

    /// The calling thread's CPU time so far, from `getrusage(RUSAGE_THREAD)`.
    pub fn this_thread() -> CpuTime {
        usage(UsageWho::RUSAGE_THREAD)
    }

    /// The time spent since `earlier`.
    pub fn since(&self, earlier: &CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

/// CPU time (user + system) of the calling thread (`getrusage(RUSAGE_THREAD)`).
pub fn this_thread_cpu() -> Duration {
    CpuTime::this_thread().total()
}

fn usage(who: UsageWho) -> CpuTime {
    let Ok(u) = getrusage(who) else {
        return CpuTime::default();
    };
    let d = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec().max(0) as u64)
            + Duration::from_micros(t.tv_usec().max(0) as u64)
    };
    CpuTime {
        user: d(u.user_time()),
        system: d(u.system_time()),
    }
}

/// CPU time (user + system) of this process's threads whose name starts with `prefix`
/// (`/proc/self/task/*/stat`), to tell the generator's workers from an in-process server.
pub fn threads_cpu(prefix: &str) -> Duration {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let mut total = Duration::ZERO;
    for task in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !stat[open + 1..close].starts_with(prefix) {
            continue;
        }
        let mut f = stat[close + 1..].split_whitespace().skip(11);
        let mut tick = || f.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        total += Duration::from_millis((tick() + tick()) * 10);
    }
    total
}

/// Peak resident set size of this process in bytes (`VmHWM`), if the kernel reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_moves_forward_with_work() {
        let before = CpuTime::now();
        let thread_before = this_thread_cpu();
        let mut x = 0u64;
        // Spin until this thread has run 60 ms (by its own clock, so a loaded machine only
        // makes it take longer), with a generous wall-clock cap.
        let start = std::time::Instant::now();
        while this_thread_cpu().saturating_sub(thread_before) < Duration::from_millis(60)
            && start.elapsed() < Duration::from_secs(30)
        {
            for _ in 0..10_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        }
        // getrusage counts microseconds; /proc's per-thread user and system times are whole
        // 10 ms ticks, each rounded down, so they may read up to 20 ms short (they did, with
        // a 25 ms spin against a 20 ms floor).
        let spent = CpuTime::now().since(&before);
        assert!(spent.total() >= Duration::from_millis(55), "{spent:?}");
        assert!(peak_rss_bytes().unwrap_or(0) > 0);
        let me = std::thread::current().name().unwrap_or("").to_string();
        let prefix: String = me.chars().take(15).collect();
        assert!(
            threads_cpu(&prefix) >= Duration::from_millis(30),
            "thread {me}"
        );
        assert!(this_thread_cpu() >= Duration::from_millis(55));
    }
}
