//! Invitations that carry roles, invite-only connections, and blocked users: over HTTP
//! against the real server and store, with the command line where operators use it.

use crate::helpers::*;

/// An invite-only connection with its door, and a rule that shows what it saw.
pub const INVITE_CONFIG: &str = r##"
[[connection]]
name = "invited-db"
signup = "invite"
password_min_length = 10

[[client]]
client_id = "invite-web"
name = "Acme invited partners"
type = "public"
redirect_uris = ["http://localhost:8000/callback"]
connection = "invited-db"
grant_types = ["authorization_code", "refresh_token"]
audience = "https://api.example.com"
initiate_login_uri = "http://localhost:8000/login"
[client.branding]
title = "Acme invited partners"
primary_color = "#b45309"
signup_heading = "Join the partner network"

[[rule]]
name = "show-invitation"
script = '''
if type_of(event.invitation) == "map" {
    api.set_id_token_claim("invitation", event.invitation.id);
    api.set_id_token_claim("invited_roles", event.invitation.roles);
    api.set_id_token_claim("invited_signup", event.signup);
}
'''
"##;

async fn invite_app() -> TestApp {
    TestApp::builder().extra(INVITE_CONFIG).spawn().await
}

/// `portico invite create`: the invitation's id and URL.
fn invite(
    app: &TestApp,
    client: &str,
    email: &str,
    roles: &[&str],
    extra: &[&str],
) -> (String, String) {
    let mut args = vec!["invite", "create", "--client", client, "--email", email];
    for r in roles {
        args.extend(["--role", r]);
    }
    args.extend(extra);
    let (ok, out, err) = portico(&args, &app.config_path);
    assert!(ok, "{err}");
    let id = out.split_whitespace().nth(1).unwrap().to_owned();
    let url = out.lines().nth(1).unwrap().trim().to_owned();
    assert!(
        url.starts_with(&format!("{}/invitation?token=", app.base)),
        "{out}"
    );
    (id, url.strip_prefix(&app.base).unwrap().to_owned())
}

/// Open the invitation page and post its form with this password.
async fn accept(b: &Browser, path: &str, password: &str) -> reqwest::Response {
    let page = b.get(path).await;
    assert_eq!(page.status(), 200, "the invitation page");
    let page = page.text().await.unwrap();
    b.post_form(
        "/invitation",
        &[
            ("token", &hidden(&page, "token")),
            ("csrf", &hidden(&page, "csrf")),
            ("password", password),
        ],
    )
    .await
}

#[tokio::test]
async fn an_invitation_signs_up_with_its_roles_and_the_rules_see_it() {
    let app = invite_app().await;
    let email = "iris@partner.example";
    let (id, path) = invite(&app, "invite-web", email, &["partner", "reports"], &[]);
    let page = app.get(&path).await.text().await.unwrap();
    assert!(page.contains("Join the partner network") && page.contains("Acme invited partners"));
    assert!(
        page.contains(&format!("value=\"{email}\" readonly")),
        "the address is fixed"
    );
    // Sign up through it: on to the client's initiate_login_uri, with a session.
    let r = accept(&app, &path, PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "http://localhost:8000/login");
    // The client starts its login: single sign-on, the roles, and the rules saw the invitation.
    let f_pkce = pkce();
    let r = app.authorize("invite-web", &f_pkce, &[]).await;
    let code = query_of(&location(&r))["code"].clone();
    let t = ok_json(
        app.post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "invite-web"),
                ("code", &code),
                ("redirect_uri", "http://localhost:8000/callback"),
                ("code_verifier", &f_pkce.verifier),
            ],
        )
        .await,
    )
    .await;
    let at = claims(s(&t, "access_token"));
    assert_eq!(at["roles"], serde_json::json!(["partner", "reports"]));
    let id_token = claims(s(&t, "id_token"));
    assert_eq!(id_token["invitation"], id.as_str());
    assert_eq!(
        id_token["invited_roles"],
        serde_json::json!(["partner", "reports"])
    );
    assert_eq!(id_token["invited_signup"], true);
    // Only that first login carries it.
    let r = app.authorize("invite-web", &pkce(), &[]).await;
    let code = query_of(&location(&r))["code"].clone();
    assert!(!code.is_empty());
    // Used once.
    assert_eq!(app.new_browser().get(&path).await.status(), 400);
    let kinds = app.audit_kinds().await;
    assert!(kinds.iter().any(|k| k == "invitation_created"));
    assert!(kinds.iter().any(|k| k == "invitation_accepted"));
}

#[tokio::test]
async fn an_invite_only_connection_refuses_uninvited_sign_ups() {
    let app = invite_app().await;
    // The login page offers no sign-up, and screen_hint=signup shows the login form.
    let f = app.begin("invite-web", &[("screen_hint", "signup")]).await;
    assert!(f.page_url.starts_with("/login?tx="));
    assert!(!f.page.contains("signup-link"));
    // A forged sign-up POST is refused and creates nobody.
    let r = app.signup(&f, "gate@crasher.example", PASSWORD).await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 0);
    // Even with an invitation for that address, the form stays closed: only the link works.
    invite(&app, "invite-web", "gate@crasher.example", &[], &[]);
    let r = app.signup(&f, "gate@crasher.example", PASSWORD).await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 0);
}

