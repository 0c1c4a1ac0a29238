//! Fuzz target: arbitrary bytes into the TLV reader, with a canonical re-encoding check.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    matter_ble_fuzz::tlv(data);
});
