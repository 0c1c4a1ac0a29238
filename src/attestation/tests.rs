//! Tests of the attestation module: golden data from the CHIP SDK, round trips, negative cases
//! and malformed-input tables.

use hex_literal::hex;
use proptest::prelude::*;

use super::cd::{build_cms, parse_cms};
use super::credentials::{key_from_file, CredentialFile};
use super::dac::NO_EXPIRY;
use super::x509::{key_usage, oid, Certificate};
use super::*;
use crate::rng::TestRng;

/// `kDevelopmentDAC_Cert_FFF1_8000` / `kDevelopmentDAC_PrivateKey_FFF1_8000` from
/// project-chip/connectedhomeip `src/credentials/examples/ExampleDACs.cpp`, issued by the
/// development PAI in `dev/`.
const CHIP_DAC_FFF1_8000: &[u8] =
    include_bytes!("../../tests/data/attestation/Matter-Dev-DAC-FFF1-8000-Cert.der");
const CHIP_DAC_FFF1_8000_KEY: &[u8] =
    include_bytes!("../../tests/data/attestation/Matter-Dev-DAC-FFF1-8000-PrivateKey.bin");
/// `kCdForAllExamples` from connectedhomeip `src/credentials/examples/
/// DeviceAttestationCredsExample.cpp`: VID 0xFFF1, PIDs 0x8000..=0x8063, device type 0x16,
/// signed by the test CD signing key.
const CHIP_CD_FFF1: &[u8] =
    include_bytes!("../../tests/data/attestation/CHIP-Example-CD-FFF1-8000-8063.der");

/// `attestationElementsTestVector` (and its CD and nonce) from connectedhomeip
/// `src/credentials/tests/TestDeviceAttestationConstruction.cpp`: a (COSE-style, opaque) CD,
/// nonce, timestamp 677103357 and two vendor-reserved elements (VID 0xFFF1, profile 0x3E).
const CHIP_ELEMENTS: [u8; 221] = hex!(
    "153001 70 d2844ba2012604466373616364 30a0581d15250188992502feff2503d20425042e162405aa2506dec0250794261858409657"
    "2dd63c03640b286702bd6bba48ac7c83549b6873294748b951d5ab66622e9d261041f80e9749feff7810024967aedf4138365b0a2257149c"
    "9a123e0d30aa 300220 e0421b91c6fdcdb40e2a4d2cf31db2b4e18b411b1d3ad4d12a9d90aa8e52fae2 2603fdc65b28"
    "d0f1ff3e0001001773616d706c655f76656e646f725f726573657276656431"
    "d0f1ff3e0003001876656e646f725f7265736572766564335f6578616d706c6518"
);

fn rng() -> TestRng {
    TestRng::new(0x6174_7465_7374)
}

fn dev_creds(vid: u16, pid: u16) -> DeviceCredentials {
    dev::development_credentials(vid, pid, 0x0016, &mut rng()).unwrap()
}

/// Another device's credentials (another random draw).
fn other_creds(vid: u16, pid: u16) -> DeviceCredentials {
    dev::development_credentials(vid, pid, 0x0016, &mut TestRng::new(77)).unwrap()
}

// ---- The published chain ----

#[test]
fn dev_pai_is_issued_by_the_test_paa() {
    assert_eq!(
        verify_pai(dev::DEV_PAI_CERT, dev::TEST_PAA_CERT).unwrap(),
        (0xFFF1, None)
    );
    // The embedded PAI key belongs to the PAI.
    let pai = Certificate::parse(dev::DEV_PAI_CERT, "PAI").unwrap();
    assert_eq!(pai.public_key, dev::dev_pai_key().unwrap().public_key());
    // The trust-store folder holds exactly the DER the module embeds.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dev::PAA_TRUST_STORE_DIR);
    let on_disk = std::fs::read(dir.join("Chip-Test-PAA-FFF1-Cert.der")).unwrap();
    assert_eq!(on_disk, dev::TEST_PAA_CERT);
}

#[test]
fn chip_example_dac_verifies_against_the_dev_pai() {
    let info = verify_dac(CHIP_DAC_FFF1_8000, dev::DEV_PAI_CERT).unwrap();
    assert_eq!((info.vendor_id, info.product_id), (0xFFF1, 0x8000));
    assert_eq!((info.pai_vendor_id, info.pai_product_id), (0xFFF1, None));
    assert_eq!(info.not_after, NO_EXPIRY);
    let key = AttestationKey::from_scalar(CHIP_DAC_FFF1_8000_KEY).unwrap();
    assert_eq!(info.public_key, key.public_key());
    // ... and not against the PAA (wrong issuer), nor the PAI against itself as a DAC.
    assert!(verify_dac(CHIP_DAC_FFF1_8000, dev::TEST_PAA_CERT).is_err());
    assert!(verify_dac(dev::DEV_PAI_CERT, dev::DEV_PAI_CERT).is_err());
}

#[test]
fn test_cd_signing_key_matches_its_certificate() {
    let signer = dev::test_cd_signer().unwrap();
    assert_eq!(signer.subject_key_id, dev::TEST_CD_SIGNER_KEY_ID);
    assert_eq!(
        signer.public_key,
        dev::test_cd_signing_key().unwrap().public_key()
    );
}

