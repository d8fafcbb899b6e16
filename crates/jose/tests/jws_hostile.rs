//! Hostile tokens: every way a JWS can lie must fail closed.

mod common;
use common::*;

// ---------------------------------------------------------------------------------------------
// Hostile tokens
// ---------------------------------------------------------------------------------------------

#[test]
fn alg_none_with_empty_signature_is_refused() {
    let ec = RawEc::new("k");
    let keys = ec.keyset();
    for header in
        [json!({"alg": "none"}), json!({"alg": "none", "kid": "k"}), json!({"alg": "None"}), json!({"alg": "NONE"})]
    {
        let t = format!("{}.{}.", b64u_json(&header), b64u_json(&claims()));
        let r = verify(&t, &keys, all_algs());
        assert!(r.is_err(), "{header}: alg none must never verify");
        assert!(matches!(r, Err(JoseError::Malformed(_))), "{header}: {r:?}");
    }
}

#[test]
fn alg_none_with_bogus_signature_is_refused() {
    let ec = RawEc::new("k");
    let keys = ec.keyset();
    for header in [json!({"alg": "none"}), json!({"alg": "none", "kid": "k"})] {
        let t = format!("{}.{}.{}", b64u_json(&header), b64u_json(&claims()), b64u(b"bogus-signature"));
        assert_eq!(verify(&t, &keys, all_algs()).unwrap_err(), JoseError::UnsupportedAlg);
        // Even an ES256-length bogus signature.
        let t = format!("{}.{}.{}", b64u_json(&header), b64u_json(&claims()), b64u(&[7u8; 64]));
        assert_eq!(verify(&t, &keys, all_algs()).unwrap_err(), JoseError::UnsupportedAlg);
    }
}

/// Sign an HS256 token with `secret` (as an attacker holding only public material would).
fn hs256(kid: &str, secret: &[u8]) -> String {
    jwt::encode(&jwt_header(jwt::Algorithm::HS256, kid), &claims(), &jwt::EncodingKey::from_secret(secret)).unwrap()
}

#[test]
fn hs256_key_confusion_with_ec_public_key_material_never_verifies() {
    let ec = RawEc::new("ec-1");
    let keys = ec.keyset();
    let jwk_json = serde_json::to_vec(&ec.jwk()).unwrap();
    let jwks_json = serde_json::to_vec(&json!({"keys": [ec.jwk()]})).unwrap();
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("jwk json", jwk_json),
        ("jwks json", jwks_json),
        ("uncompressed point", ec.point().to_vec()),
        ("x||y", ec.point()[1..].to_vec()),
        ("public pem", ec.public_pem().into_bytes()),
        ("public pem der", pem_body(&ec.public_pem())),
        ("x b64url", ec.x().into_bytes()),
    ];
    for (what, secret) in secrets {
        let t = hs256("ec-1", &secret);
        for allowed in [all_algs(), &[Alg::ES256][..]] {
            let r = verify(&t, &keys, allowed);
            assert!(r.is_err(), "HS256 with {what} as secret verified: {r:?}");
            assert_eq!(r.unwrap_err(), JoseError::UnsupportedAlg, "{what}");
        }
        // Relabelled as ES256 (keeping the HMAC bytes) it is just a bad signature.
        let relabelled = with_header(&t, &json!({"alg": "ES256", "kid": "ec-1"}));
        assert!(verify(&relabelled, &keys, all_algs()).is_err(), "{what}");
    }
}

