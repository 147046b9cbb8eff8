//! `gbswarm run`: its flags, which mirror the profile keys, and how they become a [`Plan`].

use super::Error;
use crate::camera::Transport;
use crate::profile::{Plan, PlanError, Profile, Span};
use clap::builder::BoolishValueParser;
use std::path::PathBuf;

/// Flags of `gbswarm run`; each mirrors a profile key, except `--metrics` (where this process
/// serves its live metrics is not part of the load).
#[derive(Debug, clap::Args)]
pub struct RunArgs {
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
    /// Per-device identities: a CSV file of `device-id,password[,channels[,transport]]` rows
    /// (`#` comments; the format `serve --passwords` reads), one camera per row with its own
    /// ID and password (and channel count and transport where given), in place of --id-prefix,
    /// --first-id and --password; --cameras N takes the first N rows; --shard splits the rows.
    #[arg(long, value_name = "FILE")]
    devices: Option<PathBuf>,
    /// Number of cameras [default: 100; with --devices, every row].
    #[arg(long, short = 'n', value_name = "N")]
    cameras: Option<u64>,
    /// Transport: udp or tcp [default: udp].
    #[arg(long, value_parser = parse_transport)]
    transport: Option<Transport>,
    /// New registrations per second during the ramp-up [default: 100]. Given here, it also
    /// turns off a profile's `burst = true` (flags win over the profile); with --burst it is
    /// refused.
    #[arg(long, value_name = "PER_SEC")]
    rate: Option<f64>,
    /// Start every camera at once (a flash crowd after a platform restart). --burst=false
    /// (or --no-burst) turns a profile's `burst = true` off.
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    burst: Option<bool>,
    /// Ramp up at the rate even if the profile says `burst = true` (same as --burst=false).
    #[arg(long, conflicts_with = "burst")]
    no_burst: bool,
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
    /// What channels are called in Catalog answers: this text and the channel number, in the
    /// charset of --gb-version (e.g. 摄像机) [default: Camera].
    #[arg(long, value_name = "TEXT")]
    channel_name: Option<String>,
    /// The GB/T 28181 edition the cameras follow: 2016, or 2022 (`X-GB-Ver: 3.0` on every
    /// REGISTER, GB18030 bodies instead of GB2312) [default: 2016].
    #[arg(long, value_name = "2016|2022")]
    gb_version: Option<u16>,
    /// Most Catalog items per answer message [default: 20].
    #[arg(long, value_name = "N")]
    catalog_page: Option<u32>,
    /// Channel flaps per device an hour (decimals allowed): each flap takes one of the device's
    /// channels off line and brings it back half a period later, as Catalog answers and the
    /// Catalog NOTIFYs of a subscription report [default: 0, never].
    #[arg(long, value_name = "PER_HOUR")]
    channel_flap_rate: Option<f64>,
    /// Length of the synthetic recordings a RecordInfo answer lists: contiguous segments of
    /// this length per channel, clipped to the asked range [default: 30m].
    #[arg(long, value_name = "SPAN")]
    record_segment: Option<Span>,
    /// How long a device stays down after a TeleBoot (it unregisters at once) before it
    /// registers again [default: 10s].
    #[arg(long, value_name = "SPAN")]
    reboot_delay: Option<Span>,
    /// Share of cameras reporting a faulty sub-device in keepalives [default: 0].
    #[arg(long, value_name = "SHARE")]
    fault_share: Option<f64>,
    /// Alarms per device an hour (decimals allowed), each device evenly in turn from the run's
    /// start: a NOTIFY in each Alarm subscription of the device, else a MESSAGE
    /// `<Notify><CmdType>Alarm</CmdType>` to its registrar [default: 0, none].
    #[arg(long, value_name = "PER_HOUR")]
    alarm_rate: Option<f64>,
    /// An alarm storm: every device raises N alarms at once, T after the run's start (`5@30s`
    /// or `"5 at 30s"`); sent like --alarm-rate's [default: none].
    #[arg(long, value_name = "N@T")]
    alarm_burst: Option<String>,
    /// Worker threads, one per core, pinned from the first core up (the embedded registrar, like
    /// `gbswarm serve`, takes the last core) [default: all cores].
    #[arg(long, value_name = "N")]
    cores: Option<usize>,
    /// Cameras sharing one UDP socket; 1 gives each its own source port, like real devices
    /// [default: 1]. A request on a shared socket goes to the camera its Request-URI names,
    /// by device ID or by one of the device's channel IDs.
    #[arg(long, value_name = "N")]
    cameras_per_socket: Option<u32>,
    /// Live video streams each device serves at once; an INVITE beyond them is answered 486
    /// Busy Here, as an NVR at its cap would [default: 1].
    #[arg(long, value_name = "N")]
    max_streams: Option<u32>,
    /// The H.264/H.265 Annex-B elementary stream every live stream loops (PS over RTP/UDP)
    /// [default: a built-in 2 s H.264 test clip].
    #[arg(long, value_name = "FILE")]
    media: Option<PathBuf>,
    /// Codec of the --media file: h264 or h265 [default: h264].
    #[arg(long, value_name = "h264|h265")]
    media_codec: Option<String>,
    /// Frame rate the clip is sent at [default: 25].
    #[arg(long, value_name = "N")]
    fps: Option<u32>,
    /// Send UDP media one datagram per RTP packet (a sendmmsg batch) instead of one UDP
    /// segmentation-offload (GSO) send per frame; for comparing the two (GSO falls back to
    /// this by itself on a kernel without it).
    #[arg(long)]
    no_gso: bool,
    /// The SSRC cameras stream with and answer in `y=`: `offered` (the offer's) or `own` (one
    /// of the camera's own per session, which the platform must adopt) [default: offered].
    #[arg(long, value_name = "offered|own")]
    answer_ssrc: Option<String>,
    /// Source addresses to spread sockets over: a list or a range like 127.0.0.1-127.0.0.8.
    #[arg(long, value_name = "IPS", num_args = 1.., value_delimiter = ',')]
    local_ip: Option<Vec<String>>,
    /// Do not unregister the cameras when stopping. --no-unregister=false (or --unregister)
    /// turns a profile's `no-unregister = true` off.
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    no_unregister: Option<bool>,
    /// Unregister the cameras when stopping even if the profile says `no-unregister = true`
    /// (same as --no-unregister=false).
    #[arg(long, conflicts_with = "no_unregister")]
    unregister: bool,
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
    /// Stream one CSV row per second per kind (outcome counts, p50/p90/p99/max, in flight,
    /// online), flushed every second, so a killed run keeps every finished second.
    #[arg(long, value_name = "FILE.csv")]
    csv: Option<PathBuf>,
    /// An objective the run must meet, repeatable: `[KIND.][CLOCK.]METRIC OP VALUE`, e.g.
    /// `register.p99<=50ms`, `failures<=0.1%`, `timeouts==0`, `keepalive.service.p99<20ms`.
    /// KIND: register, refresh, unregister, keepalive, query_response, invite, bye, notify,
    /// alarm (none = all
    /// together);
    /// CLOCK: latency (from the due time, default), service (send to answer), lag (due to
    /// send); METRIC: p50 p90 p95 p99 p99.9 max mean (a duration: 800us, 50ms, 2s) or sent ok
    /// failures rejected timeouts transport_errors redirected pending (a count, or a share of
    /// sent: 0.1%); OP: <= < >= > ==. Adds to the profile's `slo` list (replacing one on the
    /// same metric). Without any: `register.failures==0`, `timeouts==0`, `register.ok>=1`.
    #[arg(long, value_name = "OBJECTIVE")]
    slo: Vec<String>,
    /// Serve live Prometheus metrics at http://ADDR/metrics, updated every second: cameras
    /// by state, transactions by kind and outcome, in flight, retransmissions, latency
    /// histograms and exact percentiles. HOST:PORT, or a bare port for loopback (9464 means
    /// 127.0.0.1:9464); port 0 picks a free one (the address is printed). Not a profile key.
    #[arg(long, value_name = "[HOST:]PORT", value_parser = crate::metrics::parse_addr)]
    pub(super) metrics: Option<std::net::SocketAddr>,
}

