#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    #[error("malformed JWS ({0})")]
    Malformed(&'static str),
    #[error("algorithm not supported")]
    UnsupportedAlg,
    #[error("algorithm not allowed here")]
    AlgNotAllowed,
    #[error("no key matches the kid and algorithm")]
    UnknownKey,
    #[error("signature does not verify")]
    BadSignature,
    #[error("critical header parameters are not understood")]
    Crit,
    #[error("key rejected: {0}")]
    KeyRejected(String),
    #[error("signing failed")]
    Sign,
}