#[test]
fn hs256_key_confusion_with_rsa_public_key_material_never_verifies() {
    let keys = KeySet::from_jwks_value(&json!({"keys": [rsa_jwk("rsa-1", None)]})).unwrap();
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("jwk json", serde_json::to_vec(&rsa_jwk("rsa-1", None)).unwrap()),
        ("public pem", RSA_PUBLIC_PEM.as_bytes().to_vec()),
        ("public pem without trailing newline", RSA_PUBLIC_PEM.trim_end().as_bytes().to_vec()),
        ("spki der", pem_body(RSA_PUBLIC_PEM)),
        ("modulus", unb64u(RSA_N)),
    ];
    for (what, secret) in secrets {
        for alg in [jwt::Algorithm::HS256, jwt::Algorithm::HS384, jwt::Algorithm::HS512] {
            let t = jwt::encode(&jwt_header(alg, "rsa-1"), &claims(), &jwt::EncodingKey::from_secret(&secret)).unwrap();
            let r = verify(&t, &keys, all_algs());
            assert!(r.is_err(), "{alg:?} with {what} as secret verified: {r:?}");
            assert_eq!(r.unwrap_err(), JoseError::UnsupportedAlg, "{alg:?} {what}");
        }
    }
}

#[test]
fn alg_outside_the_allow_list_is_alg_not_allowed() {
    let key = SigningKey::generate_es256().unwrap();
    let keys = numbat_keyset(&key);
    let t = key.sign("JWT", &claims()).unwrap();
    assert_eq!(verify(&t, &keys, &[Alg::RS256]).unwrap_err(), JoseError::AlgNotAllowed);
    assert_eq!(verify(&t, &keys, &[Alg::RS256, Alg::PS256, Alg::EdDSA]).unwrap_err(), JoseError::AlgNotAllowed);
    assert_eq!(verify(&t, &keys, &[]).unwrap_err(), JoseError::AlgNotAllowed);
    assert!(verify(&t, &keys, &[Alg::RS256, Alg::ES256]).is_ok());
}

#[test]
fn unsupported_algorithms_are_refused() {
    let ec = RawEc::new("k");
    for alg in ["ES384", "ES512", "RS384", "RS512", "PS384", "HS256", "es256", "ES256 ", "", "ES256K", "Ed25519"] {
        let t = ec.token(&json!({"alg": alg, "kid": "k"}), &b64u_json(&claims()));
        assert_eq!(verify(&t, &ec.keyset(), all_algs()).unwrap_err(), JoseError::UnsupportedAlg, "{alg:?}");
    }
}

#[test]
fn unknown_kid_is_unknown_key() {
    let key = SigningKey::generate_es256().unwrap();
    let ec = RawEc::new("known");
    let t = key.sign("JWT", &claims()).unwrap();
    assert_eq!(verify(&t, &ec.keyset(), &[Alg::ES256]).unwrap_err(), JoseError::UnknownKey);
    // Empty key set.
    assert_eq!(verify(&t, &KeySet::default(), &[Alg::ES256]).unwrap_err(), JoseError::UnknownKey);
}

#[test]
fn kid_of_a_key_of_another_type_is_refused() {
    // The key set holds an EC key "ec" and an RSA key "rsa". A token signed with the RSA key
    // but naming the EC key's kid must not verify, nor one naming the RSA kid with ES256.
    let ec = RawEc::new("ec");
    let keys = KeySet::from_jwks_value(&json!({"keys": [ec.jwk(), rsa_jwk("rsa", None)]})).unwrap();
    let rsa_enc = jwt::EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).unwrap();

    let rs_with_ec_kid = jwt::encode(&jwt_header(jwt::Algorithm::RS256, "ec"), &claims(), &rsa_enc).unwrap();
    let r = verify(&rs_with_ec_kid, &keys, all_algs());
    assert_eq!(r.unwrap_err(), JoseError::UnknownKey);

    let ps_with_ec_kid = jwt::encode(&jwt_header(jwt::Algorithm::PS256, "ec"), &claims(), &rsa_enc).unwrap();
    assert_eq!(verify(&ps_with_ec_kid, &keys, all_algs()).unwrap_err(), JoseError::UnknownKey);

    let es_with_rsa_kid = ec.token(&json!({"alg": "ES256", "kid": "rsa"}), &b64u_json(&claims()));
    assert_eq!(verify(&es_with_rsa_kid, &keys, all_algs()).unwrap_err(), JoseError::UnknownKey);

    let ed_with_ec_kid = with_header(&es_with_rsa_kid, &json!({"alg": "EdDSA", "kid": "ec"}));
    assert_eq!(verify(&ed_with_ec_kid, &keys, all_algs()).unwrap_err(), JoseError::UnknownKey);

    // Sanity: with the right kids they verify.
    let good = jwt::encode(&jwt_header(jwt::Algorithm::RS256, "rsa"), &claims(), &rsa_enc).unwrap();
    assert!(verify(&good, &keys, all_algs()).is_ok());
}

