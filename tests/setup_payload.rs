//! Onboarding payload codecs against published vectors.
//!
//! Sources (CHIP SDK, project-chip/connectedhomeip):
//! - `src/setup_payload/tests/TestHelpers.h` + `TestQRCode.cpp`: `kDefaultPayloadQRCode`,
//!   `kConcatenatedQRCode`, the bit layout of `TestPayloadByteArrayRep`, the marginal payload with
//!   passcode 111111111.
//! - `src/setup_payload/tests/run_python_setup_payload_test.py`: QR codes and manual codes with the
//!   fields `chip-tool payload parse-setup-payload` printed for them.
//! - `src/setup_payload/tests/TestManualCode.cpp`: manual code bodies (check digit appended by the
//!   test, as there) and the invalid-entry table.
//! - The CHIP example apps' default onboarding codes, `MT:-24J042C00KA0648G00` /
//!   `34970112332` (passcode 20202021, discriminator 3840, vendor 0xFFF1, product 0x8001, BLE), as
//!   printed by chip-all-clusters-app and used in `src/python_testing/TC_BRBINFO_4_1.py`.

use matter_ble::setup_payload::{
    base38, verhoeff, CommissioningFlow, DiscoveryCapabilities, Discriminator, ManualCode,
    Passcode, SetupPayload, SetupPayloadError,
};

fn passcode(v: u32) -> Passcode {
    Passcode::new(v).unwrap_or_else(|e| panic!("test passcode {v}: {e}"))
}

fn discriminator(v: u16) -> Discriminator {
    Discriminator::new(v).unwrap_or_else(|e| panic!("test discriminator {v}: {e}"))
}

fn payload(
    vid: u16,
    pid: u16,
    flow: CommissioningFlow,
    discovery: u8,
    disc: u16,
    pass: u32,
) -> SetupPayload {
    let mut p = SetupPayload::new(
        vid,
        pid,
        discriminator(disc),
        passcode(pass),
        DiscoveryCapabilities(discovery),
    );
    p.commissioning_flow = flow;
    p
}

fn with_check_digit(body: &str) -> String {
    let c = verhoeff::check_digit(body).unwrap_or_else(|| panic!("non-digit body {body}"));
    format!("{body}{c}")
}

/// (QR code, vid, pid, flow, discovery, discriminator, passcode).
const QR_VECTORS: &[(&str, u16, u16, CommissioningFlow, u8, u16, u32)] = &[
    // TestHelpers.h GetDefaultPayload(): vid 12, pid 1, soft-AP, discriminator 128, passcode 2048.
    (
        "MT:M5L90MP500K64J00000",
        12,
        1,
        CommissioningFlow::Standard,
        0x01,
        128,
        2048,
    ),
    // run_python_setup_payload_test.py test_onboardingcode_parsing().
    (
        "MT:U9VJ0OMV172PX813210",
        4891,
        2,
        CommissioningFlow::Standard,
        2,
        3431,
        49910688,
    ),
    (
        "MT:00000CQM00KA0648G00",
        0,
        0,
        CommissioningFlow::Standard,
        4,
        3840,
        20202021,
    ),
    (
        "MT:A3L90ARR15G6N57Y900",
        1,
        1,
        CommissioningFlow::UserActionRequired,
        4,
        3781,
        12349876,
    ),
    (
        "MT:MZWA6G6026O2XP0II00",
        65523,
        32920,
        CommissioningFlow::Custom,
        4,
        2310,
        23005908,
    ),
    (
        "MT:KSNK4M5113-JPR4UY00",
        4387,
        18,
        CommissioningFlow::Custom,
        2,
        3091,
        43338551,
    ),
    (
        "MT:0A.T0P--00Y0OJ0.510",
        9029,
        4131,
        CommissioningFlow::Custom,
        6,
        80,
        54757432,
    ),
    (
        "MT:EPX0482F26DAVY09R10",
        69,
        16,
        CommissioningFlow::UserActionRequired,
        7,
        174,
        81235604,
    ),
    // The CHIP example apps' default code (BLE only).
    (
        "MT:-24J042C00KA0648G00",
        0xFFF1,
        0x8001,
        CommissioningFlow::Standard,
        2,
        3840,
        20202021,
    ),
];

