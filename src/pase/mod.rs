//! PASE, passcode-authenticated session establishment (Matter 1.3 §4.14.1): SPAKE2+ on P-256
//! ([`spake2p`]) and, built on it, the commissionee's responder and the commissioner's initiator.

pub mod spake2p;
