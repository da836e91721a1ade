//! A branded page that only says something (a mail was sent, an address confirmed, a
//! password changed), with at most one link onwards.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

use crate::config::Client;
use crate::web::page::{html, Brand};

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticePage<'a> {
    brand: Brand<'a>,
    heading: &'a str,
    message: &'a str,
    link: Option<(&'a str, &'a str)>,
}

pub fn notice(
    client: Option<&Client>,
    heading: &str,
    message: &str,
    link: Option<(&str, &str)>,
) -> HttpResponse {
    let page = NoticePage {
        brand: Brand::of(client),
        heading,
        message,
        link,
    };
    html(StatusCode::OK, page.render())
}
