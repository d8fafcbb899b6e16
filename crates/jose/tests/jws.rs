//! Integration tests for compact JWS sign/verify, JWKS hygiene and `left_half_hash`.
//!
//! `jsonwebtoken` is used as an independent implementation: it signs tokens the way a client
//! application would, and it checks that numbat's signatures verify outside numbat. Hostile
//! tokens that should be refused because of their *header* are signed validly (with ring
//! directly), so a refusal proves the header rule, not a bad signature, did the work.


mod common;
use common::*;

// ---------------------------------------------------------------------------------------------
// Round trips inside numbat
// ---------------------------------------------------------------------------------------------

#[test]
fn es256_generated_key_signs_and_verifies_with_its_public_jwk() {
    let key = SigningKey::generate_es256().unwrap();
    assert_eq!(key.alg(), Alg::ES256);
    let keys = KeySet::from_jwks(&Jwks { keys: vec![key.public_jwk()] }).unwrap();
    let claims = claims();
    let token = key.sign("JWT", &claims).unwrap();

    let v = verify(&token, &keys, &[Alg::ES256]).unwrap();
    assert_eq!(v.alg, Alg::ES256);
    assert_eq!(v.header.alg, "ES256");
    assert_eq!(v.header.kid.as_deref(), Some(key.kid()));
    assert_eq!(v.header.typ.as_deref(), Some("JWT"));
    assert_eq!(payload_json(&v), claims);
    // The payload bytes are exactly the signed segment.
    assert_eq!(b64u(&v.payload), token.split('.').nth(1).unwrap());
    // ES256 signatures are the fixed 64-byte r||s form (RFC 7518 §3.4), not DER.
    assert_eq!(unb64u(token.split('.').nth(2).unwrap()).len(), 64);
}

#[test]
fn eddsa_generated_key_signs_and_verifies_with_its_public_jwk() {
    let key = SigningKey::generate_ed25519().unwrap();
    assert_eq!(key.alg(), Alg::EdDSA);
    let keys = KeySet::from_jwks(&Jwks { keys: vec![key.public_jwk()] }).unwrap();
    let claims = claims();
    let token = key.sign("JWT", &claims).unwrap();

    let v = verify(&token, &keys, &[Alg::EdDSA]).unwrap();
    assert_eq!(v.alg, Alg::EdDSA);
    assert_eq!(v.header.kid.as_deref(), Some(key.kid()));
    assert_eq!(payload_json(&v), claims);
    assert_eq!(unb64u(token.split('.').nth(2).unwrap()).len(), 64);
}

#[test]
fn round_trip_through_serialized_jwks_and_from_jwks_value() {
    // What a verifier does with a JWKS it fetched: JSON text → KeySet::from_jwks_value.
    let es = SigningKey::generate_es256().unwrap();
    let ed = SigningKey::generate_ed25519().unwrap();
    let rs = SigningKey::from_pkcs8_pem(None, Alg::RS256, RSA_PRIVATE_PEM).unwrap();
    let ps = SigningKey::from_pkcs8_pem(Some("ps".into()), Alg::PS256, RSA_PRIVATE_PEM).unwrap();
    let jwks = Jwks { keys: vec![es.public_jwk(), ed.public_jwk(), rs.public_jwk(), ps.public_jwk()] };
    let text = serde_json::to_string(&jwks).unwrap();
    let keys = KeySet::from_jwks_value(&serde_json::from_str(&text).unwrap()).unwrap();
    assert_eq!(keys.len(), 4);
    for k in [&es, &ed, &rs, &ps] {
        assert!(keys.has_kid(k.kid()));
        let t = k.sign("JWT", &json!({"who": k.kid()})).unwrap();
        let v = verify(&t, &keys, all_algs()).unwrap();
        assert_eq!(v.alg, k.alg());
        assert_eq!(payload_json(&v), json!({"who": k.kid()}));
    }
}

