//! The JWKS cache: lazy fetch, refetch on rotation, the refetch rate limit, shared
//! fetches, expiry of withdrawn keys and stale-if-error.

use std::time::Duration;

use futures_util::future::join_all;
use portico_verify::{DiscoveryError, VerifyError};
use serde_json::json;

use crate::support::{claims, FakeIssuer, TestClock, TestKey};

#[actix_web::test]
async fn an_unknown_kid_refetches_and_finds_the_rotated_key() {
    let old = TestKey::es256("2026-11");
    let new = TestKey::es256("2026-12");
    let issuer = FakeIssuer::start(&[&old]);
    let clock = TestClock::new();
    let verifier = issuer.verifier(&clock);

    assert!(verifier.verify(&issuer.token(&old)).await.is_ok());
    assert_eq!(issuer.jwks_hits(), 1, "fetched lazily on first use");

    issuer.set_keys(&[&old, &new]);
    clock.advance(Duration::from_secs(11));
    let claims = verifier.verify(&issuer.token(&new)).await;

    assert!(claims.is_ok(), "{claims:?}");
    assert_eq!(issuer.jwks_hits(), 2);
    assert_eq!(issuer.discovery_hits(), 1, "jwks_uri is remembered");
    assert!(verifier.verify(&issuer.token(&old)).await.is_ok());
    assert_eq!(issuer.jwks_hits(), 2, "known keys need no fetch");
}

#[actix_web::test]
async fn unknown_kid_refetches_are_rate_limited_per_issuer() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let clock = TestClock::new();
    let verifier = issuer.verifier(&clock);
    assert!(verifier.verify(&issuer.token(&key)).await.is_ok());
    assert_eq!(issuer.jwks_hits(), 1);

    // A flood of random key ids, one after another and all at once.
    let random_kid = |i: usize| {
        key.sign_with(
            "ES256",
            &json!({ "alg": "ES256", "typ": "at+jwt", "kid": format!("random-{i}") }),
            &claims(&issuer.url),
        )
    };
    for i in 0..20 {
        assert_eq!(
            verifier.verify(&random_kid(i)).await,
            Err(VerifyError::UnknownKey)
        );
    }
    let tokens: Vec<String> = (20..60).map(random_kid).collect();
    let results = join_all(tokens.iter().map(|token| verifier.verify(token))).await;
    assert!(results.iter().all(|r| *r == Err(VerifyError::UnknownKey)));
    assert_eq!(issuer.jwks_hits(), 1, "no refetch within the interval");

    // Even a genuinely rotated key waits for the interval...
    let new = TestKey::es256("k2");
    issuer.set_keys(&[&key, &new]);
    clock.advance(Duration::from_secs(9));
    assert_eq!(
        verifier.verify(&issuer.token(&new)).await,
        Err(VerifyError::UnknownKey)
    );
    assert_eq!(issuer.jwks_hits(), 1);

    // ...and is found once it has passed, with one fetch.
    clock.advance(Duration::from_secs(1));
    assert!(verifier.verify(&issuer.token(&new)).await.is_ok());
    assert_eq!(issuer.jwks_hits(), 2);
    assert_eq!(
        verifier.verify(&random_kid(99)).await,
        Err(VerifyError::UnknownKey)
    );
    assert_eq!(issuer.jwks_hits(), 2);
}

#[actix_web::test]
async fn concurrent_requests_share_one_fetch() {
    let old = TestKey::es256("old");
    let new = TestKey::eddsa("new");
    let issuer = FakeIssuer::start(&[&old]);
    let clock = TestClock::new();
    let verifier = issuer.verifier(&clock);

    let token = issuer.token(&old);
    let results = join_all((0..16).map(|_| verifier.verify(&token))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!((issuer.discovery_hits(), issuer.jwks_hits()), (1, 1));

    issuer.set_keys(&[&old, &new]);
    clock.advance(Duration::from_secs(60));
    let token = issuer.token(&new);
    let results = join_all((0..16).map(|_| verifier.verify(&token))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(issuer.jwks_hits(), 2);
}

#[actix_web::test]
async fn a_withdrawn_key_stops_working_once_the_keys_are_stale() {
    let old = TestKey::es256("old");
    let new = TestKey::es256("new");
    let issuer = FakeIssuer::start(&[&old]);
    let clock = TestClock::new();
    let verifier = issuer
        .builder(&clock)
        .jwks_max_age(Duration::from_secs(60))
        .leeway(Duration::from_secs(3600))
        .build()
        .expect("verifier");
    let token = issuer.token(&old);
    assert!(verifier.verify(&token).await.is_ok());

    issuer.set_keys(&[&new]);
    clock.advance(Duration::from_secs(59));
    assert!(verifier.verify(&token).await.is_ok(), "still fresh");
    assert_eq!(issuer.jwks_hits(), 1);

    clock.advance(Duration::from_secs(2));
    assert_eq!(verifier.verify(&token).await, Err(VerifyError::UnknownKey));
    assert_eq!(issuer.jwks_hits(), 2);
}

#[actix_web::test]
async fn stale_keys_are_kept_while_the_issuer_serves_garbage() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let clock = TestClock::new();
    let verifier = issuer
        .builder(&clock)
        .jwks_max_age(Duration::from_secs(60))
        .leeway(Duration::from_secs(3600))
        .build()
        .expect("verifier");
    let token = issuer.token(&key);
    assert!(verifier.verify(&token).await.is_ok());

    issuer.set_jwks(json!({ "error": "maintenance" }));
    clock.advance(Duration::from_secs(120));
    assert!(verifier.verify(&token).await.is_ok(), "stale-if-error");
    assert_eq!(issuer.jwks_hits(), 2);
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(
        issuer.jwks_hits(),
        2,
        "failed refetches are rate limited too"
    );
}

#[actix_web::test]
async fn a_failed_first_fetch_is_retried_only_after_the_interval() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    issuer.set_discovery_issuer("https://impostor.example");
    let clock = TestClock::new();
    let verifier = issuer.verifier(&clock);
    let token = issuer.token(&key);

    for _ in 0..3 {
        assert!(matches!(
            verifier.verify(&token).await,
            Err(VerifyError::Discovery(
                DiscoveryError::IssuerMismatch { .. }
            ))
        ));
    }
    assert_eq!(issuer.discovery_hits(), 1);

    issuer.set_discovery_issuer(&issuer.url);
    clock.advance(Duration::from_secs(10));
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!((issuer.discovery_hits(), issuer.jwks_hits()), (2, 1));
}

#[actix_web::test]
async fn refresh_warms_the_cache_and_ignores_the_rate_limit() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let verifier = issuer.verifier(&TestClock::new());

    verifier.refresh().await.expect("warm-up");
    verifier.refresh().await.expect("again");
    assert_eq!(issuer.jwks_hits(), 2);
    assert_eq!(verifier.cached_key_count(&issuer.url), Some(1));
    assert!(verifier.verify(&issuer.token(&key)).await.is_ok());
    assert_eq!(issuer.jwks_hits(), 2);

    let other = FakeIssuer::start(&[&key]);
    other.set_discovery_issuer("https://impostor.example");
    let failing = other.verifier(&TestClock::new());
    assert!(matches!(
        failing.refresh().await,
        Err(VerifyError::Discovery(_))
    ));
}
