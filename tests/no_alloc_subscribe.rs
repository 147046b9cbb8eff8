//! A warm subscribe driver (`serve --subscribe --query`) allocates nothing while it refreshes
//! its subscriptions, answers and counts NOTIFYs, sends RecordInfo queries and sums their
//! Response pages: only the driver's calls are counted, the test's own device (which writes
//! its answers with `format!`) is not. The counting allocator is in `counting/`.

mod counting;

use counting::allocs;
use gbswarm::clock::{Span, Time};
use gbswarm::gb::DeviceId;
use gbswarm::gb::subscribe::{EventKind, QueryKind};
use gbswarm::net::Outbox;
use gbswarm::server::subscribe::stats::C;
use gbswarm::server::subscribe::wire::Me;
use gbswarm::server::subscribe::{SubscribeConfig, Subscriber};
use gbswarm::sip::{Batch, Header, Limits, Method, Transport, parse_datagram};
use std::net::SocketAddr;

const DEV: &str = "34020000001320000001";

fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.split("\r\n")
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .unwrap_or("")
}

fn respond(req: &str) -> String {
    let mut r = String::from("SIP/2.0 200 OK\r\n");
    for h in ["Via", "From", "Call-ID", "CSeq"] {
        r.push_str(&format!("{h}: {}\r\n", header(req, h)));
    }
    let to = header(req, "To");
    let tag = if to.contains("tag=") { "" } else { ";tag=d" };
    r.push_str(&format!(
        "To: {to}{tag}\r\nContact: <sip:{DEV}@10.0.0.9:5060>\r\nExpires: 4\r\nContent-Length: 0\r\n\r\n"
    ));
    r
}

/// The driver and what the counted calls allocated.
struct Counted {
    s: Subscriber,
    allocs: usize,
    batch: Batch,
}

impl Counted {
    /// Hands `text` to the driver as the platform does, counting only the driver's calls.
    fn feed(&mut self, now: Time, text: &str) {
        let mut h = [Header::EMPTY; 32];
        let msg = parse_datagram(text.as_bytes(), &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        let from: SocketAddr = "10.0.0.9:5060".parse().unwrap();
        let before = allocs();
        self.batch.clear();
        if msg.is_request() {
            if !self.s.handle_request(now, &msg, from, &mut self.batch)
                && msg.method() == Some(Method::Message)
            {
                self.s.device_message(now, &msg);
            }
        } else {
            self.s.handle_response(now, &msg);
        }
        self.allocs += allocs() - before;
    }
}

#[test]
fn a_warm_subscribe_driver_refreshes_notifies_and_queries_without_allocating() {
    let cfg = SubscribeConfig {
        kinds: vec![EventKind::MobilePosition],
        interval_s: 1,
        rate: 10,
        expires_s: 4,
        queries: vec![QueryKind::RecordInfo],
        query_rate: 1,
        query_span: Span::from_secs(3600),
    };
    let me = Me {
        id: DeviceId::parse(b"34020000002000000001").unwrap(),
        domain: "3402000000".into(),
        signal: "10.0.0.1:5060".parse().unwrap(),
        salt: 3,
        charset: gbswarm::gb::Charset::Gb2312,
    };
    let mut s = Subscriber::new(&cfg, me, (0, 1), Time::ZERO, 1_795_475_772_000);
    s.device_registered(DeviceId::parse(DEV.as_bytes()).unwrap(), Time::ZERO);
    let mut c = Counted {
        s,
        allocs: 0,
        batch: Batch::new(),
    };
    let cam: SocketAddr = "10.0.0.9:5060".parse().unwrap();
    let mut out = Outbox::default();
    let mut dialog: Option<(String, u32)> = None;
    let mut counts_at_warm = [0u64; 3];
    for t in 0..=40_000u64 {
        let now = Time::from_millis(t);
        if t == 20_000 {
            // Warm: every path has run (several refreshes and queries); count from here.
            c.allocs = 0;
            let st = c.s.stats_now();
            counts_at_warm = [
                st.get(C::Refreshes),
                st.get(C::NotifyPosition),
                st.get(C::Answered),
            ];
        }
        if c.s.poll_timeout().is_some_and(|w| w <= now) {
            out.clear();
            let before = allocs();
            c.s.handle_timeout(now, &mut |_| Some((cam, Transport::Udp)), &mut out);
            c.allocs += allocs() - before;
            let sent: Vec<String> = out
                .messages()
                .map(|(_, _, m)| String::from_utf8_lossy(m).into_owned())
                .collect();
            for m in sent {
                c.feed(now, &respond(&m));
                if m.starts_with("SUBSCRIBE ") && dialog.is_none() {
                    let headers = format!(
                        "From: {};tag=d\r\nTo: {}\r\nCall-ID: {}\r\nEvent: presence\r\n",
                        header(&m, "To"),
                        header(&m, "From"),
                        header(&m, "Call-ID")
                    );
                    dialog = Some((headers, 0));
                }
                if m.starts_with("MESSAGE ") {
                    let sn = m
                        .split("<SN>")
                        .nth(1)
                        .unwrap()
                        .split("</SN>")
                        .next()
                        .unwrap();
                    for (k, n) in [(1, 2), (2, 1)] {
                        let items = "<Item><Name>r</Name></Item>".repeat(n);
                        let xml = format!(
                            "<Response><CmdType>RecordInfo</CmdType><SN>{sn}</SN><DeviceID>{DEV}</DeviceID>\
<SumNum>3</SumNum><RecordList Num=\"{n}\">{items}</RecordList></Response>"
                        );
                        let page = format!(
                            "MESSAGE sip:s@x SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKp\r\n\
From: <sip:{DEV}@x>;tag=p\r\nTo: <sip:s@x>\r\nCall-ID: p{t}.{k}\r\nCSeq: 1 MESSAGE\r\n\
Content-Type: Application/MANSCDP+xml\r\nContent-Length: {}\r\n\r\n{xml}",
                            xml.len()
                        );
                        c.feed(now, &page);
                    }
                }
            }
        }
        if t % 1000 == 500
            && let Some((headers, cseq)) = dialog.as_mut()
        {
            *cseq += 1;
            let xml = format!(
                "<Notify><CmdType>MobilePosition</CmdType><SN>1</SN><DeviceID>{DEV}</DeviceID></Notify>"
            );
            let notify = format!(
                "NOTIFY sip:p@10.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKn{cseq}\r\n\
{headers}CSeq: {cseq} NOTIFY\r\nSubscription-State: active;expires=3\r\n\
Content-Type: Application/MANSCDP+xml\r\nContent-Length: {}\r\n\r\n{xml}",
                xml.len()
            );
            c.feed(now, &notify);
            assert!(
                c.batch
                    .iter()
                    .next()
                    .is_some_and(|a| a.starts_with(b"SIP/2.0 200 ")),
                "NOTIFY {cseq} answered 200"
            );
        }
    }
    let st = c.s.stats_now();
    let after = [
        st.get(C::Refreshes),
        st.get(C::NotifyPosition),
        st.get(C::Answered),
    ];
    // In the measured 20 s: refreshes every 3.4 s, a NOTIFY a second, a query a second.
    assert!(
        after[0] >= counts_at_warm[0] + 5,
        "{after:?} {counts_at_warm:?}"
    );
    assert!(
        after[1] >= counts_at_warm[1] + 19,
        "{after:?} {counts_at_warm:?}"
    );
    assert!(
        after[2] >= counts_at_warm[2] + 19,
        "{after:?} {counts_at_warm:?}"
    );
    assert_eq!(st.get(C::NotifyUnknown), 0);
    assert_eq!(c.allocs, 0);
}
