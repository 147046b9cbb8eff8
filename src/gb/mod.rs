//! GB/T 28181 specifics on top of SIP: 20-digit device codes, per-device identities from a
//! file, MANSCDP XML bodies (the device's answers: status, records, the 2022 queries and
//! device control), the REGISTER and query rules both peers share, the `Date` time
//! format, what the 2016 and 2022 editions write differently, and the live-video signalling:
//! the SDP offer a platform sends (read by the camera, written by `serve --play`), the camera's answer and the INVITE's `Subject`.

pub mod control;
pub mod devices;
pub mod id;
pub mod manscdp;
pub mod query2022;
pub mod records;
pub mod register;
pub mod sdp;
pub mod sdp_answer;
pub mod sdp_offer;
pub mod status;
pub mod subject;
pub mod subscribe;
pub mod time;
pub mod version;

pub use devices::{Devices, Ids};
pub use id::{DeviceId, DeviceType, IdError, IdRange};
pub use manscdp::{Manscdp, Root};
pub use sdp::{MediaTransport, Offer, SdpError, SessionKind, Ssrc};
pub use sdp_answer::{AnswerSsrc, Local, write_answer};
pub use sdp_offer::{OfferSpec, write_offer};
pub use subject::{Subject, addressed_channel};
pub use version::{Charset, GbVersion};
