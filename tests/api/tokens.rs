//! The token service: code exchange, refresh rotation, client credentials, userinfo,
//! introspection and revocation, driven by a real OIDC client library where one
//! fits and by hand where the test is an attack.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, RequestTokenError, Scope, TokenResponse,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::*;

/// The relying party's HTTP client: no cookies, no redirects followed.
fn rp_http() -> reqwest::Client {
    crate::helpers::http_builder().build().unwrap()
}

/// The whole authorization code flow with the `openidconnect` crate as the relying party,
/// a browser signing up on the hosted page in between.
async fn relying_party_flow(alg: &str, signing_alg: CoreJwsSigningAlgorithm) {
    let app = TestApp::builder().alg(alg).spawn().await;
    let http = rp_http();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.base.clone()).unwrap(), &http)
            .await
            .unwrap_or_else(|e| panic!("discovery: {e:?}"));
    let client =
        CoreClient::from_provider_metadata(meta, ClientId::new("customers-web".to_owned()), None)
            .set_redirect_uri(
                RedirectUrl::new("http://localhost:3000/callback".to_owned()).unwrap(),
            );
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".to_owned()))
        .add_scope(Scope::new("offline_access".to_owned()))
        .add_scope(Scope::new("orders:read".to_owned()))
        .add_extra_param("screen_hint", "signup")
        .set_pkce_challenge(challenge)
        .url();

    // The browser: /authorize, the sign-up page, the form, the callback.
    let r = app.get(url.as_str()).await;
    assert_eq!(r.status(), 303);
    let page_url = location(&r);
    assert!(page_url.starts_with("/signup?tx="), "{page_url}");
    let page = app.get(&page_url).await.text().await.unwrap();
    let r = app
        .post_form(
            "/signup",
            &[
                ("tx", &hidden(&page, "tx")),
                ("csrf", &hidden(&page, "csrf")),
                ("email", "rp@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let callback = location(&r);
    assert!(
        callback.starts_with("http://localhost:3000/callback?"),
        "{callback}"
    );
    let q = query_of(&callback);
    assert_eq!(&q["state"], csrf.secret(), "state must come back unchanged");
    assert_eq!(q["iss"], app.base, "RFC 9207 iss");

    let tokens = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("code exchange: {e:?}"));
    let granted: Vec<String> = tokens
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    for want in ["openid", "email", "offline_access", "orders:read"] {
        assert!(
            granted.iter().any(|g| g == want),
            "{want} not in {granted:?}"
        );
    }

    // Signature through JWKS, iss, aud, exp and nonce.
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs(vec![signing_alg.clone()]);
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&verifier, &nonce)
        .unwrap_or_else(|e| panic!("ID token refused: {e:?}"));
    assert!(
        id_token
            .claims(&verifier, &Nonce::new("another-nonce".to_owned()))
            .is_err(),
        "the nonce is checked"
    );
    assert_eq!(id_token.signing_alg().unwrap(), &signing_alg);
    assert_eq!(claims.email().map(|e| e.as_str()), Some("rp@example.com"));
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected), "at_hash");

    let info: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("userinfo: {e:?}"));
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.email().map(|e| e.as_str()), Some("rp@example.com"));

    let rt = tokens.refresh_token().expect("a refresh token");
    let refreshed = client
        .exchange_refresh_token(rt)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("refresh: {e:?}"));
    let rt2 = refreshed.refresh_token().expect("a rotated refresh token");
    assert_ne!(rt2.secret(), rt.secret());
    assert_ne!(
        refreshed.access_token().secret(),
        tokens.access_token().secret()
    );
    // OIDC Core 12.2: same subject and audience, no nonce.
    let again = refreshed
        .id_token()
        .expect("a refreshed ID token")
        .claims(&verifier, |_: Option<&Nonce>| Ok(()))
        .unwrap_or_else(|e| panic!("refreshed ID token refused: {e:?}"));
    assert_eq!(again.subject(), claims.subject());

    // The rotated token is spent.
    match client
        .exchange_refresh_token(rt)
        .unwrap()
        .request_async(&http)
        .await
    {
        Err(RequestTokenError::ServerResponse(e)) => {
            assert_eq!(e.error(), &CoreErrorResponseType::InvalidGrant)
        }
        other => panic!("a spent refresh token must be invalid_grant: {other:?}"),
    }
}

#[tokio::test]
async fn an_oidc_client_library_completes_the_code_flow_with_pkce_userinfo_and_refresh() {
    relying_party_flow("ES256", CoreJwsSigningAlgorithm::EcdsaP256Sha256).await;
}

#[tokio::test]
async fn the_client_library_verifies_signatures_and_at_hash_for_rs256_and_eddsa() {
    relying_party_flow("RS256", CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256).await;
    relying_party_flow("EdDSA", CoreJwsSigningAlgorithm::EdDsa).await;
}

