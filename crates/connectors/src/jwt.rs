//! RS256 JSON Web Tokens signed with an account's RSA key: GitHub App JWTs and Google
//! service-account assertions.

use base64::Engine as _;
use serde_json::Value;

pub(crate) fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An RSA key from its PEM: PKCS#1 (`BEGIN RSA PRIVATE KEY`, as GitHub hands it out) or PKCS#8
/// (`BEGIN PRIVATE KEY`, as in a Google service account's key file).
pub(crate) fn rsa_key(pem: &str) -> Result<ring::signature::RsaKeyPair, String> {
    let pkcs1 = pem.contains("BEGIN RSA PRIVATE KEY");
    // A key pasted from JSON may keep its `\n` escapes.
    let pem = pem.replace("\\n", "\n");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| format!("`private_key` is not a PEM key: {e}"))?;
    let key =
        if pkcs1 { ring::signature::RsaKeyPair::from_der(&der) } else { ring::signature::RsaKeyPair::from_pkcs8(&der) };
    key.map_err(|e| format!("`private_key` is not an RSA private key in PEM (PKCS#1 or PKCS#8): {e}"))
}

/// `claims` as a JWT signed RS256 with the key in `private_key_pem`.
pub fn rs256(claims: &Value, private_key_pem: &str) -> Result<String, String> {
    let key = rsa_key(private_key_pem)?;
    let header = b64url(br#"{"alg":"RS256","typ":"JWT"}"#);
    let signing_input = format!("{header}.{}", b64url(claims.to_string().as_bytes()));
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| "cannot sign the JWT with `private_key`".to_string())?;
    Ok(format!("{signing_input}.{}", b64url(&signature)))
}
