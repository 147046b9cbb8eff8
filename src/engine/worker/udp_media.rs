//! A worker's UDP media sends: how a frame is cut for UDP segmentation offload (GSO), and the
//! flush of the media send queue, which turns GSO off for the worker when the kernel refuses
//! it. Never builds packets (see [`crate::media`]) or decides what to send.

use super::play::MediaCounters;
use crate::net::batch::SendBatch;
use crate::net::udp::{self, UdpSock};
use std::io;
use std::os::fd::AsFd;

/// A full RTP packet over UDP (header and the largest payload): the GSO segment size, so a
/// frame's packets leave as one send cut into datagrams of this size, the last one shorter.
pub(super) const GSO_SEGMENT: usize = 12 + crate::media::rtp::MAX_PAYLOAD;

/// Most packets in one GSO send: within the kernel's segment limit and one 64 KiB datagram.
pub(super) const GSO_MOST: u64 = {
    let fit = 65_507 / GSO_SEGMENT;
    if fit < udp::GSO_MAX_SEGMENTS {
        fit as u64
    } else {
        udp::GSO_MAX_SEGMENTS as u64
    }
};

/// Sends the queued media. A GSO send the kernel refuses as such (a route or device that cannot
/// segment or checksum it) turns GSO off for the worker: the frame is lost and counted, later
/// ones go one datagram per packet.
pub(super) fn flush(
    sendq: &mut SendBatch,
    media: &UdpSock,
    counters: &mut MediaCounters,
    gso: &mut bool,
) {
    let mut refused = false;
    sendq.flush(
        |_| Some(media.sock.as_fd()),
        |_, e| {
            counters.send_errors += 1;
            refused |= gso_refused(&e);
        },
    );
    if refused && *gso {
        *gso = false;
        // The socket option applies to every send, short ones too: clear it.
        let _ = udp::set_gso(&media.sock, 0);
    }
}

/// The errors Linux gives a send it cannot segment: EIO when the route's device cannot
/// checksum it for GSO, EINVAL when the segment does not fit the route's MTU.
fn gso_refused(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(n) if n == nix::errno::Errno::EIO as i32 || n == nix::errno::Errno::EINVAL as i32
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_frame_send_fits_one_datagram_and_the_refusals_are_eio_and_einval() {
        assert_eq!(GSO_SEGMENT, 1412);
        assert_eq!(GSO_MOST, 46);
        assert!(GSO_MOST as usize * GSO_SEGMENT <= 65_507);
        let os = |e: nix::errno::Errno| io::Error::from_raw_os_error(e as i32);
        assert!(gso_refused(&os(nix::errno::Errno::EIO)));
        assert!(gso_refused(&os(nix::errno::Errno::EINVAL)));
        assert!(!gso_refused(&os(nix::errno::Errno::EAGAIN)));
        assert!(!gso_refused(&os(nix::errno::Errno::ECONNREFUSED)));
        assert!(!gso_refused(&io::ErrorKind::NotFound.into()));
    }
}
