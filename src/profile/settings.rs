//! A [`Plan`] as the settings a report shows: (key, value) pairs named like the profile keys,
//! with values written the way a profile or a flag takes them (`60s`, `0.85`, `udp`), defaults
//! included, so a reader sees every setting a run had and can repeat it.

use super::{Plan, Ramp};

/// A duration in milliseconds in profile syntax: `1h`, `5m`, `20s` or `500ms`.
fn span_ms(ms: u64) -> String {
    match ms {
        0 => "0s".into(),
        _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
        _ => format!("{ms}ms"),
    }
}

/// Thousandths as a share: 850 → `0.85`.
fn share(permille: u32) -> String {
    format!("{}", f64::from(permille) / 1000.0)
}

fn ramp(r: Ramp) -> String {
    match r {
        Ramp::Rate(r) => format!("{r}"),
        Ramp::Burst => "burst".into(),
    }
}

fn slo(objectives: &[crate::verdict::Objective]) -> String {
    objectives
        .iter()
        .map(|o| o.text.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Flaps per device an hour, as `--channel-flap-rate` takes them (0: never).
fn flap_rate(f: &crate::camera::channels::Flap) -> String {
    match f.period.as_micros() {
        0 => "0".into(),
        us => format!("{}", 3_600_000_000.0 / us as f64),
    }
}

/// Alarms per device an hour, as `--alarm-rate` takes them (0: none).
fn alarm_rate(a: &crate::camera::subscribe::Alarms) -> String {
    match a.period.as_micros() {
        0 => "0".into(),
        us => format!("{}", 3_600_000_000.0 / us as f64),
    }
}

fn path(p: &Option<std::path::PathBuf>) -> String {
    p.as_ref()
        .map_or_else(|| "none".into(), |p| p.display().to_string())
}

/// Every setting of `plan` as (profile key, value), in the order of the README's flag table.
/// The password is not shown (a report travels further than the profile). Keys without a
/// profile equivalent: `ids` (the first and last camera ID, which `id-prefix`, `first-id`
/// and `shard` resolved to) and `stop-rate` (only when the stop is paced unlike the ramp).
pub fn of(plan: &Plan) -> Vec<(String, String)> {
    // Exhaustive, so a new field of the plan cannot be left out of the reports.
    let Plan {
        target,
        camera,
        ids,
        ramp: start,
        stop_ramp,
        duration,
        grace,
        cores,
        cameras_per_socket,
        local_ips,
        json,
        hdr_log,
        shard,
        report,
        csv,
        objectives,
        video,
    } = plan;
    let c = camera;
    let id = |i: u64| {
        ids.get(i)
            .map_or_else(String::new, |d| d.as_str().to_string())
    };
    let mut s: Vec<(&str, String)> = vec![
        (
            "target",
            target.map_or_else(|| "embedded registrar".into(), |t| t.to_string()),
        ),
        ("cameras", ids.len().to_string()),
        (
            "ids",
            format!("{} to {}", id(0), id(ids.len().saturating_sub(1))),
        ),
        (
            "shard",
            shard.map_or_else(|| "none".into(), |(k, n)| format!("{k}/{n}")),
        ),
        ("server-id", c.server_id.as_str().to_string()),
        ("domain", c.domain.clone()),
        (
            "devices",
            ids.devices().map_or_else(
                || "none".into(),
                |d| format!("{} rows of a device file (passwords not shown)", d.len()),
            ),
        ),
        (
            "password",
            if ids.devices().is_some() {
                "(one per device, not shown)".into()
            } else {
                "(not shown)".into()
            },
        ),
        ("transport", plan.transport_label()),
        ("gb-version", c.gb_version.year().to_string()),
        ("rate", ramp(*start)),
        ("burst", matches!(start, Ramp::Burst).to_string()),
        ("duration", span_ms(duration.as_millis() as u64)),
        ("grace", span_ms(grace.as_millis() as u64)),
        ("expires", span_ms(u64::from(c.expires) * 1000)),
        ("refresh-at", share(c.refresh_permille)),
        ("heartbeat", span_ms(c.heartbeat_ms)),
        ("heartbeat-misses", c.heartbeat_misses.to_string()),
        ("retry-interval", span_ms(c.retry_interval_ms)),
        ("retry-jitter", share(c.retry_jitter_permille)),
        ("channels", c.channels.to_string()),
        ("channel-name", c.channel_name.clone()),
        ("catalog-page", c.catalog_page.to_string()),
        ("channel-flap-rate", flap_rate(&c.channel_flap)),
        (
            "record-segment",
            span_ms(u64::from(c.record_segment_s) * 1000),
        ),
        ("reboot-delay", span_ms(c.reboot_delay_ms)),
        ("fault-share", share(c.fault_permille)),
        ("alarm-rate", alarm_rate(&c.alarms)),
        (
            "alarm-burst",
            c.alarms.burst.map_or_else(
                || "none".into(),
                |b| format!("{}@{}", b.count, span_ms(b.at.as_millis())),
            ),
        ),
        ("cores", cores.to_string()),
        ("cameras-per-socket", cameras_per_socket.to_string()),
        ("max-streams", video.max_streams.to_string()),
        ("media", video.source.clone()),
        ("fps", video.clip.fps().to_string()),
        (
            "local-ip",
            if local_ips.is_empty() {
                "the route's".into()
            } else {
                local_ips
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ),
        ("no-unregister", (!c.unregister_on_stop).to_string()),
        ("json", path(json)),
        ("hdr-log", path(hdr_log)),
        ("report", path(report)),
        ("csv", path(csv)),
        (
            "slo",
            if objectives.is_empty() {
                format!(
                    "{} (the defaults)",
                    slo(&crate::verdict::or_default(objectives))
                )
            } else {
                slo(objectives)
            },
        ),
    ];
    if stop_ramp != start {
        s.push(("stop-rate", ramp(*stop_ramp)));
    }
    s.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    fn value<'a>(s: &'a [(String, String)], key: &str) -> &'a str {
        s.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no `{key}` in {s:?}"))
    }

    #[test]
    fn every_setting_is_listed_in_profile_syntax_with_defaults() {
        let plan: Profile = toml::from_str(
            r#"
                cameras = 100
                shard = "1/3"
                rate = 250.5
                duration = "5m"
                heartbeat = "500ms"
                refresh-at = 0.5
                local-ip = ["127.0.0.1-127.0.0.2"]
                password = "secret"
                json = "/tmp/out.json"
            "#,
        )
        .unwrap();
        let s = of(&plan.plan().unwrap());
        for (key, want) in [
            ("target", "embedded registrar"),
            ("cameras", "33"),
            ("ids", "34020000001320000035 to 34020000001320000067"),
            ("shard", "1/3"),
            ("transport", "udp"),
            ("rate", "250.5"),
            ("burst", "false"),
            ("duration", "5m"),
            ("heartbeat", "500ms"),
            ("expires", "1h"),
            ("refresh-at", "0.5"),
            ("retry-jitter", "0.2"),
            ("local-ip", "127.0.0.1, 127.0.0.2"),
            ("no-unregister", "false"),
            ("json", "/tmp/out.json"),
            ("report", "none"),
            ("password", "(not shown)"),
        ] {
            assert_eq!(value(&s, key), want, "{key}");
        }
        assert!(!format!("{s:?}").contains("secret"));
        assert!(
            s.iter().all(|(k, _)| k != "stop-rate"),
            "paced like the ramp"
        );
        // Every key is a profile key but the two documented extras.
        for (k, _) in &s {
            if k == "ids" || k == "stop-rate" {
                continue;
            }
            let one: Result<Profile, _> = toml::from_str(&format!("{k} = 1"));
            let unknown = one
                .as_ref()
                .err()
                .is_some_and(|e| e.to_string().contains("unknown field"));
            assert!(!unknown, "`{k}` is not a profile key");
        }
    }

    #[test]
    fn durations_in_the_largest_whole_unit() {
        assert_eq!(span_ms(3_600_000), "1h");
        assert_eq!(span_ms(90_000), "90s");
        assert_eq!(span_ms(120_000), "2m");
        assert_eq!(span_ms(1500), "1500ms");
        assert_eq!(span_ms(0), "0s");
    }
}
