//! Number Verification over real HTTP: the `.feature` cases NV-01..NV-22 and the derived
//! request cases NVX-10..18, NVX-23..25 (number-verification.md §8, §9), plus NVR-09 ordering.

mod common;

use common::*;
use numbat_core::Amr;
use serde_json::json;

// ---------------------------------------------------------------- phoneNumberVerify (POST /verify)

#[tokio::test]
async fn nv_01_generic_success() {
    let rs = start().await;
    let t = rs.mint(&Tok::verify()).await;
    let (h, body) = expect_ok(rs.verify_number(&t, MSISDN).await).await;
    assert_eq!(correlator_of(&h), CORRELATOR);
    assert_eq!(h.get("content-type").unwrap(), "application/json");
    assert!(body["devicePhoneNumberVerified"].is_boolean());
    assert_eq!(body.as_object().unwrap().len(), 1);
}

#[tokio::test]
async fn nv_02_phone_number_true() {
    let rs = start().await;
    let t = rs.mint(&Tok::verify()).await;
    expect_verified(rs.verify_number(&t, MSISDN).await, true).await;
}

#[tokio::test]
async fn nv_03_phone_number_false() {
    let rs = start().await;
    let t = rs.mint(&Tok::verify()).await;
    expect_verified(rs.verify_number(&t, OTHER).await, false).await;
}

#[tokio::test]
async fn nv_04_hashed_true() {
    let rs = start().await;
    let t = rs.mint(&Tok::verify()).await;
    expect_verified(rs.verify(&t, json!({ "hashedPhoneNumber": MSISDN_HASH })).await, true).await;
}

#[tokio::test]
async fn nv_05_hashed_false() {
    let rs = start().await;
    let t = rs.mint(&Tok::verify()).await;
    expect_verified(rs.verify(&t, json!({ "hashedPhoneNumber": OTHER_HASH })).await, false).await;
}

#[tokio::test]
async fn nv_06_no_request_body() {
    let rs = start().await;
    // As in the feature background: Content-Type application/json, no body.
    let t = rs.mint(&Tok::verify()).await;
    let r = rs
        .http
        .post(rs.url(VERIFY))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .header("x-correlator", CORRELATOR)
        .send()
        .await
        .unwrap();
    let (h, _) = expect_error(r, 400, INVALID_ARGUMENT).await;
    assert_eq!(correlator_of(&h), CORRELATOR);
    // Neither a body nor a Content-Type: still a missing body (400), not a media-type error.
    let t = rs.mint(&Tok::verify()).await;
    let r = rs.http.post(rs.url(VERIFY)).bearer_auth(&t).send().await.unwrap();
    expect_error(r, 400, INVALID_ARGUMENT).await;
}

#[tokio::test]
async fn nv_07_empty_object_body() {
    let rs = start().await;
    let t = rs.mint(&Tok::verify()).await;
    expect_error(rs.verify(&t, json!({})).await, 400, INVALID_ARGUMENT).await;
}

#[tokio::test]
async fn nv_08_non_existing_property() {
    let rs = start().await;
    let t = rs.mint(&Tok::verify()).await;
    expect_error(rs.verify(&t, json!({ "additional_property": "foo_value" })).await, 400, INVALID_ARGUMENT).await;
}

#[tokio::test]
async fn nv_09_both_phone_number_and_hash() {
    let rs = start().await;
    let t = rs.mint(&Tok::verify()).await;
    let body = json!({ "phoneNumber": MSISDN, "hashedPhoneNumber": MSISDN_HASH });
    expect_error(rs.verify(&t, body).await, 400, INVALID_ARGUMENT).await;
}

#[tokio::test]
async fn nv_10_no_authorization_header() {
    let rs = start().await;
    let r = rs
        .http
        .post(rs.url(VERIFY))
        .header("x-correlator", CORRELATOR)
        .json(&json!({ "phoneNumber": MSISDN }))
        .send()
        .await
        .unwrap();
    let (h, _) = expect_error(r, 401, UNAUTHENTICATED).await;
    assert_eq!(www_authenticate(&h), Some("Bearer"));
    assert_eq!(correlator_of(&h), CORRELATOR);
}

