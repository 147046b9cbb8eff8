//! The `gbswarm` command line: argument parsing only; the work is done by the library.

use clap::{Parser, Subcommand};
use gbswarm::profile::{Profile, Span};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Load simulator for GB/T 28181 video-surveillance SIP servers.
///
/// Emulates fleets of IP cameras that register with digest auth, refresh, send keepalives and
/// answer platform queries over UDP and TCP, and reports latency histograms.
#[derive(Parser)]
#[command(name = "gbswarm", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Emulate a fleet of cameras against a SIP server and report latency and outcomes.
    ///
    /// Keys come from `--profile FILE` (TOML, same names as the flags) and are overridden by
    /// flags. Without `--target`, an embedded gbswarm registrar is started on a loopback port.
    /// Progress goes to stderr once a second; the report goes to stdout at the end. Stops after
    /// `--duration`, or on Ctrl-C / SIGTERM, unregistering every camera first (at the ramp rate).
    Run(Box<RunArgs>),
    /// Find the highest load a server holds within a latency and failure objective.
    ///
    /// Raises the registration rate (or the fleet size, with --by fleet) by --factor per step
    /// until the objective breaks, then bisects between the last load that held and the first
    /// that broke. Each step is a fresh run of --warmup + --step; only --step is measured.
    /// Takes every `run` flag for the cameras and the target. Prints a table of every step and
    /// the answer; --json writes the same.
    FindMax(Box<FindMaxArgs>),
    /// Run a GB28181 registrar: digest auth, keepalives, optional 302 redirect.
    ///
    /// One worker per core, each with its own UDP socket and TCP listener on --listen
    /// (SO_REUSEPORT). Listens on loopback unless told otherwise. Stops on Ctrl-C / SIGTERM
    /// and prints a summary.
    Serve(Box<ServeArgs>),
    /// Merge the --json reports of several runs (e.g. the shards of one fleet) exactly:
    /// histograms and counts are added, never percentiles averaged.
    Merge {
        /// JSON reports written by `gbswarm run --json`.
        #[arg(required = true, num_args = 1..)]
        reports: Vec<PathBuf>,
        /// Also write the merged report as JSON.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Decode raw SIP messages and print each one's fields as JSON (one object per line).
    ///
    /// The input is one message (a UDP payload) or a TCP byte stream holding several,
    /// framed by Content-Length. On invalid input, prints the error and its byte offset to
    /// stderr and exits with status 1.
    Inspect {
        /// File to read, or `-` for standard input.
        file: PathBuf,
        /// Pretty-print each JSON object over several lines.
        #[arg(long)]
        pretty: bool,
    },
}