impl RunArgs {
    /// The plan to run: the `--profile` file (if any) with these flags laid over it, validated.
    pub fn plan(self) -> Result<Plan, Error> {
        if let (Some(true), Some(rate)) = (self.burst, self.rate) {
            return Err(Error::Plan(PlanError {
                key: "rate".into(),
                message: format!(
                    "--rate {rate} and --burst contradict each other (--burst starts every camera at once): give one"
                ),
            }));
        }
        let (profile_path, flags) = self.into_profile();
        let base = match profile_path {
            Some(p) => Profile::load(&p)?,
            None => Profile::default(),
        };
        Ok(base.overlay(flags).plan()?)
    }

    /// Runs the cameras against the target (or the embedded registrar) and prints the report.
    pub fn execute(self) -> Result<(), Error> {
        let metrics = self.metrics;
        let plan = self.plan()?;
        Error::from_run("run", crate::runner::run(&plan, metrics))
    }

    /// The `--profile` path, and the flags as a profile to lay over it.
    fn into_profile(self) -> (Option<PathBuf>, Profile) {
        let p = Profile {
            target: self.target,
            server_id: self.server_id,
            domain: self.domain,
            password: self.password,
            id_prefix: self.id_prefix,
            first_id: self.first_id,
            devices: self.devices,
            cameras: self.cameras,
            transport: self.transport,
            rate: self.rate,
            // A rate given as a flag overrides a profile's burst, as flags override keys.
            burst: if self.no_burst {
                Some(false)
            } else {
                self.burst.or(self.rate.map(|_| false))
            },
            duration: self.duration,
            expires: self.expires,
            heartbeat: self.heartbeat,
            heartbeat_misses: self.heartbeat_misses,
            retry_interval: self.retry_interval,
            retry_jitter: self.retry_jitter,
            refresh_at: self.refresh_at,
            channels: self.channels,
            channel_name: self.channel_name,
            gb_version: self.gb_version,
            catalog_page: self.catalog_page,
            channel_flap_rate: self.channel_flap_rate,
            record_segment: self.record_segment,
            reboot_delay: self.reboot_delay,
            fault_share: self.fault_share,
            alarm_rate: self.alarm_rate,
            alarm_burst: self.alarm_burst,
            cores: self.cores,
            cameras_per_socket: self.cameras_per_socket,
            max_streams: self.max_streams,
            media: self.media,
            media_codec: self.media_codec,
            fps: self.fps,
            no_gso: self.no_gso.then_some(true),
            answer_ssrc: self.answer_ssrc,
            local_ip: self.local_ip,
            no_unregister: if self.unregister {
                Some(false)
            } else {
                self.no_unregister
            },
            grace: self.grace,
            json: self.json,
            hdr_log: self.hdr_log,
            shard: self.shard,
            report: self.report,
            csv: self.csv,
            slo: (!self.slo.is_empty()).then_some(self.slo),
        };
        (self.profile, p)
    }
}

