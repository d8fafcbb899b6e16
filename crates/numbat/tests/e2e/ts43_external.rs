//! Operator tokens validated by an operator's own entitlement server over HTTP, failing closed
//! (issue 5 item 1), and the CIBA webhook decision channel (issue 5 item 3).


use actix_web::{web, App, HttpResponse, HttpServer};
use crate::common::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// A stand-in for the operator's entitlement server, on loopback: "good" is +34600000002 once,
/// "boom" is a 500, anything else 404.
async fn entitlement_server(seen: Arc<Mutex<Vec<Value>>>) -> (String, actix_web::dev::ServerHandle) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let srv = HttpServer::new(move || {
        let seen = seen.clone();
        let hook_seen = seen.clone();
        App::new().route(
            "/validate",
            web::post().to(move |b: web::Json<Value>| {
                let seen = seen.clone();
                async move {
                    let first = {
                        let mut s = seen.lock().unwrap();
                        let first = !s.iter().any(|v| v["token"] == b["token"]);
                        s.push(b.0.clone());
                        first
                    };
                    match b["token"].as_str() {
                        Some("good") if first => HttpResponse::Ok().json(json!({"msisdn": "+34600000002"})),
                        Some("boom") => HttpResponse::InternalServerError().finish(),
                        _ => HttpResponse::NotFound().finish(),
                    }
                }
            }),
        )
        .app_data(web::Data::new(hook_seen))
        .route(
            "/webhook",
            web::post().to(|seen: web::Data<Arc<Mutex<Vec<Value>>>>, b: web::Json<Value>| async move {
                seen.lock().unwrap().push(json!({"webhook": b.0}));
                HttpResponse::NoContent().finish()
            }),
        )
    })
    .workers(1)
    .listen(l)
    .unwrap()
    .run();
    let h = srv.handle();
    tokio::spawn(srv);
    (url, h)
}

fn assertion(s: &TestServer, sub: &str) -> String {
    let now = s.now();
    sign_client_jwt(&json!({"iss": CLIENT_ID, "sub": sub, "aud": s.token_endpoint(), "iat": now, "exp": now + 60,
        "jti": random_b64(12), "scope": "dpv:FraudPreventionAndDetection number-verification:verify"}))
}

async fn jwt_bearer(s: &TestServer, sub: &str) -> TokenReply {
    s.token_raw(&[
        ("grant_type".into(), "urn:ietf:params:oauth:grant-type:jwt-bearer".into()),
        ("assertion".into(), assertion(s, sub)),
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn external_entitlement_server_validates_and_fails_closed() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (url, h) = entitlement_server(seen.clone()).await;
    let validator = format!("{url}/validate");
    let s = start_spec(Spec::new(Backend::Memory).tweak(move |c| c.ts43.validator = validator)).await;

    let t = jwt_bearer(&s, "operatortoken:good").await;
    assert_eq!(t.status, 200, "{}", t.raw);
    assert_eq!(s.verify_number(t.access_token(), MSISDN_2).await.1["devicePhoneNumberVerified"], json!(true));
    assert_eq!(seen.lock().unwrap()[0]["operation_target"], json!("VerifyPhoneNumber"));
    // Used once at the entitlement server: refused now.
    assert_eq!(jwt_bearer(&s, "operatortoken:good").await.error(), Some("invalid_grant"));
    assert_eq!(jwt_bearer(&s, "operatortoken:unknown").await.error(), Some("invalid_grant"));
    // A broken entitlement server: 503, never a subscriber.
    let t = jwt_bearer(&s, "operatortoken:boom").await;
    assert_eq!((t.status, t.error()), (503, Some("temporarily_unavailable")), "{}", t.raw);
    h.stop(true).await;
    let t = jwt_bearer(&s, "operatortoken:good").await;
    assert_eq!((t.status, t.error()), (503, Some("temporarily_unavailable")), "unreachable: {}", t.raw);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_validator_url_is_refused_at_start() {
    let r = try_start(Spec::new(Backend::Memory).tweak(|c| c.ts43.validator = "ftp://x".into())).await;
    assert!(matches!(r, Err(numbat::server::StartError::Config(ref e)) if e.key == "ts43.validator"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ciba_webhook_channel_is_asked_for_the_decision() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (url, h) = entitlement_server(seen.clone()).await;
    let hook = format!("{url}/webhook");
    let s = start_spec(Spec::new(Backend::Memory).tweak(move |c| {
        c.ciba.webhook_url = hook;
        c.ciba.consent_purposes = vec!["dpv:FraudPreventionAndDetection".into()];
    }))
    .await;
    let now = s.now();
    let a = sign_client_jwt(&json!({"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": s.url("/bc-authorize"),
        "jti": random_b64(16), "iat": now, "exp": now + 60}));
    let form = with_assertion(
        vec![
            ("scope".into(), "openid dpv:FraudPreventionAndDetection number-verification:verify".into()),
            ("login_hint".into(), "tel:+34600000002".into()),
        ],
        &a,
    );
    let r = read_token_reply(s.http.post(s.url("/bc-authorize")).form(&form).send().await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let calls = seen.lock().unwrap().clone();
    let hook_call = calls.iter().find(|v| v.get("webhook").is_some()).expect("webhook called");
    assert_eq!(hook_call["webhook"]["auth_req_id"], r.json["auth_req_id"]);
    assert_eq!(hook_call["webhook"]["purpose"], json!("dpv:FraudPreventionAndDetection"));
    assert!(!hook_call.to_string().contains("600000002"), "no MSISDN to the channel");
    h.stop(true).await;
    s.stop().await;
}
