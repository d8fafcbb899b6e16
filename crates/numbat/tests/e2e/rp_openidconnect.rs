//! numbat against a real relying party: the `openidconnect` crate (v4) discovers the provider,
//! builds the authorization URL with PKCE, exchanges the code (private_key_jwt added by hand:
//! the crate has no such client authentication) and verifies the ID token itself.


use crate::common::*;
use openidconnect::core::{
    CoreAuthPrompt, CoreClient, CoreIdTokenVerifier, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType,
};
use openidconnect::{
    AccessTokenHash, AuthType, AuthenticationFlow, AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::json;
use std::net::IpAddr;

both_backends! {
    rp_openidconnect_discovers_authorizes_and_verifies_the_id_token => full_round;
    issue4_rp_openidconnect_signed_request_object_and_ps256_eddsa_id_tokens => algorithms_and_request_object;
}

async fn discover(s: &TestServer, http: &openidconnect::reqwest::Client) -> CoreProviderMetadata {
    // discover_async also checks that `issuer` equals the URL it was fetched for (S-11).
    CoreProviderMetadata::discover_async(IssuerUrl::new(s.base.clone()).unwrap(), http)
        .await
        .unwrap_or_else(|e| panic!("openidconnect could not discover numbat: {e:?}"))
}

fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The authorize URL the RP builds, followed from `from`: returns the redirect's parameters.
async fn follow_as_device(from: IpAddr, url: &url::Url) -> AuthOutcome {
    let r = device(from).get(url.as_str()).send().await.expect("GET authorize URL");
    read_outcome(r).await
}

async fn full_round(b: Backend) {
    let s = start(b).await;
    let http = rp_http();
    let meta = discover(&s, &http).await;
    assert_eq!(meta.issuer().as_str(), s.base);

    let client = CoreClient::from_provider_metadata(meta, ClientId::new(CLIENT_ID.into()), None)
        .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.into()).unwrap())
        .set_auth_type(AuthType::RequestBody);

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new(PURPOSE.into()))
        .add_scope(Scope::new("number-verification:verify".into()))
        .add_prompt(CoreAuthPrompt::None)
        .set_pkce_challenge(challenge)
        .url();
    assert!(auth_url.as_str().starts_with(&s.url("/authorize")), "{auth_url}");

    let o = follow_as_device(DEVICE_1, &auth_url).await;
    assert_eq!(o.status, 302, "{}", o.body);
    assert_eq!(o.get("error"), None, "{:?}", o.location);
    assert_eq!(o.get("state"), Some(csrf.secret().as_str()), "CSRF state echoed");
    assert_eq!(o.get("iss"), Some(s.base.as_str()), "RFC 9207 iss");
    let code = o.get("code").expect("code").to_owned();

    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint known from discovery")
        .set_pkce_verifier(verifier)
        .add_extra_param("client_assertion_type", ASSERTION_TYPE)
        .add_extra_param("client_assertion", s.assertion())
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("code exchange failed: {e:?}"));
    assert!(token.refresh_token().is_none(), "NVR-03");
    let expires = token.expires_in().expect("expires_in");
    assert!(expires.as_secs() <= 300 && expires.as_secs() > 0, "NVR-04 {expires:?}");

    let verifier: CoreIdTokenVerifier =
        client.id_token_verifier().set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let id_token = token.id_token().expect("an ID token for openid");
    let claims = id_token.claims(&verifier, &nonce).unwrap_or_else(|e| panic!("ID token rejected by the RP: {e:?}"));
    assert_eq!(claims.issuer().as_str(), s.base);
    assert!(claims.audiences().iter().any(|a| a.as_str() == CLIENT_ID));
    assert_eq!(claims.nonce().map(|n| n.secret().as_str()), Some(nonce.secret().as_str()));

    // at_hash, computed by the RP from the access token, the alg and the key it verified with.
    let expected = AccessTokenHash::from_token(
        token.access_token(),
        id_token.signing_alg().expect("signing alg"),
        id_token.signing_key(&verifier).expect("signing key"),
    )
    .expect("at_hash computable");
    assert_eq!(claims.access_token_hash(), Some(&expected), "at_hash");

    let amr: Vec<String> = claims.auth_method_refs().expect("amr").iter().map(|a| a.as_str().to_owned()).collect();
    assert_eq!(amr, vec!["nba".to_owned()], "P-19");
    let sub = claims.subject().as_str();
    assert_ne!(sub, MSISDN_1, "P-84");
    assert!(!sub.contains("600000001"), "P-84: sub {sub} contains the number");

    // A wrong nonce is caught by the RP's own verification.
    assert!(id_token.claims(&verifier, &Nonce::new("other".into())).is_err());

    // The access token works at the resource server, once.
    let at = token.access_token().secret();
    let (st, v) = s.verify(at, &json!({ "phoneNumber": MSISDN_1 })).await;
    assert_eq!((st, v["devicePhoneNumberVerified"].as_bool()), (200, Some(true)), "{v}");
    let (st, v) = s.verify(at, &json!({ "phoneNumber": MSISDN_1 })).await;
    assert_unauthenticated(st, &v);
    s.stop().await;
}

