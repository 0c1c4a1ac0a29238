//! Wire forms of the Operational Credentials cluster (Matter 1.3 §11.18.5-6): the request
//! fields the server decodes, the response commands it encodes, and the value rules the spec
//! puts on them (nonce sizes, certificate sizes, admin subjects, vendor ids). The cluster's
//! behaviour lives in `operational_credentials.rs`; this file only translates.

use zeroize::Zeroizing;

use crate::im::model::InvokeResult;
use crate::im::Status;
use crate::tlv::{Container, Tag, TlvError, TlvWriter};

/// Command ids (§11.18.6).
pub mod cmd {
    /// AttestationRequest.
    pub const ATTESTATION_REQUEST: u32 = 0x00;
    /// AttestationResponse.
    pub const ATTESTATION_RESPONSE: u32 = 0x01;
    /// CertificateChainRequest.
    pub const CERTIFICATE_CHAIN_REQUEST: u32 = 0x02;
    /// CertificateChainResponse.
    pub const CERTIFICATE_CHAIN_RESPONSE: u32 = 0x03;
    /// CSRRequest.
    pub const CSR_REQUEST: u32 = 0x04;
    /// CSRResponse.
    pub const CSR_RESPONSE: u32 = 0x05;
    /// AddNOC.
    pub const ADD_NOC: u32 = 0x06;
    /// UpdateNOC.
    pub const UPDATE_NOC: u32 = 0x07;
    /// NOCResponse.
    pub const NOC_RESPONSE: u32 = 0x08;
    /// UpdateFabricLabel.
    pub const UPDATE_FABRIC_LABEL: u32 = 0x09;
    /// RemoveFabric.
    pub const REMOVE_FABRIC: u32 = 0x0A;
    /// AddTrustedRootCertificate.
    pub const ADD_TRUSTED_ROOT_CERTIFICATE: u32 = 0x0B;
}

/// Attribute ids (§11.18.5).
pub mod attr {
    /// NOCs (fabric-scoped list of NOCStruct).
    pub const NOCS: u32 = 0x0000;
    /// Fabrics (fabric-scoped list of FabricDescriptorStruct).
    pub const FABRICS: u32 = 0x0001;
    /// SupportedFabrics.
    pub const SUPPORTED_FABRICS: u32 = 0x0002;
    /// CommissionedFabrics.
    pub const COMMISSIONED_FABRICS: u32 = 0x0003;
    /// TrustedRootCertificates.
    pub const TRUSTED_ROOT_CERTIFICATES: u32 = 0x0004;
    /// CurrentFabricIndex.
    pub const CURRENT_FABRIC_INDEX: u32 = 0x0005;
}

/// Nonce length of AttestationRequest and CSRRequest (§11.18.6.1, §11.18.6.5: exactly 32).
pub const NONCE_LEN: usize = 32;

/// Largest Matter-TLV certificate accepted (NOCValue, ICACValue, RootCACertificate: "max 400",
/// §11.18.6.8; the CHIP SDK's `kMaxCHIPCertLength` is the same 400).
pub const MAX_CERT_LEN: usize = 400;

/// IPK epoch key length (CRYPTO_SYMMETRIC_KEY_LENGTH_BYTES, §11.18.6.8.3).
pub const IPK_LEN: usize = 16;

/// Largest fabric label (§11.18.4.5, FabricDescriptorStruct Label: max 32 bytes).
pub const MAX_LABEL_LEN: usize = 32;

/// Largest NOCResponse DebugText (§11.18.6.10: max 128 bytes).
pub const MAX_DEBUG_TEXT_LEN: usize = 128;

/// NodeOperationalCertStatusEnum (Matter 1.3 §11.18.4.3). Values 7 and 8 are reserved in 1.3
/// (an early draft's InsufficientPrivilege is gone; the CHIP SDK reports InvalidNOC for that
/// case, and so do we).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum NocStatus {
    /// OK, no error.
    Ok = 0,
    /// The public key in the NOC does not match the one in the CSR.
    InvalidPublicKey = 1,
    /// The node operational id in the NOC is not formatted correctly.
    InvalidNodeOpId = 2,
    /// Any other validation error in the NOC chain.
    InvalidNoc = 3,
    /// No prior CSRRequest in this fail-safe context.
    MissingCsr = 4,
    /// No space left in the fabric table.
    TableFull = 5,
    /// CaseAdminSubject is not an operational node id or a CASE Authenticated Tag.
    InvalidAdminSubject = 6,
    /// A fabric with this root public key and fabric id already exists.
    FabricConflict = 9,
    /// Another fabric already uses this label.
    LabelConflict = 10,
    /// No fabric has this index.
    InvalidFabricIndex = 11,
}