#[test]
fn chip_example_cd_verifies_and_decodes() {
    let cd =
        CertificationDeclaration::verify(CHIP_CD_FFF1, &[dev::test_cd_signer().unwrap()]).unwrap();
    assert_eq!(cd.format_version, 1);
    assert_eq!(cd.vendor_id, 0xFFF1);
    assert_eq!(cd.product_ids, (0x8000..=0x8063).collect::<Vec<u16>>());
    assert_eq!(cd.device_type_id, 0x16);
    assert_eq!(cd.certificate_id, "ZIG20142ZB330003-24");
    assert_eq!((cd.security_level, cd.security_information), (0, 0));
    assert_eq!(cd.version_number, 0x2694);
    assert_eq!(cd.certification_type, CertificationType::DevelopmentAndTest);
    assert_eq!(cd.dac_origin, None);
    assert_eq!(cd.authorized_paa_list, None);

    // Our encoders reproduce the content and the envelope byte for byte.
    let parts = parse_cms(CHIP_CD_FFF1).unwrap();
    assert_eq!(cd.encode_tlv().unwrap(), parts.content);
    assert_eq!(
        build_cms(parts.content, parts.signer_key_id, parts.signature),
        CHIP_CD_FFF1
    );
}

#[test]
fn tampered_or_foreign_cd_is_rejected() {
    let trusted = [dev::test_cd_signer().unwrap()];
    let parts = parse_cms(CHIP_CD_FFF1).unwrap();
    // Flip one content byte (the vendor id's low byte) and rebuild the envelope.
    let mut content = parts.content.to_vec();
    content[6] ^= 0x01;
    let forged = build_cms(&content, parts.signer_key_id, parts.signature);
    assert_eq!(
        CertificationDeclaration::verify(&forged, &trusted),
        Err(AttestationError::BadSignature("certification declaration"))
    );
    // Signed by a key nobody trusts.
    let other = AttestationKey::generate(&mut rng()).unwrap();
    let cd = CertificationDeclaration::development(0xFFF1, 0x8001, 0x16);
    let foreign = cd.sign(&other, &[7u8; 20]).unwrap();
    assert!(matches!(
        CertificationDeclaration::verify(&foreign, &trusted),
        Err(AttestationError::UnknownCdSigner(_))
    ));
    // Right key id, wrong key.
    let wrong = cd.sign(&other, &dev::TEST_CD_SIGNER_KEY_ID).unwrap();
    assert!(matches!(
        CertificationDeclaration::verify(&wrong, &trusted),
        Err(AttestationError::BadSignature(_))
    ));
}

#[test]
fn cd_content_round_trips_with_optional_fields() {
    let mut cd = CertificationDeclaration::development(0xFFF2, 0x8001, 0x0101);
    cd.dac_origin = Some((0xFFF1, 0x8001));
    cd.authorized_paa_list = Some(vec![[0x6a; 20], [0x01; 20]]);
    cd.certification_type = CertificationType::Provisional;
    let tlv = cd.encode_tlv().unwrap();
    assert_eq!(CertificationDeclaration::decode_tlv(&tlv).unwrap(), cd);
    let signed = cd
        .sign(
            &dev::test_cd_signing_key().unwrap(),
            &dev::TEST_CD_SIGNER_KEY_ID,
        )
        .unwrap();
    assert_eq!(
        CertificationDeclaration::verify(&signed, &[dev::test_cd_signer().unwrap()]).unwrap(),
        cd
    );
    // Out-of-spec contents are refused both ways.
    let mut bad = cd.clone();
    bad.certificate_id = "short".into();
    assert!(bad.encode_tlv().is_err());
    let mut bad = cd.clone();
    bad.product_ids = vec![];
    assert!(bad.encode_tlv().is_err());
    let mut bad = cd;
    bad.product_ids = vec![1; 101];
    assert!(bad.encode_tlv().is_err());
}

// ---- Attestation elements ----

#[test]
fn chip_attestation_elements_vector_decodes_and_reencodes() {
    let e = AttestationElements::decode(&CHIP_ELEMENTS).unwrap();
    assert_eq!(e.certification_declaration.len(), 0x70);
    assert_eq!(
        e.certification_declaration.get(..4),
        Some(&hex!("d2844ba2")[..])
    );
    assert_eq!(
        e.attestation_nonce,
        hex!("e0421b91c6fdcdb40e2a4d2cf31db2b4e18b411b1d3ad4d12a9d90aa8e52fae2")
    );
    assert_eq!(e.timestamp, 677_103_357);
    assert_eq!(e.firmware_information, None);
    assert_eq!(
        e.vendor_reserved,
        vec![
            VendorReserved {
                vendor_id: 0xFFF1,
                profile: 0x003E,
                tag: 1,
                data: b"sample_vendor_reserved1".to_vec()
            },
            VendorReserved {
                vendor_id: 0xFFF1,
                profile: 0x003E,
                tag: 3,
                data: b"vendor_reserved3_example".to_vec()
            },
        ]
    );
    assert_eq!(e.encode().unwrap(), CHIP_ELEMENTS);

    // The same vector with an unknown context tag 254 (u32 0xDEADBEEF) after the timestamp
    // (`attestationElementsTestVectorWithOneUnknownTag`): skipped, not an error.
    let at = CHIP_ELEMENTS.len() - 64;
    assert_eq!(CHIP_ELEMENTS[at], 0xd0);
    let mut with_unknown = CHIP_ELEMENTS[..at].to_vec();
    let tail = &CHIP_ELEMENTS[at..];
    with_unknown.extend_from_slice(&hex!("26feefbeadde"));
    with_unknown.extend_from_slice(tail);
    assert_eq!(AttestationElements::decode(&with_unknown).unwrap(), e);
}

