//! Sessions: the unsecured session used during PASE, secure sessions, and the session table.
//! (Filled by the SecureSession issue.)

pub mod params;
