//! Split deployment (design.md "More instances"): an authorization server and resource servers
//! as separate processes (here: separate servers in one test) sharing one Redis namespace. Also:
//! a single component refuses to start on the in-process memory store.


use crate::common::*;
use numbat::server::StartError;
use numbat::Component;
use serde_json::json;

async fn split(n: usize) -> (TestServer, Vec<TestServer>) {
    split_on(RedisNamespace::new(), n).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_token_from_authorization_verifies_at_resource() {
    let (authz, rs) = split(1).await;
    let r = &rs[0];

    let t = authz.access_token(DEVICE_1, SCOPE_VERIFY).await;
    let (st, v) = verify_at(&r.http, &r.base, &t, &json!({ "phoneNumber": MSISDN_1 })).await;
    assert_eq!((st, v["devicePhoneNumberVerified"].as_bool()), (200, Some(true)), "{v}");
    // NVX-01 across processes: spent.
    let (st, v) = verify_at(&r.http, &r.base, &t, &json!({ "phoneNumber": MSISDN_1 })).await;
    assert_unauthenticated(st, &v);

    let t = authz.access_token(DEVICE_2, SCOPE_VERIFY).await;
    let (st, v) = verify_at(&r.http, &r.base, &t, &json!({ "phoneNumber": MSISDN_1 })).await;
    assert_eq!((st, v["devicePhoneNumberVerified"].as_bool()), (200, Some(false)), "{v}");

    let t = authz.access_token(DEVICE_1, SCOPE_SHARE).await;
    let (st, v) = share_at(&r.http, &r.base, &t).await;
    assert_eq!((st, v), (200, json!({ "devicePhoneNumber": MSISDN_1 })));

    // S-02 across processes: a replayed code revokes the token the resource server would accept.
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = authz.code_for(DEVICE_1, &req).await;
    let first = authz.redeem(&code, &req.verifier).await;
    assert_eq!(first.status, 200);
    assert_eq!(authz.redeem(&code, &req.verifier).await.error(), Some("invalid_grant"));
    let (st, v) = verify_at(&r.http, &r.base, first.access_token(), &json!({ "phoneNumber": MSISDN_1 })).await;
    assert_unauthenticated(st, &v);

    // Each process serves only its own part.
    let res = r.http.get(r.url("/.well-known/openid-configuration")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 404, "the resource server is not an authorization server");
    let (st, _) =
        verify_at(&authz.http, &authz.base, &authz.access_token(DEVICE_1, SCOPE_VERIFY).await, &json!({})).await;
    assert_eq!(st, 404, "the authorization server does not serve Number Verification");
    for s in [&authz, r] {
        assert_eq!(s.http.get(s.url("/health")).send().await.unwrap().status().as_u16(), 200);
        assert_eq!(s.http.get(s.url("/ready")).send().await.unwrap().status().as_u16(), 200);
    }
    authz.stop().await;
    for r in rs {
        r.stop().await;
    }
}

/// NVX-04: two resource-server instances, 100 parallel requests with one token: exactly one 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nvx_04_two_instances_hundred_parallel_requests_one_200() {
    let (authz, rs) = split(2).await;
    let t = authz.access_token(DEVICE_1, SCOPE_BOTH).await;
    let body = json!({ "phoneNumber": MSISDN_1 });
    let calls = (0..100).map(|i| {
        let r = &rs[i % 2];
        let (t, body) = (t.clone(), body.clone());
        async move {
            if i % 3 == 0 {
                share_at(&r.http, &r.base, &t).await
            } else {
                verify_at(&r.http, &r.base, &t, &body).await
            }
        }
    });
    let results = futures_util::future::join_all(calls).await;
    let ok = results.iter().filter(|(st, _)| *st == 200).count();
    let unauth = results.iter().filter(|(st, v)| *st == 401 && v["code"] == "UNAUTHENTICATED").count();
    assert_eq!((ok, unauth), (1, 99), "{results:?}");
    authz.stop().await;
    for r in rs {
        r.stop().await;
    }
}

