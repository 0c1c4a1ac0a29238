//! Fuzz target: scripted Sigma messages into the CASE responder (see the harness docs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    matter_ble_fuzz::case_responder(data);
});