#[tokio::test]
async fn expired_revoked_and_reused_invitations_are_refused() {
    let app = invite_app().await;
    let (_, expired) = invite(
        &app,
        "invite-web",
        "late@example.com",
        &["partner"],
        &["--ttl-days", "1"],
    );
    let (revoked_id, revoked) = invite(&app, "invite-web", "gone@example.com", &["partner"], &[]);
    let (_, used) = invite(&app, "invite-web", "once@example.com", &["partner"], &[]);
    let (ok, out, err) = portico(&["invite", "revoke", "--id", &revoked_id], &app.config_path);
    assert!(ok && out.contains("revoked"), "{err}");
    assert_eq!(app.get(&revoked).await.status(), 400);
    // A second tab holding the page of a used invitation cannot use it again.
    let tab1 = app.new_browser();
    let tab2 = app.new_browser();
    let page2 = tab2.get(&used).await.text().await.unwrap();
    assert_eq!(accept(&tab1, &used, PASSWORD).await.status(), 303);
    let r = tab2
        .post_form(
            "/invitation",
            &[
                ("token", &hidden(&page2, "token")),
                ("csrf", &hidden(&page2, "csrf")),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 1);
    // A day and a second later the first one has expired.
    app.state.clock.advance(86_401);
    assert_eq!(app.get(&expired).await.status(), 400);
    // Without the page's CSRF field nothing is accepted.
    let (_, fresh) = invite(&app, "invite-web", "csrf@example.com", &[], &[]);
    let token = fresh.split("token=").nth(1).unwrap();
    let r = app
        .post_form("/invitation", &[("token", token), ("password", PASSWORD)])
        .await;
    assert_eq!(r.status(), 400);
    let (ok, out, _) = portico(
        &["invite", "list", "--client", "invite-web"],
        &app.config_path,
    );
    assert!(ok);
    // (The command line reads the real clock: the expired one still says "open" there.)
    for state in ["revoked", "accepted", "open"] {
        assert!(out.contains(state), "{state} in {out}");
    }
}

#[tokio::test]
async fn an_existing_user_logs_in_to_accept_and_gains_the_roles() {
    let app = invite_app().await;
    let email = "known@partner.example";
    app.create_user("invited-db", email, PASSWORD, &["reader"])
        .await;
    let (_, path) = invite(&app, "invite-web", email, &["partner"], &[]);
    let page = app.get(&path).await.text().await.unwrap();
    assert!(page.contains("Log in to accept the invitation"), "{page}");
    // A wrong password: the same answer as any login, and the invitation stays open.
    let r = accept(&app, &path, "not-the-password-at-all").await;
    assert_eq!(r.status(), 401);
    let r = accept(&app, &path, PASSWORD).await;
    assert_eq!(r.status(), 303);
    let roles = app
        .state
        .idp
        .store
        .read(|db| portico::store::users::find_by_email(db, "invited-db", "known@partner.example"))
        .await
        .unwrap()
        .unwrap()
        .roles;
    assert_eq!(roles, vec!["reader".to_owned(), "partner".to_owned()]);
    // The invitation is bound to its connection: nobody appeared elsewhere.
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 1);
}

#[tokio::test]
async fn an_invitation_for_an_unknown_client_or_bad_role_is_refused() {
    let app = invite_app().await;
    let (ok, _, err) = portico(
        &[
            "invite",
            "create",
            "--client",
            "invite-webb",
            "--email",
            "a@b.example",
        ],
        &app.config_path,
    );
    assert!(!ok && err.contains("did you mean"), "{err}");
    let (ok, _, err) = portico(
        &[
            "invite",
            "create",
            "--client",
            "invite-web",
            "--email",
            "a@b.example",
            "--role",
            "bad role",
        ],
        &app.config_path,
    );
    assert!(!ok && err.contains("role"), "{err}");
}

#[tokio::test]
async fn blocking_a_user_ends_their_tokens_and_sessions_at_once() {
    let app = spawn_app().await;
    let email = "blocked@example.com";
    let t = app.signup_tokens("customers-web", email).await;
    let (at, rt) = (
        s(&t, "access_token").to_owned(),
        s(&t, "refresh_token").to_owned(),
    );
    assert!(is_active(&app, &at).await);
    let (ok, _, err) = portico(
        &[
            "users",
            "block",
            "--connection",
            "customers-db",
            "--email",
            email,
        ],
        &app.config_path,
    );
    assert!(ok, "{err}");
    // The live refresh token, the access token, the SSO session: all refused now.
    let r = refresh(&app, "customers-web", &rt, &[]).await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");
    assert!(!is_active(&app, &at).await);
    refused_by_userinfo(&app, &at).await;
    let r = app.authorize("customers-web", &pkce(), &[]).await;
    assert!(
        location(&r).starts_with("/login?tx="),
        "the session was ended"
    );
    // The right password gets the "blocked" page; a wrong one the usual answer.
    let f = app.begin("customers-web", &[]).await;
    let r = app.login(&f, email, PASSWORD).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("This account is blocked"));
    let r = app.login(&f, email, "wrong-password-here").await;
    assert_eq!(r.status(), 401);
    assert!(app.audit_kinds().await.iter().any(|k| k == "user_blocked"));
    // Unblocked, the password works again.
    let (ok, _, err) = portico(
        &[
            "users",
            "unblock",
            "--connection",
            "customers-db",
            "--email",
            email,
        ],
        &app.config_path,
    );
    assert!(ok, "{err}");
    app.new_browser()
        .login_code("customers-web", email, PASSWORD)
        .await;
}
