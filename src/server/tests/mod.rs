//! The registrar core driven message by message, without sockets; its defences (bans, rate
//! limit) in [`guard`].

mod guard;

pub(super) mod registrar_core {
    use crate::clock::{Span, Time};
    use crate::gb::DeviceId;
    use crate::net::{After, Service};
    use crate::server::registrar::{Config, Redirect, Registrar, Stats};
    use crate::server::registry::Registry;
    use crate::sip::write::push_u64;
    use crate::sip::{
        AuthParams, Batch, Header, Limits, Method, Transport, Writer, digest, parse_datagram,
    };
    use std::net::SocketAddr;
    use std::sync::Arc;

    pub(super) const NOW: u64 = 1_000_000;
    const UNIX: u64 = 1_795_475_772_123;

    pub(super) fn cfg() -> Config {
        Config::new("34020000002000000001".parse().unwrap(), "12345678")
    }

    pub(super) fn registrar(c: Config) -> Registrar {
        Registrar::new(c, Arc::new(Registry::new(4)), [3; 16]).with_unix_zero(UNIX - NOW)
    }

    fn src() -> SocketAddr {
        "127.0.0.1:40000".parse().unwrap()
    }

    /// A REGISTER from device `dev`, with `auth` as Authorization if given.
    pub(super) fn register(dev: &str, cseq: u32, expires: u32, auth: Option<&[u8]>) -> Vec<u8> {
        let mut b = Vec::new();
        let mut w = Writer::request(
            &mut b,
            Method::Register,
            b"sip:34020000002000000001@3402000000",
        );
        w.header(b"Via", b"SIP/2.0/UDP 127.0.0.1:40000;rport;branch=z9hG4bK1")
            .header_with(b"From", |x| {
                x.extend_from_slice(b"<sip:");
                x.extend_from_slice(dev.as_bytes());
                x.extend_from_slice(b"@3402000000>;tag=1");
            })
            .header_with(b"To", |x| {
                x.extend_from_slice(b"<sip:");
                x.extend_from_slice(dev.as_bytes());
                x.extend_from_slice(b"@3402000000>");
            })
            .header(b"Call-ID", b"c1")
            .header_with(b"CSeq", |x| {
                push_u64(x, u64::from(cseq));
                x.extend_from_slice(b" REGISTER");
            })
            .header(b"Contact", b"<sip:dev@127.0.0.1:40000>")
            .header_u64(b"Expires", u64::from(expires));
        if let Some(a) = auth {
            w.header(b"Authorization", a);
        }
        w.finish(b"");
        b
    }

    pub(super) fn t(ms: u64) -> Time {
        Time::from_millis(ms)
    }

    /// Hands `bytes` (a datagram) to `r` at `now` ms; the status and bytes of its first
    /// answer (0 and nothing if none), its counters added to `stats`.
    pub(super) fn handle(
        r: &mut Registrar,
        now: u64,
        bytes: &[u8],
        stats: &mut Stats,
    ) -> (u16, Vec<u8>) {
        handle_from(r, now, bytes, src(), stats)
    }

