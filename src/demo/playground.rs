//! The playground: a demo relying party at /playground, on when `[playground] enabled`.
//! It is a real public client of this issuer (code flow with PKCE, state and nonce, its
//! own registered redirect_uri), and it calls the sample Orders API under /demo-api/,
//! which checks tokens through the HTTP JWKS path exactly as an outside API would.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{Playground as PlaygroundSettings, Settings};
use crate::crypto::{b64url, ct_eq, random_token, sha256};
use crate::domain::append_params as redirect_with;
use crate::state::AppState;
use crate::web::cookies as session;
use crate::web::page::html;

const RP_COOKIE: &str = "playground_rp";
const SESSION_COOKIE: &str = "playground_session";
const MAX_SESSIONS: usize = 10_000;

/// What the relying party remembers between the redirect out and the callback.
#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    verifier: String,
    client_id: String,
    created_at: i64,
}

/// Insert into a bounded map: when full, the oldest entry makes room (never a wholesale
/// clear, which would break every login in flight).
fn bounded_insert<V>(map: &mut HashMap<String, V>, key: String, value: V, age: fn(&V) -> i64) {
    if map.len() >= MAX_SESSIONS {
        if let Some(oldest) = map
            .iter()
            .min_by_key(|(_, v)| age(v))
            .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
    }
    map.insert(key, value);
}

/// A signed-in playground visitor: tokens and their decoded claims.
#[derive(Clone)]
struct Visit {
    client_id: String,
    email: String,
    access_token: String,
    id_token: String,
    id_claims: Value,
    access_claims: Value,
    expires_at: i64,
}

/// A failed login, shown once on the playground page of the browser it happened in.
struct Failure {
    message: String,
    at: i64,
}

/// The relying party's own state, shared by all workers.
pub struct Playground {
    http: reqwest::Client,
    pending: Mutex<HashMap<String, Pending>>,
    visits: Mutex<HashMap<String, Visit>>,
    /// Keyed by the browser's relying-party cookie: the page never shows text from its
    /// URL, so a link cannot put words on the issuer's origin (review L7).
    failures: Mutex<HashMap<String, Failure>>,
}

impl Default for Playground {
    fn default() -> Self {
        Self::new()
    }
}

impl Playground {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(10))
                // Under Portico's own keep-alive (5 s), see idp::upstream.
                .pool_idle_timeout(std::time::Duration::from_secs(3))
                .build()
                .unwrap_or_default(),
            pending: Mutex::new(HashMap::new()),
            visits: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PlaygroundSettings::HOME_PATH, web::get().to(home))
        .route("/playground/start", web::get().to(start))
        .route(PlaygroundSettings::CALLBACK_PATH, web::get().to(callback))
        .route("/playground/logout", web::get().to(logout))
        .service(web::scope("/demo-api").configure(super::demo_api::configure));
}

struct Door {
    client_id: String,
    kind: String,
    title: String,
    signup_label: String,
}

struct Call {
    id: &'static str,
    path: &'static str,
    status: u16,
    body: String,
}

struct SignedIn {
    client_id: String,
    email: String,
    roles: String,
    id_claims: String,
    access_claims: String,
    calls: Vec<Call>,
}

#[derive(Template)]
#[template(path = "playground.html")]
struct Page {
    doors: Vec<Door>,
    signed_in: Option<SignedIn>,
    error: Option<String>,
}

fn doors(s: &Settings) -> Vec<Door> {
    s.playground
        .clients
        .iter()
        .filter_map(|id| s.client(id.as_str()))
        .map(|c| {
            let kind = if c.client_id.as_str().contains("partner") {
                "partner".to_owned()
            } else if c.client_id.as_str().contains("customer") {
                "customer".to_owned()
            } else {
                c.client_id.to_string()
            };
            Door {
                client_id: c.client_id.to_string(),
                title: c.branding.title.clone(),
                signup_label: c.branding.signup_heading.clone(),
                kind,
            }
        })
        .collect()
}