#[tokio::test]
async fn nv_11_expired_access_token() {
    let rs = start().await;
    let t = rs.mint(&Tok::verify()).await;
    rs.clock.advance(301);
    let (h, _) = expect_error(rs.verify_number(&t, MSISDN).await, 401, UNAUTHENTICATED).await;
    assert_eq!(www_authenticate(&h), Some("Bearer error=\"invalid_token\""));
}

#[tokio::test]
async fn nv_12_invalid_access_token() {
    let rs = start().await;
    let (h, _) = expect_error(rs.verify_number("not-a-jwt", MSISDN).await, 401, UNAUTHENTICATED).await;
    assert_eq!(www_authenticate(&h), Some("Bearer error=\"invalid_token\""));
    let t = rs.mint(&Tok::verify()).await;
    let mut tampered = t.clone();
    tampered.pop();
    tampered.push(if t.ends_with('A') { 'B' } else { 'A' });
    expect_error(rs.verify_number(&tampered, MSISDN).await, 401, UNAUTHENTICATED).await;
}

#[tokio::test]
async fn nv_13_token_without_verify_scope() {
    let rs = start().await;
    let t = rs.mint(&Tok::share()).await;
    expect_error(rs.verify_number(&t, MSISDN).await, 403, PERMISSION_DENIED).await;
}

#[tokio::test]
async fn nv_14_not_authenticated_by_mobile_network() {
    let rs = start().await;
    let t = rs.mint(&Tok { amr: vec![Amr::Asserted], ..Tok::verify() }).await;
    expect_error(rs.verify_number(&t, MSISDN).await, 403, NOT_MOBILE).await;
    let t = rs.mint(&Tok { amr: vec![], ..Tok::verify() }).await;
    expect_error(rs.verify_number(&t, MSISDN).await, 403, NOT_MOBILE).await;
}

#[tokio::test]
async fn nv_15_phone_number_not_schema_compliant() {
    let rs = start().await;
    let t = rs.mint(&Tok::verify()).await;
    expect_error(rs.verify_number(&t, "34600000001").await, 400, INVALID_ARGUMENT).await;
}

// ------------------------------------------------- phoneNumberShare (GET /device-phone-number)

#[tokio::test]
async fn nv_16_share_generic_success() {
    let rs = start().await;
    let t = rs.mint(&Tok::share()).await;
    let (h, body) = expect_ok(rs.share(&t).await).await;
    assert_eq!(correlator_of(&h), CORRELATOR);
    assert!(numbat_core::msisdn::is_e164(body["devicePhoneNumber"].as_str().unwrap()));
    assert_eq!(body.as_object().unwrap().len(), 1);
}

#[tokio::test]
async fn nv_17_share_returns_token_number() {
    let rs = start().await;
    let t = rs.mint(&Tok { amr: vec![Amr::Sim], ..Tok::share() }).await;
    let (_, body) = expect_ok(rs.share(&t).await).await;
    assert_eq!(body, json!({ "devicePhoneNumber": MSISDN }));
}

#[tokio::test]
async fn nv_17_share_ignores_a_body() {
    // NVB-07: a body on GET is ignored.
    let rs = start().await;
    let t = rs.mint(&Tok::share()).await;
    let r = rs.http.get(rs.url(SHARE)).bearer_auth(&t).body("garbage {").send().await.unwrap();
    let (_, body) = expect_ok(r).await;
    assert_eq!(body, json!({ "devicePhoneNumber": MSISDN }));
}

#[tokio::test]
async fn nv_18_share_no_authorization_header() {
    let rs = start().await;
    let r = rs.http.get(rs.url(SHARE)).header("x-correlator", CORRELATOR).send().await.unwrap();
    let (h, _) = expect_error(r, 401, UNAUTHENTICATED).await;
    assert_eq!(correlator_of(&h), CORRELATOR);
}