#[tokio::test]
async fn access_tokens_follow_rfc9068_and_id_tokens_carry_the_oidc_claims() {
    let app = spawn_app().await;
    let t = app
        .signup_tokens("customers-web", "shape@example.com")
        .await;
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 900);
    let kids: Vec<String> = jwks(&app).await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| s(k, "kid").to_owned())
        .collect();

    let access = s(&t, "access_token");
    let h = header_of(access);
    assert_eq!(h["typ"], "at+jwt");
    assert_eq!(h["alg"], "ES256");
    assert!(kids.iter().any(|k| k == s(&h, "kid")), "kid not in JWKS");
    let at = claims(access);
    let now = app.now();
    assert_eq!(at["iss"], app.base);
    assert!(!s(&at, "sub").is_empty());
    assert_eq!(at["aud"], API);
    let iat = at["iat"].as_i64().unwrap();
    assert!((iat - now).abs() <= 5);
    assert_eq!(at["exp"].as_i64().unwrap(), iat + 900);
    assert!(!s(&at, "jti").is_empty());
    assert_eq!(at["client_id"], "customers-web");
    let mut scope: Vec<&str> = s(&at, "scope").split(' ').collect();
    scope.sort_unstable();
    assert_eq!(scope, ["email", "offline_access", "openid", "orders:read"]);
    assert_eq!(
        at["scope"], t["scope"],
        "the response lists what was granted"
    );
    assert!(at["roles"].is_array());
    assert!(at["auth_time"].as_i64().unwrap() <= iat);

    let id = s(&t, "id_token");
    assert!(kids.iter().any(|k| k == s(&header_of(id), "kid")));
    let it = claims(id);
    assert_eq!(it["iss"], app.base);
    assert_eq!(it["sub"], at["sub"]);
    assert_eq!(it["aud"], "customers-web");
    assert_eq!(
        it["exp"].as_i64().unwrap(),
        it["iat"].as_i64().unwrap() + 3600
    );
    assert_eq!(it["auth_time"], at["auth_time"]);
    assert_eq!(it["nonce"], "n-456");
    let digest = Sha256::digest(access.as_bytes());
    assert_eq!(it["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..16]));
    assert_eq!(it["email"], "shape@example.com");
    assert!(it["email_verified"].is_boolean());
    assert!(it["roles"].is_array());

    // RFC 8707: `resource` at /authorize picks the API, and refreshes keep it.
    let b = app.new_browser();
    let f = b
        .begin(
            "customers-web",
            &[
                ("screen_hint", "signup"),
                ("resource", "https://billing.example.com"),
            ],
        )
        .await;
    let r = b.signup(&f, "billing@example.com", PASSWORD).await;
    let code = query_of(&location(&r))["code"].clone();
    let t = ok_json(b.exchange(&f, &code).await).await;
    assert_eq!(
        claims(s(&t, "access_token"))["aud"],
        "https://billing.example.com"
    );
    let t = ok_json(refresh(&b, "customers-web", s(&t, "refresh_token"), &[]).await).await;
    assert_eq!(
        claims(s(&t, "access_token"))["aud"],
        "https://billing.example.com"
    );
}

#[tokio::test]
async fn a_confidential_client_redeems_its_code_with_client_secret_basic() {
    let app = spawn_app().await;
    let (code, f) = app.signup_code("backend-app", "office@example.com").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://localhost:5000/cb"),
        ("code_verifier", f.verifier.as_str()),
    ];
    // Without its secret the confidential client is not authenticated.
    let r = app.exchange(&f, &code).await;
    assert_eq!(oauth_error(r, 401).await, "invalid_client");
    let t = ok_json(post_basic(&app, "/token", BACKEND, &form).await).await;
    assert_eq!(claims(s(&t, "access_token"))["client_id"], "backend-app");
    assert_eq!(claims(s(&t, "id_token"))["aud"], "backend-app");
    let r = post_basic(
        &app,
        "/token",
        BACKEND,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", s(&t, "refresh_token")),
        ],
    )
    .await;
    ok_json(r).await;
}

// --- Attacks on the authorization code ---

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_every_token_it_bought() {
    let app = spawn_app().await;
    let (code, f) = app.signup_code("customers-web", "replay@example.com").await;
    let first = ok_json(app.exchange(&f, &code).await).await;
    let a1 = s(&first, "access_token");
    let r1 = s(&first, "refresh_token");
    // One rotation before the replay: its tokens belong to the same grant.
    let second = ok_json(refresh(&app, "customers-web", r1, &[]).await).await;
    let a2 = s(&second, "access_token");
    let r2 = s(&second, "refresh_token");
    assert!(is_active(&app, a1).await && is_active(&app, a2).await);
    assert_eq!(userinfo(&app, a1).await.status(), 200);

    let r = app.exchange(&f, &code).await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");

    for a in [a1, a2] {
        assert!(
            !is_active(&app, a).await,
            "a token bought by the code stays active"
        );
        refused_by_userinfo(&app, a).await;
    }
    let r = refresh(&app, "customers-web", r2, &[]).await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");
    assert!(app.audit_kinds().await.iter().any(|k| k == "code_replay"));
    // Further replays find no code: refused, and no more audit rows (red-team flood).
    for _ in 0..3 {
        let r = app.exchange(&f, &code).await;
        assert_eq!(oauth_error(r, 400).await, "invalid_grant");
    }
    let replays = app.audit_kinds().await;
    assert_eq!(replays.iter().filter(|k| *k == "code_replay").count(), 1);
}

/// Of requests racing each other, exactly one is answered 200 (its body); every other
/// one is `invalid_grant`.
async fn the_one_winner(answers: Vec<reqwest::Response>, what: &str) -> Value {
    let mut winners = Vec::new();
    for r in answers {
        if r.status() == 200 {
            winners.push(r.json::<Value>().await.unwrap());
        } else {
            assert_eq!(oauth_error(r, 400).await, "invalid_grant");
        }
    }
    assert_eq!(winners.len(), 1, "one {what} wins");
    winners.remove(0)
}