#[test]
fn attestation_signature_round_trip_and_negatives() {
    let creds = dev_creds(0xFFF1, 0x8001);
    let challenge = [0x5a; ATTESTATION_CHALLENGE_LEN];
    let nonce = [0x11; NONCE_LEN];
    let (elements, sig) = creds.attestation_response(&nonce, 0, &challenge).unwrap();
    let pk = creds.dac_public_key();
    let e = verify_attestation(&elements, &challenge, &sig, &pk).unwrap();
    assert_eq!(e.attestation_nonce, nonce);
    assert_eq!(e.certification_declaration, creds.cd_der());
    // The signature is over elements || challenge, with the DAC key.
    pk.verify(&[&elements[..], &challenge].concat(), &sig, "t")
        .unwrap();

    let mut other_challenge = challenge;
    other_challenge[0] ^= 1;
    assert!(matches!(
        verify_attestation(&elements, &other_challenge, &sig, &pk),
        Err(AttestationError::BadSignature(_))
    ));
    let mut tampered = elements.clone();
    let last = tampered.len() - 2;
    tampered[last] ^= 1;
    assert!(verify_attestation(&tampered, &challenge, &sig, &pk).is_err());
    let wrong_key = AttestationKey::generate(&mut TestRng::new(9))
        .unwrap()
        .public_key();
    assert!(verify_attestation(&elements, &challenge, &sig, &wrong_key).is_err());
    assert!(matches!(
        verify_attestation(&elements, &challenge[..15], &sig, &pk),
        Err(AttestationError::BadLength { .. })
    ));
    assert!(matches!(
        sign_attestation(
            &AttestationElements::decode(&elements).unwrap(),
            &[0; 17],
            creds.dac_key()
        ),
        Err(AttestationError::BadLength { .. })
    ));
    assert!(verify_attestation(&elements, &challenge, &sig[..63], &pk).is_err());
}

#[test]
fn oversize_elements_are_refused() {
    let key = AttestationKey::generate(&mut rng()).unwrap();
    // 1 (struct) + 4 + len (CD, 2-byte length) + 35 (nonce) + 6 (timestamp) + 1 (end).
    let fits = AttestationElements::new(vec![0xcd; MAX_ELEMENTS_LEN - 47], [0; 32], 1_000_000);
    assert_eq!(fits.encode().unwrap().len(), MAX_ELEMENTS_LEN);
    let over = AttestationElements::new(vec![0xcd; MAX_ELEMENTS_LEN - 46], [0; 32], 1_000_000);
    assert!(matches!(
        over.encode(),
        Err(AttestationError::TooLarge { len: 901, .. })
    ));
    assert!(matches!(
        sign_attestation(&over, &[0; 16], &key),
        Err(AttestationError::TooLarge { .. })
    ));
    let big = vec![0x15; MAX_ELEMENTS_LEN + 1];
    assert!(matches!(
        AttestationElements::decode(&big),
        Err(AttestationError::TooLarge { .. })
    ));
    assert!(matches!(
        NocsrElements::decode(&big),
        Err(AttestationError::TooLarge { .. })
    ));
    let csr = NocsrElements::new(vec![0x30; MAX_ELEMENTS_LEN], [0; 32]);
    assert!(matches!(
        csr.encode(),
        Err(AttestationError::TooLarge { .. })
    ));
    assert!(matches!(
        verify_nocsr(&big, &[0; 16], &[0; 64], &key.public_key()),
        Err(AttestationError::TooLarge { .. })
    ));
}

#[test]
fn nocsr_round_trip_with_vendor_reserved() {
    let creds = dev_creds(0xFFF1, 0x8000);
    let challenge = [3u8; 16];
    let mut e = NocsrElements::new(b"\x30\x81\xca fake csr".to_vec(), [0x22; 32]);
    e.vendor_reserved[1] = Some(b"vr2".to_vec());
    let (enc, sig) = sign_nocsr(&e, &challenge, creds.dac_key()).unwrap();
    // Golden layout: struct, csr (tag 1), nonce (tag 2), vendor_reserved2 (tag 4).
    let mut expected = vec![0x15, 0x30, 0x01, e.csr.len() as u8];
    expected.extend_from_slice(&e.csr);
    expected.extend_from_slice(&[0x30, 0x02, 0x20]);
    expected.extend_from_slice(&[0x22; 32]);
    expected.extend_from_slice(&[0x30, 0x04, 0x03]);
    expected.extend_from_slice(b"vr2");
    expected.push(0x18);
    assert_eq!(enc, expected);
    assert_eq!(
        verify_nocsr(&enc, &challenge, &sig, &creds.dac_public_key()).unwrap(),
        e
    );
    let (enc2, sig2) = creds
        .csr_response(&e.csr, &e.csr_nonce, &challenge)
        .unwrap();
    assert!(verify_nocsr(&enc2, &challenge, &sig2, &creds.dac_public_key()).is_ok());
    assert!(verify_nocsr(&enc2, &[4u8; 16], &sig2, &creds.dac_public_key()).is_err());
    // A 31-byte nonce is refused.
    let bad = hex!(
        "15 3001 01 aa 3002 1f 00000000000000000000000000000000000000000000000000000000000000 18"
    );
    assert!(matches!(
        NocsrElements::decode(&bad),
        Err(AttestationError::BadLength { got: 31, .. })
    ));
}

