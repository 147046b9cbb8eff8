use super::*;

/// Answers 200, at `now`, every request in `sent` and every one the answers bring on; returns
/// how many were answered.
fn answer_all(b: &mut Bench, now: Time, mut sent: Vec<Sent>) -> usize {
    let mut n = 0;
    while let Some(s) = sent.pop() {
        if s.bytes.starts_with(b"SIP/2.0") {
            continue;
        }
        n += 1;
        sent.extend(b.respond(now, &s.answer(200)));
    }
    n
}

#[test]
fn twenty_thousand_devices_hold_sixty_thousand_subscriptions_notified_at_their_ticks() {
    const DEVICES: u32 = 20_000;
    let mut b = Bench::new(DEVICES, 3 * DEVICES as usize);
    // Made as taken: nothing for the subscriptions before the first SUBSCRIBE.
    assert_eq!(b.table.slots.capacity(), 0);
    let step = Span::from_micros(300);
    let mut now = at(0);
    for k in 0..DEVICES {
        now = Time::ZERO + u64::from(k) * step;
        for (cmd, body) in [
            ("Catalog", ""),
            ("MobilePosition", "<Interval>5</Interval>\r\n"),
            ("Alarm", ""),
        ] {
            let call = format!("{cmd}-{k}");
            let sub = Sub {
                call: &call,
                extra_body: body,
                ..Sub::new(cmd)
            };
            let mut got = b.subscribe_to(now, &sub, k as usize);
            let ok = got.remove(0);
            assert!(ok.first_line().starts_with("SIP/2.0 200"), "{}", ok.text());
            answer_all(&mut b, now, got);
        }
    }
    let c = *b.table.counters();
    assert_eq!((c.accepted, c.refused), (60_000, 0));
    assert_eq!(b.table.active(), 60_000);
    assert!(b.table.slots.len() <= 60_000);
    // Full: one more is refused, as before.
    let extra = Sub {
        call: "one-too-many",
        ..Sub::new("Alarm")
    };
    let got = b.subscribe_to(now, &extra, 0);
    assert!(got[0].first_line().starts_with("SIP/2.0 503"));
    // Every NOTIFY answered: no copy is kept.
    assert_eq!(b.table.pool.in_use(), 0);
    // Positions every 5 s from each SUBSCRIBE, each sent at its tick (answered at once, so
    // its latency is nil), and the host woken only when there is work.
    let end = at(11_000);
    let mut wakes = 0;
    let mut late = 0;
    while let Some(t) = b.table.poll_timeout()
        && t <= end
    {
        let got = b.timer(t);
        assert!(!got.is_empty(), "a wake-up with nothing to do at {t:?}");
        wakes += 1;
        let mut sent = got;
        while let Some(s) = sent.pop() {
            sent.extend(b.respond(t, &s.answer(200)));
            late += b
                .table
                .records()
                .iter()
                .filter(|r| r.latency > Span::ZERO)
                .count();
        }
    }
    // Device k subscribed at k × 300 µs: a tick at +5 s for all, at +10 s for those by 1 s.
    let ticks = u64::from(DEVICES) + 3334;
    let c = b.table.counters().since(&c);
    assert_eq!(c.notify_position, ticks);
    assert_eq!(late, 0);
    assert_eq!(
        wakes as u64, ticks,
        "one wake-up per tick (they are 300 µs apart)"
    );
    assert_eq!((c.positions_skipped, c.dropped, c.expired), (0, 0, 0));
    assert_eq!(b.table.pool.in_use(), 0);
}

