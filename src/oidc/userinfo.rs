//! `/userinfo` (OIDC Core 5.3): a bearer token from the header (RFC 6750 2.1) or a form
//! body (2.2), not both.

use actix_web::{http::header, web, HttpRequest, HttpResponse};

use crate::idp::params::Params;
use crate::idp::userinfo::{self, bearer_error, missing_token};
use crate::idp::{ErrorCode, OAuthError};
use crate::state::AppState;
use crate::web::oauth::no_store_json;

fn bearer(req: &HttpRequest, body: &[u8]) -> Result<String, OAuthError> {
    let from_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let from_body = match is_form {
        true => Params::parse(body)?
            .one("access_token")
            .ok()
            .flatten()
            .map(str::to_owned),
        false => None,
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(bearer_error(
            ErrorCode::InvalidRequest,
            "send the token once",
        )),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(missing_token()),
    }
}

pub async fn userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    let token = bearer(&req, &body)?;
    let info = userinfo::userinfo(&state.idp, &token, state.now()).await?;
    Ok(no_store_json(info))
}