/// A token minted by the authorization server is rejected by the split resource server after
/// 300 s of the resource server's own clock (NVX-05 across processes).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nvx_05_split_resource_server_rejects_after_301_s() {
    let (authz, rs) = split(1).await;
    let r = &rs[0];
    let t = authz.access_token(DEVICE_1, SCOPE_VERIFY).await;
    r.clock.advance(301);
    let (st, v) = verify_at(&r.http, &r.base, &t, &json!({ "phoneNumber": MSISDN_1 })).await;
    assert_unauthenticated(st, &v);
    authz.stop().await;
    for r in rs {
        r.stop().await;
    }
}

fn assert_refused_for_store(r: Result<TestServer, StartError>, what: &str) {
    match r {
        Ok(_) => panic!("{what} started on the memory store"),
        Err(StartError::Config(e)) => assert_eq!(e.key, "store.url", "{what}: {e}"),
        Err(e) => panic!("{what}: refused for another reason: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_resource_component_with_memory_store_refuses_to_start() {
    let r = try_start(Spec::new(Backend::Memory).component(Component::Resource)).await;
    assert_refused_for_store(r, "Component::Resource");
    let r = try_start(Spec::new(Backend::Memory).component(Component::Authorization)).await;
    assert_refused_for_store(r, "Component::Authorization");
}

/// A resource server configured for another issuer rejects the tokens (iss/aud checks).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_resource_server_checks_the_issuer() {
    let ns = RedisNamespace::new();
    let authz = start_spec(Spec::new(Backend::Redis).component(Component::Authorization).namespace(ns.clone())).await;
    // Left at its own URL as issuer: the AS's tokens are not for it.
    let r = start_spec(Spec::new(Backend::Redis).component(Component::Resource).namespace(ns.clone())).await;
    let t = authz.access_token(DEVICE_1, SCOPE_VERIFY).await;
    let (st, v) = verify_at(&r.http, &r.base, &t, &json!({ "phoneNumber": MSISDN_1 })).await;
    assert_unauthenticated(st, &v);
    authz.stop().await;
    r.stop().await;
}

/// design.md "More instances": two authorization servers starting at the same time on an empty
/// namespace agree on one set of signing keys; tokens of either verify at one resource server,
/// and a code issued by one is redeemable (once) at the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_two_authorization_servers_share_keys_and_codes() {
    let ns = RedisNamespace::new();
    let spec = || Spec::new(Backend::Redis).component(Component::Authorization).namespace(ns.clone());
    let (a, b) = tokio::join!(start_spec(spec()), start_spec(spec()));
    let jwks = |s: &TestServer| {
        let (http, url) = (s.http.clone(), s.url("/jwks"));
        async move { http.get(url).send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    assert_eq!(jwks(&a).await, jwks(&b).await, "both instances publish the same keys");

    // Both issue with the issuer of the deployment: give the RS the issuer of `a` and use a
    // second RS for `b` (each instance here has its own URL as issuer).
    let (ia, ib) = (a.base.clone(), b.base.clone());
    let ra = start_spec(
        Spec::new(Backend::Redis)
            .component(Component::Resource)
            .namespace(ns.clone())
            .tweak(move |c| c.server.issuer = ia),
    )
    .await;
    let rb = start_spec(
        Spec::new(Backend::Redis)
            .component(Component::Resource)
            .namespace(ns.clone())
            .tweak(move |c| c.server.issuer = ib),
    )
    .await;
    let ta = a.access_token(DEVICE_1, SCOPE_VERIFY).await;
    let tb = b.access_token(DEVICE_2, SCOPE_VERIFY).await;
    let (st, v) = verify_at(&ra.http, &ra.base, &ta, &json!({ "phoneNumber": MSISDN_1 })).await;
    assert_eq!((st, v["devicePhoneNumberVerified"].as_bool()), (200, Some(true)), "{v}");
    let (st, v) = verify_at(&rb.http, &rb.base, &tb, &json!({ "phoneNumber": MSISDN_2 })).await;
    assert_eq!((st, v["devicePhoneNumberVerified"].as_bool()), (200, Some(true)), "{v}");

    // A code from `a` redeemed at `b` (the store is shared; the assertion names b's endpoint).
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = a.code_for(DEVICE_1, &req).await;
    let r = b.redeem(&code, &req.verifier).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let again = a.redeem(&code, &req.verifier).await;
    assert_eq!((again.status, again.error()), (400, Some("invalid_grant")), "{}", again.raw);
    for s in [a, b, ra, rb] {
        s.stop().await;
    }
}