#[test]
fn token_without_kid_verifies_against_keys_of_the_right_type() {
    let ec = RawEc::new("only");
    let t = ec.token(&json!({"alg": "ES256"}), &b64u_json(&json!({"a": 1})));
    let v = verify(&t, &ec.keyset(), &[Alg::ES256]).unwrap();
    assert_eq!(v.header.kid, None);
    // ... but a key of another party, still without kid, does not verify it.
    let other = RawEc::new("other");
    assert_eq!(verify(&t, &other.keyset(), &[Alg::ES256]).unwrap_err(), JoseError::BadSignature);
}

#[test]
fn empty_payload_round_trips() {
    let ec = RawEc::new("k");
    let t = ec.token(&ec.es256_header(), "");
    let v = verify(&t, &ec.keyset(), &[Alg::ES256]).unwrap();
    assert!(v.payload.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Interop with jsonwebtoken
// ---------------------------------------------------------------------------------------------

#[test]
fn jsonwebtoken_es256_token_from_ring_pkcs8_pem_verifies_in_numbat() {
    let ec = RawEc::new("client-es256");
    let pem = ec.pem();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let claims = claims();
    let token = jwt::encode(
        &jwt_header(jwt::Algorithm::ES256, &ec.kid),
        &claims,
        &jwt::EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap();

    let v = verify(&token, &ec.keyset(), &[Alg::ES256]).unwrap();
    assert_eq!(v.alg, Alg::ES256);
    assert_eq!(v.header.kid.as_deref(), Some("client-es256"));
    assert_eq!(payload_json(&v), claims);
}

#[test]
fn jsonwebtoken_rs256_token_verifies_in_numbat() {
    let claims = claims();
    let token = jwt::encode(
        &jwt_header(jwt::Algorithm::RS256, "client-rsa"),
        &claims,
        &jwt::EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).unwrap(),
    )
    .unwrap();
    // RSA JWK without `alg`: serves RS256 and PS256.
    let keys = KeySet::from_jwks_value(&json!({"keys": [rsa_jwk("client-rsa", None)]})).unwrap();
    let v = verify(&token, &keys, &[Alg::RS256]).unwrap();
    assert_eq!(v.alg, Alg::RS256);
    assert_eq!(payload_json(&v), claims);
    // Pinned to RS256 works too.
    let pinned = KeySet::from_jwks_value(&json!({"keys": [rsa_jwk("client-rsa", Some("RS256"))]})).unwrap();
    assert!(verify(&token, &pinned, &[Alg::RS256]).is_ok());
}

#[test]
fn jsonwebtoken_ps256_token_verifies_in_numbat() {
    let claims = claims();
    let token = jwt::encode(
        &jwt_header(jwt::Algorithm::PS256, "client-rsa"),
        &claims,
        &jwt::EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).unwrap(),
    )
    .unwrap();
    let keys = KeySet::from_jwks_value(&json!({"keys": [rsa_jwk("client-rsa", None)]})).unwrap();
    let v = verify(&token, &keys, &[Alg::PS256]).unwrap();
    assert_eq!(v.alg, Alg::PS256);
    assert_eq!(payload_json(&v), claims);
    let pinned = KeySet::from_jwks_value(&json!({"keys": [rsa_jwk("client-rsa", Some("PS256"))]})).unwrap();
    assert!(verify(&token, &pinned, &[Alg::PS256]).is_ok());
}

#[test]
fn jsonwebtoken_eddsa_token_verifies_in_numbat() {
    let rng = SystemRandom::new();
    let doc = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
    let token =
        jwt::encode(&jwt_header(jwt::Algorithm::EdDSA, "ed"), &claims(), &jwt::EncodingKey::from_ed_der(doc.as_ref()))
            .unwrap();
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64u(pair.public_key().as_ref()), "kid": "ed"});
    let keys = KeySet::from_jwks_value(&json!({"keys": [jwk]})).unwrap();
    assert_eq!(verify(&token, &keys, &[Alg::EdDSA]).unwrap().alg, Alg::EdDSA);
}