/// Redemptions of one code racing each other (on PostgreSQL they run side by side): one
/// wins, and the others are the replay they are, revoking what the code bought.
#[tokio::test]
async fn the_same_code_redeemed_at_once_is_used_once_and_revokes_what_it_bought() {
    let app = spawn_app().await;
    let (code, f) = app
        .signup_code("customers-web", "code-race@example.com")
        .await;
    let answers = futures_util::future::join_all((0..8).map(|_| app.exchange(&f, &code))).await;
    let w = &the_one_winner(answers, "redemption").await;
    assert!(
        !is_active(&app, s(w, "access_token")).await,
        "the losers' replay revoked the winner's tokens"
    );
    let r = refresh(&app, "customers-web", s(w, "refresh_token"), &[]).await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");
    assert!(app.audit_kinds().await.iter().any(|k| k == "code_replay"));
}

#[tokio::test]
async fn a_code_needs_the_pkce_verifier_of_its_challenge() {
    let app = spawn_app().await;
    let (code, _) = app.signup_code("customers-web", "pkce@example.com").await;
    let other = pkce().verifier;
    for verifier in [Some(other.as_str()), None, Some("too-short")] {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("client_id", "customers-web"),
            ("code", code.as_str()),
            ("redirect_uri", "http://localhost:3000/callback"),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        let r = app.post_form("/token", &form).await;
        assert_eq!(oauth_error(r, 400).await, "invalid_grant", "{verifier:?}");
    }
}

#[tokio::test]
async fn a_code_issued_to_one_client_cannot_be_redeemed_by_another() {
    let app = spawn_app().await;
    let (code, f) = app.signup_code("customers-web", "steal@example.com").await;
    for redirect in [
        "http://localhost:3000/callback",
        "http://localhost:4000/callback",
    ] {
        let r = app
            .post_form(
                "/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", "partners-web"),
                    ("code", &code),
                    ("redirect_uri", redirect),
                    ("code_verifier", &f.verifier),
                ],
            )
            .await;
        assert_eq!(oauth_error(r, 400).await, "invalid_grant");
    }
    // Nor by a confidential client that authenticates properly.
    let r = post_basic(
        &app,
        "/token",
        BACKEND,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost:3000/callback"),
            ("code_verifier", &f.verifier),
        ],
    )
    .await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");
}

#[tokio::test]
async fn the_redirect_uri_of_the_exchange_must_match_the_authorization_request() {
    let app = spawn_app().await;
    let (code, f) = app.signup_code("customers-web", "redir@example.com").await;
    for redirect in [
        Some("http://localhost:3000/other"),
        Some("http://localhost:3000/callback/"),
        None,
    ] {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("client_id", "customers-web"),
            ("code", code.as_str()),
            ("code_verifier", f.verifier.as_str()),
        ];
        if let Some(uri) = redirect {
            form.push(("redirect_uri", uri));
        }
        let r = app.post_form("/token", &form).await;
        let e = oauth_error(r, 400).await;
        assert!(
            e == "invalid_grant" || e == "invalid_request",
            "{redirect:?}: {e}"
        );
    }
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let app = spawn_app().await;
    let (code, f) = app.signup_code("customers-web", "late@example.com").await;
    app.state.clock.advance(61);
    let r = app.exchange(&f, &code).await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");
}

// --- Attacks on refresh tokens ---

#[tokio::test]
async fn a_replayed_refresh_token_revokes_the_whole_family() {
    let app = spawn_app().await;
    let t = app
        .signup_tokens("customers-web", "family@example.com")
        .await;
    let r1 = s(&t, "refresh_token");
    let t2 = ok_json(refresh(&app, "customers-web", r1, &[]).await).await;
    let r2 = s(&t2, "refresh_token");
    let a2 = s(&t2, "access_token");
    assert!(is_active(&app, a2).await);

    let r = refresh(&app, "customers-web", r1, &[]).await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");
    let r = refresh(&app, "customers-web", r2, &[]).await;
    assert_eq!(
        oauth_error(r, 400).await,
        "invalid_grant",
        "the legitimate successor dies with its family"
    );
    assert!(
        !is_active(&app, a2).await,
        "the family's access tokens die too"
    );
    assert!(!is_active(&app, r2).await);
    assert!(app
        .audit_kinds()
        .await
        .iter()
        .any(|k| k == "refresh_replay"));
}

/// The signing happens before the rotation is written (outside SQLite's one writer), so
/// uses of one token racing each other all pass the first look: the rotation must still
/// let exactly one through and treat the rest as the replay they are.
#[tokio::test]
async fn the_same_refresh_token_sent_at_once_rotates_once_and_ends_the_family() {
    let app = spawn_app().await;
    let t = app.signup_tokens("customers-web", "race@example.com").await;
    let r1 = s(&t, "refresh_token").to_owned();
    let answers =
        futures_util::future::join_all((0..8).map(|_| refresh(&app, "customers-web", &r1, &[])))
            .await;
    let w = &the_one_winner(answers, "rotation").await;
    assert!(
        !is_active(&app, s(w, "access_token")).await,
        "the losers' replay ended the winner's family too"
    );
    let r = refresh(&app, "customers-web", s(w, "refresh_token"), &[]).await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");
    assert!(app
        .audit_kinds()
        .await
        .iter()
        .any(|k| k == "refresh_replay"));
}

