//! The PASE messages as TLV (Matter 1.3 §4.14.1.2 "Protocol Details", the `pbkdfparamreq-struct`,
//! `pbkdfparamresp-struct`, `pake1-struct`, `pake2-struct`, `pake3-struct` schemas), the
//! session-parameter structure they carry (§4.12.8 / §2.12.5). Opcodes and the StatusReport codec
//! are `crate::message`'s.
//!
//! Decoding checks everything the schema says: exact lengths of randoms, points and confirmations,
//! integer widths, known members in increasing tag order and at most once (the schemas are
//! `[tag-order]`), required members present. Unknown members are skipped, as newer revisions add
//! them (the CHIP SDK skips them too).

use crate::session::params::SessionParameters;
use crate::tlv::schema::{
    container_members, fixed as octets_exact, int, members, octets, required, structure,
    SchemaError,
};
use crate::tlv::{Container, Tag, TlvError, TlvWriter, Value};

use super::spake2p::{CONFIRM_LEN, POINT_LEN};

/// Length of the PBKDF randoms.
pub const RANDOM_LEN: usize = 32;

/// A PASE message that does not match its schema (the shared secure-channel schema error).
pub type PaseMessageError = SchemaError;

/// PBKDFParamRequest (opcode 0x20), initiator to responder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbkdfParamRequest {
    /// Tag 1: 32 random bytes.
    pub initiator_random: [u8; RANDOM_LEN],
    /// Tag 2: the initiator's session id for the new session.
    pub initiator_session_id: u16,
    /// Tag 3: which passcode; 0 (the default commissioning passcode) is the only one defined.
    pub passcode_id: u16,
    /// Tag 4: the initiator already knows iterations and salt (so the response omits them).
    pub has_pbkdf_parameters: bool,
    /// Tag 5: the initiator's session parameters, if sent.
    pub initiator_session_params: Option<SessionParameters>,
}

/// The PBKDF2 parameters inside PBKDFParamResponse (tag 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbkdfParameters {
    /// Tag 1: iteration count.
    pub iterations: u32,
    /// Tag 2: salt.
    pub salt: Vec<u8>,
}

/// PBKDFParamResponse (opcode 0x21), responder to initiator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbkdfParamResponse {
    /// Tag 1: the initiator's random, echoed.
    pub initiator_random: [u8; RANDOM_LEN],
    /// Tag 2: 32 random bytes of the responder.
    pub responder_random: [u8; RANDOM_LEN],
    /// Tag 3: the responder's session id for the new session.
    pub responder_session_id: u16,
    /// Tag 4: iterations and salt, omitted when the initiator said it has them.
    pub pbkdf_parameters: Option<PbkdfParameters>,
    /// Tag 5: the responder's session parameters, if sent.
    pub responder_session_params: Option<SessionParameters>,
}

/// Pake1 (opcode 0x22): the prover's share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pake1 {
    /// Tag 1: `pA`, an uncompressed P-256 point.
    pub pa: [u8; POINT_LEN],
}

/// Pake2 (opcode 0x23): the verifier's share and confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pake2 {
    /// Tag 1: `pB`, an uncompressed P-256 point.
    pub pb: [u8; POINT_LEN],
    /// Tag 2: `cB`, HMAC-SHA256.
    pub cb: [u8; CONFIRM_LEN],
}

/// Pake3 (opcode 0x24): the prover's confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pake3 {
    /// Tag 1: `cA`, HMAC-SHA256.
    pub ca: [u8; CONFIRM_LEN],
}

impl PbkdfParamRequest {
    const NAME: &'static str = "PBKDFParamRequest";

    /// Decodes the TLV payload.
    ///
    /// # Errors
    /// [`PaseMessageError`] for anything that does not match the schema.
    pub fn decode(payload: &[u8]) -> Result<Self, PaseMessageError> {
        let m = Self::NAME;
        let [random, sid, pid, has, params] = members::<5>(m, payload)?;
        Ok(Self {
            initiator_random: octets_exact(m, 1, required(m, 1, random)?)?,
            initiator_session_id: int(m, 2, required(m, 2, sid)?)?,
            passcode_id: int(m, 3, required(m, 3, pid)?)?,
            has_pbkdf_parameters: int(m, 4, required(m, 4, has)?)?,
            initiator_session_params: params.map(|v| session_parameters(m, 5, v)).transpose()?,
        })
    }