// ---- DAC issuance ----

#[test]
fn issued_dac_follows_the_dac_profile() {
    let pai_key = dev::dev_pai_key().unwrap();
    let (dac, key) = issue_dac(
        &DacRequest::new(0xFFF1, 0x8123),
        dev::DEV_PAI_CERT,
        &pai_key,
        &mut rng(),
    )
    .unwrap();
    let info = verify_dac(&dac, dev::DEV_PAI_CERT).unwrap();
    assert_eq!((info.vendor_id, info.product_id), (0xFFF1, 0x8123));
    assert_eq!(info.public_key, key.public_key());

    let c = Certificate::parse(&dac, "DAC").unwrap();
    let pai = Certificate::parse(dev::DEV_PAI_CERT, "PAI").unwrap();
    assert_eq!(c.version, 3);
    assert_eq!(c.issuer, pai.subject);
    assert_eq!(c.not_before, pai.not_before);
    assert_eq!(c.not_after, NO_EXPIRY);
    assert_eq!(c.serial.len(), 8);
    assert_ne!(c.serial[0], 0);
    assert_eq!(
        c.basic_constraints("DAC").unwrap(),
        Some((true, false, None))
    );
    assert_eq!(
        c.key_usage("DAC").unwrap(),
        Some((true, key_usage::DIGITAL_SIGNATURE))
    );
    assert_eq!(
        c.authority_key_id("DAC").unwrap(),
        pai.subject_key_id("PAI").unwrap()
    );
    assert_eq!(c.subject_key_id("DAC").unwrap().map(<[u8]>::len), Some(20));
    // Subject: CN, then VID and PID as UTF8String of 4 uppercase hex digits (§6.2.2.2).
    let attrs = c.subject_attributes("DAC").unwrap();
    let text: Vec<(&[u8], u8, &[u8])> = attrs.iter().map(|(o, v)| (*o, v.tag, v.value)).collect();
    assert_eq!(
        text,
        vec![
            (oid::COMMON_NAME, 0x0c, &b"Matter Dev DAC 0xFFF1/0x8123"[..]),
            (oid::MATTER_VID, 0x0c, &b"FFF1"[..]),
            (oid::MATTER_PID, 0x0c, &b"8123"[..]),
        ]
    );
    // Exactly the four extensions the profile asks for.
    assert_eq!(c.extensions.len(), 4);
    // The same rng yields the same DAC (deterministic issuance; RFC 6979 signatures).
    let (again, _) = issue_dac(
        &DacRequest::new(0xFFF1, 0x8123),
        dev::DEV_PAI_CERT,
        &pai_key,
        &mut rng(),
    )
    .unwrap();
    assert_eq!(again, dac);
}

#[test]
fn dac_issuance_refuses_mismatches() {
    let pai_key = dev::dev_pai_key().unwrap();
    // Vendor id other than the PAI's.
    assert!(matches!(
        issue_dac(
            &DacRequest::new(0xFFF2, 0x8000),
            dev::DEV_PAI_CERT,
            &pai_key,
            &mut rng()
        ),
        Err(AttestationError::Profile { cert: "DAC", .. })
    ));
    // A key that is not the PAI's.
    let other = AttestationKey::generate(&mut rng()).unwrap();
    assert!(matches!(
        issue_dac(
            &DacRequest::new(0xFFF1, 0x8000),
            dev::DEV_PAI_CERT,
            &other,
            &mut rng()
        ),
        Err(AttestationError::Invalid(_))
    ));
    // The PAA is not a PAI (path length 1).
    assert!(issue_dac(
        &DacRequest::new(0xFFF1, 0x8000),
        dev::TEST_PAA_CERT,
        &pai_key,
        &mut rng()
    )
    .is_err());
    // A DAC signed by another key under the PAI's name does not verify.
    let mut req = DacRequest::new(0xFFF1, 0x8000);
    req.not_before = Some(1_700_000_000);
    let (dac, _) = issue_dac(&req, dev::DEV_PAI_CERT, &pai_key, &mut rng()).unwrap();
    let mut tampered = dac.clone();
    let n = tampered.len();
    tampered[n - 5] ^= 0x40;
    assert!(verify_dac(&tampered, dev::DEV_PAI_CERT).is_err());
    let c = Certificate::parse(&dac, "DAC").unwrap();
    assert_eq!(c.not_before, 1_700_000_000);
}