/// CertificateChainTypeEnum (§11.18.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificateChainType {
    /// The DAC (1).
    Dac,
    /// The PAI (2).
    Pai,
}

/// AttestationRequest fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttestationRequest {
    /// AttestationNonce (32 bytes).
    pub nonce: [u8; NONCE_LEN],
}

/// CSRRequest fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CsrRequest {
    /// CSRNonce (32 bytes).
    pub nonce: [u8; NONCE_LEN],
    /// IsForUpdateNOC (absent = false).
    pub for_update_noc: bool,
}

/// AddNOC fields. The IPK is a secret: zeroized on drop, left out of `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct AddNocRequest<'a> {
    /// NOCValue: Matter-TLV NOC (at most [`MAX_CERT_LEN`]).
    pub noc: &'a [u8],
    /// ICACValue: Matter-TLV ICAC, if the chain has one.
    pub icac: Option<&'a [u8]>,
    /// IPKValue: the fabric's IPK epoch key.
    pub ipk: Zeroizing<[u8; IPK_LEN]>,
    /// CaseAdminSubject.
    pub case_admin_subject: u64,
    /// AdminVendorId.
    pub admin_vendor_id: u16,
}

impl core::fmt::Debug for AddNocRequest<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AddNocRequest")
            .field("noc_len", &self.noc.len())
            .field("icac_len", &self.icac.map(<[u8]>::len))
            .field(
                "case_admin_subject",
                &format_args!("{:016X}", self.case_admin_subject),
            )
            .field("admin_vendor_id", &self.admin_vendor_id)
            .finish_non_exhaustive()
    }
}

/// UpdateNOC fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpdateNocRequest<'a> {
    /// NOCValue.
    pub noc: &'a [u8],
    /// ICACValue.
    pub icac: Option<&'a [u8]>,
}

/// Decodes a command's fields, mapping every malformation to INVALID_COMMAND (§8.9.4.3 via
/// the CHIP SDK's `DataModel::Decode` failure path: a request whose fields do not decode gets
/// INVALID_COMMAND). Every request here has a mandatory field, so absent fields are too.
fn fields<'a, T>(
    f: Option<Container<'a>>,
    decode: impl FnOnce(&Container<'a>) -> Result<T, TlvError>,
) -> Result<T, InvokeResult> {
    let invalid = InvokeResult::Status(Status::INVALID_COMMAND);
    let Some(c) = f else { return Err(invalid) };
    decode(&c).map_err(|_| invalid)
}

/// A fixed-size octet string field; another length is INVALID_COMMAND (the spec's "if the
/// nonce is malformed", §11.18.6.1).
fn fixed<const N: usize>(c: &Container<'_>, tag: u8) -> Result<[u8; N], TlvError> {
    let b = c.octets(tag)?;
    b.try_into().map_err(|_| TlvError::IntegerOutOfRange {
        target: "fixed-size octet string",
    })
}

fn bounded<'a>(c: &Container<'a>, tag: u8, max: usize) -> Result<&'a [u8], TlvError> {
    let b = c.octets(tag)?;
    if b.len() > max {
        return Err(TlvError::IntegerOutOfRange {
            target: "bounded octet string",
        });
    }
    Ok(b)
}

fn opt_bounded<'a>(c: &Container<'a>, tag: u8, max: usize) -> Result<Option<&'a [u8]>, TlvError> {
    match c.opt_octets(tag)? {
        Some(b) if b.len() > max => Err(TlvError::IntegerOutOfRange {
            target: "bounded octet string",
        }),
        other => Ok(other),
    }
}

