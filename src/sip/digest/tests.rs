//! Digest test vectors (RFC 2617, RFC 7616), every algorithm both ways, and the choice among
//! several challenges.

use super::*;
use crate::sip::{Header, Limits, parse_datagram};

fn answer(ch: &[u8], user: &[u8], pass: &[u8], method: &[u8], uri: &[u8], cn: &[u8]) -> Vec<u8> {
    let ch = AuthParams::parse(ch).unwrap();
    let mut out = Vec::new();
    write_authorization(&mut out, &ch, user, pass, method, uri, 1, cn).unwrap();
    out
}

#[test]
fn rfc2617_example() {
    // RFC 2617 §3.5: Mufasa / Circle Of Life, GET /dir/index.html, qop=auth.
    let out = answer(
        br#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        b"Mufasa",
        b"Circle Of Life",
        b"GET",
        b"/dir/index.html",
        b"0a4f113b",
    );
    let a = AuthParams::parse(&out).unwrap();
    assert_eq!(
        a.response.unwrap().raw(),
        b"6629fae49393a05397450978507c4ef1"
    );
    assert_eq!(a.nc.unwrap().raw(), b"00000001");
    assert_eq!(a.algorithm.unwrap().raw(), b"MD5");
    assert_eq!(a.opaque.unwrap().raw(), b"5ccc069c403ebaf9f0171e9517f40e41");
    let realm = QStr::new(b"testrealm@host.com");
    let h = ha1(Algorithm::MD5, b"Mufasa", &realm, b"Circle Of Life");
    assert!(verify(&a, b"GET", &h));
    assert!(!verify(&a, b"POST", &h));
    let wrong = ha1(Algorithm::MD5, b"Mufasa", &realm, b"circle of life");
    assert!(!verify(&a, b"GET", &wrong));
    // An MD5 answer is not checked against a SHA-256 HA1.
    let sha = ha1(Algorithm::SHA256, b"Mufasa", &realm, b"Circle Of Life");
    assert!(!verify(&a, b"GET", &sha));
}

