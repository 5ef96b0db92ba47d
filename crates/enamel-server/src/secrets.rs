//! PMS credentials at rest: XChaCha20-Poly1305 under a master key from `ENAMEL_MASTER_KEY`
//! (32 bytes, base64; clap reads it, `--master-key` overrides), with the practice id as associated data so that a blob copied to
//! another practice does not decrypt. Blob layout: version byte `1`, 24-byte nonce,
//! ciphertext.

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use enamel_domain::PracticeId;
use serde::{Deserialize, Serialize};

/// The environment variable holding the master key.
pub(crate) const MASTER_KEY_VAR: &str = "ENAMEL_MASTER_KEY";

const VERSION: u8 = 1;

/// The master key. Never printed.
#[derive(Clone)]
pub(crate) struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// Parses a base64 key of exactly 32 bytes.
    pub(crate) fn parse(text: &str) -> Result<Self> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| anyhow!("{MASTER_KEY_VAR} is not base64"))?;
        let key: [u8; 32] =
            bytes.try_into().map_err(|b: Vec<u8>| anyhow!("{MASTER_KEY_VAR} must be 32 bytes, got {}", b.len()))?;
        Ok(Self(key))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }

    /// Encrypts credentials for a practice.
    pub(crate) fn seal<T: Serialize>(&self, practice: PracticeId, credentials: &T) -> Result<Vec<u8>> {
        let plain = serde_json::to_vec(credentials).context("credentials do not serialize")?;
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = practice.uuid();
        let sealed = self
            .cipher()
            .encrypt(&nonce, Payload { msg: &plain, aad: aad.as_bytes() })
            .map_err(|_| anyhow!("encryption failed"))?;
        let mut out = Vec::with_capacity(1 + nonce.len() + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts a practice's credentials.
    pub(crate) fn open<T: for<'de> Deserialize<'de>>(&self, practice: PracticeId, blob: &[u8]) -> Result<T> {
        if blob.first() != Some(&VERSION) || blob.len() < 1 + 24 + 16 {
            bail!("the stored credentials are not in a format this version reads");
        }
        let nonce = XNonce::from_slice(&blob[1..25]);
        let aad = practice.uuid();
        let plain = self.cipher().decrypt(nonce, Payload { msg: &blob[25..], aad: aad.as_bytes() }).map_err(|_| {
            anyhow!("the stored credentials do not decrypt: wrong {MASTER_KEY_VAR}, or they belong to another practice")
        })?;
        serde_json::from_slice(&plain).context("the decrypted credentials are not what this version expects")
    }
}

/// Open Dental credentials.
#[derive(Serialize, Deserialize)]
pub(crate) struct OdCredentials {
    pub(crate) developer_key: String,
    pub(crate) customer_key: String,
}

/// TDental credentials.
#[derive(Serialize, Deserialize)]
pub(crate) struct TdCredentials {
    pub(crate) username: String,
    pub(crate) password: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MasterKey {
        MasterKey([byte; 32])
    }

    #[test]
    fn credentials_round_trip_only_for_their_practice_and_key() -> Result<()> {
        let practice = PracticeId::new();
        let creds = OdCredentials { developer_key: "dev".into(), customer_key: "secret-customer".into() };
        let blob = key(7).seal(practice, &creds)?;
        assert!(!String::from_utf8_lossy(&blob).contains("secret-customer"), "encrypted at rest");
        let back: OdCredentials = key(7).open(practice, &blob)?;
        assert_eq!((back.developer_key.as_str(), back.customer_key.as_str()), ("dev", "secret-customer"));
        assert!(key(7).open::<OdCredentials>(PracticeId::new(), &blob).is_err(), "another practice");
        assert!(key(8).open::<OdCredentials>(practice, &blob).is_err(), "another key");
        let mut tampered = blob.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(key(7).open::<OdCredentials>(practice, &tampered).is_err(), "tampering");
        Ok(())
    }

    #[test]
    fn the_master_key_is_checked() {
        assert!(MasterKey::parse("not base64!").is_err());
        assert!(MasterKey::parse(&STANDARD.encode([1u8; 16])).is_err_and(|e| e.to_string().contains("32 bytes")));
        assert!(MasterKey::parse(&STANDARD.encode([1u8; 32])).is_ok());
        assert_eq!(format!("{:?}", key(3)), "MasterKey(<redacted>)");
    }
}