/// An optional ICACValue: absent or empty both mean "no intermediate". matter.js as a
/// commissioner sends an empty ICACValue when its fabric has no ICAC, and the CHIP SDK's
/// device treats an empty one as absent too (its fabric table takes an empty span for none).
fn opt_icac<'a>(c: &Container<'a>, tag: u8) -> Result<Option<&'a [u8]>, TlvError> {
    Ok(opt_bounded(c, tag, MAX_CERT_LEN)?.filter(|b| !b.is_empty()))
}

impl AttestationRequest {
    /// Decodes the request fields (0: AttestationNonce).
    ///
    /// # Errors
    /// INVALID_COMMAND for a missing nonce or one of another length.
    pub fn decode(f: Option<Container<'_>>) -> Result<Self, InvokeResult> {
        fields(f, |c| {
            Ok(Self {
                nonce: fixed(c, 0)?,
            })
        })
    }
}

impl CertificateChainType {
    /// Decodes CertificateChainRequest (0: CertificateType).
    ///
    /// # Errors
    /// INVALID_COMMAND for a missing field or a value other than 1 or 2 (§11.18.6.3).
    pub fn decode(f: Option<Container<'_>>) -> Result<Self, InvokeResult> {
        let t = fields(f, |c| c.u8(0))?;
        match t {
            1 => Ok(Self::Dac),
            2 => Ok(Self::Pai),
            _ => Err(InvokeResult::Status(Status::INVALID_COMMAND)),
        }
    }
}

impl CsrRequest {
    /// Decodes the request fields (0: CSRNonce, 1: IsForUpdateNOC optional).
    ///
    /// # Errors
    /// INVALID_COMMAND for a missing or wrong-size nonce.
    pub fn decode(f: Option<Container<'_>>) -> Result<Self, InvokeResult> {
        fields(f, |c| {
            Ok(Self {
                nonce: fixed(c, 0)?,
                for_update_noc: c.opt_bool(1)?.unwrap_or(false),
            })
        })
    }
}

impl<'a> AddNocRequest<'a> {
    /// Decodes the request fields (0 NOCValue, 1 ICACValue, 2 IPKValue, 3 CaseAdminSubject,
    /// 4 AdminVendorId).
    ///
    /// # Errors
    /// INVALID_COMMAND for a missing field, a certificate over [`MAX_CERT_LEN`], an IPK that
    /// is not 16 bytes, or an AdminVendorId not valid operationally (the order of the CHIP
    /// SDK's checks, which run before the fail-safe check).
    pub fn decode(f: Option<Container<'a>>) -> Result<Self, InvokeResult> {
        let r = fields(f, |c| {
            Ok(Self {
                noc: bounded(c, 0, MAX_CERT_LEN)?,
                icac: opt_icac(c, 1)?,
                ipk: Zeroizing::new(fixed(c, 2)?),
                case_admin_subject: c.u64(3)?,
                admin_vendor_id: c.u16(4)?,
            })
        })?;
        if !is_operational_vendor_id(r.admin_vendor_id) {
            return Err(InvokeResult::Status(Status::INVALID_COMMAND));
        }
        Ok(r)
    }
}

impl<'a> UpdateNocRequest<'a> {
    /// Decodes the request fields (0 NOCValue, 1 ICACValue).
    ///
    /// # Errors
    /// INVALID_COMMAND for a missing NOC or a certificate over [`MAX_CERT_LEN`].
    pub fn decode(f: Option<Container<'a>>) -> Result<Self, InvokeResult> {
        fields(f, |c| {
            Ok(Self {
                noc: bounded(c, 0, MAX_CERT_LEN)?,
                icac: opt_icac(c, 1)?,
            })
        })
    }
}

/// Decodes UpdateFabricLabel (0: Label).
///
/// # Errors
/// INVALID_COMMAND for a missing label or one over 32 bytes.
pub fn decode_label(f: Option<Container<'_>>) -> Result<&str, InvokeResult> {
    let label = fields(f, |c| c.utf8(0))?;
    if label.len() > MAX_LABEL_LEN {
        return Err(InvokeResult::Status(Status::INVALID_COMMAND));
    }
    Ok(label)
}

