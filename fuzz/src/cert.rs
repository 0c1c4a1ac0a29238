//! Fuzz harness for the certificate codecs: Matter TLV and X.509 DER certificates, CSRs.
//!
//! Invariants: no panic; a TLV certificate that decodes re-encodes to one that decodes to the
//! same model, and its DER converts back to that model (TLV -> DER -> TLV is lossless); a DER
//! certificate accepted in Matter form converts back to exactly the input bytes.

use matter_ble::cert::csr::verify_csr;
use matter_ble::cert::x509::X509Cert;
use matter_ble::cert::{validate_chain, validate_rcac, MatterCert};

/// Runs one input through every certificate entry point.
pub fn cert(data: &[u8]) {
    if let Ok(c) = MatterCert::from_tlv(data) {
        let tlv = c.to_tlv().expect("a decoded certificate re-encodes");
        assert_eq!(MatterCert::from_tlv(&tlv).expect("our TLV decodes"), c);
        let der = c.to_der().expect("a decoded certificate converts to DER");
        let back = MatterCert::from_der(&der).expect("our DER converts back");
        assert_eq!(back, c, "TLV -> DER -> TLV changed the certificate");
        let _ = validate_rcac(data, Some(0));
        let _ = validate_chain(data, None, &tlv, None);
    }
    if let Ok(c) = MatterCert::from_der(data) {
        assert_eq!(c.to_der().expect("converts"), data, "DER not reproduced");
    }
    let _ = X509Cert::parse(data);
    let _ = verify_csr(data);
}

#[cfg(test)]
mod tests {
    use matter_ble::cert::matter::{key_purpose, key_usage};
    use matter_ble::cert::{DistinguishedName, DnAttribute, Extension, TextAttr};
    use matter_ble::rng::{Rng, TestRng};

    use super::*;

    /// The CHIP SDK's Root01 test public key (connectedhomeip
    /// `src/credentials/tests/CHIPCert_test_vectors.cpp`); the codecs do not need a signature.
    const PUBLIC_KEY: [u8; 65] = [
        0x04, 0x3b, 0x88, 0x46, 0x0e, 0xc9, 0x68, 0x7a, 0x5d, 0x0f, 0x3b, 0x4b, 0x3b, 0x13, 0xfc,
        0xd2, 0x99, 0xc2, 0xf6, 0xd5, 0x05, 0x1d, 0x00, 0x3e, 0xe4, 0x9c, 0x99, 0x24, 0xcf, 0x98,
        0xf4, 0xf7, 0x80, 0xeb, 0x20, 0xfd, 0x37, 0xc8, 0xd3, 0x58, 0x34, 0x7f, 0x5f, 0x87, 0xd0,
        0x8c, 0x32, 0x13, 0xe5, 0x40, 0xaf, 0x11, 0xba, 0xb9, 0x13, 0x7e, 0x49, 0x35, 0x4f, 0x0c,
        0x5b, 0x63, 0x43, 0xde, 0x63,
    ];

    fn sample() -> MatterCert {
        MatterCert {
            serial: vec![0x00, 0x9A, 0x01],
            issuer: DistinguishedName(vec![
                DnAttribute::Text {
                    kind: TextAttr::CountryName,
                    value: "US".into(),
                    printable: true,
                },
                DnAttribute::IcacId(3),
            ]),
            not_before: 1,
            not_after: 0,
            subject: DistinguishedName(vec![
                DnAttribute::NodeId(0x1234),
                DnAttribute::FabricId(9),
                DnAttribute::NocCat(0x0001_0001),
                DnAttribute::Text {
                    kind: TextAttr::DomainComponent,
                    value: "example".into(),
                    printable: false,
                },
            ]),
            public_key: PUBLIC_KEY,
            extensions: vec![
                Extension::BasicConstraints {
                    is_ca: false,
                    path_len: None,
                },
                Extension::KeyUsage(key_usage::DIGITAL_SIGNATURE),
                Extension::ExtendedKeyUsage(vec![
                    key_purpose::CLIENT_AUTH,
                    key_purpose::SERVER_AUTH,
                ]),
                Extension::SubjectKeyId([1; 20]),
                Extension::AuthorityKeyId([2; 20]),
                Extension::Future(vec![
                    0x30, 0x09, 0x06, 0x03, 0x2A, 0x03, 0x04, 0x04, 0x02, 0x05, 0x00,
                ]),
            ],
            signature: [0x5A; 64],
        }
    }

    #[test]
    fn harness_runs_on_a_valid_certificate_in_both_forms() {
        let c = sample();
        cert(&c.to_tlv().expect("tlv"));
        cert(&c.to_der().expect("der"));
    }

    #[test]
    fn harness_survives_mutations_and_random_inputs() {
        let c = sample();
        let forms = [c.to_tlv().expect("tlv"), c.to_der().expect("der")];
        let mut rng = TestRng::new(0xce27);
        for round in 0..6_000 {
            let mut v = forms[round % 2].clone();
            for _ in 0..=(rng.next_u32() % 3) {
                let i = rng.next_u32() as usize % v.len();
                v[i] = rng.next_u32() as u8;
            }
            let cut = rng.next_u32() as usize % (v.len() + 1);
            cert(&v);
            cert(&v[..cut]);
        }
        for _ in 0..2_000 {
            let mut v = vec![0u8; (rng.next_u32() % 200) as usize];
            rng.fill(&mut v);
            cert(&v);
        }
    }
}
