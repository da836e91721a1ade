//! Test scaffolding: a fake issuer (discovery + swappable JWKS, with hit counters), test
//! keys made with josekit, token signing and a settable clock.

use std::net::TcpListener;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse, HttpServer};
use base64::Engine as _;
use josekit::jwk::{Jwk, KeyPair};
use josekit::jws::{self, JwsSigner};
use portico_verify::{Verifier, VerifierBuilder};
use serde_json::{json, Value};

/// 2027-01-15T08:00:00Z: all tokens and clocks in the tests are relative to it.
pub const NOW: i64 = 1_800_000_000;
pub const AUDIENCE: &str = "https://api.example.com";

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A signing key pair plus the public JWK the fake issuer publishes.
pub struct TestKey {
    pub kid: String,
    pub alg: &'static str,
    private_der: Vec<u8>,
    public_pem: Vec<u8>,
    jwk: Jwk,
}

impl TestKey {
    pub fn es256(kid: &str) -> TestKey {
        let pair = jws::ES256.generate_key_pair().expect("EC key");
        TestKey::from_pair(kid, "ES256", &*pair)
    }

    pub fn rs256(kid: &str) -> TestKey {
        let pair = jws::RS256.generate_key_pair(2048).expect("RSA key");
        TestKey::from_pair(kid, "RS256", &*pair)
    }

    /// An RSA key published for PS256.
    pub fn ps256(kid: &str) -> TestKey {
        let pair = jws::RS256.generate_key_pair(2048).expect("RSA key");
        TestKey::from_pair(kid, "PS256", &*pair)
    }

    pub fn eddsa(kid: &str) -> TestKey {
        let pair = jws::EdDSA
            .generate_key_pair(josekit::jwk::alg::ed::EdCurve::Ed25519)
            .expect("Ed25519 key");
        TestKey::from_pair(kid, "EdDSA", &*pair)
    }

    fn from_pair(kid: &str, alg: &'static str, pair: &dyn KeyPair) -> TestKey {
        let mut jwk = pair.to_jwk_public_key();
        // josekit leaves these out; a real issuer publishes them (DEPENDENCIES.md).
        jwk.set_key_id(kid);
        jwk.set_algorithm(alg);
        jwk.set_key_use("sig");
        TestKey {
            kid: kid.to_owned(),
            alg,
            private_der: pair.to_der_private_key(),
            public_pem: pair.to_pem_public_key(),
            jwk,
        }
    }

    /// The public JWK as JSON, as the issuer's JWKS lists it.
    pub fn public_jwk(&self) -> Value {
        Value::Object(self.jwk.as_ref().clone())
    }

    /// The PEM of the public key: what an attacker would use as an HMAC secret.
    pub fn public_pem(&self) -> &[u8] {
        &self.public_pem
    }

    /// The JWK with public and private members: a leaked key.
    pub fn private_jwk(&self) -> Value {
        let pair: Box<dyn KeyPair> = match self.alg {
            "ES256" => Box::new(
                jws::ES256
                    .key_pair_from_der(&self.private_der)
                    .expect("EC der"),
            ),
            "EdDSA" => Box::new(
                jws::EdDSA
                    .key_pair_from_der(&self.private_der)
                    .expect("Ed der"),
            ),
            _ => Box::new(
                jws::RS256
                    .key_pair_from_der(&self.private_der)
                    .expect("RSA der"),
            ),
        };
        let mut jwk = pair.to_jwk_key_pair();
        jwk.set_key_id(&self.kid);
        jwk.set_algorithm(self.alg);
        Value::Object(jwk.as_ref().clone())
    }

    /// Signs with this key's own algorithm and the header Portico uses.
    pub fn sign(&self, payload: &Value) -> String {
        let header = json!({ "alg": self.alg, "typ": "at+jwt", "kid": self.kid });
        self.sign_with(self.alg, &header, payload)
    }

    /// Signs with this private key under `alg` (which may differ from the key's own),
    /// with an arbitrary header.
    pub fn sign_with(&self, alg: &str, header: &Value, payload: &Value) -> String {
        let signer: Box<dyn JwsSigner> = match alg {
            "ES256" => Box::new(
                jws::ES256
                    .signer_from_der(&self.private_der)
                    .expect("ES256"),
            ),
            "RS256" => Box::new(
                jws::RS256
                    .signer_from_der(&self.private_der)
                    .expect("RS256"),
            ),
            "PS256" => Box::new(
                jws::PS256
                    .signer_from_der(&self.private_der)
                    .expect("PS256"),
            ),
            "EdDSA" => Box::new(
                jws::EdDSA
                    .signer_from_der(&self.private_der)
                    .expect("EdDSA"),
            ),
            other => panic!("no signer for {other}"),
        };
        sign_raw(&*signer, header, payload)
    }
}

