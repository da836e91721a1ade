//! `/token` (RFC 6749 3.2): authenticate the client, let the grant decide (idp::grants),
//! answer JSON that is never cached.

use actix_web::{web, HttpRequest, HttpResponse};

use super::client_auth::{authenticate, require_form};
use crate::idp::grants;
use crate::idp::params::Params;
use crate::idp::OAuthError;
use crate::state::AppState;
use crate::web::oauth::no_store_json;

pub async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    require_form(&req)?;
    let params = Params::parse(&body)?;
    let (client, _) = authenticate(&state, &req, &params)?;
    let issued = grants::exchange(&state.idp, &client, &params, state.now()).await?;
    Ok(no_store_json(issued))
}
