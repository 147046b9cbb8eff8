//! GB/T 28181 specifics on top of SIP: 20-digit device codes, per-device identities from a
//! file, MANSCDP XML bodies, the REGISTER and query rules both peers share, and the `Date`
//! time format.

pub mod devices;
pub mod id;
pub mod manscdp;
pub mod register;
pub mod time;

pub use devices::{Devices, Ids};
pub use id::{DeviceId, DeviceType, IdError, IdRange};
pub use manscdp::{Manscdp, Root};