#[test]
fn rsa_key_pinned_to_one_alg_refuses_the_other() {
    let rsa_enc = jwt::EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).unwrap();
    let pinned_rs = KeySet::from_jwks_value(&json!({"keys": [rsa_jwk("r", Some("RS256"))]})).unwrap();
    let ps = jwt::encode(&jwt_header(jwt::Algorithm::PS256, "r"), &claims(), &rsa_enc).unwrap();
    assert_eq!(verify(&ps, &pinned_rs, all_algs()).unwrap_err(), JoseError::UnknownKey);

    let pinned_ps = KeySet::from_jwks_value(&json!({"keys": [rsa_jwk("r", Some("PS256"))]})).unwrap();
    let rs = jwt::encode(&jwt_header(jwt::Algorithm::RS256, "r"), &claims(), &rsa_enc).unwrap();
    assert_eq!(verify(&rs, &pinned_ps, all_algs()).unwrap_err(), JoseError::UnknownKey);
}

#[test]
fn rs256_signature_relabelled_as_ps256_is_bad_signature() {
    let keys = KeySet::from_jwks_value(&json!({"keys": [rsa_jwk("r", None)]})).unwrap();
    let rsa_enc = jwt::EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).unwrap();
    let rs = jwt::encode(&jwt_header(jwt::Algorithm::RS256, "r"), &claims(), &rsa_enc).unwrap();
    let parts: Vec<&str> = rs.split('.').collect();
    // Re-sign nothing: swap the header to PS256; the signature (over the old input) must fail.
    let relabelled = format!("{}.{}.{}", b64u_json(&json!({"alg": "PS256", "kid": "r"})), parts[1], parts[2]);
    assert_eq!(verify(&relabelled, &keys, all_algs()).unwrap_err(), JoseError::BadSignature);
}

#[test]
fn tampered_payload_is_bad_signature() {
    let key = SigningKey::generate_es256().unwrap();
    let keys = numbat_keyset(&key);
    let t = key.sign("JWT", &json!({"sub": "alice", "admin": false})).unwrap();
    let parts: Vec<&str> = t.split('.').collect();
    let evil = b64u_json(&json!({"sub": "alice", "admin": true}));
    let tampered = format!("{}.{}.{}", parts[0], evil, parts[2]);
    assert_eq!(verify(&tampered, &keys, &[Alg::ES256]).unwrap_err(), JoseError::BadSignature);
    // Dropping the payload.
    let dropped = format!("{}..{}", parts[0], parts[2]);
    assert_eq!(verify(&dropped, &keys, &[Alg::ES256]).unwrap_err(), JoseError::BadSignature);

    let ed = SigningKey::generate_ed25519().unwrap();
    let t = ed.sign("JWT", &json!({"sub": "alice"})).unwrap();
    let parts: Vec<&str> = t.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], b64u_json(&json!({"sub": "mallory"})), parts[2]);
    assert_eq!(verify(&tampered, &numbat_keyset(&ed), &[Alg::EdDSA]).unwrap_err(), JoseError::BadSignature);
}

