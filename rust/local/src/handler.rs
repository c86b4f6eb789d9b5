//! The request pipeline: route, read the body (bounded), verify the
//! signature, find the endpoint, apply faults and sessions, run the model,
//! and answer in the operation's shape.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use sagerun_core::protocol::{
    ErrorCode, Operation, EVENTSTREAM_CONTENT_TYPE, MAX_ASYNC_INLINE_BODY_BYTES, MAX_BODY_BYTES,
};
use serde_json::json;

use crate::async_invocations::{write_result, AsyncStore};
use crate::auth::Verifier;
use crate::body::ResponseBody;
use crate::config::EndpointConfig;
use crate::errors::ApiError;
use crate::faults::FaultState;
use crate::head_deadline::InFlight;
use crate::header_names::{response_header, ERROR_TYPE, REQUEST_ID};
use crate::ids::{uuid_v4, uuid_v4_text};
use crate::invocation::RequestMembers;
use crate::models::{collect_whole, Invocation, Model, ModelContext};
use crate::panics::{catch_panic, injected_panic_point};
use crate::routing::{check_name, route};
use crate::sessions::{SessionOutcome, Sessions};

/// The variant every local endpoint reports.
const DEFAULT_VARIANT: &str = "AllTraffic";

pub struct Endpoint {
    model: Model,
    faults: FaultState,
}

/// Everything a request needs; shared by all connections.
pub struct Runtime {
    endpoints: HashMap<String, Arc<Endpoint>>,
    verifier: Option<Verifier>,
    sessions: Sessions,
    store: AsyncStore,
    account_id: String,
}

impl Runtime {
    pub fn new(
        configs: Vec<EndpointConfig>,
        ctx: ModelContext,
        verifier: Option<Verifier>,
        sessions: Sessions,
        store: AsyncStore,
    ) -> Runtime {
        let endpoints = configs
            .into_iter()
            .map(|c| {
                let ep = Endpoint {
                    model: Model::new(&c.model, ctx.clone()),
                    faults: FaultState::new(c.faults),
                };
                (c.name, Arc::new(ep))
            })
            .collect();
        Runtime {
            endpoints,
            verifier,
            sessions,
            store,
            account_id: ctx.account_id,
        }
    }
}

/// Answers one request; `in_flight` goes with the response body, so the
/// connection counts the request as in progress until the body is sent.
pub async fn handle(
    rt: Arc<Runtime>,
    req: Request<Incoming>,
    in_flight: InFlight,
) -> Result<Response<ResponseBody>, Infallible> {
    let served = catch_panic(async {
        injected_panic_point();
        serve(&rt, req).await
    })
    .await;
    let mut response = match served {
        Ok(answer) => answer.unwrap_or_else(|e| error_response(&e)),
        // A bug: answer as AWS does for its own failures, and keep serving.
        Err(panic) => error_response(&ApiError::new(
            ErrorCode::InternalFailure,
            format!("The local runtime failed on this request (a bug): {panic}"),
        )),
    };
    if let Ok(id) = HeaderValue::from_bytes(&uuid_v4_text()) {
        response.headers_mut().insert(REQUEST_ID.clone(), id);
    }
    response.body_mut().hold(in_flight);
    Ok(response)
}

fn error_response(e: &ApiError) -> Response<ResponseBody> {
    let mut b = Response::builder()
        .status(e.status)
        .header(CONTENT_TYPE, "application/json");
    if let Some(t) = e.error_type_header() {
        b = b.header(ERROR_TYPE.clone(), t);
    }
    b.body(ResponseBody::whole(e.body()))
        .unwrap_or_else(|_| internal_error())
}

fn internal_error() -> Response<ResponseBody> {
    let mut r = Response::new(ResponseBody::whole(Bytes::new()));
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r
}

