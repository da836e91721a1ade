//! The account mails in a real browser, against a real SMTP server: the demo's doors,
//! their branded mails rendered by Chromium (screenshots under target/screenshots/), and
//! the links opened and used as a person would.

use std::time::Duration;

use fantoccini::Client;

use crate::browser::{
    authorize_url, drive, fill, find, screenshot, screenshot_dir, start_browser, wait_text,
    wait_url,
};
use crate::helpers::*;
use crate::smtp::{Mail, Smtp};

/// Show a mail's HTML part in the browser, as a mail client would, and keep a screenshot.
async fn render_mail(c: &Client, mail: &Mail, name: &str) {
    let path = screenshot_dir().join(format!("{name}.html"));
    std::fs::write(&path, mail.part("text/html")).unwrap();
    c.goto(&format!("file://{}", path.display())).await.unwrap();
    find(c, "a").await;
    // Let the logo (an absolute URL on the issuer) load.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let shot = screenshot(c, &format!("{name}.png")).await;
    eprintln!("mail screenshot: {}", shot.display());
}

async fn click_submit(c: &Client) {
    // The form may lead to a client nobody serves (localhost:3000): ignore the load error.
    let _ = find(c, "form button[type=submit]").await.click().await;
}

#[tokio::test]
async fn partner_signup_mail_verifies_the_address_in_the_browser() {
    let test = "mail-verify";
    let Some(smtp) = Smtp::start(test) else {
        return;
    };
    let Some((_driver, client)) = start_browser(test).await else {
        return;
    };
    let app = TestApp::builder()
        .demo()
        .demo_smtp(&smtp.url())
        .spawn()
        .await;
    let base = app.base.clone();
    let http = app.new_browser();

    drive(test, client, move |c| async move {
        let email = "vera@partner.example";
        let p = pkce();
        c.goto(&authorize_url(&base, "partners-web", "st-v", &p))
            .await
            .unwrap();
        wait_url(&c, "/login", |u| u.path() == "/login").await;
        find(&c, "a#signup-link").await.click().await.unwrap();
        wait_text(&c, "h1", "Sign up as a partner").await;
        fill(&c, "input[name=email]", email).await;
        fill(&c, "input[name=password]", PASSWORD).await;
        click_submit(&c).await;
        let cb = wait_url(&c, "the partner callback", |u| {
            u.as_str().starts_with("http://localhost:4000/callback?")
        })
        .await;
        let code = query_of(cb.as_str())["code"].clone();
        let exchange = |code: String, verifier: String| {
            let http = http.clone();
            async move {
                let form = [
                    ("grant_type", "authorization_code"),
                    ("client_id", "partners-web"),
                    ("code", code.as_str()),
                    ("redirect_uri", "http://localhost:4000/callback"),
                    ("code_verifier", verifier.as_str()),
                ];
                ok_json(http.post_form("/token", &form).await).await
            }
        };
        let t = exchange(code, p.verifier.clone()).await;
        assert_eq!(claims(s(&t, "id_token"))["email_verified"], false);

        // The mail, in the partners' brand.
        let mail = smtp.wait_for(email).await;
        assert!(
            mail.header("From").contains("partners@acme.example"),
            "{}",
            mail.header("From")
        );
        assert!(mail.header("Subject").contains("Acme partner network"));
        assert!(mail.part("text/html").contains("#7c3aed"));
        render_mail(&c, &mail, "partners-verify-mail").await;

        // The person opens the link and presses the button.
        let link = mail.link(&format!("{base}/verify-email?token="));
        c.goto(&link).await.unwrap();
        wait_text(&c, "h1", "Confirm your email address").await;
        assert_eq!(
            crate::browser::text_of(&c, ".brand-title").await,
            "Acme partner network"
        );
        screenshot(&c, "partners-verify-page.png").await;
        find(&c, "button#confirm").await.click().await.unwrap();
        wait_text(&c, "h1", "Address confirmed").await;

        // The next ID token says so.
        let p2 = pkce();
        // Single sign-on straight to the partner app (nobody serves it: the load fails).
        let _ = c
            .goto(&authorize_url(&base, "partners-web", "st-v2", &p2))
            .await;
        let cb = wait_url(&c, "the partner callback (SSO)", |u| {
            u.as_str().starts_with("http://localhost:4000/callback?")
        })
        .await;
        let t = exchange(query_of(cb.as_str())["code"].clone(), p2.verifier.clone()).await;
        assert_eq!(claims(s(&t, "id_token"))["email_verified"], true);
    })
    .await;
    drop(app);
}