async fn home(
    req: HttpRequest,
    state: web::Data<AppState>,
    pg: web::Data<Playground>,
) -> HttpResponse {
    let s = &state.idp.settings();
    let now = state.clock.now();
    let visit = session::read(&req, SESSION_COOKIE).and_then(|sid| {
        let mut visits = lock(&pg.visits);
        visits.retain(|_, v| v.expires_at > now);
        visits.get(&sid).cloned()
    });
    let signed_in = match visit {
        Some(v) => Some(describe(&state, &pg, v).await),
        None => None,
    };
    let error = session::read(&req, RP_COOKIE)
        .and_then(|k| lock(&pg.failures).remove(&k))
        .map(|f| f.message);
    html(
        actix_web::http::StatusCode::OK,
        Page {
            doors: doors(s),
            signed_in,
            error,
        }
        .render(),
    )
}

/// Call the Orders API with the visitor's access token, as any client of it would.
async fn describe(state: &AppState, pg: &Playground, v: Visit) -> SignedIn {
    let mut calls = Vec::new();
    for (id, path) in [
        ("me", "/demo-api/me"),
        ("partner", "/demo-api/partner/reports"),
        ("customer", "/demo-api/customer/orders"),
    ] {
        let url = state.idp.settings().issuer.join(path);
        let (status, body) = match pg.http.get(&url).bearer_auth(&v.access_token).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                (status, text.chars().take(400).collect())
            }
            Err(e) => (0, format!("request failed: {e}")),
        };
        calls.push(Call {
            id,
            path,
            status,
            body,
        });
    }
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let roles = v
        .access_claims
        .get("roles")
        .map(|r| r.to_string())
        .unwrap_or_else(|| "[]".into());
    SignedIn {
        client_id: v.client_id,
        email: v.email,
        roles,
        id_claims: pretty(&v.id_claims),
        access_claims: pretty(&v.access_claims),
        calls,
    }
}

#[derive(Deserialize)]
pub struct StartQuery {
    client: String,
    mode: Option<String>,
}

/// Start the code flow through one door.
async fn start(
    state: web::Data<AppState>,
    pg: web::Data<Playground>,
    q: web::Query<StartQuery>,
) -> HttpResponse {
    let s = &state.idp.settings();
    if !s.playground.clients.iter().any(|c| c.as_str() == q.client) {
        return HttpResponse::BadRequest()
            .content_type("text/plain")
            .body("not a playground door");
    }
    let pending = Pending {
        state: random_token(),
        nonce: random_token(),
        verifier: random_token(),
        client_id: q.client.clone(),
        created_at: state.clock.now(),
    };
    let challenge = b64url(&sha256(pending.verifier.as_bytes()));
    let mut params = vec![
        ("client_id", q.client.as_str()),
        ("redirect_uri", ""),
        ("response_type", "code"),
        ("scope", "openid email offline_access orders:read"),
        ("state", pending.state.as_str()),
        ("nonce", pending.nonce.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("signup_source", "playground"),
    ];
    let callback = s.issuer.join(PlaygroundSettings::CALLBACK_PATH);
    params[1].1 = callback.as_str();
    if q.mode.as_deref() == Some("signup") {
        params.push(("screen_hint", "signup"));
    }
    let location = redirect_with(&s.issuer.join("/authorize"), &params);
    let key = random_token();
    bounded_insert(&mut lock(&pg.pending), key.clone(), pending, |p| {
        p.created_at
    });
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .cookie(session::cookie(
            RP_COOKIE.into(),
            key,
            Some(900),
            s.issuer.is_https(),
        ))
        .finish()
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn home_redirect() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, PlaygroundSettings::HOME_PATH))
        .finish()
}

/// The redirect_uri: check state and iss (RFC 9207), redeem the code with the verifier,
/// check the ID token's nonce, then return the visitor to the playground. A failure is
/// kept for this browser's next page view, not put in a URL.
async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    pg: web::Data<Playground>,
    q: web::Query<CallbackQuery>,
) -> HttpResponse {
    let Some(key) = session::read(&req, RP_COOKIE) else {
        return home_redirect();
    };
    match sign_in(&state, &pg, &key, &q).await {
        Ok(visit) => {
            let https = state.idp.settings().issuer.is_https();
            let sid = random_token();
            bounded_insert(&mut lock(&pg.visits), sid.clone(), visit, |v| v.expires_at);
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, PlaygroundSettings::HOME_PATH))
                .cookie(session::cookie(SESSION_COOKIE.into(), sid, None, https))
                .finish()
        }
        Err(message) => {
            let at = state.clock.now();
            bounded_insert(&mut lock(&pg.failures), key, Failure { message, at }, |f| {
                f.at
            });
            home_redirect()
        }
    }
}