/// The RP's flow from an unbound device ends in `login_required` at its redirect URI.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rp_openidconnect_unbound_device_gets_login_required() {
    let s = start(Backend::Memory).await;
    let http = rp_http();
    let client = CoreClient::from_provider_metadata(discover(&s, &http).await, ClientId::new(CLIENT_ID.into()), None)
        .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.into()).unwrap());
    let (challenge, _verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, _nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new(PURPOSE.into()))
        .add_scope(Scope::new("number-verification:verify".into()))
        .set_pkce_challenge(challenge)
        .url();
    let o = follow_as_device(DEVICE_UNBOUND, &auth_url).await;
    assert_eq!(o.status, 302);
    assert_eq!(o.get("error"), Some("login_required"), "{:?}", o.location);
    assert_eq!(o.get("state"), Some(csrf.secret().as_str()));
    assert_eq!(o.get("iss"), Some(s.base.as_str()));
    assert_eq!(o.get("code"), None);
    s.stop().await;
}

/// Without PKCE (an RP that forgets it), numbat refuses (P-33).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rp_openidconnect_without_pkce_is_invalid_request() {
    let s = start(Backend::Memory).await;
    let http = rp_http();
    let client = CoreClient::from_provider_metadata(discover(&s, &http).await, ClientId::new(CLIENT_ID.into()), None)
        .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.into()).unwrap());
    let (auth_url, csrf, _nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new(PURPOSE.into()))
        .add_scope(Scope::new("number-verification:verify".into()))
        .url();
    let o = follow_as_device(DEVICE_1, &auth_url).await;
    assert_eq!((o.status, o.get("error")), (302, Some("invalid_request")), "{:?}", o.location);
    assert_eq!(o.get("state"), Some(csrf.secret().as_str()));
    s.stop().await;
}

/// A client like demo-app (same key) that registered `alg` for its ID tokens.
fn client_with_alg(id: &str, alg: &str) -> impl FnOnce(&mut numbat::Config) + Send + 'static {
    let (id, alg) = (id.to_owned(), alg.to_owned());
    move |c| {
        let mut other = c.clients[0].clone();
        other.client_id = id;
        other.id_token_signed_response_alg = alg;
        c.clients.push(other);
    }
}

