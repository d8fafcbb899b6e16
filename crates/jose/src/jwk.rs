//! Public JWKs: parsing client JWKS (public members only) into verifying keys, once.

use crate::{b64, Alg, JoseError};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

/// A public JWK as published (RFC 7517). Private members are not representable here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// Members that only private or symmetric keys have: refused in any JWKS we are given.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];
const MAX_KEYS: usize = 32;

enum Material {
    Ec(UnparsedPublicKey<Vec<u8>>),
    Ed(UnparsedPublicKey<Vec<u8>>),
    Rsa(RsaPublicKeyComponents<Vec<u8>>),
}

/// A public key ready to verify, parsed once.
pub struct VerifyingKey {
    pub kid: Option<String>,
    /// `alg` pinned by the JWK; `None` lets an RSA key serve RS256 and PS256.
    pinned: Option<Alg>,
    material: Material,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey").field("kid", &self.kid).field("alg", &self.pinned).finish()
    }
}

fn field<'a>(v: &'a Option<String>, name: &'static str) -> Result<&'a str, JoseError> {
    v.as_deref().ok_or_else(|| JoseError::KeyRejected(format!("missing `{name}`")))
}

impl VerifyingKey {
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, JoseError> {
        if let Some(u) = &jwk.use_ {
            if u != "sig" {
                return Err(JoseError::KeyRejected("`use` is not `sig`".into()));
            }
        }
        let pinned = match &jwk.alg {
            Some(a) => Some(Alg::parse(a).ok_or_else(|| JoseError::KeyRejected(format!("alg {a} not supported")))?),
            None => None,
        };
        let material = match jwk.kty.as_str() {
            "EC" => {
                if field(&jwk.crv, "crv")? != "P-256" {
                    return Err(JoseError::KeyRejected("only the P-256 curve is supported".into()));
                }
                let x = b64::decode(field(&jwk.x, "x")?)?;
                let y = b64::decode(field(&jwk.y, "y")?)?;
                if x.len() != 32 || y.len() != 32 {
                    return Err(JoseError::KeyRejected("P-256 coordinates must be 32 bytes".into()));
                }
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Material::Ec(UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point))
            }
            "OKP" => {
                if field(&jwk.crv, "crv")? != "Ed25519" {
                    return Err(JoseError::KeyRejected("only Ed25519 OKP keys are supported".into()));
                }
                let x = b64::decode(field(&jwk.x, "x")?)?;
                if x.len() != 32 {
                    return Err(JoseError::KeyRejected("Ed25519 key must be 32 bytes".into()));
                }
                Material::Ed(UnparsedPublicKey::new(&signature::ED25519, x))
            }
            "RSA" => {
                let n = b64::decode(field(&jwk.n, "n")?)?;
                let e = b64::decode(field(&jwk.e, "e")?)?;
                if n.len() < 256 {
                    return Err(JoseError::KeyRejected("RSA keys must be at least 2048 bits".into()));
                }
                Material::Rsa(RsaPublicKeyComponents { n, e })
            }
            other => return Err(JoseError::KeyRejected(format!("kty {other} not supported"))),
        };
        let key = VerifyingKey { kid: jwk.kid.clone(), pinned, material };
        if let Some(a) = pinned {
            if !key.kty_fits(a) {
                return Err(JoseError::KeyRejected(format!("alg {} does not fit kty {}", a.as_str(), jwk.kty)));
            }
        }
        Ok(key)
    }

    fn kty_fits(&self, alg: Alg) -> bool {
        matches!(
            (&self.material, alg),
            (Material::Ec(_), Alg::ES256) | (Material::Ed(_), Alg::EdDSA) | (Material::Rsa(_), Alg::RS256 | Alg::PS256)
        )
    }

    /// Whether this key may verify a signature made with `alg`.
    pub fn supports(&self, alg: Alg) -> bool {
        self.kty_fits(alg) && self.pinned.is_none_or(|p| p == alg)
    }

    pub(crate) fn verify(&self, alg: Alg, msg: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        if !self.supports(alg) {
            return Err(JoseError::UnknownKey);
        }
        let r = match (&self.material, alg) {
            (Material::Ec(k), _) | (Material::Ed(k), _) => k.verify(msg, sig),
            (Material::Rsa(k), Alg::RS256) => k.verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig),
            (Material::Rsa(k), _) => k.verify(&signature::RSA_PSS_2048_8192_SHA256, msg, sig),
        };
        r.map_err(|_| JoseError::BadSignature)
    }
}

/// The verifying keys of one party (a client, or numbat's own published keys).
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
}

impl KeySet {
    /// Parse a JWKS document, refusing private or symmetric members and unusable keys.
    pub fn from_jwks_value(v: &serde_json::Value) -> Result<Self, JoseError> {
        let arr = v
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or_else(|| JoseError::KeyRejected("a JWKS needs a `keys` array".into()))?;
        if arr.len() > MAX_KEYS {
            return Err(JoseError::KeyRejected("too many keys".into()));
        }
        let mut keys = Vec::with_capacity(arr.len());
        for k in arr {
            if let Some(obj) = k.as_object() {
                if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
                    return Err(JoseError::KeyRejected(format!("private or symmetric member `{m}` present")));
                }
            }
            let jwk: Jwk = serde_json::from_value(k.clone()).map_err(|e| JoseError::KeyRejected(e.to_string()))?;
            keys.push(VerifyingKey::from_jwk(&jwk)?);
        }
        Ok(KeySet { keys })
    }

    pub fn from_jwks(jwks: &Jwks) -> Result<Self, JoseError> {
        let keys = jwks.keys.iter().map(VerifyingKey::from_jwk).collect::<Result<Vec<_>, _>>()?;
        Ok(KeySet { keys })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Candidate keys for a header: by `kid` when given, else every key that supports `alg`.
    pub(crate) fn candidates<'a>(&'a self, kid: Option<&'a str>, alg: Alg) -> impl Iterator<Item = &'a VerifyingKey> + 'a {
        self.keys
            .iter()
            .filter(move |k| k.supports(alg) && kid.is_none_or(|kid| k.kid.as_deref() == Some(kid)))
    }
}
