//! The Horizon side of the live process: the event-stream parser ([`sse`]) and Horizon's JSON
//! resources decoded into engine inputs ([`decode`]), sans IO, and the blocking HTTP client
//! that uses them ([`client`]: shared rate budget, retries, resumable streams).

pub mod client;
pub mod decode;
pub mod sse;
