//! Account mail against a real SMTP server (aiosmtpd): verification and password reset,
//! branded per door, their links' attacks, the queue surviving a relay that is down, and
//! the same answer for every address.

use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::smtp::{free_port, Mail, Smtp};

/// `[email]` through the test relay, and a door whose connection requires a confirmed
/// address (with its own sender and a page to start a login from).
fn mail_config(smtp_url: &str) -> String {
    format!(
        r##"
[email]
from = "Acme accounts <accounts@acme.example>"
transport = "smtp"
smtp_url = "{smtp_url}"

[[connection]]
name = "verified-db"
signup = true
password_min_length = 10
email_verification = "required"

[[client]]
client_id = "verified-web"
name = "Acme verified"
type = "public"
redirect_uris = ["http://localhost:7000/callback"]
connection = "verified-db"
grant_types = ["authorization_code", "refresh_token"]
audience = "https://api.example.com"
initiate_login_uri = "http://localhost:7000/login"
[client.branding]
title = "Acme verified"
primary_color = "#0f766e"
email_from = "Acme verified <verified@acme.example>"
"##
    )
}

async fn mail_app(smtp: &Smtp) -> TestApp {
    TestApp::builder()
        .behind_proxy()
        .extra(&mail_config(&smtp.url()))
        .spawn()
        .await
}

/// The path and query of a link on the issuer.
fn path_of(app: &TestApp, link: &str) -> String {
    link.strip_prefix(&app.base)
        .unwrap_or_else(|| panic!("{link} is not on the issuer {}", app.base))
        .to_owned()
}

/// GET a mailed link and POST its form (as the person clicking the button would).
async fn click(b: &Browser, path: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let page = b.get(path).await;
    assert_eq!(page.status(), 200, "the link's page");
    let page = page.text().await.unwrap();
    let action = if path.starts_with("/verify-email") {
        "/verify-email"
    } else {
        "/reset-password"
    };
    let mut form = vec![
        ("token".to_owned(), hidden(&page, "token")),
        ("csrf".to_owned(), hidden(&page, "csrf")),
    ];
    form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    b.post_form(action, &form).await
}

async fn forgot(b: &Browser, client_id: &str, email: &str) -> reqwest::Response {
    let page = b
        .get(&format!("/forgot-password?client_id={client_id}"))
        .await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    b.post_form(
        "/forgot-password",
        &[
            ("client_id", client_id),
            ("csrf", &hidden(&page, "csrf")),
            ("email", email),
        ],
    )
    .await
}

fn assert_branded(mail: &Mail, title: &str, color: &str, logo: Option<&str>) {
    assert_eq!(mail.mimetype(), "multipart/alternative");
    assert!(
        mail.header("Subject").contains(title),
        "{}",
        mail.header("Subject")
    );
    assert!(!mail.header("Message-ID").is_empty(), "Message-ID");
    assert!(!mail.header("Date").is_empty(), "Date");
    let html = mail.part("text/html");
    assert!(html.contains(title) && html.contains(color), "{html}");
    if let Some(logo) = logo {
        assert!(html.contains(logo), "the logo as an absolute URL: {html}");
    }
    assert!(mail.part("text/plain").contains(title));
}