#[test]
fn numbat_es256_token_verifies_in_jsonwebtoken_from_ec_components() {
    let key = SigningKey::generate_es256().unwrap();
    let jwk = key.public_jwk();
    let claims = claims();
    let token = key.sign("JWT", &claims).unwrap();

    let dk = jwt::DecodingKey::from_ec_components(jwk.x.as_deref().unwrap(), jwk.y.as_deref().unwrap()).unwrap();
    let data = jwt::decode::<Value>(&token, &dk, &jwt_validation(jwt::Algorithm::ES256)).unwrap();
    assert_eq!(data.claims, claims);
    assert_eq!(data.header.alg, jwt::Algorithm::ES256);
    assert_eq!(data.header.kid.as_deref(), Some(key.kid()));
    assert_eq!(data.header.typ.as_deref(), Some("JWT"));
}

#[test]
fn numbat_public_jwks_parse_in_jsonwebtoken_and_verify_numbat_tokens() {
    // jsonwebtoken's own JWK parser accepts numbat's published JWKs (format check).
    let es = SigningKey::generate_es256().unwrap();
    let ed = SigningKey::generate_ed25519().unwrap();
    let rs = SigningKey::from_pkcs8_pem(None, Alg::RS256, RSA_PRIVATE_PEM).unwrap();
    let text = serde_json::to_string(&Jwks { keys: vec![es.public_jwk(), ed.public_jwk(), rs.public_jwk()] }).unwrap();
    let set: jwt::jwk::JwkSet = serde_json::from_str(&text).unwrap();
    for (key, alg) in [(&es, jwt::Algorithm::ES256), (&ed, jwt::Algorithm::EdDSA), (&rs, jwt::Algorithm::RS256)] {
        let jwk = set.find(key.kid()).expect("kid in jsonwebtoken's view of the JWKS");
        let dk = jwt::DecodingKey::from_jwk(jwk).unwrap();
        let token = key.sign("JWT", &claims()).unwrap();
        jwt::decode::<Value>(&token, &dk, &jwt_validation(alg)).unwrap();
    }
}

#[test]
fn numbat_eddsa_token_verifies_in_jsonwebtoken() {
    let key = SigningKey::generate_ed25519().unwrap();
    let jwk = key.public_jwk();
    let token = key.sign("JWT", &claims()).unwrap();
    let dk = jwt::DecodingKey::from_ed_components(jwk.x.as_deref().unwrap()).unwrap();
    jwt::decode::<Value>(&token, &dk, &jwt_validation(jwt::Algorithm::EdDSA)).unwrap();
}

#[test]
fn from_pkcs8_pem_loads_rsa_key_and_public_jwk_matches_openssl() {
    let key = SigningKey::from_pkcs8_pem(None, Alg::RS256, RSA_PRIVATE_PEM).unwrap();
    let jwk = key.public_jwk();
    assert_eq!(jwk.kty, "RSA");
    assert_eq!(jwk.n.as_deref(), Some(RSA_N));
    assert_eq!(jwk.e.as_deref(), Some(RSA_E));
    // Without an explicit kid, the kid is the RFC 7638 thumbprint.
    assert_eq!(key.kid(), RSA_THUMBPRINT);
    assert_eq!(key.thumbprint(), RSA_THUMBPRINT);
    assert_eq!(key.pkcs8_der(), rsa_pkcs8().as_slice());
}

