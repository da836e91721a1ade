//! Application::build: opens the store, loads the keys, binds (port 0 in tests) and
//! wires the routes. Shared state travels as `web::Data`, never as globals.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::EitherBody;
use actix_web::dev::Server;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::middleware::{from_fn, DefaultHeaders, ErrorHandlerResponse, ErrorHandlers};
use actix_web::ResponseError;
use actix_web::{http::header, web, App, HttpResponse, HttpServer};

use crate::clock::Clock;
use crate::config::Settings;
use crate::login::password::Hasher;
use crate::login::throttle::{ClientAuthLimiter, IpLimiter, SignupLimiter};
use crate::metrics::Metrics;
use crate::secrets::Secrets;
use crate::store::Store;
use crate::tokens::{KeyRing, Keys};
use crate::{login, metrics, oidc, playground, static_files, store, tokens};

/// Everything a handler needs.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub keys: Keys,
    pub clock: Clock,
    pub hasher: Hasher,
    pub ip_limiter: IpLimiter,
    pub signups: SignupLimiter,
    pub client_auth: ClientAuthLimiter,
    /// The server secret: seals the signing keys, keys the browser-id and device MACs.
    pub secrets: Secrets,
    pub discovery: bytes::Bytes,
    /// Serialises housekeeping runs, so an older key snapshot never replaces a newer one.
    pub housekeeping: tokio::sync::Mutex<()>,
}

impl AppState {
    /// How long a retired key stays published: the longest lifetime of a token it signed.
    pub fn publish_for(&self) -> i64 {
        publish_for(&self.settings)
    }
}

