//! Batched datagram I/O, the one way both hosts move UDP: [`RecvBatch`] takes up to [`BATCH`]
//! datagrams off a socket in one `recvmmsg`, each with its source address and whether it was
//! truncated; [`SendBatch`] queues datagrams, each with its destination, and sends them with
//! one `sendmmsg` per socket and [`BATCH`] datagrams.
//!
//! The registrar's host receives a batch, answers every datagram of it into one `SendBatch`
//! and sends the answers together; a generator worker receives the same way on its sockets and
//! queues what its cameras send on shared sockets until it next waits for the network.
//!
//! Nothing here allocates after construction: the receive slots, the system call headers and
//! the send queue are sized once (the queue grows to its cap once and keeps the memory); the
//! per-call tables are arrays on the stack. Nothing here parses, and nothing panics on what a
//! peer sends. `recvmmsg` comes from `nix` and `sendmmsg` from `rustix` (nix's `sendmmsg`
//! reports its count only through an iterator that reads address slots it never filled), both
//! safe wrappers, so the crate stays free of `unsafe`.

use crate::sip::Batch;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
use rustix::net::addr::SocketAddrArg;
use rustix::net::{MMsgHdr, SendAncillaryBuffer, SendFlags, SocketAddrAny};
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// Datagrams per system call, each way.
pub const BATCH: usize = 32;

/// Up to this many datagrams to send, the call's tables are built this small.
const SMALL: usize = 8;

/// Bytes of room for each received datagram by default: any UDP payload fits (IPv4's largest
/// is 65,507 bytes, IPv6's 65,527), so nothing is cut short. Only the pages the kernel writes
/// become resident, a page or two per slot for SIP.
pub const ROOM: usize = 65_536;

/// One received datagram.
#[derive(Clone, Copy, Debug)]
pub struct Datagram<'a> {
    /// Its bytes: all of it, or the first [`RecvBatch::room`] bytes if it was truncated.
    pub bytes: &'a [u8],
    /// Who sent it.
    pub from: SocketAddr,
    /// It was longer than the room it had and its tail is lost (`MSG_TRUNC`): what is left
    /// must not be taken for a whole message.
    pub truncated: bool,
}

#[derive(Clone, Copy, Debug)]
struct Got {
    slot: usize,
    len: usize,
    from: SocketAddr,
    truncated: bool,
}

const NOBODY: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));

/// Up to [`BATCH`] datagrams received by one system call, kept until the next call.
pub struct RecvBatch {
    buf: Vec<u8>,
    room: usize,
    slots: usize,
    hdrs: MultiHeaders<SockaddrStorage>,
    got: [Got; BATCH],
    n: usize,
    returned: usize,
}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBatch")
            .field("room", &self.room)
            .field("slots", &self.slots)
            .field("len", &self.n)
            .finish()
    }
}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch::new(BATCH, ROOM)
    }
}

impl RecvBatch {
    /// Room for `slots` datagrams (at most [`BATCH`], at least 1) of `room` bytes each (at
    /// least 1); longer ones arrive truncated.
    pub fn new(slots: usize, room: usize) -> RecvBatch {
        let slots = slots.clamp(1, BATCH);
        let room = room.max(1);
        let got = Got {
            slot: 0,
            len: 0,
            from: NOBODY,
            truncated: false,
        };
        RecvBatch {
            buf: vec![0; slots * room],
            room,
            slots,
            hdrs: MultiHeaders::preallocate(slots, None),
            got: [got; BATCH],
            n: 0,
            returned: 0,
        }
    }

    /// Bytes of room each datagram has.
    pub fn room(&self) -> usize {
        self.room
    }