#[test]
fn qr_codes_encode_and_decode_like_the_chip_sdk() {
    for &(text, vid, pid, flow, discovery, disc, pass) in QR_VECTORS {
        let expected = payload(vid, pid, flow, discovery, disc, pass);
        assert_eq!(expected.qr_code(), text, "encode {expected:?}");
        assert_eq!(expected.try_qr_code().as_deref(), Ok(text));
        assert_eq!(
            SetupPayload::parse_qr_code(text),
            Ok(expected),
            "decode {text}"
        );
    }
}

#[test]
fn qr_bit_layout_matches_chip_byte_array_rep() {
    // TestQRCode.cpp TestPayloadByteArrayRep, most significant bit first: padding, passcode,
    // discriminator, discovery, flow, product id, vendor id, version.
    let expected = "0000 000000000000000100000000000 000010000000 00000001 00 \
                    0000000000000001 0000000000001100 000"
        .replace(' ', "");
    let text = payload(12, 1, CommissioningFlow::Standard, 0x01, 128, 2048).qr_code();
    let bytes = base38::decode(&text["MT:".len()..]).unwrap_or_default();
    let bits: String = bytes.iter().rev().map(|b| format!("{b:08b}")).collect();
    assert_eq!(bits, expected);
}

#[test]
fn concatenated_qr_codes() {
    // TestHelpers.h kConcatenatedQRCode: the default payload, then passcode and discriminator
    // incremented by 1, 2 and 3.
    let text = "MT:M5L90MP500K64J00000*M5L90U.D010K4J00000*M5L900CM02IX4J00000*M5L908OU03-85J00000";
    let parsed = SetupPayload::parse_qr_codes(text).unwrap_or_default();
    assert_eq!(parsed.len(), 4);
    for (i, p) in parsed.iter().enumerate() {
        let i16 = i as u16;
        assert_eq!(
            *p,
            payload(
                12,
                1,
                CommissioningFlow::Standard,
                1,
                128 + i16,
                2048 + u32::from(i16)
            )
        );
    }
    assert_eq!(
        SetupPayload::parse_qr_code(text),
        Err(SetupPayloadError::Concatenated)
    );
}

#[test]
fn qr_rejects_malformed_text() {
    let good = "MT:M5L90MP500K64J00000";
    // TestQRCode.cpp: a space instead of the last character, one character missing, wrong prefix.
    let space = format!("{} ", &good[..good.len() - 1]);
    assert!(matches!(
        SetupPayload::parse_qr_code(&space),
        Err(SetupPayloadError::Base38Character {
            character: ' ',
            position: 18
        })
    ));
    assert_eq!(
        SetupPayload::parse_qr_code(&good[..good.len() - 1]),
        Err(SetupPayloadError::Base38Length(18))
    );
    assert_eq!(
        SetupPayload::parse_qr_code("AT:M5L90MP500K64J00000"),
        Err(SetupPayloadError::MissingPrefix)
    );
    assert_eq!(
        SetupPayload::parse_qr_code(""),
        Err(SetupPayloadError::MissingPrefix)
    );
    assert_eq!(
        SetupPayload::parse_qr_code("MT:"),
        Err(SetupPayloadError::QrTooShort(0))
    );
    assert_eq!(
        SetupPayload::parse_qr_code("MT:M5L90MP500K64J0"),
        Err(SetupPayloadError::QrTooShort(9))
    );
    // 10 bytes: decodes as Base38 but misses a byte of the fixed fields.
    let ten = format!("MT:{}", base38::encode(&[0u8; 10]));
    assert_eq!(
        SetupPayload::parse_qr_code(&ten),
        Err(SetupPayloadError::QrTooShort(10))
    );
    // TestQRCode.cpp TestPopulatePayloadsMarginalValues: well-formed, passcode 111111111. The CHIP
    // parser accepts it and its validator rejects it; we reject it when parsing.
    assert_eq!(
        SetupPayload::parse_qr_code("MT:M5L90MP500W-GT68D20"),
        Err(SetupPayloadError::PasscodeOutOfRange(111_111_111))
    );
}

