//! OAuth errors as HTTP (the one mapping): status, JSON body, no-store, and the
//! challenge or Retry-After the code calls for. Oversized bodies at the OAuth endpoints
//! are JSON errors too.

use actix_web::body::EitherBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};

use crate::idp::{ErrorCode, OAuthError};

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self.code {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        if let Some(c) = &self.challenge {
            res.insert_header((header::WWW_AUTHENTICATE, c.as_str()));
        }
        match self.code {
            ErrorCode::TemporarilyUnavailable => {
                res.insert_header((header::RETRY_AFTER, "1"));
            }
            ErrorCode::TooManyRequests => {
                res.insert_header((header::RETRY_AFTER, "60"));
            }
            _ => {}
        }
        res.json(serde_json::json!({
            "error": self.code.as_str(),
            "error_description": self.description,
        }))
    }
}

/// A JSON answer that must not be cached (token, introspection, userinfo responses).
pub fn no_store_json(body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

/// The OAuth endpoints answer errors as JSON (interface.md), oversized bodies included.
pub fn payload_too_large<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    if !matches!(
        res.request().path(),
        "/token" | "/revoke" | "/introspect" | "/userinfo"
    ) {
        return Ok(ErrorHandlerResponse::Response(
            res.map_body(|_, b| EitherBody::left(b)),
        ));
    }
    let (req, _) = res.into_parts();
    let json =
        OAuthError::invalid_request("the request body is larger than 64 KiB").error_response();
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, json).map_into_right_body(),
    ))
}