async fn serve(rt: &Runtime, req: Request<Incoming>) -> Result<Response<ResponseBody>, ApiError> {
    let (op, name) = route(req.method(), req.uri().path())?;
    let (parts, body) = req.into_parts();
    let body = read_body(&parts.headers, body).await?;
    if let Some(verifier) = &rt.verifier {
        let uri = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        verifier.check(
            parts.method.as_str(),
            uri,
            &parts.headers,
            &body,
            unix_now(),
        )?;
    }
    check_name(&name)?;
    let endpoint = rt.endpoints.get(&name).cloned().ok_or_else(|| {
        ApiError::validation(format!(
            "Endpoint {name} of account {} not found.",
            rt.account_id
        ))
    })?;
    let members = RequestMembers::read(op, &parts.headers)?;
    match op {
        Operation::InvokeEndpointAsync => invoke_async(rt, endpoint, name, members, body),
        Operation::InvokeEndpoint | Operation::InvokeEndpointWithResponseStream => {
            invoke(rt, &endpoint, op, name, members, body).await
        }
    }
}

/// Polls `fut` once: its output if it is ready, `None` if not (the waker
/// stays registered, so it can be awaited further).
async fn poll_once<F: Future>(mut fut: Pin<&mut F>) -> Option<F::Output> {
    poll_fn(|cx| match fut.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// How long a client may take to send its body (a stalled upload must not
/// hold a connection forever).
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Reads the body, refusing more than 6 MiB before buffering it.
async fn read_body(headers: &http::HeaderMap, body: Incoming) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(ApiError::payload_too_large());
    }
    let mut collect = pin!(Limited::new(body, MAX_BODY_BYTES).collect());
    // A small body usually came with the head: no timer unless it is still
    // on its way (arming one costs more than the rest of reading it).
    let collected = match poll_once(collect.as_mut()).await {
        Some(collected) => collected,
        None => tokio::time::timeout(BODY_READ_TIMEOUT, collect)
            .await
            .map_err(|_| ApiError::validation("Timed out reading the request body."))?,
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::payload_too_large()),
        Err(e) => Err(ApiError::validation(format!(
            "Could not read the request body: {e}"
        ))),
    }
}

async fn invoke(
    rt: &Runtime,
    endpoint: &Endpoint,
    op: Operation,
    name: String,
    m: RequestMembers<'_>,
    body: Bytes,
) -> Result<Response<ResponseBody>, ApiError> {
    let streaming = op == Operation::InvokeEndpointWithResponseStream;
    endpoint.faults.before_invoke().await?;
    let session = rt.sessions.apply(m.get("SessionId"), &body, !streaming)?;
    let inv = Invocation {
        endpoint: name,
        body,
        content_type: m.owned("ContentType"),
        accept: m.owned("Accept"),
        custom_attributes: m.owned("CustomAttributes"),
        inference_id: m.owned("InferenceId"),
        target_model: m.owned("TargetModel"),
        session_id: m.owned("SessionId"),
        streaming,
    };
    let output = endpoint.model.invoke(&inv).await?;
    let faults = endpoint.faults.faults();
    // Built straight into a HeaderMap, in the order the headers go out.
    let mut headers = HeaderMap::new();
    let variant_header = response_header(op, "InvokedProductionVariant");
    match m.get("TargetVariant") {
        Some(variant) => put(&mut headers, variant_header, Some(variant)),
        None => {
            headers.append(variant_header, HeaderValue::from_static(DEFAULT_VARIANT));
        }
    }
    put(
        &mut headers,
        response_header(op, "CustomAttributes"),
        output.custom_attributes.as_deref(),
    );
    let body = if streaming {
        headers.append(
            CONTENT_TYPE,
            HeaderValue::from_static(EVENTSTREAM_CONTENT_TYPE),
        );
        put(
            &mut headers,
            response_header(op, "ContentType"),
            output.content_type.as_deref(),
        );
        ResponseBody::events(output.parts, faults)
    } else {
        put(&mut headers, CONTENT_TYPE, output.content_type.as_deref());
        match &session {
            SessionOutcome::Opened(v) => {
                put(&mut headers, response_header(op, "NewSessionId"), Some(v))
            }
            SessionOutcome::Closed(id) => put(
                &mut headers,
                response_header(op, "ClosedSessionId"),
                Some(id),
            ),
            SessionOutcome::None => {}
        }
        let whole = collect_whole(output.parts)
            .await
            .map_err(|msg| ApiError::model_error(msg, None, None, None))?;
        ResponseBody::whole(whole)
    };
    answer(op, headers, body.cut_after(faults.cut_after_bytes))
}

/// Adds a header when there is a value and it is valid header text.
fn put(headers: &mut HeaderMap, name: HeaderName, value: Option<&str>) {
    if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.append(name, v);
    }
}

