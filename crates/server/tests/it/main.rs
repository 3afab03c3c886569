//! The server end to end: real HTTP, real SQLite, a local sink for outbound calls.

mod control_plane;
mod example;
mod flow_control;
mod ingress;
mod respond;
mod runs;
mod scripts;
mod support;
mod verification;