#[test]
fn poll_timeout_is_right_after_slots_are_freed_and_reused() {
    let mut b = Bench::new(2, 2);
    let sub = |call, expires| Sub {
        call,
        expires: Some(expires),
        ..Sub::new("Alarm")
    };
    let (ok, _) = b.subscribed(at(0), &sub("a", 10));
    b.subscribed(at(0), &sub("b", 100));
    assert_eq!(b.table.poll_timeout(), Some(at(10_000)));
    // The earliest one goes (unsubscribed, its final NOTIFY answered): the next is b's.
    let tag = ok.to_tag();
    let bye = Sub {
        call: "a",
        cseq: 2,
        branch: "z9hG4bKbye",
        to_tag: Some(&tag),
        ..sub("a", 0)
    };
    let got = b.subscribe(at(1000), &bye);
    assert_eq!(answer_all(&mut b, at(1000), got), 1);
    assert_eq!(b.table.active(), 1);
    assert_eq!(b.table.poll_timeout(), Some(at(100_000)));
    // Its slot is taken again, first for a later expiry, then (another device) an earlier.
    let (ok, _) = b.subscribed(at(2000), &sub("c", 150));
    assert_eq!(b.table.slots.len(), 2, "the freed slot was reused");
    assert_eq!(b.table.poll_timeout(), Some(at(100_000)));
    let got = b.subscribe_to(at(2000), &sub("d", 5), 1);
    assert!(got[0].first_line().starts_with("SIP/2.0 503"), "full");
    let tag = ok.to_tag();
    let bye = Sub {
        call: "c",
        cseq: 2,
        branch: "z9hG4bKbye2",
        to_tag: Some(&tag),
        ..sub("c", 0)
    };
    let got = b.subscribe(at(3000), &bye);
    answer_all(&mut b, at(3000), got);
    let got = b.subscribe_to(at(4000), &sub("d", 5), 1);
    assert_eq!(answer_all(&mut b, at(4000), got), 1);
    assert_eq!(b.table.poll_timeout(), Some(at(9000)));
    // d expires at 9 s, its final NOTIFY is answered; then b's expiry is next again.
    let got = b.timer(at(9000));
    assert_eq!(got.len(), 1);
    answer_all(&mut b, at(9000), got);
    assert_eq!(b.table.poll_timeout(), Some(at(100_000)));
    assert_eq!(b.table.active(), 1);
}

#[test]
fn a_device_reaches_only_its_own_subscriptions() {
    // Two devices with the same Call-IDs and CSeqs: each response and refresh finds its own.
    let mut b = Bench::new(2, 6);
    let (ok0, _) = b.subscribed(at(0), &Sub::new("Catalog"));
    let mut got = b.subscribe_to(at(0), &Sub::new("Catalog"), 1);
    let ok1 = got.remove(0);
    assert_ne!(ok0.to_tag(), ok1.to_tag());
    assert_eq!(got[0].device, 1);
    answer_all(&mut b, at(0), got);
    // A retransmission to device 1 is device 1's: answered again, nothing new.
    let again = b.subscribe_to(at(10), &Sub::new("Catalog"), 1);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].bytes, ok1.bytes);
    // Device 0's dialog refreshed at device 1 is unknown there.
    let tag0 = ok0.to_tag();
    let cross = Sub {
        cseq: 2,
        branch: "z9hG4bKx",
        to_tag: Some(&tag0),
        ..Sub::new("Catalog")
    };
    assert!(
        b.subscribe_to(at(20), &cross, 1)[0]
            .first_line()
            .starts_with("SIP/2.0 481")
    );
    assert!(b.table.device_down(at(30), 1));
    assert_eq!(b.table.active(), 1);
    assert!(
        b.subscribe(at(40), &cross)[0]
            .first_line()
            .starts_with("SIP/2.0 200")
    );
}

#[test]
fn notifies_of_one_device_never_share_a_branch_however_many_slots() {
    // Slots 0 and 16,384 of one device, both with their first NOTIFY (CSeq 1) in flight: a
    // branch made from the slot's low bits and the CSeq would be the same for both, and the
    // platform would take the second for a retransmission of the first.
    const N: usize = 16_385;
    let mut b = Bench::new(1, N);
    let first = b.subscribe(at(0), &Sub::new("Alarm"));
    let branch = |s: &Sent| s.header("Via");
    let kept = first[1].clone();
    for n in 1..N {
        let call = format!("c{n}");
        let got = b.subscribe(
            at(0),
            &Sub {
                call: &call,
                ..Sub::new("Alarm")
            },
        );
        assert_eq!(got[1].header("CSeq"), "1 NOTIFY");
        assert_ne!(branch(&got[1]), branch(&kept), "subscription {n}");
        if n + 1 < N {
            answer_all(&mut b, at(0), got);
        }
    }
    assert_eq!(b.table.slots.len(), N);
}
