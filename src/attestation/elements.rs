//! AttestationElements and NOCSRElements: the TLV structures a device returns in
//! AttestationResponse and CSRResponse, and their signature.
//!
//! Matter 1.3 §11.18.4.7 (attestation-elements), §11.18.4.9 (nocsr-elements) and
//! §6.4 ("Device Attestation Procedure"): the device signs `elements || attestation_challenge`
//! with its DAC key (ECDSA-SHA256, raw `r || s`), where the 16-byte challenge comes from the
//! secure session's key derivation. Both element structures are limited to
//! [`MAX_ELEMENTS_LEN`] bytes (RESP_MAX).

use tracing::debug;

use super::key::{AttestationKey, PublicKey};
use super::{
    AttestationError, ATTESTATION_CHALLENGE_LEN, MAX_ELEMENTS_LEN, NONCE_LEN, SIGNATURE_LEN,
};
use crate::tlv::{Tag, TlvReader, TlvWriter, Value};

// Context tags of attestation-elements.
const TAG_CD: u8 = 1;
const TAG_ATTESTATION_NONCE: u8 = 2;
const TAG_TIMESTAMP: u8 = 3;
const TAG_FIRMWARE_INFO: u8 = 4;
// Context tags of nocsr-elements.
const TAG_CSR: u8 = 1;
const TAG_CSR_NONCE: u8 = 2;
const TAG_NOCSR_VENDOR_RESERVED_FIRST: u8 = 3;
const TAG_NOCSR_VENDOR_RESERVED_LAST: u8 = 5;

/// A vendor-reserved element of attestation-elements: a fully qualified tag (vendor id,
/// profile number, tag number) and octet-string data (Matter 1.3 §11.18.4.7, the `*` member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorReserved {
    /// Vendor id half of the profile.
    pub vendor_id: u16,
    /// Profile number.
    pub profile: u16,
    /// Tag number inside the profile.
    pub tag: u32,
    /// The data.
    pub data: Vec<u8>,
}

/// attestation-elements (Matter 1.3 §11.18.4.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationElements {
    /// The Certification Declaration (CMS SignedData DER), tag 1.
    pub certification_declaration: Vec<u8>,
    /// The commissioner's AttestationNonce, tag 2.
    pub attestation_nonce: [u8; NONCE_LEN],
    /// Seconds since the Matter epoch, or 0 when the device has no time source, tag 3.
    pub timestamp: u32,
    /// Optional firmware information, tag 4.
    pub firmware_information: Option<Vec<u8>>,
    /// Vendor-reserved elements (fully qualified tags), in order.
    pub vendor_reserved: Vec<VendorReserved>,
}

impl AttestationElements {
    /// Elements with just the mandatory members.
    pub fn new(
        certification_declaration: Vec<u8>,
        attestation_nonce: [u8; NONCE_LEN],
        timestamp: u32,
    ) -> Self {
        Self {
            certification_declaration,
            attestation_nonce,
            timestamp,
            firmware_information: None,
            vendor_reserved: Vec::new(),
        }
    }

    /// TLV encoding, in the spec's tag order.
    ///
    /// # Errors
    /// [`AttestationError::Invalid`] for an empty CD; [`AttestationError::TooLarge`] above
    /// [`MAX_ELEMENTS_LEN`].
    pub fn encode(&self) -> Result<Vec<u8>, AttestationError> {
        if self.certification_declaration.is_empty() {
            return Err(AttestationError::Invalid("empty certification declaration"));
        }
        let mut buf = Vec::new();
        let mut w = TlvWriter::new(&mut buf);
        let tlv = AttestationError::tlv("attestation-elements");
        (|| {
            w.start_struct(Tag::Anonymous)?;
            w.octets(Tag::Context(TAG_CD), &self.certification_declaration)?;
            w.octets(Tag::Context(TAG_ATTESTATION_NONCE), &self.attestation_nonce)?;
            w.u32(Tag::Context(TAG_TIMESTAMP), self.timestamp)?;
            if let Some(fw) = &self.firmware_information {
                w.octets(Tag::Context(TAG_FIRMWARE_INFO), fw)?;
            }
            for v in &self.vendor_reserved {
                let tag = Tag::FullyQualified {
                    vendor_id: v.vendor_id,
                    profile: v.profile,
                    tag: v.tag,
                };
                w.octets(tag, &v.data)?;
            }
            w.end_container()?;
            w.finish().map(|_| ())
        })()
        .map_err(tlv)?;
        check_len("attestation-elements", buf.len())?;
        Ok(buf)
    }

