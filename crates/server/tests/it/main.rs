//! The server end to end: real HTTP, real SQLite, a local sink for outbound calls.

mod access;
mod config;
mod connections;
mod control_plane;
mod deployments;
mod disk;
mod example;
mod fakes;
mod flow_control;
mod github;
mod google;
mod ingress;
mod kafka;
mod mqtt;
mod nats;
mod rabbitmq;
mod registration;
mod respond;
mod retention;
mod runs;
mod scripts;
mod slack;
mod sqs;
mod support;
mod timed;
mod verification;