/// Flags of `gbswarm run`; each mirrors a profile key.
#[derive(clap::Args)]
struct RunArgs {
    /// TOML load profile; flags given here override its keys.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// SIP server to load, HOST:PORT [default: start the embedded registrar].
    #[arg(long, value_name = "HOST:PORT")]
    target: Option<String>,
    /// The server's 20-digit GB28181 ID [default: 34020000002000000001].
    #[arg(long, value_name = "ID")]
    server_id: Option<String>,
    /// SIP domain in URIs [default: first 10 digits of the server ID].
    #[arg(long)]
    domain: Option<String>,
    /// Password every camera authenticates with [default: 12345678].
    #[arg(long)]
    password: Option<String>,
    /// Digits every camera ID starts with [default: 3402000000132].
    #[arg(long, value_name = "DIGITS")]
    id_prefix: Option<String>,
    /// Number after the prefix of the first camera [default: 1].
    #[arg(long, value_name = "N")]
    first_id: Option<u64>,
    /// Number of cameras [default: 100].
    #[arg(long, short = 'n', value_name = "N")]
    cameras: Option<u64>,
    /// Transport: udp or tcp [default: udp].
    #[arg(long, value_parser = parse_transport)]
    transport: Option<gbswarm::camera::Transport>,
    /// New registrations per second during the ramp-up [default: 100].
    #[arg(long, value_name = "PER_SEC")]
    rate: Option<f64>,
    /// Start every camera at once (a flash crowd after a platform restart).
    #[arg(long)]
    burst: bool,
    /// Run length, e.g. 30s, 5m, 1h [default: 60s].
    #[arg(long, value_name = "SPAN")]
    duration: Option<Span>,
    /// Registration expiry to ask for [default: 3600s].
    #[arg(long, value_name = "SPAN")]
    expires: Option<Span>,
    /// Keepalive interval [default: 60s].
    #[arg(long, value_name = "SPAN")]
    heartbeat: Option<Span>,
    /// Consecutive missed keepalives that mean the server is gone [default: 3].
    #[arg(long, value_name = "N")]
    heartbeat_misses: Option<u8>,
    /// Wait before registering again after a failure; never shortened [default: 60s].
    #[arg(long, value_name = "SPAN")]
    retry_interval: Option<Span>,
    /// Random extra wait per retry, as a share of the interval [default: 0.2].
    #[arg(long, value_name = "SHARE")]
    retry_jitter: Option<f64>,
    /// Refresh point as a share of the granted expiry [default: 0.85].
    #[arg(long, value_name = "SHARE")]
    refresh_at: Option<f64>,
    /// Channels per camera listed in Catalog answers [default: 1].
    #[arg(long, value_name = "N")]
    channels: Option<u32>,
    /// Most Catalog items per answer message [default: 20].
    #[arg(long, value_name = "N")]
    catalog_page: Option<u32>,
    /// Share of cameras reporting a faulty sub-device in keepalives [default: 0].
    #[arg(long, value_name = "SHARE")]
    fault_share: Option<f64>,
    /// Worker threads, one per core [default: all cores].
    #[arg(long, value_name = "N")]
    cores: Option<usize>,
    /// Cameras sharing one UDP socket; 1 gives each its own source port, like real devices
    /// [default: 1].
    #[arg(long, value_name = "N")]
    cameras_per_socket: Option<u32>,
    /// Source addresses to spread sockets over: a list or a range like 127.0.0.1-127.0.0.8.
    #[arg(long, value_name = "IPS", num_args = 1.., value_delimiter = ',')]
    local_ip: Option<Vec<String>>,
    /// Do not unregister the cameras when stopping.
    #[arg(long)]
    no_unregister: bool,
    /// Time allowed for unregistrations to complete after the last one is sent. The stop
    /// unregisters cameras at the ramp `--rate` (all at once with `--burst`), faster if that
    /// would take longer than this grace [default: 10s].
    #[arg(long, value_name = "SPAN")]
    grace: Option<Span>,
    /// Also write the report as JSON (stable schema `gbswarm.run/1`).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Also write an HdrHistogram interval log (one histogram per kind per second).
    #[arg(long, value_name = "FILE")]
    hdr_log: Option<PathBuf>,
    /// Run only slice K of N of the camera IDs (0-based), for several generator machines;
    /// combine their --json files with `gbswarm merge`. In a Kubernetes Indexed Job use
    /// `--shard $JOB_COMPLETION_INDEX/N`.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Also write a self-contained HTML report (inline SVG charts, no network needed).
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
}

/// Flags of `gbswarm serve`.
#[derive(clap::Args)]
struct ServeArgs {
    /// Address for UDP and TCP.
    #[arg(long, default_value = "127.0.0.1:5060")]
    listen: std::net::SocketAddr,
    /// Worker threads [default: all cores].
    #[arg(long)]
    cores: Option<usize>,
    /// The server's 20-digit ID.
    #[arg(long, default_value = "34020000002000000001")]
    server_id: String,
    /// Digest realm [default: the first 10 digits of the server ID].
    #[arg(long)]
    realm: Option<String>,
    /// The password every device uses.
    #[arg(long, default_value = "12345678", conflicts_with = "passwords")]
    password: String,
    /// A file of `device-id password` lines (`#` comments): only these devices may register.
    #[arg(long, value_name = "FILE")]
    passwords: Option<PathBuf>,
    /// Shortest expiry accepted; below it: 423 Interval Too Brief.
    #[arg(long, default_value = "60s")]
    min_expires: Span,
    /// Longest expiry granted; longer requests are clamped.
    #[arg(long, default_value = "3600s")]
    max_expires: Span,
    /// Keepalive interval of the devices.
    #[arg(long, default_value = "60s")]
    heartbeat: Span,
    /// Missed keepalives after which a device counts as offline.
    #[arg(long, default_value_t = 3)]
    heartbeat_misses: u32,
    /// Challenge without qop=auth (plain RFC 2069-style digest).
    #[arg(long)]
    no_qop: bool,
    /// Answer MESSAGEs from unregistered devices with 200 instead of 403.
    #[arg(long)]
    allow_unregistered: bool,
    /// Redirect mode (GB28181-2022): answer authenticated REGISTERs with 302 to one of these,
    /// each `SERVERID@HOST:PORT`.
    #[arg(long, value_delimiter = ',', value_name = "ID@ADDR,...")]
    redirect_to: Vec<String>,
    /// Choose redirect targets round-robin instead of by a stable hash of the device ID.
    #[arg(long)]
    round_robin: bool,
    /// Lifetime of a digest nonce; older ones get 401 with stale=true.
    #[arg(long, default_value = "300s")]
    nonce_ttl: Span,
    /// Close TCP connections silent this long.
    #[arg(long, default_value = "120s")]
    tcp_idle: Span,
    /// Most TCP connections per worker.
    #[arg(long, default_value_t = 100_000)]
    max_connections: usize,
    /// Most half-open TCP connections (no complete message yet) per source address and
    /// worker.
    #[arg(long, default_value_t = 256)]
    max_half_open: usize,
    /// After a device's first registration, send it a Catalog query as platforms do, and
    /// count the Catalog answers.
    #[arg(long)]
    query_catalog: bool,
    /// Print a line of counters every second.
    #[arg(long)]
    stats: bool,
}

