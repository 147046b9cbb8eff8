//! Ctrl-C and SIGTERM for the commands: counted into an [`engine::Stop`] by a watcher thread,
//! which tells the user at once what happens next; a third signal exits on the spot.
//!
//! Nothing here touches the run itself: the engine reads the [`engine::Stop`].

use crate::engine;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// The exit status of a command cut short by a signal (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Counts SIGINT / SIGTERM into a [`engine::Stop`] while it lives; dropping it stops the
/// watcher thread (the signals stay caught, so a late Ctrl-C does not kill the report).
pub struct Watcher {
    handle: Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts counting signals into `stop`; `say(n)` runs on the watcher thread after the `n`-th,
/// to tell the user what happens next. A third signal exits at once with status 130.
pub fn watch(
    stop: Arc<engine::Stop>,
    say: impl Fn(u8) + Send + 'static,
) -> Result<Watcher, String> {
    let mut signals = Signals::new([SIGINT, SIGTERM])
        .map_err(|e| format!("cannot install the signal handler: {e}"))?;
    let handle = signals.handle();
    let thread = std::thread::Builder::new()
        .name("gbswarm-signals".into())
        .spawn(move || {
            for _ in signals.forever() {
                let n = stop.request();
                if n >= 3 {
                    eprintln!("\ngbswarm: interrupted three times: exiting now, no report");
                    std::process::exit(i32::from(EXIT_INTERRUPTED));
                }
                say(n);
            }
        })
        .map_err(|e| format!("cannot start the signal watcher: {e}"))?;
    Ok(Watcher {
        handle,
        thread: Some(thread),
    })
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A flag set by the first SIGINT / SIGTERM, for `serve`, which has nothing to wind down
/// gracefully.
pub fn flag() -> Result<Arc<AtomicBool>, String> {
    let interrupt = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register(sig, interrupt.clone())
            .map_err(|e| format!("cannot install the signal handler: {e}"))?;
    }
    Ok(interrupt)
}
