//! Exchanges and the Message Reliability Protocol (Matter 1.3 §4.10 "Message Exchanges",
//! §4.12 "Message Reliability Protocol").
//!
//! [`ExchangeManager`] is what the node layer drives: datagrams in (with a peer address whose
//! type says whether the transport is reliable), [`ExchangeEvent::Incoming`] out, replies back
//! with [`ExchangeManager::send`], then [`ExchangeManager::poll_transmit`] /
//! [`ExchangeManager::poll_timeout`]. MRP (acks, retransmissions) runs on sessions over
//! unreliable transports (UDP) and is off over BTP, as in the CHIP SDK.

mod manager;
pub mod mrp;

pub use manager::{
    ExchangeConfig, ExchangeError, ExchangeEvent, ExchangeManager, ExchangeRef, Role, SendOptions,
    Transmit,
};

#[cfg(test)]
mod tests;