#[tokio::test]
async fn nv_19_share_expired_access_token() {
    let rs = start().await;
    let t = rs.mint(&Tok::share()).await;
    rs.clock.advance(301);
    expect_error(rs.share(&t).await, 401, UNAUTHENTICATED).await;
}

#[tokio::test]
async fn nv_20_share_invalid_access_token() {
    let rs = start().await;
    expect_error(rs.share("eyJhbGciOiJFUzI1NiJ9.e30.c2ln").await, 401, UNAUTHENTICATED).await;
}

#[tokio::test]
async fn nv_21_share_token_without_share_scope() {
    let rs = start().await;
    let t = rs.mint(&Tok::verify()).await;
    expect_error(rs.share(&t).await, 403, PERMISSION_DENIED).await;
}

#[tokio::test]
async fn nv_22_share_not_authenticated_by_mobile_network() {
    let rs = start().await;
    let t = rs.mint(&Tok { amr: vec![Amr::Asserted], ..Tok::share() }).await;
    expect_error(rs.share(&t).await, 403, NOT_MOBILE).await;
}

// ------------------------------------------------------------------ derived request cases (NVX)

#[tokio::test]
async fn nvx_10_uppercase_hash_true() {
    let rs = start().await;
    let t = rs.mint(&Tok::verify()).await;
    let body = json!({ "hashedPhoneNumber": MSISDN_HASH.to_ascii_uppercase() });
    expect_verified(rs.verify(&t, body).await, true).await;
}

#[tokio::test]
async fn nvx_11_hash_without_plus_false() {
    let rs = start().await;
    let t = rs.mint(&Tok { record_msisdn: Some("+123456789".into()), ..Tok::verify() }).await;
    let no_plus = "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225";
    expect_verified(rs.verify(&t, json!({ "hashedPhoneNumber": no_plus })).await, false).await;
}

#[tokio::test]
async fn nvx_12_bad_hashes() {
    let rs = start().await;
    let g = format!("g{}", &MSISDN_HASH[1..]);
    for bad in [&MSISDN_HASH[..63], &format!("{MSISDN_HASH}0"), &g, ""] {
        let t = rs.mint(&Tok::verify()).await;
        expect_error(rs.verify(&t, json!({ "hashedPhoneNumber": bad })).await, 400, INVALID_ARGUMENT).await;
    }
}

#[tokio::test]
async fn nvx_13_valid_number_plus_unknown_property() {
    let rs = start().await;
    let t = rs.mint(&Tok::verify()).await;
    let body = json!({ "phoneNumber": MSISDN, "unknown": "x" });
    expect_error(rs.verify(&t, body).await, 400, INVALID_ARGUMENT).await;
}

#[tokio::test]
async fn nvx_14_malformed_phone_numbers() {
    let rs = start().await;
    for bad in [
        "string_value",
        "1234567890",
        "+12334foo22222",
        "+00012230304913849",
        "123",
        "++49565456787",
        "+1234",
        "+1234567890123456",
        " +34600000001",
        "+34600000001 ",
    ] {
        let t = rs.mint(&Tok::verify()).await;
        expect_error(rs.verify_number(&t, bad).await, 400, INVALID_ARGUMENT).await;
    }
}

#[tokio::test]
async fn nvx_15_wrong_types_and_non_object_bodies() {
    let rs = start().await;
    for body in [
        json!({ "phoneNumber": 34600000001u64 }),
        json!({ "phoneNumber": null }),
        json!({ "phoneNumber": [MSISDN] }),
        json!(null),
        json!([MSISDN]),
        json!([MSISDN, null]),
        json!(MSISDN),
        json!(42),
    ] {
        let t = rs.mint(&Tok::verify()).await;
        expect_error(rs.verify(&t, body).await, 400, INVALID_ARGUMENT).await;
    }
}

