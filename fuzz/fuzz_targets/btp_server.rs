//! Fuzz target: arbitrary GATT events and bytes into a peripheral (server) BTP engine. The harness
//! and its invariants live in the library so stable `cargo test` runs them too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    matter_ble_fuzz::btp_server(data);
});
