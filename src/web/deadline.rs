//! A deadline on reading request bodies (slow-POST defence, review M5): actix cuts a slow
//! request head (`client_request_timeout`) but not a body trickling in a byte at a time,
//! so every body read here fails once `[server] body_timeout_secs` have passed since the
//! request arrived; the request is answered 408 and its connection closed.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse};
use futures_util::Stream;

/// How long a body may take; app data of the server.
#[derive(Clone, Copy)]
pub struct BodyTimeout(pub Duration);

struct Timed {
    inner: Payload,
    sleep: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
    done: bool,
}

impl Stream for Timed {
    type Item = Result<bytes::Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(None) => {
                self.done = true;
                return Poll::Ready(None);
            }
            Poll::Ready(Some(item)) => return Poll::Ready(Some(item)),
            Poll::Pending => {}
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.done = true;
            self.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body took too long",
            )))));
        }
        Poll::Pending
    }
}

pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    // No body, nothing to time (discovery, JWKS, pages): no timer, no allocation.
    let has_body = req.headers().contains_key(header::CONTENT_LENGTH)
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    if !has_body {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let limit = req
        .app_data::<BodyTimeout>()
        .copied()
        .unwrap_or(BodyTimeout(Duration::from_secs(10)));
    let expired = Arc::new(AtomicBool::new(false));
    let timed = Timed {
        inner: req.take_payload(),
        sleep: Box::pin(tokio::time::sleep(limit.0)),
        expired: expired.clone(),
        done: false,
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(timed),
    });
    let res = next.call(req).await?;
    if !expired.load(Ordering::Acquire) {
        return Ok(res.map_into_left_body());
    }
    let (req, _) = res.into_parts();
    let timeout = HttpResponse::RequestTimeout()
        .insert_header((header::CONNECTION, "close"))
        .content_type("text/plain")
        .body("the request body took too long");
    Ok(ServiceResponse::new(req, timeout).map_into_right_body())
}
