//! `gbswarm serve`: the registrar's flags and how they become a [`ServeConfig`].

use super::Error;
use crate::gb::{DeviceId, GbVersion, MediaTransport};
use crate::net::listen::Conflict;
use crate::profile::Span;
use crate::server::ServeConfig;
use crate::server::play::PlayConfig;
use crate::server::registrar::{Config, Passwords, Redirect};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Flags of `gbswarm serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address for UDP and TCP, HOST:PORT (an IP address or a name such as localhost; port 0
    /// picks a free port). Refused when another process already holds the port, unless
    /// --reuse-port.
    #[arg(long, default_value = "127.0.0.1:5060", value_name = "HOST:PORT")]
    listen: String,
    /// Share the port with other processes that hold it with SO_REUSEPORT, such as other
    /// `gbswarm serve --reuse-port` processes: for running several serve processes on one
    /// port on purpose, the kernel spreading devices over them. Without it, a port another
    /// process holds is refused (exit status 3), since sharing it would silently take part of
    /// that process's traffic.
    #[arg(long)]
    reuse_port: bool,
    /// Worker threads, each pinned to a core counted from the last one down (a `gbswarm run`
    /// on the same machine pins from the first up, so one worker each never share a core)
    /// [default: all cores].
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
    /// A device file, the format `run --devices` reads (`device-id,password[,channels[,transport]]`
    /// or `device-id password` lines, `#` comments): only these devices may register, each with
    /// its own password (channels and transport are ignored here).
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
    /// Digest algorithms offered, in order of preference, one challenge each (md5, md5-sess,
    /// sha-256, sha-256-sess, sha-512-256, sha-512-256-sess); an answer with another is
    /// refused (403).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "md5",
        value_name = "ALG,..."
    )]
    digest: Vec<String>,
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
    /// Serve live Prometheus metrics at http://ADDR/metrics, updated every second: requests
    /// by method, responses by code, registered and online devices, keepalives, service time
    /// histogram and exact percentiles. HOST:PORT, or a bare port for loopback (9464 means
    /// 127.0.0.1:9464); port 0 picks a free one (the address is printed).
    #[arg(long, value_name = "[HOST:]PORT", value_parser = crate::metrics::parse_addr)]
    metrics: Option<SocketAddr>,
    /// The GB/T 28181 edition to answer as: every answer to a REGISTER carries `X-GB-Ver:
    /// 3.0` (2022) or `2.0` (2016), and queries declare GB18030 or GB2312. The editions the
    /// devices declared are counted either way.
    #[arg(long, value_name = "2016|2022", default_value = "2022", value_parser = parse_gb_version)]
    gb_version: GbVersion,
    #[command(flatten)]
    guard: super::guard_args::GuardArgs,
    /// Play live video as a platform does: INVITE the devices that register (each worker
    /// those it registered; over TCP down their connection), at --play-rate, with a wvp-shaped SDP offer and an SSRC
    /// from a pool (0, five digits of the realm, a sequence 0001-9999), hold each stream
    /// --play-hold, BYE it and play it again. Received PS-over-RTP is checked per stream
    /// (SSRC, sequence, 90 kHz timestamps, pack headers). No 200 within 10 s, or no RTP for
    /// 15 s, counts as a failure. Figures go to --stats, the summary and --metrics.
    #[arg(long)]
    play: bool,
    /// INVITEs per second, over all workers.
    #[arg(long, default_value_t = 10, requires = "play", value_name = "N")]
    play_rate: u32,
    /// How long each stream is held before the platform's BYE.
    #[arg(
        long,
        default_value = "30s",
        requires = "play",
        value_name = "DURATION"
    )]
    play_hold: Span,
    /// How the media travels: udp (RTP/AVP to the media port), tcp-passive (the platform
    /// listens on the media port and the device connects), tcp-active (the platform connects
    /// to the device's answered address); TCP is framed per RFC 4571.
    #[arg(long, default_value = "udp", requires = "play", value_name = "udp|tcp-passive|tcp-active", value_parser = parse_play_transport)]
    play_transport: MediaTransport,
    /// Most concurrent play sessions, over all workers.
    #[arg(long, default_value_t = 1000, requires = "play", value_name = "N")]
    play_max: usize,
    /// The UDP and TCP port media is received on, one for all streams (told apart by SSRC);
    /// worker i takes PORT+i. 0 picks a free port per worker.
    #[arg(long, default_value_t = 0, requires = "play", value_name = "PORT")]
    media_port: u16,
    #[command(flatten)]
    subscribe: super::subscribe_args::SubscribeArgs,
}