#[test]
fn rng_that_never_yields_a_valid_scalar_is_an_error() {
    struct Ones;
    impl crate::rng::Rng for Ones {
        fn fill(&mut self, buf: &mut [u8]) {
            buf.fill(0xff);
        }
    }
    assert_eq!(
        AttestationKey::generate(&mut Ones).unwrap_err(),
        AttestationError::KeyGeneration
    );
}

// ---- Development credentials and persistence ----

#[test]
fn development_credentials_verify_like_a_commissioner_would() {
    for (vid, pid) in [(0xFFF1, 0x8000), (0xFFF1, 0x1234), (0xFFF2, 0x8001)] {
        let creds = dev_creds(vid, pid);
        assert!(creds.is_development());
        assert_eq!((creds.vendor_id(), creds.product_id()), (0xFFF1, pid));
        verify_pai(creds.pai_der(), dev::TEST_PAA_CERT).unwrap();
        let info = verify_dac(creds.dac_der(), creds.pai_der()).unwrap();
        let cd =
            CertificationDeclaration::verify(creds.cd_der(), &[dev::test_cd_signer().unwrap()])
                .unwrap();
        assert_eq!(cd.vendor_id, vid);
        assert_eq!(cd.product_ids, vec![pid]);
        assert_eq!(cd.certification_type, CertificationType::DevelopmentAndTest);
        // Another vendor id than the PAI's is expressed through dac_origin (§6.3.1).
        assert_eq!(cd.dac_origin, (vid != 0xFFF1).then_some((0xFFF1, pid)));
        assert_eq!(info.public_key, creds.dac_public_key());
    }
}

#[test]
fn persisted_credentials_round_trip_and_reject_bad_input() {
    let creds = dev_creds(0xFFF1, 0x8002);
    let bytes = creds.to_bytes();
    let back = DeviceCredentials::from_bytes(&bytes).unwrap();
    assert_eq!(back.dac_der(), creds.dac_der());
    assert_eq!(back.pai_der(), creds.pai_der());
    assert_eq!(back.cd_der(), creds.cd_der());
    assert_eq!(back.dac_key().to_scalar(), creds.dac_key().to_scalar());
    // The key never shows in Debug.
    let dbg = format!("{creds:?} {:?}", creds.dac_key());
    assert!(!dbg.contains(&format!("{:02x?}", &creds.dac_key().to_scalar()[..4])));

    let mut v2 = bytes.to_vec();
    assert_eq!(&v2[..4], &[0x15, 0x24, 0x00, 0x01]);
    v2[3] = 2;
    assert_eq!(
        DeviceCredentials::from_bytes(&v2).unwrap_err(),
        CredentialsError::UnsupportedVersion(2)
    );
    for cut in [0, 1, 4, 100, bytes.len() - 1] {
        assert!(DeviceCredentials::from_bytes(&bytes[..cut]).is_err());
    }
    // Swap in another device's key: the consistency check catches it.
    let other = other_creds(0xFFF1, 0x8002);
    let mixed = DeviceCredentials::new(
        creds.dac_der().to_vec(),
        creds.pai_der().to_vec(),
        other.dac_key().clone(),
        creds.cd_der().to_vec(),
    );
    assert_eq!(mixed.unwrap_err(), CredentialsError::KeyMismatch);
}

// ---- Loading files ----

fn pem(label: &str, der: &[u8]) -> Vec<u8> {
    p256::pkcs8::der::pem::encode_string(label, p256::pkcs8::LineEnding::LF, der)
        .unwrap()
        .into_bytes()
}

fn sec1_der(key: &AttestationKey) -> Vec<u8> {
    p256::SecretKey::from_slice(key.to_scalar().as_ref())
        .unwrap()
        .to_sec1_der()
        .unwrap()
        .to_vec()
}

fn pkcs8_der(key: &AttestationKey) -> Vec<u8> {
    use p256::pkcs8::EncodePrivateKey;
    p256::SecretKey::from_slice(key.to_scalar().as_ref())
        .unwrap()
        .to_pkcs8_der()
        .unwrap()
        .as_bytes()
        .to_vec()
}

#[test]
fn loads_pem_and_der_in_every_accepted_form() {
    let c = dev_creds(0xFFF1, 0x8003);
    let key = c.dac_key();
    let forms: Vec<[Vec<u8>; 4]> = vec![
        [
            c.dac_der().to_vec(),
            c.pai_der().to_vec(),
            sec1_der(key),
            c.cd_der().to_vec(),
        ],
        [
            c.dac_der().to_vec(),
            c.pai_der().to_vec(),
            pkcs8_der(key),
            c.cd_der().to_vec(),
        ],
        [
            pem("CERTIFICATE", c.dac_der()),
            pem("CERTIFICATE", c.pai_der()),
            pem("EC PRIVATE KEY", &sec1_der(key)),
            pem("CMS", c.cd_der()),
        ],
        [
            pem("CERTIFICATE", c.dac_der()),
            pem("CERTIFICATE", c.pai_der()),
            // OpenSSL's `ecparam -genkey` output: an EC PARAMETERS block first.
            [
                &b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
                    [..],
                &pem("PRIVATE KEY", &pkcs8_der(key)),
            ]
            .concat(),
            pem("PKCS7", c.cd_der()),
        ],
    ];
    for [dac, pai, k, cd] in forms {
        let loaded = DeviceCredentials::from_files(&dac, &pai, &k, &cd).unwrap();
        assert_eq!(loaded.dac_key().public_key(), key.public_key());
        assert_eq!(loaded.dac_der(), c.dac_der());
    }
    // The CHIP SDK's published SEC1 PEM (the CD signing key) loads and matches its certificate.
    let k = key_from_file(include_bytes!("dev/Chip-Test-CD-Signing-Key.pem")).unwrap();
    assert_eq!(k.public_key(), dev::test_cd_signer().unwrap().public_key);
}

