//! Request fields and value rules of the Administrator Commissioning cluster (Matter 1.3
//! §11.19.8): OpenCommissioningWindow's verifier, discriminator, PBKDF parameters and timeout,
//! and OpenBasicCommissioningWindow's timeout. The cluster's behaviour lives in
//! `administrator_commissioning.rs`.

use core::fmt;

use zeroize::Zeroizing;

use crate::im::model::InvokeResult;
use crate::im::Status;
use crate::pase::PaseVerifier;
use crate::time::Duration;
use crate::tlv::Container;

/// Command ids (§11.19.8).
pub mod cmd {
    /// OpenCommissioningWindow.
    pub const OPEN_COMMISSIONING_WINDOW: u32 = 0x00;
    /// OpenBasicCommissioningWindow.
    pub const OPEN_BASIC_COMMISSIONING_WINDOW: u32 = 0x01;
    /// RevokeCommissioning.
    pub const REVOKE_COMMISSIONING: u32 = 0x02;
}

/// Attribute ids (§11.19.7).
pub mod attr {
    /// WindowStatus.
    pub const WINDOW_STATUS: u32 = 0x0000;
    /// AdminFabricIndex.
    pub const ADMIN_FABRIC_INDEX: u32 = 0x0001;
    /// AdminVendorId.
    pub const ADMIN_VENDOR_ID: u32 = 0x0002;
}

/// StatusCodeEnum, the cluster-specific status codes (§11.19.6).
pub mod status {
    /// A window is already open, or the fail-safe is armed.
    pub const BUSY: u8 = 0x02;
    /// Bad PAKEPasscodeVerifier, Iterations or Salt.
    pub const PAKE_PARAMETER_ERROR: u8 = 0x03;
    /// RevokeCommissioning with no window open.
    pub const WINDOW_NOT_OPEN: u8 = 0x04;
}

/// Shortest commissioning window an administrator may ask for: 3 minutes (§5.4.2.3.1, the
/// initial announcement duration's lower bound; the CHIP SDK's `kMinCommissioningTimeout`).
pub const MIN_WINDOW_TIMEOUT_S: u16 = 180;

/// Longest: 15 minutes (§5.4.2.3.1; the CHIP SDK's `kMaxCommissioningTimeout`).
pub const MAX_WINDOW_TIMEOUT_S: u16 = 900;

/// Length of PAKEPasscodeVerifier: w0 (32) || L (65) (§11.19.8.1.2).
pub const VERIFIER_LEN: usize = 97;

/// The largest long discriminator (12 bits, §5.1.1.5).
pub const MAX_DISCRIMINATOR: u16 = 0x0FFF;

/// A validated OpenCommissioningWindow request.
pub struct OpenWindowRequest {
    /// CommissioningTimeout.
    pub timeout: Duration,
    /// The verifier with its PBKDF parameters, ready for the PASE responder.
    pub verifier: PaseVerifier,
    /// Discriminator (long, 12 bits) to advertise.
    pub discriminator: u16,
}

impl fmt::Debug for OpenWindowRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenWindowRequest")
            .field("timeout", &self.timeout)
            .field("discriminator", &self.discriminator)
            .finish_non_exhaustive()
    }
}

const INVALID: InvokeResult = InvokeResult::Status(Status::INVALID_COMMAND);
const PAKE_ERROR: InvokeResult =
    InvokeResult::ClusterStatus(Status::FAILURE, status::PAKE_PARAMETER_ERROR);

fn timeout(c: &Container<'_>) -> Result<Duration, InvokeResult> {
    let t = c.u16(0).map_err(|_| INVALID)?;
    if !(MIN_WINDOW_TIMEOUT_S..=MAX_WINDOW_TIMEOUT_S).contains(&t) {
        // "In case of any other parameter error ... COMMAND_INVALID" (§11.19.8.1).
        return Err(INVALID);
    }
    Ok(Duration::from_secs(u64::from(t)))
}

impl OpenWindowRequest {
    /// Decodes and checks the fields (0 CommissioningTimeout, 1 PAKEPasscodeVerifier,
    /// 2 Discriminator, 3 Iterations, 4 Salt).
    ///
    /// # Errors
    /// INVALID_COMMAND for a missing field, a field of the wrong type, a timeout outside
    /// 180..=900 s or a discriminator above 4095; the cluster status PAKEParameterError for a
    /// verifier that is not 97 bytes or not a valid `(w0, L)`, iterations outside
    /// 1000..=100000, or a salt outside 16..=32 bytes (§11.19.8.1).
    pub fn decode(f: Option<Container<'_>>) -> Result<Self, InvokeResult> {
        let c = f.ok_or(INVALID)?;
        let timeout = timeout(&c)?;
        let verifier = c.octets(1).map_err(|_| INVALID)?;
        let discriminator = c.u16(2).map_err(|_| INVALID)?;
        let iterations = c.u32(3).map_err(|_| INVALID)?;
        let salt = c.octets(4).map_err(|_| INVALID)?;
        if discriminator > MAX_DISCRIMINATOR {
            return Err(INVALID);
        }
        if verifier.len() != VERIFIER_LEN {
            return Err(PAKE_ERROR);
        }
        // Held in a zeroizing copy only for the parse; PaseVerifier owns the result.
        let bytes = Zeroizing::new(verifier.to_vec());
        let verifier =
            PaseVerifier::from_serialized(&bytes, salt, iterations).map_err(|_| PAKE_ERROR)?;
        Ok(Self {
            timeout,
            verifier,
            discriminator,
        })
    }
}

