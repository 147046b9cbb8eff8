//! `gbswarm serve` in the foreground: says where it listens, a counters line each second and
//! live Prometheus metrics if asked, a summary at the end.

use super::Failure;

/// `gbswarm serve` until Ctrl-C / SIGTERM: says where it listens, optionally a counters line
/// each second and metrics on `metrics` (updated each second), a summary at the end with the
/// process's CPU time (user and system, from `getrusage`). With `play` and `subs` the play and
/// subscribe drivers run too, with lines of their own. A registrar or a metrics address that
/// cannot bind could not run.
pub fn serve(
    cfg: crate::server::ServeConfig,
    play: Option<crate::server::play::PlayConfig>,
    subs: Option<crate::server::subscribe::SubscribeConfig>,
    every_second: bool,
    metrics: Option<std::net::SocketAddr>,
) -> Result<(), Failure> {
    let interrupt = super::interrupt::flag().map_err(Failure::Failed)?;
    let listen = cfg.listen;
    let cores = cfg.cores;
    let realm = cfg.registrar.realm.clone();
    let edition = cfg.registrar.gb_version;
    let guard = cfg.registrar.guard.to_string();
    let algorithms: Vec<&str> = cfg
        .registrar
        .algorithms()
        .iter()
        .map(|a| a.name())
        .collect();
    let mode = match &cfg.registrar.passwords {
        crate::server::registrar::Passwords::Shared(_) => "one shared password".to_string(),
        crate::server::registrar::Passwords::PerDevice(m) => {
            format!("{} device passwords", m.len())
        }
    };
    // Every TCP device holds a descriptor: take all the kernel allows.
    let nofile = crate::net::limits::raise_nofile();
    // Bound before the registrar starts, so a metrics address that cannot be used stops
    // nothing half-started.
    let metrics = metrics
        .map(|addr| {
            crate::metrics::serve::ServeMetrics::start(addr)
                .map_err(|e| Failure::CannotRun(format!("cannot serve metrics on {addr}: {e}")))
        })
        .transpose()?;
    let cpu0 = crate::stats::CpuTime::now();
    let play_line = play.as_ref().map(|p| {
        format!(
            "gbswarm serve: playing registered devices, {} INVITE/s, hold {} ms, {} media, at most {} streams",
            p.rate,
            p.hold.as_millis(),
            match p.transport {
                crate::gb::MediaTransport::Udp => "UDP",
                crate::gb::MediaTransport::TcpPassive => "TCP passive",
                crate::gb::MediaTransport::TcpActive => "TCP active",
            },
            p.max_streams
        )
    });
    let subs_line = subs.as_ref().map(subscribing_line);
    // Which summary lines to print: subscriptions, queries.
    let subs_shown = subs
        .as_ref()
        .map(|s| (!s.kinds.is_empty(), !s.queries.is_empty()));
    let started = std::time::Instant::now();
    let handle = crate::server::start_platform(cfg, play, subs)
        .map_err(|e| Failure::CannotRun(format!("cannot listen on {listen}: {e}")))?;
    eprintln!(
        "gbswarm serve: listening on {} (UDP and TCP{}), {cores} worker(s), realm {realm}, digest {}, {mode}, GB/T 28181-{} (X-GB-Ver {}), up to {nofile} descriptors, {guard}",
        handle.local_addr(),
        if handle.local_addr().ip().is_loopback() {
            ", loopback only"
        } else {
            ""
        },
        algorithms.join(", "),
        edition.year(),
        String::from_utf8_lossy(edition.header_value())
    );
    if let Some(l) = &play_line {
        eprintln!("{l}");
    }
    if let Some(l) = &subs_line {
        eprintln!("{l}");
    }
    if let Some(m) = &metrics {
        eprintln!(
            "gbswarm serve: metrics on http://{}/metrics (Prometheus text, updated every second)",
            m.local_addr()
        );
    }
    let mut last = crate::server::registrar::Stats::default();
    let mut last_play = crate::server::play::stats::PlayStats::default();
    let mut last_subs = crate::server::subscribe::stats::SubStats::default();
    let mut last_at = std::time::Instant::now();
    while !interrupt.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_secs(1));
        if metrics.is_none() && !every_second {
            continue;
        }
        let (st, (registered, online)) = handle.stats();
        let play_st = handle.play_stats();
        let subs_st = handle.sub_stats();
        if let Some(m) = &metrics {
            m.update(
                &st,
                (registered, online),
                play_st.as_ref(),
                subs_st.as_ref(),
            );
        }
        let span = last_at.elapsed();
        if let (true, Some(p)) = (every_second, &play_st) {
            eprintln!("{}", super::serve_play::interval_line(p, &last_play, span));
            last_play = p.clone();
            last_at = std::time::Instant::now();
        }
        if let (true, Some(s), Some((subscribing, querying))) = (every_second, &subs_st, subs_shown)
        {
            if subscribing {
                eprintln!("{}", super::serve_subscribe::subscribe_line(s, &last_subs));
            }
            if querying {
                eprintln!("{}", super::serve_subscribe::query_line(s, &last_subs));
            }
            last_subs = s.clone();
        }
        if every_second {
            let reqs: u64 = st.requests.iter().sum::<u64>() - last.requests.iter().sum::<u64>();
            eprintln!(
                "registered {registered} online {online} | requests/s {reqs} (REGISTER {} MESSAGE {}) | 200 {} 401 {} 403 {} | dropped {} replays {} | auth failures {} bans {}+{} refused banned {} rate-limited {} | service p50 {} µs p99 {} µs",
                st.requests[0] - last.requests[0],
                st.requests[1] - last.requests[1],
                st.response(200),
                st.response(401),
                st.response(403),
                st.dropped_malformed,
                st.replays,
                st.auth_failures,
                st.bans[0],
                st.bans[1],
                st.refused_banned.iter().sum::<u64>(),
                st.rate_limited,
                st.service_us.value_at_quantile(0.5),
                st.service_us.value_at_quantile(0.99)
            );
            last = st;
        }
    }
    let (_, (registered, online)) = handle.stats();
    let evictions = handle.guard().evictions();
    let (st, play_st, subs_st) = handle.stop_every();
    let codes: Vec<String> = st
        .responses
        .iter()
        .map(|(c, n)| format!("{c}:{n}"))
        .collect();
    let digest: Vec<String> = crate::sip::digest::Algorithm::ALL
        .iter()
        .filter(|a| st.digest_answers(**a) > 0)
        .map(|a| format!("{a}:{}", st.digest_answers(*a)))
        .collect();
    println!(
        "gbswarm serve: {} requests (REGISTER {}, MESSAGE {}, OPTIONS {}, other {}); responses {}; registrations {}, unregistrations {}, keepalives {}, redirects {}; digest answers {}; catalog queries {} answered {} ({} items); REGISTER X-GB-Ver: {}; dropped malformed {}, replays {}, refused connections {}; auth failures {}, bans device {} source {}, refused while banned device {} source {}, rate-limited {}, guard table evictions {evictions}; service time p50 {} µs p99 {} µs max {} µs; {registered} registered, {online} online at exit",
        st.requests.iter().sum::<u64>(),
        st.requests[0],
        st.requests[1],
        st.requests[2],
        st.requests[3],
        codes.join(" "),
        st.registrations,
        st.unregistrations,
        st.keepalives,
        st.redirects,
        if digest.is_empty() {
            "none".to_string()
        } else {
            digest.join(" ")
        },
        st.queries_sent,
        st.catalog_responses,
        st.catalog_items,
        st.gb_versions_text(),
        st.dropped_malformed,
        st.replays,
        st.refused_connections,
        st.auth_failures,
        st.bans[0],
        st.bans[1],
        st.refused_banned[0],
        st.refused_banned[1],
        st.rate_limited,
        st.service_us.value_at_quantile(0.5),
        st.service_us.value_at_quantile(0.99),
        st.service_us.max()
    );
    if let Some(p) = &play_st {
        println!("{}", super::serve_play::summary(p, started.elapsed()));
    }
    if let (Some(s), Some((subscribing, querying))) = (&subs_st, subs_shown) {
        if subscribing {
            println!("{}", super::serve_subscribe::subscribe_summary(s));
        }
        if querying {
            println!("{}", super::serve_subscribe::query_summary(s));
        }
    }
    let cpu = crate::stats::CpuTime::now().since(&cpu0);
    let requests = st.requests.iter().sum::<u64>();
    println!(
        "gbswarm serve: cpu {:.3} s (user {:.3}, system {:.3}), {:.1} µs per request",
        cpu.total().as_secs_f64(),
        cpu.user.as_secs_f64(),
        cpu.system.as_secs_f64(),
        cpu.total().as_secs_f64() * 1e6 / requests.max(1) as f64
    );
    Ok(())
}

/// The start-up line of the subscribe driver: what it subscribes to and queries, how fast.
fn subscribing_line(s: &crate::server::subscribe::SubscribeConfig) -> String {
    use crate::gb::subscribe::EventKind;
    let mut parts = Vec::new();
    if !s.kinds.is_empty() {
        let kinds: Vec<String> = s
            .kinds
            .iter()
            .map(|k| match k {
                EventKind::MobilePosition => format!("{} every {} s", k.name(), s.interval_s),
                _ => k.name().to_string(),
            })
            .collect();
        parts.push(format!(
            "subscribing registered devices to {}, {} SUBSCRIBE/s, expires {} s",
            kinds.join(", "),
            s.rate,
            s.expires_s
        ));
    }
    if !s.queries.is_empty() {
        let kinds: Vec<&str> = s.queries.iter().map(|k| k.name()).collect();
        parts.push(format!(
            "querying {} at {} query/s (record-info over the last {} s)",
            kinds.join(", "),
            s.query_rate,
            s.query_span.as_secs()
        ));
    }
    format!("gbswarm serve: {}", parts.join("; "))
}
