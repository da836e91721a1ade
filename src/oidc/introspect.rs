//! `/introspect` (RFC 7662), for authenticated confidential clients.

use actix_web::{web, HttpRequest, HttpResponse};

use super::client_auth::{authenticate, require_form};
use crate::idp::introspection;
use crate::idp::params::Params;
use crate::idp::OAuthError;
use crate::state::AppState;
use crate::web::oauth::no_store_json;

pub async fn introspect(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    require_form(&req)?;
    let p = Params::parse(&body)?;
    let (client, _) = authenticate(&state, &req, &p)?;
    let token = p
        .one("token")?
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let answer = introspection::introspect(&state.idp, &client, token, state.now()).await?;
    Ok(no_store_json(answer))
}
