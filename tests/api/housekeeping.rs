//! Housekeeping: what expires is purged, what lives stays.

use crate::helpers::*;

/// How many rows `purge_expired` would delete at `at`, without deleting them.
async fn expired_rows_at(app: &TestApp, at: i64) -> usize {
    app.state
        .idp
        .store
        .rehearse(move |db| portico::store::purge_expired(db, at, 90 * 86_400))
        .await
        .unwrap()
}

#[tokio::test]
async fn housekeeping_purges_expired_codes_and_tokens_and_keeps_live_ones() {
    let app = spawn_app().await;
    // A code never redeemed, a token family, a revoked access token.
    let (_unused, _) = app.signup_code("customers-web", "old@example.com").await;
    let b = app.new_browser();
    let t = b.signup_tokens("customers-web", "older@example.com").await;
    assert_eq!(
        revoke(&b, "customers-web", s(&t, "access_token"))
            .await
            .status(),
        200
    );
    assert_eq!(
        expired_rows_at(&app, app.now()).await,
        0,
        "nothing expired yet"
    );
    let later = app.now() + 86_401;
    assert!(expired_rows_at(&app, later).await >= 4);

    app.state.clock.advance(86_401);
    // Fresh state created after the jump must survive.
    let fresh = app
        .new_browser()
        .signup_tokens("customers-web", "fresh@example.com")
        .await;
    portico::startup::run_housekeeping(&app.state)
        .await
        .unwrap();
    assert_eq!(
        expired_rows_at(&app, app.now()).await,
        0,
        "housekeeping left expired rows"
    );

    let r = refresh(&b, "customers-web", s(&t, "refresh_token"), &[]).await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");
    ok_json(refresh(&app, "customers-web", s(&fresh, "refresh_token"), &[]).await).await;
}
