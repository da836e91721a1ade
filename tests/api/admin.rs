//! The admin API over HTTP: every route with and without the right scope, pagination
//! under concurrent inserts, blocks that bite at once, the audit trail naming the acting
//! client, and every answer validated against the served OpenAPI document.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::invitations::INVITE_CONFIG;

const ADMIN_CLIENTS: &str = r#"
[[client]]
client_id = "ops-console"
type = "confidential"
client_secret = "ops-console-secret-0123456789"
grant_types = ["client_credentials"]
admin_scopes = ["admin:users:read", "admin:users:write", "admin:invitations", "admin:audit:read"]

[[client]]
client_id = "ops-reader"
type = "confidential"
client_secret = "ops-reader-secret-0123456789"
grant_types = ["client_credentials"]
admin_scopes = ["admin:users:read"]
"#;

/// An admin API client: its token, and the OpenAPI document every answer must fit.
struct Admin {
    b: Browser,
    token: Option<String>,
    doc: Value,
}

async fn admin_app() -> TestApp {
    TestApp::builder()
        .extra(ADMIN_CLIENTS)
        .extra(INVITE_CONFIG)
        .spawn()
        .await
}

async fn token_for(app: &TestApp, client: &str, secret: &str, scope: &str) -> String {
    let resource = format!("{}/admin/v1", app.base);
    let r = post_basic(
        app,
        "/token",
        (client, secret),
        &[
            ("grant_type", "client_credentials"),
            ("resource", &resource),
            ("scope", scope),
        ],
    )
    .await;
    let t = ok_json(r).await;
    s(&t, "access_token").to_owned()
}

impl Admin {
    async fn new(app: &TestApp, token: Option<String>) -> Admin {
        let r = app.get("/admin/v1/openapi.json").await;
        assert_eq!(r.status(), 200);
        let doc: Value = r.json().await.unwrap();
        Admin {
            b: app.new_browser(),
            token,
            doc,
        }
    }

    async fn console(app: &TestApp) -> Admin {
        let t = token_for(
            app,
            "ops-console",
            "ops-console-secret-0123456789",
            "admin:users:read admin:users:write admin:invitations admin:audit:read",
        )
        .await;
        Admin::new(app, Some(t)).await
    }

    /// Call a route; check the answer against the document (status, JSON schema,
    /// no-store), and return it.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut rb = self
            .b
            .http
            .request(method.clone(), format!("{}{}", self.b.base, path));
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        assert_eq!(
            r.headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{method} {path}"
        );
        if status == 401 {
            assert!(
                r.headers().contains_key("www-authenticate"),
                "{method} {path}: 401 without a challenge"
            );
        }
        let text = r.text().await.unwrap();
        assert!(!text.contains("$argon2"), "a password hash in {text}");
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        self.validate(&method, path, status, &value);
        (status, value)
    }

    /// The documented response of this route and status must describe the body.
    fn validate(&self, method: &Method, path: &str, status: u16, body: &Value) {
        let bare = path.split('?').next().unwrap();
        let template = self.doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .find(|t| matches_template(t, bare))
            .unwrap_or_else(|| panic!("{bare} is not in the OpenAPI document"))
            .clone();
        let op = &self.doc["paths"][&template][method.as_str().to_lowercase()];
        assert!(op.is_object(), "{method} {template} is not documented");
        let response = &op["responses"][status.to_string()];
        assert!(
            response.is_object(),
            "{method} {template} answered {status}, not documented: {body}"
        );
        match response["content"]["application/json"]["schema"].clone() {
            Value::Null => assert!(
                body.is_null(),
                "{method} {template} {status}: undocumented body {body}"
            ),
            schema => {
                let mut root = json!({ "components": self.doc["components"].clone() });
                root.as_object_mut()
                    .unwrap()
                    .extend(schema.as_object().unwrap().clone());
                let v = jsonschema::validator_for(&root).expect("a valid schema");
                let errors: Vec<String> = v.iter_errors(body).map(|e| e.to_string()).collect();
                assert!(
                    errors.is_empty(),
                    "{method} {template} {status}: {errors:?}\n{body}"
                );
            }
        }
    }
}

