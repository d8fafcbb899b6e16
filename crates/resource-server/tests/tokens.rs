//! Access tokens at the resource server: single use (NVR-05, NVX-01..04), hostile and wrong
//! tokens (NVE-02, NVX-19, NVX-20), and store outages (503 `UNAVAILABLE`, never 500).

mod common;

use common::*;
use numbat_core::ACCESS_TOKEN_TYP;
use numbat_jose::{b64_encode, Alg, SigningKey};
use numbat_store::testing::OutageStore;
use numbat_store::{MemoryStore, SharedStore};
use serde_json::json;
use std::sync::Arc;

const INVALID_TOKEN: &str = "Bearer error=\"invalid_token\"";

async fn expect_401(resp: reqwest::Response) {
    let (h, _) = expect_error(resp, 401, UNAUTHENTICATED).await;
    assert_eq!(www_authenticate(&h), Some(INVALID_TOKEN));
}

// ------------------------------------------------------------------ single use (NVR-05)

#[tokio::test]
async fn nvx_01_same_token_twice_on_verify() {
    let rs = start().await;
    let t = rs.mint(&Tok::verify()).await;
    expect_verified(rs.verify_number(&t, MSISDN).await, true).await;
    expect_401(rs.verify_number(&t, MSISDN).await).await;
}

#[tokio::test]
async fn nvx_02_same_token_twice_on_share() {
    let rs = start().await;
    let t = rs.mint(&Tok::share()).await;
    expect_ok(rs.share(&t).await).await;
    expect_401(rs.share(&t).await).await;
}

#[tokio::test]
async fn nvx_03_both_scopes_still_single_use() {
    let rs = start().await;
    let t = rs.mint(&Tok::both()).await;
    expect_verified(rs.verify_number(&t, MSISDN).await, true).await;
    expect_401(rs.share(&t).await).await;
    // And the other way round.
    let t = rs.mint(&Tok::both()).await;
    expect_ok(rs.share(&t).await).await;
    expect_401(rs.verify_number(&t, MSISDN).await).await;
}

