//! Signing keys with real key material: RSA-2048 for RS256 and P-256 for ES256, generated from the
//! operating system's random source, each with its public half as a JWK.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;

use crate::IssuerError;

/// RSA modulus size: what GitHub's and GitLab's issuers use.
const RSA_BITS: usize = 2048;

/// The signature algorithm of an issuer's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (GitHub Actions, GitLab, most OIDC providers).
    #[default]
    Rs256,
    /// ECDSA on P-256 with SHA-256 (some providers sign with it).
    Es256,
}

impl KeyAlgorithm {
    pub fn jwt(self) -> Algorithm {
        match self {
            KeyAlgorithm::Rs256 => Algorithm::RS256,
            KeyAlgorithm::Es256 => Algorithm::ES256,
        }
    }

    /// The name in JOSE headers and discovery documents.
    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::Rs256 => "RS256",
            KeyAlgorithm::Es256 => "ES256",
        }
    }
}

/// One private key, its key id and its public JWK.
pub(crate) struct SigningKey {
    pub kid: String,
    pub alg: KeyAlgorithm,
    encoding: EncodingKey,
    pub jwk: Jwk,
}

impl SigningKey {
    pub(crate) fn generate(kid: &str, alg: KeyAlgorithm) -> Result<Self, IssuerError> {
        // As the registry does: RustCrypto, whatever else the build enables.
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
        );
        let encoding = match alg {
            KeyAlgorithm::Rs256 => {
                let key = rsa::PrivateKey::new(&mut getrandom::SysRng, RSA_BITS)
                    .map_err(IssuerError::Rsa)?;
                let der = key.to_pkcs1_der().map_err(IssuerError::RsaEncode)?;
                EncodingKey::from_rsa_der(der.as_bytes())
            }
            KeyAlgorithm::Es256 => {
                let key = p256_secret_key()?;
                let der = key.to_pkcs8_der().map_err(IssuerError::EcEncode)?;
                EncodingKey::from_ec_der(der.as_bytes())
            }
        };
        let mut jwk = Jwk::from_encoding_key(&encoding, alg.jwt()).map_err(IssuerError::Jwt)?;
        jwk.common.key_id = Some(kid.to_owned());
        jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
        Ok(SigningKey {
            kid: kid.to_owned(),
            alg,
            encoding,
            jwk,
        })
    }

    /// A compact JWS of `claims`; `kid` goes into the header unless `None`.
    pub(crate) fn sign(&self, claims: &serde_json::Value, kid: Option<&str>) -> String {
        let mut header = Header::new(self.alg.jwt());
        header.kid = kid.map(str::to_owned);
        // Serialising a JSON value cannot fail, and the key was built by `generate`.
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .expect("signing with a freshly generated key")
    }
}

/// A uniformly random P-256 scalar: 32 random bytes, drawn again in the (2^-32) case they are not a
/// valid scalar.
fn p256_secret_key() -> Result<p256::SecretKey, IssuerError> {
    loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(IssuerError::Random)?;
        if let Ok(key) = p256::SecretKey::from_slice(&bytes) {
            return Ok(key);
        }
    }
}

/// `n` random characters from `[A-Za-z0-9]` (codes, tokens, ids).
pub(crate) fn random_string(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..n)
        .map(|_| rng.sample(rand::distr::Alphanumeric) as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_tokens_verify_with_the_published_jwk() {
        for alg in [KeyAlgorithm::Rs256, KeyAlgorithm::Es256] {
            let key = SigningKey::generate("k", alg).unwrap();
            let jwt = key.sign(&serde_json::json!({"sub": "x", "exp": u32::MAX}), Some("k"));
            let decoding = jsonwebtoken::DecodingKey::from_jwk(&key.jwk).unwrap();
            let mut v = jsonwebtoken::Validation::new(alg.jwt());
            v.required_spec_claims.clear();
            let data = jsonwebtoken::decode::<serde_json::Value>(&jwt, &decoding, &v).unwrap();
            assert_eq!(data.claims["sub"], "x");
            assert_eq!(data.header.kid.as_deref(), Some("k"));
            let other = SigningKey::generate("k", alg).unwrap();
            let other = jsonwebtoken::DecodingKey::from_jwk(&other.jwk).unwrap();
            assert!(jsonwebtoken::decode::<serde_json::Value>(&jwt, &other, &v).is_err());
        }
    }
}
