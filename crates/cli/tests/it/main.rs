//! The `onset` binary as a process: crash safety under SIGKILL, graceful SIGTERM.

mod cluster;
mod control;
mod curl;
mod deploy;
mod lifecycle;
mod local_run;
mod memory;
mod observe;
mod postgres;
mod secrets;
mod server;
mod skeleton;
