//! The authorization endpoint (RFC 6749 3.1, 4.1.1; OIDC Core 3.1.2) as a list of small
//! named checks. The client and redirect_uri are established first: until both are
//! trusted an error is shown on a page, never redirected (RFC 6749 4.1.2.1).

use std::collections::BTreeMap;

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::config::{Client, GrantType, Settings};
use crate::domain::{CodeChallenge, Scopes};
use crate::error::{ErrorCode, OAuthError};
use crate::login::{flow, pages, session};
use crate::params::Params;
use crate::startup::AppState;
use crate::store;

/// A validated authorization request, parked in the login transaction.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The granted scopes (unknown ones dropped).
    pub scope: String,
    pub code_challenge: Option<String>,
    pub audience: Option<String>,
    pub prompt_login: bool,
    pub prompt_none: bool,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub screen_hint_signup: bool,
    /// The parameters not kept above (bounded to `MAX_EXTRA_LEN`), for the rules.
    pub extra: BTreeMap<String, String>,
}

/// Parameters kept as typed fields of `AuthRequest`, so the parked row holds each value
/// once; `rule_query` puts them back for the rules.
const TYPED: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "login_hint",
];

impl AuthRequest {
    /// Every parameter of the request, the last value winning (`event.request.query`).
    pub fn rule_query(&self) -> BTreeMap<String, String> {
        let mut q = self.extra.clone();
        q.insert("client_id".into(), self.client_id.clone());
        q.insert("redirect_uri".into(), self.redirect_uri.clone());
        q.insert("response_type".into(), "code".into());
        let optional = [
            ("state", &self.state),
            ("nonce", &self.nonce),
            ("code_challenge", &self.code_challenge),
            ("login_hint", &self.login_hint),
        ];
        for (k, v) in optional {
            if let Some(v) = v {
                q.insert(k.into(), v.clone());
            }
        }
        if self.code_challenge.is_some() {
            q.insert("code_challenge_method".into(), "S256".into());
        }
        q
    }
}

/// Why a request is refused, and how the refusal reaches the user.
#[derive(Debug)]
pub enum Rejection {
    /// Client or redirect_uri not trusted: an error page (HTTP 400), never a redirect.
    Page(&'static str),
    /// Sent back to the client's (trusted) redirect_uri (RFC 6749 4.1.2.1, RFC 9207).
    Redirect {
        error: OAuthError,
        redirect_uri: String,
        state: Option<String>,
    },
}

const MAX_PARAMETERS: usize = 50;
const MAX_VALUE_LEN: usize = 2048;
const MAX_QUERY_LEN: usize = 8192;
/// What a parked request may hold beyond its typed fields (names and values together).
const MAX_EXTRA_LEN: usize = 2048;

/// The checks, each citing its clause.
pub mod checks {
    use super::*;

