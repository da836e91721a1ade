//! The actix-web extractor and guards: the RFC 6750 responses an API client sees.

use actix_web::http::{header, StatusCode};
use actix_web::{test, web, App, HttpResponse};
use portico_verify::{AuthError, Authenticated, Verifier};
use serde_json::{json, Value};

use crate::support::{claims, with, FakeIssuer, TestClock, TestKey};

async fn me(auth: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "sub": auth.sub, "roles": auth.roles }))
}

async fn partner(auth: Authenticated) -> Result<HttpResponse, AuthError> {
    auth.require_role("partner")?;
    Ok(HttpResponse::Ok().json(json!({ "reports": [] })))
}

async fn write_orders(auth: Authenticated) -> Result<HttpResponse, AuthError> {
    auth.require_scope("orders:write")?;
    Ok(HttpResponse::Ok().finish())
}

fn app_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/me", web::get().to(me))
        .route("/partner", web::get().to(partner))
        .route("/write", web::post().to(write_orders));
}

fn verifier(issuer: &FakeIssuer) -> Verifier {
    issuer
        .builder(&TestClock::new())
        .realm("orders")
        .build()
        .expect("verifier")
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    retry_after: Option<String>,
    body: Value,
}

async fn call(verifier: Option<Verifier>, req: test::TestRequest) -> Answer {
    let mut app = App::new().configure(app_routes);
    if let Some(verifier) = verifier {
        app = app.app_data(web::Data::new(verifier));
    }
    let app = test::init_service(app).await;
    let response = test::call_service(&app, req.to_request()).await;
    let status = response.status();
    let get = |name| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().expect("ascii header").to_owned())
    };
    let challenge = get(header::WWW_AUTHENTICATE);
    let retry_after = get(header::RETRY_AFTER);
    let bytes = test::read_body(response).await;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        challenge,
        retry_after,
        body,
    }
}

fn get_with(path: &str, authorization: &str) -> test::TestRequest {
    test::TestRequest::get()
        .uri(path)
        .insert_header((header::AUTHORIZATION, authorization))
}

#[actix_web::test]
async fn no_token_gets_a_bare_bearer_challenge() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);

    let answer = call(Some(verifier(&issuer)), test::TestRequest::get().uri("/me")).await;

    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(r#"Bearer realm="orders""#)
    );
    assert_eq!(answer.body["error"], "missing_token");

    let basic = call(
        Some(verifier(&issuer)),
        get_with("/me", "Basic dXNlcjpwdw=="),
    )
    .await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    assert_eq!(basic.challenge.as_deref(), Some(r#"Bearer realm="orders""#));
    assert_eq!(issuer.jwks_hits(), 0);
}

#[actix_web::test]
async fn a_garbage_token_gets_invalid_token() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);

    let answer = call(Some(verifier(&issuer)), get_with("/me", "Bearer garbage")).await;

    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let challenge = answer.challenge.expect("challenge");
    assert!(
        challenge
            .starts_with(r#"Bearer realm="orders", error="invalid_token", error_description=""#),
        "{challenge}"
    );
    assert_eq!(answer.body["error"], "invalid_token");
    assert_eq!(
        answer.body["error_description"],
        "the access token is malformed"
    );
}

#[actix_web::test]
async fn an_expired_token_says_so() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let token = key.sign(&with(
        claims(&issuer.url),
        json!({ "exp": 1_000, "iat": 900 }),
    ));

    let answer = call(
        Some(verifier(&issuer)),
        get_with("/me", &format!("Bearer {token}")),
    )
    .await;

    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(answer
        .challenge
        .expect("challenge")
        .contains(r#"error_description="the access token expired""#));
}

#[actix_web::test]
async fn a_malformed_bearer_header_is_a_bad_request() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);

    for value in ["Bearer", "Bearer ", "Bearer a b", "Bearer a\"b"] {
        let answer = call(Some(verifier(&issuer)), get_with("/me", value)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{value}");
        assert_eq!(answer.body["error"], "invalid_request");
    }
}

#[actix_web::test]
async fn a_valid_token_passes_whatever_the_scheme_case() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let token = issuer.token(&key);

    for scheme in ["Bearer", "bearer", "BEARER"] {
        let answer = call(
            Some(verifier(&issuer)),
            get_with("/me", &format!("{scheme} {token}")),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{scheme}");
        assert_eq!(
            answer.body,
            json!({ "sub": "usr_42", "roles": ["partner"] })
        );
    }
}

#[actix_web::test]
async fn a_missing_role_is_forbidden_and_the_role_lets_in() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let customer = key.sign(&with(claims(&issuer.url), json!({ "roles": ["customer"] })));
    let no_roles = key.sign(&with(claims(&issuer.url), json!({ "roles": null })));
    let partner = issuer.token(&key);

    for token in [customer, no_roles] {
        let answer = call(
            Some(verifier(&issuer)),
            get_with("/partner", &format!("Bearer {token}")),
        )
        .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert_eq!(answer.body["error"], "insufficient_role");
        assert_eq!(answer.body["required_role"], "partner");
    }

    let answer = call(
        Some(verifier(&issuer)),
        get_with("/partner", &format!("Bearer {partner}")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, json!({ "reports": [] }));
}

#[actix_web::test]
async fn a_missing_scope_is_forbidden_with_an_insufficient_scope_challenge() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let token = issuer.token(&key);
    let req = test::TestRequest::post()
        .uri("/write")
        .insert_header((header::AUTHORIZATION, format!("Bearer {token}")));

    let answer = call(Some(verifier(&issuer)), req).await;

    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let challenge = answer.challenge.expect("challenge");
    assert!(
        challenge.starts_with(r#"Bearer error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(
        challenge.ends_with(r#"scope="orders:write""#),
        "{challenge}"
    );
    assert_eq!(answer.body["scope"], "orders:write");

    let writer = key.sign(&with(
        claims(&issuer.url),
        json!({ "scope": "orders:read orders:write" }),
    ));
    let req = test::TestRequest::post()
        .uri("/write")
        .insert_header((header::AUTHORIZATION, format!("Bearer {writer}")));
    assert_eq!(
        call(Some(verifier(&issuer)), req).await.status,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn an_unreachable_issuer_is_a_503_not_a_401() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    issuer.set_discovery_issuer("https://impostor.example");

    let answer = call(
        Some(verifier(&issuer)),
        get_with("/me", &format!("Bearer {}", issuer.token(&key))),
    )
    .await;

    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.retry_after.as_deref(), Some("10"));
    assert_eq!(answer.challenge, None);
    assert_eq!(answer.body["error"], "temporarily_unavailable");
}

#[actix_web::test]
async fn a_forgotten_verifier_is_a_500() {
    let answer = call(None, get_with("/me", "Bearer abc")).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.body["error"], "server_error");
}
