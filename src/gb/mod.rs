//! GB/T 28181 specifics on top of SIP: 20-digit device codes and MANSCDP XML bodies.

pub mod id;
pub mod manscdp;
pub mod time;

pub use id::{DeviceId, DeviceType, IdError, IdRange};
pub use manscdp::{Manscdp, Root};