#[test]
fn from_pkcs8_pem_loads_ec_key_with_explicit_or_thumbprint_kid() {
    let ec = RawEc::new("unused");
    let named = SigningKey::from_pkcs8_pem(Some("my-kid".into()), Alg::ES256, &ec.pem()).unwrap();
    assert_eq!(named.kid(), "my-kid");
    let jwk = named.public_jwk();
    assert_eq!(jwk.x.as_deref(), Some(ec.x().as_str()));
    assert_eq!(jwk.y.as_deref(), Some(ec.y().as_str()));

    let anon = SigningKey::from_pkcs8_pem(None, Alg::ES256, &ec.pem()).unwrap();
    let canon = format!(r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#, ec.x(), ec.y());
    let expected = b64u(ring::digest::digest(&ring::digest::SHA256, canon.as_bytes()).as_ref());
    assert_eq!(anon.kid(), expected);

    // A token signed by the PEM-loaded numbat key verifies with the independent JWK.
    let mut jwk = ec.jwk();
    jwk["kid"] = json!("my-kid");
    let keys = KeySet::from_jwks_value(&json!({"keys": [jwk]})).unwrap();
    verify(&named.sign("JWT", &claims()).unwrap(), &keys, &[Alg::ES256]).unwrap();
}

#[test]
fn from_pkcs8_pem_refuses_garbage_and_mismatched_key_types() {
    let ec = RawEc::new("k");
    let cases: Vec<(Alg, String)> = vec![
        (Alg::ES256, String::new()),
        (Alg::ES256, "not a pem at all".into()),
        (Alg::ES256, "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n".into()),
        (Alg::ES256, RSA_PRIVATE_PEM.into()),
        (Alg::EdDSA, RSA_PRIVATE_PEM.into()),
        (Alg::RS256, ec.pem()),
        (Alg::PS256, ec.pem()),
        (Alg::RS256, RSA_PUBLIC_PEM.into()),
    ];
    for (alg, pem) in cases {
        match SigningKey::from_pkcs8_pem(None, alg, &pem) {
            Err(JoseError::KeyRejected(_)) => {}
            other => panic!("{alg:?} with {pem:?}: expected KeyRejected, got {other:?}"),
        }
    }
}

#[test]
fn numbat_rs256_token_from_pem_key_verifies_in_jsonwebtoken() {
    let key = SigningKey::from_pkcs8_pem(Some("rsa-1".into()), Alg::RS256, RSA_PRIVATE_PEM).unwrap();
    let claims = claims();
    let token = key.sign("JWT", &claims).unwrap();
    let jwk = key.public_jwk();
    for dk in [
        jwt::DecodingKey::from_rsa_components(jwk.n.as_deref().unwrap(), jwk.e.as_deref().unwrap()).unwrap(),
        jwt::DecodingKey::from_rsa_pem(RSA_PUBLIC_PEM.as_bytes()).unwrap(),
    ] {
        let data = jwt::decode::<Value>(&token, &dk, &jwt_validation(jwt::Algorithm::RS256)).unwrap();
        assert_eq!(data.claims, claims);
        assert_eq!(data.header.kid.as_deref(), Some("rsa-1"));
    }
    // RS256 (PKCS#1 v1.5) is deterministic: over numbat's own signing input, jsonwebtoken
    // computes the very same signature.
    let (h, p) = {
        let mut it = token.split('.');
        (it.next().unwrap(), it.next().unwrap())
    };
    let input = format!("{h}.{p}");
    let expected = jwt::crypto::sign(
        input.as_bytes(),
        &jwt::EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).unwrap(),
        jwt::Algorithm::RS256,
    )
    .unwrap();
    assert_eq!(token.split('.').nth(2).unwrap(), expected);
}

#[test]
fn numbat_ps256_token_from_pem_key_verifies_in_jsonwebtoken() {
    let key = SigningKey::from_pkcs8_pem(Some("rsa-pss".into()), Alg::PS256, RSA_PRIVATE_PEM).unwrap();
    let claims = claims();
    let token = key.sign("JWT", &claims).unwrap();
    let dk = jwt::DecodingKey::from_rsa_components(RSA_N, RSA_E).unwrap();
    let data = jwt::decode::<Value>(&token, &dk, &jwt_validation(jwt::Algorithm::PS256)).unwrap();
    assert_eq!(data.claims, claims);
    assert_eq!(data.header.alg, jwt::Algorithm::PS256);
    // And it is really PSS: an RS256 verifier refuses it.
    let mut as_rs = jwt_validation(jwt::Algorithm::RS256);
    as_rs.algorithms = vec![jwt::Algorithm::RS256];
    let forged = with_header(&token, &json!({"alg": "RS256", "typ": "JWT", "kid": "rsa-pss"}));
    assert!(jwt::decode::<Value>(&forged, &dk, &as_rs).is_err());
}