    /// Encodes the TLV payload.
    pub fn encode(&self) -> Vec<u8> {
        encode_struct(|w| {
            w.octets(Tag::Context(1), &self.initiator_random)?;
            w.u16(Tag::Context(2), self.initiator_session_id)?;
            w.u16(Tag::Context(3), self.passcode_id)?;
            w.bool(Tag::Context(4), self.has_pbkdf_parameters)?;
            if let Some(p) = &self.initiator_session_params {
                write_session_parameters(w, Tag::Context(5), p)?;
            }
            Ok(())
        })
    }
}

impl PbkdfParamResponse {
    const NAME: &'static str = "PBKDFParamResponse";

    /// Decodes the TLV payload.
    ///
    /// # Errors
    /// [`PaseMessageError`] for anything that does not match the schema.
    pub fn decode(payload: &[u8]) -> Result<Self, PaseMessageError> {
        let m = Self::NAME;
        let [irandom, rrandom, sid, pbkdf, params] = members::<5>(m, payload)?;
        let pbkdf_parameters = pbkdf
            .map(|v| {
                let c = structure(m, 4, v)?;
                let [iter, salt] = container_members::<2>(m, &c, true)?;
                Ok::<_, PaseMessageError>(PbkdfParameters {
                    iterations: int(m, 4, required(m, 4, iter)?)?,
                    salt: octets(m, 4, required(m, 4, salt)?)?.to_vec(),
                })
            })
            .transpose()?;
        Ok(Self {
            initiator_random: octets_exact(m, 1, required(m, 1, irandom)?)?,
            responder_random: octets_exact(m, 2, required(m, 2, rrandom)?)?,
            responder_session_id: int(m, 3, required(m, 3, sid)?)?,
            pbkdf_parameters,
            responder_session_params: params.map(|v| session_parameters(m, 5, v)).transpose()?,
        })
    }

    /// Encodes the TLV payload.
    pub fn encode(&self) -> Vec<u8> {
        encode_struct(|w| {
            w.octets(Tag::Context(1), &self.initiator_random)?;
            w.octets(Tag::Context(2), &self.responder_random)?;
            w.u16(Tag::Context(3), self.responder_session_id)?;
            if let Some(p) = &self.pbkdf_parameters {
                w.start_struct(Tag::Context(4))?;
                w.u32(Tag::Context(1), p.iterations)?;
                w.octets(Tag::Context(2), &p.salt)?;
                w.end_container()?;
            }
            if let Some(p) = &self.responder_session_params {
                write_session_parameters(w, Tag::Context(5), p)?;
            }
            Ok(())
        })
    }
}

impl Pake1 {
    const NAME: &'static str = "Pake1";

    /// Decodes the TLV payload.
    ///
    /// # Errors
    /// [`PaseMessageError`] for anything that does not match the schema (`pA` must be 65 bytes).
    pub fn decode(payload: &[u8]) -> Result<Self, PaseMessageError> {
        let m = Self::NAME;
        let [pa] = members::<1>(m, payload)?;
        Ok(Self {
            pa: octets_exact(m, 1, required(m, 1, pa)?)?,
        })
    }

    /// Encodes the TLV payload.
    pub fn encode(&self) -> Vec<u8> {
        encode_struct(|w| w.octets(Tag::Context(1), &self.pa))
    }
}

impl Pake2 {
    const NAME: &'static str = "Pake2";

    /// Decodes the TLV payload.
    ///
    /// # Errors
    /// [`PaseMessageError`] for anything that does not match the schema.
    pub fn decode(payload: &[u8]) -> Result<Self, PaseMessageError> {
        let m = Self::NAME;
        let [pb, cb] = members::<2>(m, payload)?;
        Ok(Self {
            pb: octets_exact(m, 1, required(m, 1, pb)?)?,
            cb: octets_exact(m, 2, required(m, 2, cb)?)?,
        })
    }

    /// Encodes the TLV payload.
    pub fn encode(&self) -> Vec<u8> {
        encode_struct(|w| {
            w.octets(Tag::Context(1), &self.pb)?;
            w.octets(Tag::Context(2), &self.cb)
        })
    }
}

impl Pake3 {
    const NAME: &'static str = "Pake3";

