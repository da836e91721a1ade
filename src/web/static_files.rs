//! Static assets (CSS, logos) embedded in the binary, so Portico stays one file.

use actix_web::{http::header, web, HttpRequest, HttpResponse};

use crate::state::AppState;

const FILES: &[(&str, &str, &[u8])] = &[
    (
        "portico.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/portico.css"),
    ),
    (
        "playground.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/playground.css"),
    ),
    (
        "brands/customers.svg",
        "image/svg+xml",
        include_bytes!("../../static/brands/customers.svg"),
    ),
    (
        "brands/partners.svg",
        "image/svg+xml",
        include_bytes!("../../static/brands/partners.svg"),
    ),
    (
        "brands/customers.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/brands/customers.css"),
    ),
    (
        "brands/partners.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/brands/partners.css"),
    ),
];

/// A version tag for ETags: changes with every build of different assets.
fn etag(body: &[u8]) -> String {
    format!(
        "\"{}\"",
        &crate::crypto::hex(&crate::crypto::sha256(body))[..16]
    )
}

pub async fn serve(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let Some((_, mime, body)) = FILES.iter().find(|(p, _, _)| *p == path.as_str()) else {
        return HttpResponse::NotFound()
            .content_type("text/plain")
            .body("not found");
    };
    let tag = etag(body);
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == tag)
    {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, tag))
            .finish();
    }
    HttpResponse::Ok()
        .content_type(*mime)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::ETAG, tag))
        .body(*body)
}

/// `/branding/{client_id}.css?v=…`: the client's colour as a CSS custom property, so
/// pages need no inline style (the CSP forbids it). The colour was validated at config
/// load. Pages link it with the brand's version: that URL is cached a day; any other
/// (an old version after a reload) must be revalidated.
pub async fn brand_css(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let id = path.trim_end_matches(".css");
    let settings = state.idp.settings();
    let client = settings.client(id);
    let color = client.map_or("#2f6f4f", |c| c.branding.primary_color.as_str());
    let current = client.map(crate::web::page::brand_version);
    let asked = req
        .query_string()
        .split('&')
        .find_map(|p| p.strip_prefix("v="));
    let cache = match (current.as_deref(), asked) {
        (Some(c), Some(a)) if c == a => "public, max-age=86400",
        _ => "no-cache",
    };
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, cache))
        .body(format!(":root {{ --brand: {color}; }}\n"))
}