/// A thief who stole a refresh token and rotates it in a tight loop, while the rightful
/// client presents the old token: the replay must end every token the thief holds, even
/// one whose rotation was committing while the family was being revoked.
#[tokio::test]
async fn a_replay_ends_the_family_even_while_a_thief_keeps_rotating_it() {
    for round in 0..3 {
        let app = spawn_app().await;
        let t = app
            .signup_tokens("customers-web", "thief@example.com")
            .await;
        let r1 = s(&t, "refresh_token").to_owned();
        let stolen = ok_json(refresh(&app, "customers-web", &r1, &[]).await).await;
        let mut held = s(&stolen, "refresh_token").to_owned();
        let thief = async {
            // Fewer rotations than a family keeps (10): an older token is forgotten, and
            // presenting it is refused without ending the family (README, Security).
            for _ in 0..8 {
                let r = refresh(&app, "customers-web", &held, &[]).await;
                if r.status() != 200 {
                    break;
                }
                held = s(
                    &r.json::<serde_json::Value>().await.unwrap(),
                    "refresh_token",
                )
                .to_owned();
            }
        };
        let rightful = async {
            tokio::time::sleep(std::time::Duration::from_millis(4 * round)).await;
            let r = refresh(&app, "customers-web", &r1, &[]).await;
            assert_eq!(oauth_error(r, 400).await, "invalid_grant");
        };
        tokio::join!(thief, rightful);
        let r = refresh(&app, "customers-web", &held, &[]).await;
        assert_eq!(
            oauth_error(r, 400).await,
            "invalid_grant",
            "the thief's newest token outlived the family"
        );
    }
}

#[tokio::test]
async fn a_long_lived_family_keeps_only_its_recent_rotated_tokens() {
    let app = spawn_app().await;
    let t = app.signup_tokens("customers-web", "long@example.com").await;
    let mut rt = s(&t, "refresh_token").to_owned();
    let mut recent = Vec::new();
    for _ in 0..15 {
        let next = ok_json(refresh(&app, "customers-web", &rt, &[]).await).await;
        recent.push(std::mem::replace(
            &mut rt,
            s(&next, "refresh_token").to_owned(),
        ));
    }
    let rows = app.scalar("SELECT count(*) FROM refresh_tokens").await;
    assert_eq!(rows, 11, "10 rotated tokens and the live one");
    // A recently rotated token is still recognised as a replay: the family dies.
    let r = refresh(&app, "customers-web", &recent[14], &[]).await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");
    let r = refresh(&app, "customers-web", &rt, &[]).await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");
    assert!(app
        .audit_kinds()
        .await
        .iter()
        .any(|k| k == "refresh_replay"));
}

#[tokio::test]
async fn a_refresh_token_only_works_for_its_own_client() {
    let app = spawn_app().await;
    let t = app
        .signup_tokens("customers-web", "bound@example.com")
        .await;
    let rt = s(&t, "refresh_token");
    let r = refresh(&app, "partners-web", rt, &[]).await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");
    let r = post_basic(
        &app,
        "/token",
        BACKEND,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");
}

#[tokio::test]
async fn a_refresh_may_narrow_the_scope_but_never_widen_it() {
    let app = spawn_app().await;
    let t = app
        .signup_tokens("customers-web", "scope@example.com")
        .await;
    let rt = s(&t, "refresh_token");
    for wider in ["openid orders:read orders:write", "openid admin"] {
        let r = refresh(&app, "customers-web", rt, &[("scope", wider)]).await;
        assert_eq!(oauth_error(r, 400).await, "invalid_scope", "{wider}");
    }
    let narrow = ok_json(
        refresh(
            &app,
            "customers-web",
            rt,
            &[("scope", "openid orders:read")],
        )
        .await,
    )
    .await;
    assert_eq!(narrow["scope"], "openid orders:read");
    assert_eq!(
        claims(s(&narrow, "access_token"))["scope"],
        "openid orders:read"
    );
    // RFC 6749 6: the new refresh token keeps the original grant.
    let full =
        ok_json(refresh(&app, "customers-web", s(&narrow, "refresh_token"), &[]).await).await;
    let mut scope: Vec<&str> = s(&full, "scope").split(' ').collect();
    scope.sort_unstable();
    assert_eq!(scope, ["email", "offline_access", "openid", "orders:read"]);
}

#[tokio::test]
async fn a_refresh_reads_the_current_roles_from_the_store() {
    let app = spawn_app().await;
    let t = app
        .signup_tokens("customers-web", "roles@example.com")
        .await;
    let sub = s(&claims(s(&t, "access_token")), "sub").to_owned();
    assert_eq!(claims(s(&t, "access_token"))["roles"], json!([]));
    let now = app.now();
    let changed = app
        .state
        .idp
        .store
        .read(move |c| portico::store::users::set_roles(c, &sub, &["editor".to_owned()], now))
        .await
        .unwrap();
    assert!(changed);
    let t = ok_json(refresh(&app, "customers-web", s(&t, "refresh_token"), &[]).await).await;
    assert_eq!(claims(s(&t, "access_token"))["roles"], json!(["editor"]));
    assert_eq!(claims(s(&t, "id_token"))["roles"], json!(["editor"]));
}

#[tokio::test]
async fn refresh_tokens_expire_at_the_absolute_lifetime_of_their_grant() {
    let app = spawn_app().await;
    let t = app.signup_tokens("customers-web", "ttl@example.com").await;
    app.state.clock.advance(80_000);
    let t = ok_json(refresh(&app, "customers-web", s(&t, "refresh_token"), &[]).await).await;
    // Rotation does not extend the lifetime: 86400 s after the login it ends.
    app.state.clock.advance(6_401);
    let r = refresh(&app, "customers-web", s(&t, "refresh_token"), &[]).await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");
}

// --- Client authentication ---

#[tokio::test]
async fn a_wrong_client_secret_is_invalid_client_over_basic_and_post() {
    let app = spawn_app().await;
    let form = [("grant_type", "client_credentials")];
    for creds in [(WORKER.0, "wrong-secret"), ("no-such-client", "whatever")] {
        let r = post_basic(&app, "/token", creds, &form).await;
        let challenge = r
            .headers()
            .get("www-authenticate")
            .expect("RFC 6749 5.2: a Basic failure carries a challenge")
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.starts_with("Basic"), "{challenge}");
        assert_eq!(oauth_error(r, 401).await, "invalid_client");
    }
    let r = app
        .post_form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", WORKER.0),
                ("client_secret", "wrong-secret"),
            ],
        )
        .await;
    assert_eq!(oauth_error(r, 401).await, "invalid_client");
    // A confidential client cannot pose as a public one.
    let r = app
        .post_form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", WORKER.0),
            ],
        )
        .await;
    assert_eq!(oauth_error(r, 401).await, "invalid_client");
}

