//! Fuzz target: arbitrary bytes into the certificate codecs (TLV, DER, CSR), with round-trip checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    matter_ble_fuzz::cert(data);
});