    /// RFC 6749 4.1.2.1: a missing or unknown client_id is shown, not redirected.
    pub fn client<'a>(s: &'a Settings, p: &Params) -> Result<&'a Client, Rejection> {
        let id = p
            .one("client_id")
            .map_err(|_| Rejection::Page("The client_id parameter is repeated."))?
            .ok_or(Rejection::Page("The request has no client_id."))?;
        let client = s
            .client(id)
            .ok_or(Rejection::Page("This application is not registered."))?;
        if !client.allows(GrantType::AuthorizationCode) {
            return Err(Rejection::Page("This application cannot sign users in."));
        }
        Ok(client)
    }

    /// RFC 6749 3.1.2.3 and RFC 9700 4.1.3: exact string comparison with a registered URI.
    /// OpenID Connect requires the parameter (OIDC Core 3.1.2.1).
    pub fn redirect_uri(client: &Client, p: &Params) -> Result<String, Rejection> {
        let uri = p
            .one("redirect_uri")
            .map_err(|_| Rejection::Page("The redirect_uri parameter is repeated."))?
            .ok_or(Rejection::Page("The request has no redirect_uri."))?;
        if client.redirect_uris.iter().any(|r| r.as_str() == uri) {
            Ok(uri.to_owned())
        } else {
            Err(Rejection::Page(
                "The redirect_uri is not registered for this application.",
            ))
        }
    }

    /// RFC 6749 3.1: request and response parameters must not be included more than once.
    pub fn no_repeated_parameters(p: &Params) -> Result<(), OAuthError> {
        const OAUTH: &[&str] = &[
            "response_type",
            "scope",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method",
            "prompt",
            "max_age",
            "login_hint",
            "screen_hint",
            "resource",
            "audience",
            "response_mode",
            "request",
            "request_uri",
            "display",
            "ui_locales",
            "id_token_hint",
            "acr_values",
            "claims",
        ];
        match OAUTH.iter().find(|n| p.is_repeated(n)) {
            Some(n) => Err(OAuthError::invalid_request(format!(
                "parameter {n} is repeated"
            ))),
            None => Ok(()),
        }
    }

    /// RFC 6749 3.1.1 and 4.1.1: only the code flow.
    pub fn response_type(p: &Params) -> Result<(), OAuthError> {
        match p.one("response_type")? {
            Some("code") => Ok(()),
            Some(_) => Err(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            )),
            None => Err(OAuthError::invalid_request("response_type is required")),
        }
    }

    /// OAuth 2.0 Multiple Response Types 2.1: only the query response mode.
    pub fn response_mode(p: &Params) -> Result<(), OAuthError> {
        match p.one("response_mode")? {
            None | Some("query") => Ok(()),
            Some(_) => Err(OAuthError::invalid_request(
                "only response_mode=query is supported",
            )),
        }
    }

    /// OIDC Core 6: request objects are not supported.
    pub fn no_request_objects(p: &Params) -> Result<(), OAuthError> {
        if p.one("request")?.is_some() {
            return Err(OAuthError::new(
                ErrorCode::RequestNotSupported,
                "request objects are not supported",
            ));
        }
        if p.one("request_uri")?.is_some() {
            return Err(OAuthError::new(
                ErrorCode::RequestUriNotSupported,
                "request_uri is not supported",
            ));
        }
        Ok(())
    }

    /// RFC 7636 4.3 and RFC 9700 2.1.1: S256 only (`plain` refused); required of public
    /// clients, accepted from confidential ones.
    pub fn pkce(client: &Client, p: &Params) -> Result<Option<String>, OAuthError> {
        let challenge = p.one("code_challenge")?;
        let method = p.one("code_challenge_method")?;
        match (challenge, method) {
            (None, None) if client.is_public() => Err(OAuthError::invalid_request(
                "code_challenge (PKCE, S256) is required for public clients",
            )),
            (None, None) => Ok(None),
            (None, Some(_)) => Err(OAuthError::invalid_request(
                "code_challenge_method without code_challenge",
            )),
            // RFC 7636 4.3: a missing method means plain, which we refuse.
            (Some(_), None) | (Some(_), Some("plain")) => Err(OAuthError::invalid_request(
                "code_challenge_method must be S256 (plain is not allowed)",
            )),
            (Some(c), Some("S256")) => CodeChallenge::parse_s256(c)
                .map(|c| Some(c.as_str().to_owned()))
                .map_err(OAuthError::invalid_request),
            (Some(_), Some(_)) => Err(OAuthError::invalid_request(
                "code_challenge_method must be S256",
            )),
        }
    }

    /// RFC 6749 3.3: unknown scopes are dropped (interface.md), and so are the scopes of
    /// APIs other than the token's audience.
    pub fn scope(s: &Settings, p: &Params, audience: Option<&str>) -> Result<Scopes, OAuthError> {
        let requested = Scopes::parse(p.one("scope")?.unwrap_or(""));
        Ok(s.granted_scopes(&requested, audience))
    }

    /// OIDC Core 3.1.2.1: prompt is a space-separated list; `none` stands alone.
    pub fn prompt(p: &Params) -> Result<(bool, bool), OAuthError> {
        let values = Scopes::parse(p.one("prompt")?.unwrap_or(""));
        let none = values.contains("none");
        let login = values.contains("login");
        if none && values.iter().count() > 1 {
            return Err(OAuthError::invalid_request(
                "prompt=none cannot be combined with other values",
            ));
        }
        Ok((none, login))
    }

    /// OIDC Core 3.1.2.1: max_age is a non-negative number of seconds.
    pub fn max_age(p: &Params) -> Result<Option<i64>, OAuthError> {
        match p.one("max_age")? {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(Some)
                .ok_or_else(|| {
                    OAuthError::invalid_request("max_age must be a non-negative integer")
                }),
        }
    }

    /// RFC 8707 2: `resource` (or Auth0-style `audience`) must name a configured API;
    /// without one the client's default audience applies.
    pub fn audience(
        s: &Settings,
        client: &Client,
        p: &Params,
    ) -> Result<Option<String>, OAuthError> {
        target_audience(s, client, p.one("resource")?, p.one("audience")?)
    }

    /// Bounded sizes for what we store (the whole query is kept for the rules) and echo,
    /// so an unauthenticated request cannot park megabytes in a login transaction.
    pub fn lengths(p: &Params) -> Result<(), OAuthError> {
        if !p.is_bounded(MAX_PARAMETERS, MAX_VALUE_LEN, MAX_QUERY_LEN) {
            return Err(OAuthError::invalid_request(format!(
                "at most {MAX_PARAMETERS} parameters of at most {MAX_VALUE_LEN} characters, {MAX_QUERY_LEN} in all"
            )));
        }
        for (name, max) in [
            ("state", 2048),
            ("nonce", 512),
            ("login_hint", 320),
            ("scope", 2048),
        ] {
            if p.one(name)?.is_some_and(|v| v.len() > max) {
                return Err(OAuthError::invalid_request(format!(
                    "{name} is longer than {max} characters"
                )));
            }
        }
        if extra(p)
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
            > MAX_EXTRA_LEN
        {
            return Err(OAuthError::invalid_request(format!(
                "the parameters other than the OAuth ones exceed {MAX_EXTRA_LEN} characters"
            )));
        }
        Ok(())
    }

    /// The parameters the typed request does not hold, the last value winning.
    pub fn extra(p: &Params) -> BTreeMap<String, String> {
        let mut q = p.last_wins();
        q.retain(|k, _| !TYPED.contains(&k.as_str()));
        q
    }
}

