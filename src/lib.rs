//! matter-ble: a Matter commissionee over Bluetooth LE (and UDP) for Linux hosts.
//!
//! ```text
//!  BlueZ (bluer) / UDP socket           <- shell: src/ble, src/udp.rs, src/runtime.rs
//!        |  GATT values, datagrams, `now`
//!  btp::BtpEngine (BLE only)            <- sans-IO core from here down
//!        |  Matter messages (SDUs)
//!  message (header codec) -> session (unsecured / secure, counters)
//!        -> exchange (+ MRP over UDP) -> pase (SPAKE2+) / im (Interaction Model)
//! ```
//!
//! # Driving contract
//! Every sans-IO engine (BTP, PASE, sessions, exchanges) is driven the same way:
//! inputs are `handle_*(now, ..)` calls, commands are verbs (`send_sdu`, `close`), and outputs
//! are drained after **every** input with `poll_transmit`, `poll_timeout` and `poll_event`.
//! No core module reads a clock, opens a socket or spawns a task: time comes in as
//! [`time::Instant`], randomness through [`rng::Rng`] inputs.

#![forbid(unsafe_code)]

pub mod error;
pub mod rng;
pub mod time;

// Codecs.
pub mod cert;
pub mod message;
pub mod setup_payload;
pub mod tlv;

// Sans-IO protocol engines.
pub mod btp;
pub mod case;
pub mod exchange;
pub mod fabric;
pub mod im;
pub mod pase;
pub mod session;

// Composition of the engines (sans-IO).
pub mod commissioner;
pub mod commissioner_flow;

// Device attestation: DAC, PAI, CD, attestation and NOCSR elements (sans-IO).
pub mod attestation;
pub mod node;

// Configuration (flags, validation) shared by the binary and tests.
pub mod config;
pub mod config_file;

// IO shell: the only modules that may use tokio or bluer.
pub mod ble;
pub mod on_change;
// DNS-SD: records (sans-IO) and the avahi / embedded publishers (shell).
pub mod dnssd;
pub mod runtime;
pub mod state;
pub mod udp;
// The persistent state folder (file IO).
pub mod store;