/// Raw bodies: invalid JSON, duplicate keys (NVB-05), trailing data.
async fn verify_raw(rs: &Rs, body: &'static str) -> reqwest::Response {
    let t = rs.mint(&Tok::verify()).await;
    rs.http
        .post(rs.url(VERIFY))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .header("x-correlator", CORRELATOR)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn nvb_05_duplicate_keys_and_invalid_json() {
    let rs = start().await;
    for body in [
        r#"{"phoneNumber":"+34600000001","phoneNumber":"+34600000001"}"#,
        r#"{"phoneNumber":"+34600000002","phoneNumber":"+34600000001"}"#,
        r#"{"hashedPhoneNumber":"eb491b384e4fda4281634daa211e6e54a4cf7f82baa33a9f35980329e4ad95f3","hashedPhoneNumber":"eb491b384e4fda4281634daa211e6e54a4cf7f82baa33a9f35980329e4ad95f3"}"#,
        r#"{"phoneNumber":"+34600000001""#,
        r#"{"phoneNumber":"+34600000001"} {}"#,
        "{'phoneNumber':'+34600000001'}",
        "phoneNumber=+34600000001",
        "   ",
    ] {
        expect_error(verify_raw(&rs, body).await, 400, INVALID_ARGUMENT).await;
    }
}

#[tokio::test]
async fn nvb_05_body_over_4_kib() {
    let rs = start().await;
    let padded = format!("{{\"phoneNumber\":\"{MSISDN}\"{}}}", " ".repeat(5000));
    let t = rs.mint(&Tok::verify()).await;
    let r = rs
        .http
        .post(rs.url(VERIFY))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .header("x-correlator", CORRELATOR)
        .body(padded)
        .send()
        .await
        .unwrap();
    let (h, _) = expect_error(r, 400, INVALID_ARGUMENT).await;
    assert_eq!(correlator_of(&h), CORRELATOR);
    // Exactly at the cap is fine.
    let base = format!("{{\"phoneNumber\":\"{MSISDN}\"");
    let at_cap = format!("{base}{}}}", " ".repeat(4096 - base.len() - 1));
    assert_eq!(at_cap.len(), 4096);
    let t = rs.mint(&Tok::verify()).await;
    let r = rs.http.post(rs.url(VERIFY)).bearer_auth(&t).header("content-type", "application/json").body(at_cap);
    let (_, body) = expect_ok(r.send().await.unwrap()).await;
    assert_eq!(body, json!({ "devicePhoneNumberVerified": true }));
}

#[tokio::test]
async fn nvb_05_chunked_body_over_4_kib() {
    // No Content-Length: the limit applies while reading, and the answer is still CAMARA JSON.
    let rs = start().await;
    let t = rs.mint(&Tok::verify()).await;
    let chunk = " ".repeat(3000);
    let req = format!(
        "POST {VERIFY} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len(),
        chunk.len()
    );
    let (status, text) = raw(&rs.base, req.as_bytes()).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("\"code\":\"INVALID_ARGUMENT\""), "{text}");
}

#[tokio::test]
async fn nvx_16_bad_correlator() {
    let rs = start().await;
    let long = "a".repeat(257);
    for bad in ["with space", "hash#tag", long.as_str(), "quote\"", "comma,separated"] {
        let t = rs.mint(&Tok::verify()).await;
        let r = rs
            .http
            .post(rs.url(VERIFY))
            .bearer_auth(&t)
            .header("x-correlator", bad)
            .json(&json!({ "phoneNumber": MSISDN }))
            .send()
            .await
            .unwrap();
        let (h, _) = expect_error(r, 400, INVALID_ARGUMENT).await;
        assert_ne!(correlator_of(&h), bad, "NVC-03: an invalid value is never echoed");
        assert!(uuid::Uuid::parse_str(correlator_of(&h)).is_ok());
    }
    // Several x-correlator headers are ambiguous → 400.
    let t = rs.mint(&Tok::verify()).await;
    let r = rs
        .http
        .post(rs.url(VERIFY))
        .bearer_auth(&t)
        .header("x-correlator", "one")
        .header("x-correlator", "two")
        .json(&json!({ "phoneNumber": MSISDN }))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, INVALID_ARGUMENT).await;
}

