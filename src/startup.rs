//! Application::build: opens the store, loads the keys, binds (port 0 in tests) and
//! wires the routes; and the housekeeping task. Only `main`, `cli` and tests import this.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{http::header, web, App, HttpResponse, HttpServer};

use crate::clock::Clock;
use crate::config::Settings;
use crate::idp::account::delivery;
use crate::idp::{publish_for, Idp};
use crate::mail::Mailer;
use crate::secrets::Secrets;
use crate::state::AppState;
use crate::store::{self, Store};
use crate::tokens::{self, KeyRing, Keys};
use crate::web::metrics::{self, Metrics};
use crate::web::{cors, deadline, headers, oauth, static_files};
use crate::{admin, demo, login, oidc};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Keys(#[from] tokens::KeyError),
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    #[error("[email]: {0}")]
    Mail(String),
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

/// Open the store and load the server secret (after the store, which makes `data_dir`).
pub fn open_store_and_secrets(settings: &Settings) -> Result<(Store, Secrets), StartError> {
    let store = Store::open(&settings.store_location())?;
    let secrets = Secrets::load(&settings.secrets)?;
    Ok((store, secrets))
}

/// The core, with a signing key in force (made on first use).
pub fn open_idp(settings: Arc<Settings>, now: i64) -> Result<Idp, StartError> {
    let (store, secrets) = open_store_and_secrets(&settings)?;
    let stored = tokens::ensure_active_key(&store, settings.tokens.signing_alg, now, &secrets)?;
    let ring = KeyRing::build(&stored, now, publish_for(&settings), &secrets)?;
    let mailer = match &settings.email {
        Some(e) => Some(Mailer::new(&e.transport).map_err(StartError::Mail)?),
        None => None,
    };
    Ok(Idp::new(settings, store, Keys::new(ring), secrets, mailer))
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
        let idp = tokio::task::spawn_blocking(move || open_idp(s, now))
            .await
            .map_err(|e| StartError::Store(store::StoreError::Join(e.to_string())))??;
        for w in &settings.warnings {
            tracing::warn!("configuration: {w}");
        }
        let state = web::Data::new(AppState {
            discovery: arc_swap::ArcSwap::from_pointee(oidc::discovery::document(&settings)),
            idp,
            clock,
            housekeeping: tokio::sync::Mutex::new(()),
        });
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let metrics = web::Data::new(Metrics::new().with_writer(state.idp.store.writer_stats()));
        let server = run(listener, state.clone(), metrics.clone())?;
        let metrics_server = match &settings.metrics.listen {
            Some(addr) => Some(
                metrics::serve_separately(addr, metrics, state.clone()).map_err(|source| {
                    StartError::Bind {
                        addr: addr.clone(),
                        source,
                    }
                })?,
            ),
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

    /// Serve until stopped, with the housekeeping task and the mail sender beside it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let housekeeping = tokio::spawn(housekeeping(self.state.clone()));
        let sender = tokio::spawn(mail_sender(self.state.clone()));
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
        sender.abort();
        res
    }
}

/// Deliver queued mail: at once when a request queues a job, and every second for
/// retries and for jobs other replicas queued.
async fn mail_sender(state: web::Data<AppState>) {
    // Without [email] each pass returns at once (a reload may add it).
    loop {
        let _ =
            tokio::time::timeout(Duration::from_secs(1), state.idp.mail_queued.notified()).await;
        loop {
            match delivery::run_once(&state.idp, state.clock.now()).await {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "mail sender: the store failed");
                    break;
                }
            }
        }
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
    let idp = &state.idp;
    let now = state.clock.now();
    let publish_for = idp.publish_for();
    let retention = idp.settings().audit_retention;
    let max_transactions = idp.settings().login.max_transactions;
    let stored = idp
        .store
        .write(move |db| {
            store::purge_expired(db, now, retention)?;
            store::transactions::enforce_total(db, max_transactions)?;
            store::keys::retire_superseded(db, now)?;
            store::keys::delete_retired_before(db, now - publish_for)?;
            store::keys::all(db)
        })
        .await?;
    idp.store.reclaim_space().await?;
    if idp.keys.reload(&stored, now, publish_for, &idp.secrets)? {
        tracing::info!("signing keys reloaded");
    }
    idp.limits.forget_old(now);
    Ok(())
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
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
    .route("/login", web::get().to(login::login_page::show))
    .route("/login", web::post().to(login::login_page::submit))
    .route("/signup", web::get().to(login::signup_page::show))
    .route("/signup", web::post().to(login::signup_page::submit))
    .route(
        "/login/continue",
        web::post().to(login::verify_pages::continue_login),
    )
    .route(
        "/upstream/start",
        web::post().to(login::upstream_pages::start),
    )
    .route(
        "/upstream/{connection}/callback",
        web::get().to(login::upstream_pages::callback),
    )
    .route("/invitation", web::get().to(login::invitation_page::show))
    .route(
        "/invitation",
        web::post().to(login::invitation_page::accept),
    )
    .route("/verify-email", web::get().to(login::verify_pages::show))
    .route(
        "/verify-email",
        web::post().to(login::verify_pages::confirm),
    )
    .route(
        "/verify-email/resend",
        web::post().to(login::verify_pages::resend),
    )
    .route(
        "/forgot-password",
        web::get().to(login::reset_pages::forgot),
    )
    .route(
        "/forgot-password",
        web::post().to(login::reset_pages::request),
    )
    .route("/reset-password", web::get().to(login::reset_pages::show))
    .route(
        "/reset-password",
        web::post().to(login::reset_pages::submit),
    )
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
}

