//! Upstream connections against a real upstream: a second Portico server on another
//! host name (`localhost` against `127.0.0.1`, so the two keep their own cookies), with
//! Portico as its relying party through the `openidconnect` crate.

use std::net::TcpListener;

use serde_json::json;

use crate::helpers::*;

pub const RP_SECRET: &str = "portico-rp-secret-0123456789";

/// The upstream: a Portico whose `staff-db` users sign in for the downstream's
/// `portico-rp` (and `portico-invite`) clients.
pub fn upstream_config(downstream: &str) -> String {
    format!(
        r##"
[[client]]
client_id = "portico-rp"
name = "Portico (downstream)"
type = "confidential"
client_secret = "{RP_SECRET}"
redirect_uris = ["{downstream}/upstream/acme-sso/callback"]
connection = "staff-db"
grant_types = ["authorization_code"]
[client.branding]
title = "Acme staff SSO"
primary_color = "#334155"

[[client]]
client_id = "portico-invite"
type = "confidential"
client_secret = "{RP_SECRET}"
redirect_uris = ["{downstream}/upstream/acme-invite/callback"]
connection = "staff-db"
grant_types = ["authorization_code"]
"##
    )
}

/// The downstream: `sso-web` offers its partner database and "Continue with Acme SSO";
/// a rule makes everyone from the SSO a partner and shows what it saw.
pub fn downstream_config(upstream: &str, dead: u16) -> String {
    format!(
        r##"
[[connection]]
name = "acme-sso"
kind = "oidc"
issuer = "{upstream}"
client_id = "portico-rp"
client_secret = "{RP_SECRET}"
scopes = ["openid", "email"]
button_label = "Continue with Acme SSO"
signup = "open"
trust_email = true

[[connection]]
name = "acme-invite"
kind = "oidc"
issuer = "{upstream}"
client_id = "portico-invite"
client_secret = "{RP_SECRET}"
signup = "invite"

[[connection]]
name = "dead-sso"
kind = "oidc"
issuer = "http://127.0.0.1:{dead}"
client_id = "nobody"
client_secret = "nobody-secret-0123456789"
button_label = "Continue with Dead SSO"
signup = "open"

[[client]]
client_id = "sso-web"
name = "Acme partners with SSO"
type = "public"
redirect_uris = ["http://localhost:9200/callback"]
connections = ["partners-db", "acme-sso", "acme-invite", "dead-sso"]
grant_types = ["authorization_code", "refresh_token"]
audience = "https://api.example.com"
[client.branding]
title = "Acme partner network"
primary_color = "#7c3aed"

[[client]]
client_id = "sso-only"
type = "public"
redirect_uris = ["http://localhost:9300/callback"]
connections = ["acme-sso"]
grant_types = ["authorization_code"]

[[rule]]
name = "sso-partners"
script = '''
if event.connection.kind == "oidc" {{
    api.add_role("partner");
    if type_of(event.upstream) == "map" {{
        api.set_id_token_claim("upstream_iss", event.upstream.iss);
        api.set_id_token_claim("upstream_sub", event.upstream.sub);
    }}
}}
'''
"##
    )
}

pub struct Pair {
    pub up: TestApp,
    pub down: TestApp,
    /// The upstream's issuer (its host name differs from the downstream's).
    pub issuer: String,
}

fn bind() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// An upstream at http://localhost:P1 and a downstream at http://127.0.0.1:P2.
pub async fn pair(extra_down: &str) -> Pair {
    let (ul, up_port) = bind();
    let (dl, down_port) = bind();
    let dead = bind().1;
    let up_base = format!("http://localhost:{up_port}");
    let down_base = format!("http://127.0.0.1:{down_port}");
    let up = TestApp::builder()
        .listener(ul)
        .issuer(&up_base)
        .extra(&upstream_config(&down_base))
        .spawn()
        .await;
    let down = TestApp::builder()
        .listener(dl)
        .extra(&downstream_config(&up_base, dead))
        .extra(PLAYGROUND)
        .extra(extra_down)
        .spawn()
        .await;
    Pair {
        up,
        down,
        issuer: up_base,
    }
}

/// A browser that follows nothing and keeps cookies for both hosts.
fn browser(base: &str) -> Browser {
    Browser {
        http: new_http(),
        base: base.to_owned(),
    }
}