    /// Parses attestation-elements. Unknown context-tagged members are skipped (the CHIP SDK's
    /// verifier does the same, for forward compatibility); vendor-reserved members are kept.
    ///
    /// # Errors
    /// [`AttestationError::TooLarge`], [`AttestationError::Tlv`] for malformed TLV or a
    /// missing/mistyped mandatory member, [`AttestationError::BadLength`] for a bad nonce.
    pub fn decode(bytes: &[u8]) -> Result<Self, AttestationError> {
        check_len("attestation-elements", bytes.len())?;
        let tlv = AttestationError::tlv("attestation-elements");
        let s = TlvReader::new(bytes).read_struct().map_err(&tlv)?;
        let cd = s.octets(TAG_CD).map_err(&tlv)?;
        if cd.is_empty() {
            return Err(AttestationError::Invalid("empty certification declaration"));
        }
        let nonce = s.octets(TAG_ATTESTATION_NONCE).map_err(&tlv)?;
        let attestation_nonce = nonce_array("AttestationNonce", nonce)?;
        let timestamp = s.u32(TAG_TIMESTAMP).map_err(&tlv)?;
        let firmware_information = s
            .opt_octets(TAG_FIRMWARE_INFO)
            .map_err(&tlv)?
            .map(<[u8]>::to_vec);
        let mut vendor_reserved = Vec::new();
        for m in s.iter() {
            let m = m.map_err(&tlv)?;
            if let Tag::FullyQualified {
                vendor_id,
                profile,
                tag,
            } = m.tag
            {
                let Value::Octets(data) = m.value else {
                    return Err(AttestationError::Invalid(
                        "vendor-reserved element (not an octet string)",
                    ));
                };
                vendor_reserved.push(VendorReserved {
                    vendor_id,
                    profile,
                    tag,
                    data: data.to_vec(),
                });
            }
        }
        Ok(Self {
            certification_declaration: cd.to_vec(),
            attestation_nonce,
            timestamp,
            firmware_information,
            vendor_reserved,
        })
    }
}

/// nocsr-elements (Matter 1.3 §11.18.4.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NocsrElements {
    /// The PKCS#10 CSR (DER) for the new operational key, tag 1.
    pub csr: Vec<u8>,
    /// The commissioner's CSRNonce, tag 2.
    pub csr_nonce: [u8; NONCE_LEN],
    /// vendor_reserved1..3, tags 3..5 (optional).
    pub vendor_reserved: [Option<Vec<u8>>; 3],
}

impl NocsrElements {
    /// Elements with just the mandatory members.
    pub fn new(csr: Vec<u8>, csr_nonce: [u8; NONCE_LEN]) -> Self {
        Self {
            csr,
            csr_nonce,
            vendor_reserved: [None, None, None],
        }
    }

    /// TLV encoding.
    ///
    /// # Errors
    /// [`AttestationError::Invalid`] for an empty CSR; [`AttestationError::TooLarge`].
    pub fn encode(&self) -> Result<Vec<u8>, AttestationError> {
        if self.csr.is_empty() {
            return Err(AttestationError::Invalid("empty CSR"));
        }
        let mut buf = Vec::new();
        let mut w = TlvWriter::new(&mut buf);
        (|| {
            w.start_struct(Tag::Anonymous)?;
            w.octets(Tag::Context(TAG_CSR), &self.csr)?;
            w.octets(Tag::Context(TAG_CSR_NONCE), &self.csr_nonce)?;
            for (tag, v) in (TAG_NOCSR_VENDOR_RESERVED_FIRST..=TAG_NOCSR_VENDOR_RESERVED_LAST)
                .zip(&self.vendor_reserved)
            {
                if let Some(v) = v {
                    w.octets(Tag::Context(tag), v)?;
                }
            }
            w.end_container()?;
            w.finish().map(|_| ())
        })()
        .map_err(AttestationError::tlv("nocsr-elements"))?;
        check_len("nocsr-elements", buf.len())?;
        Ok(buf)
    }

    /// Parses nocsr-elements.
    ///
    /// # Errors
    /// As [`AttestationElements::decode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, AttestationError> {
        check_len("nocsr-elements", bytes.len())?;
        let tlv = AttestationError::tlv("nocsr-elements");
        let s = TlvReader::new(bytes).read_struct().map_err(&tlv)?;
        let csr = s.octets(TAG_CSR).map_err(&tlv)?;
        if csr.is_empty() {
            return Err(AttestationError::Invalid("empty CSR"));
        }
        let csr_nonce = nonce_array("CSRNonce", s.octets(TAG_CSR_NONCE).map_err(&tlv)?)?;
        let mut vendor_reserved: [Option<Vec<u8>>; 3] = [None, None, None];
        for (tag, slot) in (TAG_NOCSR_VENDOR_RESERVED_FIRST..=TAG_NOCSR_VENDOR_RESERVED_LAST)
            .zip(vendor_reserved.iter_mut())
        {
            *slot = s.opt_octets(tag).map_err(&tlv)?.map(<[u8]>::to_vec);
        }
        Ok(Self {
            csr: csr.to_vec(),
            csr_nonce,
            vendor_reserved,
        })
    }
}