#[test]
fn tampered_header_is_refused() {
    let key = SigningKey::generate_es256().unwrap();
    let keys = numbat_keyset(&key);
    let t = key.sign("JWT", &claims()).unwrap();
    // Same alg and kid, different typ: signing input changed.
    let tampered = with_header(&t, &json!({"alg": "ES256", "typ": "at+jwt", "kid": key.kid()}));
    assert_eq!(verify(&tampered, &keys, &[Alg::ES256]).unwrap_err(), JoseError::BadSignature);
    // Same members, reordered (raw bytes; `json!` would sort them back): a different signing
    // input, so the signature no longer matches.
    let original = decode_header(&t).unwrap();
    assert_eq!(original.kid.as_deref(), Some(key.kid()));
    let parts: Vec<&str> = t.split('.').collect();
    let raw = format!(r#"{{"typ":"JWT","kid":"{}","alg":"ES256"}}"#, key.kid());
    assert_ne!(b64u(raw.as_bytes()), parts[0]);
    let reordered = format!("{}.{}.{}", b64u(raw.as_bytes()), parts[1], parts[2]);
    assert_eq!(verify(&reordered, &keys, &[Alg::ES256]).unwrap_err(), JoseError::BadSignature);
    // Header with an extra embedded key.
    let extra =
        with_header(&t, &json!({"alg": "ES256", "typ": "JWT", "kid": key.kid(), "jku": "https://evil.example/jwks"}));
    assert_eq!(verify(&extra, &keys, &[Alg::ES256]).unwrap_err(), JoseError::BadSignature);
    // Kid changed to one that does not exist.
    let other_kid = with_header(&t, &json!({"alg": "ES256", "typ": "JWT", "kid": "nope"}));
    assert_eq!(verify(&other_kid, &keys, &[Alg::ES256]).unwrap_err(), JoseError::UnknownKey);
}

#[test]
fn embedded_jwk_header_is_ignored() {
    // The attacker signs with their own key and embeds its public JWK in the header.
    let legit = RawEc::new("legit");
    let attacker = RawEc::new("legit");
    let header = json!({"alg": "ES256", "kid": "legit", "jwk": attacker.jwk(), "jku": "https://evil.example/jwks", "x5u": "https://evil.example/cert"});
    let t = attacker.token(&header, &b64u_json(&claims()));
    assert_eq!(verify(&t, &legit.keyset(), all_algs()).unwrap_err(), JoseError::BadSignature);
    let no_kid = attacker.token(&json!({"alg": "ES256", "jwk": attacker.jwk()}), &b64u_json(&claims()));
    assert_eq!(verify(&no_kid, &legit.keyset(), all_algs()).unwrap_err(), JoseError::BadSignature);
    // Sanity: the attacker's token is valid for the attacker's own key.
    assert!(verify(&t, &attacker.keyset(), all_algs()).is_ok());
}

#[test]
fn signature_of_the_wrong_length_is_bad_signature() {
    let key = SigningKey::generate_es256().unwrap();
    let keys = numbat_keyset(&key);
    let t = key.sign("JWT", &claims()).unwrap();
    let sig = unb64u(t.split('.').nth(2).unwrap());
    assert_eq!(sig.len(), 64);

    let mut longer = sig.clone();
    longer.push(0);
    let mut zero_prefixed = vec![0u8];
    zero_prefixed.extend_from_slice(&sig);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated by one", sig[..63].to_vec()),
        ("half", sig[..32].to_vec()),
        ("one byte", vec![sig[0]]),
        ("extended by one", longer),
        ("zero prefixed", zero_prefixed),
        ("doubled", [sig.clone(), sig.clone()].concat()),
        ("der-ish", {
            let mut der = vec![0x30, 0x44, 0x02, 0x20];
            der.extend_from_slice(&sig[..32]);
            der.extend_from_slice(&[0x02, 0x20]);
            der.extend_from_slice(&sig[32..]);
            der
        }),
    ];
    for (what, s) in cases {
        let bad = with_signature(&t, &b64u(&s));
        assert_eq!(verify(&bad, &keys, &[Alg::ES256]).unwrap_err(), JoseError::BadSignature, "{what}");
    }

    let ed = SigningKey::generate_ed25519().unwrap();
    let t = ed.sign("JWT", &claims()).unwrap();
    let sig = unb64u(t.split('.').nth(2).unwrap());
    let bad = with_signature(&t, &b64u(&sig[..63]));
    assert_eq!(verify(&bad, &numbat_keyset(&ed), &[Alg::EdDSA]).unwrap_err(), JoseError::BadSignature);

    let rs = SigningKey::from_pkcs8_pem(None, Alg::RS256, RSA_PRIVATE_PEM).unwrap();
    let t = rs.sign("JWT", &claims()).unwrap();
    let sig = unb64u(t.split('.').nth(2).unwrap());
    assert_eq!(sig.len(), 256);
    let bad = with_signature(&t, &b64u(&sig[..255]));
    assert_eq!(verify(&bad, &numbat_keyset(&rs), &[Alg::RS256]).unwrap_err(), JoseError::BadSignature);
}