/// `udp`, `tcp-passive` or `tcp-active`.
fn parse_play_transport(s: &str) -> Result<MediaTransport, String> {
    match s.to_ascii_lowercase().as_str() {
        "udp" => Ok(MediaTransport::Udp),
        "tcp-passive" => Ok(MediaTransport::TcpPassive),
        "tcp-active" => Ok(MediaTransport::TcpActive),
        _ => Err(format!(
            "`{s}` is not a media transport (use udp, tcp-passive or tcp-active)"
        )),
    }
}

/// `2016` or `2022`.
pub(crate) fn parse_gb_version(s: &str) -> Result<GbVersion, String> {
    GbVersion::parse(s)
        .ok_or_else(|| format!("`{s}` is not a GB/T 28181 edition (use 2016 or 2022)"))
}

impl ServeArgs {
    /// The registrar configuration, or the first flag that cannot be used.
    pub fn config(&self) -> Result<ServeConfig, Error> {
        let bad = |key: &'static str, message: String| Error::Invalid {
            command: "serve",
            key,
            message,
        };
        let listen = crate::profile::resolve(&self.listen).map_err(|e| bad("listen", e))?;
        if self.min_expires.0 > self.max_expires.0 {
            return Err(bad(
                "min-expires",
                format!(
                    "--min-expires {} s is above --max-expires {} s: the shortest expiry accepted cannot exceed the longest granted",
                    self.min_expires.0.as_secs(),
                    self.max_expires.0.as_secs()
                ),
            ));
        }
        let server_id = self
            .server_id
            .parse::<DeviceId>()
            .map_err(|e| bad("server-id", e.to_string()))?;
        let passwords = match &self.passwords {
            None => Passwords::Shared(self.password.clone()),
            Some(path) => Passwords::PerDevice(
                crate::server::load_passwords(path).map_err(|e| bad("passwords", e))?,
            ),
        };
        let mut digest = Vec::new();
        for name in &self.digest {
            let alg = name
                .parse::<crate::sip::digest::Algorithm>()
                .map_err(|e| bad("digest", e))?;
            if !digest.contains(&alg) {
                digest.push(alg);
            }
        }
        if digest.is_empty() {
            return Err(bad("digest", "no algorithm given".into()));
        }
        let mut redirect = Vec::new();
        for t in &self.redirect_to {
            let parsed = t
                .split_once('@')
                .and_then(|(id, addr)| Some((id.parse().ok()?, addr.parse().ok()?)));
            match parsed {
                Some(p) => redirect.push(p),
                None => {
                    return Err(bad("redirect-to", format!("`{t}` is not SERVERID@IP:PORT")));
                }
            }
        }
        Ok(ServeConfig {
            listen,
            cores: self
                .cores
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            registrar: Config {
                server_id,
                realm: self
                    .realm
                    .clone()
                    .unwrap_or_else(|| self.server_id[..10].to_string()),
                passwords,
                min_expires: self.min_expires.0.as_secs() as u32,
                max_expires: self.max_expires.0.as_secs() as u32,
                heartbeat_ms: self.heartbeat.0.as_millis() as u64,
                heartbeat_misses: self.heartbeat_misses,
                qop: !self.no_qop,
                digest,
                allow_unregistered: self.allow_unregistered,
                redirect: (!redirect.is_empty()).then_some(Redirect {
                    targets: redirect,
                    round_robin: self.round_robin,
                }),
                nonce_ttl_s: self.nonce_ttl.0.as_secs(),
                query_catalog: self.query_catalog,
                via_host: String::new(),
                gb_version: self.gb_version,
                guard: self.guard.config(listen)?,
            },
            tcp_idle: self.tcp_idle.0,
            tcp_partial: std::time::Duration::from_secs(10),
            max_connections: self.max_connections,
            max_half_open_per_source: self.max_half_open,
        })
    }

    /// The play driver's configuration with `--play`, or the first flag that cannot be used.
    pub fn play_config(&self, listen: SocketAddr) -> Result<Option<PlayConfig>, Error> {
        if !self.play {
            return Ok(None);
        }
        let bad = |key: &'static str, message: String| Error::Invalid {
            command: "serve",
            key,
            message,
        };
        if listen.ip().is_unspecified() {
            return Err(bad(
                "listen",
                format!(
                    "--play needs a --listen address devices can reach, not {listen}: the INVITE's Via and Contact and the offer's c= name it"
                ),
            ));
        }
        if self.play_rate == 0 {
            return Err(bad(
                "play-rate",
                "--play-rate 0 would never INVITE: give at least 1 per second".into(),
            ));
        }
        if self.play_hold.0.is_zero() {
            return Err(bad(
                "play-hold",
                "--play-hold 0 would BYE every stream as it starts: give a duration such as 30s"
                    .into(),
            ));
        }
        if self.play_max == 0 {
            return Err(bad(
                "play-max",
                "--play-max 0 allows no stream: give at least 1".into(),
            ));
        }
        Ok(Some(PlayConfig {
            rate: self.play_rate,
            hold: crate::clock::Span::from_duration(self.play_hold.0),
            transport: self.play_transport,
            max_streams: self.play_max,
            media_port: self.media_port,
        }))
    }

    /// The subscribe driver's configuration with `--subscribe` or `--query`, or the first
    /// flag that cannot be used.
    pub fn subscribe_config(
        &self,
        listen: SocketAddr,
    ) -> Result<Option<crate::server::subscribe::SubscribeConfig>, Error> {
        self.subscribe.config(listen)
    }

    /// Runs the registrar until Ctrl-C / SIGTERM, then prints a summary. A port another
    /// process holds (without `--reuse-port`), or an address that cannot be bound, is an
    /// [`Error::CannotRun`].
    pub fn execute(self) -> Result<(), Error> {
        let cfg = self.config()?;
        let play = self.play_config(cfg.listen)?;
        let subs = self.subscribe_config(cfg.listen)?;
        claim(cfg.listen, self.reuse_port)?;
        let served = crate::runner::serve(cfg, play, subs, self.stats, self.metrics);
        Error::from_run("serve", served.map(|()| crate::runner::Ending::Held))
    }
}

