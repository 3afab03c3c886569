//! Key material for `trigger.with.verify`: HMAC secrets in the encodings providers show them,
//! and public keys (Ed25519, ECDSA P-256, RSA) given as hex, base64 or PEM, raw or as a
//! SubjectPublicKeyInfo, checked with `ring`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, STANDARD_NO_PAD as B64_NO_PAD};
use serde::Deserialize;

use super::VerifierBuildError;

/// How an HMAC secret is written: as text (its UTF-8 bytes are the key), or encoded.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SecretEncoding {
    #[default]
    Text,
    Base64,
    Hex,
    /// `whsec_<base64>` as Standard Webhooks and Svix show it (the prefix is optional).
    Whsec,
}

pub(crate) fn secret_bytes(text: &str, encoding: SecretEncoding) -> Result<Vec<u8>, VerifierBuildError> {
    let bytes = match encoding {
        SecretEncoding::Text => Ok(text.as_bytes().to_vec()),
        SecretEncoding::Base64 => decode_base64(text.trim()).ok_or("base64"),
        SecretEncoding::Hex => hex::decode(text.trim()).map_err(|_| "hex"),
        SecretEncoding::Whsec => decode_base64(text.trim().strip_prefix("whsec_").unwrap_or(text.trim()))
            .ok_or("`whsec_` followed by base64"),
    }
    .map_err(|what| {
        VerifierBuildError(format!("verify.secret is not {what} (as the sender shows it); check the value you copied"))
    })?;
    if bytes.is_empty() {
        return Err(VerifierBuildError("verify.secret is empty".into()));
    }
    Ok(bytes)
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    B64.decode(text).or_else(|_| B64_NO_PAD.decode(text)).ok()
}

/// The public-key algorithms a provider can sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicAlgorithm {
    Ed25519,
    EcdsaP256Sha256,
    RsaSha256,
}

/// A public key ready for `ring`: the raw Ed25519 key, the uncompressed P-256 point or the
/// PKCS#1 RSA key.
#[derive(Debug, Clone)]
pub struct PublicKey {
    algorithm: PublicAlgorithm,
    key: Vec<u8>,
}

impl PublicKey {
    /// Reads a key written as PEM, hex or base64 (`whpk_` prefix allowed), either the bare key
    /// or a DER SubjectPublicKeyInfo.
    pub fn parse(text: &str, algorithm: PublicAlgorithm) -> Result<Self, VerifierBuildError> {
        let text = text.trim();
        let der = if text.starts_with("-----BEGIN") {
            let inner: String = text.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
            decode_base64(&inner)
        } else if text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            decode_base64(text.strip_prefix("whpk_").unwrap_or(text))
        }
        .ok_or_else(|| VerifierBuildError("verify.public_key is not PEM, hex or base64".into()))?;
        let key = match spki_key(&der) {
            Some(inner) => inner.to_vec(),
            None => der,
        };
        let fits = match algorithm {
            PublicAlgorithm::Ed25519 => key.len() == 32,
            PublicAlgorithm::EcdsaP256Sha256 => key.len() == 65 && key[0] == 4,
            PublicAlgorithm::RsaSha256 => key.first() == Some(&0x30),
        };
        if !fits {
            let expected = match algorithm {
                PublicAlgorithm::Ed25519 => "an Ed25519 key (32 bytes, or a PEM public key)",
                PublicAlgorithm::EcdsaP256Sha256 => "an uncompressed P-256 key (65 bytes, or a PEM public key)",
                PublicAlgorithm::RsaSha256 => "an RSA public key (PEM or DER)",
            };
            return Err(VerifierBuildError(format!("verify.public_key is not {expected}")));
        }
        Ok(Self { algorithm, key })
    }

    /// Whether `signature` signs `message` (ECDSA signatures as DER or as the 64-byte r‖s form).
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        use ring::signature as sig;
        let algorithm: &dyn sig::VerificationAlgorithm = match self.algorithm {
            PublicAlgorithm::Ed25519 => &sig::ED25519,
            PublicAlgorithm::EcdsaP256Sha256 if signature.len() == 64 => &sig::ECDSA_P256_SHA256_FIXED,
            PublicAlgorithm::EcdsaP256Sha256 => &sig::ECDSA_P256_SHA256_ASN1,
            PublicAlgorithm::RsaSha256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        };
        sig::UnparsedPublicKey::new(algorithm, &self.key).verify(message, signature).is_ok()
    }
}

/// The key bits of a DER SubjectPublicKeyInfo: `SEQUENCE { SEQUENCE {…}, BIT STRING }`.
fn spki_key(der: &[u8]) -> Option<&[u8]> {
    let (tag, outer, rest) = der_item(der)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let (tag, _algorithm, after) = der_item(outer)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, bits, rest) = der_item(after)?;
    if tag != 0x03 || !rest.is_empty() {
        return None;
    }
    // The first byte counts unused bits, zero for keys.
    bits.split_first().filter(|(unused, _)| **unused == 0).map(|(_, key)| key)
}

/// One DER item: its tag, its contents and what follows it.
fn der_item(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_every_encoding() {
        assert_eq!(secret_bytes("abc", SecretEncoding::Text).unwrap(), b"abc");
        assert_eq!(secret_bytes("YWJj", SecretEncoding::Base64).unwrap(), b"abc");
        assert_eq!(secret_bytes("616263", SecretEncoding::Hex).unwrap(), b"abc");
        assert_eq!(secret_bytes("whsec_YWJj", SecretEncoding::Whsec).unwrap(), b"abc");
        assert!(secret_bytes("whsec_!!", SecretEncoding::Whsec).unwrap_err().0.contains("whsec_"));
        assert!(secret_bytes("", SecretEncoding::Text).is_err());
    }

    #[test]
    fn ed25519_keys_as_hex_base64_and_pem() {
        // RFC 8032 test 1: the public key of an all-known secret and its signature of "".
        let public = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        let signature = hex::decode(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        )
        .unwrap();
        let raw = hex::decode(public).unwrap();
        let mut spki = hex::decode("302a300506032b6570032100").unwrap();
        spki.extend_from_slice(&raw);
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", B64.encode(&spki));
        for text in [public.to_string(), B64.encode(&raw), format!("whpk_{}", B64.encode(&raw)), pem] {
            let key = PublicKey::parse(&text, PublicAlgorithm::Ed25519).unwrap();
            assert!(key.verifies(b"", &signature), "{text}");
            assert!(!key.verifies(b"x", &signature));
        }
        assert!(PublicKey::parse("abcd", PublicAlgorithm::Ed25519).unwrap_err().0.contains("Ed25519"));
        assert!(PublicKey::parse(public, PublicAlgorithm::EcdsaP256Sha256).is_err());
    }

    #[test]
    fn der_lengths_are_bounded() {
        assert!(der_item(&[0x30, 0x85, 1, 2, 3, 4, 5]).is_none());
        assert!(der_item(&[0x30, 0x05, 1]).is_none());
        assert!(spki_key(&[0x30, 0x00]).is_none());
    }
}
