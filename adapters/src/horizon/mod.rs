//! The Horizon side of the live process: the event-stream parser ([`sse`]) and Horizon's JSON
//! resources decoded into engine inputs ([`decode`]), sans IO; the HTTP client that uses them
//! is to come.

pub mod decode;
pub mod sse;