fn serve(args: ServeArgs) -> ExitCode {
    let bad = |key: &str, msg: String| {
        eprintln!("gbswarm serve: invalid `{key}`: {msg}");
        ExitCode::from(2)
    };
    let server_id: gbswarm::gb::DeviceId = match args.server_id.parse() {
        Ok(id) => id,
        Err(e) => return bad("server-id", e.to_string()),
    };
    let passwords = match &args.passwords {
        None => gbswarm::server::registrar::Passwords::Shared(args.password.clone()),
        Some(path) => match gbswarm::server::load_passwords(path) {
            Ok(m) => gbswarm::server::registrar::Passwords::PerDevice(m),
            Err(e) => return bad("passwords", e),
        },
    };
    let mut redirect = Vec::new();
    for t in &args.redirect_to {
        let parsed = t
            .split_once('@')
            .and_then(|(id, addr)| Some((id.parse().ok()?, addr.parse().ok()?)));
        match parsed {
            Some(p) => redirect.push(p),
            None => return bad("redirect-to", format!("`{t}` is not SERVERID@IP:PORT")),
        }
    }
    let cfg = gbswarm::server::ServeConfig {
        listen: args.listen,
        cores: args
            .cores
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        registrar: gbswarm::server::registrar::Config {
            server_id,
            realm: args
                .realm
                .clone()
                .unwrap_or_else(|| args.server_id[..10].to_string()),
            passwords,
            min_expires: args.min_expires.0.as_secs() as u32,
            max_expires: args.max_expires.0.as_secs() as u32,
            heartbeat_ms: args.heartbeat.0.as_millis() as u64,
            heartbeat_misses: args.heartbeat_misses,
            qop: !args.no_qop,
            allow_unregistered: args.allow_unregistered,
            redirect: (!redirect.is_empty()).then_some(gbswarm::server::registrar::Redirect {
                targets: redirect,
                round_robin: args.round_robin,
            }),
            nonce_ttl_s: args.nonce_ttl.0.as_secs(),
            query_catalog: args.query_catalog,
            via_host: String::new(),
        },
        tcp_idle: args.tcp_idle.0,
        tcp_partial: std::time::Duration::from_secs(10),
        max_connections: args.max_connections,
        max_half_open_per_source: args.max_half_open,
    };
    match gbswarm::runner::serve(cfg, args.stats) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gbswarm serve: {e}");
            ExitCode::from(1)
        }
    }
}

/// Flags of `gbswarm find-max`.
#[derive(clap::Args)]
struct FindMaxArgs {
    #[command(flatten)]
    run: RunArgs,
    /// What to grow: `rate` (registrations per second) or `fleet` (cameras online).
    #[arg(long, default_value = "rate", value_parser = parse_dimension)]
    by: gbswarm::findmax::Dimension,
    /// First load (registrations/s or cameras).
    #[arg(long, default_value_t = 1000.0)]
    start: f64,
    /// Growth per step until the first break.
    #[arg(long, default_value_t = 2.0)]
    factor: f64,
    /// Never try more than this load.
    #[arg(long, default_value_t = 1_000_000.0)]
    max: f64,
    /// Stop when the gap between held and broke is below this share of the held load.
    #[arg(long, default_value_t = 0.1)]
    precision: f64,
    /// Measured length of each step.
    #[arg(long, default_value = "10s")]
    step: Span,
    /// Unmeasured start of each step.
    #[arg(long, default_value = "2s")]
    warmup: Span,
    /// Objective: highest acceptable p99 latency.
    #[arg(long, default_value = "50ms")]
    max_p99: Span,
    /// Objective: highest acceptable share of failed transactions (timeouts always break).
    #[arg(long, default_value_t = 0.001)]
    max_failures: f64,
    /// At most this many steps.
    #[arg(long, default_value_t = 20)]
    max_steps: usize,
}