#[test]
fn ecdsa_zero_signature_is_bad_signature() {
    // CVE-2022-21449 ("psychic signatures"): r = s = 0 must never verify.
    let key = SigningKey::generate_es256().unwrap();
    let t = key.sign("JWT", &claims()).unwrap();
    let bad = with_signature(&t, &b64u(&[0u8; 64]));
    assert_eq!(verify(&bad, &numbat_keyset(&key), &[Alg::ES256]).unwrap_err(), JoseError::BadSignature);
}

#[test]
fn signature_from_another_key_with_the_same_kid_is_bad_signature() {
    let legit = RawEc::new("same");
    let other = RawEc::new("same");
    let t = other.token(&other.es256_header(), &b64u_json(&claims()));
    assert_eq!(verify(&t, &legit.keyset(), &[Alg::ES256]).unwrap_err(), JoseError::BadSignature);
}

#[test]
fn crit_header_is_refused() {
    let ec = RawEc::new("k");
    let payload = b64u_json(&claims());
    for header in [
        json!({"alg": "ES256", "kid": "k", "crit": ["exp"], "exp": 1}),
        json!({"alg": "ES256", "kid": "k", "crit": ["b64"], "b64": false}),
        json!({"alg": "ES256", "kid": "k", "crit": []}),
        json!({"alg": "ES256", "kid": "k", "crit": "exp"}),
    ] {
        let t = ec.token(&header, &payload);
        assert_eq!(verify(&t, &ec.keyset(), &[Alg::ES256]).unwrap_err(), JoseError::Crit, "{header}");
        assert_eq!(decode_header(&t).unwrap_err(), JoseError::Crit, "{header}");
    }
    // Sanity: the same token without crit verifies.
    assert!(verify(&ec.token(&ec.es256_header(), &payload), &ec.keyset(), &[Alg::ES256]).is_ok());
}

#[test]
fn jwe_shaped_five_part_token_is_malformed() {
    let ec = RawEc::new("k");
    let jwe = format!(
        "{}.{}.{}.{}.{}",
        b64u_json(&json!({"alg": "RSA-OAEP", "enc": "A256GCM"})),
        b64u(&[1u8; 256]),
        b64u(&[2u8; 12]),
        b64u(b"ciphertext"),
        b64u(&[3u8; 16])
    );
    assert_malformed(verify(&jwe, &ec.keyset(), all_algs()), "JWE");
    assert!(matches!(decode_header(&jwe), Err(JoseError::Malformed(_))));
    // A valid JWS with extra segments appended.
    let t = ec.token(&ec.es256_header(), &b64u_json(&claims()));
    assert_malformed(verify(&format!("{t}.{}", b64u(b"x")), &ec.keyset(), all_algs()), "JWS + 1 segment");
    assert_malformed(verify(&format!("{t}.x.y"), &ec.keyset(), all_algs()), "JWS + 2 segments");
}

