//! Fuzz target: arbitrary Interaction Model requests into a responder exchange.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    matter_ble_fuzz::im_request(data);
});
