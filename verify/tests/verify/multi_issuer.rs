//! One API trusting several issuers: each token is checked with its own issuer's keys.

use portico_verify::{Verifier, VerifyError};
use serde_json::json;

use crate::support::{claims, with, FakeIssuer, TestClock, TestKey, AUDIENCE};

const OTHER_AUDIENCE: &str = "orders-api";

fn verifier(a: &FakeIssuer, b: &FakeIssuer, clock: &TestClock) -> Verifier {
    let clock = clock.clone();
    Verifier::builder()
        .issuer(&a.url, AUDIENCE)
        .issuer(&b.url, OTHER_AUDIENCE)
        .clock(move || clock.now())
        .build()
        .expect("verifier")
}

#[actix_web::test]
async fn tokens_of_both_issuers_are_accepted() {
    let key_a = TestKey::es256("a1");
    let key_b = TestKey::rs256("b1");
    let a = FakeIssuer::start(&[&key_a]);
    let b = FakeIssuer::start(&[&key_b]);
    let verifier = verifier(&a, &b, &TestClock::new());
    let token_b = key_b.sign(&with(claims(&b.url), json!({ "aud": OTHER_AUDIENCE })));

    assert_eq!(
        verifier.verify(&a.token(&key_a)).await.expect("A").iss,
        a.url
    );
    assert_eq!(verifier.verify(&token_b).await.expect("B").iss, b.url);
    assert_eq!((a.jwks_hits(), b.jwks_hits()), (1, 1));
}

#[actix_web::test]
async fn a_token_claiming_issuer_a_but_signed_by_issuer_b_is_refused() {
    let key_a = TestKey::es256("a1");
    let key_b = TestKey::es256("b1");
    let a = FakeIssuer::start(&[&key_a]);
    let b = FakeIssuer::start(&[&key_b]);
    let verifier = verifier(&a, &b, &TestClock::new());
    // B's keys are known to the verifier.
    let token_b = key_b.sign(&with(claims(&b.url), json!({ "aud": OTHER_AUDIENCE })));
    assert!(verifier.verify(&token_b).await.is_ok());

    // Signed by B's key, naming B's kid, claiming A: A's JWKS has no such key.
    let forged = key_b.sign(&claims(&a.url));
    assert_eq!(verifier.verify(&forged).await, Err(VerifyError::UnknownKey));
    // Signed by B's key, naming A's kid: A's key does not verify it.
    let forged = key_b.sign_with(
        "ES256",
        &json!({ "alg": "ES256", "typ": "at+jwt", "kid": "a1" }),
        &claims(&a.url),
    );
    assert_eq!(
        verifier.verify(&forged).await,
        Err(VerifyError::BadSignature)
    );
}

#[actix_web::test]
async fn each_issuer_has_its_own_audiences() {
    let key_a = TestKey::es256("a1");
    let key_b = TestKey::es256("b1");
    let a = FakeIssuer::start(&[&key_a]);
    let b = FakeIssuer::start(&[&key_b]);
    let verifier = verifier(&a, &b, &TestClock::new());

    // B's token for A's audience.
    assert_eq!(
        verifier.verify(&b.token(&key_b)).await,
        Err(VerifyError::WrongAudience)
    );
    // Several audiences for one issuer.
    let clock = TestClock::new();
    let both = a
        .builder(&clock)
        .issuer(&a.url, OTHER_AUDIENCE)
        .build()
        .expect("verifier");
    let token = key_a.sign(&with(claims(&a.url), json!({ "aud": OTHER_AUDIENCE })));
    assert!(both.verify(&token).await.is_ok());
    assert!(both.verify(&a.token(&key_a)).await.is_ok());
}