#[test]
fn loader_errors_are_typed() {
    let c = dev_creds(0xFFF1, 0x8004);
    let (dac, pai, cd) = (c.dac_der(), c.pai_der(), c.cd_der());
    let key = sec1_der(c.dac_key());
    use CredentialFile as F;
    use CredentialsError as E;

    // A certificate given as the key, a key given as the DAC.
    assert!(matches!(
        DeviceCredentials::from_files(dac, pai, &pem("CERTIFICATE", dac), cd),
        Err(E::WrongPemLabel { file: F::DacKey, ref found, .. }) if found == "CERTIFICATE"
    ));
    assert!(matches!(
        DeviceCredentials::from_files(&pem("EC PRIVATE KEY", &key), pai, &key, cd),
        Err(E::WrongPemLabel { file: F::Dac, .. })
    ));
    // Two certificates in the PAI file.
    let two = [pem("CERTIFICATE", pai), pem("CERTIFICATE", pai)].concat();
    assert_eq!(
        DeviceCredentials::from_files(dac, &two, &key, cd).unwrap_err(),
        E::MultipleBlocks {
            file: F::Pai,
            count: 2
        }
    );
    // Another device's key.
    let other = sec1_der(other_creds(0xFFF1, 0x8004).dac_key());
    assert_eq!(
        DeviceCredentials::from_files(dac, pai, &other, cd).unwrap_err(),
        E::KeyMismatch
    );
    // DAC and PAI swapped.
    assert!(matches!(
        DeviceCredentials::from_files(pai, dac, &key, cd),
        Err(E::Invalid { file: F::Dac, .. })
    ));
    // A CD for another product.
    let other_cd = CertificationDeclaration::development(0xFFF1, 0x9999, 0x16)
        .sign(
            &dev::test_cd_signing_key().unwrap(),
            &dev::TEST_CD_SIGNER_KEY_ID,
        )
        .unwrap();
    assert!(matches!(
        DeviceCredentials::from_files(dac, pai, &key, &other_cd),
        Err(E::CdMismatch(_))
    ));
    // Not a CD at all.
    assert!(matches!(
        DeviceCredentials::from_files(dac, pai, &key, dac),
        Err(E::Invalid { file: F::Cd, .. })
    ));
    // Encrypted PKCS#8.
    let enc = pem("ENCRYPTED PRIVATE KEY", &[0x30, 0x00]);
    assert_eq!(
        DeviceCredentials::from_files(dac, pai, &enc, cd).unwrap_err(),
        E::EncryptedKey { file: F::DacKey }
    );
    // A P-384 SEC1 key (secp384r1 = 1.3.132.0.34) and an RSA PKCS#8 key.
    let mut p384 = hex!("303e020101 0430").to_vec();
    p384.extend_from_slice(&[0x42; 48]);
    p384.extend_from_slice(&hex!("a007 0605 2b81040022"));
    assert_eq!(
        DeviceCredentials::from_files(dac, pai, &p384, cd).unwrap_err(),
        E::NotP256 { file: F::DacKey }
    );
    let rsa = hex!("3016 020100 300d 06092a864886f70d010101 0500 0402 3000");
    assert_eq!(
        DeviceCredentials::from_files(dac, pai, &rsa, cd).unwrap_err(),
        E::NotEcKey { file: F::DacKey }
    );
    let p384_pkcs8 = hex!("301a 020100 3010 06072a8648ce3d0201 06052b81040022 0403 020101");
    assert_eq!(
        DeviceCredentials::from_files(dac, pai, &p384_pkcs8, cd).unwrap_err(),
        E::NotP256 { file: F::DacKey }
    );
    // Garbage.
    assert_eq!(
        DeviceCredentials::from_files(b"hello", pai, &key, cd).unwrap_err(),
        E::NotPemOrDer { file: F::Dac }
    );
    assert!(matches!(
        DeviceCredentials::from_files(
            dac,
            b"-----BEGIN CERTIFICATE-----\n@@@\n-----END CERTIFICATE-----\n",
            &key,
            cd
        ),
        Err(E::MalformedPem { file: F::Pai, .. })
    ));
    // Errors read well.
    let msg = E::NotP256 { file: F::DacKey }.to_string();
    assert!(msg.contains("--dac-key") && msg.contains("P-256"), "{msg}");
}

// ---- Malformed input never panics ----

