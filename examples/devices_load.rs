//! How long a device file takes to load and how much memory its table holds: the same
//! [`Devices::load`] that `run --devices` and `serve --passwords` call, timed, with the
//! process's resident memory read from `/proc/self/status` before and after.
//!
//! ```text
//! devices_load FILE              # load FILE, print rows, time, table bytes, RSS before/after
//! devices_load --write N FILE    # write N rows (ID, password, channels, transport) to FILE
//! ```

use gbswarm::gb::Devices;
use std::time::Instant;

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with(field))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [w, n, path] if w == "--write" => {
            let n: u64 = n.parse().expect("N rows");
            let mut s = String::from("# device-id,password,channels,transport\n");
            for i in 1..=n {
                let t = ["", "udp", "tcp"][(i % 3) as usize];
                s.push_str(&format!(
                    "3402000000132{i:07},pw-{i:08},{},{t}\n",
                    1 + i % 4
                ));
            }
            std::fs::write(path, s).expect("write the file");
        }
        [path] => {
            let (rss0, hwm0) = (rss_kib("VmRSS:"), rss_kib("VmHWM:"));
            let t = Instant::now();
            let d = Devices::load(path.as_ref()).unwrap_or_else(|e| {
                eprintln!("{e}");
                std::process::exit(2);
            });
            let took = t.elapsed();
            let (rss1, hwm1) = (rss_kib("VmRSS:"), rss_kib("VmHWM:"));
            println!(
                "{} rows in {:.1} ms; resident {} KiB before, {} KiB after (+{} KiB, {} B a row); peak {} KiB before, {} KiB after",
                d.len(),
                took.as_secs_f64() * 1000.0,
                rss0,
                rss1,
                rss1.saturating_sub(rss0),
                (rss1.saturating_sub(rss0) * 1024) / d.len().max(1) as u64,
                hwm0,
                hwm1
            );
        }
        _ => {
            eprintln!("usage: devices_load FILE | devices_load --write N FILE");
            std::process::exit(2);
        }
    }
}
