//! Endpoint declarations: the one parser for the plain-data config that
//! Python, `sagerun serve --config FILE` and `--endpoint NAME=MODEL,...` all
//! produce. Every mistake is reported with the endpoint and key it concerns.

use std::collections::BTreeMap;

use sagerun_core::protocol::ErrorCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

/// A configuration mistake, found at start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

/// One declared endpoint.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    pub name: String,
    pub model: ModelConfig,
    pub faults: Faults,
}

#[derive(Debug, Clone)]
pub enum ModelConfig {
    Echo(EchoConfig),
    Tokens(TokensConfig),
    Error(ErrorModelConfig),
    Proxy(ProxyConfig),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EchoConfig {
    /// Content type answered when the request carries none.
    #[serde(default)]
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenFormat {
    Raw,
    Jsonl,
    Sse,
    Openai,
}

/// Where PayloadPart boundaries fall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitMode {
    /// One formatted token per part (tokens are groups of characters).
    Chars,
    /// The formatted output cut at evenly spaced byte offsets, ignoring
    /// UTF-8 and line boundaries, so clients must reassemble.
    Bytes,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensConfig {
    /// The text to stream; the request body when absent.
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default = "default_parts")]
    pub parts: usize,
    #[serde(default)]
    pub delay_ms: u64,
    #[serde(default = "default_format")]
    pub format: TokenFormat,
    #[serde(default = "default_split")]
    pub split: SplitMode,
    /// The parts are sent this many times over: a long stream (e.g. 1 GiB
    /// for memory tests) produced as it is read, never held in memory.
    #[serde(default = "default_repeat")]
    pub repeat: usize,
}

fn default_parts() -> usize {
    8
}
fn default_repeat() -> usize {
    1
}
fn default_format() -> TokenFormat {
    TokenFormat::Raw
}
fn default_split() -> SplitMode {
    SplitMode::Chars
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorModelConfig {
    #[serde(
        default = "default_error_code",
        deserialize_with = "de_http_error_code"
    )]
    pub code: ErrorCode,
    #[serde(default)]
    pub message: Option<String>,
    /// ModelError only: the status the "container" answered with.
    #[serde(default)]
    pub original_status: Option<u16>,
    #[serde(default)]
    pub original_message: Option<String>,
    #[serde(default)]
    pub log_stream_arn: Option<String>,
}

fn default_error_code() -> ErrorCode {
    ErrorCode::ModelError
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Base URL of the model container, `http://host:port`.
    pub url: String,
    /// How long the container may take to answer (AWS allows 60 s).
    #[serde(default = "default_proxy_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_proxy_timeout_ms() -> u64 {
    60_000
}

/// Which in-stream exception `stream_error_after` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum StreamErrorKind {
    ModelStreamError,
    InternalStreamFailure,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Delay before every answer.
    #[serde(default)]
    pub latency_ms: u64,
    /// Probability (0..=1) that a call fails with `error_code`.
    #[serde(default)]
    pub error_rate: f64,
    #[serde(
        default = "default_fault_code",
        deserialize_with = "de_http_error_code"
    )]
    pub error_code: ErrorCode,
    /// Seed for the `error_rate` draws, for reproducible runs.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The first N calls answer ModelNotReadyException.
    #[serde(default)]
    pub not_ready_first: u64,
    /// After N PayloadParts, an in-stream exception ends the stream.
    #[serde(default)]
    pub stream_error_after: Option<usize>,
    #[serde(default = "default_stream_error")]
    pub stream_error: StreamErrorKind,
    /// `ErrorCode` member of a ModelStreamError.
    #[serde(default = "default_stream_error_code")]
    pub stream_error_code: String,
    /// The connection is cut after N bytes of the response body.
    #[serde(default)]
    pub cut_after_bytes: Option<usize>,
    /// The event-stream message with this 0-based index gets a wrong CRC.
    #[serde(default)]
    pub corrupt_crc_at: Option<usize>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency_ms: 0,
            error_rate: 0.0,
            error_code: default_fault_code(),
            seed: None,
            not_ready_first: 0,
            stream_error_after: None,
            stream_error: default_stream_error(),
            stream_error_code: default_stream_error_code(),
            cut_after_bytes: None,
            corrupt_crc_at: None,
        }
    }
}