#[tokio::test]
async fn nvr_05_token_spent_whatever_the_outcome() {
    let rs = start().await;
    // A 400 (bad body) after a valid token still spends it.
    let t = rs.mint(&Tok::verify()).await;
    expect_error(rs.verify(&t, json!({})).await, 400, INVALID_ARGUMENT).await;
    expect_401(rs.verify_number(&t, MSISDN).await).await;
    // So does a 403 (scope missing on this endpoint), even for the endpoint it was meant for.
    let t = rs.mint(&Tok::share()).await;
    expect_error(rs.verify_number(&t, MSISDN).await, 403, PERMISSION_DENIED).await;
    expect_401(rs.share(&t).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nvx_04_parallel_requests_one_token_two_instances() {
    let store: SharedStore = Arc::new(MemoryStore::new());
    let rs = start_with(store.clone()).await;
    race(store, &rs).await;
}

// ------------------------------------------------------------------ hostile tokens (NVX-19)

#[tokio::test]
async fn nvx_19_basic_scheme() {
    let rs = start().await;
    let r = rs
        .http
        .post(rs.url(VERIFY))
        .basic_auth("demo-app", Some("secret"))
        .json(&json!({ "phoneNumber": MSISDN }))
        .send()
        .await
        .unwrap();
    let (h, _) = expect_error(r, 401, UNAUTHENTICATED).await;
    assert_eq!(www_authenticate(&h), Some("Bearer"));
}

#[tokio::test]
async fn nvx_19_bearer_empty_or_malformed() {
    let rs = start().await;
    let t = rs.mint(&Tok::verify()).await;
    for auth in ["Bearer", "Bearer ", "Bearer  ", "Bearer a b", &format!("Bearer {t} x"), &format!("Token {t}")] {
        let r = rs.http.post(rs.url(VERIFY)).header("authorization", auth).json(&json!({ "phoneNumber": MSISDN }));
        expect_error(r.send().await.unwrap(), 401, UNAUTHENTICATED).await;
    }
    // Two Authorization headers are ambiguous.
    let r = rs
        .http
        .post(rs.url(VERIFY))
        .header("authorization", format!("Bearer {t}"))
        .header("authorization", format!("Bearer {t}"))
        .json(&json!({ "phoneNumber": MSISDN }));
    expect_401(r.send().await.unwrap()).await;
    // The token was never accepted, so it is still good; the scheme is case-insensitive.
    let r = rs
        .http
        .post(rs.url(VERIFY))
        .header("authorization", format!("bEaReR {t}"))
        .json(&json!({ "phoneNumber": MSISDN }));
    expect_verified_plain(r.send().await.unwrap()).await;
}

async fn expect_verified_plain(r: reqwest::Response) {
    let (_, body) = expect_ok(r).await;
    assert_eq!(body, json!({ "devicePhoneNumberVerified": true }));
}

#[tokio::test]
async fn nvx_19_unknown_signing_key() {
    let rs = start().await;
    let claims = rs.claims(&Tok::verify()).await;
    let stranger = SigningKey::generate_es256().unwrap();
    expect_401(rs.verify_number(&stranger.sign(ACCESS_TOKEN_TYP, &claims).unwrap(), MSISDN).await).await;
    // A stranger's key claiming the published key's kid.
    let impostor = SigningKey::from_pkcs8(rs.signer().kid().to_owned(), Alg::ES256, stranger.pkcs8_der()).unwrap();
    expect_401(rs.verify_number(&impostor.sign(ACCESS_TOKEN_TYP, &claims).unwrap(), MSISDN).await).await;
}

#[tokio::test]
async fn nvx_19_alg_none() {
    let rs = start().await;
    let claims = rs.claims(&Tok::verify()).await;
    let header = b64_encode(&serde_json::to_vec(&json!({ "alg": "none", "typ": "at+jwt" })).unwrap());
    let payload = b64_encode(&serde_json::to_vec(&claims).unwrap());
    for token in [format!("{header}.{payload}."), format!("{header}.{payload}.c2ln")] {
        expect_error(rs.verify_number(&token, MSISDN).await, 401, UNAUTHENTICATED).await;
    }
}

#[tokio::test]
async fn nvx_19_hs256_with_public_key_as_secret() {
    let rs = start().await;
    let claims = rs.claims(&Tok::verify()).await;
    let jwk = rs.signer().public_jwk();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some(ACCESS_TOKEN_TYP.into());
    header.kid = jwk.kid.clone();
    let secrets = [
        serde_json::to_vec(&rs.ring.jwks()).unwrap(),
        serde_json::to_vec(&jwk).unwrap(),
        numbat_jose::b64_decode(jwk.x.as_deref().unwrap()).unwrap(),
    ];
    for secret in secrets {
        let token = jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(&secret)).unwrap();
        expect_401(rs.verify_number(&token, MSISDN).await).await;
    }
}

#[tokio::test]
async fn nvx_19_id_token_typ_jwt() {
    let rs = start().await;
    for typ in ["JWT", "jwt", "dpop+jwt", "at+jwt2"] {
        let t = rs.mint(&Tok { typ, ..Tok::verify() }).await;
        expect_401(rs.verify_number(&t, MSISDN).await).await;
    }
    // No typ at all.
    let claims = rs.claims(&Tok::verify()).await;
    let header = b64_encode(&serde_json::to_vec(&json!({ "alg": "ES256", "kid": rs.signer().kid() })).unwrap());
    let payload = b64_encode(&serde_json::to_vec(&claims).unwrap());
    let signed = rs.signer().sign(ACCESS_TOKEN_TYP, &claims).unwrap();
    let sig = signed.rsplit('.').next().unwrap();
    expect_401(rs.verify_number(&format!("{header}.{payload}.{sig}"), MSISDN).await).await;
}

#[tokio::test]
async fn nvx_19_wrong_audience() {
    let rs = start().await;
    let t = rs.mint(&Tok { aud: "https://someone-else.test".into(), ..Tok::verify() }).await;
    expect_401(rs.verify_number(&t, MSISDN).await).await;
}

#[tokio::test]
async fn nve_02_wrong_issuer() {
    let rs = start().await;
    let t = rs.mint(&Tok { iss: "https://evil.test".into(), ..Tok::verify() }).await;
    expect_401(rs.verify_number(&t, MSISDN).await).await;
}

#[tokio::test]
async fn nve_02_expired_by_one_second() {
    let rs = start().await;
    let t = rs.mint(&Tok { exp_in: 10, ..Tok::verify() }).await;
    rs.clock.advance(10);
    expect_401(rs.verify_number(&t, MSISDN).await).await;
}

#[tokio::test]
async fn nve_02_issued_in_the_future() {
    let rs = start().await;
    let t = rs.mint(&Tok { iat_offset: 120, exp_in: 400, ..Tok::verify() }).await;
    expect_401(rs.verify_number(&t, MSISDN).await).await;
    // Within the tolerated skew it passes.
    let t = rs.mint(&Tok { iat_offset: 30, ..Tok::verify() }).await;
    expect_verified(rs.verify_number(&t, MSISDN).await, true).await;
}

#[tokio::test]
async fn nve_02_record_missing() {
    // Revoked, never issued by this AS, or expired from the store.
    let rs = start().await;
    let t = rs.mint(&Tok { store_record: false, ..Tok::verify() }).await;
    expect_401(rs.verify_number(&t, MSISDN).await).await;
}

#[tokio::test]
async fn nve_02_record_of_another_client() {
    let rs = start().await;
    let t = rs.mint(&Tok { record_client_id: Some("other-app".into()), ..Tok::verify() }).await;
    expect_401(rs.verify_number(&t, MSISDN).await).await;
}

#[tokio::test]
async fn nve_02_tampered_claims() {
    let rs = start().await;
    let t = rs.mint(&Tok::share()).await;
    let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
    let mut claims: serde_json::Value = serde_json::from_slice(&numbat_jose::b64_decode(&parts[1]).unwrap()).unwrap();
    claims["scope"] = json!("number-verification:verify");
    parts[1] = b64_encode(&serde_json::to_vec(&claims).unwrap());
    expect_401(rs.verify_number(&parts.join("."), MSISDN).await).await;
}

#[tokio::test]
async fn nvx_20_dpop_bound_token_as_bearer() {
    let rs = start().await;
    let extra = json!({ "cnf": { "jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" } });
    let t = rs.mint(&Tok { extra: Some(extra), ..Tok::verify() }).await;
    expect_401(rs.verify_number(&t, MSISDN).await).await;
    // The DPoP scheme is not supported here: no bearer credentials.
    let r = rs
        .http
        .post(rs.url(VERIFY))
        .header("authorization", format!("DPoP {t}"))
        .json(&json!({ "phoneNumber": MSISDN }));
    let (h, _) = expect_error(r.send().await.unwrap(), 401, UNAUTHENTICATED).await;
    assert_eq!(www_authenticate(&h), Some("Bearer"));
}

// ------------------------------------------------------------------ store outage → 503

#[tokio::test]
async fn store_down_is_503_unavailable_and_spends_nothing() {
    let flaky = Arc::new(OutageStore::new());
    let rs = start_with(flaky.clone()).await;
    let t = rs.mint(&Tok::verify()).await;
    let warm = rs.mint(&Tok::share()).await;

    // Keys never fetched yet and the store is down: the JWKS cannot be read.
    flaky.set_down(true);
    let (h, _) = expect_error(rs.verify_number(&t, MSISDN).await, 503, "UNAVAILABLE").await;
    assert_eq!(correlator_of(&h), CORRELATOR);
    assert!(www_authenticate(&h).is_none());

    // Keys cached, the token record cannot be taken.
    flaky.set_down(false);
    expect_ok(rs.share(&warm).await).await;
    flaky.set_down(true);
    expect_error(rs.verify_number(&t, MSISDN).await, 503, "UNAVAILABLE").await;
    expect_error(rs.share(&t).await, 503, "UNAVAILABLE").await;

    // Back up: the token was never spent by the outage.
    flaky.set_down(false);
    expect_verified(rs.verify_number(&t, MSISDN).await, true).await;
}

#[tokio::test]
async fn p57_token_of_a_revoked_grant_is_refused() {
    // A token minted under a refresh-token grant lives only as long as the grant (P-57, S-10).
    let rs = start().await;
    let grant = "grant-under-test";
    rs.store.put(&numbat_store::keys::grant(grant), b"{}", std::time::Duration::from_secs(60)).await.unwrap();
    let live = rs.mint(&Tok { record_grant: Some(grant.into()), ..Tok::verify() }).await;
    expect_verified(rs.verify_number(&live, MSISDN).await, true).await;
    rs.store.delete(&numbat_store::keys::grant(grant)).await.unwrap();
    let revoked = rs.mint(&Tok { record_grant: Some(grant.into()), ..Tok::verify() }).await;
    expect_401(rs.verify_number(&revoked, MSISDN).await).await;
}
