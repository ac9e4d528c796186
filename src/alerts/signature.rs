//! Standard Webhooks signing: `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{webhook-id}.{webhook-timestamp}.{body}">`, with the endpoint's secret shown to the
//! operator once as `whsec_<base64 key>`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use rand::Rng as _;
use sha2_011::Sha256;
use zeroize::Zeroizing;

use crate::model::InvalidInput;

pub const SECRET_PREFIX: &str = "whsec_";
/// Bytes of a generated signing key.
pub const KEY_BYTES: usize = 32;

/// An endpoint's signing key. Never printed but once, at creation, as `whsec_...`.
#[derive(Clone)]
pub struct SigningKey(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl SigningKey {
    pub fn generate() -> Self {
        let mut key = Zeroizing::new(vec![0u8; KEY_BYTES]);
        rand::rng().fill_bytes(key.as_mut_slice());
        Self(key)
    }

    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    /// Parses `whsec_<base64>` (as receivers' libraries take it).
    pub fn parse(secret: &str) -> Result<Self, InvalidInput> {
        let encoded = secret
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| InvalidInput("a webhook secret starts with whsec_".into()))?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| InvalidInput("the webhook secret is not valid base64".into()))?;
        if bytes.len() < 24 || bytes.len() > 64 {
            return Err(InvalidInput("a webhook secret holds 24 to 64 bytes".into()));
        }
        Ok(Self(Zeroizing::new(bytes)))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// `whsec_<base64>`: what the operator copies into the receiver.
    pub fn to_secret_string(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{SECRET_PREFIX}{}",
            STANDARD.encode(self.as_bytes())
        ))
    }

    /// The `webhook-signature` header value for one message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body)))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        // Any key length is accepted by HMAC: this cannot fail.
        let mut mac = <Hmac<Sha256>>::new_from_slice(self.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }

    /// Does a `webhook-signature` header (space-separated `v1,<sig>` entries) hold a valid
    /// signature of this message? Constant-time per candidate; what a receiver does.
    pub fn verify(&self, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
        let expected = self.mac(id, timestamp, body);
        header.split(' ').any(|entry| {
            entry
                .strip_prefix("v1,")
                .and_then(|sig| STANDARD.decode(sig).ok())
                .is_some_and(|sig| {
                    use subtle::ConstantTimeEq as _;
                    sig.len() == expected.len() && bool::from(sig.ct_eq(&expected))
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_the_standard_webhooks_reference() {
        // The example of the Standard Webhooks specification's reference libraries.
        let key = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let signature = key.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(key.verify(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            body,
            &format!("v1,bm90IGl0 {signature}")
        ));
        assert!(!key.verify("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body, &signature));
    }

    #[test]
    fn secrets_round_trip_and_bad_ones_are_refused() {
        let key = SigningKey::generate();
        let again = SigningKey::parse(&key.to_secret_string()).unwrap();
        assert_eq!(key.as_bytes(), again.as_bytes());
        assert!(SigningKey::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(SigningKey::parse("whsec_!!!").is_err());
        assert!(!format!("{key:?}").contains(&key.to_secret_string()[6..]));
    }
}