/// Shared by /authorize and /token (RFC 8707 2.2): pick and check the audience.
pub fn target_audience(
    s: &Settings,
    client: &Client,
    resource: Option<&str>,
    audience: Option<&str>,
) -> Result<Option<String>, OAuthError> {
    let wanted = match (resource, audience) {
        (Some(r), Some(a)) if r != a => {
            return Err(OAuthError::invalid_request(
                "resource and audience name different APIs",
            ))
        }
        (Some(r), _) => Some(r),
        (None, a) => a,
    };
    match wanted {
        None => Ok(client.audience.clone()),
        Some(a) if s.api(a).is_none() => Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "the requested resource is not a known API",
        )),
        // RFC 8707 2: the client must be allowed tokens for that API (`apis`).
        Some(a) if client.apis.iter().any(|x| x == a) => Ok(Some(a.to_owned())),
        Some(_) => Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "this client may not get tokens for the requested resource",
        )),
    }
}

/// Run every check in order.
pub fn validate(s: &Settings, p: &Params) -> Result<AuthRequest, Rejection> {
    let client = checks::client(s, p)?;
    let redirect_uri = checks::redirect_uri(client, p)?;
    // From here on the redirect_uri is trusted: errors go back to it with the state.
    let state = p
        .one("state")
        .ok()
        .flatten()
        .map(|v| v.chars().take(2048).collect::<String>());
    let back = |error: OAuthError| Rejection::Redirect {
        error,
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
    };
    checks::no_repeated_parameters(p).map_err(back)?;
    checks::response_type(p).map_err(back)?;
    checks::response_mode(p).map_err(back)?;
    checks::no_request_objects(p).map_err(back)?;
    checks::lengths(p).map_err(back)?;
    let code_challenge = checks::pkce(client, p).map_err(back)?;
    let audience = checks::audience(s, client, p).map_err(back)?;
    let scope = checks::scope(s, p, audience.as_deref()).map_err(back)?;
    let (prompt_none, prompt_login) = checks::prompt(p).map_err(back)?;
    let max_age = checks::max_age(p).map_err(back)?;
    let one = |n: &str| p.one(n).ok().flatten().map(str::to_owned);
    Ok(AuthRequest {
        client_id: client.client_id.to_string(),
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        nonce: one("nonce"),
        scope: scope.to_string(),
        code_challenge,
        audience,
        prompt_login,
        prompt_none,
        max_age,
        login_hint: one("login_hint"),
        screen_hint_signup: one("screen_hint").as_deref() == Some("signup"),
        extra: checks::extra(p),
    })
}