// ---------------------------------------------------------------------------------------------
// JWKS hygiene
// ---------------------------------------------------------------------------------------------

fn assert_rejected(v: Value, what: &str) {
    match KeySet::from_jwks_value(&v) {
        Err(JoseError::KeyRejected(_)) => {}
        other => panic!("{what}: expected KeyRejected, got {other:?}"),
    }
}

#[test]
fn jwks_refuses_private_ec_key_with_d() {
    let ec = RawEc::new("k");
    let mut jwk = ec.jwk();
    jwk["d"] = json!(b64u(&[1u8; 32]));
    assert_rejected(json!({"keys": [jwk]}), "EC with d");
    // Also when it is the second key.
    let mut jwk2 = RawEc::new("k2").jwk();
    jwk2["d"] = json!("");
    assert_rejected(json!({"keys": [ec.jwk(), jwk2]}), "second EC with empty d");
    // Also an OKP private key.
    assert_rejected(
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64u(&[9u8; 32]), "d": b64u(&[1u8; 32])}]}),
        "OKP with d",
    );
}

#[test]
fn jwks_refuses_oct_keys() {
    assert_rejected(json!({"keys": [{"kty": "oct", "k": b64u(b"secret"), "kid": "h", "alg": "HS256"}]}), "oct with k");
    assert_rejected(json!({"keys": [{"kty": "oct", "kid": "h"}]}), "oct without k");
    // `k` is refused whatever kty claims to be.
    let mut jwk = RawEc::new("k").jwk();
    jwk["k"] = json!(b64u(b"secret"));
    assert_rejected(json!({"keys": [jwk]}), "EC with k");
}

#[test]
fn jwks_refuses_rsa_private_members() {
    for member in ["p", "q", "d", "dp", "dq", "qi"] {
        let mut jwk = rsa_jwk("r", None);
        jwk[member] = json!(b64u(&[5u8; 128]));
        assert_rejected(json!({"keys": [jwk]}), &format!("RSA with {member}"));
    }
    let mut both = rsa_jwk("r", None);
    both["p"] = json!(b64u(&[5u8; 128]));
    both["q"] = json!(b64u(&[6u8; 128]));
    assert_rejected(json!({"keys": [both]}), "RSA with p and q");
}

#[test]
fn jwks_refuses_rsa_under_2048_bits() {
    assert_rejected(json!({"keys": [{"kty": "RSA", "n": RSA1024_N, "e": "AQAB", "kid": "small"}]}), "RSA 1024");
    // 2040 bits (255 bytes).
    let n = unb64u(RSA_N);
    assert_rejected(json!({"keys": [{"kty": "RSA", "n": b64u(&n[1..]), "e": "AQAB"}]}), "RSA 2040");
    // Sanity: the 2048-bit key is accepted.
    assert!(KeySet::from_jwks_value(&json!({"keys": [{"kty": "RSA", "n": RSA_N, "e": "AQAB"}]})).is_ok());
}