/// Decodes OpenBasicCommissioningWindow (0 CommissioningTimeout).
///
/// # Errors
/// INVALID_COMMAND for a missing field or a timeout outside 180..=900 s.
pub fn decode_basic_timeout(f: Option<Container<'_>>) -> Result<Duration, InvokeResult> {
    timeout(&f.ok_or(INVALID)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlv::{Tag, TlvError, TlvReader, TlvWriter};

    /// A valid verifier for passcode 20202021, salt "SPAKE2P Key Salt", 1000 iterations: the
    /// CHIP SDK's test values (src/protocols/secure_channel/tests, `sTestSpake2p01_*`; the same
    /// as `chip-tool`'s default onboarding payload).
    fn valid_verifier() -> Vec<u8> {
        let v = PaseVerifier::from_passcode(20202021, b"SPAKE2P Key Salt", 1000).unwrap();
        v.spake2p().to_bytes().to_vec()
    }

    fn ocw(timeout: u16, verifier: &[u8], disc: u16, iterations: u32, salt: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        let mut w = TlvWriter::new(&mut b);
        (|| -> Result<(), TlvError> {
            w.start_struct(Tag::Anonymous)?;
            w.u16(Tag::Context(0), timeout)?;
            w.octets(Tag::Context(1), verifier)?;
            w.u16(Tag::Context(2), disc)?;
            w.u32(Tag::Context(3), iterations)?;
            w.octets(Tag::Context(4), salt)?;
            w.end_container()
        })()
        .unwrap();
        b
    }

    fn decode(b: &[u8]) -> Result<OpenWindowRequest, InvokeResult> {
        OpenWindowRequest::decode(Some(TlvReader::new(b).read_struct().unwrap()))
    }

    #[test]
    fn valid_request() {
        let v = valid_verifier();
        let r = decode(&ocw(180, &v, 3840, 1000, &[9; 16])).unwrap();
        assert_eq!(r.timeout, Duration::from_secs(180));
        assert_eq!(r.discriminator, 3840);
        assert_eq!(r.verifier.iterations(), 1000);
        assert_eq!(r.verifier.salt(), &[9; 16]);
        assert!(decode(&ocw(900, &v, 0, 100_000, &[9; 32])).is_ok());
    }

    #[test]
    fn error_table() {
        let v = valid_verifier();
        let salt = [9u8; 16];
        let mut not_a_point = v.clone();
        not_a_point[32] = 0x05; // L must start with 0x04 (uncompressed point)
        let cases: [(Vec<u8>, InvokeResult); 10] = [
            (ocw(179, &v, 1, 1000, &salt), INVALID),
            (ocw(901, &v, 1, 1000, &salt), INVALID),
            (ocw(300, &v, 4096, 1000, &salt), INVALID),
            (ocw(300, &v[..96], 1, 1000, &salt), PAKE_ERROR),
            (
                ocw(300, &[v.as_slice(), &[0]].concat(), 1, 1000, &salt),
                PAKE_ERROR,
            ),
            (ocw(300, &not_a_point, 1, 1000, &salt), PAKE_ERROR),
            (ocw(300, &v, 1, 999, &salt), PAKE_ERROR),
            (ocw(300, &v, 1, 100_001, &salt), PAKE_ERROR),
            (ocw(300, &v, 1, 1000, &[9; 15]), PAKE_ERROR),
            (ocw(300, &v, 1, 1000, &[9; 33]), PAKE_ERROR),
        ];
        for (i, (req, want)) in cases.iter().enumerate() {
            assert_eq!(decode(req).err().as_ref(), Some(want), "case {i}");
        }
        assert_eq!(OpenWindowRequest::decode(None).err(), Some(INVALID));
        let missing_salt = {
            let mut b = Vec::new();
            let mut w = TlvWriter::new(&mut b);
            w.start_struct(Tag::Anonymous).unwrap();
            w.u16(Tag::Context(0), 300).unwrap();
            w.end_container().unwrap();
            b
        };
        assert_eq!(decode(&missing_salt).err(), Some(INVALID));
    }

    #[test]
    fn basic_timeout() {
        let enc = |t: u16| {
            let mut b = Vec::new();
            let mut w = TlvWriter::new(&mut b);
            w.start_struct(Tag::Anonymous).unwrap();
            w.u16(Tag::Context(0), t).unwrap();
            w.end_container().unwrap();
            b
        };
        let d = |b: &[u8]| decode_basic_timeout(Some(TlvReader::new(b).read_struct().unwrap()));
        assert_eq!(d(&enc(600)), Ok(Duration::from_secs(600)));
        assert_eq!(d(&enc(10)), Err(INVALID));
        assert_eq!(decode_basic_timeout(None), Err(INVALID));
    }
}
