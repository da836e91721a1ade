//! Post-login rules through real HTTP flows, and `portico rules test`.

use std::process::Command;

use crate::helpers::*;

const STORY: &str = r#"
[[rule]]
name = "role-from-client"
script = '''
switch event.client.id {
    "partners-web" => api.add_role("partner"),
    "customers-web" => api.add_role("customer"),
}
'''

[[rule]]
name = "signup-source-claim"
script = '''
if event.signup && "signup_source" in event.request.query {
    api.set_access_token_claim("signup_source", event.request.query.signup_source);
    api.set_id_token_claim("signup_source", event.request.query.signup_source);
}
'''

[[rule]]
name = "no-blocked-domain"
script = '''
if event.user.email.ends_with("@blocked.example") { api.deny("this domain may not sign in"); }
'''

[[rule]]
name = "after-deny"
script = '''
if event.user.email.ends_with("@blocked.example") { api.add_role("should-not-happen"); }
'''
"#;

#[tokio::test]
async fn signing_up_through_the_partner_site_gives_role_partner_in_the_same_logins_tokens() {
    let app = TestApp::builder().extra(STORY).spawn().await;
    let t = app.signup_tokens("partners-web", "pat@example.com").await;
    let at = claims(t["access_token"].as_str().unwrap());
    let id = claims(t["id_token"].as_str().unwrap());
    assert_eq!(at["roles"], serde_json::json!(["partner"]));
    assert_eq!(id["roles"], serde_json::json!(["partner"]));
    // Persisted: the stored user has the role.
    let u = app
        .state
        .idp
        .store
        .read(|c| portico::store::users::find_by_email(c, "partners-db", "pat@example.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.roles, vec!["partner"]);

    let c = app
        .new_browser()
        .signup_tokens("customers-web", "cat@example.com")
        .await;
    assert_eq!(
        claims(c["access_token"].as_str().unwrap())["roles"],
        serde_json::json!(["customer"])
    );
}

#[tokio::test]
async fn a_signup_link_may_carry_data_that_a_rule_copies_into_a_claim() {
    let app = TestApp::builder().extra(STORY).spawn().await;
    let f = app
        .begin(
            "customers-web",
            &[("screen_hint", "signup"), ("signup_source", "newsletter")],
        )
        .await;
    let r = app.signup(&f, "news@example.com", PASSWORD).await;
    let code = query_of(&location(&r))["code"].clone();
    let t: serde_json::Value = app.exchange(&f, &code).await.json().await.unwrap();
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["signup_source"],
        "newsletter"
    );
    assert_eq!(
        claims(t["id_token"].as_str().unwrap())["signup_source"],
        "newsletter"
    );
    // Not a sign-up: no claim.
    let b = app.new_browser();
    let f = b
        .begin("customers-web", &[("signup_source", "newsletter")])
        .await;
    let r = b.login(&f, "news@example.com", PASSWORD).await;
    let code = query_of(&location(&r))["code"].clone();
    let t: serde_json::Value = b.exchange(&f, &code).await.json().await.unwrap();
    assert!(claims(t["access_token"].as_str().unwrap())
        .get("signup_source")
        .is_none());
}

#[tokio::test]
async fn deny_sends_access_denied_with_the_reason_and_keeps_the_signed_up_user() {
    let app = TestApp::builder().extra(STORY).spawn().await;
    let f = app
        .begin("partners-web", &[("screen_hint", "signup")])
        .await;
    let r = app.signup(&f, "eve@blocked.example", PASSWORD).await;
    assert_eq!(r.status(), 303);
    let q = query_of(&location(&r));
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["error_description"], "this domain may not sign in");
    assert_eq!(q["state"], "st-123");
    assert!(!q.contains_key("code"));
    let u = app
        .state
        .idp
        .store
        .read(|c| portico::store::users::find_by_email(c, "partners-db", "eve@blocked.example"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        !u.roles.contains(&"should-not-happen".to_owned()),
        "deny stops the later rules"
    );
    assert!(app.audit_kinds().await.contains(&"rule_denied".to_owned()));
    // No session was created: prompt=none still needs a login.
    let r = app
        .authorize("partners-web", &pkce(), &[("prompt", "none")])
        .await;
    assert_eq!(query_of(&location(&r))["error"], "login_required");
}

#[tokio::test]
async fn a_failing_rule_denies_the_login_and_is_audited() {
    let app = TestApp::builder()
        .extra(
            r#"
[[rule]]
name = "endless"
script = "loop { }"
"#,
        )
        .spawn()
        .await;
    let f = app
        .begin("customers-web", &[("screen_hint", "signup")])
        .await;
    let r = app.signup(&f, "loop@example.com", PASSWORD).await;
    let q = query_of(&location(&r));
    assert_eq!(q["error"], "access_denied");
    assert!(
        !q["error_description"].contains("loop"),
        "the reason stays in the logs"
    );
    assert!(app.audit_kinds().await.contains(&"rule_failed".to_owned()));
}

#[tokio::test]
async fn a_rule_setting_a_registered_claim_denies_the_login() {
    let app = TestApp::builder()
        .extra(
        "[[rule]]\nname = \"forge\"\nscript = 'api.set_access_token_claim(\"sub\", \"admin\");'\n",
    )
        .spawn()
        .await;
    let f = app
        .begin("customers-web", &[("screen_hint", "signup")])
        .await;
    let r = app.signup(&f, "forge@example.com", PASSWORD).await;
    assert_eq!(query_of(&location(&r))["error"], "access_denied");
}

#[tokio::test]
async fn rules_also_run_on_single_sign_on() {
    let app = TestApp::builder().extra(STORY).spawn().await;
    app.signup_code("customers-web", "sso@example.com").await;
    let p = pkce();
    let r = app.authorize("customers-web", &p, &[]).await;
    let code = query_of(&location(&r))["code"].clone();
    let r = app
        .post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "customers-web"),
                ("code", &code),
                ("redirect_uri", "http://localhost:3000/callback"),
                ("code_verifier", &p.verifier),
            ],
        )
        .await;
    let t: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["roles"],
        serde_json::json!(["customer"])
    );
}