fn matches_template(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(a, b)| (a.starts_with('{') && a.ends_with('}')) || a == b)
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_lists_every_route() {
    let app = admin_app().await;
    let a = Admin::new(&app, None).await;
    assert!(
        a.doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        a.doc["openapi"]
    );
    for p in [
        "/admin/v1/users",
        "/admin/v1/users/{id}",
        "/admin/v1/users/{id}/sessions",
        "/admin/v1/users/{id}/password-reset",
        "/admin/v1/invitations",
        "/admin/v1/invitations/{id}",
        "/admin/v1/audit",
    ] {
        assert!(a.doc["paths"][p].is_object(), "{p} missing");
    }
    assert!(a.doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn every_route_needs_a_token_and_its_scope() {
    let app = admin_app().await;
    let uid = app
        .create_user("customers-db", "target@example.com", PASSWORD, &[])
        .await;
    let routes: Vec<(Method, String, Option<Value>, &str)> = vec![
        (Method::GET, "/admin/v1/users".into(), None, "read"),
        (Method::GET, format!("/admin/v1/users/{uid}"), None, "read"),
        (
            Method::POST,
            "/admin/v1/users".into(),
            Some(
                json!({"connection": "customers-db", "email": "n@example.com", "password": PASSWORD}),
            ),
            "write",
        ),
        (
            Method::PATCH,
            format!("/admin/v1/users/{uid}"),
            Some(json!({"roles": ["x"]})),
            "write",
        ),
        (
            Method::DELETE,
            format!("/admin/v1/users/{uid}/sessions"),
            None,
            "write",
        ),
        (
            Method::POST,
            format!("/admin/v1/users/{uid}/password-reset"),
            Some(json!({"client_id": "customers-web"})),
            "write",
        ),
        (
            Method::GET,
            "/admin/v1/invitations".into(),
            None,
            "invitations",
        ),
        (
            Method::POST,
            "/admin/v1/invitations".into(),
            Some(json!({"client_id": "invite-web", "email": "i@example.com"})),
            "invitations",
        ),
        (
            Method::DELETE,
            "/admin/v1/invitations/inv_nothing".into(),
            None,
            "invitations",
        ),
        (Method::GET, "/admin/v1/audit".into(), None, "audit"),
        (
            Method::DELETE,
            format!("/admin/v1/users/{uid}"),
            None,
            "write",
        ),
    ];
    let anonymous = Admin::new(&app, None).await;
    let bad = Admin::new(&app, Some("not.a.token".into())).await;
    let reader_token = token_for(
        &app,
        "ops-reader",
        "ops-reader-secret-0123456789",
        "admin:users:read",
    )
    .await;
    let reader = Admin::new(&app, Some(reader_token)).await;
    // A user's token (another audience) is no admin token either.
    let user_token = app.signup_tokens("customers-web", "user@example.com").await;
    let user = Admin::new(&app, Some(s(&user_token, "access_token").to_owned())).await;
    let console = Admin::console(&app).await;
    for (m, path, body, kind) in &routes {
        for who in [&anonymous, &bad, &user] {
            let (status, v) = who.call(m.clone(), path, body.clone()).await;
            assert_eq!(status, 401, "{m} {path}");
            assert_eq!(v["error"], "invalid_token");
        }
        let (status, v) = reader.call(m.clone(), path, body.clone()).await;
        if *kind == "read" {
            assert_eq!(status, 200, "{m} {path}: {v}");
        } else {
            assert_eq!(status, 403, "{m} {path}");
            assert_eq!(v["error"], "insufficient_scope");
        }
        let (status, v) = console.call(m.clone(), path, body.clone()).await;
        let expected: &[u16] = match (m.as_str(), path.as_str()) {
            ("POST", "/admin/v1/users" | "/admin/v1/invitations") => &[201],
            (_, p) if p.ends_with("password-reset") => &[409],
            ("DELETE", "/admin/v1/invitations/inv_nothing") => &[404],
            ("DELETE", _) => &[204],
            _ => &[200],
        };
        assert!(expected.contains(&status), "{m} {path}: {status} {v}");
    }
    // A client that lists no admin_scopes cannot get an admin token at all.
    let resource = format!("{}/admin/v1", app.base);
    let r = post_basic(
        &app,
        "/token",
        ("orders-worker", "worker-secret-0123456789"),
        &[
            ("grant_type", "client_credentials"),
            ("resource", &resource),
        ],
    )
    .await;
    assert_eq!(oauth_error(r, 400).await, "invalid_target");
    // Nor can the reader widen its scopes.
    let t = token_for(
        &app,
        "ops-reader",
        "ops-reader-secret-0123456789",
        "admin:users:write admin:users:read",
    )
    .await;
    assert_eq!(claims(&t)["scope"], "admin:users:read");
}

#[tokio::test]
async fn pages_have_no_duplicates_or_gaps_while_users_arrive() {
    let app = admin_app().await;
    let console = Admin::console(&app).await;
    let mut originals = Vec::new();
    for i in 0..25 {
        originals.push(
            app.create_user(
                "partners-db",
                &format!("p{i:02}@example.com"),
                PASSWORD,
                &[],
            )
            .await,
        );
    }
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("/admin/v1/users?connection=partners-db&limit=10&cursor={c}"),
            None => "/admin/v1/users?connection=partners-db&limit=10".to_owned(),
        };
        let (status, v) = console.call(Method::GET, &q, None).await;
        assert_eq!(status, 200);
        pages += 1;
        seen.extend(
            v["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_owned()),
        );
        // Someone signs up between two pages.
        app.create_user(
            "partners-db",
            &format!("late{pages}@example.com"),
            PASSWORD,
            &[],
        )
        .await;
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert!(pages >= 3, "{pages} pages");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "a user appeared twice");
    for id in &originals {
        assert!(seen.contains(id), "{id} was skipped");
    }
    // Filters: one address.
    let (_, v) = console
        .call(Method::GET, "/admin/v1/users?email=p07%40example.com", None)
        .await;
    assert_eq!(v["users"].as_array().unwrap().len(), 1);
    assert_eq!(v["users"][0]["email"], "p07@example.com");
    let (status, _) = console
        .call(Method::GET, "/admin/v1/users?cursor=nonsense!", None)
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_block_through_the_api_bites_at_once_and_is_audited_with_the_client() {
    let app = admin_app().await;
    let console = Admin::console(&app).await;
    let t = app.signup_tokens("customers-web", "live@example.com").await;
    let rt = s(&t, "refresh_token").to_owned();
    let uid = claims(s(&t, "access_token"))["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, v) = console
        .call(
            Method::PATCH,
            &format!("/admin/v1/users/{uid}"),
            Some(json!({"blocked": true, "roles": ["vip"]})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["blocked"], true);
    assert_eq!(v["roles"], json!(["vip"]));
    let r = refresh(&app, "customers-web", &rt, &[]).await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");
    let (_, v) = console
        .call(Method::GET, "/admin/v1/audit?kind=user_blocked", None)
        .await;
    let ev = &v["events"][0];
    assert_eq!(ev["client_id"], "ops-console");
    assert_eq!(ev["user_id"], uid.as_str());
    // Unblock, log in again, end the sessions: the new refresh token stops too.
    console
        .call(
            Method::PATCH,
            &format!("/admin/v1/users/{uid}"),
            Some(json!({"blocked": false})),
        )
        .await;
    let b = app.new_browser();
    let (code, f) = b
        .login_code("customers-web", "live@example.com", PASSWORD)
        .await;
    let t = ok_json(b.exchange(&f, &code).await).await;
    let (status, _) = console
        .call(
            Method::DELETE,
            &format!("/admin/v1/users/{uid}/sessions"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let r = refresh(&app, "customers-web", s(&t, "refresh_token"), &[]).await;
    assert_eq!(oauth_error(r, 400).await, "invalid_grant");
    let (_, v) = console
        .call(
            Method::GET,
            &format!("/admin/v1/audit?user={uid}&kind=sessions_ended"),
            None,
        )
        .await;
    assert_eq!(v["events"][0]["client_id"], "ops-console");
    // The audit trail pages too.
    let (_, v) = console
        .call(Method::GET, "/admin/v1/audit?limit=2", None)
        .await;
    let next = v["next_cursor"].as_str().unwrap().to_owned();
    let (_, v2) = console
        .call(
            Method::GET,
            &format!("/admin/v1/audit?limit=2&cursor={next}"),
            None,
        )
        .await;
    assert!(v2["events"][0]["id"].as_i64().unwrap() < v["events"][1]["id"].as_i64().unwrap());
}

#[tokio::test]
async fn users_and_invitations_are_managed_through_the_api() {
    let app = admin_app().await;
    let console = Admin::console(&app).await;
    let (status, v) = console
        .call(
            Method::POST,
            "/admin/v1/users",
            Some(json!({"connection": "partners-db", "email": "New@Example.com", "password": PASSWORD, "roles": ["partner"], "email_verified": true})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["email"], "new@example.com");
    assert_eq!(v["email_verified"], true);
    let id = v["id"].as_str().unwrap().to_owned();
    // Taken, weak, unknown connection, unknown field.
    let (status, _) = console
        .call(Method::POST, "/admin/v1/users", Some(json!({"connection": "partners-db", "email": "new@example.com", "password": PASSWORD})))
        .await;
    assert_eq!(status, 409);
    let (status, v) = console
        .call(Method::POST, "/admin/v1/users", Some(json!({"connection": "partners-db", "email": "weak@example.com", "password": "password1"})))
        .await;
    assert_eq!(status, 400, "{v}");
    let (status, _) = console
        .call(
            Method::POST,
            "/admin/v1/users",
            Some(json!({"connection": "nope", "email": "x@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = console
        .call(
            Method::PATCH,
            &format!("/admin/v1/users/{id}"),
            Some(json!({"password_hash": "x"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = console
        .call(Method::GET, "/admin/v1/users/usr_nobody", None)
        .await;
    assert_eq!(status, 404);
    // The new user logs in.
    app.new_browser()
        .login_code("partners-web", "new@example.com", PASSWORD)
        .await;

    // Invitations: create (the URL comes back), list, revoke.
    let (status, v) = console
        .call(Method::POST, "/admin/v1/invitations", Some(json!({"client_id": "invite-web", "email": "guest@example.com", "roles": ["partner"]})))
        .await;
    assert_eq!(status, 201, "{v}");
    let inv = v["invitation"]["id"].as_str().unwrap().to_owned();
    assert!(v["url"].as_str().unwrap().contains("/invitation?token="));
    assert_eq!(v["invitation"]["state"], "open");
    assert_eq!(v["invitation"]["created_by"], "ops-console");
    let (_, v) = console
        .call(
            Method::GET,
            "/admin/v1/invitations?client_id=invite-web",
            None,
        )
        .await;
    assert_eq!(v["invitations"][0]["id"], inv.as_str());
    let (status, _) = console
        .call(
            Method::DELETE,
            &format!("/admin/v1/invitations/{inv}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = console
        .call(
            Method::DELETE,
            &format!("/admin/v1/invitations/{inv}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = console
        .call(
            Method::POST,
            "/admin/v1/invitations",
            Some(json!({"client_id": "nope", "email": "g@example.com"})),
        )
        .await;
    assert_eq!(status, 400);
    // Delete the user.
    let (status, _) = console
        .call(Method::DELETE, &format!("/admin/v1/users/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = console
        .call(Method::GET, &format!("/admin/v1/users/{id}"), None)
        .await;
    assert_eq!(status, 404);
}