/// The token request of the code flow, as any relying party makes it.
async fn redeem(
    state: &AppState,
    pg: &Playground,
    pending: &Pending,
    code: &str,
) -> Result<Value, String> {
    let s = &state.idp.settings();
    let callback = s.issuer.join(PlaygroundSettings::CALLBACK_PATH);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", callback.as_str()),
        ("client_id", pending.client_id.as_str()),
        ("code_verifier", pending.verifier.as_str()),
    ];
    let sent = pg
        .http
        .post(s.issuer.join("/token"))
        .form(&form)
        .send()
        .await;
    let resp = sent.map_err(|e| format!("playground: token request failed: {e}"))?;
    let ok = resp.status().is_success();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if !ok {
        let e = body["error"].as_str().unwrap_or("token_error");
        return Err(format!(
            "{e}: {}",
            body["error_description"].as_str().unwrap_or("")
        ));
    }
    Ok(body)
}

/// The relying party's work in the callback; `Err` is the sentence to show.
async fn sign_in(
    state: &AppState,
    pg: &Playground,
    key: &str,
    q: &CallbackQuery,
) -> Result<Visit, String> {
    let s = &state.idp.settings();
    let fail = |m: &str| Err(format!("playground: {m}"));
    let Some(pending) = lock(&pg.pending).remove(key) else {
        return fail("this login was already completed");
    };
    if !q
        .state
        .as_deref()
        .is_some_and(|st| ct_eq(st.as_bytes(), pending.state.as_bytes()))
    {
        return fail("state mismatch");
    }
    if q.iss.as_deref() != Some(s.issuer.as_str()) {
        return fail("iss mismatch (RFC 9207)");
    }
    if let Some(e) = &q.error {
        // From the issuer, to this browser, after the state matched: its own data.
        return Err(format!(
            "{e}: {}",
            q.error_description.as_deref().unwrap_or("")
        ));
    }
    let Some(code) = &q.code else {
        return fail("no code");
    };
    let body = redeem(state, pg, &pending, code).await?;
    let (Some(access), Some(id_token)) = (body["access_token"].as_str(), body["id_token"].as_str())
    else {
        return fail("the token response lacks tokens");
    };
    let now = state.clock.now();
    let ring = state.idp.keys.current();
    let id_claims = match ring.verify_id_token(id_token, s.issuer.as_str()) {
        Ok(c) => c,
        Err(e) => return fail(&format!("ID token refused: {e}")),
    };
    let nonce_ok = id_claims
        .nonce
        .as_deref()
        .is_some_and(|n| ct_eq(n.as_bytes(), pending.nonce.as_bytes()));
    let aud_ok = id_claims.aud == pending.client_id;
    let fresh = id_claims.exp > now;
    if !nonce_ok || !aud_ok || !fresh {
        return fail("ID token nonce, audience or expiry is wrong");
    }
    let access_claims = ring
        .verify_access_token(access, s.issuer.as_str(), now)
        .ok()
        .and_then(|c| serde_json::to_value(&*c).ok())
        .unwrap_or(Value::Null);
    Ok(Visit {
        client_id: pending.client_id,
        email: id_claims.email.clone().unwrap_or_default(),
        access_token: access.to_owned(),
        id_token: id_token.to_owned(),
        id_claims: serde_json::to_value(&id_claims).unwrap_or(Value::Null),
        access_claims,
        expires_at: now + s.tokens.access_token_ttl,
    })
}

/// Forget the visit here, then RP-initiated logout at the issuer, back to the playground.
async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    pg: web::Data<Playground>,
) -> HttpResponse {
    let s = &state.idp.settings();
    let visit = session::read(&req, SESSION_COOKIE).and_then(|sid| lock(&pg.visits).remove(&sid));
    let home = s.issuer.join(PlaygroundSettings::HOME_PATH);
    let location = match visit {
        Some(v) => redirect_with(
            &s.issuer.join("/logout"),
            &[
                ("id_token_hint", v.id_token.as_str()),
                ("post_logout_redirect_uri", home.as_str()),
            ],
        ),
        None => PlaygroundSettings::HOME_PATH.to_owned(),
    };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .cookie(session::removal(SESSION_COOKIE.into(), s.issuer.is_https()))
        .finish()
}