/// Issue 4 items 1, 3, 8: the RP's code flow with a signed request object (P-23..P-26) for
/// clients registering ES256, RS256, PS256 and EdDSA ID tokens; the `openidconnect` crate
/// verifies each ID token (signature with the published JWKS, `at_hash` with the algorithm's
/// hash: SHA-512 for EdDSA).
async fn algorithms_and_request_object(b: Backend) {
    let rs = client_with_alg("rs-app", "RS256");
    let ps = client_with_alg("ps-app", "PS256");
    let ed = client_with_alg("ed-app", "EdDSA");
    let s = start_spec(Spec::new(b).tweak(move |c| {
        rs(c);
        ps(c);
        ed(c);
    }))
    .await;
    let http = rp_http();
    let meta = discover(&s, &http).await;
    let advertised: Vec<String> = meta
        .id_token_signing_alg_values_supported()
        .iter()
        .map(|a| serde_json::to_value(a).unwrap().as_str().unwrap().to_owned())
        .collect();
    assert_eq!(advertised, vec!["ES256", "RS256", "PS256", "EdDSA"], "issue 4 item 1");
    let cases = [
        (CLIENT_ID, CoreJwsSigningAlgorithm::EcdsaP256Sha256, "ES256"),
        ("rs-app", CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, "RS256"),
        ("ps-app", CoreJwsSigningAlgorithm::RsaSsaPssSha256, "PS256"),
        ("ed-app", CoreJwsSigningAlgorithm::EdDsa, "EdDSA"),
    ];
    for (client_id, alg, name) in cases {
        signed_request_round(&s, &http, meta.clone(), client_id, alg, name).await;
    }
    s.stop().await;
}

async fn signed_request_round(
    s: &TestServer,
    http: &openidconnect::reqwest::Client,
    meta: CoreProviderMetadata,
    client_id: &str,
    alg: CoreJwsSigningAlgorithm,
    name: &str,
) {
    let client = CoreClient::from_provider_metadata(meta, ClientId::new(client_id.into()), None)
        .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.into()).unwrap())
        .set_auth_type(AuthType::RequestBody);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new(PURPOSE.into()))
        .add_scope(Scope::new("number-verification:verify".into()))
        .add_prompt(CoreAuthPrompt::None)
        .set_pkce_challenge(challenge)
        .url();
    // The request object carries every parameter the RP built (P-26); the query keeps only the
    // four P-24 asks for, plus `request`.
    let now = s.now();
    let mut claims = json!({"iss": client_id, "aud": s.url("/authorize"), "iat": now, "exp": now + 60,
        "jti": random_b64(12)});
    for (k, v) in auth_url.query_pairs() {
        claims[k.as_ref()] = json!(v);
    }
    let jwt = sign_client_jwt(&claims);
    let mut url = auth_url.clone();
    url.set_query(None);
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in auth_url.query_pairs() {
            if ["scope", "response_type", "client_id", "redirect_uri"].contains(&k.as_ref()) {
                q.append_pair(&k, &v);
            }
        }
        q.append_pair("request", &jwt);
    }
    let o = follow_as_device(DEVICE_1, &url).await;
    assert_eq!((o.status, o.get("error")), (302, None), "{name}: {:?} {}", o.location, o.body);
    assert_eq!(o.get("state"), Some(csrf.secret().as_str()), "{name}: state from the request object");
    let code = o.get("code").expect("code").to_owned();

    let mut assertion = s.assertion_claims();
    assertion["iss"] = json!(client_id);
    assertion["sub"] = json!(client_id);
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint")
        .set_pkce_verifier(verifier)
        .add_extra_param("client_assertion_type", ASSERTION_TYPE)
        .add_extra_param("client_assertion", sign_client_jwt(&assertion))
        .request_async(http)
        .await
        .unwrap_or_else(|e| panic!("{name}: code exchange failed: {e:?}"));
    let id_token = token.id_token().expect("an ID token");
    assert_eq!(id_token.signing_alg().expect("alg"), &alg, "{name}: the client's registered algorithm");
    let verifier: CoreIdTokenVerifier = client.id_token_verifier().set_allowed_algs(vec![alg.clone()]);
    let claims = id_token.claims(&verifier, &nonce).unwrap_or_else(|e| panic!("{name}: ID token rejected: {e:?}"));
    assert!(claims.audiences().iter().any(|a| a.as_str() == client_id));
    let expected = AccessTokenHash::from_token(
        token.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).expect("signing key"),
    )
    .expect("at_hash computable");
    assert_eq!(claims.access_token_hash(), Some(&expected), "{name}: at_hash");
    // Access tokens stay ES256 whatever the ID token uses.
    assert_eq!(jwt_part(token.access_token().secret(), 0)["alg"], "ES256", "{name}");
}
