//! Arbitrary SUBSCRIBEs (CmdType, Event, Expires, Interval, To tag, body) and responses in
//! any order never panic, every message sent parses, the table never holds more than it
//! can, a timer pass leaves nothing due, and every transaction it started ends in exactly
//! one record.

use super::*;
use proptest::prelude::*;

fn sipish() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ -~]{0,30}").unwrap()
}

proptest! {
    #[test]
    fn arbitrary_subscribes_and_responses_never_panic(
        cmd in prop_oneof![Just("Catalog".to_string()), Just("MobilePosition".to_string()),
            Just("Alarm".to_string()), sipish()],
        event in sipish(),
        expires in prop_oneof![Just(None), (0u32..200_000).prop_map(Some)],
        interval in sipish(),
        to_tag in prop_oneof![Just(None), sipish().prop_map(Some)],
        codes in proptest::collection::vec(prop_oneof![Just(100u16), Just(200), Just(401),
            Just(408), Just(481), Just(500)], 1..16),
        steps in proptest::collection::vec(0u8..4, 1..24),
    ) {
        let mut b = Bench::new(2, 3);
        b.flap(600.0);
        b.alarms(Alarms { period: Alarms::period_of(1800.0), burst: Some(Burst {
            count: 2, at: Span::from_secs(3) }) }, 2);
        let extra = format!("<Interval>{interval}</Interval>\r\n");
        let mut now = at(0);
        let mut pending: Vec<Sent> = vec![];
        // Every request the table sent, to tell its retransmissions.
        let mut seen: Vec<Vec<u8>> = vec![];
        let mut codes = codes.into_iter().cycle();
        let mut started = 0usize;
        let mut ended = 0usize;
        for (n, step) in steps.into_iter().enumerate() {
            now += 700 * MS;
            let got = match step {
                0 => {
                    let call = format!("c{}", n % 4);
                    let branch = format!("z9hG4bK{n}");
                    let sub = Sub {
                        call: &call,
                        branch: &branch,
                        cseq: n as u32,
                        to_tag: to_tag.as_deref(),
                        expires,
                        event: &event,
                        cmd: &cmd,
                        extra_body: &extra,
                    };
                    let bytes = sub.bytes();
                    let mut h = [Header::EMPTY; 40];
                    match parse_datagram(&bytes, &mut h, &Limits::default()) {
                        Ok(Some(_)) => Some(b.subscribe(now, &sub)),
                        _ => None,
                    }
                }
                1 | 2 => match pending.pop() {
                    Some(req) if req.first_line().starts_with("NOTIFY")
                        || req.first_line().starts_with("MESSAGE") =>
                    {
                        let code = codes.next().unwrap_or(200);
                        Some(b.respond(now, &req.answer(code)))
                    }
                    _ => None,
                },
                _ => {
                    let got = b.timer(now);
                    // Everything due is done: the next wake-up is later (no busy loop).
                    prop_assert!(b.table.poll_timeout().is_none_or(|t| t > now));
                    Some(got)
                }
            };
            // What the table ended in this call (none was made: nothing).
            let Some(got) = got else { continue };
            ended += b.table.records().len();
            for s in &got {
                let mut h = [Header::EMPTY; 40];
                prop_assert!(matches!(
                    parse_datagram(&s.bytes, &mut h, &Limits::default()),
                    Ok(Some(_))
                ), "{}", s.text());
                let line = s.first_line();
                let retransmit = seen.contains(&s.bytes);
                if (line.starts_with("NOTIFY") || line.starts_with("MESSAGE")) && !retransmit {
                    let challenged = line.starts_with("MESSAGE") && s.header("CSeq") == "2 MESSAGE";
                    if !challenged {
                        started += 1;
                    }
                    pending.insert(0, s.clone());
                    seen.push(s.bytes.clone());
                }
            }
            prop_assert!(b.table.active() <= 3);
        }
        b.table.abandon(now);
        ended += b.table.records().len();
        prop_assert_eq!(started, ended);
    }
}
