//! numbat against a real relying party: the `openidconnect` crate (v4) discovers the provider,
//! builds the authorization URL with PKCE, exchanges the code (private_key_jwt added by hand:
//! the crate has no such client authentication) and verifies the ID token itself.

#[macro_use]
mod common;

use common::*;
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