#[tokio::test]
async fn nvx_17_correlator_edge_values() {
    let rs = start().await;
    let all: String = "abcXYZ0189-_:;./<>{}".chars().cycle().take(256).collect();
    for (sent, echoed) in [("", false), (all.as_str(), true), ("a:b;c.d/e<f>{g}_-", true)] {
        let t = rs.mint(&Tok::verify()).await;
        let r = rs
            .http
            .post(rs.url(VERIFY))
            .bearer_auth(&t)
            .header("X-Correlator", sent)
            .json(&json!({ "phoneNumber": MSISDN }))
            .send()
            .await
            .unwrap();
        let (h, body) = expect_ok(r).await;
        assert_eq!(body, json!({ "devicePhoneNumberVerified": true }));
        if echoed {
            assert_eq!(correlator_of(&h), sent);
        } else {
            assert!(uuid::Uuid::parse_str(correlator_of(&h)).is_ok(), "NVC-04: generated");
        }
    }
}

#[tokio::test]
async fn nvx_18_no_correlator() {
    let rs = start().await;
    let t = rs.mint(&Tok::verify()).await;
    let r = rs.http.post(rs.url(VERIFY)).bearer_auth(&t).json(&json!({ "phoneNumber": MSISDN })).send().await.unwrap();
    let (h, _) = expect_ok(r).await;
    assert!(uuid::Uuid::parse_str(correlator_of(&h)).is_ok());
    let t = rs.mint(&Tok::share()).await;
    let (h, _) = expect_ok(rs.http.get(rs.url(SHARE)).bearer_auth(&t).send().await.unwrap()).await;
    assert!(uuid::Uuid::parse_str(correlator_of(&h)).is_ok());
}

#[tokio::test]
async fn nvx_23_text_plain_unsupported_media_type() {
    let rs = start().await;
    for ct in ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=iso-8859-1"] {
        let t = rs.mint(&Tok::verify()).await;
        let r = rs
            .http
            .post(rs.url(VERIFY))
            .bearer_auth(&t)
            .header("content-type", ct)
            .header("x-correlator", CORRELATOR)
            .body(format!("{{\"phoneNumber\":\"{MSISDN}\"}}"))
            .send()
            .await
            .unwrap();
        let (h, _) = expect_error(r, 415, "UNSUPPORTED_MEDIA_TYPE").await;
        assert_eq!(correlator_of(&h), CORRELATOR);
    }
    // A body without any Content-Type is not JSON either.
    let t = rs.mint(&Tok::verify()).await;
    let r = rs.http.post(rs.url(VERIFY)).bearer_auth(&t).body(format!("{{\"phoneNumber\":\"{MSISDN}\"}}"));
    expect_error(r.send().await.unwrap(), 415, "UNSUPPORTED_MEDIA_TYPE").await;
}

#[tokio::test]
async fn nvb_06_content_type_parameters_and_case() {
    let rs = start().await;
    for ct in ["application/json; charset=utf-8", "Application/JSON", "application/json;charset=\"UTF-8\""] {
        let t = rs.mint(&Tok::verify()).await;
        let r = rs
            .http
            .post(rs.url(VERIFY))
            .bearer_auth(&t)
            .header("content-type", ct)
            .body(format!("{{\"phoneNumber\":\"{MSISDN}\"}}"))
            .send()
            .await
            .unwrap();
        expect_verified_any(r, true).await;
    }
}

async fn expect_verified_any(r: reqwest::Response, expected: bool) {
    let (_, body) = expect_ok(r).await;
    assert_eq!(body, json!({ "devicePhoneNumberVerified": expected }));
}

