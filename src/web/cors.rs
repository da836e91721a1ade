//! CORS for browser-based public clients (single-page apps): the token, userinfo and
//! revocation endpoints answer cross-origin requests from the origins of registered
//! redirect URIs only. Discovery and JWKS are public to every origin.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

use crate::state::AppState;

const PATHS: &[&str] = &["/token", "/userinfo", "/revoke"];

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // The configuration in force now: a reload that adds a client opens its origin.
    let allowed = match (&origin, req.app_data::<web::Data<AppState>>()) {
        (Some(o), Some(state)) if PATHS.contains(&req.path()) => {
            state.idp.settings().origins.contains(o)
        }
        _ => false,
    };
    let Some(origin) = origin.filter(|_| allowed) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    if req.method() == Method::OPTIONS {
        let res = HttpResponse::NoContent()
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Authorization, Content-Type",
            ))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
            .insert_header((header::VARY, "Origin"))
            .finish();
        return Ok(req.into_response(res));
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    let h = res.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(&origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(header::VARY, header::HeaderValue::from_static("Origin"));
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            header::HeaderValue::from_static("WWW-Authenticate"),
        );
    }
    Ok(res)
}