fn default_fault_code() -> ErrorCode {
    ErrorCode::ServiceUnavailable
}
fn default_stream_error() -> StreamErrorKind {
    StreamErrorKind::ModelStreamError
}
fn default_stream_error_code() -> String {
    "StreamBroken".to_owned()
}

/// Error codes that can be an HTTP answer (the in-stream ones cannot).
fn de_http_error_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ErrorCode, D::Error> {
    let raw = String::deserialize(d)?;
    match ErrorCode::parse(&raw) {
        Some(ErrorCode::ModelStreamError | ErrorCode::InternalStreamFailure) => Err(serde::de::Error::custom(
            format!("`{raw}` is an in-stream exception, not an HTTP error (use faults.stream_error_after)"),
        )),
        Some(code) => Ok(code),
        None => Err(serde::de::Error::custom(format!(
            "unknown error code `{raw}`, expected one of {}",
            http_error_codes().join(", ")
        ))),
    }
}

fn http_error_codes() -> Vec<&'static str> {
    ErrorCode::ALL
        .into_iter()
        .filter(|c| {
            !matches!(
                c,
                ErrorCode::ModelStreamError | ErrorCode::InternalStreamFailure
            )
        })
        .map(ErrorCode::as_str)
        .collect()
}

const MODELS: &str = "echo, tokens, error, proxy";

/// Parses `{"name": {"model": ..., ...}, ...}` given as JSON text.
pub fn parse_endpoints_json(json: &str) -> Result<Vec<EndpointConfig>, ConfigError> {
    let value: Value = serde_json::from_str(json)
        .map_err(|e| err(format!("endpoint configuration is not valid JSON: {e}")))?;
    parse_endpoints(value)
}

pub fn parse_endpoints(value: Value) -> Result<Vec<EndpointConfig>, ConfigError> {
    let Value::Object(map) = value else {
        return Err(err(
            "endpoints must be an object mapping endpoint names to declarations",
        ));
    };
    // Sorted, so errors and listings are stable.
    let sorted: BTreeMap<_, _> = map.into_iter().collect();
    sorted
        .into_iter()
        .map(|(name, decl)| parse_endpoint(name, decl))
        .collect()
}

fn parse_endpoint(name: String, decl: Value) -> Result<EndpointConfig, ConfigError> {
    check_endpoint_name(&name)?;
    let Value::Object(mut fields) = decl else {
        return Err(err(format!(
            "endpoint '{name}': the declaration must be an object with a `model` key"
        )));
    };
    let model = match fields.remove("model") {
        Some(Value::String(m)) => m,
        Some(other) => {
            return Err(err(format!(
                "endpoint '{name}': `model` must be a string, got {other}"
            )))
        }
        None => {
            return Err(err(format!(
                "endpoint '{name}': missing key `model` (one of {MODELS})"
            )))
        }
    };
    let faults: Faults = match fields.remove("faults") {
        None | Some(Value::Null) => Faults::default(),
        Some(v) => typed(v, &format!("endpoint '{name}': faults"))?,
    };
    check_faults(&name, &faults)?;
    let rest = Value::Object(fields);
    let ctx = format!("endpoint '{name}' (model {model})");
    let model = match model.as_str() {
        "echo" => ModelConfig::Echo(typed(rest, &ctx)?),
        "tokens" => ModelConfig::Tokens(typed(rest, &ctx)?),
        "error" => ModelConfig::Error(typed(rest, &ctx)?),
        "proxy" => ModelConfig::Proxy(check_proxy(&name, typed(rest, &ctx)?)?),
        other => {
            return Err(err(format!(
                "endpoint '{name}': unknown model `{other}` (expected one of {MODELS})"
            )))
        }
    };
    Ok(EndpointConfig {
        name,
        model,
        faults,
    })
}

/// Deserializes one declaration; errors name the offending key.
fn typed<T: DeserializeOwned>(v: Value, ctx: &str) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            err(format!("{ctx}: {}", e.inner()))
        } else {
            err(format!("{ctx}: key `{path}`: {}", e.inner()))
        }
    })
}