/// `redirect_uri` plus response parameters, keeping any query it already has.
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut out = String::from(redirect_uri);
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    out.push(if redirect_uri.contains('?') { '&' } else { '?' });
    out.push_str(&ser.finish());
    out
}

/// The error response of RFC 6749 4.1.2.1 with `iss` (RFC 9207).
pub fn error_redirect(
    s: &Settings,
    redirect_uri: &str,
    state: Option<&str>,
    e: &OAuthError,
) -> HttpResponse {
    let mut params = vec![
        ("error", e.code.as_str()),
        ("error_description", e.description.as_ref()),
    ];
    if let Some(st) = state {
        params.push(("state", st));
    }
    params.push(("iss", s.issuer.as_str()));
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, redirect_with(redirect_uri, &params)))
        .finish()
}

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match Params::parse(req.query_string().as_bytes()) {
        Ok(params) => handle(req, state, params).await,
        Err(e) => pages::error_page(&state.settings, None, 400, &e.to_string()),
    }
}

pub async fn post(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return pages::error_page(
            &state.settings,
            None,
            400,
            "The authorization request must be form-encoded.",
        );
    }
    match Params::parse(&body) {
        Ok(params) => handle(req, state, params).await,
        Err(e) => pages::error_page(&state.settings, None, 400, &e.to_string()),
    }
}