/// The demo API's verifier: an outside API's view of this issuer, through HTTP JWKS.
fn demo_verifier(s: &Settings) -> Result<Option<web::Data<portico_verify::Verifier>>, StartError> {
    if !s.playground.enabled {
        return Ok(None);
    }
    let audience = s
        .apis
        .first()
        .map(|a| a.audience.clone())
        .unwrap_or_default();
    let v = portico_verify::Verifier::builder()
        .issuer(s.issuer.as_str(), audience)
        .realm("demo-api")
        .build()
        .map_err(|e| StartError::Bind {
            addr: "demo-api verifier".into(),
            source: std::io::Error::other(e),
        })?;
    Ok(Some(web::Data::new(v)))
}

fn run(
    listener: TcpListener,
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
) -> Result<Server, StartError> {
    let s = state.idp.settings();
    let limits = s.server.clone();
    let body_timeout = deadline::BodyTimeout(Duration::from_secs(limits.body_timeout_secs));
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    // The playground's relying-party state and the demo API's verifier are shared by all
    // workers, so they are built once, here.
    let playground = web::Data::new(demo::playground::Playground::new());
    let verifier = demo_verifier(&s)?;
    let (https, metrics_here) = (s.issuer.is_https(), s.metrics.listen.is_none());
    let server = HttpServer::new(move || {
        let mut app = App::new()
            .wrap(
                ErrorHandlers::new()
                    .handler(StatusCode::PAYLOAD_TOO_LARGE, oauth::payload_too_large),
            )
            .wrap(headers::security_headers(https))
            .wrap(from_fn(cors::middleware))
            .wrap(from_fn(deadline::middleware))
            .wrap(from_fn(metrics::track))
            .app_data(body_timeout)
            .app_data(state.clone())
            .app_data(metrics.clone())
            .app_data(web::PayloadConfig::new(64 * 1024))
            .app_data(web::FormConfig::default().limit(64 * 1024))
            .configure(routes)
            .configure(admin::configure);
        if metrics_here {
            app = app.route("/metrics", web::get().to(metrics::endpoint));
        }
        if let Some(v) = &verifier {
            app = app
                .app_data(v.clone())
                .app_data(playground.clone())
                .configure(demo::playground::configure);
        }
        app.default_service(web::to(not_found))
    })
    .workers(workers)
    // Slow clients (review M5): the head within `header_timeout_secs`, the body within
    // `body_timeout_secs` (web::deadline), and a cap on open connections.
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

/// 200 when the database answers, with the fingerprint of the configuration in force
/// (a rolling reload across replicas shows which instance runs which version).
async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let config = state.idp.settings().fingerprint.clone();
    let (mut res, status) = match state.idp.store.ping().await {
        true => (HttpResponse::Ok(), "ok"),
        false => (HttpResponse::ServiceUnavailable(), "database unavailable"),
    };
    res.insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "status": status, "config": config }))
}

