//! The kernel's share of a UDP registration generator on this machine, with no SIP in it.
//!
//! A digest registration is four datagrams: REGISTER out, 401 back, REGISTER with
//! Authorization out, 200 back. `client` exchanges exactly that many datagrams of those sizes
//! with `echo`, on gbswarm's event-loop model (one mio poll, an absolute start schedule, every
//! reply answered as soon as it is read), but parses, hashes and records nothing. Its CPU is
//! therefore what any generator pays the kernel for the same exchange at the same rate: the
//! floor under `benches/compare.sh`'s efficiency table. With a TICK in microseconds it instead
//! wakes at most once per tick and handles everything that arrived meanwhile (replies wait in
//! the socket up to a tick): the floor for a generator that trades latency for batching.
//!
//! ```text
//! udp_floor echo 127.0.0.1:PORT                         # the peer; runs until killed
//! udp_floor client 127.0.0.1:PORT REGISTRATIONS RATE [TICK]   # prints how many completed
//! ```
//!
//! Measure the client's CPU from outside, as for the generators (`/usr/bin/time`).
//! ```text
//! ```
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Sizes of gbswarm's own messages for a 20-digit device: REGISTER, 401, authorized
/// REGISTER, 200.
const SIZES: [usize; 4] = [420, 470, 640, 420];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: udp_floor echo ADDR | udp_floor client ADDR REGISTRATIONS RATE [TICK_US]";
    let addr: SocketAddr = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| fail(usage));
    let result = match args[0].as_str() {
        "echo" => echo(addr),
        "client" => {
            let n: u64 = args
                .get(2)
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| fail(usage));
            let rate: f64 = args
                .get(3)
                .and_then(|a| a.parse().ok())
                .filter(|&r: &f64| r > 0.0)
                .unwrap_or_else(|| fail(usage));
            let tick = match args.get(4) {
                None => 0,
                Some(t) => t.parse().unwrap_or_else(|_| fail(usage)),
            };
            client(addr, n, rate, Duration::from_micros(tick))
        }
        _ => fail(usage),
    };
    if let Err(e) = result {
        fail(&format!("udp_floor: {e}"));
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("{msg}");
    std::process::exit(2)
}

/// Answers each datagram with one of the reply's size, carrying the leg byte back.
fn echo(addr: SocketAddr) -> std::io::Result<()> {
    let sock = std::net::UdpSocket::bind(addr)?;
    eprintln!("listening on {}", sock.local_addr()?);
    let mut buf = [0u8; 2048];
    let mut out = [b'r'; 2048];
    loop {
        let (n, from) = sock.recv_from(&mut buf)?;
        let leg = buf[..n].first().copied().unwrap_or(0);
        let size = if leg == 0 { SIZES[1] } else { SIZES[3] };
        out[0] = leg;
        sock.send_to(&out[..size], from)?;
    }
}

/// Runs `n` registrations at `rate` per second, waking at most once per `tick` if it is not
/// zero; prints how many completed.
fn client(addr: SocketAddr, n: u64, rate: f64, tick: Duration) -> std::io::Result<()> {
    let mut sock = UdpSocket::bind("127.0.0.1:0".parse().expect("loopback"))?;
    sock.connect(addr)?;
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut sock, Token(0), Interest::READABLE)?;
    let mut events = Events::with_capacity(64);
    let first = [0u8; 2048];
    let mut second = [b'a'; 2048];
    second[0] = 1;
    let mut buf = [0u8; 2048];
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(n as f64 / rate) + Duration::from_secs(5);
    let (mut started, mut done) = (0u64, 0u64);
    let mut last_pass = t0;
    while done < n && Instant::now() < deadline {
        if !tick.is_zero() {
            // Sleep out the rest of this tick: what arrives meanwhile waits in the socket.
            std::thread::sleep(tick.saturating_sub(last_pass.elapsed()));
            last_pass = Instant::now();
        }
        let elapsed = t0.elapsed().as_secs_f64();
        while started < n && started as f64 / rate <= elapsed {
            sock.send(&first[..SIZES[0]])?;
            started += 1;
        }
        let next = Duration::from_secs_f64(started as f64 / rate);
        let timeout = if !tick.is_zero() {
            Duration::ZERO
        } else if started < n {
            next.saturating_sub(t0.elapsed())
        } else {
            Duration::from_millis(100)
        };
        poll.poll(&mut events, Some(timeout))?;
        if events.is_empty() {
            continue;
        }
        loop {
            match sock.recv(&mut buf) {
                Ok(len) if len > 0 && buf[0] == 0 => {
                    sock.send(&second[..SIZES[2]])?;
                }
                Ok(_) => done += 1,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
    }
    println!("{done}");
    Ok(())
}
