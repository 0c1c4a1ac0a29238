//! Golden bytes and malformed-input tables for the PASE messages. The golden frames are written
//! out by hand from the TLV encoding rules (Matter 1.3 Appendix A: control byte = tag form << 5 |
//! element type; integers in their smallest width, as the CHIP SDK writes them).

use hex_literal::hex;
use proptest::prelude::*;

use super::*;

const RANDOM_A: [u8; 32] = hex!("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
const RANDOM_B: [u8; 32] = hex!("a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf");

fn request() -> PbkdfParamRequest {
    PbkdfParamRequest {
        initiator_random: RANDOM_A,
        initiator_session_id: 0x1234,
        passcode_id: 0,
        has_pbkdf_parameters: false,
        initiator_session_params: Some(SessionParameters {
            idle_interval_ms: Some(5000),
            active_interval_ms: Some(300),
            active_threshold_ms: Some(4000),
            ..SessionParameters::default()
        }),
    }
}

const REQUEST_BYTES: &[u8] = &hex!(
    "15"
    "30 01 20 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "25 02 34 12"
    "24 03 00"
    "28 04"
    "35 05 25 01 88 13 25 02 2c 01 25 03 a0 0f 18"
    "18"
);

fn response() -> PbkdfParamResponse {
    PbkdfParamResponse {
        initiator_random: RANDOM_A,
        responder_random: RANDOM_B,
        responder_session_id: 0xabcd,
        pbkdf_parameters: Some(PbkdfParameters {
            iterations: 1000,
            salt: b"SPAKE2P Key Salt".to_vec(),
        }),
        responder_session_params: None,
    }
}

const RESPONSE_BYTES: &[u8] = &hex!(
    "15"
    "30 01 20 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "30 02 20 a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "25 03 cd ab"
    "35 04 25 01 e8 03 30 02 10 5350414b453250204b65792053616c74 18"
    "18"
);

#[test]
fn pbkdf_param_request_golden() {
    assert_eq!(request().encode(), REQUEST_BYTES);
    assert_eq!(PbkdfParamRequest::decode(REQUEST_BYTES), Ok(request()));
}

#[test]
fn pbkdf_param_response_golden() {
    assert_eq!(response().encode(), RESPONSE_BYTES);
    assert_eq!(PbkdfParamResponse::decode(RESPONSE_BYTES), Ok(response()));
    let mut no_params = response();
    no_params.pbkdf_parameters = None;
    let bytes = no_params.encode();
    assert_eq!(PbkdfParamResponse::decode(&bytes), Ok(no_params));
}

#[test]
fn pake_messages_golden() {
    let pa = [0x04; 65];
    let p1 = Pake1 { pa };
    let mut expected = hex!("15 30 01 41").to_vec();
    expected.extend_from_slice(&pa);
    expected.push(0x18);
    assert_eq!(p1.encode(), expected);
    assert_eq!(Pake1::decode(&expected), Ok(p1));

    let p2 = Pake2 {
        pb: [0x04; 65],
        cb: [0xcb; 32],
    };
    let mut expected = hex!("15 30 01 41").to_vec();
    expected.extend_from_slice(&[0x04; 65]);
    expected.extend_from_slice(&hex!("30 02 20"));
    expected.extend_from_slice(&[0xcb; 32]);
    expected.push(0x18);
    assert_eq!(p2.encode(), expected);
    assert_eq!(Pake2::decode(&expected), Ok(p2));

    let p3 = Pake3 { ca: [0xca; 32] };
    let mut expected = hex!("15 30 01 20").to_vec();
    expected.extend_from_slice(&[0xca; 32]);
    expected.push(0x18);
    assert_eq!(p3.encode(), expected);
    assert_eq!(Pake3::decode(&expected), Ok(p3));
}

#[test]
fn unknown_members_are_skipped() {
    // An extra tag 9 in the request and tags 8/9 (supported transports, max TCP message size,
    // newer revisions) inside the session parameters.
    let bytes = hex!(
        "15"
        "30 01 20 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        "25 02 34 12 24 03 00 29 04"
        "35 05 25 01 88 13 24 08 01 26 09 00 00 01 00 18"
        "24 09 07"
        "18"
    );
    let r = PbkdfParamRequest::decode(&bytes).expect("decodes");
    assert!(r.has_pbkdf_parameters);
    assert_eq!(
        r.initiator_session_params.expect("params").idle_interval_ms,
        Some(5000)
    );
}

#[test]
fn malformed_requests_are_rejected() {
    let cases: &[(&str, &[u8])] = &[
        ("empty", &[]),
        ("end only", &hex!("18")),
        ("array not struct", &hex!("16 18")),
        ("unterminated", &REQUEST_BYTES[..REQUEST_BYTES.len() - 1]),
        ("truncated random", &REQUEST_BYTES[..20]),
        (
            "trailing bytes",
            &hex!("15 30 01 20 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 24 02 01 24 03 00 28 04 18 00"),
        ),
        (
            "tagged top level",
            &hex!("35 01 30 01 20 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 24 02 01 24 03 00 28 04 18"),
        ),
        (
            "random 31 bytes",
            &hex!("15 30 01 1f 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 24 02 01 24 03 00 28 04 18"),
        ),
        (
            "random as integer",
            &hex!("15 24 01 05 24 02 01 24 03 00 28 04 18"),
        ),
        (
            "missing session id",
            &hex!("15 30 01 20 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 24 03 00 28 04 18"),
        ),
        (
            "missing hasPBKDFParameters",
            &hex!("15 30 01 20 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 24 02 01 24 03 00 18"),
        ),
        (
            "session id over 16 bits",
            &hex!("15 30 01 20 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 26 02 00 00 01 00 24 03 00 28 04 18"),
        ),
        (
            "signed session id",
            &hex!("15 30 01 20 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 20 02 01 24 03 00 28 04 18"),
        ),
        (
            "bool as integer",
            &hex!("15 30 01 20 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 24 02 01 24 03 00 24 04 01 18"),
        ),
        (
            "out of order",
            &hex!("15 24 02 01 30 01 20 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 24 03 00 28 04 18"),
        ),
        (
            "repeated field",
            &hex!("15 30 01 20 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 24 02 01 24 02 01 24 03 00 28 04 18"),
        ),
        (
            "session params not a struct",
            &hex!("15 30 01 20 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 24 02 01 24 03 00 28 04 24 05 00 18"),
        ),
        (
            "session param of the wrong type",
            &hex!("15 30 01 20 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 24 02 01 24 03 00 28 04 35 05 2c 01 01 41 18 18"),
        ),
        (
            "threshold over 16 bits",
            &hex!("15 30 01 20 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 24 02 01 24 03 00 28 04 35 05 26 03 00 00 01 00 18 18"),
        ),
        ("reserved element type", &hex!("15 19 18")),
    ];
    for (name, bytes) in cases {
        assert!(
            PbkdfParamRequest::decode(bytes).is_err(),
            "{name} was accepted"
        );
    }
}

#[test]
fn malformed_responses_and_pakes_are_rejected() {
    let mut salt_missing = RESPONSE_BYTES.to_vec();
    // Drop the salt member (30 02 10 + 16 bytes) inside tag 4.
    let at = salt_missing
        .windows(3)
        .position(|w| w == [0x30, 0x02, 0x10])
        .expect("salt present");
    salt_missing.drain(at..at + 19);
    assert_eq!(
        PbkdfParamResponse::decode(&salt_missing),
        Err(PaseMessageError::MissingField {
            msg: "PBKDFParamResponse",
            tag: 4
        })
    );
    let mut pb_short = hex!("15 30 01 40").to_vec();
    pb_short.extend_from_slice(&[4; 64]);
    pb_short.extend_from_slice(&hex!("30 02 20"));
    pb_short.extend_from_slice(&[0; 32]);
    pb_short.push(0x18);
    assert!(Pake2::decode(&pb_short).is_err());
    let mut ca_long = hex!("15 30 01 21").to_vec();
    ca_long.extend_from_slice(&[0; 33]);
    ca_long.push(0x18);
    assert!(Pake3::decode(&ca_long).is_err());
    assert!(Pake1::decode(&hex!("15 18")).is_err());
    assert!(Pake3::decode(&hex!(
        "15 30 02 20 0000000000000000000000000000000000000000000000000000000000000000 18"
    ))
    .is_err());
}

proptest! {
    #[test]
    fn request_round_trips(random in proptest::array::uniform32(any::<u8>()), sid in any::<u16>(),
                           pid in any::<u16>(), has in any::<bool>(),
                           idle in proptest::option::of(any::<u32>()),
                           spec in proptest::option::of(any::<u32>())) {
        let r = PbkdfParamRequest {
            initiator_random: random,
            initiator_session_id: sid,
            passcode_id: pid,
            has_pbkdf_parameters: has,
            initiator_session_params: idle.map(|i| SessionParameters {
                idle_interval_ms: Some(i),
                specification_version: spec,
                ..SessionParameters::default()
            }),
        };
        prop_assert_eq!(PbkdfParamRequest::decode(&r.encode()), Ok(r));
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = PbkdfParamRequest::decode(&bytes);
        let _ = PbkdfParamResponse::decode(&bytes);
        let _ = Pake1::decode(&bytes);
        let _ = Pake2::decode(&bytes);
        let _ = Pake3::decode(&bytes);
    }
}