#[test]
fn two_part_token_is_malformed() {
    let ec = RawEc::new("k");
    let t = ec.token(&ec.es256_header(), &b64u_json(&claims()));
    let two = t.rsplit_once('.').unwrap().0.to_owned();
    assert_eq!(two.matches('.').count(), 1);
    assert_malformed(verify(&two, &ec.keyset(), all_algs()), "two parts");
    assert_malformed(verify(&format!("{two}."), &ec.keyset(), all_algs()), "empty signature");
    assert_malformed(verify(t.split('.').next().unwrap(), &ec.keyset(), all_algs()), "one part");
}

#[test]
fn empty_string_and_dots_only_are_malformed() {
    let keys = RawEc::new("k").keyset();
    for t in ["", ".", "..", "...", "....", " ", "\n"] {
        assert_malformed(verify(t, &keys, all_algs()), &format!("{t:?}"));
    }
}

#[test]
fn four_dots_are_malformed() {
    let ec = RawEc::new("k");
    let t = ec.token(&ec.es256_header(), &b64u_json(&claims()));
    let parts: Vec<&str> = t.split('.').collect();
    for s in [
        format!("{}.{}.{}..", parts[0], parts[1], parts[2]),
        format!("{}..{}.{}.", parts[0], parts[1], parts[2]),
        format!("{}.{}..{}.", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}.{}.{}", parts[0], parts[1], parts[2], parts[1], parts[2]),
    ] {
        assert_eq!(s.matches('.').count(), 4);
        assert_malformed(verify(&s, &ec.keyset(), all_algs()), &s);
    }
}

#[test]
fn non_base64url_characters_are_malformed() {
    let ec = RawEc::new("k");
    let t = ec.token(&ec.es256_header(), &b64u_json(&claims()));
    let parts: Vec<&str> = t.split('.').collect();
    // In the header.
    for bad in ["+", "/", "!", " ", "%", "\u{e9}", "\0"] {
        let s = format!("{}{bad}.{}.{}", parts[0], parts[1], parts[2]);
        assert_malformed(verify(&s, &ec.keyset(), all_algs()), &format!("header + {bad:?}"));
    }
    // In the signature.
    for bad in ["+", "/", "*", " "] {
        let s = format!("{}.{}.{}{bad}", parts[0], parts[1], &parts[2][..parts[2].len() - 1]);
        assert_malformed(verify(&s, &ec.keyset(), all_algs()), &format!("signature + {bad:?}"));
    }
    // Standard (not url-safe) alphabet header: sign a header whose base64 has '+' or '/'.
    // `{"alg":"ES256","kid":"k?>"}` style: find one whose standard encoding differs.
    let mut found = false;
    for i in 0..200u32 {
        let header = json!({"alg": "ES256", "kid": "k", "n": format!("~~~{i}???")});
        let bytes = serde_json::to_vec(&header).unwrap();
        let std = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes);
        if std.contains('+') || std.contains('/') {
            let input = format!("{std}.{}", b64u_json(&claims()));
            let s = format!("{input}.{}", b64u(&ec.sign_raw(input.as_bytes())));
            assert_malformed(verify(&s, &ec.keyset(), all_algs()), "standard base64 alphabet in header");
            found = true;
            break;
        }
    }
    assert!(found);
}