fn parse_transport(s: &str) -> Result<Transport, String> {
    match s.to_ascii_lowercase().as_str() {
        "udp" => Ok(Transport::Udp),
        "tcp" => Ok(Transport::Tcp),
        _ => Err(format!("`{s}` is not a transport (use udp or tcp)")),
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use crate::profile::{Plan, Ramp};
    use clap::Parser;

    fn plan(args: &[&str]) -> Result<Plan, crate::cli::Error> {
        let cli = Cli::try_parse_from(["gbswarm", "run"].iter().chain(args))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let Command::Run(run) = cli.command else {
            unreachable!()
        };
        run.plan()
    }

    fn profile(name: &str, text: &str) -> String {
        let path = std::env::temp_dir().join(format!("gbswarm-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }

    #[test]
    fn flags_turn_a_profiles_booleans_off() {
        let crowd = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/flash-crowd.toml");
        assert_eq!(plan(&["--profile", crowd]).unwrap().ramp, Ramp::Burst);
        for off in [&["--no-burst"][..], &["--burst=false"], &["--burst=no"]] {
            let args = [&["--profile", crowd][..], off].concat();
            assert_eq!(plan(&args).unwrap().ramp, Ramp::Rate(100.0), "{off:?}");
        }
        // A rate on the command line wins over the profile's burst, as every flag does.
        let p = plan(&["--profile", crowd, "--rate", "250"]).unwrap();
        assert_eq!(
            (p.ramp, p.stop_ramp),
            (Ramp::Rate(250.0), Ramp::Rate(250.0))
        );
        assert_eq!(plan(&["--burst"]).unwrap().ramp, Ramp::Burst);
        assert_eq!(plan(&["--burst=true"]).unwrap().ramp, Ramp::Burst);

        let keep = profile("keep.toml", "no-unregister = true\n");
        assert!(
            !plan(&["--profile", &keep])
                .unwrap()
                .camera
                .unregister_on_stop
        );
        for on in ["--unregister", "--no-unregister=false"] {
            let p = plan(&["--profile", &keep, on]).unwrap();
            assert!(p.camera.unregister_on_stop, "{on}");
        }
        assert!(
            !plan(&["--no-unregister"])
                .unwrap()
                .camera
                .unregister_on_stop
        );
        std::fs::remove_file(keep).unwrap();
    }

    #[test]
    fn contradictory_ramp_flags_are_refused_with_exit_2() {
        let e = plan(&["--burst", "--rate", "5"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            "gbswarm: invalid `rate`: --rate 5 and --burst contradict each other (--burst starts every camera at once): give one"
        );
        for args in [
            &["run", "--burst", "--no-burst"][..],
            &["run", "--unregister", "--no-unregister"],
            &["run", "--burst=maybe"],
        ] {
            let e = Cli::try_parse_from(std::iter::once("gbswarm").chain(args.iter().copied()))
                .unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}");
        }
    }
}