#[tokio::test]
async fn nvb_06_accept() {
    let rs = start().await;
    for ok in ["*/*", "application/*", "application/json", "text/html, application/json;q=0.5"] {
        let t = rs.mint(&Tok::verify()).await;
        let r =
            rs.http.post(rs.url(VERIFY)).bearer_auth(&t).header("accept", ok).json(&json!({ "phoneNumber": MSISDN }));
        expect_verified_any(r.send().await.unwrap(), true).await;
    }
    for bad in ["text/html", "application/xml", "application/json;q=0", "*/*;q=1, application/json;q=0"] {
        let t = rs.mint(&Tok::verify()).await;
        let r =
            rs.http.post(rs.url(VERIFY)).bearer_auth(&t).header("accept", bad).json(&json!({ "phoneNumber": MSISDN }));
        expect_error(r.send().await.unwrap(), 406, "NOT_ACCEPTABLE").await;
        let t = rs.mint(&Tok::share()).await;
        let r = rs.http.get(rs.url(SHARE)).bearer_auth(&t).header("accept", bad);
        expect_error(r.send().await.unwrap(), 406, "NOT_ACCEPTABLE").await;
    }
    // No Accept header at all (reqwest always sends one): raw request.
    let t = rs.mint(&Tok::share()).await;
    let req = format!("GET {SHARE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nConnection: close\r\n\r\n");
    let (status, text) = raw(&rs.base, req.as_bytes()).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(MSISDN));
}

#[tokio::test]
async fn nvx_24_wrong_method() {
    let rs = start().await;
    let t = rs.mint(&Tok::both()).await;
    let cases = [
        (reqwest::Method::GET, VERIFY, "POST"),
        (reqwest::Method::PUT, VERIFY, "POST"),
        (reqwest::Method::DELETE, VERIFY, "POST"),
        (reqwest::Method::POST, SHARE, "GET"),
        (reqwest::Method::PATCH, SHARE, "GET"),
        (reqwest::Method::DELETE, SHARE, "GET"),
    ];
    for (method, path, allow) in cases {
        let r = rs
            .http
            .request(method, rs.url(path))
            .bearer_auth(&t)
            .header("x-correlator", CORRELATOR)
            .json(&json!({ "phoneNumber": MSISDN }))
            .send()
            .await
            .unwrap();
        let (h, _) = expect_error(r, 405, "METHOD_NOT_ALLOWED").await;
        assert_eq!(h.get("allow").unwrap(), allow);
        assert_eq!(correlator_of(&h), CORRELATOR);
    }
    // A wrong method does not spend the token.
    expect_verified(rs.verify_number(&t, MSISDN).await, true).await;
}

#[tokio::test]
async fn unknown_path_under_the_scope_is_not_found() {
    let rs = start().await;
    for path in
        ["/number-verification/v2/verify-hashed", "/number-verification/v2/", "/number-verification/v2/verify/x"]
    {
        let r = rs.http.post(rs.url(path)).header("x-correlator", CORRELATOR).send().await.unwrap();
        let (h, _) = expect_error(r, 404, "NOT_FOUND").await;
        assert_eq!(correlator_of(&h), CORRELATOR);
    }
}

