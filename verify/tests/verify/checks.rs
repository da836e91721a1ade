//! Token checks: algorithms, typ, signature, claims and time, one attack per test.

use portico_verify::{Algorithm, DiscoveryError, Verifier, VerifyError};
use serde_json::json;

use crate::support::{b64, claims, sign_raw, with, FakeIssuer, TestClock, TestKey, AUDIENCE, NOW};

#[actix_web::test]
async fn a_valid_es256_token_yields_its_claims() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let verifier = issuer.verifier(&TestClock::new());

    let claims = verifier.verify(&issuer.token(&key)).await.expect("valid");

    assert_eq!(claims.iss, issuer.url);
    assert_eq!(claims.sub, "usr_42");
    assert_eq!(claims.aud, vec![AUDIENCE.to_owned()]);
    assert_eq!(claims.exp, NOW + 300);
    assert_eq!(claims.iat, NOW);
    assert_eq!(claims.auth_time, Some(NOW - 10));
    assert_eq!(claims.client_id, "partners-web");
    assert_eq!(claims.jti, "at_1");
    assert_eq!(
        claims.scopes().collect::<Vec<_>>(),
        ["openid", "orders:read"]
    );
    assert!(claims.has_scope("orders:read"));
    assert!(!claims.has_scope("orders"));
    assert!(claims.has_role("partner"));
    assert!(!claims.has_role("customer"));
    assert_eq!(claims.claim("tenant"), Some(&json!("acme")));
    assert_eq!(
        claims.claim("sub"),
        None,
        "typed claims are not duplicated in extra"
    );
    assert!(claims.require_role("partner").is_ok());
    assert!(claims.require_scope("orders:write").is_err());
}

#[actix_web::test]
async fn rs256_ps256_and_eddsa_tokens_are_accepted() {
    let rsa = TestKey::rs256("rsa");
    let pss = TestKey::ps256("pss");
    let ed = TestKey::eddsa("ed");
    let issuer = FakeIssuer::start(&[&rsa, &pss, &ed]);
    let verifier = issuer.verifier(&TestClock::new());

    for key in [&rsa, &pss, &ed] {
        let claims = verifier.verify(&issuer.token(key)).await;
        assert!(claims.is_ok(), "{}: {claims:?}", key.alg);
    }
    assert_eq!(verifier.cached_key_count(&issuer.url), Some(3));
}

#[actix_web::test]
async fn an_expired_token_is_refused_after_the_leeway() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let verifier = issuer.verifier(&TestClock::new());
    let token = |exp: i64| {
        key.sign(&with(
            claims(&issuer.url),
            json!({ "exp": exp, "iat": exp - 300 }),
        ))
    };

    assert!(
        verifier.verify(&token(NOW - 29)).await.is_ok(),
        "within 30 s leeway"
    );
    assert_eq!(
        verifier.verify(&token(NOW - 30)).await,
        Err(VerifyError::Expired)
    );
    assert_eq!(
        verifier.verify(&token(NOW - 3600)).await,
        Err(VerifyError::Expired)
    );
}

#[actix_web::test]
async fn a_leeway_of_zero_is_exact() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let verifier = issuer
        .builder(&TestClock::new())
        .leeway(std::time::Duration::ZERO)
        .build()
        .expect("verifier");
    let token = |exp: i64| {
        key.sign(&with(
            claims(&issuer.url),
            json!({ "exp": exp, "iat": NOW - 600 }),
        ))
    };

    assert!(verifier.verify(&token(NOW + 1)).await.is_ok());
    assert_eq!(
        verifier.verify(&token(NOW)).await,
        Err(VerifyError::Expired)
    );
}

#[actix_web::test]
async fn a_token_whose_nbf_is_in_the_future_is_refused() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let verifier = issuer.verifier(&TestClock::new());
    let token = |nbf: i64| key.sign(&with(claims(&issuer.url), json!({ "nbf": nbf })));

    assert!(
        verifier.verify(&token(NOW + 30)).await.is_ok(),
        "within leeway"
    );
    assert_eq!(
        verifier.verify(&token(NOW + 31)).await,
        Err(VerifyError::NotYetValid)
    );
}

#[actix_web::test]
async fn a_token_issued_in_the_future_is_refused() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let verifier = issuer.verifier(&TestClock::new());
    let token = key.sign(&with(claims(&issuer.url), json!({ "iat": NOW + 120 })));

    assert_eq!(
        verifier.verify(&token).await,
        Err(VerifyError::IssuedInFuture)
    );
}