#[test]
fn base64_padding_is_malformed() {
    let ec = RawEc::new("k");
    let keys = ec.keyset();
    // Pick a header and payload whose lengths are not multiples of 3, so padding appears.
    let mut header = ec.es256_header();
    while !URL_SAFE.encode(serde_json::to_vec(&header).unwrap()).ends_with('=') {
        header["typ"] = json!(format!("{}x", header["typ"].as_str().unwrap()));
    }
    let header_padded = URL_SAFE.encode(serde_json::to_vec(&header).unwrap());
    assert!(header_padded.ends_with('='));
    let mut payload = claims();
    while !URL_SAFE.encode(serde_json::to_vec(&payload).unwrap()).ends_with('=') {
        payload["pad"] = json!(format!("{}x", payload["pad"].as_str().unwrap_or("")));
    }
    let payload_padded = URL_SAFE.encode(serde_json::to_vec(&payload).unwrap());
    assert!(payload_padded.ends_with('='));

    // Padded header, validly signed over the padded form.
    let input = format!("{header_padded}.{}", b64u_json(&payload));
    let t = format!("{input}.{}", b64u(&ec.sign_raw(input.as_bytes())));
    assert_malformed(verify(&t, &keys, all_algs()), "padded header");

    // Padded payload, validly signed over the padded form: the signature verifies, the payload
    // does not decode.
    let t = ec.token(&header, &payload_padded);
    assert_malformed(verify(&t, &keys, all_algs()), "padded payload");

    // Padded signature (ES256: 64 bytes → 86 chars + "==").
    let t = ec.token(&header, &b64u_json(&payload));
    let sig = unb64u(t.split('.').nth(2).unwrap());
    let padded_sig = URL_SAFE.encode(&sig);
    assert!(padded_sig.ends_with("=="));
    assert_malformed(verify(&with_signature(&t, &padded_sig), &keys, all_algs()), "padded signature");
    // Sanity: unpadded, it verifies.
    assert!(verify(&t, &keys, all_algs()).is_ok());
}

#[test]
fn non_canonical_base64url_trailing_bits_are_malformed() {
    // 64-byte signature → 86 chars; the last char carries 2 unused bits. Flipping them gives a
    // different string for the same bytes: strict decoders refuse it.
    let ec = RawEc::new("k");
    let t = ec.token(&ec.es256_header(), &b64u_json(&claims()));
    let sig = t.split('.').nth(2).unwrap();
    let last = sig.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.find(last).unwrap();
    let tweaked = alphabet.chars().nth(idx ^ 1).unwrap();
    let s = with_signature(&t, &format!("{}{tweaked}", &sig[..sig.len() - 1]));
    assert_malformed(verify(&s, &ec.keyset(), all_algs()), "non-canonical trailing bits");
}

#[test]
fn oversized_token_is_malformed_even_when_validly_signed() {
    let ec = RawEc::new("k");
    let keys = ec.keyset();
    let big = json!({"sub": "x", "blob": "a".repeat(MAX_TOKEN_BYTES)});
    let t = ec.token(&ec.es256_header(), &b64u_json(&big));
    assert!(t.len() > MAX_TOKEN_BYTES);
    match verify(&t, &keys, all_algs()) {
        Err(JoseError::Malformed(m)) => assert!(m.contains("large"), "{m}"),
        other => panic!("expected Malformed, got {other:?}"),
    }
    assert!(matches!(decode_header(&t), Err(JoseError::Malformed(_))));
    // A megabyte of garbage is refused before anything else.
    assert_malformed(verify(&"A".repeat(1 << 20), &keys, all_algs()), "1 MiB");
}

#[test]
fn token_of_exactly_max_token_bytes_is_accepted_and_one_more_is_not() {
    let ec = RawEc::new("k");
    let keys = ec.keyset();
    let h = b64u_json(&ec.es256_header());
    // ES256 signature: 86 chars. Find a payload whose encoded length fills the token exactly.
    let target_payload_b64 = MAX_TOKEN_BYTES - h.len() - 2 - 86;
    let mut exact = None;
    for n in target_payload_b64.saturating_sub(64) * 3 / 4..target_payload_b64 * 3 / 4 + 8 {
        let p = b64u_json(&json!({"pad": "b".repeat(n)}));
        if p.len() == target_payload_b64 {
            exact = Some(p);
            break;
        }
    }
    let p = exact.expect("a payload of the exact length");
    let t = ec.token(&ec.es256_header(), &p);
    assert_eq!(t.len(), MAX_TOKEN_BYTES);
    assert!(verify(&t, &keys, all_algs()).is_ok());

    // A slightly longer header (a longer typ) tips it over.
    let header = ec.es256_header();
    let mut over = None;
    for extra in 0..8 {
        let mut hh = header.clone();
        hh["typ"] = json!(format!("JWT{}", "x".repeat(extra + 1)));
        let t = ec.token(&hh, &p);
        if t.len() > MAX_TOKEN_BYTES {
            over = Some(t);
            break;
        }
    }
    assert_malformed(verify(&over.unwrap(), &keys, all_algs()), "one over");
}