async fn handle(req: HttpRequest, state: web::Data<AppState>, params: Params) -> HttpResponse {
    let s = &state.settings;
    let auth = match validate(s, &params) {
        Ok(v) => v,
        Err(Rejection::Page(msg)) => return pages::error_page(s, None, 400, msg),
        Err(Rejection::Redirect {
            error,
            redirect_uri,
            state,
        }) => return error_redirect(s, &redirect_uri, state.as_deref(), &error),
    };
    let Some(client) = s.client(&auth.client_id) else {
        return pages::error_page(s, None, 400, "This application is not registered.");
    };
    let Some(connection) = client.connection.clone() else {
        return pages::error_page(s, Some(client), 400, "This application has no user store.");
    };

    // Single sign-on: a live session of this client's connection, fresh enough.
    let now = state.clock.now();
    let sid = session::read(
        &req,
        &session::session_cookie_name(connection.as_str(), s.issuer.is_https()),
    );
    let existing = match sid {
        Some(sid) => {
            let conn_name = connection.to_string();
            let hash = crate::crypto::token_hash(&sid);
            match state
                .store
                .run(move |c| {
                    let Some(sess) = store::sessions::get(c, &hash, &conn_name, now)? else {
                        return Ok(None);
                    };
                    Ok(store::users::get(c, &sess.user_id)?.map(|u| (sess, u)))
                })
                .await
            {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(error = %e, "session lookup failed");
                    return pages::error_page(
                        s,
                        Some(client),
                        500,
                        "Something went wrong. Please try again.",
                    );
                }
            }
        }
        None => None,
    };
    let fresh = |auth_time: i64| auth.max_age.is_none_or(|m| now - auth_time <= m);
    match existing {
        Some((sess, user)) if !auth.prompt_login && fresh(sess.auth_time) => {
            let ip = session::client_ip(&req, &s.login.trusted_proxies)
                .map(|i| i.to_string())
                .unwrap_or_default();
            let how = flow::Completion {
                signup: false,
                ip,
                session: flow::SessionChange::Existing(sess.auth_time),
                rehash: None,
                tx_id: None,
                replaces: None,
            };
            return flow::complete(&state, &auth, client, user, how).await;
        }
        _ if auth.prompt_none => {
            // OIDC Core 3.1.2.6: no usable session and no interaction allowed.
            let e = OAuthError::new(ErrorCode::LoginRequired, "the user is not signed in");
            return error_redirect(s, &auth.redirect_uri, auth.state.as_deref(), &e);
        }
        _ => {}
    }
    flow::park(&req, &state, client, auth).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn settings() -> Settings {
        config::parse(
            r#"
issuer = "https://id.test"
[[connection]]
name = "db"
[[api]]
audience = "https://api.test"
scopes = ["orders:read"]
[[api]]
audience = "https://admin.test"
scopes = ["admin:all"]
[[client]]
client_id = "web"
type = "public"
redirect_uris = ["https://app.test/cb"]
connection = "db"
audience = "https://api.test"
[[client]]
client_id = "conf"
type = "confidential"
client_secret = "0123456789abcdef0123"
redirect_uris = ["https://conf.test/cb"]
connection = "db"
"#,
            std::path::Path::new("t.toml"),
            &[],
        )
        .unwrap()
    }

    fn parse(b: &[u8]) -> Params {
        Params::parse(b).unwrap()
    }

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn params(extra: &str) -> Params {
        parse(
            format!(
                "client_id=web&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&response_type=code&scope=openid&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}"
            )
            .as_bytes(),
        )
    }

    fn redirected(r: Result<AuthRequest, Rejection>) -> ErrorCode {
        match r {
            Err(Rejection::Redirect { error, .. }) => error.code,
            other => panic!("expected a redirected error, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_request_passes_every_check() {
        let a = validate(&settings(), &params("&state=xyz&nonce=n&foo=bar")).unwrap();
        assert_eq!(a.redirect_uri, "https://app.test/cb");
        assert_eq!(a.state.as_deref(), Some("xyz"));
        assert_eq!(a.extra["foo"], "bar");
        assert!(
            !a.extra.contains_key("state"),
            "kept once, as a typed field"
        );
        let q = a.rule_query();
        assert_eq!((q["foo"].as_str(), q["state"].as_str()), ("bar", "xyz"));
        assert_eq!(q["code_challenge_method"], "S256");
    }

    #[test]
    fn unknown_client_gets_a_page_not_a_redirect() {
        let p =
            parse(b"client_id=nope&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&response_type=code");
        assert!(matches!(validate(&settings(), &p), Err(Rejection::Page(_))));
    }

    #[test]
    fn redirect_uri_must_match_exactly() {
        let s = settings();
        for bad in [
            "https://evil.test/cb",
            "https://app.test/cb/",
            "https://app.test/cb?x=1",
            "https://APP.test/cb",
            "https://app.test/CB",
            "https://app.test/other",
            "http://app.test/cb",
            "https://app.test:443/cb",
        ] {
            let q = format!(
                "client_id=web&response_type=code&redirect_uri={}",
                urlencode(bad)
            );
            assert!(
                matches!(validate(&s, &parse(q.as_bytes())), Err(Rejection::Page(_))),
                "{bad}"
            );
        }
    }

    fn urlencode(s: &str) -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }

    #[test]
    fn response_type_must_be_code() {
        let p = parse(format!("client_id=web&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&response_type=token&code_challenge={CHALLENGE}&code_challenge_method=S256").as_bytes());
        assert_eq!(
            redirected(validate(&settings(), &p)),
            ErrorCode::UnsupportedResponseType
        );
    }

    #[test]
    fn public_clients_need_pkce_s256() {
        let s = settings();
        let p = parse(b"client_id=web&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&response_type=code");
        assert_eq!(redirected(validate(&s, &p)), ErrorCode::InvalidRequest);
        let plain = parse(format!("client_id=web&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&response_type=code&code_challenge={CHALLENGE}&code_challenge_method=plain").as_bytes());
        assert_eq!(redirected(validate(&s, &plain)), ErrorCode::InvalidRequest);
        let implicit_plain = parse(format!("client_id=web&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&response_type=code&code_challenge={CHALLENGE}").as_bytes());
        assert_eq!(
            redirected(validate(&s, &implicit_plain)),
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn confidential_clients_may_skip_pkce() {
        let p =
            parse(b"client_id=conf&redirect_uri=https%3A%2F%2Fconf.test%2Fcb&response_type=code");
        assert!(validate(&settings(), &p).is_ok());
    }

    #[test]
    fn repeated_parameters_are_invalid_requests() {
        assert_eq!(
            redirected(validate(&settings(), &params("&scope=email"))),
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn unknown_scopes_are_dropped() {
        let a = validate(&settings(), &params("")).unwrap();
        assert_eq!(a.scope, "openid");
        let p = parse(format!("client_id=web&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&response_type=code&scope=openid+admin+orders:read&code_challenge={CHALLENGE}&code_challenge_method=S256").as_bytes());
        assert_eq!(
            validate(&settings(), &p).unwrap().scope,
            "openid orders:read"
        );
    }

    #[test]
    fn prompt_none_stands_alone_and_max_age_is_a_number() {
        assert_eq!(
            redirected(validate(&settings(), &params("&prompt=none+login"))),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            redirected(validate(&settings(), &params("&max_age=-1"))),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            validate(&settings(), &params("&max_age=60"))
                .unwrap()
                .max_age,
            Some(60)
        );
    }

    #[test]
    fn resource_must_be_a_configured_api() {
        assert_eq!(
            redirected(validate(
                &settings(),
                &params("&resource=https%3A%2F%2Fevil.test")
            )),
            ErrorCode::InvalidTarget
        );
        let a = validate(&settings(), &params("&audience=https%3A%2F%2Fapi.test")).unwrap();
        assert_eq!(a.audience.as_deref(), Some("https://api.test"));
    }

    #[test]
    fn clients_get_only_their_apis_and_only_those_apis_scopes() {
        // RFC 8707 2: admin.test is configured, but not one of this client's `apis`.
        assert_eq!(
            redirected(validate(
                &settings(),
                &params("&resource=https%3A%2F%2Fadmin.test")
            )),
            ErrorCode::InvalidTarget
        );
        // Another API's scope never rides on a token for this one.
        let p = parse(format!("client_id=web&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&response_type=code&scope=openid+admin:all+orders:read&code_challenge={CHALLENGE}&code_challenge_method=S256").as_bytes());
        assert_eq!(
            validate(&settings(), &p).unwrap().scope,
            "openid orders:read"
        );
    }

    #[test]
    fn request_objects_are_refused() {
        assert_eq!(
            redirected(validate(&settings(), &params("&request=eyJ"))),
            ErrorCode::RequestNotSupported
        );
    }

    #[test]
    fn error_redirects_keep_the_query_and_add_iss() {
        assert_eq!(
            redirect_with(
                "https://a.test/cb?x=1",
                &[("code", "c d"), ("iss", "https://id.test")]
            ),
            "https://a.test/cb?x=1&code=c+d&iss=https%3A%2F%2Fid.test"
        );
    }
}
