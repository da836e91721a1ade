//! Redirects: 303 See Other, so a POSTed form is followed by a GET.

use actix_web::http::header;
use actix_web::HttpResponse;

pub fn see_other(location: impl Into<String>) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.into()))
        .finish()
}