#[actix_web::test]
async fn verify_at_checks_times_against_the_given_instant() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let verifier = issuer.verifier(&TestClock::new());
    let token = issuer.token(&key);

    assert!(verifier.verify_at(&token, NOW + 299).await.is_ok());
    assert_eq!(
        verifier.verify_at(&token, NOW + 330).await,
        Err(VerifyError::Expired)
    );
    assert_eq!(
        verifier.verify_at(&token, NOW - 31).await,
        Err(VerifyError::IssuedInFuture)
    );
}

#[actix_web::test]
async fn a_token_for_another_audience_is_refused() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let verifier = issuer.verifier(&TestClock::new());
    let other = key.sign(&with(
        claims(&issuer.url),
        json!({ "aud": "https://billing.example.com" }),
    ));
    let several = key.sign(&with(
        claims(&issuer.url),
        json!({ "aud": ["https://billing.example.com", AUDIENCE] }),
    ));
    let empty = key.sign(&with(claims(&issuer.url), json!({ "aud": [] })));

    assert_eq!(
        verifier.verify(&other).await,
        Err(VerifyError::WrongAudience)
    );
    assert_eq!(
        verifier.verify(&empty).await,
        Err(VerifyError::WrongAudience)
    );
    let claims = verifier
        .verify(&several)
        .await
        .expect("aud array containing ours");
    assert_eq!(claims.aud.len(), 2);
}

#[actix_web::test]
async fn a_token_from_an_untrusted_issuer_is_refused() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let verifier = issuer.verifier(&TestClock::new());

    for iss in [
        "https://evil.example".to_owned(),
        format!("{}/", issuer.url),
    ] {
        let token = key.sign(&with(claims(&issuer.url), json!({ "iss": iss })));
        assert_eq!(
            verifier.verify(&token).await,
            Err(VerifyError::UnknownIssuer),
            "{iss}"
        );
    }
    let no_iss = key.sign(&with(claims(&issuer.url), json!({ "iss": null })));
    assert_eq!(
        verifier.verify(&no_iss).await,
        Err(VerifyError::InvalidClaim("iss"))
    );
}

#[actix_web::test]
async fn alg_none_is_refused_before_any_key_is_fetched() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let verifier = issuer.verifier(&TestClock::new());
    let header = json!({ "alg": "none", "typ": "at+jwt", "kid": "k1" });
    let unsigned = format!(
        "{}.{}.",
        b64(header.to_string()),
        b64(claims(&issuer.url).to_string())
    );

    assert!(matches!(
        verifier.verify(&unsigned).await,
        Err(VerifyError::UnsupportedAlgorithm(alg)) if alg == "none"
    ));
    assert_eq!((issuer.discovery_hits(), issuer.jwks_hits()), (0, 0));
}

#[actix_web::test]
async fn hs256_signed_with_the_public_key_as_secret_is_refused() {
    let ec = TestKey::es256("ec");
    let rsa = TestKey::rs256("rsa");
    let issuer = FakeIssuer::start(&[&ec, &rsa]);
    let verifier = issuer.verifier(&TestClock::new());

    for key in [&ec, &rsa] {
        let secrets = [
            key.public_pem().to_vec(),
            key.public_jwk().to_string().into_bytes(),
        ];
        for secret in secrets {
            let signer = josekit::jws::HS256
                .signer_from_bytes(&secret)
                .expect("hmac");
            let header = json!({ "alg": "HS256", "typ": "at+jwt", "kid": key.kid });
            let forged = sign_raw(&signer, &header, &claims(&issuer.url));
            assert!(matches!(
                verifier.verify(&forged).await,
                Err(VerifyError::UnsupportedAlgorithm(_))
            ));
        }
    }
    assert_eq!(issuer.jwks_hits(), 0, "refused before any key lookup");
}

#[actix_web::test]
async fn a_key_is_never_used_with_another_algorithm() {
    let ec = TestKey::es256("ec");
    let rsa = TestKey::rs256("rsa");
    let issuer = FakeIssuer::start(&[&ec, &rsa]);
    let verifier = issuer.verifier(&TestClock::new());
    let payload = claims(&issuer.url);

    // PS256 is allowed, and the RSA key would verify it, but it is published for RS256.
    let pss = rsa.sign_with(
        "PS256",
        &json!({ "alg": "PS256", "typ": "at+jwt", "kid": "rsa" }),
        &payload,
    );
    assert_eq!(
        verifier.verify(&pss).await,
        Err(VerifyError::KeyAlgorithmMismatch)
    );

    // An RS256 token pointing at the EC key.
    let cross = rsa.sign_with(
        "RS256",
        &json!({ "alg": "RS256", "typ": "at+jwt", "kid": "ec" }),
        &payload,
    );
    assert_eq!(
        verifier.verify(&cross).await,
        Err(VerifyError::KeyAlgorithmMismatch)
    );
}