/// What a reload did.
#[derive(Debug)]
pub enum Reloaded {
    /// The new configuration is in force; the keys listed need a restart to change.
    Applied {
        fingerprint: String,
        needs_restart: Vec<&'static str>,
    },
    /// The file (and environment) are as they were.
    Unchanged,
}

/// Re-read the configuration file (with the environment overrides), validate it like
/// `portico check`, and put it in force for new requests. An invalid file changes
/// nothing: the problems come back and the old configuration keeps serving.
pub fn reload(
    state: &AppState,
    path: &std::path::Path,
) -> Result<Reloaded, crate::config::ConfigError> {
    let new = crate::config::load(path)?;
    let old = state.idp.settings();
    if new.fingerprint == old.fingerprint {
        return Ok(Reloaded::Unchanged);
    }
    let needs_restart = restart_only(&old, &new);
    let mailer = match (&old.email, &new.email) {
        (Some(a), Some(b)) if a.transport == b.transport => None,
        (None, None) => None,
        (_, Some(b)) => match Mailer::new(&b.transport) {
            Ok(m) => Some(Some(m)),
            Err(e) => {
                tracing::warn!(error = %e, "reload: the new mail transport failed; mail keeps the old one");
                None
            }
        },
        (Some(_), None) => Some(None),
    };
    for w in &new.warnings {
        tracing::warn!("configuration: {w}");
    }
    let fingerprint = new.fingerprint.clone();
    let discovery = oidc::discovery::document(&new);
    state.idp.reload(Arc::new(new), mailer);
    state.discovery.store(Arc::new(discovery));
    Ok(Reloaded::Applied {
        fingerprint,
        needs_restart,
    })
}

/// Settings read once at start (sockets, the store, the secret, pools and in-memory
/// limits, the signing algorithm): a reload that changes them says so.
fn restart_only(old: &Settings, new: &Settings) -> Vec<&'static str> {
    let mut v = Vec::new();
    let mut check = |changed: bool, what: &'static str| {
        if changed {
            v.push(what);
        }
    };
    check(old.listen != new.listen, "listen");
    check(old.data_dir != new.data_dir, "data_dir");
    check(
        old.store_url != new.store_url || old.durability != new.durability,
        "[store]",
    );
    check(
        format!("{:?}", old.secrets) != format!("{:?}", new.secrets),
        "[secrets]",
    );
    check(
        format!("{:?}", old.login) != format!("{:?}", new.login),
        "[login]",
    );
    check(
        format!("{:?}", old.server) != format!("{:?}", new.server),
        "[server]",
    );
    check(
        format!("{:?}", old.metrics) != format!("{:?}", new.metrics),
        "[metrics]",
    );
    check(
        old.tokens.signing_alg != new.tokens.signing_alg,
        "[tokens] signing_alg",
    );
    check(
        old.playground.enabled != new.playground.enabled,
        "[playground] enabled",
    );
    v
}

/// `portico serve`: SIGHUP reloads the configuration file.
pub async fn reload_on_sighup(state: web::Data<AppState>, path: std::path::PathBuf) {
    let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; configuration reload is off");
            return;
        }
    };
    while hup.recv().await.is_some() {
        match reload(&state, &path) {
            Ok(Reloaded::Applied {
                fingerprint,
                needs_restart,
            }) => {
                tracing::info!(config = %fingerprint, "configuration reloaded");
                if !needs_restart.is_empty() {
                    tracing::warn!(
                        "configuration: {} changed; that takes effect at the next restart",
                        needs_restart.join(", ")
                    );
                }
            }
            Ok(Reloaded::Unchanged) => tracing::info!("configuration unchanged"),
            Err(e) => tracing::error!(
                "configuration reload refused, the running configuration stays:\n{e}"
            ),
        }
    }
}

async fn home(state: web::Data<AppState>) -> HttpResponse {
    let s = &state.idp.settings();
    if s.playground.enabled {
        return HttpResponse::Found()
            .insert_header((header::LOCATION, "/playground"))
            .finish();
    }
    HttpResponse::Ok().content_type("text/plain").body(format!(
        "Portico OpenID Provider. Discovery: {}\n",
        s.issuer.join("/.well-known/openid-configuration")
    ))
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .json(serde_json::json!({"error": "not_found", "error_description": "no such endpoint"}))
}