#[test]
fn jwks_refuses_ec_keys_on_other_curves() {
    assert_rejected(json!({"keys": [{"kty": "EC", "crv": "P-384", "x": P384_X, "y": P384_Y, "kid": "p384"}]}), "P-384");
    let ec = RawEc::new("k");
    for crv in ["P-521", "secp256k1", "p-256", "", "Ed25519"] {
        let mut jwk = ec.jwk();
        jwk["crv"] = json!(crv);
        assert_rejected(json!({"keys": [jwk]}), crv);
    }
    let mut no_crv = ec.jwk();
    no_crv.as_object_mut().unwrap().remove("crv");
    assert_rejected(json!({"keys": [no_crv]}), "EC without crv");
    // P-256 coordinates of the wrong length.
    let mut short = ec.jwk();
    short["x"] = json!(b64u(&unb64u(&ec.x())[1..]));
    assert_rejected(json!({"keys": [short]}), "31-byte x");
}

#[test]
fn jwks_refuses_use_enc() {
    let mut jwk = RawEc::new("k").jwk();
    jwk["use"] = json!("enc");
    assert_rejected(json!({"keys": [jwk]}), "EC use=enc");
    let mut rsa = rsa_jwk("r", None);
    rsa["use"] = json!("enc");
    assert_rejected(json!({"keys": [rsa]}), "RSA use=enc");
    let mut weird = RawEc::new("k").jwk();
    weird["use"] = json!("SIG");
    assert_rejected(json!({"keys": [weird]}), "use=SIG");
}

#[test]
fn jwks_refuses_alg_that_does_not_fit_kty() {
    let ec = RawEc::new("k");
    for alg in ["RS256", "PS256", "EdDSA"] {
        let mut jwk = ec.jwk();
        jwk["alg"] = json!(alg);
        assert_rejected(json!({"keys": [jwk]}), &format!("EC with {alg}"));
    }
    for alg in ["ES256", "EdDSA"] {
        assert_rejected(json!({"keys": [rsa_jwk("r", Some(alg))]}), &format!("RSA with {alg}"));
    }
    let okp = json!({"kty": "OKP", "crv": "Ed25519", "x": b64u(&[9u8; 32]), "alg": "ES256"});
    assert_rejected(json!({"keys": [okp]}), "OKP with ES256");
    // Algorithms numbat does not support at all.
    for alg in ["ES384", "HS256", "none", "RSA-OAEP"] {
        let mut jwk = ec.jwk();
        jwk["alg"] = json!(alg);
        assert_rejected(json!({"keys": [jwk]}), &format!("EC with {alg}"));
    }
}

#[test]
fn jwks_refuses_more_than_32_keys() {
    let keys: Vec<Value> = (0..33).map(|i| RawEc::new(&format!("k{i}")).jwk()).collect();
    assert_rejected(json!({"keys": keys}), "33 keys");
    let keys: Vec<Value> = (0..32).map(|i| RawEc::new(&format!("k{i}")).jwk()).collect();
    assert_eq!(KeySet::from_jwks_value(&json!({"keys": keys})).unwrap().len(), 32);
}

#[test]
fn jwks_refuses_missing_or_wrongly_typed_keys() {
    let ec = RawEc::new("k");
    for v in [
        json!({}),
        json!({"key": [ec.jwk()]}),
        json!({"keys": ec.jwk()}),
        json!({"keys": null}),
        json!({"keys": "[]"}),
        json!([ec.jwk()]),
        json!(null),
        json!({"keys": [42]}),
        json!({"keys": [{"kty": "EC"}]}),
        json!({"keys": [{"crv": "P-256", "x": ec.x(), "y": ec.y()}]}),
        json!({"keys": [{"kty": "RSA", "n": RSA_N}]}),
    ] {
        assert_rejected(v.clone(), &v.to_string());
    }
    // An empty set is a valid (useless) JWKS.
    assert!(KeySet::from_jwks_value(&json!({"keys": []})).unwrap().is_empty());
}