/// Encodes `elements` and signs `encoded || challenge` with the DAC key: the
/// AttestationElements and AttestationSignature fields of AttestationResponse.
///
/// # Errors
/// [`AttestationError::BadLength`] if `challenge` is not 16 bytes; encoding errors.
pub fn sign_attestation(
    elements: &AttestationElements,
    challenge: &[u8],
    dac_key: &AttestationKey,
) -> Result<(Vec<u8>, [u8; SIGNATURE_LEN]), AttestationError> {
    let encoded = elements.encode()?;
    let sig = sign_with_challenge(&encoded, challenge, dac_key)?;
    debug!(
        len = encoded.len(),
        "attestation elements signed with the DAC key"
    );
    Ok((encoded, sig))
}

/// Encodes `elements` and signs `encoded || challenge` with the DAC key: the NOCSRElements
/// and AttestationSignature fields of CSRResponse.
///
/// # Errors
/// As [`sign_attestation`].
pub fn sign_nocsr(
    elements: &NocsrElements,
    challenge: &[u8],
    dac_key: &AttestationKey,
) -> Result<(Vec<u8>, [u8; SIGNATURE_LEN]), AttestationError> {
    let encoded = elements.encode()?;
    let sig = sign_with_challenge(&encoded, challenge, dac_key)?;
    debug!(
        len = encoded.len(),
        "NOCSR elements signed with the DAC key"
    );
    Ok((encoded, sig))
}

/// Checks an AttestationResponse the way a commissioner does: the signature over
/// `elements || challenge` with the DAC's public key, then the structure. Returns the
/// parsed elements (the caller still checks the nonce against the one it sent).
///
/// # Errors
/// [`AttestationError::BadSignature`], or a parse error.
pub fn verify_attestation(
    encoded: &[u8],
    challenge: &[u8],
    signature: &[u8],
    dac_public_key: &PublicKey,
) -> Result<AttestationElements, AttestationError> {
    check_len("attestation-elements", encoded.len())?;
    verify_with_challenge(
        encoded,
        challenge,
        signature,
        dac_public_key,
        "attestation elements",
    )?;
    AttestationElements::decode(encoded)
}

/// Checks a CSRResponse: the signature over `elements || challenge`, then the structure.
///
/// # Errors
/// As [`verify_attestation`].
pub fn verify_nocsr(
    encoded: &[u8],
    challenge: &[u8],
    signature: &[u8],
    dac_public_key: &PublicKey,
) -> Result<NocsrElements, AttestationError> {
    check_len("nocsr-elements", encoded.len())?;
    verify_with_challenge(
        encoded,
        challenge,
        signature,
        dac_public_key,
        "NOCSR elements",
    )?;
    NocsrElements::decode(encoded)
}

fn tbs(encoded: &[u8], challenge: &[u8]) -> Result<Vec<u8>, AttestationError> {
    if challenge.len() != ATTESTATION_CHALLENGE_LEN {
        return Err(AttestationError::BadLength {
            what: "attestation challenge",
            expected: ATTESTATION_CHALLENGE_LEN,
            got: challenge.len(),
        });
    }
    let mut m = Vec::with_capacity(encoded.len() + challenge.len());
    m.extend_from_slice(encoded);
    m.extend_from_slice(challenge);
    Ok(m)
}

fn sign_with_challenge(
    encoded: &[u8],
    challenge: &[u8],
    key: &AttestationKey,
) -> Result<[u8; SIGNATURE_LEN], AttestationError> {
    Ok(key.sign(&tbs(encoded, challenge)?))
}

fn verify_with_challenge(
    encoded: &[u8],
    challenge: &[u8],
    signature: &[u8],
    key: &PublicKey,
    what: &'static str,
) -> Result<(), AttestationError> {
    if signature.len() != SIGNATURE_LEN {
        return Err(AttestationError::BadLength {
            what: "attestation signature",
            expected: SIGNATURE_LEN,
            got: signature.len(),
        });
    }
    key.verify(&tbs(encoded, challenge)?, signature, what)
}

fn check_len(what: &'static str, len: usize) -> Result<(), AttestationError> {
    if len > MAX_ELEMENTS_LEN {
        return Err(AttestationError::TooLarge {
            what,
            len,
            max: MAX_ELEMENTS_LEN,
        });
    }
    Ok(())
}

fn nonce_array(what: &'static str, b: &[u8]) -> Result<[u8; NONCE_LEN], AttestationError> {
    b.try_into().map_err(|_| AttestationError::BadLength {
        what,
        expected: NONCE_LEN,
        got: b.len(),
    })
}
