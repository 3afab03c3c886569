//! Master keys and config values sealed under them (AES-256-GCM, a random 96-bit nonce per
//! value, the value's component/environment/key as associated data so a sealed value cannot be
//! moved to another key).
//!
//! A node holds a keyring: `ONSET_MASTER_KEY` (one key, base64 or hex of 32 bytes),
//! `--master-key-file` (one key per line, newest first), or `<data-dir>/master.key`, created at
//! the first start with mode 0600. Every sealed value records its key's id, so any key of the
//! ring opens it; new values are sealed with the key the store records (`sealing_key`), which a
//! rotation moves to the newest key once every live node holds it.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use onset_store::SealedValue;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

pub const KEY_FILE: &str = "master.key";

/// Where the master keys come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `ONSET_MASTER_KEY`: rotation needs the new key from the operator.
    Environment,
    /// `--master-key-file`, kept by the operator: a new key is added there (first) on every
    /// node before a rotation.
    KeyFile,
    /// `<data-dir>/master.key`: rotation writes the new key there.
    File,
}

impl KeySource {
    pub fn as_str(self) -> &'static str {
        match self {
            KeySource::Environment => "environment",
            KeySource::KeyFile => "key-file",
            KeySource::File => "file",
        }
    }
}

pub struct MasterKey {
    /// The first 16 hex digits of the key's SHA-256: names the key without revealing it.
    pub id: String,
    key: LessSafeKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// The keys a node holds, newest first, and the one new values are sealed with.
#[derive(Debug, Clone)]
pub struct Keyring {
    keys: Vec<Arc<MasterKey>>,
    sealing: usize,
    pub source: KeySource,
}

impl Keyring {
    /// The keys from `ONSET_MASTER_KEY`, `--master-key-file`, or the data directory's key file
    /// (created when missing).
    pub fn load(
        data_dir: &std::path::Path,
        from_env: Option<&str>,
        key_file: Option<&std::path::Path>,
    ) -> Result<Keyring, String> {
        let ring = |keys: Vec<MasterKey>, source| Keyring {
            keys: keys.into_iter().map(Arc::new).collect(),
            sealing: 0,
            source,
        };
        match (from_env, key_file) {
            (Some(_), Some(_)) => {
                Err("give the master keys either as ONSET_MASTER_KEY or as --master-key-file, not both".into())
            }
            (Some(text), None) => Ok(ring(
                vec![MasterKey::from_bytes(&decode_key(text).map_err(|e| format!("ONSET_MASTER_KEY: {e}"))?)?],
                KeySource::Environment,
            )),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("--master-key-file {}: cannot read it: {e}", path.display()))?;
                let mut keys = Vec::new();
                for (n, line) in text.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    let bytes = decode_key(line)
                        .map_err(|e| format!("--master-key-file {} line {}: {e}", path.display(), n + 1))?;
                    keys.push(MasterKey::from_bytes(&bytes)?);
                }
                if keys.is_empty() {
                    return Err(format!(
                        "--master-key-file {} holds no key; put one per line, newest first (e.g. `openssl rand -base64 32`)",
                        path.display()
                    ));
                }
                Ok(ring(keys, KeySource::KeyFile))
            }
            (None, None) => {
                let path = data_dir.join(KEY_FILE);
                match std::fs::read_to_string(&path) {
                    Ok(text) => Ok(ring(
                        vec![MasterKey::from_bytes(
                            &decode_key(&text).map_err(|e| format!("{}: {e}", path.display()))?,
                        )?],
                        KeySource::File,
                    )),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        let bytes = random_key()?;
                        write_key_file(data_dir, &bytes)?;
                        tracing::info!(path = %path.display(), "created the master key for config values");
                        Ok(ring(vec![MasterKey::from_bytes(&bytes)?], KeySource::File))
                    }
                    Err(e) => Err(format!("cannot read {}: {e}", path.display())),
                }
            }
        }
    }

    /// The ids of the keys held, newest first.
    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.id.clone()).collect()
    }

    pub fn newest(&self) -> &Arc<MasterKey> {
        &self.keys[0]
    }

    pub fn get(&self, id: &str) -> Option<&Arc<MasterKey>> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// The key new values are sealed with.
    pub fn sealing(&self) -> &Arc<MasterKey> {
        &self.keys[self.sealing]
    }

    /// This ring sealing with the key `id`, which it must hold.
    pub fn sealing_with(&self, id: &str) -> Option<Keyring> {
        let at = self.keys.iter().position(|k| k.id == id)?;
        Some(Keyring { sealing: at, ..self.clone() })
    }

    /// This ring with `key` added as the newest (a rotation to a key given in the request).
    pub fn with_newest(&self, key: Arc<MasterKey>) -> Keyring {
        let sealing_id = self.sealing().id.clone();
        let mut keys = vec![key.clone()];
        keys.extend(self.keys.iter().filter(|k| k.id != key.id).cloned());
        let sealing = keys.iter().position(|k| k.id == sealing_id).unwrap_or(0);
        Keyring { keys, sealing, source: self.source }
    }

    /// Opens a stored value with the key it was sealed with.
    pub fn open(&self, v: &SealedValue) -> Result<String, String> {
        let key = self.get(&v.key_id).ok_or_else(|| {
            format!(
                "config `{}` of `{}` in `{}` is sealed with master key {}, which this node does not hold (it holds {}); \
                 give every node the same keys",
                v.key,
                v.component,
                v.environment,
                v.key_id,
                self.ids().join(", ")
            )
        })?;
        key.open(&v.component, &v.environment, &v.key, &v.sealed)
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
    pub fn from_bytes(bytes: &[u8]) -> Result<MasterKey, String> {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(bytes);
        let id: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| "the master key is not 32 bytes".to_string())?;
        Ok(MasterKey { id, key: LessSafeKey::new(unbound) })
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

/// Rotates to `target`: every value is re-sealed with it and it becomes the sealing key. With
/// the data directory's key file, a new key (`new_bytes`) is on disk (as `master.key.next`)
/// before any value is re-sealed, and becomes `master.key` once all are.
pub async fn rotate(app: &crate::app::App, target: Arc<MasterKey>, new_bytes: Option<&[u8]>) -> Result<usize, String> {
    let dir = app.config.data_dir.clone();
    let file = app.keyring().source == KeySource::File && new_bytes.is_some();
    if let (true, Some(bytes)) = (file, new_bytes) {
        write_named(&dir, NEXT_KEY_FILE, bytes)?;
    }
    let n = app.rotate_key(target).await?;
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
    let key = MasterKey::from_bytes(&decode_key(&text)?)?;
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
        let k = MasterKey::from_bytes(&[7u8; 32]).unwrap();
        let sealed = k.seal("orders", "production", "secret", "whsec_abc").unwrap();
        assert!(!sealed.contains("whsec"));
        assert_eq!(k.open("orders", "production", "secret", &sealed).unwrap(), "whsec_abc");
        assert!(k.open("orders", "development", "secret", &sealed).is_err(), "bound to its environment");
        assert!(k.open("orders", "production", "other", &sealed).is_err(), "bound to its key");
        let other = MasterKey::from_bytes(&[8u8; 32]).unwrap();
        assert!(other.open("orders", "production", "secret", &sealed).is_err());
        assert_ne!(k.seal("orders", "production", "secret", "whsec_abc").unwrap(), sealed, "a fresh nonce each time");
        assert_eq!(decode_key(&"ab".repeat(32)).unwrap().len(), 32);
        assert!(decode_key("c2hvcnQ=").unwrap_err().contains("must be 32"));
    }

    #[test]
    fn a_keyring_opens_what_any_of_its_keys_sealed_and_seals_with_one() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (B64.encode([1u8; 32]), B64.encode([2u8; 32]));
        let path = dir.path().join("keys");
        std::fs::write(&path, format!("# newest first\n{new}\n\n{old}\n")).unwrap();
        let ring = Keyring::load(dir.path(), None, Some(&path)).unwrap();
        assert_eq!(ring.source, KeySource::KeyFile);
        let (new_id, old_id) = (ring.ids()[0].clone(), ring.ids()[1].clone());
        let sealed_by = |ring: &Keyring| SealedValue {
            component: "c".into(),
            environment: "e".into(),
            key: "k".into(),
            sealed: ring.sealing().seal("c", "e", "k", "v").unwrap(),
            key_id: ring.sealing().id.clone(),
            updated_at: 0,
        };
        let by_old = sealed_by(&ring.sealing_with(&old_id).unwrap());
        assert_eq!(ring.open(&by_old).unwrap(), "v", "an older key of the ring opens what it sealed");
        assert_eq!(ring.open(&sealed_by(&ring)).unwrap(), "v");
        assert_eq!(ring.sealing().id, new_id, "the newest key seals unless the store says otherwise");
        std::fs::write(&path, format!("{new}\n")).unwrap();
        let dropped = Keyring::load(dir.path(), None, Some(&path)).unwrap();
        let err = dropped.open(&by_old).unwrap_err();
        assert!(err.contains(&old_id) && err.contains("does not hold"), "{err}");
        std::fs::write(&path, "# nothing\n").unwrap();
        assert!(Keyring::load(dir.path(), None, Some(&path)).unwrap_err().contains("holds no key"));
        std::fs::write(&path, "c2hvcnQ=\n").unwrap();
        assert!(Keyring::load(dir.path(), None, Some(&path)).unwrap_err().contains("line 1"));
        assert!(Keyring::load(dir.path(), Some(&new), Some(&path)).unwrap_err().contains("not both"));
    }
}