/// The operation's success response.
fn answer(
    op: Operation,
    headers: HeaderMap,
    body: ResponseBody,
) -> Result<Response<ResponseBody>, ApiError> {
    let status = StatusCode::from_u16(op.success_status()).map_err(|e| {
        ApiError::new(
            ErrorCode::InternalFailure,
            format!("could not build the response: {e}"),
        )
    })?;
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// Accepts the request (202) and runs the model in the background, writing
/// its output or failure where the answer says.
fn invoke_async(
    rt: &Runtime,
    endpoint: Arc<Endpoint>,
    name: String,
    m: RequestMembers<'_>,
    body: Bytes,
) -> Result<Response<ResponseBody>, ApiError> {
    let input = match (m.get("InputLocation"), body.is_empty()) {
        (Some(_), false) => {
            return Err(ApiError::validation("InputLocation and Body are mutually exclusive; send one of them."))
        }
        (None, true) => return Err(ApiError::validation("One of InputLocation or Body is required.")),
        (Some(loc), true) => AsyncInput::File(rt.store.input_path(loc)?),
        (None, false) if body.len() > MAX_ASYNC_INLINE_BODY_BYTES => {
            return Err(ApiError::validation(format!(
                "The inline Body of InvokeEndpointAsync is limited to {MAX_ASYNC_INLINE_BODY_BYTES} bytes."
            )))
        }
        (None, false) => AsyncInput::Inline(body),
    };
    check_int_range(&m, "RequestTTLSeconds", 60, 21600)?;
    check_int_range(&m, "InvocationTimeoutSeconds", 1, 3600)?;
    let inference_id = m.owned("InferenceId").unwrap_or_else(uuid_v4);
    let loc = rt.store.result_locations(
        &name,
        &inference_id,
        m.get("S3OutputPathExtension"),
        m.get("Filename"),
    )?;
    let inv = Invocation {
        endpoint: name,
        content_type: m.owned("ContentType"),
        accept: m.owned("Accept"),
        custom_attributes: m.owned("CustomAttributes"),
        inference_id: Some(inference_id.clone()),
        ..Invocation::default()
    };
    let (output_path, failure_path) = (loc.output_path.clone(), loc.failure_path.clone());
    tokio::spawn(async move {
        let result = run_async(&endpoint, inv, input).await;
        let written = match result {
            Ok(out) => write_result(&output_path, &out).await,
            Err(e) => write_result(&failure_path, &e.body()).await,
        };
        if let Err(e) = written {
            eprintln!("sagerun local runtime: could not write an async result: {e}");
        }
    });
    let op = Operation::InvokeEndpointAsync;
    let mut headers = HeaderMap::new();
    headers.append(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    put(
        &mut headers,
        response_header(op, "OutputLocation"),
        Some(&loc.output_uri),
    );
    put(
        &mut headers,
        response_header(op, "FailureLocation"),
        Some(&loc.failure_uri),
    );
    let body = Bytes::from(json!({"InferenceId": inference_id}).to_string());
    answer(op, headers, ResponseBody::whole(body))
}

enum AsyncInput {
    File(std::path::PathBuf),
    Inline(Bytes),
}

async fn run_async(
    endpoint: &Endpoint,
    mut inv: Invocation,
    input: AsyncInput,
) -> Result<Bytes, ApiError> {
    inv.body = match input {
        AsyncInput::Inline(b) => b,
        AsyncInput::File(path) => tokio::fs::read(&path).await.map(Bytes::from).map_err(|e| {
            ApiError::validation(format!("Could not read the input {}: {e}", path.display()))
        })?,
    };
    endpoint.faults.before_invoke().await?;
    let output = endpoint.model.invoke(&inv).await?;
    collect_whole(output.parts)
        .await
        .map_err(|msg| ApiError::model_error(msg, None, None, None))
}

fn check_int_range(
    m: &RequestMembers<'_>,
    member: &str,
    min: i64,
    max: i64,
) -> Result<(), ApiError> {
    let Some(raw) = m.get(member) else {
        return Ok(());
    };
    match raw.parse::<i64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(()),
        _ => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{raw}' at '{member}' failed to satisfy constraint: Member must be an integer between {min} and {max}"
        ))),
    }
}