fn mutations(base: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for cut in (0..base.len()).step_by(7) {
        out.push(base[..cut].to_vec());
    }
    for i in (0..base.len()).step_by(3) {
        for bit in [0x01, 0x80] {
            let mut m = base.to_vec();
            m[i] ^= bit;
            out.push(m);
        }
    }
    out
}

#[test]
fn malformed_table_never_panics_and_tampering_never_verifies() {
    let trusted = [dev::test_cd_signer().unwrap()];
    for m in mutations(CHIP_DAC_FFF1_8000) {
        // Any change to a signed certificate must be rejected (or be a no-op re-encoding).
        assert!(verify_dac(&m, dev::DEV_PAI_CERT).is_err() || m == CHIP_DAC_FFF1_8000);
    }
    for m in mutations(CHIP_CD_FFF1) {
        let r = CertificationDeclaration::verify(&m, &trusted);
        // A flip inside the DER signature's INTEGER padding could in theory re-encode; the
        // content itself is covered by the signature.
        if let Ok(cd) = r {
            assert_eq!(
                cd,
                CertificationDeclaration::decode_unverified(CHIP_CD_FFF1).unwrap()
            );
        }
    }
    for m in mutations(&CHIP_ELEMENTS) {
        let _ = AttestationElements::decode(&m);
        let _ = NocsrElements::decode(&m);
    }
    let stored = dev_creds(0xFFF1, 0x8000).to_bytes();
    for m in mutations(&stored).into_iter().step_by(5) {
        let _ = DeviceCredentials::from_bytes(&m);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Certificate::parse(&b, "x");
        let _ = verify_dac(&b, dev::DEV_PAI_CERT);
        let _ = verify_dac(CHIP_DAC_FFF1_8000, &b);
        let _ = CertificationDeclaration::decode_unverified(&b);
        let _ = CertificationDeclaration::decode_tlv(&b);
        let _ = AttestationElements::decode(&b);
        let _ = NocsrElements::decode(&b);
        let _ = DeviceCredentials::from_bytes(&b);
        let _ = key_from_file(&b);
        let _ = DeviceCredentials::from_files(&b, &b, &b, &b);
    }

    #[test]
    fn pem_like_text_never_panics(s in "(-----(BEGIN|END) [A-Z ]{0,12}-----\n|[A-Za-z0-9+/=]{0,70}\n){0,8}") {
        let _ = key_from_file(s.as_bytes());
        let _ = DeviceCredentials::from_files(s.as_bytes(), s.as_bytes(), s.as_bytes(), s.as_bytes());
    }

    #[test]
    fn elements_round_trip(cd in proptest::collection::vec(any::<u8>(), 1..400),
                           nonce in any::<[u8; 32]>(), ts in any::<u32>(),
                           fw in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..100))) {
        let mut e = AttestationElements::new(cd, nonce, ts);
        e.firmware_information = fw;
        let enc = e.encode().unwrap();
        prop_assert_eq!(AttestationElements::decode(&enc).unwrap(), e);
    }
}

/// A PAI that names a product id (built here: the index's copies of the CHIP SDK's
/// `Chip-Test-PAI-FFF1-8000` are from other revisions than its DACs).
fn pai_with_pid(pid: u16) -> (Vec<u8>, AttestationKey) {
    use crate::cert::der::DateTime;
    use crate::cert::x509::{BuilderExtension, Name, NameValue, X509Builder};
    let key = AttestationKey::generate(&mut TestRng::new(5)).unwrap();
    let point = key.public_key().to_uncompressed();
    let utf8 = |o: &[u8], v: &str| (o.to_vec(), NameValue::Utf8(v.into()));
    let b = X509Builder {
        serial: vec![0x42],
        issuer: Name::Attributes(vec![utf8(oid::COMMON_NAME, "Test PAA")]),
        not_before: DateTime::new(2024, 1, 1, 0, 0, 0).unwrap(),
        not_after: DateTime::NO_EXPIRY,
        subject: Name::Attributes(vec![
            utf8(oid::COMMON_NAME, "Test PAI"),
            utf8(oid::MATTER_VID, "FFF1"),
            utf8(oid::MATTER_PID, &format!("{pid:04X}")),
        ]),
        public_key: point,
        extensions: vec![
            BuilderExtension::basic_constraints(true, Some(0)),
            BuilderExtension::key_usage(key_usage::KEY_CERT_SIGN | key_usage::CRL_SIGN),
            BuilderExtension::subject_key_id(&[0x33; 20]),
            BuilderExtension::authority_key_id(&[0x44; 20]),
        ],
    };
    (b.sign(key.signing_key()).unwrap(), key)
}

#[test]
fn pai_with_product_id_binds_the_dac_product_id() {
    let (pai, pai_key) = pai_with_pid(0x8000);
    let (dac, _) = issue_dac(&DacRequest::new(0xFFF1, 0x8000), &pai, &pai_key, &mut rng()).unwrap();
    let info = verify_dac(&dac, &pai).unwrap();
    assert_eq!(
        (info.product_id, info.pai_product_id),
        (0x8000, Some(0x8000))
    );
    assert!(matches!(
        issue_dac(&DacRequest::new(0xFFF1, 0x8001), &pai, &pai_key, &mut rng()),
        Err(AttestationError::Profile { cert: "DAC", reason }) if reason.contains("product id")
    ));
    // A DAC for product 0x8000 under the no-PID dev PAI does not verify under this PAI.
    assert!(verify_dac(CHIP_DAC_FFF1_8000, &pai).is_err());
}

