//! WireGuard key material: x25519 keypairs and preshared keys from a cryptographic RNG,
//! written as WireGuard writes them (standard base64 of 32 bytes). Secret types zeroize on
//! drop and never show their bytes in `Debug`.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::Rng as _;
use serde::Serialize;
use x25519_dalek::StaticSecret;
use zeroize::{Zeroize, Zeroizing};

use crate::model::InvalidInput;

/// A router's or hub's private key.
pub struct PrivateKey(StaticSecret);

/// A public key, safe to show anywhere.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

/// A 32-byte preshared key (post-quantum hedge on each router's tunnel).
pub struct PresharedKey(Zeroizing<[u8; 32]>);

impl PrivateKey {
    pub fn generate() -> Self {
        Self(StaticSecret::random_from_rng(&mut rand::rng()))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(StaticSecret::from(bytes))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(x25519_dalek::PublicKey::from(&self.0).to_bytes())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0.as_bytes()))
    }

    pub fn from_base64(text: &str) -> Result<Self, InvalidInput> {
        let mut bytes = decode_key("private key", text)?;
        let key = Self::from_bytes(bytes);
        bytes.zeroize();
        Ok(key)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

impl PublicKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    pub fn from_base64(text: &str) -> Result<Self, InvalidInput> {
        decode_key("public key", text).map(Self)
    }
}

/// The one rule for reading a public key: canonical base64 of 32 bytes, as `wg` writes it.
impl FromStr for PublicKey {
    type Err = InvalidInput;

    fn from_str(text: &str) -> Result<Self, InvalidInput> {
        Self::from_base64(text)
    }
}

/// In JSON, the base64 text `wg` shows.
impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64())
    }
}

/// Stored as TEXT (base64); a stored value that is not a key is a decoding error.
impl sqlx::Type<sqlx::Postgres> for PublicKey {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <&str as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl sqlx::postgres::PgHasArrayType for PublicKey {
    fn array_type_info() -> sqlx::postgres::PgTypeInfo {
        <&str as sqlx::postgres::PgHasArrayType>::array_type_info()
    }

    fn array_compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <&str as sqlx::postgres::PgHasArrayType>::array_compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for PublicKey {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        Ok(text.parse::<Self>()?)
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for PublicKey {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <String as sqlx::Encode<sqlx::Postgres>>::encode(self.to_base64(), buf)
    }
}

/// Ordered as its base64 text sorts, so lists sorted by key read as they did when keys
/// were held as text.
impl Ord for PublicKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let mut mine = [0u8; 44];
        let mut theirs = [0u8; 44];
        // 32 bytes always encode to 44; the buffers are exactly that long.
        let _ = STANDARD.encode_slice(self.0, &mut mine);
        let _ = STANDARD.encode_slice(other.0, &mut theirs);
        mine.cmp(&theirs)
    }
}

impl PartialOrd for PublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl PresharedKey {
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(bytes.as_mut());
        Self(bytes)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0.as_ref()))
    }
}

impl fmt::Debug for PresharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PresharedKey(<redacted>)")
    }
}

/// True when `text` is a WireGuard key by the one rule of this module (canonical base64 of
/// 32 bytes). For secret fields (private and preshared keys) that are checked, not kept: the
/// decoded bytes are wiped.
pub fn is_key(text: &str) -> bool {
    decode_key("key", text)
        .map(|mut bytes| bytes.zeroize())
        .is_ok()
}

/// Decodes a key the way `wg` accepts it: canonical base64 of exactly 32 bytes.
fn decode_key(what: &str, text: &str) -> Result<[u8; 32], InvalidInput> {
    let bad = || {
        InvalidInput(format!(
            "{what} is not 44 characters of base64 encoding 32 bytes"
        ))
    };
    if text.len() != 44 {
        return Err(bad());
    }
    let decoded = Zeroizing::new(STANDARD.decode(text).map_err(|_| bad())?);
    let bytes: [u8; 32] = decoded.as_slice().try_into().map_err(|_| bad())?;
    // Reject non-canonical encodings (stray low bits in the last symbol), as `wg` does.
    if STANDARD.encode(bytes) != text {
        return Err(bad());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_base64() {
        let private = PrivateKey::generate();
        let encoded = private.to_base64();
        assert_eq!(encoded.len(), 44);
        let again = PrivateKey::from_base64(&encoded).unwrap();
        assert_eq!(again.public_key(), private.public_key());
        let public = private.public_key();
        assert_eq!(PublicKey::from_base64(&public.to_base64()).unwrap(), public);
    }

    #[test]
    fn matches_the_rfc7748_test_vector() {
        // RFC 7748 section 6.1, Alice's keys.
        let secret = hex32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let public = hex32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        assert_eq!(
            PrivateKey::from_bytes(secret).public_key().as_bytes(),
            &public
        );
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(
            PrivateKey::generate().public_key(),
            PrivateKey::generate().public_key()
        );
        assert_ne!(
            PresharedKey::generate().as_bytes(),
            PresharedKey::generate().as_bytes()
        );
    }

    #[test]
    fn rejects_bad_base64() {
        assert!(PublicKey::from_base64("short").is_err());
        assert!(PublicKey::from_base64(&"!".repeat(44)).is_err());
        // 'B' instead of 'A' before the padding leaves non-zero low bits: not canonical.
        let canonical = PublicKey::from_bytes([0; 32]).to_base64();
        let mut non_canonical = canonical.clone();
        non_canonical.replace_range(42..43, "B");
        assert!(PublicKey::from_base64(&non_canonical).is_err());
    }

    #[test]
    fn a_public_key_parses_once_by_one_rule() {
        let public = PrivateKey::generate().public_key();
        let text = public.to_string();
        assert_eq!(text.parse::<PublicKey>().unwrap(), public);
        assert!(text[..43].parse::<PublicKey>().is_err());
        assert_eq!(
            serde_json::to_string(&public).unwrap(),
            format!("\"{text}\"")
        );
    }

    #[test]
    fn keys_sort_as_their_text_sorts() {
        let mut keys: Vec<PublicKey> = (0..64)
            .map(|_| PrivateKey::generate().public_key())
            .collect();
        keys.sort();
        let texts: Vec<String> = keys.iter().map(PublicKey::to_string).collect();
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(texts, sorted);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let private = PrivateKey::generate();
        let shown = format!("{private:?} {:?}", PresharedKey::generate());
        assert!(!shown.contains(private.to_base64().as_str()));
        assert!(shown.contains("redacted"));
    }

    fn hex32(text: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }
}