#[test]
fn public_jwk_of_every_numbat_key_has_kid_use_sig_alg_and_no_private_member() {
    let keys = vec![
        SigningKey::generate_es256().unwrap(),
        SigningKey::generate_ed25519().unwrap(),
        SigningKey::from_pkcs8_pem(None, Alg::RS256, RSA_PRIVATE_PEM).unwrap(),
        SigningKey::from_pkcs8_pem(Some("ps".into()), Alg::PS256, RSA_PRIVATE_PEM).unwrap(),
        SigningKey::from_pkcs8_pem(None, Alg::ES256, &RawEc::new("x").pem()).unwrap(),
    ];
    for key in &keys {
        let v = serde_json::to_value(key.public_jwk()).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.get("kid").and_then(Value::as_str), Some(key.kid()), "{v}");
        assert!(!key.kid().is_empty());
        assert_eq!(obj.get("use").and_then(Value::as_str), Some("sig"), "{v}");
        assert_eq!(obj.get("alg").and_then(Value::as_str), Some(key.alg().as_str()), "{v}");
        for m in PRIVATE_MEMBERS {
            assert!(!obj.contains_key(m), "private member {m} in {v}");
        }
        for m in obj.keys() {
            assert!(PUBLIC_MEMBERS.contains(&m.as_str()), "unexpected member {m} in {v}");
        }
        let expected: &[&str] = match key.alg() {
            Alg::ES256 => &["kty", "kid", "alg", "use", "crv", "x", "y"],
            Alg::EdDSA => &["kty", "kid", "alg", "use", "crv", "x"],
            Alg::RS256 | Alg::PS256 => &["kty", "kid", "alg", "use", "n", "e"],
        };
        let mut got: Vec<&str> = obj.keys().map(String::as_str).collect();
        let mut want = expected.to_vec();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{v}");
        // The private key bytes appear nowhere in the published JSON.
        let text = serde_json::to_string(&key.public_jwk()).unwrap();
        assert!(!text.contains(&b64u(key.pkcs8_der())));
        // It is accepted by numbat's own strict JWKS parser.
        KeySet::from_jwks_value(&json!({"keys": [v]})).unwrap();
    }
}

#[test]
fn jwk_type_has_no_private_members_when_deserialized() {
    // Deserializing a private JWK into `Jwk` drops the private members (they are not
    // representable), so re-serialization never republishes them.
    let mut v = RawEc::new("k").jwk();
    v["d"] = json!(b64u(&[1u8; 32]));
    let jwk: Jwk = serde_json::from_value(v).unwrap();
    let out = serde_json::to_value(&jwk).unwrap();
    assert!(out.get("d").is_none());
}

// ---------------------------------------------------------------------------------------------
// left_half_hash (OIDC at_hash / c_hash)
// ---------------------------------------------------------------------------------------------

fn independent_left_half(value: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, value.as_bytes());
    URL_SAFE_NO_PAD.encode(&d.as_ref()[..16])
}

#[test]
fn left_half_hash_matches_oidc_at_hash_example() {
    // OpenID Connect Core 1.0, Appendix A.4 (RS256 → SHA-256). Checked independently when
    // writing this test: sha256(value)[..16] → base64url = 77QmUPtjPfzWtF2AnpK9RQ (Python
    // hashlib and `openssl dgst -sha256` agree).
    let access_token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
    assert_eq!(independent_left_half(access_token), "77QmUPtjPfzWtF2AnpK9RQ");
    assert_eq!(left_half_hash(access_token), "77QmUPtjPfzWtF2AnpK9RQ");
}

#[test]
fn left_half_hash_matches_oidc_c_hash_example() {
    // OpenID Connect Core 1.0, Appendix A.4: code → c_hash (checked with Python hashlib).
    let code = "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk";
    assert_eq!(left_half_hash(code), "LDktKdoQak3Pk0cnXxCltA");
}

#[test]
fn left_half_hash_is_16_bytes_of_sha256_base64url() {
    for v in ["", "a", "ünïcødé", "x".repeat(1000).as_str()] {
        let h = left_half_hash(v);
        assert_eq!(h, independent_left_half(v));
        assert_eq!(h.len(), 22);
        assert_eq!(unb64u(&h).len(), 16);
    }
}

