//! The CASE messages as TLV structures (Matter 1.3 §4.14.2.3): Sigma1, Sigma2, Sigma3 and
//! Sigma2Resume, and the signed (TBSData2/3) and encrypted (TBEData2/3) inner structures.
//!
//! Decoding is strict: the payload is one anonymous structure whose known members (context tags)
//! come in increasing order, each at most once, with the exact lengths the spec gives (randoms 32,
//! destination id 32, public keys 65, resumption id and MICs 16, signatures 64, certificates at
//! most [`MAX_CERT_LEN`]); unknown context tags are skipped (newer revisions may add members).
//! Every failure is a [`CaseMessageError`]; nothing here panics on input.

use crate::pase::messages::{decode_session_parameters, write_session_parameters};
use crate::session::params::SessionParameters;
use crate::tlv::schema::{fixed, int, members, octets, required as req, SchemaError};
use crate::tlv::{Tag, TlvError, TlvWriter, Value};

/// Largest Matter TLV certificate accepted (the CHIP SDK's `kMaxCHIPCertLength`: 400 bytes).
pub const MAX_CERT_LEN: usize = 400;

/// Why a CASE message does not decode (the shared secure-channel schema error; InvalidField
/// also for a resumption field without its pair).
pub type CaseMessageError = SchemaError;

/// Sigma1 (opcode 0x30).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sigma1 {
    /// Tag 1.
    pub initiator_random: [u8; 32],
    /// Tag 2.
    pub initiator_session_id: u16,
    /// Tag 3.
    pub destination_id: [u8; 32],
    /// Tag 4: uncompressed P-256 point.
    pub initiator_eph_pub: [u8; 65],
    /// Tag 5.
    pub initiator_session_params: Option<SessionParameters>,
    /// Tags 6 and 7: resumption id and initiatorResumeMIC, both or neither.
    pub resumption: Option<([u8; 16], [u8; 16])>,
}

/// Sigma2 (opcode 0x31).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sigma2 {
    /// Tag 1.
    pub responder_random: [u8; 32],
    /// Tag 2.
    pub responder_session_id: u16,
    /// Tag 3.
    pub responder_eph_pub: [u8; 65],
    /// Tag 4: TBEData2 ciphertext || MIC.
    pub encrypted2: Vec<u8>,
    /// Tag 5.
    pub responder_session_params: Option<SessionParameters>,
}

/// Sigma3 (opcode 0x32).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sigma3 {
    /// Tag 1: TBEData3 ciphertext || MIC.
    pub encrypted3: Vec<u8>,
}

/// Sigma2Resume (opcode 0x33).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sigma2Resume {
    /// Tag 1: the new resumption id.
    pub resumption_id: [u8; 16],
    /// Tag 2.
    pub sigma2_resume_mic: [u8; 16],
    /// Tag 3.
    pub responder_session_id: u16,
    /// Tag 4.
    pub responder_session_params: Option<SessionParameters>,
}

/// TBSData2 / TBSData3, the signed structure: the sender's NOC (1) and ICAC (2), the sender's
/// (3) and the receiver's (4) ephemeral public keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tbs<'a> {
    /// Tag 1.
    pub sender_noc: &'a [u8],
    /// Tag 2.
    pub sender_icac: Option<&'a [u8]>,
    /// Tag 3.
    pub sender_eph_pub: &'a [u8; 65],
    /// Tag 4.
    pub receiver_eph_pub: &'a [u8; 65],
}

/// TBEData2 / TBEData3, the encrypted structure: NOC (1), ICAC (2), signature (3) and, in
/// TBEData2 only, the resumption id (4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tbe {
    /// Tag 1.
    pub sender_noc: Vec<u8>,
    /// Tag 2.
    pub sender_icac: Option<Vec<u8>>,
    /// Tag 3: ECDSA r || s over the TBSData.
    pub signature: [u8; 64],
    /// Tag 4: required in TBEData2, absent in TBEData3.
    pub resumption_id: Option<[u8; 16]>,
}

impl Sigma1 {
    const NAME: &'static str = "Sigma1";