#[test]
fn qr_reserved_flow_and_passthrough_fields() {
    // Flow 3 is reserved.
    let mut raw = base38::decode("M5L90MP500K64J00000").unwrap_or_default();
    raw[4] |= 0x18; // bits 35-36
    assert_eq!(
        SetupPayload::parse_qr_code(&format!("MT:{}", base38::encode(&raw))),
        Err(SetupPayloadError::ReservedCommissioningFlow(3))
    );
    // Unknown discovery bits, a non-zero version and a TLV extension survive a round trip.
    let mut p = payload(
        0xFFF1,
        0x8000,
        CommissioningFlow::Standard,
        0xE2,
        4095,
        99_999_998,
    );
    p.version = 5;
    p.tlv_extension = vec![0x15, 0x24, 0x80, 0x0C, 0x18];
    let text = p.try_qr_code().unwrap_or_default();
    assert_eq!(SetupPayload::parse_qr_code(&text), Ok(p.clone()));
    p.version = 8;
    assert_eq!(
        p.try_qr_code(),
        Err(SetupPayloadError::UnsupportedVersion(8))
    );
}

/// (manual code, passcode, short discriminator, vendor/product id).
type VendorProduct = Option<(u16, u16)>;

const MANUAL_VECTORS: &[(&str, u32, u8, VendorProduct)] = &[
    // run_python_setup_payload_test.py test_onboardingcode_parsing().
    ("34970112332", 20202021, 15, None),
    ("745492075300001000013", 12349876, 14, Some((1, 1))),
    ("619156140465523329207", 23005908, 9, Some((65523, 32920))),
    ("702871264504387000187", 43338551, 12, Some((4387, 18))),
    ("402104334209029041311", 54757432, 0, Some((9029, 4131))),
    ("403732495800069000166", 81235604, 0, Some((69, 16))),
];

#[test]
fn manual_codes_encode_and_decode_like_the_chip_sdk() {
    for &(text, pass, short, vendor_product) in MANUAL_VECTORS {
        let code = ManualCode {
            short_discriminator: short,
            passcode: passcode(pass),
            vendor_product,
        };
        assert_eq!(code.to_string(), text);
        assert_eq!(ManualCode::parse(text), Ok(code.clone()), "{text}");
        assert_eq!(ManualCode::parse(&code.grouped()), Ok(code));
    }
    // TestManualCode.cpp TestPayloadParser_FullPayload / _PartialPayload, check digit appended.
    let parsed = ManualCode::parse(&with_check_digit("52927623630456200032"));
    assert_eq!(
        parsed,
        Ok(ManualCode {
            short_discriminator: (1280u16 >> 8) as u8,
            passcode: passcode(38_728_284),
            vendor_product: Some((4562, 32)),
        })
    );
    for (body, vp) in [("40000100000000100001", Some((1, 1))), ("0000010000", None)] {
        assert_eq!(
            ManualCode::parse(&with_check_digit(body)),
            Ok(ManualCode {
                short_discriminator: 0,
                passcode: passcode(1),
                vendor_product: vp,
            })
        );
    }
}

#[test]
fn payloads_pick_the_manual_code_form_like_the_chip_generator() {
    // run_python_setup_payload_test.py test_code_generation() parameter sets, whose manual codes
    // are the MANUAL_VECTORS above: the long form exactly when the flow is not standard.
    let cases = [
        (
            payload(0, 0, CommissioningFlow::Standard, 4, 3840, 20202021),
            "34970112332",
        ),
        (
            payload(
                1,
                1,
                CommissioningFlow::UserActionRequired,
                4,
                3781,
                12349876,
            ),
            "745492075300001000013",
        ),
        (
            payload(0xFFF3, 0x8098, CommissioningFlow::Custom, 4, 2310, 23005908),
            "619156140465523329207",
        ),
        (
            payload(
                0x45,
                0x10,
                CommissioningFlow::UserActionRequired,
                7,
                174,
                81235604,
            ),
            "403732495800069000166",
        ),
        (
            payload(
                0xFFF1,
                0x8001,
                CommissioningFlow::Standard,
                2,
                3840,
                20202021,
            ),
            "34970112332",
        ),
    ];
    for (p, text) in cases {
        assert_eq!(p.manual_code().to_string(), text, "{p:?}");
    }
}