    /// Receives what the socket holds, up to the batch's slots, without waiting; the
    /// datagrams of an earlier call are forgotten. `Ok(n)` has `n >= 1` (a datagram whose
    /// source is not an IP address, which an IP socket never gives, is left out, so `n` may
    /// be 0 then); an empty socket is [`io::ErrorKind::WouldBlock`]; other errors are the
    /// socket's (ICMP port unreachable on a connected socket: `ConnectionRefused`).
    pub fn recv(&mut self, sock: &impl AsRawFd) -> io::Result<usize> {
        self.n = 0;
        self.returned = 0;
        let mut chunks = self.buf.chunks_exact_mut(self.room);
        let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] =
            std::array::from_fn(|_| [IoSliceMut::new(chunks.next().unwrap_or_default())]);
        let res = recvmmsg(
            sock.as_raw_fd(),
            &mut self.hdrs,
            iovs[..self.slots].iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        )
        .map_err(io::Error::from)?;
        let mut n = 0;
        for (i, m) in res.enumerate() {
            self.returned = i + 1;
            let Some(from) = m.address.as_ref().and_then(std_addr) else {
                continue;
            };
            if let Some(g) = self.got.get_mut(n) {
                *g = Got {
                    slot: i,
                    len: m.bytes.min(self.room),
                    from,
                    truncated: m.flags.contains(MsgFlags::MSG_TRUNC),
                };
                n += 1;
            }
        }
        self.n = n;
        Ok(n)
    }

    /// True when the last [`recv`](Self::recv) stopped because the socket had nothing more
    /// (it filled fewer slots than it had): an edge-triggered poll wakes again for anything
    /// new, so an unconnected socket needs no further call. A connected socket should still
    /// be read until [`io::ErrorKind::WouldBlock`]: the kernel keeps an error (an ICMP port
    /// unreachable) that came after some datagrams for the next call, and does not wake the
    /// poll for it again.
    pub fn drained(&self) -> bool {
        self.returned < self.slots
    }

    /// Number of datagrams received by the last call.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True if the last call received nothing.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Datagram `i` of the last call.
    pub fn get(&self, i: usize) -> Option<Datagram<'_>> {
        let g = self.got.get(..self.n)?.get(i)?;
        let start = g.slot * self.room;
        Some(Datagram {
            bytes: self.buf.get(start..start + g.len)?,
            from: g.from,
            truncated: g.truncated,
        })
    }

    /// Every datagram of the last call, in the order received.
    pub fn iter(&self) -> impl Iterator<Item = Datagram<'_>> {
        (0..self.n).filter_map(|i| self.get(i))
    }
}

fn std_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
}

/// Where one queued datagram goes.
#[derive(Clone, Copy, Debug)]
struct Dest {
    to: SocketAddr,
    sock: u32,
    tag: u32,
}

/// Datagrams waiting to be sent, each with its destination, the socket it leaves from (an
/// index the owner resolves) and a tag of the owner's (the camera slot) that errors are
/// reported with. [`flush`](Self::flush) sends them in order per socket, [`BATCH`] at a time.
#[derive(Debug, Default)]
pub struct SendBatch {
    msgs: Batch,
    dests: Vec<Dest>,
    order: Vec<u32>,
    cap: usize,
}

impl SendBatch {
    /// A queue the owner flushes once it holds `cap` datagrams (see
    /// [`is_full`](Self::is_full)).
    pub fn new(cap: usize) -> SendBatch {
        let cap = cap.max(1);
        SendBatch {
            msgs: Batch::new(),
            dests: Vec::with_capacity(cap),
            order: Vec::with_capacity(cap),
            cap,
        }
    }

    /// Queues `bytes` for `to`, from socket `sock`, tagged `tag`.
    pub fn push(&mut self, sock: u32, tag: u32, to: SocketAddr, bytes: &[u8]) {
        self.push_with(sock, tag, to, |b| b.push(bytes));
    }

    /// Queues, for `to` from socket `sock` tagged `tag`, every message `write` adds to the
    /// batch it is given (which holds earlier messages: it may append, never clear).
    pub fn push_with<R>(
        &mut self,
        sock: u32,
        tag: u32,
        to: SocketAddr,
        write: impl FnOnce(&mut Batch) -> R,
    ) -> R {
        let before = self.msgs.len();
        let r = write(&mut self.msgs);
        for _ in before..self.msgs.len() {
            self.dests.push(Dest { to, sock, tag });
        }
        r
    }

    /// Datagrams queued.
    pub fn len(&self) -> usize {
        self.dests.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.dests.is_empty()
    }

    /// True when the queue holds its cap and should be flushed.
    pub fn is_full(&self) -> bool {
        self.dests.len() >= self.cap
    }

    /// Datagram `i` of the queue and where it goes.
    pub fn get(&self, i: usize) -> Option<(&[u8], SocketAddr)> {
        Some((self.msgs.get(i)?, self.dests.get(i)?.to))
    }