/// Leave the downstream's login page for the upstream: the upstream's authorization URL.
async fn leave_for(b: &Browser, client: &str, connection: &str) -> (Flow, String) {
    let f = b.begin(client, &[]).await;
    let r = b
        .post_form(
            "/upstream/start",
            &[("tx", &f.tx), ("csrf", &f.csrf), ("connection", connection)],
        )
        .await;
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    let to = location(&r);
    (f, to)
}

/// Sign in at the upstream's own page: the callback URL it sends the browser to.
async fn sign_in_upstream(b: &Browser, authorize_url: &str, email: &str) -> String {
    let r = b.get(authorize_url).await;
    assert_eq!(r.status(), 303);
    let page_url = location(&r);
    if page_url.starts_with("http") {
        return page_url; // the upstream's own single sign-on: straight back
    }
    let up_base = authorize_url.split("/authorize").next().unwrap();
    let page = b
        .get(&format!("{up_base}{page_url}"))
        .await
        .text()
        .await
        .unwrap();
    let r = b
        .http
        .post(format!("{up_base}/login"))
        .form(&[
            ("tx", hidden(&page, "tx")),
            ("csrf", hidden(&page, "csrf")),
            ("email", email.to_owned()),
            ("password", PASSWORD.to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "upstream login: {:?}", r.text().await);
    location(&r)
}

async fn exchange_at(b: &Browser, f: &Flow, callback: &str) -> serde_json::Value {
    let q = query_of(callback);
    let code = q
        .get("code")
        .unwrap_or_else(|| panic!("no code in {callback}"));
    ok_json(b.exchange(f, code).await).await
}

#[tokio::test]
async fn continue_with_the_company_sso_signs_in_and_the_api_trusts_it() {
    let p = pair("").await;
    p.up.create_user("staff-db", "sam@acme.example", PASSWORD, &[])
        .await;
    let b = browser(&p.down.base);
    let (f, to) = leave_for(&b, "sso-web", "acme-sso").await;
    assert!(to.starts_with(&format!("{}/authorize?", p.issuer)), "{to}");
    let q = query_of(&to);
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q.contains_key("state") && q.contains_key("nonce"));
    assert_eq!(
        q["redirect_uri"],
        format!("{}/upstream/acme-sso/callback", p.down.base)
    );
    let callback = sign_in_upstream(&b, &to, "sam@acme.example").await;
    assert!(callback.starts_with(&format!("{}/upstream/acme-sso/callback?", p.down.base)));
    assert_eq!(
        query_of(&callback)["iss"],
        p.issuer,
        "the upstream sends iss (RFC 9207)"
    );
    let r = b.get(&callback).await;
    assert_eq!(r.status(), 303);
    let back = location(&r);
    assert!(
        back.starts_with("http://localhost:9200/callback?code="),
        "{back}"
    );
    let t = exchange_at(&b, &f, &back).await;
    let at = claims(s(&t, "access_token"));
    let id = claims(s(&t, "id_token"));
    assert_eq!(at["roles"], json!(["partner"]));
    assert_eq!(id["email"], "sam@acme.example");
    assert_eq!(
        id["email_verified"], false,
        "the upstream user never verified the address"
    );
    assert_eq!(id["upstream_iss"], p.issuer.as_str());
    // The Orders API (the demo verifier, through discovery and JWKS) answers.
    let r = b
        .http
        .get(format!("{}/demo-api/partner/reports", p.down.base))
        .bearer_auth(s(&t, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The session is the SSO connection's: the next login through it needs no trip.
    let r = b.authorize("sso-web", &pkce(), &[]).await;
    assert!(location(&r).starts_with("http://localhost:9200/callback?code="));
    // The same upstream user again is the same user here.
    let b2 = browser(&p.down.base);
    let (f2, to) = leave_for(&b2, "sso-web", "acme-sso").await;
    let callback = sign_in_upstream(&b2, &to, "sam@acme.example").await;
    let back = location(&b2.get(&callback).await);
    let t2 = exchange_at(&b2, &f2, &back).await;
    assert_eq!(claims(s(&t2, "id_token"))["sub"], id["sub"]);
}

#[tokio::test]
async fn an_upstream_user_is_never_an_existing_account_with_the_same_address() {
    let p = pair("").await;
    let email = "dual@acme.example";
    let local = p
        .down
        .create_user("partners-db", email, PASSWORD, &["local"])
        .await;
    p.up.create_user("staff-db", email, PASSWORD, &[]).await;
    let b = browser(&p.down.base);
    let (f, to) = leave_for(&b, "sso-web", "acme-sso").await;
    let callback = sign_in_upstream(&b, &to, email).await;
    let back = location(&b.get(&callback).await);
    let t = exchange_at(&b, &f, &back).await;
    let id = claims(s(&t, "id_token"));
    assert_ne!(id["sub"], local.as_str(), "matched by e-mail");
    assert_eq!(
        claims(s(&t, "access_token"))["roles"],
        json!(["partner"]),
        "not the local roles"
    );
}

#[tokio::test]
async fn forged_and_replayed_callbacks_are_refused() {
    let p = pair("").await;
    p.up.create_user("staff-db", "eve@acme.example", PASSWORD, &[])
        .await;
    let b = browser(&p.down.base);
    // A state nobody issued.
    let r = b
        .get("/upstream/acme-sso/callback?code=x&state=forged")
        .await;
    assert_eq!(r.status(), 400);
    // A real response, but in another browser: refused (and the round trip is spent).
    let (_, to) = leave_for(&b, "sso-web", "acme-sso").await;
    let callback = sign_in_upstream(&b, &to, "eve@acme.example").await;
    let thief = browser(&p.down.base);
    let r = thief.get(&callback).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("another browser"));
    assert_eq!(b.get(&callback).await.status(), 400, "spent");
    // A response naming another issuer (mix-up): access_denied to the client.
    let (_, to) = leave_for(&b, "sso-web", "acme-sso").await;
    let callback = sign_in_upstream(&b, &to, "eve@acme.example").await;
    let mixed = callback.replace(
        &format!("iss={}", urlencode(&p.issuer)),
        &format!("iss={}", urlencode("https://evil.example")),
    );
    assert_ne!(mixed, callback);
    let r = b.get(&mixed).await;
    let q = query_of(&location(&r));
    assert_eq!(q["error"], "access_denied");
    // Replaying a good callback after it completed.
    let (_, to) = leave_for(&b, "sso-web", "acme-sso").await;
    let callback = sign_in_upstream(&b, &to, "eve@acme.example").await;
    assert_eq!(b.get(&callback).await.status(), 303);
    assert_eq!(b.get(&callback).await.status(), 400);
    // The upstream said no: access_denied to the client, audited.
    let b = browser(&p.down.base);
    let (_, to) = leave_for(&b, "sso-web", "acme-sso").await;
    let state = query_of(&to)["state"].clone();
    let r = b
        .get(&format!(
            "/upstream/acme-sso/callback?error=access_denied&state={}",
            urlencode(&state)
        ))
        .await;
    assert_eq!(query_of(&location(&r))["error"], "access_denied");
    // A code for the right state but a code the upstream never issued.
    let (_, to) = leave_for(&b, "sso-web", "acme-sso").await;
    let state = query_of(&to)["state"].clone();
    let r = b
        .get(&format!(
            "/upstream/acme-sso/callback?code=not-a-code&state={}&iss={}",
            urlencode(&state),
            urlencode(&p.issuer)
        ))
        .await;
    assert_eq!(query_of(&location(&r))["error"], "access_denied");
    let kinds = p.down.audit_kinds().await;
    assert!(
        kinds.iter().filter(|k| *k == "upstream_failed").count() >= 4,
        "{kinds:?}"
    );
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)]).unwrap()[2..].to_owned()
}