#[tokio::test]
async fn sign_up_mails_a_branded_link_that_verifies_the_address() {
    let Some(smtp) = Smtp::start("verification") else {
        return;
    };
    let app = mail_app(&smtp).await;
    let email = "ada@partner.example";
    let (code, f) = app.signup_code("partners-web", email).await;
    let t = ok_json(app.exchange(&f, &code).await).await;
    assert_eq!(claims(s(&t, "id_token"))["email_verified"], false);

    let mail = smtp.wait_for(email).await;
    assert!(mail.header("From").contains("accounts@acme.example"));
    assert!(mail.header("To").contains(email));
    let logo = format!("{}/static/brands/partners.svg", app.base);
    assert_branded(&mail, "Acme partner network", "#7c3aed", Some(&logo));
    let link = mail.link(&format!("{}/verify-email?token=", app.base));
    assert!(
        mail.part("text/html").contains(&link),
        "the same link in both parts"
    );

    // A mail scanner follows the link: nothing is used.
    let scanner = app.new_browser();
    for _ in 0..2 {
        assert_eq!(scanner.get(&path_of(&app, &link)).await.status(), 200);
    }
    let r = click(&app, &path_of(&app, &link), &[]).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Address confirmed"));
    assert!(app
        .audit_kinds()
        .await
        .iter()
        .any(|k| k == "email_verified"));

    // New tokens say so; userinfo too.
    let b = app.new_browser();
    let (code, f) = b.login_code("partners-web", email, PASSWORD).await;
    let t = ok_json(b.exchange(&f, &code).await).await;
    assert_eq!(claims(s(&t, "id_token"))["email_verified"], true);
    let info: serde_json::Value = userinfo(&app, s(&t, "access_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["email_verified"], true);

    // Used once.
    let r = app.get(&path_of(&app, &link)).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_reset_sets_the_password_and_ends_every_session_and_refresh_token() {
    let Some(smtp) = Smtp::start("reset") else {
        return;
    };
    let app = mail_app(&smtp).await;
    let email = "reset@example.com";
    let t = app.signup_tokens("customers-web", email).await;
    let old_refresh = s(&t, "refresh_token").to_owned();
    let sessions = app.scalar("SELECT count(*) FROM sessions").await;
    assert_eq!(sessions, 1);

    // From the login page: "Forgot password?" carries the login transaction along.
    let other = app.new_browser();
    let f = other.begin("customers-web", &[]).await;
    assert!(
        f.page.contains("/forgot-password?tx="),
        "the login page links to it"
    );
    let page = other
        .get(&format!("/forgot-password?tx={}", f.tx))
        .await
        .text()
        .await
        .unwrap();
    let r = other
        .post_form(
            "/forgot-password",
            &[
                ("tx", &f.tx),
                ("client_id", "customers-web"),
                ("csrf", &hidden(&page, "csrf")),
                ("email", email),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Check your inbox"));

    let mail = smtp.wait_for_subject(email, "Reset", 1).await;
    assert_branded(&mail, "Acme customers", "#1f6feb", None);
    let link = mail.link(&format!("{}/reset-password?token=", app.base));
    // A weak password is refused on the page, and the link still works after.
    let r = click(&other, &path_of(&app, &link), &[("password", "password1")]).await;
    assert_eq!(r.status(), 400);
    let new_password = "another-unusual-passphrase";
    let r = click(&other, &path_of(&app, &link), &[("password", new_password)]).await;
    // The same browser had the login open: it goes on to the client with a code.
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    let loc = location(&r);
    assert!(
        loc.starts_with("http://localhost:3000/callback?code="),
        "{loc}"
    );
    let code = query_of(&loc)["code"].clone();
    let t2 = ok_json(other.exchange(&f, &code).await).await;
    assert_eq!(
        claims(s(&t2, "id_token"))["email_verified"],
        true,
        "the mailbox answered"
    );

    // The old password fails, the new one works.
    let f = app.new_browser().begin("customers-web", &[]).await;
    let r = app.new_browser().login(&f, email, PASSWORD).await;
    assert_ne!(r.status(), 303);
    app.new_browser()
        .login_code("customers-web", email, new_password)
        .await;
    // The refresh token from before is refused; the old SSO session is gone.
    let r = refresh(&app, "customers-web", &old_refresh, &[]).await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");
    let r = app.authorize("customers-web", &pkce(), &[]).await;
    assert!(
        location(&r).starts_with("/login?tx="),
        "the old session still signs in"
    );
    let kinds = app.audit_kinds().await;
    assert!(kinds.iter().any(|k| k == "password_reset"), "{kinds:?}");
    // Used once.
    assert_eq!(app.get(&path_of(&app, &link)).await.status(), 400);
}

#[tokio::test]
async fn reset_links_resist_reuse_expiry_and_the_wrong_door() {
    let Some(smtp) = Smtp::start("reset-links") else {
        return;
    };
    let app = mail_app(&smtp).await;
    let email = "twice@example.com";
    // One address, two people: a customer and a partner.
    app.create_user("customers-db", email, PASSWORD, &[]).await;
    app.create_user("partners-db", email, PASSWORD, &[]).await;

    assert_eq!(forgot(&app, "customers-web", email).await.status(), 200);
    let first = smtp.wait_for(email).await;
    let link1 = path_of(
        &app,
        &first.link(&format!("{}/reset-password?token=", app.base)),
    );
    // The wrong page for the token: a reset token does not verify, and vice versa.
    let token = link1.split("token=").nth(1).unwrap().to_owned();
    assert_eq!(
        app.get(&format!("/verify-email?token={token}"))
            .await
            .status(),
        400
    );
    // Without the page's CSRF field, or from another browser's page, nothing happens.
    let r = app
        .post_form(
            "/reset-password",
            &[("token", &token), ("password", "x-new-passphrase-1")],
        )
        .await;
    assert_eq!(r.status(), 400);
    let page = app.get(&link1).await.text().await.unwrap();
    let r = app
        .new_browser()
        .post_form(
            "/reset-password",
            &[
                ("token", &token),
                ("csrf", &hidden(&page, "csrf")),
                ("password", "x-new-passphrase-1"),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);

    // A second link voids the first once it is used.
    assert_eq!(forgot(&app, "customers-web", email).await.status(), 200);
    let second = smtp.wait_for_nth(email, 2).await;
    let link2 = path_of(
        &app,
        &second.link(&format!("{}/reset-password?token=", app.base)),
    );
    let new_password = "customers-new-passphrase";
    let r = click(&app, &link2, &[("password", new_password)]).await;
    assert_eq!(r.status(), 200, "no login was open: a page says it is done");
    let body = r.text().await.unwrap();
    assert!(body.contains("Password changed"), "{body}");
    assert_eq!(
        app.get(&link1).await.status(),
        400,
        "the older link died with the change"
    );
    assert_eq!(app.get(&link2).await.status(), 400, "used once");

    // The customers' link changed the customer only: the partner keeps their password.
    app.new_browser()
        .login_code("partners-web", email, PASSWORD)
        .await;
    app.new_browser()
        .login_code("customers-web", email, new_password)
        .await;

    // Expiry: 30 minutes.
    assert_eq!(forgot(&app, "customers-web", email).await.status(), 200);
    let third = smtp.wait_for_nth(email, 3).await;
    let link3 = path_of(
        &app,
        &third.link(&format!("{}/reset-password?token=", app.base)),
    );
    assert_eq!(app.get(&link3).await.status(), 200);
    app.state.clock.advance(31 * 60);
    assert_eq!(app.get(&link3).await.status(), 400);
}

#[tokio::test]
async fn forgot_password_answers_alike_for_known_and_unknown_addresses() {
    let Some(smtp) = Smtp::start("forgot-alike") else {
        return;
    };
    let app = mail_app(&smtp).await;
    app.create_user("customers-db", "known@example.com", PASSWORD, &[])
        .await;
    let blocked = app
        .create_user("customers-db", "blocked@example.com", PASSWORD, &[])
        .await;
    let p = portico::idp::users::Patch {
        blocked: Some(true),
        ..Default::default()
    };
    portico::idp::users::apply(
        &app.state.idp,
        &blocked,
        p,
        portico::idp::users::Actor::CommandLine,
        0,
    )
    .await
    .unwrap();
    let mut bodies = Vec::new();
    let mut times: [Vec<Duration>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let emails = [
        "known@example.com",
        "unknown@example.com",
        "blocked@example.com",
    ];
    // Interleaved, each from its own address (the per-address budget is 20 an hour).
    for i in 0..30 {
        for (k, email) in emails.iter().enumerate() {
            let b = app.browser_at(&format!("10.9.{k}.{i}"));
            let page = b
                .get("/forgot-password?client_id=customers-web")
                .await
                .text()
                .await
                .unwrap();
            let csrf = hidden(&page, "csrf");
            let started = Instant::now();
            let r = b
                .post_form(
                    "/forgot-password",
                    &[
                        ("client_id", "customers-web"),
                        ("csrf", &csrf),
                        ("email", email),
                    ],
                )
                .await;
            times[k].push(started.elapsed());
            assert_eq!(r.status(), 200);
            let body = r.text().await.unwrap();
            bodies.push((k, body.replace(email, "EMAIL")));
        }
    }
    let first = |want: usize| {
        bodies
            .iter()
            .find(|(k, _)| *k == want)
            .map(|(_, b)| b)
            .unwrap()
    };
    assert_eq!(
        first(0),
        first(1),
        "known and unknown: the same page, byte for byte"
    );
    assert_eq!(
        first(0),
        first(2),
        "known and blocked: the same page, byte for byte"
    );
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let medians: Vec<Duration> = times.iter_mut().map(median).collect();
    // A generous bound: the request does the same work (one queued job) every time.
    let (hi, lo) = (medians.iter().max().unwrap(), medians.iter().min().unwrap());
    assert!(
        *hi <= *lo * 3 + Duration::from_millis(20),
        "medians differ (known, unknown, blocked): {medians:?}"
    );
    // Only the known address got mail (at most 5 an hour per account).
    smtp.wait_for("known@example.com").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(smtp.to("unknown@example.com").is_empty());
    assert!(smtp.to("blocked@example.com").is_empty());
    assert!(smtp.to("known@example.com").len() <= 5);
}

#[tokio::test]
async fn forgot_password_is_limited_per_address() {
    let Some(smtp) = Smtp::start("forgot-limit") else {
        return;
    };
    let app = mail_app(&smtp).await;
    let b = app.browser_at("10.7.7.7");
    for _ in 0..20 {
        assert_eq!(
            forgot(&b, "customers-web", "x@example.com").await.status(),
            200
        );
    }
    let r = forgot(&b, "customers-web", "x@example.com").await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn required_verification_holds_the_login_until_the_link_is_used() {
    let Some(smtp) = Smtp::start("required") else {
        return;
    };
    let app = mail_app(&smtp).await;
    let email = "careful@example.com";
    let f = app
        .begin("verified-web", &[("screen_hint", "signup")])
        .await;
    let r = app.signup(&f, email, PASSWORD).await;
    assert_eq!(r.status(), 200, "no code yet");
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Check your inbox") && page.contains(email),
        "{page}"
    );
    // Continue before the click: still waiting.
    let r = app
        .post_form("/login/continue", &[("tx", &f.tx), ("csrf", &f.csrf)])
        .await;
    assert!(r.text().await.unwrap().contains("not confirmed yet"));
    // Resend right away: too soon.
    let mail = smtp.wait_for(email).await;
    assert!(
        mail.header("From").contains("verified@acme.example"),
        "the client's sender"
    );
    assert_branded(&mail, "Acme verified", "#0f766e", None);
    let r = app
        .post_form("/verify-email/resend", &[("tx", &f.tx), ("csrf", &f.csrf)])
        .await;
    assert_eq!(r.status(), 429);
    // The link, opened in the same browser, continues the login to the client.
    let link = mail.link(&format!("{}/verify-email?token=", app.base));
    let r = click(&app, &path_of(&app, &link), &[]).await;
    assert_eq!(r.status(), 303);
    let loc = location(&r);
    assert!(
        loc.starts_with("http://localhost:7000/callback?code="),
        "{loc}"
    );
    let t = ok_json(app.exchange(&f, &query_of(&loc)["code"]).await).await;
    assert_eq!(claims(s(&t, "id_token"))["email_verified"], true);
}

#[tokio::test]
async fn required_verification_stops_an_unverified_login_and_mails_a_link() {
    let Some(smtp) = Smtp::start("required-login") else {
        return;
    };
    let app = mail_app(&smtp).await;
    let email = "old@example.com";
    app.create_user("verified-db", email, PASSWORD, &[]).await;
    let f = app.begin("verified-web", &[]).await;
    let r = app.login(&f, email, PASSWORD).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Check your inbox"));
    let mail = smtp.wait_for(email).await;
    let link = mail.link(&format!("{}/verify-email?token=", app.base));
    // Confirmed in another browser (the phone): that browser gets a page, not the login.
    let phone = app.new_browser();
    let r = click(&phone, &path_of(&app, &link), &[]).await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains("Address confirmed") && body.contains("http://localhost:7000/login"));
    // Back in the first browser, "I have confirmed" goes on.
    let r = app
        .post_form("/login/continue", &[("tx", &f.tx), ("csrf", &f.csrf)])
        .await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("http://localhost:7000/callback?code="));
}

#[tokio::test]
async fn mail_waits_in_the_queue_while_the_relay_is_down() {
    let port = free_port();
    // Make sure aiosmtpd exists before relying on it later.
    if Smtp::start("relay-down").is_none() {
        return;
    }
    let app = TestApp::builder()
        .extra(&mail_config(&format!("smtp://127.0.0.1:{port}")))
        .spawn()
        .await;
    let email = "patient@example.com";
    // Sign-up succeeds with nobody to take the mail.
    app.signup_code("customers-web", email).await;
    let mut attempts = 0;
    for _ in 0..100 {
        attempts = app
            .scalar("SELECT COALESCE(MAX(attempts), 0) FROM mail_jobs WHERE state = 'pending'")
            .await;
        if attempts > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(attempts >= 1, "the sender tried and kept the job");
    // The relay comes up; once the backoff has passed the mail goes out.
    let smtp = Smtp::start_on("relay-down", port).unwrap();
    app.state.clock.advance(120);
    let mail = smtp.wait_for(email).await;
    assert!(mail.header("Subject").contains("Confirm your email"));
    assert_eq!(
        app.scalar("SELECT count(*) FROM mail_jobs WHERE state = 'sent'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_refused_address_is_given_up_and_audited() {
    let Some(smtp) = Smtp::start("bounce") else {
        return;
    };
    let app = mail_app(&smtp).await;
    app.signup_code("customers-web", "bounce@example.com").await;
    for _ in 0..100 {
        if app
            .scalar("SELECT count(*) FROM mail_jobs WHERE state = 'failed'")
            .await
            == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.scalar("SELECT count(*) FROM mail_jobs WHERE state = 'failed'")
            .await,
        1
    );
    assert!(app.audit_kinds().await.iter().any(|k| k == "mail_failed"));
}

#[tokio::test]
async fn support_staff_send_a_reset_from_the_command_line() {
    let Some(smtp) = Smtp::start("send-reset") else {
        return;
    };
    let app = mail_app(&smtp).await;
    let email = "support@example.com";
    app.create_user("partners-db", email, PASSWORD, &[]).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portico"))
        .args([
            "users",
            "send-reset",
            "--connection",
            "partners-db",
            "--email",
            email,
        ])
        .args(["--client", "partners-web", "--config"])
        .arg(&app.config_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("sent a reset link"), "{stdout}");
    let mail = smtp.wait_for(email).await;
    assert_branded(&mail, "Acme partner network", "#7c3aed", None);
    // A client of another connection is refused.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portico"))
        .args([
            "users",
            "send-reset",
            "--connection",
            "partners-db",
            "--email",
            email,
        ])
        .args(["--client", "customers-web", "--config"])
        .arg(&app.config_path)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[tokio::test]
async fn the_demo_writes_its_mails_to_the_outbox() {
    let app = TestApp::builder().demo().spawn().await;
    let email = "demo@example.com";
    app.signup_code("customers-web", email).await;
    let outbox = app.state.idp.settings().data_dir.join("outbox");
    let mut found = None;
    for _ in 0..100 {
        if let Some(e) = std::fs::read_dir(&outbox).ok().and_then(|mut d| d.next()) {
            found = Some(e.unwrap().path());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let path = found.expect("an .eml file in the outbox");
    assert_eq!(path.extension().unwrap(), "eml");
    let mail = Mail::new(std::fs::read(&path).unwrap());
    assert!(mail.header("To").contains(email));
    assert!(mail.part("text/plain").contains("/verify-email?token="));
}

#[tokio::test]
async fn a_mailed_invitation_arrives_branded_and_verifies_the_address() {
    let Some(smtp) = Smtp::start("invitation-mail") else {
        return;
    };
    let app = TestApp::builder()
        .extra(&mail_config(&smtp.url()))
        .extra(crate::invitations::INVITE_CONFIG)
        .spawn()
        .await;
    let email = "guest@partner.example";
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
    assert!(out.contains("mailed to"), "{out}");
    let mail = smtp.wait_for(email).await;
    assert_branded(&mail, "Acme invited partners", "#b45309", None);
    let link = mail.link(&format!("{}/invitation?token=", app.base));
    assert!(out.contains(&link), "the printed URL is the mailed one");
    // The job kept no link once sent.
    assert_eq!(
        app.scalar("SELECT count(*) FROM mail_jobs WHERE kind = 'invitation' AND payload <> ''")
            .await,
        0
    );
    let page = app.get(&path_of(&app, &link)).await.text().await.unwrap();
    let r = app
        .post_form(
            "/invitation",
            &[
                ("token", &hidden(&page, "token")),
                ("csrf", &hidden(&page, "csrf")),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let verified = app
        .scalar("SELECT count(*) FROM users WHERE email = 'guest@partner.example' AND email_verified = 1")
        .await;
    assert_eq!(verified, 1, "a mailed invitation verifies the address");
}