fn rules_test(config: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["rules", "test", "--config"])
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn rules_test_dry_runs_without_touching_the_database() {
    let app = TestApp::builder().extra(STORY).spawn().await;
    let (ok, out) = rules_test(
        &app.config_path,
        &[
            "--client",
            "partners-web",
            "--email",
            "a@example.com",
            "--signup",
            "--query",
            "signup_source=newsletter",
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("roles: [\"partner\"]"), "{out}");
    assert!(out.contains("\"signup_source\":\"newsletter\""), "{out}");

    let (ok, out) = rules_test(
        &app.config_path,
        &[
            "--client",
            "customers-web",
            "--email",
            "a@example.com",
            "--role",
            "vip",
        ],
    );
    assert!(ok);
    assert!(out.contains("roles: [\"vip\",\"customer\"]"), "{out}");

    let (ok, out) = rules_test(
        &app.config_path,
        &["--client", "partners-web", "--email", "x@blocked.example"],
    );
    assert!(!ok);
    assert!(out.contains("denied: this domain may not sign in"), "{out}");

    let users = app
        .state
        .idp
        .store
        .read(|c| portico::store::users::list(c, "partners-db"))
        .await
        .unwrap();
    assert!(users.is_empty(), "a dry run creates nobody");
}

#[test]
fn the_demo_configuration_tells_the_story() {
    let (ok, out) = rules_test(
        std::path::Path::new("portico.toml"),
        &[
            "--client",
            "partners-web",
            "--email",
            "p@example.com",
            "--signup",
            "--query",
            "signup_source=newsletter",
        ],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("roles: [\"partner\"]") && out.contains("newsletter"),
        "{out}"
    );
    let (ok, out) = rules_test(
        std::path::Path::new("portico.toml"),
        &["--client", "customers-web", "--email", "c@example.com"],
    );
    assert!(ok && out.contains("roles: [\"customer\"]"), "{out}");
}

#[tokio::test]
async fn a_rule_that_sleeps_is_cut_off_and_denies() {
    // L1: Rhai's sleep() ignored the wall-clock limit and held a thread.
    let app = TestApp::builder()
        .extra(
            r#"
[[rule]]
name = "sleeper"
script = '''
sleep(30);
'''
"#,
        )
        .spawn()
        .await;
    let f = app
        .begin("customers-web", &[("screen_hint", "signup")])
        .await;
    let r = app.signup(&f, "sleepy@example.com", PASSWORD).await;
    let q = query_of(&location(&r));
    assert_eq!(q["error"], "access_denied");
    assert!(app.audit_kinds().await.iter().any(|k| k == "rule_failed"));
}