#[test]
fn rfc7616_examples_for_sha256_and_md5() {
    // RFC 7616 §3.9.1: the same request answered with SHA-256 and with MD5.
    for (alg, expected) in [
        (
            "SHA-256",
            &b"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"[..],
        ),
        ("MD5", b"8ca523f5e9506fed4657c9700eebdbec"),
    ] {
        let ch = format!(
            r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={alg}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#
        );
        let out = answer(
            ch.as_bytes(),
            b"Mufasa",
            b"Circle of Life",
            b"GET",
            b"/dir/index.html",
            b"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        );
        let a = AuthParams::parse(&out).unwrap();
        assert_eq!(a.response.unwrap().raw(), expected, "{alg}");
        assert_eq!(a.algorithm.unwrap().raw(), alg.as_bytes());
        let algorithm = Algorithm::parse(alg.as_bytes()).unwrap();
        let realm = QStr::new(b"http-auth@example.org");
        assert!(verify(
            &a,
            b"GET",
            &ha1(algorithm, b"Mufasa", &realm, b"Circle of Life")
        ));
    }
}

#[test]
fn sha512_256_and_the_sess_forms() {
    // RFC 7616 §3.9.2's inputs (the response there is a known erratum; this one is
    // OpenSSL's SHA-512/256 over the same inputs).
    let out = answer(
        br#"Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK""#,
        "Jäsøn Doe".as_bytes(),
        b"Secret, or not?",
        b"GET",
        b"/doe.json",
        b"NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v",
    );
    let a = AuthParams::parse(&out).unwrap();
    assert_eq!(
        a.response.unwrap().raw(),
        b"3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"
    );
    // SHA-256-sess: HA1 bound to nonce and cnonce (value from Python's hashlib).
    let uri = b"sip:34020000002000000001@3402000000";
    let out = answer(
        br#"Digest realm="3402000000", nonce="abc", qop="auth", algorithm=sha-256-SESS"#,
        b"34020000001320000001",
        b"12345678",
        b"REGISTER",
        uri,
        b"cn",
    );
    let a = AuthParams::parse(&out).unwrap();
    assert_eq!(
        a.response.unwrap().raw(),
        b"ab13bd1b436b4ad45292be301ac9bb065aed91d668fa86fe1a30dd5be38dcf3d"
    );
    assert_eq!(a.algorithm.unwrap().raw(), b"SHA-256-sess");
    let realm = QStr::new(b"3402000000");
    for alg in Algorithm::ALL {
        let h = ha1(alg, b"34020000001320000001", &realm, b"12345678");
        assert_eq!(h.as_bytes().len(), alg.hash.hex_len());
        for qop in [true, false] {
            let mut ch = Vec::new();
            write_challenge(&mut ch, b"3402000000", b"n0", None, qop, false, alg);
            let mut out = Vec::new();
            let ch = AuthParams::parse(&ch).unwrap();
            write_authorization(
                &mut out,
                &ch,
                b"34020000001320000001",
                b"12345678",
                b"REGISTER",
                uri,
                3,
                b"c9",
            )
            .unwrap();
            let a = AuthParams::parse(&out).unwrap();
            assert!(verify(&a, b"REGISTER", &h), "{alg} qop {qop}");
            // A -sess answer carries its cnonce even without qop; without it, no match.
            assert_eq!(a.cnonce.is_some(), qop || alg.sess, "{alg} qop {qop}");
            if alg.sess && !qop {
                let text = String::from_utf8(out)
                    .unwrap()
                    .replace(", cnonce=\"c9\"", "");
                assert!(!verify(
                    &AuthParams::parse(text.as_bytes()).unwrap(),
                    b"REGISTER",
                    &h
                ));
            }
        }
    }
}

#[test]
fn algorithm_names() {
    for (i, alg) in Algorithm::ALL.into_iter().enumerate() {
        assert_eq!(alg.index(), i);
        assert_eq!(Algorithm::parse(alg.name().as_bytes()), Some(alg));
        assert_eq!(alg.name().to_lowercase().parse::<Algorithm>(), Ok(alg));
    }
    assert_eq!(Algorithm::parse(b"SHA-1"), None);
    let e = "sha-1".parse::<Algorithm>().unwrap_err();
    assert!(e.contains("SHA-512-256-sess"), "{e}");
    let none = AuthParams::parse(b"Digest realm=\"r\", nonce=\"n\"").unwrap();
    assert_eq!(Algorithm::of(&none), Some(Algorithm::MD5));
    let quoted = AuthParams::parse(b"Digest realm=\"r\", algorithm=\"SHA-256\"").unwrap();
    assert_eq!(Algorithm::of(&quoted), Some(Algorithm::SHA256));
}

#[test]
fn no_qop_and_missing_algorithm_mean_plain_md5() {
    let out = answer(
        br#"Digest realm="3402000000",nonce="c98f6d56cb2ab8e6""#,
        b"34020000001320000001",
        b"123456",
        b"REGISTER",
        b"sip:34020000002000000001@3402000000:5060",
        b"x",
    );
    let a = AuthParams::parse(&out).unwrap();
    // The response the SPVMN sample device sent for password 123456.
    assert_eq!(
        a.response.unwrap().raw(),
        b"79d8846430436131196c50746cd97fa5"
    );
    assert!(a.qop.is_none() && a.cnonce.is_none());
}

#[test]
fn rejects_what_it_cannot_answer() {
    let mut out = Vec::new();
    let mut try_ = |v: &[u8]| {
        let p = AuthParams::parse(v).unwrap();
        write_authorization(&mut out, &p, b"u", b"p", b"REGISTER", b"sip:x", 1, b"c")
    };
    assert_eq!(try_(b"Basic realm=\"x\""), Err(DigestError::NotDigest));
    assert_eq!(
        try_(b"Digest realm=\"x\", nonce=\"n\", algorithm=SHA-1"),
        Err(DigestError::UnsupportedAlgorithm)
    );
    assert_eq!(try_(b"Digest realm=\"x\""), Err(DigestError::MissingParam));
}

/// A 401 or 407 with these challenge headers.
fn response(code: u16, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut r = format!("SIP/2.0 {code} Unauthorized\r\nCSeq: 1 REGISTER\r\n");
    for (n, v) in headers {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    r.push_str("Content-Length: 0\r\n\r\n");
    r.into_bytes()
}

fn chosen(raw: &[u8]) -> Result<(Algorithm, bool, Vec<u8>), DigestError> {
    let mut h = [Header::EMPTY; 16];
    let m = parse_datagram(raw, &mut h, &Limits::default())
        .unwrap()
        .unwrap();
    choose(&m).map(|c| (c.algorithm, c.proxy, c.params.nonce.unwrap().raw().to_vec()))
}

#[test]
fn choose_takes_the_first_supported_challenge() {
    const WWW: &str = "WWW-Authenticate";
    const PROXY: &str = "Proxy-Authenticate";
    // SHA-256 first, MD5 second: SHA-256 (both supported, the first wins).
    let two = response(
        401,
        &[
            (WWW, r#"Digest realm="r", nonce="a", algorithm=SHA-256"#),
            (WWW, r#"Digest realm="r", nonce="b", algorithm=MD5"#),
        ],
    );
    assert_eq!(chosen(&two), Ok((Algorithm::SHA256, false, b"a".to_vec())));
    // An unsupported algorithm first: the next one.
    let skip = response(
        401,
        &[
            (WWW, r#"Digest realm="r", nonce="a", algorithm=SHA-1"#),
            (WWW, r#"Basic realm="r""#),
            (WWW, r#"Digest realm="r", nonce="c""#),
        ],
    );
    assert_eq!(chosen(&skip), Ok((Algorithm::MD5, false, b"c".to_vec())));
    // A 407: Proxy-Authenticate, answered in Proxy-Authorization.
    let proxy = response(
        407,
        &[(PROXY, r#"Digest realm="r", nonce="p", qop="auth""#)],
    );
    assert_eq!(chosen(&proxy), Ok((Algorithm::MD5, true, b"p".to_vec())));
    let mut h = [Header::EMPTY; 16];
    let m = parse_datagram(&proxy, &mut h, &Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(choose(&m).unwrap().answer_header(), b"Proxy-Authorization");
    // Nothing answerable: the most telling reason.
    let none = response(
        401,
        &[
            (WWW, r#"Basic realm="r""#),
            (WWW, r#"Digest realm="r", nonce="a", algorithm=SHA-1"#),
            (WWW, r#"Digest realm="r""#),
        ],
    );
    assert_eq!(chosen(&none), Err(DigestError::UnsupportedAlgorithm));
    assert_eq!(chosen(&response(401, &[])), Err(DigestError::NoChallenge));
    assert_eq!(
        chosen(&response(401, &[(WWW, "Basic realm=\"r\"")])),
        Err(DigestError::NotDigest)
    );
}

#[test]
fn challenge_round_trip_and_verify_variants() {
    let mut c = Vec::new();
    write_challenge(
        &mut c,
        b"3402000000",
        b"abc",
        Some(b"op"),
        true,
        true,
        Algorithm::MD5,
    );
    let ch = AuthParams::parse(&c).unwrap();
    assert!(ch.offers_qop_auth() && ch.is_stale());
    let mut a = Vec::new();
    write_authorization(
        &mut a,
        &ch,
        b"dev",
        b"12345678",
        b"REGISTER",
        b"sip:s@d",
        7,
        b"cn",
    )
    .unwrap();
    let auth = AuthParams::parse(&a).unwrap();
    let h = ha1(
        Algorithm::MD5,
        b"dev",
        &QStr::new(b"3402000000"),
        b"12345678",
    );
    assert!(verify(&auth, b"REGISTER", &h));
    // Uppercase hex in the response is accepted.
    let upper = String::from_utf8(a.clone()).unwrap();
    let r = std::str::from_utf8(auth.response.unwrap().raw())
        .unwrap()
        .to_string();
    let upper = upper.replace(&r, &r.to_uppercase());
    assert!(verify(
        &AuthParams::parse(upper.as_bytes()).unwrap(),
        b"REGISTER",
        &h
    ));
    // qop=auth without cnonce is refused.
    let stripped = String::from_utf8(a).unwrap().replace(", cnonce=\"cn\"", "");
    assert!(!verify(
        &AuthParams::parse(stripped.as_bytes()).unwrap(),
        b"REGISTER",
        &h
    ));
}
