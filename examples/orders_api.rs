//! A standalone "Orders API" resource server trusting a Portico issuer.
//!
//! ```text
//! cargo run --example orders_api
//! PORTICO_ISSUER=http://127.0.0.1:8080 API_AUDIENCE=https://api.example.com \
//!     API_LISTEN=127.0.0.1:8081 cargo run --example orders_api
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8081/me
//! ```

use std::env;

use actix_web::{web, App, HttpServer};
use portico::demo::demo_api;
use portico_verify::Verifier;

fn setting(name: &str, default: &str) -> String {
    env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    let issuer = setting("PORTICO_ISSUER", "http://127.0.0.1:8080");
    let audience = setting("API_AUDIENCE", "https://api.example.com");
    let listen = setting("API_LISTEN", "127.0.0.1:8081");

    let verifier = Verifier::builder()
        .issuer(&issuer, &audience)
        .realm("orders-api")
        .build()
        .map_err(std::io::Error::other)?;
    // Warm the key cache; if the issuer is not up yet, keys are fetched on first use.
    if let Err(error) = verifier.refresh().await {
        eprintln!(
            "warning: cannot fetch {issuer}'s keys yet ({error}); will retry on first request"
        );
    }
    let verifier = web::Data::new(verifier);

    let server = HttpServer::new(move || {
        App::new()
            .app_data(verifier.clone())
            .configure(demo_api::configure)
    })
    .bind(&listen)?;
    for addr in server.addrs() {
        println!("Orders API listening on http://{addr} (issuer {issuer}, audience {audience})");
        println!(
            "  GET /me  GET /partner/reports (role partner)  GET /customer/orders (role customer)"
        );
    }
    server.run().await
}
