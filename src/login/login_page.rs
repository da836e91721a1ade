//! `/login`: the branded password form of a login transaction.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::transaction::{self, finish, submitted};
use crate::domain::{Email, MAX_PASSWORD_BYTES};
use crate::idp::password_check::{self, PasswordCheck};
use crate::state::AppState;
use crate::web::page::WRONG_CREDENTIALS;

#[derive(Deserialize)]
pub struct TxQuery {
    pub tx: Option<String>,
}

pub async fn show(state: web::Data<AppState>, q: web::Query<TxQuery>) -> HttpResponse {
    transaction::page(&state, q.tx.as_deref(), false).await
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let sub = match submitted(&req, &state, &body).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let form = sub.form();
    let wrong = || form.login(StatusCode::UNAUTHORIZED, Some(WRONG_CREDENTIALS));
    let password = &sub.credentials.password;
    let Ok(email) = Email::parse(&sub.credentials.email) else {
        return wrong();
    };
    if password.expose().is_empty() || password.expose().len() > MAX_PASSWORD_BYTES {
        return wrong();
    }
    let check = PasswordCheck {
        connection: sub.connection.name.as_str(),
        client_id: sub.client.client_id.as_str(),
        email: &email,
        password,
        ip: sub.ip,
        device_trusted: sub.device_trusted(&req, &state, &email),
    };
    match password_check::check(&state.idp, &check, state.now()).await {
        Err(r) => form.refused(false, r.into()),
        Ok(None) => wrong(),
        Ok(Some(v)) => {
            let rehash = match v.rehash {
                true => state
                    .idp
                    .hasher
                    .hash(password)
                    .await
                    .ok()
                    .and_then(Result::ok),
                false => None,
            };
            finish(&req, &state, &sub, v.user, false, rehash).await
        }
    }
}