#[tokio::test]
async fn id_tokens_for_another_audience_or_nonce_are_refused() {
    let p = pair("").await;
    let settings = p.down.state.idp.settings();
    let conn = settings
        .connections
        .iter()
        .find(|c| c.name.as_str() == "acme-sso")
        .unwrap();
    p.up.create_user("staff-db", "ann@acme.example", PASSWORD, &[])
        .await;
    // A real ID token of the upstream, for its customers-web (another audience).
    let other =
        p.up.signup_tokens("customers-web", "ann-c@acme.example")
            .await;
    let now = p.down.now();
    let e = portico::idp::upstream::callback::verify_id_token(
        &p.down.state.idp,
        conn,
        s(&other, "id_token"),
        "n-456",
        now,
    )
    .await
    .unwrap_err();
    assert!(e.contains("udience"), "{e}");
    // One for portico-rp, with nonce n-456: the right nonce passes, another does not.
    let b = p.up.new_browser();
    let redirect = format!("{}/upstream/acme-sso/callback", p.down.base);
    let pk = pkce();
    let q = serde_urlencoded::to_string([
        ("client_id", "portico-rp"),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid email"),
        ("nonce", "n-456"),
        ("code_challenge", pk.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    let callback = sign_in_upstream(
        &b,
        &format!("{}/authorize?{q}", p.issuer),
        "ann@acme.example",
    )
    .await;
    let code = query_of(&callback)["code"].clone();
    let r = post_basic(
        &b,
        "/token",
        ("portico-rp", RP_SECRET),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", &pk.verifier),
        ],
    )
    .await;
    let t = ok_json(r).await;
    let raw = s(&t, "id_token");
    let ok = portico::idp::upstream::callback::verify_id_token(
        &p.down.state.idp,
        conn,
        raw,
        "n-456",
        now,
    )
    .await;
    assert!(ok.is_ok(), "{ok:?}");
    let e = portico::idp::upstream::callback::verify_id_token(
        &p.down.state.idp,
        conn,
        raw,
        "another",
        now,
    )
    .await
    .unwrap_err();
    assert!(e.to_lowercase().contains("nonce"), "{e}");
    // A token whose signature was tampered with.
    let mut parts: Vec<String> = raw.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    let e = portico::idp::upstream::callback::verify_id_token(
        &p.down.state.idp,
        conn,
        &parts.join("."),
        "n-456",
        now,
    )
    .await;
    assert!(e.is_err());
}

#[tokio::test]
async fn an_invite_only_upstream_needs_an_invitation_for_a_verified_address() {
    let p = pair("").await;
    let email = "guest@acme.example";
    let uid = p.up.create_user("staff-db", email, PASSWORD, &[]).await;
    let b = browser(&p.down.base);
    // Not invited: access_denied, and nobody was made.
    let (_, to) = leave_for(&b, "sso-web", "acme-invite").await;
    let callback = sign_in_upstream(&b, &to, email).await;
    let r = b.get(&callback).await;
    assert_eq!(query_of(&location(&r))["error"], "access_denied");
    assert_eq!(
        p.down
            .scalar("SELECT count(*) FROM users WHERE connection = 'acme-invite'")
            .await,
        0
    );
    // Invited, but the upstream never verified the address: still no.
    let (ok, _, err) = portico(
        &[
            "invite", "create", "--client", "sso-web", "--email", email, "--role", "vip",
        ],
        &p.down.config_path,
    );
    // sso-web's own connection is partners-db; an invitation for the upstream one is made
    // in the store (the command line invites through a client's database connection).
    assert!(ok, "{err}");
    let inv_conn = p
        .down
        .state
        .idp
        .store
        .write(|db| {
            db.execute("UPDATE invitations SET connection = 'acme-invite'", &[])?;
            Ok(())
        })
        .await;
    inv_conn.unwrap();
    let (_, to) = leave_for(&b, "sso-web", "acme-invite").await;
    let callback = sign_in_upstream(&b, &to, email).await;
    let r = b.get(&callback).await;
    assert_eq!(query_of(&location(&r))["error"], "access_denied");
    // Verified at the upstream: the invitation is claimed, with its roles.
    let id = uid.clone();
    p.up.state
        .idp
        .store
        .write(move |db| portico::store::users::set_email_verified(db, &id, 0))
        .await
        .unwrap();
    let (f, to) = leave_for(&b, "sso-web", "acme-invite").await;
    let callback = sign_in_upstream(&b, &to, email).await;
    let back = location(&b.get(&callback).await);
    let t = exchange_at(&b, &f, &back).await;
    let roles = claims(s(&t, "access_token"))["roles"].clone();
    assert!(roles.as_array().unwrap().contains(&json!("vip")), "{roles}");
    assert_eq!(
        p.down
            .scalar("SELECT count(*) FROM invitations WHERE accepted_at IS NOT NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn an_upstream_that_is_down_gets_a_branded_page_never_a_5xx_from_the_callback() {
    let p = pair("").await;
    let b = browser(&p.down.base);
    let f = b.begin("sso-web", &[]).await;
    assert!(f.page.contains("Continue with Dead SSO") && f.page.contains("Continue with Acme SSO"));
    let r = b
        .post_form(
            "/upstream/start",
            &[("tx", &f.tx), ("csrf", &f.csrf), ("connection", "dead-sso")],
        )
        .await;
    assert_eq!(r.status(), 503);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Acme partner network") && page.contains("not reachable"),
        "{page}"
    );
    // connection=dead-sso on /authorize: the same page.
    let r = b
        .authorize("sso-web", &pkce(), &[("connection", "dead-sso")])
        .await;
    assert_eq!(r.status(), 503);
    // A connection the client does not have: invalid_request to the client.
    let r = b
        .authorize("sso-web", &pkce(), &[("connection", "customers-db")])
        .await;
    assert_eq!(query_of(&location(&r))["error"], "invalid_request");
    // Without the CSRF field the button does nothing.
    let r = b
        .post_form(
            "/upstream/start",
            &[("tx", &f.tx), ("connection", "acme-sso")],
        )
        .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn connection_on_authorize_or_an_sso_only_client_goes_straight_to_the_upstream() {
    let p = pair("").await;
    let b = browser(&p.down.base);
    let r = b
        .authorize("sso-web", &pkce(), &[("connection", "acme-sso")])
        .await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with(&format!("{}/authorize?", p.issuer)));
    // A client with only an upstream connection shows no form of Portico's at all.
    let pk = pkce();
    let q = serde_urlencoded::to_string([
        ("client_id", "sso-only"),
        ("redirect_uri", "http://localhost:9300/callback"),
        ("response_type", "code"),
        ("scope", "openid"),
        ("code_challenge", pk.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    let r = b.get(&format!("/authorize?{q}")).await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with(&format!("{}/authorize?", p.issuer)));
}

#[tokio::test]
async fn continue_with_acme_sso_in_the_browser() {
    use crate::browser::{
        authorize_url, drive, fill, find, screenshot, start_browser, wait_text, wait_url,
    };
    let test = "upstream-sso";
    let Some((_driver, client)) = start_browser(test).await else {
        return;
    };
    let p = pair("").await;
    p.up.create_user("staff-db", "una@acme.example", PASSWORD, &[])
        .await;
    let (base, issuer) = (p.down.base.clone(), p.issuer.clone());
    let http = p.down.new_browser();

    drive(test, client, move |c| async move {
        let pk = pkce();
        c.goto(&authorize_url(&base, "sso-web", "st-sso", &pk))
            .await
            .unwrap();
        wait_url(&c, "/login", |u| u.path() == "/login").await;
        let button = find(&c, "button#upstream-acme-sso").await;
        assert_eq!(
            button.text().await.unwrap().trim(),
            "Continue with Acme SSO"
        );
        screenshot(&c, "partners-login-with-sso.png").await;
        button.click().await.unwrap();
        // The upstream's own login page, in its own brand.
        wait_url(&c, "the upstream's login page", |u| {
            u.as_str().starts_with(&format!("{issuer}/login"))
        })
        .await;
        wait_text(&c, "h1", "Log in").await;
        assert_eq!(
            crate::browser::text_of(&c, ".brand-title").await,
            "Acme staff SSO"
        );
        fill(&c, "input[name=email]", "una@acme.example").await;
        fill(&c, "input[name=password]", PASSWORD).await;
        screenshot(&c, "upstream-login.png").await;
        let _ = find(&c, "form button[type=submit]").await.click().await;
        let cb = wait_url(&c, "the partner app's callback", |u| {
            u.as_str()
                .starts_with("http://localhost:9200/callback?code=")
        })
        .await;
        let code = query_of(cb.as_str())["code"].clone();
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", "sso-web"),
            ("code", code.as_str()),
            ("redirect_uri", "http://localhost:9200/callback"),
            ("code_verifier", pk.verifier.as_str()),
        ];
        let t = ok_json(http.post_form("/token", &form).await).await;
        assert_eq!(claims(s(&t, "access_token"))["roles"], json!(["partner"]));
        // The Orders API answers the partner route.
        let r = http
            .http
            .get(format!("{base}/demo-api/partner/reports"))
            .bearer_auth(s(&t, "access_token"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    })
    .await;
    drop(p);
}