#[actix_web::test]
async fn a_token_without_kid_uses_the_only_key_for_its_algorithm() {
    let ec = TestKey::es256("ec");
    let ed = TestKey::eddsa("ed");
    let issuer = FakeIssuer::start(&[&ec, &ed]);
    let verifier = issuer.verifier(&TestClock::new());
    let no_kid = |key: &TestKey| {
        key.sign_with(
            key.alg,
            &json!({ "alg": key.alg, "typ": "at+jwt" }),
            &claims(&issuer.url),
        )
    };
    assert!(verifier.verify(&no_kid(&ec)).await.is_ok());

    let second = TestKey::es256("ec2");
    issuer.set_keys(&[&ec, &second, &ed]);
    verifier.refresh().await.expect("refetch");
    assert_eq!(
        verifier.verify(&no_kid(&ec)).await,
        Err(VerifyError::UnknownKey),
        "ambiguous"
    );
}

#[actix_web::test]
async fn a_tampered_payload_is_refused() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let verifier = issuer.verifier(&TestClock::new());
    let token = issuer.token(&key);
    let parts: Vec<&str> = token.split('.').collect();
    let promoted = with(
        claims(&issuer.url),
        json!({ "roles": ["partner", "admin"] }),
    );
    let tampered = format!("{}.{}.{}", parts[0], b64(promoted.to_string()), parts[2]);

    assert_eq!(
        verifier.verify(&tampered).await,
        Err(VerifyError::BadSignature)
    );

    let mut signature = parts[2].to_owned().into_bytes();
    signature[10] = if signature[10] == b'A' { b'B' } else { b'A' };
    let flipped = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        String::from_utf8(signature).expect("ascii")
    );
    assert_eq!(
        verifier.verify(&flipped).await,
        Err(VerifyError::BadSignature)
    );
}

#[actix_web::test]
async fn only_the_access_token_typ_is_accepted() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let verifier = issuer.verifier(&TestClock::new());
    let payload = claims(&issuer.url);
    let with_typ = |typ: serde_json::Value| {
        let mut header = json!({ "alg": "ES256", "kid": "k1" });
        if !typ.is_null() {
            header["typ"] = typ;
        }
        key.sign_with("ES256", &header, &payload)
    };

    for typ in [
        "at+jwt",
        "application/at+jwt",
        "AT+JWT",
        "Application/At+Jwt",
    ] {
        assert!(
            verifier.verify(&with_typ(json!(typ))).await.is_ok(),
            "{typ}"
        );
    }
    for typ in [json!("JWT"), json!("jwt"), json!("at+jwt+x"), json!(null)] {
        assert_eq!(
            verifier.verify(&with_typ(typ.clone())).await,
            Err(VerifyError::WrongType),
            "{typ}"
        );
    }
}

#[actix_web::test]
async fn critical_header_extensions_are_refused() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let verifier = issuer.verifier(&TestClock::new());
    let header = json!({ "alg": "ES256", "typ": "at+jwt", "kid": "k1", "crit": ["exp"], "exp": 1 });
    let token = key.sign_with("ES256", &header, &claims(&issuer.url));

    assert_eq!(
        verifier.verify(&token).await,
        Err(VerifyError::UnsupportedCritical)
    );
}

#[actix_web::test]
async fn tokens_lacking_required_claims_are_refused() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let verifier = issuer.verifier(&TestClock::new());

    for name in ["sub", "client_id", "jti", "exp", "iat", "aud"] {
        let token = key.sign(&with(claims(&issuer.url), json!({ name: null })));
        assert_eq!(
            verifier.verify(&token).await,
            Err(VerifyError::InvalidClaim(name))
        );
    }
    let bad_roles = key.sign(&with(claims(&issuer.url), json!({ "roles": "partner" })));
    assert_eq!(
        verifier.verify(&bad_roles).await,
        Err(VerifyError::InvalidClaim("roles"))
    );
    let string_exp = key.sign(&with(claims(&issuer.url), json!({ "exp": "soon" })));
    assert_eq!(
        verifier.verify(&string_exp).await,
        Err(VerifyError::InvalidClaim("exp"))
    );
}

#[actix_web::test]
async fn malformed_tokens_are_refused() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    let verifier = issuer.verifier(&TestClock::new());
    let token = issuer.token(&key);
    let oversized = format!("{token}{}", "A".repeat(20_000));

    for garbage in ["", "garbage", "a.b", "a.b.c", "a.b.c.d.e", "..", &oversized] {
        assert!(
            matches!(
                verifier.verify(garbage).await,
                Err(VerifyError::Malformed(_))
            ),
            "{:.40}",
            garbage
        );
    }
    let header_not_object = format!("{}.{}.", b64("[1]"), b64("{}"));
    assert!(matches!(
        verifier.verify(&header_not_object).await,
        Err(VerifyError::Malformed(_))
    ));
}