#[tokio::test]
async fn two_client_authentication_methods_at_once_are_an_invalid_request() {
    let app = spawn_app().await;
    let r = post_basic(
        &app,
        "/token",
        WORKER,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", WORKER.0),
            ("client_secret", WORKER.1),
        ],
    )
    .await;
    assert_eq!(oauth_error(r, 400).await, "invalid_request");
}

// --- Access tokens at the resource endpoints ---

#[tokio::test]
async fn an_expired_access_token_is_refused_by_userinfo_and_inactive() {
    let app = spawn_app().await;
    let t = app
        .signup_tokens("customers-web", "expired@example.com")
        .await;
    let at = s(&t, "access_token");
    assert_eq!(userinfo(&app, at).await.status(), 200);
    app.state.clock.advance(901);
    refused_by_userinfo(&app, at).await;
    assert_eq!(introspect(&app, at).await, json!({"active": false}));
}

/// Sign `header.claims` with `sign` into a compact JWS.
fn forge(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!("{}.{}", b64_json(header), b64_json(claims));
    let sig = sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

#[tokio::test]
async fn forged_access_tokens_are_refused_by_userinfo_and_introspection() {
    use josekit::jws::{JwsSigner, ES256, HS256};

    let app = spawn_app().await;
    let t = app
        .signup_tokens("customers-web", "forge@example.com")
        .await;
    let real = s(&t, "access_token");
    let header = header_of(real);
    let kid = s(&header, "kid").to_owned();
    let mut elevated = claims(real);
    elevated["roles"] = json!(["admin"]);
    let mut forged = Vec::new();

    // The real signature over a changed payload.
    let parts: Vec<&str> = real.split('.').collect();
    forged.push(format!("{}.{}.{}", parts[0], b64_json(&elevated), parts[2]));
    // alg=none, with and without a signature part.
    let none = json!({"alg": "none", "typ": "at+jwt", "kid": kid});
    forged.push(format!("{}.{}.", b64_json(&none), b64_json(&elevated)));
    forged.push(format!("{}.{}", b64_json(&none), b64_json(&elevated)));
    // HS256 keyed with the server's public key (algorithm confusion).
    let jwk = jwks(&app).await["keys"][0].clone();
    let hs = json!({"alg": "HS256", "typ": "at+jwt", "kid": kid});
    let x = URL_SAFE_NO_PAD.decode(s(&jwk, "x")).unwrap();
    let y = URL_SAFE_NO_PAD.decode(s(&jwk, "y")).unwrap();
    let raw_point = [&[4u8][..], &x, &y].concat();
    for key in [jwk.to_string().into_bytes(), raw_point] {
        let signer = HS256.signer_from_bytes(&key).unwrap();
        forged.push(forge(&hs, &elevated, |m| signer.sign(m).unwrap()));
    }
    // Another ES256 key claiming the server's kid.
    let pair = ES256.generate_key_pair().unwrap();
    let signer = ES256.signer_from_pem(pair.to_pem_private_key()).unwrap();
    forged.push(forge(&header, &elevated, |m| signer.sign(m).unwrap()));
    // An ID token is not an access token (RFC 9068 typ).
    forged.push(s(&t, "id_token").to_owned());
    forged.push("not-a-jwt".to_owned());

    for token in &forged {
        refused_by_userinfo(&app, token).await;
        assert_eq!(
            introspect(&app, token).await,
            json!({"active": false}),
            "{token}"
        );
    }
    // The untouched token still works: the refusals were the forgeries'.
    assert_eq!(userinfo(&app, real).await.status(), 200);
}

// --- Revocation (RFC 7009) and introspection (RFC 7662) ---

#[tokio::test]
async fn a_revoked_access_token_is_inactive_and_refused_by_userinfo() {
    let app = spawn_app().await;
    let t = app
        .signup_tokens("customers-web", "revoke@example.com")
        .await;
    let at = s(&t, "access_token");
    let before = introspect(&app, at).await;
    assert_eq!(before["active"], true);
    for k in [
        "sub",
        "client_id",
        "aud",
        "scope",
        "iss",
        "exp",
        "iat",
        "token_type",
    ] {
        assert!(before.get(k).is_some(), "introspection lacks {k}");
    }
    let r = revoke(&app, "customers-web", at).await;
    assert_eq!(r.status(), 200);
    assert!(!is_active(&app, at).await);
    refused_by_userinfo(&app, at).await;
}

#[tokio::test]
async fn a_revoked_refresh_token_takes_its_family_with_it() {
    let app = spawn_app().await;
    let t = app
        .signup_tokens("customers-web", "revoke-rt@example.com")
        .await;
    let rt = s(&t, "refresh_token");
    let r = app
        .post_form(
            "/revoke",
            &[
                ("client_id", "customers-web"),
                ("token", rt),
                ("token_type_hint", "refresh_token"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = refresh(&app, "customers-web", rt, &[]).await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");
    assert!(!is_active(&app, s(&t, "access_token")).await);
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_tokens() {
    let app = spawn_app().await;
    let t = app.signup_tokens("customers-web", "mine@example.com").await;
    let at = s(&t, "access_token");
    let rt = s(&t, "refresh_token");
    let r = revoke(&app, "partners-web", at).await;
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = post_basic(&app, "/revoke", BACKEND, &[("token", rt)]).await;
    assert!(r.status().is_client_error(), "{}", r.status());
    assert!(is_active(&app, at).await);
    ok_json(refresh(&app, "customers-web", rt, &[]).await).await;
}

#[tokio::test]
async fn revoking_an_unknown_token_or_with_an_unknown_hint_answers_200() {
    let app = spawn_app().await;
    let r = revoke(&app, "customers-web", "no-such-token").await;
    assert_eq!(r.status(), 200);
    // RFC 7009 2.2: an invalid token_type_hint is ignored.
    let t = app.signup_tokens("customers-web", "hint@example.com").await;
    let at = s(&t, "access_token");
    let r = app
        .post_form(
            "/revoke",
            &[
                ("client_id", "customers-web"),
                ("token", at),
                ("token_type_hint", "id_token"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(!is_active(&app, at).await);
}

#[tokio::test]
async fn introspection_needs_an_authenticated_confidential_client() {
    let app = spawn_app().await;
    let t = app
        .signup_tokens("customers-web", "intro@example.com")
        .await;
    let at = s(&t, "access_token");
    let r = app
        .post_form(
            "/introspect",
            &[("client_id", "customers-web"), ("token", at)],
        )
        .await;
    assert_eq!(oauth_error(r, 401).await, "invalid_client");
    let r = app.post_form("/introspect", &[("token", at)]).await;
    assert_eq!(oauth_error(r, 401).await, "invalid_client");
    let r = post_basic(&app, "/introspect", (BACKEND.0, "wrong"), &[("token", at)]).await;
    assert_eq!(oauth_error(r, 401).await, "invalid_client");
    // Any confidential client may introspect.
    let r = post_basic(&app, "/introspect", WORKER, &[("token", at)]).await;
    assert_eq!(ok_json(r).await["active"], true);
}

// --- client_credentials (RFC 6749 4.4) ---

#[tokio::test]
async fn client_credentials_give_a_machine_token_for_the_api() {
    let app = spawn_app().await;
    let r = post_basic(
        &app,
        "/token",
        WORKER,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(r.headers()["cache-control"], "no-store");
    let t = ok_json(r).await;
    assert!(t.get("refresh_token").is_none() && t.get("id_token").is_none());
    let c = claims(s(&t, "access_token"));
    assert_eq!(c["sub"], "orders-worker");
    assert_eq!(c["client_id"], "orders-worker");
    assert_eq!(c["aud"], API);
    assert_eq!(c["roles"], json!([]));
    assert!(is_active(&app, s(&t, "access_token")).await);
    // Not a user token: userinfo wants openid.
    let r = userinfo(&app, s(&t, "access_token")).await;
    assert_eq!(oauth_error(r, 403).await, "insufficient_scope");

    // client_secret_post and a narrower scope.
    let t = ok_json(
        app.post_form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", WORKER.0),
                ("client_secret", WORKER.1),
                ("resource", API),
                ("scope", "orders:read admin"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(t["scope"], "orders:read");
}

#[tokio::test]
async fn client_credentials_refuse_public_clients_unknown_apis_and_other_grants() {
    let app = spawn_app().await;
    let r = app
        .post_form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "customers-web"),
            ],
        )
        .await;
    assert_eq!(oauth_error(r, 400).await, "unauthorized_client");
    // A confidential client without the grant type.
    let r = post_basic(
        &app,
        "/token",
        BACKEND,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(oauth_error(r, 400).await, "unauthorized_client");
    let r = post_basic(
        &app,
        "/token",
        WORKER,
        &[
            ("grant_type", "client_credentials"),
            ("resource", "https://evil.example"),
        ],
    )
    .await;
    assert_eq!(oauth_error(r, 400).await, "invalid_target");
    for grant in [
        "password",
        "urn:ietf:params:oauth:grant-type:device_code",
        "implicit",
    ] {
        let r = post_basic(&app, "/token", WORKER, &[("grant_type", grant)]).await;
        assert_eq!(
            oauth_error(r, 400).await,
            "unsupported_grant_type",
            "{grant}"
        );
    }
}

// --- Response format ---

#[tokio::test]
async fn token_responses_are_not_cached_and_errors_are_json() {
    let app = spawn_app().await;
    let (code, f) = app.signup_code("customers-web", "fmt@example.com").await;
    let r = app.exchange(&f, &code).await;
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let t = ok_json(r).await;
    let r = userinfo(&app, s(&t, "access_token")).await;
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.status(), 200);

    // A body that is not form-encoded.
    let r = app
        .http
        .post(format!("{}/token", app.base))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(r, 400).await, "invalid_request");
    let r = app
        .post_form("/token", &[("client_id", "customers-web")])
        .await;
    assert_eq!(oauth_error(r, 400).await, "invalid_request");
}

#[tokio::test]
async fn a_repeated_parameter_at_the_token_endpoint_is_an_invalid_request() {
    let app = spawn_app().await;
    let (code, f) = app.signup_code("customers-web", "twice@example.com").await;
    let base = [
        ("grant_type", "authorization_code"),
        ("client_id", "customers-web"),
        ("code", code.as_str()),
        ("redirect_uri", "http://localhost:3000/callback"),
        ("code_verifier", f.verifier.as_str()),
    ];
    for (name, value) in [
        ("grant_type", "authorization_code"),
        ("client_id", "customers-web"),
        ("code", code.as_str()),
        ("redirect_uri", "http://localhost:3000/callback"),
        ("code_verifier", f.verifier.as_str()),
        // Parameters this grant does not read count too (RFC 6749 3.1).
        ("scope", "openid"),
        ("resource", API),
    ] {
        let mut form = base.to_vec();
        form.push((name, value));
        if name == "scope" || name == "resource" {
            form.push((name, value));
        }
        let r = app.post_form("/token", &form).await;
        assert_eq!(oauth_error(r, 400).await, "invalid_request", "{name}");
    }
    // The refusals consumed nothing.
    ok_json(app.exchange(&f, &code).await).await;
}

// --- RP-Initiated Logout 1.0 ---

// --- Housekeeping ---

/// RFC 9700 2.1.1: a code requested without PKCE cannot be redeemed with a verifier
/// (an attacker injecting a stolen code must not be able to add PKCE after the fact).
#[tokio::test]
async fn a_verifier_for_a_code_issued_without_pkce_is_a_downgrade_and_refused() {
    let app = spawn_app().await;
    app.create_user("customers-db", "conf@example.com", PASSWORD, &[])
        .await;
    let code_without_pkce = |b: Browser| async move {
        let q = serde_urlencoded::to_string([
            ("client_id", "backend-app"),
            ("redirect_uri", "http://localhost:5000/cb"),
            ("response_type", "code"),
            ("scope", "openid"),
        ])
        .unwrap();
        let r = b.get(&format!("/authorize?{q}")).await;
        let page = b.get(&location(&r)).await.text().await.unwrap();
        let r = b
            .post_form(
                "/login",
                &[
                    ("tx", &hidden(&page, "tx")),
                    ("csrf", &hidden(&page, "csrf")),
                    ("email", "conf@example.com"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        query_of(&location(&r))["code"].clone()
    };
    let redeem = |code: String, verifier: Option<String>| {
        let http = app.http.clone();
        let url = format!("{}/token", app.base);
        async move {
            let mut form = vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", code),
                ("redirect_uri", "http://localhost:5000/cb".to_owned()),
            ];
            if let Some(v) = verifier {
                form.push(("code_verifier", v));
            }
            http.post(url)
                .basic_auth("backend-app", Some("backend-secret-0123456789"))
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let code = code_without_pkce(app.new_browser()).await;
    let r = redeem(code, Some(pkce().verifier)).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let code = code_without_pkce(app.new_browser()).await;
    assert_eq!(
        redeem(code, None).await.status(),
        200,
        "a confidential client may skip PKCE"
    );
}

/// RFC 8707 2.2: a token request may only name the API the grant covers.
#[tokio::test]
async fn a_token_request_naming_another_api_is_invalid_target() {
    let app = spawn_app().await;
    let (code, f) = app.signup_code("customers-web", "aud@example.com").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", "customers-web"),
        ("code", code.as_str()),
        ("redirect_uri", f.redirect_uri.as_str()),
        ("code_verifier", f.verifier.as_str()),
        ("resource", "https://other.example.com"),
    ];
    let r = app.post_form("/token", &form).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_target"
    );
    let same = [&form[..5], &[("resource", "https://api.example.com")]].concat();
    let r = app.post_form("/token", &same).await;
    assert_eq!(r.status(), 200, "the granted API may be named");
    let t: serde_json::Value = r.json().await.unwrap();
    let refresh = t["refresh_token"].as_str().unwrap();
    let r = app
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "customers-web"),
                ("refresh_token", refresh),
                ("audience", "https://evil.example"),
            ],
        )
        .await;
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_target"
    );
}

// --- The 2026-11-28 review ---

#[tokio::test]
async fn a_used_code_replayed_by_another_client_is_refused_and_revokes_nothing() {
    // L2: anyone holding an old code could revoke the real client's tokens with any
    // public client_id. Only the authenticated owner's replay revokes now.
    let app = spawn_app().await;
    let (code, f) = app.signup_code("backend-app", "owner@example.com").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://localhost:5000/cb"),
        ("code_verifier", f.verifier.as_str()),
    ];
    let t = ok_json(post_basic(&app, "/token", BACKEND, &form).await).await;
    let replay = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://localhost:5000/cb"),
        ("code_verifier", f.verifier.as_str()),
        ("client_id", "customers-web"),
    ];
    let r = app.post_form("/token", &replay).await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");
    assert!(is_active(&app, s(&t, "access_token")).await);
    let r = post_basic(
        &app,
        "/token",
        BACKEND,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", s(&t, "refresh_token")),
        ],
    )
    .await;
    ok_json(r).await;
    assert!(!app.audit_kinds().await.iter().any(|k| k == "code_replay"));
}

#[tokio::test]
async fn introspection_calls_a_deleted_users_token_inactive() {
    // L6: /userinfo refused a deleted user's token while /introspect said active.
    let app = spawn_app().await;
    let t = app.signup_tokens("customers-web", "gone@example.com").await;
    let at = s(&t, "access_token").to_owned();
    assert!(is_active(&app, &at).await);
    app.state
        .idp
        .store
        .read(|c| portico::store::users::delete(c, "customers-db", "gone@example.com"))
        .await
        .unwrap();
    assert!(!is_active(&app, &at).await);
    refused_by_userinfo(&app, &at).await;
    // A machine token has no user behind it and stays active.
    let w = ok_json(
        post_basic(
            &app,
            "/token",
            WORKER,
            &[("grant_type", "client_credentials")],
        )
        .await,
    )
    .await;
    assert!(is_active(&app, s(&w, "access_token")).await);
}

#[tokio::test]
async fn offline_access_is_not_granted_without_a_refresh_token() {
    // S5: customers-admin has no refresh_token grant; offline_access must not be listed.
    let app = spawn_app().await;
    app.signup_code("customers-web", "admin@example.com").await;
    let p = pkce();
    let r = app.authorize("customers-admin", &p, &[]).await;
    let code = query_of(&location(&r))["code"].clone();
    let t = ok_json(
        app.post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "customers-admin"),
                ("code", &code),
                ("redirect_uri", "http://localhost:3001/callback"),
                ("code_verifier", &p.verifier),
            ],
        )
        .await,
    )
    .await;
    assert!(t.get("refresh_token").is_none());
    assert!(!s(&t, "scope").contains("offline_access"), "{t}");
    assert!(!s(&claims(s(&t, "access_token")), "scope").contains("offline_access"));
}

