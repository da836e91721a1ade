//! `/signup`: the branded sign-up form. A new address creates an account (idp::signup);
//! a taken one with its own password logs in (the owner used the wrong form), with any
//! other password it is a guess, throttled and counted like a failed login.

use actix_web::{web, HttpRequest, HttpResponse};

use super::login_page::TxQuery;
use super::transaction::{self, finish, submitted, Submitted};
use crate::domain::Email;
use crate::idp::password_check::{self, PasswordCheck};
use crate::idp::signup::{self, NewAccount, Origin};
use crate::idp::Refusal;
use crate::state::AppState;
use crate::store;
use crate::web::page::PageError;

pub async fn show(state: web::Data<AppState>, q: web::Query<TxQuery>) -> HttpResponse {
    transaction::page(&state, q.tx.as_deref(), true).await
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
    if !sub.connection.open_signup() {
        let e = PageError::from(Refusal::SignupClosed).branded(Some(&sub.client.client_id));
        return e.render(&state.idp.settings());
    }
    let form = sub.form();
    let email = match Email::parse(&sub.credentials.email) {
        Ok(e) => e,
        Err(msg) => return form.refused(true, Refusal::Invalid(msg.into()).into()),
    };
    let (conn, em) = (sub.connection.name.to_string(), email.to_string());
    let existing = state
        .idp
        .store
        .read(move |db| store::users::find_by_email(db, &conn, &em))
        .await;
    match existing {
        Err(e) => form.refused(true, Refusal::from(e).into()),
        Ok(Some(_)) => existing_account(&req, &state, &sub, &email).await,
        Ok(None) => new_account(&req, &state, &sub, &email).await,
    }
}

/// The password must pass the policy first, so the answer for a taken address does not
/// differ from a free one on a weak password.
async fn existing_account(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    sub: &Submitted,
    email: &Email,
) -> HttpResponse {
    let form = sub.form();
    let password = &sub.credentials.password;
    if let Err(r) = signup::check_policy(sub.connection.password_min_length, password, email).await
    {
        return form.refused(true, r.into());
    }
    let check = PasswordCheck {
        connection: sub.connection.name.as_str(),
        client_id: sub.client.client_id.as_str(),
        email,
        password,
        ip: sub.ip,
        device_trusted: sub.device_trusted(req, state, email),
    };
    match password_check::check(&state.idp, &check, state.now()).await {
        Err(r) => form.refused(true, r.into()),
        Ok(None) => form.refused(true, Refusal::NotCreated.into()),
        Ok(Some(v)) => finish(req, state, sub, v.user, false, None).await,
    }
}

async fn new_account(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    sub: &Submitted,
    email: &Email,
) -> HttpResponse {
    let account = NewAccount {
        connection: sub.connection.name.as_str(),
        client_id: Some(sub.client.client_id.as_str()),
        email,
        password: &sub.credentials.password,
        roles: &[],
        origin: Origin::Page { ip: sub.ip },
        tx: Some(&sub.loaded.id),
    };
    match signup::create(&state.idp, &account, state.now()).await {
        Ok(user) => finish(req, state, sub, user, true, None).await,
        Err(r) => sub.form().refused(true, r.into()),
    }
}