fn publish_for(s: &Settings) -> i64 {
    s.tokens.access_token_ttl.max(s.tokens.id_token_ttl)
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Keys(#[from] tokens::KeyError),
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

pub struct Application {
    port: u16,
    server: Server,
    /// `/metrics` on its own listener (`[metrics] listen`).
    metrics_server: Option<Server>,
    state: web::Data<AppState>,
}

/// Open the store (also used by the command line).
pub fn open_store(settings: &Settings) -> Result<Store, store::StoreError> {
    Store::open(&settings.data_dir, settings.durability)
}

/// Open the store and load the server secret (after the store, which makes `data_dir`).
pub fn open_store_and_secrets(settings: &Settings) -> Result<(Store, Secrets), StartError> {
    let store = open_store(settings)?;
    let secrets = Secrets::load(&settings.secrets)?;
    Ok((store, secrets))
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        Self::build_with_clock(settings, Clock::default()).await
    }

    pub async fn build_with_clock(settings: Settings, clock: Clock) -> Result<Self, StartError> {
        let listener = TcpListener::bind(&settings.listen).map_err(|source| StartError::Bind {
            addr: settings.listen.clone(),
            source,
        })?;
        Self::build_on(settings, clock, listener).await
    }

    /// Serve on a listener bound by the caller (tests bind port 0 first to learn the issuer URL).
    pub async fn build_on(
        settings: Settings,
        clock: Clock,
        listener: TcpListener,
    ) -> Result<Self, StartError> {
        let settings = Arc::new(settings);
        let now = clock.now();
        let s = settings.clone();
        let (store, secrets, ring, hasher) =
            tokio::task::spawn_blocking(move || -> Result<_, StartError> {
                let (store, secrets) = open_store_and_secrets(&s)?;
                let stored = tokens::ensure_active_key(
                    &mut *store.conn()?,
                    s.tokens.signing_alg,
                    now,
                    &secrets,
                )?;
                let ring = KeyRing::build(&stored, now, publish_for(&s), &secrets)?;
                let hasher = Hasher::new(s.login.hash_concurrency, s.login.hash_queue);
                Ok((store, secrets, ring, hasher))
            })
            .await
            .map_err(|e| StartError::Store(store::StoreError::Join(e.to_string())))??;
        for w in &settings.warnings {
            tracing::warn!("configuration: {w}");
        }

        let login = &settings.login;
        let state = web::Data::new(AppState {
            discovery: oidc::discovery::document(&settings),
            ip_limiter: IpLimiter::new(login.max_failures_per_ip, login.failure_window),
            signups: SignupLimiter::new(
                login.max_signups_per_ip,
                login.signup_window,
                login.max_signups_per_minute,
            ),
            client_auth: ClientAuthLimiter::new(login.max_client_auth_failures, 300),
            secrets,
            settings: settings.clone(),
            store,
            keys: Keys::new(ring),
            clock,
            hasher,
            housekeeping: tokio::sync::Mutex::new(()),
        });
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let metrics = web::Data::new(Metrics::new());
        let server = run(listener, state.clone(), metrics.clone())?;
        let metrics_server = match &settings.metrics.listen {
            Some(addr) => Some(metrics::serve_separately(addr, metrics, state.clone())?),
            None => None,
        };
        Ok(Self {
            port,
            server,
            metrics_server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serve until stopped, with the housekeeping task beside it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let housekeeping = tokio::spawn(housekeeping(self.state.clone()));
        let res = match self.metrics_server {
            Some(m) => {
                let metrics = tokio::spawn(m);
                let res = self.server.await;
                metrics.abort();
                res
            }
            None => self.server.await,
        };
        housekeeping.abort();
        res
    }
}

/// Every minute: purge what expired and pick up keys rotated from the command line.
async fn housekeeping(state: web::Data<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(e) = run_housekeeping(&state).await {
            tracing::warn!(error = %e, "housekeeping failed");
        }
    }
}

pub async fn run_housekeeping(state: &AppState) -> Result<(), StartError> {
    let _one_at_a_time = state.housekeeping.lock().await;
    let now = state.clock.now();
    let publish_for = state.publish_for();
    let retention = state.settings.audit_retention;
    let max_transactions = state.settings.login.max_transactions;
    let stored = state
        .store
        .run(move |c| {
            store::write_tx(c, |tx| {
                store::purge_expired(tx, now, retention)?;
                store::transactions::enforce_total(tx, max_transactions)?;
                store::keys::retire_superseded(tx, now)?;
                store::keys::delete_retired_before(tx, now - publish_for)?;
                Ok(())
            })?;
            store::reclaim_space(c)?;
            store::keys::all(c)
        })
        .await?;
    if state
        .keys
        .reload(&stored, now, publish_for, &state.secrets)?
    {
        tracing::info!("signing keys reloaded");
    }
    state.ip_limiter.forget_old(now);
    state.signups.forget_old(now);
    state.client_auth.forget_old(now);
    Ok(())
}

fn run(
    listener: TcpListener,
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
) -> Result<Server, StartError> {
    let limits = state.settings.server.clone();
    let body_timeout = crate::deadline::BodyTimeout(Duration::from_secs(limits.body_timeout_secs));
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let metrics_here = state.settings.metrics.listen.is_none();
    let origins = web::Data::new(crate::cors::AllowedOrigins::from_settings(&state.settings));
    // The playground's relying-party state and the demo API's verifier are shared by all
    // workers, so they are built once, here.
    let playground = web::Data::new(playground::Playground::new());
    let verifier = match state.settings.playground.enabled {
        true => {
            let audience = state
                .settings
                .apis
                .first()
                .map(|a| a.audience.clone())
                .unwrap_or_default();
            let v = portico_verify::Verifier::builder()
                .issuer(state.settings.issuer.as_str(), audience)
                .realm("demo-api")
                .build()
                .map_err(|e| StartError::Bind {
                    addr: "demo-api verifier".into(),
                    source: std::io::Error::other(e),
                })?;
            Some(web::Data::new(v))
        }
        false => None,
    };
    let https = state.settings.issuer.is_https();
    let server = HttpServer::new(move || {
        let mut headers = DefaultHeaders::new()
            .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .add((header::REFERRER_POLICY, "no-referrer"))
            .add((header::X_FRAME_OPTIONS, "DENY"))
            .add((header::CONTENT_SECURITY_POLICY, login::pages::CSP))
            .add((header::CACHE_CONTROL, "no-store"));
        if https {
            headers = headers.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"));
        }
        let mut app = App::new()
            .wrap(ErrorHandlers::new().handler(StatusCode::PAYLOAD_TOO_LARGE, payload_too_large))
            .wrap(headers)
            .wrap(from_fn(crate::cors::middleware))
            .wrap(from_fn(crate::deadline::middleware))
            .wrap(from_fn(metrics::track))
            .app_data(body_timeout)
            .app_data(state.clone())
            .app_data(origins.clone())
            .app_data(metrics.clone())
            .app_data(web::PayloadConfig::new(64 * 1024))
            .app_data(web::FormConfig::default().limit(64 * 1024))
            .route(
                "/.well-known/openid-configuration",
                web::get().to(oidc::discovery::openid_configuration),
            )
            .route(
                "/.well-known/oauth-authorization-server",
                web::get().to(oidc::discovery::openid_configuration),
            )
            .route("/.well-known/jwks.json", web::get().to(oidc::jwks::jwks))
            .route("/authorize", web::get().to(oidc::authorize::get))
            .route("/authorize", web::post().to(oidc::authorize::post))
            .route("/login", web::get().to(login::pages::login_page))
            .route("/login", web::post().to(login::pages::login_submit))
            .route("/signup", web::get().to(login::pages::signup_page))
            .route("/signup", web::post().to(login::pages::signup_submit))
            .route("/token", web::post().to(oidc::token::token))
            .route("/userinfo", web::get().to(oidc::userinfo::userinfo))
            .route("/userinfo", web::post().to(oidc::userinfo::userinfo))
            .route("/revoke", web::post().to(oidc::revoke::revoke))
            .route("/introspect", web::post().to(oidc::introspect::introspect))
            .route("/logout", web::get().to(oidc::logout::logout))
            .route("/logout", web::post().to(oidc::logout::logout))
            .route("/healthz", web::get().to(healthz))
            .route("/static/{path:.*}", web::get().to(static_files::serve))
            .route("/branding/{client}", web::get().to(static_files::brand_css))
            .route("/", web::get().to(home));
        if metrics_here {
            app = app.route("/metrics", web::get().to(metrics::endpoint));
        }
        if let Some(v) = &verifier {
            app = app
                .app_data(v.clone())
                .app_data(playground.clone())
                .configure(playground::configure);
        }
        app.default_service(web::to(not_found))
    })
    .workers(workers)
    // Slow clients (review M5): the head within `header_timeout_secs`, the body within
    // `body_timeout_secs` (crate::deadline), and a cap on open connections.
    .client_request_timeout(Duration::from_secs(limits.header_timeout_secs))
    .client_disconnect_timeout(Duration::from_secs(2))
    .max_connections((limits.max_connections / workers).max(1))
    .listen(listener)
    .map_err(|source| StartError::Bind {
        addr: "listener".into(),
        source,
    })?
    .shutdown_timeout(5)
    .run();
    Ok(server)
}

/// The OAuth endpoints answer errors as JSON (interface.md), oversized bodies included.
fn payload_too_large<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    if !matches!(
        res.request().path(),
        "/token" | "/revoke" | "/introspect" | "/userinfo"
    ) {
        return Ok(ErrorHandlerResponse::Response(
            res.map_body(|_, b| EitherBody::left(b)),
        ));
    }
    let (req, _) = res.into_parts();
    let json = crate::error::OAuthError::invalid_request("the request body is larger than 64 KiB")
        .error_response();
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, json).map_into_right_body(),
    ))
}

async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    if state.store.ping().await {
        HttpResponse::Ok().content_type("text/plain").body("ok")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("database unavailable")
    }
}

async fn home(state: web::Data<AppState>) -> HttpResponse {
    if state.settings.playground.enabled {
        return HttpResponse::Found()
            .insert_header((header::LOCATION, "/playground"))
            .finish();
    }
    HttpResponse::Ok().content_type("text/plain").body(format!(
        "Portico OpenID Provider. Discovery: {}\n",
        state
            .settings
            .issuer
            .join("/.well-known/openid-configuration")
    ))
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .json(serde_json::json!({"error": "not_found", "error_description": "no such endpoint"}))
}
