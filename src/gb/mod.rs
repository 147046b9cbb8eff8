//! GB/T 28181 specifics on top of SIP: 20-digit device codes, MANSCDP XML bodies, the
//! REGISTER and query rules both peers share, and the `Date` time format.

pub mod id;
pub mod manscdp;
pub mod register;
pub mod time;

pub use id::{DeviceId, DeviceType, IdError, IdRange};
pub use manscdp::{Manscdp, Root};