#[test]
fn manual_code_rejects_bad_entries() {
    // TestManualCode.cpp TestPayloadParser_InvalidEntry, check digit appended as there.
    assert_eq!(
        ManualCode::parse(&with_check_digit("")),
        Err(SetupPayloadError::ManualCodeLength(1))
    );
    assert_eq!(
        ManualCode::parse("24184.21960"),
        Err(SetupPayloadError::ManualCodeCharacter('.'))
    );
    assert_eq!(
        ManualCode::parse(&with_check_digit("2456")),
        Err(SetupPayloadError::ManualCodeLength(5))
    );
    assert_eq!(
        ManualCode::parse(&with_check_digit("123456789123456785671")),
        Err(SetupPayloadError::ManualCodeLength(22))
    );
    assert_eq!(
        ManualCode::parse(&with_check_digit("12749875380")),
        Err(SetupPayloadError::ManualCodeLength(12))
    );
    assert_eq!(
        ManualCode::parse(&with_check_digit("23456789123456785610")),
        Err(SetupPayloadError::ManualCodeLengthMismatch { first: 2, len: 21 })
    );
    assert_eq!(
        ManualCode::parse(&with_check_digit("2327680000")),
        Err(SetupPayloadError::PasscodeForbidden(0))
    );
    assert_eq!(
        ManualCode::parse("02684354589"),
        Err(SetupPayloadError::ManualCodeCheckDigit)
    );
    // The CHIP tests' default manual payload has passcode 123456780, above the valid range.
    assert_eq!(
        ManualCode::parse(&with_check_digit("2361087535")),
        Err(SetupPayloadError::PasscodeOutOfRange(123_456_780))
    );
    // Long form announced by the first digit but only 11 digits; version bit set.
    assert_eq!(
        ManualCode::parse(&with_check_digit("4361087535")),
        Err(SetupPayloadError::ManualCodeLengthMismatch { first: 4, len: 11 })
    );
    assert_eq!(
        ManualCode::parse(&with_check_digit("8361087535")),
        Err(SetupPayloadError::ManualCodeLengthMismatch { first: 8, len: 11 })
    );
    // Chunk values wider than their bits, with a valid check digit.
    assert_eq!(
        ManualCode::parse(&with_check_digit("3999990001")),
        Err(SetupPayloadError::ManualCodeValue)
    );
    assert_eq!(
        ManualCode::parse(&with_check_digit("3000019999")),
        Err(SetupPayloadError::ManualCodeValue)
    );
    assert_eq!(
        ManualCode::parse(&with_check_digit("40000100000999990001")),
        Err(SetupPayloadError::ManualCodeValue)
    );
}

proptest::proptest! {
    #[test]
    fn qr_round_trips(
        vid in proptest::num::u16::ANY,
        pid in proptest::num::u16::ANY,
        flow in 0u8..3,
        discovery in proptest::num::u8::ANY,
        disc in 0u16..=4095,
        pass in 1u32..=99_999_998,
        tlv in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
    ) {
        let Ok(pass) = Passcode::new(pass) else { return Ok(()) };
        let mut p = SetupPayload::new(vid, pid, discriminator(disc), pass, DiscoveryCapabilities(discovery));
        p.commissioning_flow = CommissioningFlow::from_bits(flow).unwrap_or_default();
        p.tlv_extension = tlv;
        let text = p.qr_code();
        proptest::prop_assert!(text.starts_with("MT:"));
        proptest::prop_assert_eq!(SetupPayload::parse_qr_code(&text), Ok(p.clone()));
        let manual = p.manual_code();
        let parsed = ManualCode::parse(&manual.to_string());
        proptest::prop_assert_eq!(parsed.as_ref(), Ok(&manual));
        proptest::prop_assert_eq!(manual.short_discriminator, (disc >> 8) as u8);
        proptest::prop_assert_eq!(manual.passcode.value(), p.passcode.value());
    }

    #[test]
    fn parsers_never_panic(text in "\\PC{0,40}") {
        let _ = SetupPayload::parse_qr_code(&text);
        let _ = SetupPayload::parse_qr_codes(&text);
        let _ = ManualCode::parse(&text);
        let _ = SetupPayload::parse_qr_code(&format!("MT:{text}"));
    }
}
