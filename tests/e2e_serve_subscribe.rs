//! `gbswarm serve --subscribe --query` against a tiny device scripted here over a real UDP
//! socket on loopback: the device registers (digest), answers every SUBSCRIBE 200 with a tag of
//! its own and a short expiry, sends a Catalog NOTIFY and MobilePosition NOTIFYs every second
//! in the dialogs, an alarm MESSAGE outside any dialog, a NOTIFY of no dialog, and answers the
//! RecordInfo query with three Response pages. Serve is stopped by its PID (SIGTERM) and its
//! summary lines are checked against what the device sent and saw answered. Every port comes
//! from port 0; serve is killed in Drop if the test fails first. Waits are bounded and check
//! behaviour, not speed.

mod peers;

use gbswarm::sip::{Header, Limits, parse_datagram};
use std::collections::HashMap;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const DEV: &str = "34020000001320000077";

/// A header's value in a message's text.
fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.split("\r\n")
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .unwrap_or("")
}

fn body(msg: &str) -> &str {
    msg.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// The device's response `code` to `req`, with a To tag `tag` and `extra` headers.
fn respond(req: &str, code: u16, tag: &str, extra: &str) -> String {
    let mut r = format!("SIP/2.0 {code} OK\r\n");
    for h in ["Via", "From", "Call-ID", "CSeq"] {
        r.push_str(&format!("{h}: {}\r\n", header(req, h)));
    }
    let to = header(req, "To");
    if to.contains("tag=") {
        r.push_str(&format!("To: {to}\r\n"));
    } else {
        r.push_str(&format!("To: {to};tag={tag}\r\n"));
    }
    r.push_str(&format!("{extra}Content-Length: 0\r\n\r\n"));
    r
}

/// A request from the device with `headers` and a MANSCDP `xml` body.
fn request(method: &str, uri: &str, headers: &str, xml: &str, local: &str, n: u32) -> String {
    format!(
        "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};rport;branch=z9hG4bKd{n}\r\n{headers}\
Max-Forwards: 70\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: {}\r\n\r\n{xml}",
        xml.len()
    )
}

/// The device: its socket, and what it sent and saw answered.
struct Device {
    sock: UdpSocket,
    local: String,
    n: u32,
    /// Requests it sent that were answered, by what (`notify-catalog`, ...) and code.
    answered: HashMap<(String, u16), u64>,
    /// What each request it sent was (by Call-ID and CSeq).
    sent: HashMap<(String, String), String>,
}

impl Device {
    fn send(&mut self, what: &str, text: &str) {
        self.sock.send(text.as_bytes()).unwrap();
        let key = (
            header(text, "Call-ID").to_string(),
            header(text, "CSeq").to_string(),
        );
        if !text.starts_with("SIP/2.0") {
            self.sent.insert(key, what.to_string());
        }
    }

    fn recv(&mut self, until: Instant) -> Option<String> {
        let wait = until.saturating_duration_since(Instant::now());
        self.sock
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
            .unwrap();
        let mut buf = [0u8; 65535];
        let n = self.sock.recv(&mut buf).ok()?;
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.starts_with("SIP/2.0 ") {
            let code: u16 = text[8..11].parse().unwrap();
            let key = (
                header(&text, "Call-ID").to_string(),
                header(&text, "CSeq").to_string(),
            );
            if let Some(what) = self.sent.remove(&key) {
                *self.answered.entry((what, code)).or_default() += 1;
            }
        }
        Some(text)
    }

    fn answered(&self, what: &str, code: u16) -> u64 {
        self.answered
            .get(&(what.to_string(), code))
            .copied()
            .unwrap_or(0)
    }

    /// REGISTER, answering the digest challenge; panics unless it ends in 200.
    fn register(&mut self, server: &str) {
        let uri = format!("sip:34020000002000000001@{server}");
        let reg = |auth: &str, cseq: u32, local: &str| {
            format!(
                "REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};rport;branch=z9hG4bKr{cseq}\r\n\
From: <sip:{DEV}@3402000000>;tag=reg\r\nTo: <sip:{DEV}@3402000000>\r\nCall-ID: reg@dev\r\n\
CSeq: {cseq} REGISTER\r\nContact: <sip:{DEV}@{local}>\r\nMax-Forwards: 70\r\nExpires: 3600\r\n\
{auth}Content-Length: 0\r\n\r\n"
            )
        };
        let local = self.local.clone();
        self.send("register", &reg("", 1, &local));
        let challenge = self.recv(Instant::now() + Duration::from_secs(5)).unwrap();
        assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
        let mut h = [Header::EMPTY; 32];
        let msg = parse_datagram(challenge.as_bytes(), &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        let chosen = gbswarm::sip::digest::choose(&msg).unwrap();
        let mut auth = b"Authorization: ".to_vec();
        gbswarm::sip::digest::write_authorization(
            &mut auth,
            &chosen.params,
            DEV.as_bytes(),
            b"12345678",
            b"REGISTER",
            uri.as_bytes(),
            1,
            b"c0ffee",
        )
        .unwrap();
        auth.extend_from_slice(b"\r\n");
        let auth = String::from_utf8(auth).unwrap();
        self.send("register", &reg(&auth, 2, &local));
        let ok = self.recv(Instant::now() + Duration::from_secs(5)).unwrap();
        assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    }
}

/// One subscription the device accepted: the NOTIFY's headers in its dialog.
struct Dialog {
    kind: String,
    headers: String,
    cseq: u32,
    target: String,
}

fn notify(d: &mut Dialog, dev: &mut Device, xml: &str) {
    d.cseq += 1;
    dev.n += 1;
    let headers = format!(
        "{}CSeq: {} NOTIFY\r\nSubscription-State: active;expires=4\r\n",
        d.headers, d.cseq
    );
    let text = request("NOTIFY", &d.target, &headers, xml, &dev.local, dev.n);
    let what = format!("notify-{}", d.kind);
    dev.send(&what, &text);
}

fn summary_value(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in {line}"))
}

#[test]
fn serve_subscribes_counts_notifies_and_queries_a_scripted_device() {
    let dir = peers::TempDir::new("serve-subscribe");
    let (mut serve, addr) = peers::serve_process(
        dir.path(),
        &[
            "--subscribe",
            "catalog,mobile-position:1",
            "--subscribe-expires",
            "4s",
            "--query",
            "record-info",
            "--query-rate",
            "1",
        ],
    );
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(addr).unwrap();
    let local = sock.local_addr().unwrap().to_string();
    let mut dev = Device {
        sock,
        local,
        n: 0,
        answered: HashMap::new(),
        sent: HashMap::new(),
    };
    dev.register(&addr.to_string());
    let position = format!(
        "<?xml version=\"1.0\" encoding=\"GB2312\"?>\r\n<Notify>\r\n<CmdType>MobilePosition</CmdType>\r\n\
<SN>1</SN>\r\n<DeviceID>{DEV}</DeviceID>\r\n<Time>2026-11-30T16:00:00</Time>\r\n<Longitude>116.3</Longitude>\r\n\
<Latitude>39.9</Latitude>\r\n<Speed>0</Speed>\r\n<Direction>0</Direction>\r\n<Altitude>0</Altitude>\r\n</Notify>\r\n"
    );
    let catalog = format!(
        "<?xml version=\"1.0\" encoding=\"GB2312\"?>\r\n<Notify>\r\n<CmdType>Catalog</CmdType>\r\n<SN>2</SN>\r\n\
<DeviceID>{DEV}</DeviceID>\r\n<SumNum>1</SumNum>\r\n<DeviceList Num=\"1\">\r\n<Item>\r\n<DeviceID>{DEV}</DeviceID>\r\n\
<Status>OFF</Status>\r\n<Event>OFF</Event>\r\n</Item>\r\n</DeviceList>\r\n</Notify>\r\n"
    );
    let from_dev = format!(
        "From: <sip:{DEV}@3402000000>;tag=dev\r\nTo: <sip:34020000002000000001@3402000000>\r\n"
    );
    let server_uri = format!("sip:34020000002000000001@{addr}");

    // An alarm outside any dialog, and a NOTIFY of no dialog.
    dev.n += 1;
    let alarm = request(
        "MESSAGE",
        &server_uri,
        &format!("{from_dev}Call-ID: alarm@dev\r\nCSeq: 1 MESSAGE\r\n"),
        &format!(
            "<?xml version=\"1.0\"?>\r\n<Notify>\r\n<CmdType>Alarm</CmdType>\r\n<SN>3</SN>\r\n<DeviceID>{DEV}</DeviceID>\r\n<AlarmPriority>1</AlarmPriority>\r\n<AlarmMethod>2</AlarmMethod>\r\n</Notify>\r\n"
        ),
        &dev.local.clone(),
        dev.n,
    );
    dev.send("alarm", &alarm);
    dev.n += 1;
    let stray = request(
        "NOTIFY",
        &server_uri,
        &format!(
            "{from_dev}Call-ID: nobody@dev\r\nCSeq: 1 NOTIFY\r\nEvent: presence\r\nSubscription-State: active\r\n"
        ),
        &position,
        &dev.local.clone(),
        dev.n,
    );
    dev.send("stray", &stray);

    let mut dialogs: Vec<Dialog> = Vec::new();
    let mut subscribes = 0u64;
    let mut refreshes = 0u64;
    let mut queries = 0u64;
    let mut next_position = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(30);
    // Until a refresh came, a query was answered in full and a few positions went.
    while Instant::now() < deadline {
        let done = refreshes >= 2
            && dev.answered("page", 200) >= 3
            && dev.answered("notify-mobile-position", 200) >= 4;
        if done {
            break;
        }
        let wake = next_position.min(Instant::now() + Duration::from_millis(200));
        if let Some(msg) = dev.recv(wake) {
            if msg.starts_with("SUBSCRIBE ") {
                let to = header(&msg, "To").to_string();
                if to.contains("tag=") {
                    refreshes += 1;
                    assert!(
                        msg.starts_with(&format!("SUBSCRIBE sip:{DEV}@{}", dev.local)),
                        "{msg}"
                    );
                    dev.send("", &respond(&msg, 200, "", "Expires: 4\r\n"));
                    continue;
                }
                subscribes += 1;
                let tag = format!("d{subscribes}");
                let kind = if body(&msg).contains("<CmdType>Catalog</CmdType>") {
                    "catalog"
                } else {
                    assert!(body(&msg).contains("<Interval>1</Interval>"), "{msg}");
                    "mobile-position"
                };
                let contact = format!("Contact: <sip:{DEV}@{}>\r\nExpires: 4\r\n", dev.local);
                dev.send("", &respond(&msg, 200, &tag, &contact));
                let target = header(&msg, "Contact")
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string();
                let mut d = Dialog {
                    kind: kind.to_string(),
                    headers: format!(
                        "From: {to};tag={tag}\r\nTo: {}\r\nCall-ID: {}\r\nEvent: {}\r\n",
                        header(&msg, "From"),
                        header(&msg, "Call-ID"),
                        header(&msg, "Event")
                    ),
                    cseq: 0,
                    target,
                };
                if kind == "catalog" {
                    notify(&mut d, &mut dev, &catalog);
                }
                dialogs.push(d);
            } else if msg.starts_with("MESSAGE ")
                && body(&msg).contains("<CmdType>RecordInfo</CmdType>")
            {
                queries += 1;
                dev.send("", &respond(&msg, 200, "q", ""));
                if queries > 1 {
                    continue;
                }
                let sn = body(&msg)
                    .split("<SN>")
                    .nth(1)
                    .unwrap()
                    .split("</SN>")
                    .next()
                    .unwrap()
                    .to_string();
                for (k, n) in [2, 2, 1].into_iter().enumerate() {
                    let items: String = (0..n)
                        .map(|i| format!("<Item>\r\n<DeviceID>{DEV}</DeviceID>\r\n<Name>rec{k}{i}</Name>\r\n</Item>\r\n"))
                        .collect();
                    let xml = format!(
                        "<?xml version=\"1.0\"?>\r\n<Response>\r\n<CmdType>RecordInfo</CmdType>\r\n<SN>{sn}</SN>\r\n\
<DeviceID>{DEV}</DeviceID>\r\n<Name>cam</Name>\r\n<SumNum>5</SumNum>\r\n<RecordList Num=\"{n}\">\r\n{items}</RecordList>\r\n</Response>\r\n"
                    );
                    dev.n += 1;
                    let page = request(
                        "MESSAGE",
                        &server_uri,
                        &format!("{from_dev}Call-ID: page{k}@dev\r\nCSeq: 1 MESSAGE\r\n"),
                        &xml,
                        &dev.local.clone(),
                        dev.n,
                    );
                    dev.send("page", &page);
                }
            } else if !msg.starts_with("SIP/2.0") {
                // Anything else (a Catalog query of the registrar's own) gets 200.
                dev.send("", &respond(&msg, 200, "x", ""));
            }
        }
        if Instant::now() >= next_position {
            next_position += Duration::from_secs(1);
            for d in dialogs.iter_mut().filter(|d| d.kind == "mobile-position") {
                notify(d, &mut dev, &position);
            }
        }
    }
    // The answers still in flight.
    let settle = Instant::now() + Duration::from_millis(500);
    while dev.recv(settle).is_some() {}
    assert!(serve.stop(), "serve ends by itself on SIGTERM");
    let out = peers::read(&dir.path().join("serve.out"));
    let sub = out
        .lines()
        .find(|l| l.starts_with("gbswarm serve: subscribe "))
        .unwrap_or_else(|| panic!("no subscribe summary in {out}"));
    let query = out
        .lines()
        .find(|l| l.starts_with("gbswarm serve: query "))
        .unwrap_or_else(|| panic!("no query summary in {out}"));
    let err = peers::read(&dir.path().join("serve.err"));
    assert!(
        err.contains("subscribing registered devices to catalog, mobile-position every 1 s"),
        "{err}"
    );

    assert_eq!(subscribes, 2, "{sub}");
    assert!(refreshes >= 2, "{sub}");
    assert_eq!(summary_value(sub, "subscribes"), 2, "{sub}");
    // A refresh may have come after the device stopped answering.
    assert!(summary_value(sub, "refreshes") >= refreshes, "{sub}");
    assert_eq!(summary_value(sub, "ok"), 2 + refreshes, "{sub}");
    assert_eq!(summary_value(sub, "timeouts"), 0, "{sub}");
    for (name, what) in [
        ("notify_catalog", "notify-catalog"),
        ("notify_mobile_position", "notify-mobile-position"),
    ] {
        let answered = dev.answered(what, 200);
        assert!(answered >= 1, "{what}: {sub}");
        assert_eq!(summary_value(sub, name), answered, "{sub}");
    }
    assert_eq!(dev.answered("stray", 481), 1, "{:?}", dev.answered);
    assert_eq!(summary_value(sub, "notify_unknown"), 1, "{sub}");
    assert_eq!(dev.answered("alarm", 200), 1, "{:?}", dev.answered);
    assert_eq!(summary_value(sub, "alarm_messages"), 1, "{sub}");
    assert_eq!(summary_value(sub, "notify_bad_body"), 0, "{sub}");
    assert_eq!(summary_value(sub, "active"), 2, "{sub}");
    assert!(!sub.contains("200_to_first_notify_ms=none"), "{sub}");
    assert!(!sub.contains("position_late_ms=none"), "{sub}");

    // One more may have come while the device no longer answered.
    assert!(summary_value(query, "queries") >= queries, "{query}");
    assert_eq!(summary_value(query, "ok"), queries, "{query}");
    assert_eq!(summary_value(query, "answered"), 1, "{query}");
    assert_eq!(summary_value(query, "pages"), 3, "{query}");
    assert_eq!(summary_value(query, "items"), 5, "{query}");
    assert!(!query.contains("query_to_last_page_ms=none"), "{query}");
}