    /// Decodes the payload.
    ///
    /// # Errors
    /// [`CaseMessageError`] for anything off-schema.
    pub fn decode(payload: &[u8]) -> Result<Self, CaseMessageError> {
        let m = Self::NAME;
        let [r, sid, dest, key, params, rid, mic] = members::<7>(m, payload)?;
        let resumption = match (rid, mic) {
            (None, None) => None,
            (Some(rid), Some(mic)) => Some((fixed(m, 6, rid)?, fixed(m, 7, mic)?)),
            (Some(_), None) => return Err(CaseMessageError::MissingField { msg: m, tag: 7 }),
            (None, Some(_)) => return Err(CaseMessageError::MissingField { msg: m, tag: 6 }),
        };
        Ok(Self {
            initiator_random: fixed(m, 1, req(m, 1, r)?)?,
            initiator_session_id: int(m, 2, req(m, 2, sid)?)?,
            destination_id: fixed(m, 3, req(m, 3, dest)?)?,
            initiator_eph_pub: fixed(m, 4, req(m, 4, key)?)?,
            initiator_session_params: params.map(|v| session_params(m, 5, v)).transpose()?,
            resumption,
        })
    }

    /// Encodes the payload.
    pub fn encode(&self) -> Vec<u8> {
        encode_struct(|w| {
            w.octets(Tag::Context(1), &self.initiator_random)?;
            w.u16(Tag::Context(2), self.initiator_session_id)?;
            w.octets(Tag::Context(3), &self.destination_id)?;
            w.octets(Tag::Context(4), &self.initiator_eph_pub)?;
            if let Some(p) = &self.initiator_session_params {
                write_session_parameters(w, Tag::Context(5), p)?;
            }
            if let Some((rid, mic)) = &self.resumption {
                w.octets(Tag::Context(6), rid)?;
                w.octets(Tag::Context(7), mic)?;
            }
            Ok(())
        })
    }
}

impl Sigma2 {
    const NAME: &'static str = "Sigma2";

    /// Decodes the payload.
    ///
    /// # Errors
    /// [`CaseMessageError`] for anything off-schema.
    pub fn decode(payload: &[u8]) -> Result<Self, CaseMessageError> {
        let m = Self::NAME;
        let [r, sid, key, enc, params] = members::<5>(m, payload)?;
        Ok(Self {
            responder_random: fixed(m, 1, req(m, 1, r)?)?,
            responder_session_id: int(m, 2, req(m, 2, sid)?)?,
            responder_eph_pub: fixed(m, 3, req(m, 3, key)?)?,
            encrypted2: octets(m, 4, req(m, 4, enc)?)?.to_vec(),
            responder_session_params: params.map(|v| session_params(m, 5, v)).transpose()?,
        })
    }

    /// Encodes the payload.
    pub fn encode(&self) -> Vec<u8> {
        encode_struct(|w| {
            w.octets(Tag::Context(1), &self.responder_random)?;
            w.u16(Tag::Context(2), self.responder_session_id)?;
            w.octets(Tag::Context(3), &self.responder_eph_pub)?;
            w.octets(Tag::Context(4), &self.encrypted2)?;
            if let Some(p) = &self.responder_session_params {
                write_session_parameters(w, Tag::Context(5), p)?;
            }
            Ok(())
        })
    }
}

impl Sigma3 {
    const NAME: &'static str = "Sigma3";

    /// Decodes the payload.
    ///
    /// # Errors
    /// [`CaseMessageError`] for anything off-schema.
    pub fn decode(payload: &[u8]) -> Result<Self, CaseMessageError> {
        let m = Self::NAME;
        let [enc] = members::<1>(m, payload)?;
        Ok(Self {
            encrypted3: octets(m, 1, req(m, 1, enc)?)?.to_vec(),
        })
    }

    /// Encodes the payload.
    pub fn encode(&self) -> Vec<u8> {
        encode_struct(|w| w.octets(Tag::Context(1), &self.encrypted3))
    }
}

impl Sigma2Resume {
    const NAME: &'static str = "Sigma2Resume";

    /// Decodes the payload.
    ///
    /// # Errors
    /// [`CaseMessageError`] for anything off-schema.
    pub fn decode(payload: &[u8]) -> Result<Self, CaseMessageError> {
        let m = Self::NAME;
        let [rid, mic, sid, params] = members::<4>(m, payload)?;
        Ok(Self {
            resumption_id: fixed(m, 1, req(m, 1, rid)?)?,
            sigma2_resume_mic: fixed(m, 2, req(m, 2, mic)?)?,
            responder_session_id: int(m, 3, req(m, 3, sid)?)?,
            responder_session_params: params.map(|v| session_params(m, 4, v)).transpose()?,
        })
    }