/// The service model's pattern for names and ids:
/// `^[a-zA-Z0-9](-*[a-zA-Z0-9])*$` (letters, digits, inner hyphens).
pub fn is_model_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// EndpointName: the model's name pattern, at most 63 characters.
pub fn check_endpoint_name(name: &str) -> Result<(), ConfigError> {
    if is_model_name(name) && name.len() <= 63 {
        Ok(())
    } else {
        Err(err(format!(
            "invalid endpoint name '{name}': 1-63 letters, digits and inner hyphens ([a-zA-Z0-9](-*[a-zA-Z0-9])*)"
        )))
    }
}

fn check_faults(name: &str, f: &Faults) -> Result<(), ConfigError> {
    if !(0.0..=1.0).contains(&f.error_rate) {
        return Err(err(format!(
            "endpoint '{name}': faults.error_rate must be between 0 and 1, got {}",
            f.error_rate
        )));
    }
    Ok(())
}

fn check_proxy(name: &str, p: ProxyConfig) -> Result<ProxyConfig, ConfigError> {
    if crate::models::proxy::parse_container_url(&p.url).is_none() {
        return Err(err(format!(
            "endpoint '{name}' (model proxy): url must be http://HOST:PORT[/], got '{}'",
            p.url
        )));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Vec<EndpointConfig>, ConfigError> {
        parse_endpoints_json(json)
    }

    #[test]
    fn design_example_parses() {
        let eps = parse(
            r#"{"my-echo": {"model": "echo"},
                "my-llm": {"model": "tokens", "text": "Hello world", "parts": 32, "format": "sse", "delay_ms": 0},
                "broken": {"model": "error", "code": "ModelError", "original_status": 500},
                "real": {"model": "proxy", "url": "http://127.0.0.1:8080"},
                "flaky": {"model": "echo", "faults": {"error_rate": 0.1, "latency_ms": 5,
                          "not_ready_first": 2, "stream_error_after": 3, "cut_after_bytes": 100, "corrupt_crc_at": 2}}}"#,
        )
        .unwrap();
        assert_eq!(eps.len(), 5);
        let flaky = eps.iter().find(|e| e.name == "flaky").unwrap();
        assert_eq!(flaky.faults.not_ready_first, 2);
        assert_eq!(flaky.faults.corrupt_crc_at, Some(2));
    }

    #[test]
    fn unknown_key_names_endpoint_and_key() {
        let e = parse(r#"{"a": {"model": "tokens", "txt": "x"}}"#)
            .unwrap_err()
            .0;
        assert!(e.contains("endpoint 'a'") && e.contains("txt"), "{e}");
        let e = parse(r#"{"a": {"model": "echo", "faults": {"latency": 1}}}"#)
            .unwrap_err()
            .0;
        assert!(
            e.contains("endpoint 'a': faults") && e.contains("latency"),
            "{e}"
        );
        let e = parse(r#"{"a": {"model": "tokens", "parts": "many"}}"#)
            .unwrap_err()
            .0;
        assert!(
            e.contains("endpoint 'a'") && e.contains("key `parts`"),
            "{e}"
        );
    }

    #[test]
    fn unknown_model_format_and_code_are_refused() {
        assert!(parse(r#"{"a": {"model": "nope"}}"#)
            .unwrap_err()
            .0
            .contains("unknown model `nope`"));
        assert!(parse(r#"{"a": {"model": "tokens", "format": "xml"}}"#)
            .unwrap_err()
            .0
            .contains("xml"));
        assert!(parse(r#"{"a": {"model": "error", "code": "Nope"}}"#)
            .unwrap_err()
            .0
            .contains("Nope"));
        assert!(parse(r#"{"a": {"model": "error", "code": "ModelStreamError"}}"#).is_err());
        assert!(parse(r#"{"a": {}}"#)
            .unwrap_err()
            .0
            .contains("missing key `model`"));
        assert!(parse(r#"{"a": {"model": "proxy", "url": "ftp://x"}}"#).is_err());
        assert!(parse(r#"{"a": {"model": "echo", "faults": {"error_rate": 2}}}"#).is_err());
    }

    #[test]
    fn endpoint_names_follow_the_model_pattern() {
        assert!(check_endpoint_name("a-b-9").is_ok());
        for bad in ["", "-a", "a-", "a_b", "a/b", &"x".repeat(64)] {
            assert!(check_endpoint_name(bad).is_err(), "{bad}");
        }
    }
}