pub fn sign_raw(signer: &dyn JwsSigner, header: &Value, payload: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64(serde_json::to_vec(header).expect("header")),
        b64(serde_json::to_vec(payload).expect("payload"))
    );
    let signature = signer.sign(input.as_bytes()).expect("sign");
    format!("{input}.{}", b64(signature))
}

/// The payload of a typical Portico access token issued at [`NOW`].
pub fn claims(iss: &str) -> Value {
    json!({
        "iss": iss,
        "sub": "usr_42",
        "aud": AUDIENCE,
        "exp": NOW + 300,
        "iat": NOW,
        "jti": "at_1",
        "client_id": "partners-web",
        "scope": "openid orders:read",
        "roles": ["partner"],
        "auth_time": NOW - 10,
        "tenant": "acme",
    })
}

/// Merges `changes` into `payload`; a null value removes the claim.
pub fn with(mut payload: Value, changes: Value) -> Value {
    if let (Value::Object(target), Value::Object(changes)) = (&mut payload, changes) {
        for (name, value) in changes {
            if value.is_null() {
                target.remove(&name);
            } else {
                target.insert(name, value);
            }
        }
    }
    payload
}

/// A clock the test moves by hand; starts at [`NOW`].
#[derive(Clone)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    pub fn new() -> TestClock {
        TestClock(Arc::new(AtomicI64::new(NOW * 1000)))
    }

    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }

    pub fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0.load(Ordering::SeqCst) as u64)
    }
}

struct IssuerState {
    url: String,
    discovery_issuer: RwLock<String>,
    jwks: RwLock<Value>,
    jwks_hits: AtomicUsize,
    discovery_hits: AtomicUsize,
}

/// An issuer serving discovery and a JWKS on 127.0.0.1, on a port of its own.
pub struct FakeIssuer {
    pub url: String,
    state: web::Data<IssuerState>,
    handle: ServerHandle,
}

impl FakeIssuer {
    /// Starts serving `keys`. Needs a running actix system (`#[actix_web::test]`).
    pub fn start(keys: &[&TestKey]) -> FakeIssuer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = web::Data::new(IssuerState {
            url: url.clone(),
            discovery_issuer: RwLock::new(url.clone()),
            jwks: RwLock::new(jwks(keys)),
            jwks_hits: AtomicUsize::new(0),
            discovery_hits: AtomicUsize::new(0),
        });
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(discovery),
                )
                .route("/jwks", web::get().to(serve_jwks))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        FakeIssuer { url, state, handle }
    }

    /// A verifier trusting only this issuer, with the test clock.
    pub fn verifier(&self, clock: &TestClock) -> Verifier {
        self.builder(clock).build().expect("verifier")
    }

    pub fn builder(&self, clock: &TestClock) -> VerifierBuilder {
        let clock = clock.clone();
        Verifier::builder()
            .issuer(&self.url, AUDIENCE)
            .clock(move || clock.now())
    }

    /// Replaces the published JWKS (key rotation).
    pub fn set_keys(&self, keys: &[&TestKey]) {
        self.set_jwks(jwks(keys));
    }

    pub fn set_jwks(&self, value: Value) {
        *self.state.jwks.write().expect("jwks lock") = value;
    }

    /// Makes discovery claim another issuer identifier (mix-up).
    pub fn set_discovery_issuer(&self, issuer: &str) {
        *self.state.discovery_issuer.write().expect("issuer lock") = issuer.to_owned();
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn discovery_hits(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }

    /// A token with [`claims`] for this issuer, signed by `key`.
    pub fn token(&self, key: &TestKey) -> String {
        key.sign(&claims(&self.url))
    }
}

impl Drop for FakeIssuer {
    fn drop(&mut self) {
        // Stopping is fire-and-forget: the command is sent before the future is polled.
        drop(self.handle.stop(false));
    }
}

pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|key| key.public_jwk()).collect::<Vec<_>>() })
}

async fn discovery(state: web::Data<IssuerState>) -> HttpResponse {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    let issuer = state.discovery_issuer.read().expect("issuer lock").clone();
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{}/jwks", state.url),
        "authorization_endpoint": format!("{}/authorize", state.url),
        "token_endpoint": format!("{}/token", state.url),
    }))
}

async fn serve_jwks(state: web::Data<IssuerState>) -> HttpResponse {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let body = state.jwks.read().expect("jwks lock").clone();
    HttpResponse::Ok().json(body)
}
