//! The master key and config values sealed under it (AES-256-GCM, a random 96-bit nonce per
//! value, the value's component/environment/key as associated data so a sealed value cannot be
//! moved to another key). The key comes from `ONSET_MASTER_KEY` (32 bytes, base64 or hex) or
//! from `<data-dir>/master.key`, created at the first start with mode 0600.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

pub const KEY_FILE: &str = "master.key";

/// Where the master key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `ONSET_MASTER_KEY`: rotation needs the new key from the operator.
    Environment,
    /// `<data-dir>/master.key`: rotation writes the new key there.
    File,
}

pub struct MasterKey {
    /// The first 16 hex digits of the key's SHA-256: names the key without revealing it.
    pub id: String,
    key: LessSafeKey,
    pub source: KeySource,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// 32 bytes from base64 or hex text.
pub fn decode_key(text: &str) -> Result<Vec<u8>, String> {
    let t = text.trim();
    let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(t).map_err(|e| e.to_string())?
    } else {
        B64.decode(t).map_err(|_| "the master key is neither base64 nor 64 hex digits".to_string())?
    };
    if bytes.len() != 32 {
        return Err(format!("the master key is {} bytes; it must be 32 (e.g. `openssl rand -base64 32`)", bytes.len()));
    }
    Ok(bytes)
}

pub fn random_key() -> Result<Vec<u8>, String> {
    let mut bytes = vec![0u8; 32];
    SystemRandom::new().fill(&mut bytes).map_err(|_| "no system randomness for a new master key".to_string())?;
    Ok(bytes)
}

fn aad(component: &str, environment: &str, key: &str) -> String {
    format!("{component}\u{0}{environment}\u{0}{key}")
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8], source: KeySource) -> Result<MasterKey, String> {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(bytes);
        let id: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| "the master key is not 32 bytes".to_string())?;
        Ok(MasterKey { id, key: LessSafeKey::new(unbound), source })
    }

    /// The key from `ONSET_MASTER_KEY` when given, else the key file (created when missing).
    pub fn load(data_dir: &std::path::Path, from_env: Option<&str>) -> Result<MasterKey, String> {
        if let Some(text) = from_env {
            return MasterKey::from_bytes(
                &decode_key(text).map_err(|e| format!("ONSET_MASTER_KEY: {e}"))?,
                KeySource::Environment,
            );
        }
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => MasterKey::from_bytes(
                &decode_key(&text).map_err(|e| format!("{}: {e}", path.display()))?,
                KeySource::File,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let bytes = random_key()?;
                write_key_file(data_dir, &bytes)?;
                tracing::info!(path = %path.display(), "created the master key for config values");
                MasterKey::from_bytes(&bytes, KeySource::File)
            }
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    pub fn seal(&self, component: &str, environment: &str, key: &str, plain: &str) -> Result<String, String> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| "no system randomness".to_string())?;
        let mut data = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(component, environment, key).as_bytes()),
                &mut data,
            )
            .map_err(|_| "sealing failed".to_string())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(B64.encode(out))
    }

    pub fn open(&self, component: &str, environment: &str, key: &str, sealed: &str) -> Result<String, String> {
        let bytes = B64.decode(sealed).map_err(|_| "a sealed value is not base64".to_string())?;
        if bytes.len() < NONCE_LEN {
            return Err("a sealed value is too short".into());
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| "bad nonce".to_string())?;
        let mut data = rest.to_vec();
        let plain =
            self.key.open_in_place(nonce, Aad::from(aad(component, environment, key).as_bytes()), &mut data).map_err(
                |_| format!("config `{key}` of `{component}` in `{environment}` cannot be opened with key {}", self.id),
            )?;
        String::from_utf8(plain.to_vec()).map_err(|_| "a sealed value is not text".to_string())
    }
}

/// Writes the key file (mode 0600), replacing it atomically.
pub fn write_key_file(data_dir: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    write_named(data_dir, KEY_FILE, bytes)
}

fn write_named(data_dir: &std::path::Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = data_dir.join(format!("{name}.tmp"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    f.write_all(format!("{}\n", B64.encode(bytes)).as_bytes()).map_err(|e| e.to_string())?;
    f.sync_all().map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, data_dir.join(name)).map_err(|e| e.to_string())
}

/// The next key, written before the values are re-sealed and renamed over the key file after:
/// a crash in between leaves both keys on disk, and [`finish_rotation`] picks the right one.
pub const NEXT_KEY_FILE: &str = "master.key.next";

/// Rotates to `new`: with a key file, the new key is on disk (as `master.key.next`) before any
/// value is re-sealed, and becomes `master.key` once all are.
pub async fn rotate(app: &crate::app::App, new: MasterKey, bytes: &[u8]) -> Result<usize, String> {
    let dir = app.config.data_dir.clone();
    let file = new.source == KeySource::File;
    if file {
        write_named(&dir, NEXT_KEY_FILE, bytes)?;
    }
    let n = app.rotate_key(new).await?;
    if file {
        std::fs::rename(dir.join(NEXT_KEY_FILE), dir.join(KEY_FILE)).map_err(|e| e.to_string())?;
    }
    Ok(n)
}

/// At start: a `master.key.next` left by an interrupted rotation is the key if any value was
/// already sealed with it (then it replaces `master.key`), else it is discarded.
pub fn finish_rotation(data_dir: &std::path::Path, sealed_with: &[String]) -> Result<(), String> {
    let next = data_dir.join(NEXT_KEY_FILE);
    let Ok(text) = std::fs::read_to_string(&next) else { return Ok(()) };
    let key = MasterKey::from_bytes(&decode_key(&text)?, KeySource::File)?;
    if sealed_with.contains(&key.id) {
        std::fs::rename(&next, data_dir.join(KEY_FILE)).map_err(|e| e.to_string())
    } else {
        std::fs::remove_file(&next).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_place_and_with_their_key() {
        let k = MasterKey::from_bytes(&[7u8; 32], KeySource::File).unwrap();
        let sealed = k.seal("orders", "production", "secret", "whsec_abc").unwrap();
        assert!(!sealed.contains("whsec"));
        assert_eq!(k.open("orders", "production", "secret", &sealed).unwrap(), "whsec_abc");
        assert!(k.open("orders", "development", "secret", &sealed).is_err(), "bound to its environment");
        assert!(k.open("orders", "production", "other", &sealed).is_err(), "bound to its key");
        let other = MasterKey::from_bytes(&[8u8; 32], KeySource::File).unwrap();
        assert!(other.open("orders", "production", "secret", &sealed).is_err());
        assert_ne!(k.seal("orders", "production", "secret", "whsec_abc").unwrap(), sealed, "a fresh nonce each time");
        assert_eq!(decode_key(&"ab".repeat(32)).unwrap().len(), 32);
        assert!(decode_key("c2hvcnQ=").unwrap_err().contains("must be 32"));
    }
}