    /// [`handle`] from the source `from`.
    pub(super) fn handle_from(
        r: &mut Registrar,
        now: u64,
        bytes: &[u8],
        from: SocketAddr,
        stats: &mut Stats,
    ) -> (u16, Vec<u8>) {
        let mut out = Batch::new();
        r.handle_datagram(t(now), bytes, from, Transport::Udp, &mut out);
        stats.merge(&r.take_stats());
        let Some(first) = out.get(0) else {
            return (0, Vec::new());
        };
        let mut h = [Header::EMPTY; 32];
        let m = parse_datagram(first, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        (m.status().unwrap(), first.to_vec())
    }

    /// Answers the challenge in `resp` for `dev` with `password`, nonce count `nc`.
    pub(super) fn answer(resp: &[u8], dev: &str, password: &str, nc: u32) -> Vec<u8> {
        let mut h = [Header::EMPTY; 32];
        let m = parse_datagram(resp, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        let ch: AuthParams<'_> = m.challenge().unwrap();
        let mut a = Vec::new();
        digest::write_authorization(
            &mut a,
            &ch,
            dev.as_bytes(),
            password.as_bytes(),
            b"REGISTER",
            b"sip:34020000002000000001@3402000000",
            nc,
            b"cn",
        )
        .unwrap();
        a
    }

    pub(super) const DEV: &str = "34020000001320000001";

    #[test]
    fn full_registration_refresh_and_unregister() {
        for qop in [true, false] {
            let mut r = registrar(Config { qop, ..cfg() });
            let mut st = Stats::default();
            let (code, ch) = handle(&mut r, NOW, &register(DEV, 1, 3600, None), &mut st);
            assert_eq!(code, 401);
            let auth = answer(&ch, DEV, "12345678", 1);
            let (code, ok) = handle(
                &mut r,
                NOW + 5,
                &register(DEV, 2, 7200, Some(&auth)),
                &mut st,
            );
            assert_eq!(code, 200);
            let text = String::from_utf8_lossy(&ok).into_owned();
            assert!(
                text.contains("Expires: 3600"),
                "clamped to max-expires: {text}"
            );
            assert!(text.contains(";expires=3600"));
            // The wall clock at NOW + 5 ms.
            assert!(text.contains("Date: 2026-11-23T23:16:12.128"), "{text}");
            assert_eq!(r.registry().counts(t(NOW + 10), r.max_silence()), (1, 1));
            let auth2 = answer(&ch, DEV, "12345678", 2);
            let (code, _) = handle(
                &mut r,
                NOW + 10,
                &register(DEV, 3, 0, Some(&auth2)),
                &mut st,
            );
            if qop {
                assert_eq!(code, 200, "unregister with the next nonce count");
                assert_eq!(r.registry().counts(t(NOW + 20), r.max_silence()), (0, 0));
                assert_eq!((st.registrations, st.unregistrations), (1, 1));
            } else {
                assert_eq!(code, 401, "without qop a nonce serves one registration");
            }
        }
    }

    #[test]
    fn two_challenges_in_one_second_are_both_answerable() {
        let mut r = registrar(cfg());
        let mut st = Stats::default();
        let (_, ch1) = handle(&mut r, NOW, &register(DEV, 1, 3600, None), &mut st);
        assert_eq!(
            handle(
                &mut r,
                NOW + 1,
                &register(DEV, 2, 3600, Some(&answer(&ch1, DEV, "12345678", 1))),
                &mut st
            )
            .0,
            200
        );
        // Unregistering within the same second: a new challenge, nc starts again at 1.
        let (_, ch2) = handle(&mut r, NOW + 2, &register(DEV, 3, 0, None), &mut st);
        assert_ne!(ch1, ch2);
        assert_eq!(
            handle(
                &mut r,
                NOW + 3,
                &register(DEV, 4, 0, Some(&answer(&ch2, DEV, "12345678", 1))),
                &mut st
            )
            .0,
            200
        );
        assert_eq!(st.replays, 0);
    }

    #[test]
    fn wrong_password_stale_nonce_and_replay() {
        let mut r = registrar(cfg());
        let mut st = Stats::default();
        let (_, ch) = handle(&mut r, NOW, &register(DEV, 1, 3600, None), &mut st);
        let bad = answer(&ch, DEV, "wrong", 1);
        assert_eq!(
            handle(&mut r, NOW, &register(DEV, 2, 3600, Some(&bad)), &mut st).0,
            403
        );
        let good = answer(&ch, DEV, "12345678", 1);
        // After the nonce's 300 s lifetime: 401 with stale=true.
        let (code, resp) = handle(
            &mut r,
            NOW + 301_000,
            &register(DEV, 2, 3600, Some(&good)),
            &mut st,
        );
        assert_eq!(code, 401);
        assert!(String::from_utf8_lossy(&resp).contains("stale=true"));
        assert_eq!(
            handle(
                &mut r,
                NOW + 1000,
                &register(DEV, 2, 3600, Some(&good)),
                &mut st
            )
            .0,
            200
        );
        // The same request again (a retransmission) is answered the same way...
        assert_eq!(
            handle(
                &mut r,
                NOW + 1500,
                &register(DEV, 2, 3600, Some(&good)),
                &mut st
            )
            .0,
            200
        );
        // ...but the same credentials on a new request are a replay: challenged again.
        assert_eq!(
            handle(
                &mut r,
                NOW + 2000,
                &register(DEV, 3, 3600, Some(&good)),
                &mut st
            )
            .0,
            401
        );
        assert_eq!(st.replays, 1);
        // A forged nonce is simply challenged.
        let forged = String::from_utf8(good.clone())
            .unwrap()
            .replace("nonce=\"", "nonce=\"0");
        assert_eq!(
            handle(
                &mut r,
                NOW,
                &register(DEV, 4, 3600, Some(forged.as_bytes())),
                &mut st
            )
            .0,
            401
        );
    }

    #[test]
    fn interval_too_brief_bad_device_and_unknown_method() {
        let mut r = registrar(cfg());
        let mut st = Stats::default();
        let (code, resp) = handle(&mut r, NOW, &register(DEV, 1, 30, None), &mut st);
        assert_eq!(code, 423);
        assert!(String::from_utf8_lossy(&resp).contains("Min-Expires: 60"));
        assert_eq!(
            handle(&mut r, NOW, &register("12345", 1, 3600, None), &mut st).0,
            400
        );
        let invite = String::from_utf8(register(DEV, 1, 3600, None))
            .unwrap()
            .replacen("REGISTER sip", "INVITE sip", 1);
        let (code, resp) = handle(&mut r, NOW, invite.as_bytes(), &mut st);
        assert_eq!(code, 405);
        assert!(String::from_utf8_lossy(&resp).contains("Allow: REGISTER, MESSAGE, OPTIONS"));
        assert_eq!(
            handle(&mut r, NOW, b"garbage\r\n\r\n", &mut st).0,
            0,
            "unanswerable input is dropped"
        );
        // A broken header line, but the headers a response needs are intact: 400, echoing
        // only those.
        let broken = String::from_utf8(register(DEV, 1, 3600, None))
            .unwrap()
            .replacen("Contact: <sip:dev@127.0.0.1:40000>", "Contact <script>", 1);
        assert!(broken.contains("Contact <script>"));
        let (code, resp) = handle(&mut r, NOW, broken.as_bytes(), &mut st);
        assert_eq!(code, 400);
        let text = String::from_utf8_lossy(&resp).into_owned();
        assert!(
            !text.contains("script")
                && text.contains("Call-ID: c1")
                && text.contains("CSeq: 1 REGISTER"),
            "{text}"
        );
        assert_eq!(
            handle(
                &mut r,
                NOW,
                b"MESSAGE sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n",
                &mut st
            )
            .0,
            0
        );
        assert_eq!(st.dropped_malformed, 2);
        let mut out = Batch::new();
        assert_eq!(
            r.handle_datagram(t(NOW), b"garbage\r\n\r\n", src(), Transport::Tcp, &mut out),
            After::Close
        );
        assert!(
            out.is_empty(),
            "nothing is answered on a stream that cannot be framed"
        );
    }

    #[test]
    fn answers_are_appended_to_a_batch_that_holds_earlier_ones() {
        // A UDP host gathers the answers to a whole receive batch in one `Batch`: a bad
        // request must be answered (and counted as answered, not dropped) though the batch
        // is not empty, and garbage must add nothing.
        let mut r = registrar(cfg());
        let broken = String::from_utf8(register(DEV, 1, 3600, None))
            .unwrap()
            .replacen("Contact: <sip:dev@127.0.0.1:40000>", "Contact <script>", 1);
        let mut out = Batch::new();
        r.handle_datagram(
            t(NOW),
            &register(DEV, 1, 3600, None),
            src(),
            Transport::Udp,
            &mut out,
        );
        r.handle_datagram(t(NOW), broken.as_bytes(), src(), Transport::Udp, &mut out);
        r.handle_datagram(t(NOW), b"garbage\r\n\r\n", src(), Transport::Udp, &mut out);
        let codes: Vec<u16> = out
            .iter()
            .map(|m| {
                let mut h = [Header::EMPTY; 32];
                let m = parse_datagram(m, &mut h, &Limits::default())
                    .unwrap()
                    .unwrap();
                m.status().unwrap()
            })
            .collect();
        assert_eq!(codes, [401, 400]);
        let st = r.take_stats();
        assert_eq!(st.response(400), 1);
        assert_eq!(st.dropped_malformed, 1);
    }

    #[test]
    fn keepalives_need_a_registration() {
        let mut r = registrar(cfg());
        let mut st = Stats::default();
        let ka = keepalive_typed("Application/MANSCDP+xml");
        assert_eq!(handle(&mut r, NOW, &ka, &mut st).0, 403);
        let (_, ch) = handle(&mut r, NOW, &register(DEV, 1, 3600, None), &mut st);
        handle(
            &mut r,
            NOW,
            &register(DEV, 2, 3600, Some(&answer(&ch, DEV, "12345678", 1))),
            &mut st,
        );
        assert_eq!(handle(&mut r, NOW + 200_000, &ka, &mut st).0, 200);
        assert_eq!(st.keepalives, 1);
        // Silent for 3 × 60 s: offline; the keepalive above kept it online until then.
        assert_eq!(
            r.registry().counts(t(NOW + 380_000), r.max_silence()),
            (1, 1)
        );
        assert_eq!(
            r.registry().counts(t(NOW + 380_001), r.max_silence()),
            (1, 0)
        );
        let mut open = registrar(Config {
            allow_unregistered: true,
            ..cfg()
        });
        assert_eq!(handle(&mut open, NOW, &ka, &mut st).0, 200);
    }

    /// Answers the challenge of `resp` naming `alg` (with nonce count 1), in the header
    /// `header`, as a REGISTER with CSeq `cseq`.
    fn register_answering(resp: &[u8], alg: digest::Algorithm, header: &str, cseq: u32) -> Vec<u8> {
        let mut h = [Header::EMPTY; 32];
        let m = parse_datagram(resp, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        let ch = m
            .challenges(false)
            .find(|c| digest::Algorithm::of(c) == Some(alg))
            .unwrap_or_else(|| m.challenge().unwrap());
        // The same challenge with the algorithm asked for (to answer one not offered).
        let mut forced = Vec::new();
        digest::write_challenge(
            &mut forced,
            ch.realm.unwrap().raw(),
            ch.nonce.unwrap().raw(),
            None,
            ch.offers_qop_auth(),
            false,
            alg,
        );
        let ch = AuthParams::parse(&forced).unwrap();
        let mut a = Vec::new();
        let uri = b"sip:34020000002000000001@3402000000";
        digest::write_authorization(
            &mut a,
            &ch,
            DEV.as_bytes(),
            b"12345678",
            b"REGISTER",
            uri,
            1,
            b"cn",
        )
        .unwrap();
        String::from_utf8(register(DEV, cseq, 3600, Some(&a)))
            .unwrap()
            .replace("Authorization:", &format!("{header}:"))
            .into_bytes()
    }

    #[test]
    fn one_challenge_per_algorithm_offered_in_order() {
        use digest::Algorithm;
        let mut r = registrar(Config {
            digest: vec![
                Algorithm::SHA256,
                Algorithm::MD5,
                Algorithm::SHA512_256_SESS,
            ],
            ..cfg()
        });
        let mut st = Stats::default();
        let (code, ch) = handle(&mut r, NOW, &register(DEV, 1, 3600, None), &mut st);
        assert_eq!(code, 401);
        let mut h = [Header::EMPTY; 32];
        let m = parse_datagram(&ch, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        let offered: Vec<_> = m.challenges(false).collect();
        let algs: Vec<_> = offered.iter().map(Algorithm::of).collect();
        assert_eq!(
            algs,
            [
                Some(Algorithm::SHA256),
                Some(Algorithm::MD5),
                Some(Algorithm::SHA512_256_SESS)
            ]
        );
        assert!(
            offered.iter().all(|c| c.nonce == offered[0].nonce),
            "one nonce"
        );
        // The camera's choice is the first.
        assert_eq!(digest::choose(&m).unwrap().algorithm, Algorithm::SHA256);
        // Each offered algorithm is accepted (a fresh nonce each, so no replay), in
        // Authorization or Proxy-Authorization.
        let mut cseq = 2;
        for (alg, header) in [
            (Algorithm::SHA256, "Authorization"),
            (Algorithm::MD5, "Proxy-Authorization"),
            (Algorithm::SHA512_256_SESS, "Authorization"),
        ] {
            let (_, ch) = handle(&mut r, NOW, &register(DEV, cseq, 3600, None), &mut st);
            let req = register_answering(&ch, alg, header, cseq + 1);
            assert_eq!(
                handle(&mut r, NOW + 1, &req, &mut st).0,
                200,
                "{alg} {header}"
            );
            cseq += 2;
        }
        // One not offered is refused, however right.
        let (_, ch) = handle(&mut r, NOW, &register(DEV, cseq, 3600, None), &mut st);
        let req = register_answering(&ch, Algorithm::SHA256_SESS, "Authorization", cseq + 1);
        assert_eq!(handle(&mut r, NOW + 1, &req, &mut st).0, 403);
        assert_eq!(st.registrations, 3);
    }

    /// A MESSAGE from `DEV` with this Content-Type and a keepalive body.
    fn keepalive_typed(content_type: &str) -> Vec<u8> {
        let mut body = Vec::new();
        crate::gb::manscdp::write_keepalive(
            &mut body,
            crate::gb::Charset::Gb2312,
            1,
            &DEV.parse().unwrap(),
            &[],
        );
        let mut ka = Vec::new();
        let mut w = Writer::request(
            &mut ka,
            Method::Message,
            b"sip:34020000002000000001@3402000000",
        );
        w.header(b"Via", b"SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK2")
            .header(b"From", format!("<sip:{DEV}@3402000000>;tag=2").as_bytes())
            .header(b"To", b"<sip:34020000002000000001@3402000000>")
            .header(b"Call-ID", b"k1")
            .header(b"CSeq", b"1 MESSAGE")
            .header(b"Content-Type", content_type.as_bytes());
        w.finish(&body);
        ka
    }

    #[test]
    fn a_message_that_is_not_manscdp_gets_415_with_accept() {
        let mut r = registrar(cfg());
        let mut st = Stats::default();
        let (_, ch) = handle(&mut r, NOW, &register(DEV, 1, 3600, None), &mut st);
        let auth = answer(&ch, DEV, "12345678", 1);
        handle(&mut r, NOW, &register(DEV, 2, 3600, Some(&auth)), &mut st);
        // baresip's text/plain MESSAGE (a keepalive body, even): not a keepalive.
        let (code, resp) = handle(&mut r, NOW + 1, &keepalive_typed("text/plain"), &mut st);
        assert_eq!(code, 415);
        let text = String::from_utf8_lossy(&resp).into_owned();
        assert!(
            text.contains("Accept: Application/MANSCDP+xml\r\n"),
            "{text}"
        );
        let no_type = String::from_utf8(keepalive_typed("x"))
            .unwrap()
            .replace("Content-Type: x\r\n", "");
        assert_eq!(handle(&mut r, NOW + 2, no_type.as_bytes(), &mut st).0, 415);
        assert_eq!(st.keepalives, 0);
        assert_eq!(st.response(415), 2);
        // Any letter case, with parameters: a keepalive.
        for ct in [
            "application/manscdp+xml",
            "APPLICATION/MANSCDP+XML;charset=GB2312",
        ] {
            assert_eq!(
                handle(&mut r, NOW + 3, &keepalive_typed(ct), &mut st).0,
                200,
                "{ct}"
            );
        }
        assert_eq!(st.keepalives, 2);
        // From an unknown device, the 403 comes first.
        let stranger = String::from_utf8(keepalive_typed("text/plain"))
            .unwrap()
            .replace(DEV, "34020000001320000999");
        assert_eq!(handle(&mut r, NOW + 4, stranger.as_bytes(), &mut st).0, 403);
    }

    #[test]
    fn redirect_by_hash_or_round_robin() {
        let a: (DeviceId, SocketAddr) = (
            "34020000002000000002".parse().unwrap(),
            "127.0.0.1:5071".parse().unwrap(),
        );
        let b: (DeviceId, SocketAddr) = (
            "34020000002000000003".parse().unwrap(),
            "127.0.0.1:5072".parse().unwrap(),
        );
        for round_robin in [false, true] {
            let mut r = registrar(Config {
                redirect: Some(Redirect {
                    targets: vec![a, b],
                    round_robin,
                }),
                ..cfg()
            });
            let mut st = Stats::default();
            let mut targets = Vec::new();
            for _ in 0..2 {
                let (_, ch) = handle(&mut r, NOW, &register(DEV, 1, 3600, None), &mut st);
                let (code, resp) = handle(
                    &mut r,
                    NOW,
                    &register(DEV, 2, 3600, Some(&answer(&ch, DEV, "12345678", 1))),
                    &mut st,
                );
                assert_eq!(code, 302);
                let text = String::from_utf8_lossy(&resp).into_owned();
                targets.push(text.contains("34020000002000000002@127.0.0.1:5071"));
            }
            assert_eq!(
                targets[0] == targets[1],
                !round_robin,
                "hash is stable, round-robin alternates"
            );
            assert_eq!(st.redirects, 2);
            assert_eq!(
                r.registry().counts(t(NOW), Span::from_micros(u64::MAX)),
                (0, 0),
                "redirected devices are not registered here"
            );
        }
    }
}