#[tokio::test]
async fn customer_resets_a_forgotten_password_in_the_browser() {
    let test = "mail-reset";
    let Some(smtp) = Smtp::start(test) else {
        return;
    };
    let Some((_driver, client)) = start_browser(test).await else {
        return;
    };
    let app = TestApp::builder()
        .demo()
        .demo_smtp(&smtp.url())
        .spawn()
        .await;
    let base = app.base.clone();
    let http = app.new_browser();

    drive(test, client, move |c| async move {
        let email = "rita@customer.example";
        // An account with a refresh token and an SSO session in this browser.
        let p = pkce();
        c.goto(&authorize_url(&base, "customers-web", "st-r", &p))
            .await
            .unwrap();
        wait_url(&c, "/login", |u| u.path() == "/login").await;
        find(&c, "a#signup-link").await.click().await.unwrap();
        wait_text(&c, "h1", "Sign up as a customer").await;
        fill(&c, "input[name=email]", email).await;
        fill(&c, "input[name=password]", PASSWORD).await;
        click_submit(&c).await;
        let cb = wait_url(&c, "the customer callback", |u| {
            u.as_str().starts_with("http://localhost:3000/callback?")
        })
        .await;
        let code = query_of(cb.as_str())["code"].clone();
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", "customers-web"),
            ("code", code.as_str()),
            ("redirect_uri", "http://localhost:3000/callback"),
            ("code_verifier", p.verifier.as_str()),
        ];
        let before = ok_json(http.post_form("/token", &form).await).await;
        let old_refresh = s(&before, "refresh_token").to_owned();
        // Cookies are read per site: back on the issuer.
        c.goto(&format!("{base}/healthz")).await.unwrap();
        let session_cookie = c
            .get_all_cookies()
            .await
            .unwrap()
            .into_iter()
            .find(|k| k.name().starts_with("portico_session_"))
            .expect("an SSO session cookie");
        let old_session = format!("{}={}", session_cookie.name(), session_cookie.value());

        // "Forgot password?" on a fresh login.
        let p2 = pkce();
        let mut url = authorize_url(&base, "customers-web", "st-r2", &p2);
        url.push_str("&prompt=login");
        c.goto(&url).await.unwrap();
        wait_url(&c, "/login", |u| u.path() == "/login").await;
        find(&c, "a#forgot-link").await.click().await.unwrap();
        wait_text(&c, "h1", "Reset your password").await;
        fill(&c, "input[name=email]", email).await;
        click_submit(&c).await;
        wait_text(&c, "h1", "Check your inbox").await;
        screenshot(&c, "customers-forgot-sent.png").await;

        let mail = smtp.wait_for_subject(email, "Reset", 1).await;
        assert!(mail.header("Subject").contains("Acme customers"));
        assert!(mail.part("text/html").contains("#1f6feb"));
        render_mail(&c, &mail, "customers-reset-mail").await;

        let new_password = "a-brand-new-passphrase";
        c.goto(&mail.link(&format!("{base}/reset-password?token=")))
            .await
            .unwrap();
        wait_text(&c, "h1", "Choose a new password").await;
        fill(&c, "input[name=password]", new_password).await;
        screenshot(&c, "customers-reset-page.png").await;
        click_submit(&c).await;
        // The login that was open goes on to the client.
        wait_url(&c, "the customer callback after the reset", |u| {
            u.as_str()
                .starts_with("http://localhost:3000/callback?code=")
        })
        .await;

        // The old password fails, the new one works.
        let b = app_browser(&base);
        let f = b.begin("customers-web", &[]).await;
        assert_eq!(b.login(&f, email, PASSWORD).await.status(), 401);
        app_browser(&base)
            .login_code("customers-web", email, new_password)
            .await;
        // The refresh token from before is refused.
        let r = refresh(&http, "customers-web", &old_refresh, &[]).await;
        assert_eq!(oauth_error(r, 400).await, "invalid_grant");
        // The old SSO session is gone.
        let r = http_builder()
            .build()
            .unwrap()
            .get(authorize_url(&base, "customers-web", "st-r3", &pkce()))
            .header("cookie", old_session)
            .send()
            .await
            .unwrap();
        assert!(
            location(&r).starts_with("/login?tx="),
            "the old session still signs in"
        );
    })
    .await;
    drop(app);
}

