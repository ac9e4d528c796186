//! Token secrets: `tw_` followed by 256 random bits in URL-safe base64, presented as
//! `ID|tw_...` (the shape Laravel Sanctum clients already send) or as the bare secret. The
//! prefix lets secret scanners recognise a leaked token. Only the SHA-256 of the secret part is
//! stored, and it is compared in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

/// What every token secret starts with.
pub const PREFIX: &str = "tw_";
/// Base64 characters of 32 bytes without padding.
const SECRET_CHARS: usize = 43;

/// A fresh secret and the hash to store. The secret is shown once.
pub fn generate() -> (Zeroizing<String>, [u8; 32]) {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(&mut bytes[..]);
    let mut secret = Zeroizing::new(String::with_capacity(PREFIX.len() + SECRET_CHARS));
    secret.push_str(PREFIX);
    URL_SAFE_NO_PAD.encode_string(&bytes[..], &mut secret);
    let hash = hash(&secret);
    (secret, hash)
}

/// What the client presents: `ID|SECRET`, shown to the operator once.
pub fn presented(id: i64, secret: &str) -> Zeroizing<String> {
    Zeroizing::new(format!("{id}|{secret}"))
}

pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A bearer value split into its optional id and the hash of its secret; `None` when it
/// cannot be a tikwire token at all.
pub fn parse(bearer: &str) -> Option<(Option<i64>, [u8; 32])> {
    let (id, secret) = match bearer.split_once('|') {
        Some((id, secret)) => (Some(id.parse::<i64>().ok().filter(|id| *id > 0)?), secret),
        None => (None, bearer),
    };
    let body = secret.strip_prefix(PREFIX)?;
    if body.len() != SECRET_CHARS
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    Some((id, hash(secret)))
}

/// Constant-time equality of a presented hash and a stored one.
pub fn matches(presented: &[u8; 32], stored: &[u8]) -> bool {
    stored.len() == 32 && bool::from(presented[..].ct_eq(stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_parses_back_to_its_hash() {
        let (secret, stored) = generate();
        assert!(secret.starts_with(PREFIX));
        assert_eq!(secret.len(), PREFIX.len() + SECRET_CHARS);
        let (id, hash) = parse(&presented(7, &secret)).unwrap();
        assert_eq!(id, Some(7));
        assert!(matches(&hash, &stored));
        let (id, hash) = parse(&secret).unwrap();
        assert_eq!(id, None);
        assert!(matches(&hash, &stored));
        let (other, _) = generate();
        assert!(!matches(&parse(&other).unwrap().1, &stored));
    }

    #[test]
    fn anything_else_is_refused_before_the_database() {
        for bad in [
            "",
            "tw_",
            "abc",
            "0|tw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "-1|tw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "x|tw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "tw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "tw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "gh_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(parse(bad).is_none(), "{bad:?} parsed");
        }
    }
}
