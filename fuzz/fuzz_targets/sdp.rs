//! Fuzz the GB28181 SDP offer reader, the answer writer and the `Subject` reader: any input
//! must give an offer or a typed error, never a panic, and the answer to any accepted offer
//! must itself read as an offer with the camera's address and the offer's payload type.
#![no_main]

use gbswarm::gb::{AnswerSsrc, DeviceId, Local, Offer, Subject, write_answer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(offer) = Offer::parse(data) {
        let Ok(device) = DeviceId::parse(b"34020000001320000001") else {
            return;
        };
        let media = std::net::SocketAddr::from(([10, 0, 0, 9], 15000));
        for ssrc in [AnswerSsrc::Offered, AnswerSsrc::Own(u32::MAX)] {
            let local = Local {
                device: &device,
                media,
                ssrc,
                format: Some(b"v/2/5/25/1/1024a///"),
            };
            let mut out = Vec::new();
            write_answer(&mut out, &offer, &local);
            let back = Offer::parse(&out);
            assert_eq!(
                back.map(|b| (b.media, b.ps_payload)),
                Ok((media, offer.ps_payload))
            );
        }
    }
    if let Ok(s) = Subject::parse(data) {
        assert!(s.platform.len() <= data.len());
    }
});