#[test]
fn dac_profile_violations_are_refused() {
    use crate::cert::der::DateTime;
    use crate::cert::x509::{BuilderExtension, Name, NameValue, X509Builder};
    let pai = Certificate::parse(dev::DEV_PAI_CERT, "PAI").unwrap();
    let pai_skid = pai.subject_key_id("PAI").unwrap().unwrap().to_vec();
    let pai_key = dev::dev_pai_key().unwrap();
    let dac_key = AttestationKey::generate(&mut rng()).unwrap();
    let utf8 = |o: &[u8], v: &str| (o.to_vec(), NameValue::Utf8(v.into()));
    let good = X509Builder {
        serial: vec![0x11, 0x22],
        issuer: Name::Der(pai.subject.to_vec()),
        not_before: DateTime::new(2024, 1, 1, 0, 0, 0).unwrap(),
        not_after: DateTime::NO_EXPIRY,
        subject: Name::Attributes(vec![
            utf8(oid::COMMON_NAME, "DAC"),
            utf8(oid::MATTER_VID, "FFF1"),
            utf8(oid::MATTER_PID, "8000"),
        ]),
        public_key: dac_key.public_key().to_uncompressed(),
        extensions: vec![
            BuilderExtension::basic_constraints(false, None),
            BuilderExtension::key_usage(key_usage::DIGITAL_SIGNATURE),
            BuilderExtension::subject_key_id(&[0x55; 20]),
            BuilderExtension::authority_key_id(&pai_skid),
        ],
    };
    let sign = |b: &X509Builder| b.sign(pai_key.signing_key()).unwrap();
    verify_dac(&sign(&good), dev::DEV_PAI_CERT).unwrap();

    let mut cases: Vec<(&str, X509Builder)> = Vec::new();
    let mut b = good.clone();
    b.extensions[0] = BuilderExtension::basic_constraints(true, Some(0));
    cases.push(("CA", b));
    let mut b = good.clone();
    b.extensions[1] =
        BuilderExtension::key_usage(key_usage::DIGITAL_SIGNATURE | key_usage::KEY_CERT_SIGN);
    cases.push(("keyCertSign", b));
    let mut b = good.clone();
    b.extensions.remove(0);
    cases.push(("no basicConstraints", b));
    let mut b = good.clone();
    b.extensions[3] = BuilderExtension::authority_key_id(&[0x66; 20]);
    cases.push(("AKID", b));
    let mut b = good.clone();
    b.subject = Name::Attributes(vec![
        utf8(oid::COMMON_NAME, "DAC"),
        utf8(oid::MATTER_VID, "FFF1"),
    ]);
    cases.push(("no PID", b));
    let mut b = good.clone();
    b.subject = Name::Attributes(vec![
        utf8(oid::MATTER_VID, "fff1"),
        utf8(oid::MATTER_PID, "8000"),
    ]);
    cases.push(("lowercase VID", b));
    let mut b = good.clone();
    b.subject = Name::Attributes(vec![
        (
            oid::MATTER_VID.to_vec(),
            NameValue::Printable("FFF1".into()),
        ),
        utf8(oid::MATTER_PID, "8000"),
    ]);
    cases.push(("PrintableString VID", b));
    let mut b = good.clone();
    b.subject = Name::Attributes(vec![
        utf8(oid::MATTER_VID, "FFF2"),
        utf8(oid::MATTER_PID, "8000"),
    ]);
    cases.push(("VID not the PAI's", b));
    let mut b = good.clone();
    b.issuer = Name::Attributes(vec![utf8(oid::COMMON_NAME, "Someone else")]);
    cases.push(("issuer", b));
    for (what, b) in cases {
        assert!(
            verify_dac(&sign(&b), dev::DEV_PAI_CERT).is_err(),
            "{what} accepted"
        );
    }
    // Signed by the DAC key itself instead of the PAI's.
    let self_signed = good.sign(dac_key.signing_key()).unwrap();
    assert!(matches!(
        verify_dac(&self_signed, dev::DEV_PAI_CERT),
        Err(AttestationError::BadSignature(_))
    ));
}

#[test]
fn csr_response_carries_a_real_pkcs10_csr() {
    // The operational key's CSR from `crate::cert::csr`, as CSRRequest handling will build it.
    let creds = dev_creds(0xFFF1, 0x8000);
    let op_key = AttestationKey::generate(&mut TestRng::new(11)).unwrap();
    let csr = crate::cert::csr::build_csr(op_key.signing_key()).unwrap();
    let challenge = [0x77; 16];
    let (elements, sig) = creds.csr_response(&csr, &[0x99; 32], &challenge).unwrap();
    let e = verify_nocsr(&elements, &challenge, &sig, &creds.dac_public_key()).unwrap();
    assert_eq!(e.csr, csr);
    crate::cert::csr::verify_csr(&e.csr).unwrap();
}
