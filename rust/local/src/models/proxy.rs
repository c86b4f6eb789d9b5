//! `proxy`: forwards to a model container speaking the SageMaker container
//! contract (`POST /invocations`). A streamed container answer becomes
//! PayloadParts chunk by chunk as it arrives; error statuses become
//! ModelError with the container's status and message.

use std::time::Duration;

use http::header::{ACCEPT, CONTENT_TYPE, HOST};
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::error::container_error_message;
use super::{Invocation, ModelContext, ModelOutput, Part, Parts};
use crate::config::ProxyConfig;
use crate::errors::{log_stream_arn, ApiError};
use crate::invocation::request_header;
use sagerun_core::protocol::Operation;

/// How much of a container's error body is kept as OriginalMessage.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// `http://HOST[:PORT][/]` -> (host, port).
pub fn parse_container_url(url: &str) -> Option<(String, u16)> {
    let rest = url.strip_prefix("http://")?.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') || rest.contains('@') {
        return None;
    }
    match rest.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => Some((host.to_owned(), port.parse().ok()?)),
        Some(_) => None,
        None => Some((rest.to_owned(), 80)),
    }
}

#[derive(Debug)]
pub struct Proxy {
    host: String,
    port: u16,
    timeout: Duration,
    ctx: ModelContext,
}

impl Proxy {
    pub fn new(config: ProxyConfig, ctx: ModelContext) -> Proxy {
        // The URL was checked when the configuration was parsed.
        let (host, port) =
            parse_container_url(&config.url).unwrap_or_else(|| ("127.0.0.1".to_owned(), 80));
        Proxy {
            host,
            port,
            timeout: Duration::from_millis(config.timeout_ms),
            ctx,
        }
    }

    pub async fn invoke(&self, inv: &Invocation) -> Result<ModelOutput, ApiError> {
        let arn = log_stream_arn(&self.ctx.region, &self.ctx.account_id, &inv.endpoint);
        let response = match tokio::time::timeout(self.timeout, self.send(inv)).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                return Err(ApiError::model_error(
                    format!(
                        "Could not reach model container primary at {}:{}: {e}",
                        self.host, self.port
                    ),
                    None,
                    None,
                    Some(arn),
                ))
            }
            Err(_) => return Err(ApiError::model_error(
                "Your invocation timed out while waiting for a response from container primary.",
                None,
                None,
                Some(arn),
            )),
        };
        let status = response.status();
        let headers = response.headers().clone();
        if !status.is_success() {
            let original = read_error_body(response.into_body()).await;
            let msg = container_error_message(status.as_u16(), &original, &arn);
            return Err(ApiError::model_error(
                msg,
                Some(status.as_u16()),
                Some(original),
                Some(arn),
            ));
        }
        Ok(ModelOutput {
            content_type: header_str(&headers, CONTENT_TYPE.as_str()),
            custom_attributes: header_str(
                &headers,
                request_header(Operation::InvokeEndpoint, "CustomAttributes"),
            ),
            parts: Parts::Live(forward_body(response.into_body())),
        })
    }

    async fn send(
        &self,
        inv: &Invocation,
    ) -> Result<hyper::Response<Incoming>, Box<dyn std::error::Error + Send + Sync>> {
        let stream = TcpStream::connect((self.host.as_str(), self.port)).await?;
        stream.set_nodelay(true)?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        // Drives the connection until the response body is read.
        tokio::spawn(conn);
        let mut req =
            Request::post("/invocations").header(HOST, format!("{}:{}", self.host, self.port));
        // The container contract uses InvokeEndpoint's header names.
        let op = Operation::InvokeEndpoint;
        let forwarded = [
            (CONTENT_TYPE.as_str(), &inv.content_type),
            (ACCEPT.as_str(), &inv.accept),
            (
                request_header(op, "CustomAttributes"),
                &inv.custom_attributes,
            ),
            (request_header(op, "TargetModel"), &inv.target_model),
            (request_header(op, "InferenceId"), &inv.inference_id),
            (request_header(op, "SessionId"), &inv.session_id),
        ];
        for (name, value) in forwarded {
            if let Some(v) = value {
                req = req.header(name, v.as_str());
            }
        }
        Ok(sender
            .send_request(req.body(Full::new(inv.body.clone()))?)
            .await?)
    }
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn read_error_body(body: Incoming) -> String {
    match Limited::new(body, MAX_ERROR_BODY).collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(e) => format!("(unreadable container error body: {e})"),
    }
}

/// Passes each body chunk on as soon as it arrives, never buffering whole.
fn forward_body(mut body: Incoming) -> mpsc::Receiver<Part> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        loop {
            let part = match body.frame().await {
                None => return,
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) if data.is_empty() => continue,
                    Ok(data) => Part::Data(data),
                    Err(_trailers) => continue,
                },
                Some(Err(e)) => {
                    Part::Failure(format!("the model container's response broke off: {e}"))
                }
            };
            let failed = matches!(part, Part::Failure(_));
            if tx.send(part).await.is_err() || failed {
                return;
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_urls() {
        assert_eq!(
            parse_container_url("http://127.0.0.1:8080"),
            Some(("127.0.0.1".into(), 8080))
        );
        assert_eq!(
            parse_container_url("http://localhost:9/"),
            Some(("localhost".into(), 9))
        );
        assert_eq!(parse_container_url("http://h"), Some(("h".into(), 80)));
        for bad in [
            "https://h:1",
            "http://",
            "http://h:x",
            "http://h:1/p",
            "ftp://h",
        ] {
            assert_eq!(parse_container_url(bad), None, "{bad}");
        }
    }
}
