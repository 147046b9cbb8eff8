//! SIP parsing: gbswarm's zero-copy parser against `rsip` 0.4 and `ezk-sip-types` 0.6.
//!
//! Three GB28181 messages from `tests/fixtures` (a REGISTER with Authorization, a 401 with
//! WWW-Authenticate, a MESSAGE Keepalive with an XML body), one criterion group each, and in
//! every group three functions (`gbswarm`, `ezk-sip-types`, `rsip`) doing the same work on the
//! same bytes: parse the start line, split the headers, frame the body, then extract the top
//! Via branch, the From tag, the To tag (if any), CSeq number and method, Call-ID, Expires (if
//! any) and the digest parameters (Authorization username, realm, nonce, uri and response in a
//! request; WWW-Authenticate realm, nonce and qop in a response). Every extracted value goes
//! through `std::hint::black_box`. Each library uses its typed accessors where it has them.
//!
//! Before timing, each function's extracted values are checked against the expected ones, so a
//! library that mis-parses a message fails the benchmark instead of being timed on an error path.
//!
//! A fourth group, `digest-verify`, times what a registrar pays to check an answer with a stored
//! HA1 (`sip::digest::verify`: HA2, the response, a constant-time compare) for MD5, SHA-256,
//! SHA-512-256 and SHA-256-sess, each on a REGISTER's Authorization with qop=auth, checked to
//! verify before it is timed.
//!
//! Run with: `cargo bench --bench parse`

use std::fmt::Display;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
// `bytes` is not a dev-dependency of this crate, so ezk's (hidden) re-export of its type is used.
use ezk_sip_types::_private_reexport::Bytes;
use ezk_sip_types::header::typed::{
    AuthChallenge, AuthResponse, CSeq as EzkCSeq, CallID, ContentLength, Expires, FromTo, Username,
    Via as EzkVia,
};
use ezk_sip_types::msg::{Line, MessageLine, PullParser};
use ezk_sip_types::parse::Parse;
use ezk_sip_types::{Headers, Name};
use gbswarm::sip::digest::{self, Algorithm};
use gbswarm::sip::{AuthParams, Header, Limits, QStr, parse_datagram};
use rsip::headers::ToTypedHeader;
use rsip::headers::untyped::UntypedHeader;
use rsip::param::Param;

const REGISTER: &[u8] = include_bytes!("../tests/fixtures/register-authorization-spvmn.sip");
const CHALLENGE: &[u8] = include_bytes!("../tests/fixtures/401-qop-auth-srs.sip");
const KEEPALIVE: &[u8] = include_bytes!("../tests/fixtures/keepalive-ipcamera.sip");

/// One extracted value, handed to a sink: `black_box` while timing, a recorder while checking.
#[derive(Clone, Copy)]
enum Val<'a> {
    Bytes(&'a [u8]),
    Num(u32),
    /// A typed value (method, qop, URI) the library gives only as its own type.
    Text(&'a dyn Display),
    Absent,
}

fn bytes_or_absent(v: Option<&[u8]>) -> Val<'_> {
    v.map_or(Val::Absent, Val::Bytes)
}