/// Refuses `listen` when another process holds its port (see [`crate::net::listen::probe`]),
/// saying what to do.
fn claim(listen: SocketAddr, reuse_port: bool) -> Result<(), Error> {
    let port = listen.port();
    let message = match crate::net::listen::probe(listen, reuse_port) {
        Ok(()) => return Ok(()),
        Err(Conflict::Other(e)) => format!("cannot listen on {listen}: {e}"),
        Err(Conflict::Held {
            transports,
            joinable: true,
        }) => format!(
            "cannot listen on {listen}: {transports} port {port} is already held by another process (another `gbswarm serve`?), which would silently share its traffic with this one; stop it or choose another port with --listen, or give every serve process on this port --reuse-port to run them side by side on purpose"
        ),
        Err(Conflict::Held { transports, .. }) => format!(
            "cannot listen on {listen}: {transports} port {port} is already held by another process that does not share it{}; stop it or choose another port with --listen",
            if reuse_port {
                " (no SO_REUSEPORT), so --reuse-port cannot join it"
            } else {
                ""
            }
        ),
    };
    Err(Error::CannotRun {
        command: "serve",
        message,
    })
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command, Error, ServeArgs, run};
    use clap::Parser;

    fn args(args: &[&str]) -> Cli {
        Cli::try_parse_from(["gbswarm", "serve"].iter().chain(args))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn serve(a: &[&str]) -> Box<ServeArgs> {
        let Command::Serve(s) = args(a).command else {
            unreachable!()
        };
        s
    }

    #[test]
    fn expiry_bounds_the_wrong_way_round_are_refused_naming_both_flags() {
        let e = serve(&["--min-expires", "3600s", "--max-expires", "60s"])
            .config()
            .unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            "gbswarm serve: invalid `min-expires`: --min-expires 3600 s is above --max-expires 60 s: the shortest expiry accepted cannot exceed the longest granted"
        );
        let cfg = serve(&["--min-expires", "60s", "--max-expires", "60s"])
            .config()
            .unwrap();
        assert_eq!(
            (cfg.registrar.min_expires, cfg.registrar.max_expires),
            (60, 60)
        );
    }

    #[test]
    fn digest_takes_algorithms_in_order() {
        use crate::sip::digest::Algorithm;
        let cfg = serve(&[]).config().unwrap();
        assert_eq!(cfg.registrar.digest, [Algorithm::MD5]);
        let cfg = serve(&["--digest", "sha-256,MD5,sha-256"])
            .config()
            .unwrap();
        assert_eq!(cfg.registrar.digest, [Algorithm::SHA256, Algorithm::MD5]);
        let cfg = serve(&["--digest", "SHA-512-256-sess"]).config().unwrap();
        assert_eq!(cfg.registrar.digest, [Algorithm::SHA512_256_SESS]);
        let e = serve(&["--digest", "md5,sha-1"]).config().unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string().starts_with(
                "gbswarm serve: invalid `digest`: `sha-1` is not a digest algorithm gbswarm supports (MD5, MD5-sess, SHA-256"
            ),
            "{e}"
        );
    }

    #[test]
    fn play_flags_are_validated_and_need_play() {
        let s = serve(&[
            "--play",
            "--play-rate",
            "5",
            "--play-hold",
            "2s",
            "--play-transport",
            "tcp-active",
            "--media-port",
            "30000",
        ]);
        let cfg = s.config().unwrap();
        let p = s.play_config(cfg.listen).unwrap().unwrap();
        assert_eq!(
            (
                p.rate,
                p.hold.as_millis(),
                p.transport,
                p.max_streams,
                p.media_port
            ),
            (5, 2000, crate::gb::MediaTransport::TcpActive, 1000, 30000)
        );
        assert!(serve(&[]).play_config(cfg.listen).unwrap().is_none());
        for (flags, text) in [
            (&["--play", "--play-rate", "0"][..], "invalid `play-rate`"),
            (&["--play", "--play-hold", "0s"], "invalid `play-hold`"),
            (&["--play", "--play-max", "0"], "invalid `play-max`"),
            (
                &["--play", "--listen", "0.0.0.0:5060"],
                "invalid `listen`: --play needs",
            ),
        ] {
            let s = serve(flags);
            let e = s.play_config(s.config().unwrap().listen).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains(text), "{e}");
        }
        for flags in [
            &["--play-rate", "5"][..],
            &["--play", "--play-transport", "sctp"],
        ] {
            let e = Cli::try_parse_from(["gbswarm", "serve"].iter().chain(flags)).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{flags:?}");
        }
    }

    #[test]
    fn listen_takes_a_host_name() {
        let cfg = serve(&["--listen", "localhost:5060"]).config().unwrap();
        assert_eq!(cfg.listen, "127.0.0.1:5060".parse().unwrap());
        let e = serve(&["--listen", "localhost"]).config().unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string()
                .starts_with("gbswarm serve: invalid `listen`: `localhost` is not"),
            "{e}"
        );
    }

    #[test]
    fn a_port_another_server_holds_is_refused_with_exit_3() {
        // Another server's SO_REUSEPORT sockets, held by this test until it ends.
        let (addr, held) = crate::net::listen::bind("127.0.0.1:0".parse().unwrap(), 1).unwrap();
        let e = run(args(&["--listen", &addr.to_string()])).unwrap_err();
        assert!(
            matches!(
                e,
                Error::CannotRun {
                    command: "serve",
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(e.exit_code(), 3);
        assert_eq!(
            e.to_string(),
            format!(
                "gbswarm serve: could not run: cannot listen on {addr}: UDP and TCP port {} is already held by another process (another `gbswarm serve`?), which would silently share its traffic with this one; stop it or choose another port with --listen, or give every serve process on this port --reuse-port to run them side by side on purpose",
                addr.port()
            )
        );
        drop(held);

        // A holder that does not share its port cannot be joined even with --reuse-port.
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = udp.local_addr().unwrap().to_string();
        let e = run(args(&["--listen", &addr, "--reuse-port"])).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        let text = e.to_string();
        assert!(
            text.contains("UDP")
                && text.contains(
                    "does not share it (no SO_REUSEPORT), so --reuse-port cannot join it"
                ),
            "{text}"
        );
    }
}