fn app_browser(base: &str) -> Browser {
    Browser {
        http: new_http(),
        base: base.to_owned(),
    }
}

#[tokio::test]
async fn an_invitation_in_the_browser_gives_the_partner_role() {
    let test = "invitation";
    let Some((_driver, client)) = start_browser(test).await else {
        return;
    };
    let app = TestApp::builder()
        .extra(crate::invitations::INVITE_CONFIG)
        .spawn()
        .await;
    let base = app.base.clone();
    let email = "ines@partner.example";
    let (ok, out, err) = portico(
        &[
            "invite",
            "create",
            "--client",
            "invite-web",
            "--email",
            email,
            "--role",
            "partner",
        ],
        &app.config_path,
    );
    assert!(ok, "{err}");
    let url = out.lines().nth(1).unwrap().trim().to_owned();
    let http = app.new_browser();

    drive(test, client, move |c| async move {
        c.goto(&url).await.unwrap();
        wait_text(&c, "h1", "Join the partner network").await;
        assert_eq!(
            crate::browser::text_of(&c, ".brand-title").await,
            "Acme invited partners"
        );
        let input = find(&c, "input[name=email]").await;
        assert_eq!(input.prop("value").await.unwrap().as_deref(), Some(email));
        assert!(
            input.attr("readonly").await.unwrap().is_some(),
            "the address is fixed"
        );
        fill(&c, "input[name=password]", PASSWORD).await;
        screenshot(&c, "invitation-page.png").await;
        click_submit(&c).await;
        wait_url(&c, "the client's initiate_login_uri", |u| {
            u.as_str().starts_with("http://localhost:8000/login")
        })
        .await;
        // The client starts its login: no form (the session), and the token has the role.
        let p = pkce();
        let q = serde_urlencoded::to_string([
            ("client_id", "invite-web"),
            ("redirect_uri", "http://localhost:8000/callback"),
            ("response_type", "code"),
            ("scope", "openid email"),
            ("code_challenge", p.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .unwrap();
        let _ = c.goto(&format!("{base}/authorize?{q}")).await;
        let cb = wait_url(&c, "the invite-web callback", |u| {
            u.as_str()
                .starts_with("http://localhost:8000/callback?code=")
        })
        .await;
        let code = query_of(cb.as_str())["code"].clone();
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", "invite-web"),
            ("code", code.as_str()),
            ("redirect_uri", "http://localhost:8000/callback"),
            ("code_verifier", p.verifier.as_str()),
        ];
        let t = ok_json(http.post_form("/token", &form).await).await;
        assert_eq!(
            claims(s(&t, "access_token"))["roles"],
            serde_json::json!(["partner"])
        );
        assert_eq!(claims(s(&t, "id_token"))["email"], email);
    })
    .await;
    drop(app);
}