/// Decodes RemoveFabric (0: FabricIndex).
///
/// # Errors
/// INVALID_COMMAND for a missing field or an index outside 1..=254 (the CHIP SDK's
/// `IsValidFabricIndex` check).
pub fn decode_fabric_index(f: Option<Container<'_>>) -> Result<u8, InvokeResult> {
    let i = fields(f, |c| c.u8(0))?;
    if !(1..=254).contains(&i) {
        return Err(InvokeResult::Status(Status::INVALID_COMMAND));
    }
    Ok(i)
}

/// Decodes AddTrustedRootCertificate (0: RootCACertificate).
///
/// # Errors
/// INVALID_COMMAND for a missing or oversize certificate.
pub fn decode_root(f: Option<Container<'_>>) -> Result<&[u8], InvokeResult> {
    fields(f, |c| bounded(c, 0, MAX_CERT_LEN))
}

/// Whether `subject` may be a CASE ACL subject: an operational node id
/// (0x0000_0000_0000_0001..=0xFFFF_FFEF_FFFF_FFFF) or a CASE Authenticated Tag
/// (0xFFFF_FFFD_xxxx_vvvv with version `vvvv` non-zero) (Matter 1.3 §2.5.5 table "Node
/// Identifier Allocations", §6.6.2.1.2 CAT version).
pub fn is_valid_case_admin_subject(subject: u64) -> bool {
    let operational = (1..=0xFFFF_FFEF_FFFF_FFFF).contains(&subject);
    let cat = subject >> 32 == 0xFFFF_FFFD && subject & 0xFFFF != 0;
    operational || cat
}

/// Whether a vendor id may name an administrator: not 0 (the Matter standard itself) and not
/// above the last test vendor 0xFFF4 (0xFFF5..=0xFFFF are reserved; Matter 1.3 §2.5.2 table
/// "Vendor ID Allocations", the CHIP SDK's `IsVendorIdValidOperationally`).
pub fn is_operational_vendor_id(v: u16) -> bool {
    v != 0 && v <= 0xFFF4
}