fn parse_dimension(s: &str) -> Result<gbswarm::findmax::Dimension, String> {
    match s {
        "rate" => Ok(gbswarm::findmax::Dimension::Rate),
        "fleet" => Ok(gbswarm::findmax::Dimension::Fleet),
        _ => Err(format!("`{s}` is not rate or fleet")),
    }
}

fn parse_transport(s: &str) -> Result<gbswarm::camera::Transport, String> {
    match s.to_ascii_lowercase().as_str() {
        "udp" => Ok(gbswarm::camera::Transport::Udp),
        "tcp" => Ok(gbswarm::camera::Transport::Tcp),
        _ => Err(format!("`{s}` is not a transport (use udp or tcp)")),
    }
}

impl RunArgs {
    fn into_profile(self) -> (Option<PathBuf>, Profile) {
        let p = Profile {
            target: self.target,
            server_id: self.server_id,
            domain: self.domain,
            password: self.password,
            id_prefix: self.id_prefix,
            first_id: self.first_id,
            cameras: self.cameras,
            transport: self.transport,
            rate: self.rate,
            burst: self.burst.then_some(true),
            duration: self.duration,
            expires: self.expires,
            heartbeat: self.heartbeat,
            heartbeat_misses: self.heartbeat_misses,
            retry_interval: self.retry_interval,
            retry_jitter: self.retry_jitter,
            refresh_at: self.refresh_at,
            channels: self.channels,
            catalog_page: self.catalog_page,
            fault_share: self.fault_share,
            cores: self.cores,
            cameras_per_socket: self.cameras_per_socket,
            local_ip: self.local_ip,
            no_unregister: self.no_unregister.then_some(true),
            grace: self.grace,
            json: self.json,
            hdr_log: self.hdr_log,
            shard: self.shard,
            report: self.report,
        };
        (self.profile, p)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Inspect { file, pretty } => inspect(&file, pretty),
        Command::Run(args) => run(*args),
        Command::FindMax(args) => find_max(*args),
        Command::Serve(args) => serve(*args),
        Command::Merge { reports, json } => match gbswarm::runner::merge(&reports, json.as_deref())
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gbswarm merge: {e}");
                ExitCode::from(1)
            }
        },
    }
}

/// Loads the profile and flags into a plan, or says why not (exit 2).
fn plan_of(args: RunArgs) -> Result<gbswarm::profile::Plan, ExitCode> {
    let (profile_path, flags) = args.into_profile();
    let base = match profile_path {
        Some(p) => Profile::load(&p).map_err(|e| {
            eprintln!("gbswarm: {e}");
            ExitCode::from(2)
        })?,
        None => Profile::default(),
    };
    base.overlay(flags).plan().map_err(|e| {
        eprintln!("gbswarm: {e}");
        ExitCode::from(2)
    })
}

fn find_max(args: FindMaxArgs) -> ExitCode {
    let base = match plan_of(args.run) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if !(0.0..=1.0).contains(&args.max_failures) {
        eprintln!(
            "gbswarm: invalid `max-failures`: {} is not a share between 0 and 1",
            args.max_failures
        );
        return ExitCode::from(2);
    }
    let search = gbswarm::findmax::Search {
        base,
        dimension: args.by,
        start: args.start,
        factor: args.factor,
        max: args.max,
        precision: args.precision,
        step: args.step.0,
        warmup: args.warmup.0,
        slo: gbswarm::findmax::Slo {
            max_p99: args.max_p99.0,
            max_failure_share: args.max_failures,
        },
        max_steps: args.max_steps,
    };
    match gbswarm::runner::find_max(&search) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gbswarm find-max: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: RunArgs) -> ExitCode {
    let plan = match plan_of(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match gbswarm::runner::run(&plan) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gbswarm run: {e}");
            ExitCode::from(1)
        }
    }
}

fn inspect(file: &PathBuf, pretty: bool) -> ExitCode {
    let input = if file.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b).map(|_| b)
    } else {
        std::fs::read(file)
    };
    let input = match input {
        Ok(b) => b,
        Err(e) => {
            eprintln!("gbswarm inspect: cannot read {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = gbswarm::inspect::inspect(&input, |v| {
        let s = if pretty {
            serde_json::to_string_pretty(&v)
        } else {
            serde_json::to_string(&v)
        };
        let _ = writeln!(out, "{}", s.unwrap_or_default());
    });
    match result {
        Ok(0) => {
            eprintln!("gbswarm inspect: no SIP message in the input");
            ExitCode::from(1)
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gbswarm inspect: error: {e}");
            ExitCode::from(1)
        }
    }
}