#[actix_web::test]
async fn the_algorithm_allow_list_is_configurable() {
    let ec = TestKey::es256("ec");
    let rsa = TestKey::rs256("rsa");
    let issuer = FakeIssuer::start(&[&ec, &rsa]);
    let verifier = issuer
        .builder(&TestClock::new())
        .algorithms([Algorithm::Es256])
        .build()
        .expect("verifier");

    assert!(verifier.verify(&issuer.token(&ec)).await.is_ok());
    assert_eq!(
        verifier.verify(&issuer.token(&rsa)).await,
        Err(VerifyError::UnsupportedAlgorithm("RS256".into()))
    );
    assert_eq!(
        verifier.cached_key_count(&issuer.url),
        Some(1),
        "RSA key not cached"
    );
}

#[actix_web::test]
async fn a_jwks_that_leaks_a_private_key_is_not_trusted_with_it() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[]);
    issuer.set_jwks(json!({ "keys": [key.private_jwk()] }));
    let verifier = issuer.verifier(&TestClock::new());

    assert_eq!(
        verifier.verify(&issuer.token(&key)).await,
        Err(VerifyError::UnknownKey)
    );
    assert_eq!(verifier.cached_key_count(&issuer.url), Some(0));
}

/// The modulus of a 1024-bit RSA key (josekit will not generate one).
const WEAK_RSA_N: &str = "xw406pkW4FHqUvg4-A4osc8hOkGm3GhNrFNvpJYTwETmX9VrZYUZaw6MC4xOOgUho8VgNcRxeIXoDjsdSfBKBe_fNxPkayUxjNdOW-RGyie3MXUN2tBjr0kPgH-s2oaOQ6Bq1NFbuOm1vzSEe8_a6LX5Kq9-AWqjpyUeH-3kmX0";

#[actix_web::test]
async fn an_rsa_key_shorter_than_2048_bits_is_not_trusted() {
    let strong = TestKey::rs256("strong");
    let issuer = FakeIssuer::start(&[]);
    let weak = json!({ "kty": "RSA", "kid": "weak", "alg": "RS256", "use": "sig", "n": WEAK_RSA_N, "e": "AQAB" });
    issuer.set_jwks(json!({ "keys": [weak, strong.public_jwk()] }));
    let verifier = issuer.verifier(&TestClock::new());

    verifier.refresh().await.expect("fetch");
    assert_eq!(verifier.cached_key_count(&issuer.url), Some(1));
    assert!(verifier.verify(&issuer.token(&strong)).await.is_ok());
}

#[actix_web::test]
async fn a_discovery_document_naming_another_issuer_is_refused() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::start(&[&key]);
    issuer.set_discovery_issuer("https://impostor.example");
    let verifier = issuer.verifier(&TestClock::new());

    let error = verifier
        .verify(&issuer.token(&key))
        .await
        .expect_err("mix-up");
    assert!(matches!(
        &error,
        VerifyError::Discovery(DiscoveryError::IssuerMismatch { found, .. }) if found == "https://impostor.example"
    ));
    assert!(error.is_unavailable());
    assert_eq!(
        error.status_code(),
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(issuer.jwks_hits(), 0);
}

#[actix_web::test]
async fn the_builder_refuses_unusable_configurations() {
    use portico_verify::BuildError;
    assert_eq!(
        Verifier::builder().build().err(),
        Some(BuildError::NoIssuer)
    );
    for bad in [
        "127.0.0.1:8080",
        "ftp://x",
        "https://x/?a=b",
        "https://x#f",
        "https://",
    ] {
        assert!(
            matches!(
                Verifier::builder().issuer(bad, AUDIENCE).build(),
                Err(BuildError::InvalidIssuer(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        Verifier::builder().issuer("https://x", "").build(),
        Err(BuildError::EmptyAudience(_))
    ));
    assert_eq!(
        Verifier::builder()
            .issuer("https://x", AUDIENCE)
            .algorithms([])
            .build()
            .err(),
        Some(BuildError::NoAlgorithm)
    );
}

#[test]
fn the_verifier_and_its_future_can_cross_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let verifier = Verifier::builder()
        .issuer("https://issuer.example", AUDIENCE)
        .build()
        .expect("verifier");
    send_sync(&verifier);
    send(verifier.verify("x"));
}
