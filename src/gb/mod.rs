//! GB/T 28181 specifics on top of SIP: 20-digit device codes, per-device identities from a
//! file, MANSCDP XML bodies, the REGISTER and query rules both peers share, the `Date` time
//! format, and what the 2016 and 2022 editions write differently.

pub mod devices;
pub mod id;
pub mod manscdp;
pub mod register;
pub mod time;
pub mod version;

pub use devices::{Devices, Ids};
pub use id::{DeviceId, DeviceType, IdError, IdRange};
pub use manscdp::{Manscdp, Root};
pub use version::{Charset, GbVersion};