    /// Sends everything queued and empties the queue: the datagrams of each socket in the
    /// order queued, one `sendmmsg` per [`BATCH`]. `socket(sock)` gives the socket of an
    /// index (none: its datagrams are dropped and reported as `NotFound`); every datagram
    /// the kernel refuses is reported to `failed` with its tag and the error, and the rest
    /// are still sent (as separate sends would have been).
    pub fn flush<'s>(
        &mut self,
        mut socket: impl FnMut(u32) -> Option<BorrowedFd<'s>>,
        mut failed: impl FnMut(u32, io::Error),
    ) {
        let n = self.dests.len();
        if n == 0 {
            return;
        }
        self.order.clear();
        self.order.extend(0..n as u32);
        let first = self.dests[0].sock;
        if self.dests.iter().any(|d| d.sock != first) {
            // Grouped by socket, queue order kept within each (unstable sort: no buffer).
            let dests = &self.dests;
            self.order
                .sort_unstable_by_key(|&i| (dests.get(i as usize).map_or(0, |d| d.sock), i));
        }
        let mut at = 0;
        while at < n {
            let sock = self.dest(at).sock;
            let mut end = at + 1;
            while end < n && self.dest(end).sock == sock {
                end += 1;
            }
            match socket(sock) {
                Some(fd) => self.send_run(fd, at, end, &mut failed),
                None => {
                    for k in at..end {
                        let tag = self.dest(k).tag;
                        failed(tag, io::ErrorKind::NotFound.into());
                    }
                }
            }
            at = end;
        }
        self.msgs.clear();
        self.dests.clear();
    }

    /// The destination of the `k`-th datagram in send order.
    fn dest(&self, k: usize) -> Dest {
        let i = self.order.get(k).map_or(usize::MAX, |&i| i as usize);
        self.dests.get(i).copied().unwrap_or(Dest {
            to: NOBODY,
            sock: u32::MAX,
            tag: u32::MAX,
        })
    }

    /// Sends datagrams `at..end` of the send order, all from `fd`.
    fn send_run(
        &self,
        fd: BorrowedFd<'_>,
        mut at: usize,
        end: usize,
        failed: &mut impl FnMut(u32, io::Error),
    ) {
        while at < end {
            // The call's tables are arrays on the stack: small ones for the usual few.
            let r = match end - at {
                1..=SMALL => self.send_chunk::<SMALL>(fd, at, end),
                _ => self.send_chunk::<BATCH>(fd, at, end),
            };
            match r {
                Ok(sent) if sent > 0 => at += sent,
                Ok(_) => {
                    // Nothing taken and no error: report the first and go on.
                    failed(self.dest(at).tag, io::ErrorKind::WriteZero.into());
                    at += 1;
                }
                Err(e) => {
                    // The first datagram of the call failed; the others are tried again.
                    failed(self.dest(at).tag, e);
                    at += 1;
                }
            }
        }
    }

    /// One `sendmmsg` of up to `N` datagrams from `at` (before `end`) of the send order; how
    /// many the kernel took.
    fn send_chunk<const N: usize>(
        &self,
        fd: BorrowedFd<'_>,
        at: usize,
        end: usize,
    ) -> io::Result<usize> {
        let count = (end - at).min(N);
        let msg = |k: usize| {
            let i = self.order.get(at + k).map_or(usize::MAX, |&i| i as usize);
            (self.msgs.get(i).unwrap_or_default(), self.dest(at + k).to)
        };
        let none = NOBODY.as_any();
        let addrs: [SocketAddrAny; N] = std::array::from_fn(|k| {
            if k < count {
                msg(k).1.as_any()
            } else {
                none.clone()
            }
        });
        let iovs: [[IoSlice<'_>; 1]; N] =
            std::array::from_fn(|k| [IoSlice::new(if k < count { msg(k).0 } else { &[] })]);
        let mut controls: [SendAncillaryBuffer<'_, '_, '_>; N] =
            std::array::from_fn(|_| SendAncillaryBuffer::default());
        let mut k = 0;
        let mut hdrs = controls.each_mut().map(|c| {
            let h = MMsgHdr::new_with_addr(&addrs[k], &iovs[k], c);
            k += 1;
            h
        });
        let sent = rustix::net::sendmmsg(fd.as_fd(), &mut hdrs[..count], SendFlags::DONTWAIT)?;
        Ok(sent.min(count))
    }
}
