//! `/revoke` (RFC 7009): a client revokes its own refresh or access tokens.

use actix_web::{web, HttpRequest, HttpResponse};

use super::client_auth::{authenticate, require_form};
use crate::idp::params::Params;
use crate::idp::{revocation, OAuthError};
use crate::state::AppState;

pub async fn revoke(
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
    // RFC 7009 2.1/2.2: the hint only speeds up the lookup; an invalid one is ignored.
    p.one("token_type_hint")?;
    revocation::revoke(&state.idp, &client, token, state.now()).await?;
    Ok(HttpResponse::Ok().finish())
}