fn qstr(v: Option<QStr<'_>>) -> Val<'_> {
    v.map_or(Val::Absent, |q| Val::Bytes(q.raw()))
}

// ---------------------------------------------------------------------------------------------
// gbswarm

fn gbswarm_parse<'b>(
    bytes: &'b [u8],
    headers: &mut [Header<'b>],
    limits: &Limits,
    out: &mut impl FnMut(&'static str, Val<'_>),
) {
    let msg = parse_datagram(bytes, headers, limits)
        .expect("gbswarm: parse error")
        .expect("gbswarm: keep-alive");

    out(
        "via.branch",
        bytes_or_absent(msg.via().expect("gbswarm: Via").branch()),
    );
    out(
        "from.tag",
        bytes_or_absent(msg.from().expect("gbswarm: From").tag()),
    );
    out("to.tag", bytes_or_absent(msg.to().and_then(|t| t.tag())));
    let cseq = msg.cseq().expect("gbswarm: CSeq");
    out("cseq.seq", Val::Num(cseq.seq));
    out("cseq.method", Val::Bytes(cseq.method.as_bytes()));
    out("call-id", bytes_or_absent(msg.call_id()));
    out("expires", msg.expires().map_or(Val::Absent, Val::Num));
    if msg.is_request() {
        if let Some(a) = msg.authorization() {
            out("auth.username", qstr(a.username));
            out("auth.realm", qstr(a.realm));
            out("auth.nonce", qstr(a.nonce));
            out("auth.uri", qstr(a.uri));
            out("auth.response", qstr(a.response));
        }
    } else if let Some(c) = msg.challenge() {
        out("challenge.realm", qstr(c.realm));
        out("challenge.nonce", qstr(c.nonce));
        out("challenge.qop", qstr(c.qop));
    }
    out("body", Val::Bytes(msg.body));
}

// ---------------------------------------------------------------------------------------------
// ezk-sip-types
//
// ezk-sip-types has no whole-message entry point; this is the loop its own transport layer
// (ezk-sip-core, `transport/parse.rs`) runs on a datagram: `PullParser` splits lines,
// `MessageLine` parses the start line, `Line` splits each header and `Headers::insert` stores it
// (which re-prints the value into a fresh string: the library offers no other way to fill
// `Headers`), then Content-Length frames the body. Typed headers are decoded on demand with
// `Headers::get`/`get_named`.
//
// ezk-sip-core copies the datagram into a `Bytes`; here the input is `'static`, so
// `Bytes::from_static` spares ezk that copy.

fn ezk_parse(bytes: &'static [u8], out: &mut impl FnMut(&'static str, Val<'_>)) {
    let buf = Bytes::from_static(bytes);
    let mut lines = PullParser::new(&buf, 0);
    let mut start = None;
    let mut headers = Headers::new();
    for line in &mut lines {
        let line = line.expect("ezk: incomplete message head");
        let line = std::str::from_utf8(line).expect("ezk: line is not UTF-8");
        if start.is_none() {
            let (_, l) = MessageLine::parse(&buf)(line).expect("ezk: start line");
            start = Some(l);
        } else {
            let (_, l) = Line::parse(&buf, line).expect("ezk: header line");
            headers.insert(l.name, l.value);
        }
    }
    let start = start.expect("ezk: empty message");
    let head_end = lines.head_end();
    let body = match headers.get_named::<ContentLength>() {
        Ok(len) => &buf[head_end..head_end + len.0],
        Err(_) => &buf[head_end..],
    };

    let via: EzkVia = headers.get_named().expect("ezk: Via");
    out(
        "via.branch",
        bytes_or_absent(via.params.get_val("branch").map(|v| v.as_bytes())),
    );
    let from: FromTo = headers.get(Name::FROM).expect("ezk: From");
    out(
        "from.tag",
        bytes_or_absent(from.tag.as_ref().map(|t| t.as_bytes())),
    );
    let to = headers
        .try_get::<FromTo>(Name::TO)
        .map(|r| r.expect("ezk: To"));
    out(
        "to.tag",
        bytes_or_absent(
            to.as_ref()
                .and_then(|t| t.tag.as_ref())
                .map(|t| t.as_bytes()),
        ),
    );
    let cseq: EzkCSeq = headers.get_named().expect("ezk: CSeq");
    out("cseq.seq", Val::Num(cseq.cseq));
    out("cseq.method", Val::Text(&cseq.method));
    let call_id: CallID = headers.get_named().expect("ezk: Call-ID");
    out("call-id", Val::Bytes(call_id.0.as_bytes()));
    let expires = headers
        .try_get_named::<Expires>()
        .map(|r| r.expect("ezk: Expires"));
    out("expires", expires.map_or(Val::Absent, |e| Val::Num(e.0)));
    if start.is_request() {
        if let Some(auth) = headers.try_get::<AuthResponse>(Name::AUTHORIZATION) {
            let AuthResponse::Digest(d) = auth.expect("ezk: Authorization") else {
                panic!("ezk: Authorization is not Digest");
            };
            let (Username::Username(user) | Username::UsernameNonASCII(user)) = &d.username;
            out("auth.username", Val::Bytes(user.as_bytes()));
            out("auth.realm", Val::Bytes(d.realm.as_bytes()));
            out("auth.nonce", Val::Bytes(d.nonce.as_bytes()));
            out("auth.uri", Val::Bytes(d.uri.as_bytes()));
            out("auth.response", Val::Bytes(d.response.as_bytes()));
        }
    } else if let Some(chal) = headers.try_get::<AuthChallenge>(Name::WWW_AUTHENTICATE) {
        let AuthChallenge::Digest(d) = chal.expect("ezk: WWW-Authenticate") else {
            panic!("ezk: WWW-Authenticate is not Digest");
        };
        out("challenge.realm", Val::Bytes(d.realm.as_bytes()));
        out("challenge.nonce", Val::Bytes(d.nonce.as_bytes()));
        // A challenge may offer several qop values; ezk splits them into a list.
        out(
            "challenge.qop",
            d.qop.first().map_or(Val::Absent, |q| Val::Text(q)),
        );
    }
    out("body", Val::Bytes(body));
}

// ---------------------------------------------------------------------------------------------
// rsip
//
// `SipMessage::try_from(&[u8])` tokenises and builds the message with untyped headers (owned
// strings); typed headers come from `ToTypedHeader`. The `HeadersExt` accessors plus `.typed()`
// would clone each header string first, so instead the owned headers are walked once and
// converted with `into_typed()`, which skips those clones. rsip has no typed Call-ID or Expires:
// Call-ID is read as the untyped value and Expires through its `seconds()` helper, as its API
// intends.

fn rsip_parse(bytes: &[u8], out: &mut impl FnMut(&'static str, Val<'_>)) {
    let msg = rsip::SipMessage::try_from(bytes).expect("rsip: parse error");
    let (is_request, headers, body) = match msg {
        rsip::SipMessage::Request(r) => (true, r.headers, r.body),
        rsip::SipMessage::Response(r) => (false, r.headers, r.body),
    };

    let mut via = None;
    let mut from = None;
    let mut to = None;
    let mut cseq = None;
    let mut call_id = None;
    let mut expires = None;
    let mut auth = None;
    let mut chal = None;
    for h in headers {
        match h {
            rsip::Header::Via(v) if via.is_none() => {
                via = Some(v.into_typed().expect("rsip: Via"));
            }
            rsip::Header::From(v) if from.is_none() => {
                from = Some(v.into_typed().expect("rsip: From"));
            }
            rsip::Header::To(v) if to.is_none() => to = Some(v.into_typed().expect("rsip: To")),
            rsip::Header::CSeq(v) if cseq.is_none() => {
                cseq = Some(v.into_typed().expect("rsip: CSeq"));
            }
            rsip::Header::CallId(v) if call_id.is_none() => call_id = Some(v),
            rsip::Header::Expires(v) if expires.is_none() => {
                expires = Some(v.seconds().expect("rsip: Expires"));
            }
            rsip::Header::Authorization(v) if is_request && auth.is_none() => {
                auth = Some(v.into_typed().expect("rsip: Authorization"));
            }
            rsip::Header::WwwAuthenticate(v) if !is_request && chal.is_none() => {
                chal = Some(v.into_typed().expect("rsip: WWW-Authenticate"));
            }
            _ => {}
        }
    }

    let via = via.expect("rsip: no Via");
    let branch = via.params.iter().find_map(|p| match p {
        Param::Branch(b) => Some(b.value().as_bytes()),
        _ => None,
    });
    out("via.branch", bytes_or_absent(branch));
    let from = from.expect("rsip: no From");
    out(
        "from.tag",
        bytes_or_absent(from.tag().map(|t| t.value().as_bytes())),
    );
    out(
        "to.tag",
        bytes_or_absent(
            to.as_ref()
                .and_then(|t| t.tag())
                .map(|t| t.value().as_bytes()),
        ),
    );
    let cseq = cseq.expect("rsip: no CSeq");
    out("cseq.seq", Val::Num(cseq.seq));
    out("cseq.method", Val::Text(&cseq.method));
    out(
        "call-id",
        bytes_or_absent(call_id.as_ref().map(|c| c.value().as_bytes())),
    );
    out("expires", expires.map_or(Val::Absent, Val::Num));
    if let Some(a) = &auth {
        out("auth.username", Val::Bytes(a.username.as_bytes()));
        out("auth.realm", Val::Bytes(a.realm.as_bytes()));
        out("auth.nonce", Val::Bytes(a.nonce.as_bytes()));
        // rsip parses the digest-uri into a `Uri`.
        out("auth.uri", Val::Text(&a.uri));
        out("auth.response", Val::Bytes(a.response.as_bytes()));
    }
    if let Some(c) = &chal {
        out("challenge.realm", Val::Bytes(c.realm.as_bytes()));
        out("challenge.nonce", Val::Bytes(c.nonce.as_bytes()));
        out(
            "challenge.qop",
            c.qop.as_ref().map_or(Val::Absent, |q| Val::Text(q)),
        );
    }
    out("body", Val::Bytes(&body));
}

// ---------------------------------------------------------------------------------------------
// Checking and timing

/// Runs `f` once and returns what it extracted, rendered as text.
fn record(f: impl FnOnce(&mut dyn FnMut(&'static str, Val<'_>))) -> Vec<(&'static str, String)> {
    let mut got = Vec::new();
    f(&mut |name, v| {
        let s = match v {
            Val::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            Val::Num(n) => n.to_string(),
            Val::Text(t) => t.to_string(),
            Val::Absent => "<absent>".to_owned(),
        };
        got.push((name, s));
    });
    got
}

fn check(lib: &str, msg: &str, got: Vec<(&'static str, String)>, want: &[(&str, &str)]) {
    let want: Vec<(&str, String)> = want.iter().map(|&(k, v)| (k, v.to_owned())).collect();
    assert_eq!(got, want, "{lib} extracted the wrong values from {msg}");
}

fn bench_message(c: &mut Criterion, name: &str, bytes: &'static [u8], want: &[(&str, &str)]) {
    let limits = Limits::default();
    let mut headers = [Header::EMPTY; 64];

    check(
        "gbswarm",
        name,
        record(|out| gbswarm_parse(bytes, &mut headers, &limits, &mut |k, v| out(k, v))),
        want,
    );
    check(
        "ezk-sip-types",
        name,
        record(|out| ezk_parse(bytes, &mut |k, v| out(k, v))),
        want,
    );
    check(
        "rsip",
        name,
        record(|out| rsip_parse(bytes, &mut |k, v| out(k, v))),
        want,
    );

    let mut sink = |k: &'static str, v: Val<'_>| {
        black_box((k, v));
    };
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("gbswarm", |b| {
        b.iter(|| gbswarm_parse(black_box(bytes), &mut headers, &limits, &mut sink));
    });
    group.bench_function("ezk-sip-types", |b| {
        b.iter(|| ezk_parse(black_box(bytes), &mut sink));
    });
    group.bench_function("rsip", |b| {
        b.iter(|| rsip_parse(black_box(bytes), &mut sink));
    });
    group.finish();
}

fn parse(c: &mut Criterion) {
    let head_end = KEEPALIVE.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let body = std::str::from_utf8(&KEEPALIVE[head_end..]).unwrap();

    bench_message(
        c,
        "register-authorization",
        REGISTER,
        &[
            ("via.branch", "z9hG4bK1887657866"),
            ("from.tag", "664773380"),
            ("to.tag", "<absent>"),
            ("cseq.seq", "2"),
            ("cseq.method", "REGISTER"),
            ("call-id", "790171336"),
            ("expires", "3600"),
            ("auth.username", "34020000001320000001"),
            ("auth.realm", "3402000000"),
            ("auth.nonce", "c98f6d56cb2ab8e6"),
            ("auth.uri", "sip:34020000002000000001@3402000000:5060"),
            ("auth.response", "79d8846430436131196c50746cd97fa5"),
            ("body", ""),
        ],
    );
    bench_message(
        c,
        "401-qop-auth",
        CHALLENGE,
        &[
            ("via.branch", "z9hG4bK802519080"),
            ("from.tag", "611442989"),
            ("to.tag", "102092689"),
            ("cseq.seq", "1"),
            ("cseq.method", "REGISTER"),
            ("call-id", "1650345118"),
            ("expires", "<absent>"),
            ("challenge.realm", "3402000000"),
            ("challenge.nonce", "f1da98bd160f3e2efe954c6eedf5f75a"),
            ("challenge.qop", "auth"),
            ("body", ""),
        ],
    );
    bench_message(
        c,
        "keepalive",
        KEEPALIVE,
        &[
            ("via.branch", "z9hG4bK1066375804"),
            ("from.tag", "1925919231"),
            ("to.tag", "<absent>"),
            ("cseq.seq", "20"),
            ("cseq.method", "MESSAGE"),
            ("call-id", "1185236415"),
            ("expires", "<absent>"),
            ("body", body),
        ],
    );
}

/// Digest verification per algorithm, with a precomputed HA1 (as a registrar storing HA1s).
fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("digest-verify");
    for alg in [
        Algorithm::MD5,
        Algorithm::SHA256,
        Algorithm::SHA512_256,
        Algorithm::SHA256_SESS,
    ] {
        let mut challenge = Vec::new();
        let nonce = b"0000ea6000000007c4b2f1e0d9a8b7c6";
        digest::write_challenge(&mut challenge, b"3402000000", nonce, None, true, false, alg);
        let challenge = AuthParams::parse(&challenge).unwrap();
        let mut answer = Vec::new();
        let (user, uri) = (
            b"34020000001320000001",
            b"sip:34020000002000000001@3402000000",
        );
        digest::write_authorization(
            &mut answer,
            &challenge,
            user,
            b"12345678",
            b"REGISTER",
            uri,
            1,
            b"0a4f113b",
        )
        .unwrap();
        let auth = AuthParams::parse(&answer).unwrap();
        let ha1 = digest::ha1(alg, user, &QStr::new(b"3402000000"), b"12345678");
        assert!(digest::verify(&auth, b"REGISTER", &ha1), "{alg}");
        group.bench_function(alg.name(), |b| {
            b.iter(|| digest::verify(black_box(&auth), b"REGISTER", black_box(&ha1)));
        });
    }
    group.finish();
}

criterion_group!(benches, parse, verify);
criterion_main!(benches);