    /// Decodes the TLV payload.
    ///
    /// # Errors
    /// [`PaseMessageError`] for anything that does not match the schema (`cA` must be 32 bytes).
    pub fn decode(payload: &[u8]) -> Result<Self, PaseMessageError> {
        let m = Self::NAME;
        let [ca] = members::<1>(m, payload)?;
        Ok(Self {
            ca: octets_exact(m, 1, required(m, 1, ca)?)?,
        })
    }

    /// Encodes the TLV payload.
    pub fn encode(&self) -> Vec<u8> {
        encode_struct(|w| w.octets(Tag::Context(1), &self.ca))
    }
}

/// Decodes a session-parameter structure (Matter 1.3 §4.12.8, `session-parameter-struct`):
/// 1 idle interval u32, 2 active interval u32, 3 active threshold u16, 4 data model revision u16,
/// 5 IM revision u16, 6 specification version u32, 7 max paths per invoke u16. Unknown members
/// (newer revisions add supported transports, max TCP message size, ...) are skipped. Shared with
/// CASE, which carries the same structure.
///
/// # Errors
/// [`PaseMessageError`] for a known member of the wrong type or width, or a repeated one.
pub fn decode_session_parameters(
    msg: &'static str,
    c: &Container<'_>,
) -> Result<SessionParameters, PaseMessageError> {
    let [idle, active, threshold, dm, im, spec, paths] = container_members::<7>(msg, c, false)?;
    Ok(SessionParameters {
        idle_interval_ms: idle.map(|v| int(msg, 1, v)).transpose()?,
        active_interval_ms: active.map(|v| int(msg, 2, v)).transpose()?,
        active_threshold_ms: threshold.map(|v| int(msg, 3, v)).transpose()?,
        data_model_revision: dm.map(|v| int(msg, 4, v)).transpose()?,
        interaction_model_revision: im.map(|v| int(msg, 5, v)).transpose()?,
        specification_version: spec.map(|v| int(msg, 6, v)).transpose()?,
        max_paths_per_invoke: paths.map(|v| int(msg, 7, v)).transpose()?,
    })
}

/// Writes a session-parameter structure with tag `tag`; absent fields are omitted.
///
/// # Errors
/// Only a writer limit ([`TlvError::BufferFull`]).
pub fn write_session_parameters(
    w: &mut TlvWriter<'_>,
    tag: Tag,
    p: &SessionParameters,
) -> Result<(), TlvError> {
    w.start_struct(tag)?;
    if let Some(v) = p.idle_interval_ms {
        w.u32(Tag::Context(1), v)?;
    }
    if let Some(v) = p.active_interval_ms {
        w.u32(Tag::Context(2), v)?;
    }
    if let Some(v) = p.active_threshold_ms {
        w.u16(Tag::Context(3), v)?;
    }
    if let Some(v) = p.data_model_revision {
        w.u16(Tag::Context(4), v)?;
    }
    if let Some(v) = p.interaction_model_revision {
        w.u16(Tag::Context(5), v)?;
    }
    if let Some(v) = p.specification_version {
        w.u32(Tag::Context(6), v)?;
    }
    if let Some(v) = p.max_paths_per_invoke {
        w.u16(Tag::Context(7), v)?;
    }
    w.end_container()
}

// --- decoding helpers -------------------------------------------------------------------------

fn session_parameters(
    msg: &'static str,
    tag: u8,
    v: Value<'_>,
) -> Result<SessionParameters, PaseMessageError> {
    decode_session_parameters(msg, &structure(msg, tag, v)?)
}

/// Encodes one anonymous structure. Writing to an unlimited writer cannot fail; a failure would be
/// a bug here (an unbalanced container), so it is logged and an empty payload returned, which every
/// peer rejects.
fn encode_struct(f: impl FnOnce(&mut TlvWriter<'_>) -> Result<(), TlvError>) -> Vec<u8> {
    let mut buf = Vec::with_capacity(128);
    let mut w = TlvWriter::new(&mut buf);
    let r = w
        .start_struct(Tag::Anonymous)
        .and_then(|()| f(&mut w))
        .and_then(|()| w.end_container())
        .and_then(|()| w.finish().map(drop));
    if let Err(e) = r {
        tracing::error!(error = %e, "bug: PASE message encoding failed");
        buf.clear();
    }
    buf
}

#[cfg(test)]
mod tests;