#[tokio::test]
async fn email_claims_need_the_email_scope() {
    // I2 (OIDC Core 5.4): the ID token carried the address without the email scope.
    let app = spawn_app().await;
    // `begin` sends its own scope, so the request is built by hand.
    let b = app.new_browser();
    let p = pkce();
    let qs = serde_urlencoded::to_string([
        ("client_id", "customers-web"),
        ("redirect_uri", "http://localhost:3000/callback"),
        ("response_type", "code"),
        ("scope", "openid"),
        ("nonce", "n"),
        ("code_challenge", p.challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("screen_hint", "signup"),
    ])
    .unwrap();
    let r = b.get(&format!("/authorize?{qs}")).await;
    let page = b.get(&location(&r)).await.text().await.unwrap();
    let r = b
        .post_form(
            "/signup",
            &[
                ("tx", &hidden(&page, "tx")),
                ("csrf", &hidden(&page, "csrf")),
                ("email", "quiet@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let code = query_of(&location(&r))["code"].clone();
    let t = ok_json(
        b.post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "customers-web"),
                ("code", &code),
                ("redirect_uri", "http://localhost:3000/callback"),
                ("code_verifier", &p.verifier),
            ],
        )
        .await,
    )
    .await;
    let id = claims(s(&t, "id_token"));
    assert!(
        id.get("email").is_none() && id.get("email_verified").is_none(),
        "{id}"
    );
    assert!(id["roles"].is_array());
}

#[tokio::test]
async fn clients_get_tokens_only_for_their_apis_and_only_those_apis_scopes() {
    // M6: any client could get tokens for any configured API, with all its scopes.
    let app = spawn_app().await;
    // orders-worker's apis default to its audience: the Billing API is not one of them.
    let r = post_basic(
        &app,
        "/token",
        WORKER,
        &[
            ("grant_type", "client_credentials"),
            ("resource", "https://billing.example.com"),
        ],
    )
    .await;
    assert_eq!(oauth_error(r, 400).await, "invalid_target");
    let r = post_basic(
        &app,
        "/token",
        WORKER,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "orders:read billing:read"),
        ],
    )
    .await;
    assert_eq!(ok_json(r).await["scope"], "orders:read");

    // partners-web may not ask for the Billing API either; customers-web lists it.
    let p = pkce();
    let r = app
        .authorize(
            "partners-web",
            &p,
            &[("resource", "https://billing.example.com")],
        )
        .await;
    assert_eq!(query_of(&location(&r))["error"], "invalid_target");
    let f = app
        .begin(
            "customers-web",
            &[
                ("screen_hint", "signup"),
                ("resource", "https://billing.example.com"),
            ],
        )
        .await;
    let r = app.signup(&f, "billing2@example.com", PASSWORD).await;
    let code = query_of(&location(&r))["code"].clone();
    let t = ok_json(app.exchange(&f, &code).await).await;
    let at = claims(s(&t, "access_token"));
    assert_eq!(at["aud"], "https://billing.example.com");
    assert!(
        !s(&at, "scope").contains("orders:read"),
        "the Orders API scope does not ride on a Billing API token: {at}"
    );
}