    /// Encodes the payload.
    pub fn encode(&self) -> Vec<u8> {
        encode_struct(|w| {
            w.octets(Tag::Context(1), &self.resumption_id)?;
            w.octets(Tag::Context(2), &self.sigma2_resume_mic)?;
            w.u16(Tag::Context(3), self.responder_session_id)?;
            if let Some(p) = &self.responder_session_params {
                write_session_parameters(w, Tag::Context(4), p)?;
            }
            Ok(())
        })
    }
}

impl Tbs<'_> {
    /// Encodes the structure that is signed.
    pub fn encode(&self) -> Vec<u8> {
        encode_struct(|w| {
            w.octets(Tag::Context(1), self.sender_noc)?;
            if let Some(icac) = self.sender_icac {
                w.octets(Tag::Context(2), icac)?;
            }
            w.octets(Tag::Context(3), self.sender_eph_pub)?;
            w.octets(Tag::Context(4), self.receiver_eph_pub)
        })
    }
}

impl Tbe {
    /// Decodes decrypted TBEData2 (`sigma2` true: the resumption id is required) or TBEData3.
    ///
    /// # Errors
    /// [`CaseMessageError`] for anything off-schema.
    pub fn decode(payload: &[u8], sigma2: bool) -> Result<Self, CaseMessageError> {
        let m = if sigma2 { "TBEData2" } else { "TBEData3" };
        let [noc, icac, sig, rid] = members::<4>(m, payload)?;
        let resumption_id = match (rid, sigma2) {
            (Some(v), true) => Some(fixed(m, 4, v)?),
            (None, true) => return Err(CaseMessageError::MissingField { msg: m, tag: 4 }),
            (Some(_), false) => return Err(CaseMessageError::InvalidField { msg: m, tag: 4 }),
            (None, false) => None,
        };
        Ok(Self {
            sender_noc: cert(m, 1, req(m, 1, noc)?)?,
            sender_icac: icac.map(|v| cert(m, 2, v)).transpose()?,
            signature: fixed(m, 3, req(m, 3, sig)?)?,
            resumption_id,
        })
    }

    /// Encodes the structure before encryption.
    pub fn encode(&self) -> Vec<u8> {
        encode_struct(|w| {
            w.octets(Tag::Context(1), &self.sender_noc)?;
            if let Some(icac) = &self.sender_icac {
                w.octets(Tag::Context(2), icac)?;
            }
            w.octets(Tag::Context(3), &self.signature)?;
            if let Some(rid) = &self.resumption_id {
                w.octets(Tag::Context(4), rid)?;
            }
            Ok(())
        })
    }
}

// --- helpers ----------------------------------------------------------------------------------

fn cert(msg: &'static str, tag: u8, v: Value<'_>) -> Result<Vec<u8>, CaseMessageError> {
    let b = octets(msg, tag, v)?;
    if b.is_empty() || b.len() > MAX_CERT_LEN {
        return Err(CaseMessageError::InvalidField { msg, tag });
    }
    Ok(b.to_vec())
}

fn session_params(
    msg: &'static str,
    tag: u8,
    v: Value<'_>,
) -> Result<SessionParameters, CaseMessageError> {
    let Value::Struct(c) = v else {
        return Err(CaseMessageError::InvalidField { msg, tag });
    };
    decode_session_parameters(msg, &c).map_err(|_| CaseMessageError::InvalidField { msg, tag })
}

/// Encodes one anonymous structure. An unlimited writer fails only on an unbalanced container,
/// a bug here: it is logged and an empty payload returned, which every peer rejects.
fn encode_struct(f: impl FnOnce(&mut TlvWriter<'_>) -> Result<(), TlvError>) -> Vec<u8> {
    let mut buf = Vec::with_capacity(256);
    let mut w = TlvWriter::new(&mut buf);
    let r = w
        .start_struct(Tag::Anonymous)
        .and_then(|()| f(&mut w))
        .and_then(|()| w.end_container())
        .and_then(|()| w.finish().map(drop));
    if let Err(e) = r {
        tracing::error!(error = %e, "bug: CASE message encoding failed");
        buf.clear();
    }
    buf
}