#[tokio::test]
async fn nvx_25_every_4xx_is_error_info_with_correlator() {
    let rs = start().await;
    let verify = Tok::verify();
    // (token, body, content type, status, code)
    type Case = (Option<Tok>, &'static str, Option<&'static str>, u16, &'static str);
    let cases: Vec<Case> = vec![
        (None, r#"{"phoneNumber":"+34600000001"}"#, Some("application/json"), 401, UNAUTHENTICATED),
        (Some(Tok::share()), r#"{"phoneNumber":"+34600000001"}"#, Some("application/json"), 403, PERMISSION_DENIED),
        (Some(Tok { amr: vec![Amr::Asserted], ..verify.clone() }), "{}", Some("application/json"), 403, NOT_MOBILE),
        (Some(verify.clone()), "{}", Some("application/json"), 400, INVALID_ARGUMENT),
        (Some(verify.clone()), "{}", Some("text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE"),
    ];
    for (tok, body, ct, status, code) in cases {
        let mut req = rs.http.post(rs.url(VERIFY)).header("x-correlator", CORRELATOR).body(body);
        if let Some(tok) = tok {
            req = req.bearer_auth(rs.mint(&tok).await);
        }
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let (h, _) = expect_error(req.send().await.unwrap(), status, code).await;
        assert_eq!(correlator_of(&h), CORRELATOR, "{status} {code}");
    }
}

// ------------------------------------------------------------------ NVR-09 check order

#[tokio::test]
async fn nvr_09_token_before_correlator_and_body() {
    let rs = start().await;
    // No token, bad correlator, bad media type: 401 wins, and the bad value is not echoed.
    let r =
        rs.http.post(rs.url(VERIFY)).header("x-correlator", "bad value").header("content-type", "text/plain").body("x");
    let (h, _) = expect_error(r.send().await.unwrap(), 401, UNAUTHENTICATED).await;
    assert_ne!(correlator_of(&h), "bad value");
    // Scope missing + bad correlator: 403 wins.
    let t = rs.mint(&Tok::share()).await;
    let r = rs.http.post(rs.url(VERIFY)).bearer_auth(&t).header("x-correlator", "bad value").body("x");
    expect_error(r.send().await.unwrap(), 403, PERMISSION_DENIED).await;
    // amr + bad correlator: 403 NVE-04 wins.
    let t = rs.mint(&Tok { amr: vec![Amr::Asserted], ..Tok::verify() }).await;
    let r = rs.http.post(rs.url(VERIFY)).bearer_auth(&t).header("x-correlator", "bad value").body("x");
    expect_error(r.send().await.unwrap(), 403, NOT_MOBILE).await;
}

#[tokio::test]
async fn nvr_09_correlator_before_media_type_before_accept_before_body() {
    let rs = start().await;
    let t = rs.mint(&Tok::verify()).await;
    let r = rs
        .http
        .post(rs.url(VERIFY))
        .bearer_auth(&t)
        .header("x-correlator", "bad value")
        .header("content-type", "text/plain")
        .body("x");
    expect_error(r.send().await.unwrap(), 400, INVALID_ARGUMENT).await;
    let t = rs.mint(&Tok::verify()).await;
    let r = rs
        .http
        .post(rs.url(VERIFY))
        .bearer_auth(&t)
        .header("content-type", "text/plain")
        .header("accept", "text/html")
        .body("x");
    expect_error(r.send().await.unwrap(), 415, "UNSUPPORTED_MEDIA_TYPE").await;
    let t = rs.mint(&Tok::verify()).await;
    let r = rs
        .http
        .post(rs.url(VERIFY))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .header("accept", "text/html")
        .body("x");
    expect_error(r.send().await.unwrap(), 406, "NOT_ACCEPTABLE").await;
}

#[tokio::test]
async fn nvr_08_token_without_subscriber() {
    let rs = start().await;
    let t = rs.mint(&Tok { record_msisdn: None, ..Tok::verify() }).await;
    expect_error(rs.verify_number(&t, MSISDN).await, 403, PERMISSION_DENIED).await;
    let t = rs.mint(&Tok { record_msisdn: None, ..Tok::share() }).await;
    expect_error(rs.share(&t).await, 403, PERMISSION_DENIED).await;
}

#[tokio::test]
async fn nvs_01_legacy_scope_names_rejected() {
    let rs = start().await;
    let t = rs.mint(&Tok::with_scope("number-verification-verify-read")).await;
    expect_error(rs.verify_number(&t, MSISDN).await, 403, PERMISSION_DENIED).await;
    let t = rs.mint(&Tok::with_scope("number-verification-share-read")).await;
    expect_error(rs.share(&t).await, 403, PERMISSION_DENIED).await;
}