/// An encoded response command.
fn response(
    command: u32,
    body: impl FnOnce(&mut TlvWriter<'_>) -> Result<(), TlvError>,
) -> InvokeResult {
    let mut fields = Vec::new();
    let mut w = TlvWriter::new(&mut fields);
    let r = w
        .start_struct(Tag::Anonymous)
        .and_then(|()| body(&mut w))
        .and_then(|()| w.end_container());
    match r {
        Ok(()) => InvokeResult::Response { command, fields },
        // An unbounded writer only fails on a programming error; report it, do not panic.
        Err(_) => InvokeResult::Status(Status::FAILURE),
    }
}

/// AttestationResponse {0: AttestationElements, 1: AttestationSignature}.
pub fn attestation_response(elements: &[u8], signature: &[u8]) -> InvokeResult {
    response(cmd::ATTESTATION_RESPONSE, |w| {
        w.octets(Tag::Context(0), elements)?;
        w.octets(Tag::Context(1), signature)
    })
}

/// CertificateChainResponse {0: Certificate}.
pub fn certificate_chain_response(der: &[u8]) -> InvokeResult {
    response(cmd::CERTIFICATE_CHAIN_RESPONSE, |w| {
        w.octets(Tag::Context(0), der)
    })
}

/// CSRResponse {0: NOCSRElements, 1: AttestationSignature}.
pub fn csr_response(elements: &[u8], signature: &[u8]) -> InvokeResult {
    response(cmd::CSR_RESPONSE, |w| {
        w.octets(Tag::Context(0), elements)?;
        w.octets(Tag::Context(1), signature)
    })
}

/// NOCResponse {0: StatusCode, 1: FabricIndex (when OK, or when `fabric_index` is given),
/// 2: DebugText (if not empty, cut to 128 bytes)}.
pub fn noc_response(status: NocStatus, fabric_index: Option<u8>, debug_text: &str) -> InvokeResult {
    response(cmd::NOC_RESPONSE, |w| {
        w.u8(Tag::Context(0), status as u8)?;
        if let Some(i) = fabric_index {
            w.u8(Tag::Context(1), i)?;
        }
        if !debug_text.is_empty() {
            w.utf8(Tag::Context(2), cut(debug_text, MAX_DEBUG_TEXT_LEN))?;
        }
        Ok(())
    })
}

/// `s` cut to at most `max` bytes at a character boundary.
pub(crate) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlv::{TlvReader, TlvValue};

    fn st(build: impl FnOnce(&mut TlvWriter<'_>) -> Result<(), TlvError>) -> Vec<u8> {
        let mut b = Vec::new();
        let mut w = TlvWriter::new(&mut b);
        w.start_struct(Tag::Anonymous).unwrap();
        build(&mut w).unwrap();
        w.end_container().unwrap();
        b
    }

    fn c(bytes: &[u8]) -> Option<Container<'_>> {
        Some(TlvReader::new(bytes).read_struct().unwrap())
    }

    const INVALID: InvokeResult = InvokeResult::Status(Status::INVALID_COMMAND);

    #[test]
    fn nonce_must_be_32_bytes() {
        let ok = st(|w| w.octets(Tag::Context(0), &[7; 32]));
        assert_eq!(
            AttestationRequest::decode(c(&ok)),
            Ok(AttestationRequest { nonce: [7; 32] })
        );
        for len in [0, 31, 33] {
            let bad = st(|w| w.octets(Tag::Context(0), &vec![7; len]));
            assert_eq!(AttestationRequest::decode(c(&bad)), Err(INVALID));
            assert_eq!(CsrRequest::decode(c(&bad)), Err(INVALID));
        }
        assert_eq!(AttestationRequest::decode(None), Err(INVALID));
        let wrong_type = st(|w| w.u8(Tag::Context(0), 1));
        assert_eq!(CsrRequest::decode(c(&wrong_type)), Err(INVALID));
        let upd = st(|w| {
            w.octets(Tag::Context(0), &[1; 32])?;
            w.bool(Tag::Context(1), true)
        });
        assert_eq!(
            CsrRequest::decode(c(&upd)),
            Ok(CsrRequest {
                nonce: [1; 32],
                for_update_noc: true
            })
        );
    }

    #[test]
    fn certificate_chain_type() {
        for (v, want) in [
            (1, Ok(CertificateChainType::Dac)),
            (2, Ok(CertificateChainType::Pai)),
            (0, Err(INVALID)),
            (3, Err(INVALID)),
        ] {
            let b = st(|w| w.u8(Tag::Context(0), v));
            assert_eq!(CertificateChainType::decode(c(&b)), want, "type {v}");
        }
    }

    fn add_noc(noc_len: usize, ipk_len: usize, vendor: u16) -> Vec<u8> {
        st(|w| {
            w.octets(Tag::Context(0), &vec![1; noc_len])?;
            w.octets(Tag::Context(2), &vec![2; ipk_len])?;
            w.u64(Tag::Context(3), 0x1122)?;
            w.u16(Tag::Context(4), vendor)
        })
    }

    #[test]
    fn add_noc_field_rules() {
        let ok = add_noc(400, 16, 0xFFF1);
        let r = AddNocRequest::decode(c(&ok)).unwrap();
        assert_eq!((r.noc.len(), r.icac, *r.ipk), (400, None, [2; 16]));
        assert!(!format!("{r:?}").contains("2, 2"), "IPK not in Debug");
        assert_eq!((r.case_admin_subject, r.admin_vendor_id), (0x1122, 0xFFF1));
        assert_eq!(
            AddNocRequest::decode(c(&add_noc(401, 16, 0xFFF1))),
            Err(INVALID)
        );
        assert_eq!(
            AddNocRequest::decode(c(&add_noc(300, 15, 0xFFF1))),
            Err(INVALID)
        );
        assert_eq!(AddNocRequest::decode(c(&add_noc(300, 16, 0))), Err(INVALID));
        assert_eq!(
            AddNocRequest::decode(c(&add_noc(300, 16, 0xFFF5))),
            Err(INVALID)
        );
        let big_icac = st(|w| {
            w.octets(Tag::Context(0), &[1; 10])?;
            w.octets(Tag::Context(1), &[1; 401])?;
            w.octets(Tag::Context(2), &[2; 16])?;
            w.u64(Tag::Context(3), 1)?;
            w.u16(Tag::Context(4), 1)
        });
        assert_eq!(AddNocRequest::decode(c(&big_icac)), Err(INVALID));
        assert_eq!(UpdateNocRequest::decode(c(&big_icac)), Err(INVALID));
    }

    /// matter.js 0.17 (interop */matterjs-commission) sends AddNOC with ICACValue present and
    /// empty for a fabric without an ICAC; it must decode as no ICAC, not as a certificate.
    #[test]
    fn empty_icac_is_no_icac() {
        let with_icac = |icac: &[u8]| {
            st(|w| {
                w.octets(Tag::Context(0), &[1; 10])?;
                w.octets(Tag::Context(1), icac)?;
                w.octets(Tag::Context(2), &[2; 16])?;
                w.u64(Tag::Context(3), 1)?;
                w.u16(Tag::Context(4), 0xFFF1)
            })
        };
        let empty = with_icac(&[]);
        assert_eq!(AddNocRequest::decode(c(&empty)).map(|r| r.icac), Ok(None));
        assert_eq!(
            UpdateNocRequest::decode(c(&empty)).map(|r| r.icac),
            Ok(None)
        );
        let one = with_icac(&[7; 3]);
        assert_eq!(
            AddNocRequest::decode(c(&one)).map(|r| r.icac),
            Ok(Some(&[7u8; 3][..]))
        );
        assert_eq!(
            UpdateNocRequest::decode(c(&one)).map(|r| r.icac),
            Ok(Some(&[7u8; 3][..]))
        );
    }

    #[test]
    fn label_index_and_root_rules() {
        let l = st(|w| w.utf8(Tag::Context(0), "Home"));
        assert_eq!(decode_label(c(&l)), Ok("Home"));
        let long = st(|w| w.utf8(Tag::Context(0), &"x".repeat(33)));
        assert_eq!(decode_label(c(&long)), Err(INVALID));
        for (i, ok) in [(0u8, false), (1, true), (254, true), (255, false)] {
            let b = st(|w| w.u8(Tag::Context(0), i));
            assert_eq!(decode_fabric_index(c(&b)).is_ok(), ok, "index {i}");
        }
        let root = st(|w| w.octets(Tag::Context(0), &[0; 401]));
        assert_eq!(decode_root(c(&root)), Err(INVALID));
    }

    #[test]
    fn admin_subjects_and_vendors() {
        assert!(!is_valid_case_admin_subject(0));
        assert!(is_valid_case_admin_subject(1));
        assert!(is_valid_case_admin_subject(0xFFFF_FFEF_FFFF_FFFF));
        assert!(!is_valid_case_admin_subject(0xFFFF_FFF0_0000_0000));
        assert!(is_valid_case_admin_subject(0xFFFF_FFFD_0001_0001));
        assert!(
            !is_valid_case_admin_subject(0xFFFF_FFFD_0001_0000),
            "CAT version 0"
        );
        assert!(
            !is_valid_case_admin_subject(0xFFFF_FFFF_FFFF_FFFE),
            "PAKE key id range"
        );
        assert!(is_operational_vendor_id(0xFFF1));
        assert!(is_operational_vendor_id(0x1234));
        assert!(!is_operational_vendor_id(0));
        assert!(!is_operational_vendor_id(0xFFFF));
    }

    #[test]
    fn noc_response_golden() {
        let InvokeResult::Response { command, fields } = noc_response(NocStatus::Ok, Some(1), "")
        else {
            panic!()
        };
        assert_eq!(command, cmd::NOC_RESPONSE);
        // { 0: 0u8, 1: 1u8 }
        assert_eq!(fields, [0x15, 0x24, 0x00, 0x00, 0x24, 0x01, 0x01, 0x18]);
        let InvokeResult::Response { fields, .. } =
            noc_response(NocStatus::FabricConflict, None, &"é".repeat(100))
        else {
            panic!()
        };
        let (_, v) = TlvValue::decode(&fields).unwrap();
        let TlvValue::Struct(m) = v else { panic!() };
        assert_eq!(m[0], (Tag::Context(0), TlvValue::UInt(9)));
        let (_, TlvValue::Utf8(t)) = &m[1] else {
            panic!()
        };
        assert_eq!(t.len(), 128);
    }
}
