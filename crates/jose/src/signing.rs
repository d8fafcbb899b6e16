//! Private signing keys, parsed once at load (never per request).

use crate::{b64, Alg, JoseError, Jwk};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde::Serialize;

enum Pair {
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

pub struct SigningKey {
    kid: String,
    alg: Alg,
    pair: Pair,
    pkcs8: Vec<u8>,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

/// Decode the body of a PEM block (`-----BEGIN PRIVATE KEY-----`, PKCS#8).
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>, JoseError> {
    use base64::Engine;
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    if body.is_empty() {
        return Err(JoseError::KeyRejected("no PEM block found".into()));
    }
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| JoseError::KeyRejected("PEM body is not base64".into()))
}

impl SigningKey {
    /// A fresh P-256 key for ES256; `kid` is its RFC 7638 thumbprint.
    pub fn generate_es256() -> Result<Self, JoseError> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| JoseError::Sign)?;
        let mut k = Self::from_pkcs8(String::new(), Alg::ES256, doc.as_ref())?;
        k.kid = k.thumbprint();
        Ok(k)
    }

    /// A fresh 2048-bit RSA key for RS256 (the algorithm OIDC requires every OP to offer).
    pub fn generate_rs256() -> Result<Self, JoseError> {
        use rsa::pkcs8::EncodePrivateKey;
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).map_err(|_| JoseError::Sign)?;
        let der = key.to_pkcs8_der().map_err(|_| JoseError::Sign)?;
        let mut k = Self::from_pkcs8(String::new(), Alg::RS256, der.as_bytes())?;
        k.kid = k.thumbprint();
        Ok(k)
    }

    /// A fresh key for `alg`.
    pub fn generate(alg: Alg) -> Result<Self, JoseError> {
        match alg {
            Alg::ES256 => Self::generate_es256(),
            Alg::EdDSA => Self::generate_ed25519(),
            Alg::RS256 => Self::generate_rs256(),
            Alg::PS256 => {
                let rs = Self::generate_rs256()?;
                let mut k = Self::from_pkcs8(String::new(), Alg::PS256, rs.pkcs8_der())?;
                k.kid = format!("{}-ps", rs.kid);
                Ok(k)
            }
        }
    }

    /// A fresh Ed25519 key for EdDSA.
    pub fn generate_ed25519() -> Result<Self, JoseError> {
        let rng = SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| JoseError::Sign)?;
        let mut k = Self::from_pkcs8(String::new(), Alg::EdDSA, doc.as_ref())?;
        k.kid = k.thumbprint();
        Ok(k)
    }

    pub fn from_pkcs8_pem(kid: Option<String>, alg: Alg, pem: &str) -> Result<Self, JoseError> {
        let der = pem_to_der(pem)?;
        let mut k = Self::from_pkcs8(kid.clone().unwrap_or_default(), alg, &der)?;
        if kid.is_none() {
            k.kid = k.thumbprint();
        }
        Ok(k)
    }

    pub fn from_pkcs8(kid: String, alg: Alg, der: &[u8]) -> Result<Self, JoseError> {
        let rng = SystemRandom::new();
        let bad = |e: &dyn std::fmt::Display| JoseError::KeyRejected(format!("{} key: {e}", alg.as_str()));
        let pair = match alg {
            Alg::ES256 => Pair::Ec(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng).map_err(|e| bad(&e))?,
            ),
            Alg::EdDSA => Pair::Ed(Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|e| bad(&e))?),
            Alg::RS256 | Alg::PS256 => Pair::Rsa(RsaKeyPair::from_pkcs8(der).map_err(|e| bad(&e))?),
        };
        Ok(SigningKey { kid, alg, pair, pkcs8: der.to_vec(), rng })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The PKCS#8 DER, for sharing the key through the store between instances.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public half, with `kid`, `alg` and `use=sig`; never private material.
    pub fn public_jwk(&self) -> Jwk {
        let mut jwk = Jwk {
            kty: String::new(),
            kid: Some(self.kid.clone()),
            alg: Some(self.alg.as_str().to_owned()),
            use_: Some("sig".into()),
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
        };
        match &self.pair {
            Pair::Ec(p) => {
                let pt = p.public_key().as_ref();
                jwk.kty = "EC".into();
                jwk.crv = Some("P-256".into());
                jwk.x = Some(b64::encode(&pt[1..33]));
                jwk.y = Some(b64::encode(&pt[33..65]));
            }
            Pair::Ed(p) => {
                jwk.kty = "OKP".into();
                jwk.crv = Some("Ed25519".into());
                jwk.x = Some(b64::encode(p.public_key().as_ref()));
            }
            Pair::Rsa(p) => {
                let c: signature::RsaPublicKeyComponents<Vec<u8>> = p.public().into();
                jwk.kty = "RSA".into();
                jwk.n = Some(b64::encode(&c.n));
                jwk.e = Some(b64::encode(&c.e));
            }
        }
        jwk
    }

    /// RFC 7638 JWK thumbprint (SHA-256, base64url).
    pub fn thumbprint(&self) -> String {
        let j = self.public_jwk();
        let canon = match j.kty.as_str() {
            "EC" => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                j.crv.unwrap_or_default(),
                j.x.unwrap_or_default(),
                j.y.unwrap_or_default()
            ),
            "OKP" => format!(r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#, j.crv.unwrap_or_default(), j.x.unwrap_or_default()),
            _ => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, j.e.unwrap_or_default(), j.n.unwrap_or_default()),
        };
        b64::encode(ring::digest::digest(&ring::digest::SHA256, canon.as_bytes()).as_ref())
    }

    /// Sign `claims` as a compact JWS with header `{"alg","typ","kid"}`.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, JoseError> {
        let header = serde_json::json!({"alg": self.alg.as_str(), "typ": typ, "kid": self.kid});
        let header = serde_json::to_vec(&header).map_err(|_| JoseError::Sign)?;
        let payload = serde_json::to_vec(claims).map_err(|_| JoseError::Sign)?;
        let mut out = String::with_capacity(header.len() * 2 + payload.len() * 2 + 100);
        out.push_str(&b64::encode(&header));
        out.push('.');
        out.push_str(&b64::encode(&payload));
        let sig = self.sign_raw(out.as_bytes())?;
        out.push('.');
        out.push_str(&b64::encode(&sig));
        Ok(out)
    }

    fn sign_raw(&self, msg: &[u8]) -> Result<Vec<u8>, JoseError> {
        match &self.pair {
            Pair::Ec(p) => p.sign(&self.rng, msg).map(|s| s.as_ref().to_vec()).map_err(|_| JoseError::Sign),
            Pair::Ed(p) => Ok(p.sign(msg).as_ref().to_vec()),
            Pair::Rsa(p) => {
                let mut sig = vec![0u8; p.public().modulus_len()];
                let pad: &dyn signature::RsaEncoding =
                    if self.alg == Alg::PS256 { &signature::RSA_PSS_SHA256 } else { &signature::RSA_PKCS1_SHA256 };
                p.sign(pad, &self.rng, msg, &mut sig).map_err(|_| JoseError::Sign)?;
                Ok(sig)
            }
        }
    }
}
