//! The index's key: tokens are stored as keyed hashes (HMAC-SHA256,
//! truncated to 32 bits), so the index says nothing of a token to whoever
//! lacks the key, and whoever has it can only test a guess.
//!
//! The key comes from a file (`--key-file`, `CRASHDSR_INDEX_KEY_FILE`), in
//! production one a vault mounts, and is never stored beside the index. The
//! index holds a check value (a keyed hash of a fixed text), so a wrong key
//! is refused rather than silently missing everything.

use std::path::Path;

use hmac::{KeyInit, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

type HmacSha256 = hmac::Hmac<Sha256>;

/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// The index's key.
#[derive(Clone)]
pub struct Key {
    mac: HmacSha256,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// A key from its bytes (at least [`MIN_KEY_BYTES`]).
    pub fn new(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(Error::Key(format!(
                "the key is {} bytes; an index key needs at least {MIN_KEY_BYTES}",
                bytes.len()
            )));
        }
        Ok(Self {
            mac: HmacSha256::new_from_slice(bytes).expect("HMAC takes any key length"),
        })
    }

    /// The key in `file` (its bytes; a trailing newline is not part of it).
    pub fn from_file(file: &Path) -> Result<Self> {
        let bytes = std::fs::read(file)
            .map_err(|e| Error::Key(format!("reading the key file {}: {e}", file.display())))?;
        let end = bytes.len()
            - bytes
                .iter()
                .rev()
                .take_while(|b| **b == b'\n' || **b == b'\r')
                .count();
        Self::new(&bytes[..end]).map_err(|e| Error::Key(format!("{}: {e}", file.display())))
    }

    /// Writes a new random key (32 bytes, hex) to `file`, created with mode
    /// 0600; an existing file is never replaced.
    pub fn generate(file: &Path) -> Result<()> {
        use std::io::Write as _;
        let mut random = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut random))
            .map_err(|e| Error::Key(format!("reading random bytes: {e}")))?;
        let mut open = std::fs::OpenOptions::new();
        open.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
        open.open(file)
            .and_then(|mut f| writeln!(f, "{}", hex::encode(random)))
            .map_err(|e| Error::Key(format!("creating {}: {e}", file.display())))
    }

    fn hash(&self, domain: &[u8], bytes: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(domain);
        mac.update(bytes);
        mac.finalize().into_bytes().into()
    }

    /// A token's keyed hash, as stored: 32 bits of its HMAC. Two tokens
    /// of one segment that share them only bring an object in that the
    /// matcher then reads and rejects; the answer is the same.
    pub fn token(&self, token: &[u8]) -> u32 {
        let h = self.hash(b"crashdsr index token\0", token);
        u32::from_le_bytes(h[..4].try_into().expect("4 bytes"))
    }

    /// The check value an index made with this key holds.
    pub fn check(&self) -> String {
        hex::encode(&self.hash(b"crashdsr index check\0", b"")[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_and_never_shown() {
        assert!(Key::new(&[1; 31]).is_err());
        let (a, b) = (Key::new(&[1; 32]).unwrap(), Key::new(&[2; 32]).unwrap());
        assert_ne!(a.check(), b.check());
        assert_ne!(a.token(b"jane"), b.token(b"jane"));
        assert_eq!(a.token(b"jane"), Key::new(&[1; 32]).unwrap().token(b"jane"));
        assert_eq!(format!("{a:?}"), "Key(..)");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k");
        Key::generate(&file).unwrap();
        assert!(
            Key::generate(&file).is_err(),
            "an existing key is never replaced"
        );
        let k = Key::from_file(&file).unwrap();
        assert_eq!(k.check(), Key::from_file(&file).unwrap().check());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