#[test]
fn header_that_is_not_json_is_malformed() {
    let ec = RawEc::new("k");
    let payload = b64u_json(&claims());
    for raw in [
        &b"not json"[..],
        b"",
        b"{",
        b"{\"alg\":\"ES256\"",
        b"{\"alg\":\"ES256\"} trailing",
        b"\xff\xfe",
        b"null",
        b"\"ES256\"",
        b"42",
        // A JSON array is not a JOSE header, even though a derived serde struct would accept
        // it positionally (alg, kid, typ, crit).
        b"[\"ES256\"]",
        b"[\"ES256\",\"k\",\"JWT\"]",
        b" [\"ES256\",\"k\"]",
    ] {
        // (An empty header segment is refused by the splitter before anything is decoded.)
        let input = format!("{}.{payload}", b64u(raw));
        let t = format!("{input}.{}", b64u(&ec.sign_raw(input.as_bytes())));
        assert_malformed(verify(&t, &ec.keyset(), all_algs()), &format!("{raw:?}"));
    }
}

#[test]
fn header_json_without_alg_is_malformed() {
    let ec = RawEc::new("k");
    let payload = b64u_json(&claims());
    for header in [
        json!({}),
        json!({"kid": "k"}),
        json!({"typ": "JWT", "kid": "k"}),
        json!({"ALG": "ES256", "kid": "k"}),
        json!({"alg": null, "kid": "k"}),
        json!({"alg": 7, "kid": "k"}),
        json!({"alg": ["ES256"], "kid": "k"}),
        json!({"alg": "ES256", "kid": 7}),
    ] {
        let t = ec.token(&header, &payload);
        assert_malformed(verify(&t, &ec.keyset(), all_algs()), &header.to_string());
    }
}

#[test]
fn header_with_duplicate_alg_is_malformed() {
    // {"alg":"HS256","alg":"ES256"}: parsers disagreeing on which one wins is how confusion starts.
    let ec = RawEc::new("k");
    for raw in [
        r#"{"alg":"HS256","alg":"ES256","kid":"k"}"#,
        r#"{"alg":"ES256","alg":"ES256","kid":"k"}"#,
        r#"{"alg":"ES256","kid":"k","kid":"other"}"#,
    ] {
        let input = format!("{}.{}", b64u(raw.as_bytes()), b64u_json(&claims()));
        let t = format!("{input}.{}", b64u(&ec.sign_raw(input.as_bytes())));
        assert_malformed(verify(&t, &ec.keyset(), all_algs()), raw);
    }
}

#[test]
fn decode_header_reads_without_verifying() {
    let key = SigningKey::generate_es256().unwrap();
    let t = key.sign("client-authentication+jwt", &claims()).unwrap();
    let h = decode_header(&t).unwrap();
    assert_eq!(h.alg, "ES256");
    assert_eq!(h.kid.as_deref(), Some(key.kid()));
    assert_eq!(h.typ.as_deref(), Some("client-authentication+jwt"));
    // Also for tokens with bad signatures: it does not verify anything.
    assert!(decode_header(&with_signature(&t, "AAAA")).is_ok());
}

#[test]
fn invalid_curve_point_never_verifies() {
    // A JWK whose x/y is not on P-256: either refused at load or never verifies.
    let ec = RawEc::new("k");
    let mut y = unb64u(&ec.y());
    y[31] ^= 1;
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": ec.x(), "y": b64u(&y), "kid": "k"});
    let t = ec.token(&ec.es256_header(), &b64u_json(&claims()));
    if let Ok(keys) = KeySet::from_jwks_value(&json!({"keys": [jwk]})) {
        assert!(verify(&t, &keys, all_algs()).is_err());
    }
}

