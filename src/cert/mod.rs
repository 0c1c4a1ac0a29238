//! Matter operational certificates (Matter 1.3 §6.5): the DER encoding they correspond to, the
//! Matter TLV form, the conversion between them, chain validation for AddNOC, PKCS#10 CSRs and
//! an X.509 builder for attestation certificates. Sans-IO: time is an optional input.
//!
//! * [`der`]: strict DER writer and reader (ITU-T X.690), X.509 times.

pub mod der;
