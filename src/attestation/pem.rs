//! PEM (RFC 7468) or raw DER input, as credential files come: splits the text into its
//! `-----BEGIN x-----` blocks (skipping anything between them, such as OpenSSL's
//! `EC PARAMETERS` block or `Bag Attributes` lines) and decodes each with the RustCrypto
//! `pem-rfc7468` decoder.

use p256::pkcs8::der::pem as rfc7468;
use zeroize::Zeroizing;

/// One decoded block: its label and DER bytes (zeroized on drop: blocks may hold keys).
pub(crate) struct Block {
    pub label: String,
    pub der: Zeroizing<Vec<u8>>,
}

/// What an input turned out to be.
pub(crate) enum Input {
    /// Raw DER (the first byte is a SEQUENCE tag).
    Der(Zeroizing<Vec<u8>>),
    /// PEM text with these blocks, in order.
    Pem(Vec<Block>),
}

/// Why PEM text could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PemProblem {
    /// Neither DER nor text containing a PEM block.
    NotPemOrDer,
    /// A block's boundaries or base64 were malformed.
    Malformed(String),
}

const BEGIN: &str = "-----BEGIN ";
const END: &str = "-----END ";

/// Classifies and decodes `input`.
pub(crate) fn decode(input: &[u8]) -> Result<Input, PemProblem> {
    if input.first() == Some(&0x30) {
        return Ok(Input::Der(Zeroizing::new(input.to_vec())));
    }
    let text = std::str::from_utf8(input).map_err(|_| PemProblem::NotPemOrDer)?;
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let from_begin = rest.get(start..).unwrap_or_default();
        let label_end = from_begin
            .get(BEGIN.len()..)
            .and_then(|s| s.find("-----"))
            .ok_or_else(|| PemProblem::Malformed("unterminated BEGIN line".into()))?;
        let label = from_begin
            .get(BEGIN.len()..BEGIN.len() + label_end)
            .unwrap_or_default();
        let end_marker = format!("{END}{label}-----");
        let end_at = from_begin
            .find(&end_marker)
            .ok_or_else(|| PemProblem::Malformed(format!("no END line for {label}")))?;
        let block_end = end_at + end_marker.len();
        let block = from_begin.get(..block_end).unwrap_or_default();
        let (l, der) = rfc7468::decode_vec(block.as_bytes())
            .map_err(|e| PemProblem::Malformed(format!("{label}: {e}")))?;
        blocks.push(Block {
            label: l.to_owned(),
            der: Zeroizing::new(der),
        });
        rest = from_begin.get(block_end..).unwrap_or_default();
    }
    if blocks.is_empty() {
        return Err(PemProblem::NotPemOrDer);
    }
    Ok(Input::Pem(blocks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_blocks_and_skips_text_between() {
        let text = "Bag Attributes: x\n-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n\
                    -----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
        let Ok(Input::Pem(b)) = decode(text.as_bytes()) else {
            panic!("not decoded");
        };
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].label, "EC PARAMETERS");
        assert_eq!(
            &b[0].der[..],
            &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]
        );
        assert_eq!(b[1].label, "CERTIFICATE");
        assert_eq!(&b[1].der[..], &[0x30, 0x00]);
    }

    #[test]
    fn malformed_inputs_are_errors() {
        for bad in [
            &b""[..],
            b"hello",
            b"\xff\xfe",
            b"-----BEGIN CERTIFICATE-----\nMAA=\n",
            b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            b"-----BEGIN CERTIFICATE",
            b"-----BEGIN A-----\nMAA=\n-----END B-----\n",
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }
}
