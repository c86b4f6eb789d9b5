//! Stateful sessions. `SessionId=NEW_SESSION` opens one and the answer
//! carries `X-Amzn-SageMaker-New-Session-Id: <id>; Expires=<ISO-8601>`.
//! AWS leaves closing to the model container; following AWS's documented
//! example, the local runtime closes a session when a request naming it has
//! the JSON body `{"requestType": "CLOSE"}`, and answers with
//! `X-Amzn-SageMaker-Closed-Session-Id: <id>`. Unknown or expired ids are a
//! ValidationError.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::is_model_name;
use crate::errors::ApiError;
use crate::ids::uuid_v4;

pub const NEW_SESSION: &str = "NEW_SESSION";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionOutcome {
    /// No session involved, or an existing one used.
    None,
    /// Value of the NewSessionId header.
    Opened(String),
    /// Id of the closed session (the ClosedSessionId header).
    Closed(String),
}

#[derive(Debug)]
pub struct Sessions {
    ttl: Duration,
    expiries: Mutex<HashMap<String, SystemTime>>,
}

impl Sessions {
    pub fn new(ttl: Duration) -> Sessions {
        Sessions {
            ttl,
            expiries: Mutex::new(HashMap::new()),
        }
    }

    /// Handles a request's SessionId; `can_open` is false where the operation
    /// cannot create sessions (response streams).
    pub fn apply(
        &self,
        session_id: Option<&str>,
        body: &[u8],
        can_open: bool,
    ) -> Result<SessionOutcome, ApiError> {
        let Some(id) = session_id else {
            return Ok(SessionOutcome::None);
        };
        let now = SystemTime::now();
        let mut map = self.expiries.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, expiry| *expiry > now);
        if id == NEW_SESSION {
            if !can_open {
                return Err(ApiError::validation(
                    "You can't create a stateful session with InvokeEndpointWithResponseStream; use InvokeEndpoint with SessionId NEW_SESSION.",
                ));
            }
            let id = uuid_v4();
            let expiry = now + self.ttl;
            map.insert(id.clone(), expiry);
            return Ok(SessionOutcome::Opened(format!(
                "{id}; Expires={}",
                iso8601(expiry)
            )));
        }
        if !is_model_name(id) {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{id}' at 'sessionId' failed to satisfy constraint: \
Member must satisfy regular expression pattern: ^(NEW_SESSION)$|^[a-zA-Z0-9](-*[a-zA-Z0-9])*$"
            )));
        }
        if !map.contains_key(id) {
            return Err(ApiError::validation(format!(
                "Session {id} does not exist or has expired."
            )));
        }
        if is_close_request(body) {
            map.remove(id);
            return Ok(SessionOutcome::Closed(id.to_owned()));
        }
        Ok(SessionOutcome::None)
    }
}

fn is_close_request(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|v| v.get("requestType").and_then(|t| t.as_str()) == Some("CLOSE"))
}

fn iso8601(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|dt| {
            dt.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_use_close() {
        let s = Sessions::new(Duration::from_secs(60));
        let SessionOutcome::Opened(header) = s.apply(Some(NEW_SESSION), b"", true).unwrap() else {
            panic!()
        };
        let (id, expires) = header.split_once("; Expires=").unwrap();
        assert!(expires.ends_with('Z') && expires.contains('T'), "{expires}");
        assert_eq!(
            s.apply(Some(id), b"{}", true).unwrap(),
            SessionOutcome::None
        );
        let closed = s
            .apply(Some(id), br#"{"requestType": "CLOSE"}"#, true)
            .unwrap();
        assert_eq!(closed, SessionOutcome::Closed(id.to_owned()));
        assert!(s.apply(Some(id), b"", true).is_err());
    }

    #[test]
    fn expired_and_stream_opened_sessions_are_refused() {
        let s = Sessions::new(Duration::ZERO);
        let SessionOutcome::Opened(header) = s.apply(Some(NEW_SESSION), b"", true).unwrap() else {
            panic!()
        };
        let id = header.split(';').next().unwrap();
        assert!(s.apply(Some(id), b"", true).is_err());
        assert!(s.apply(Some(NEW_SESSION), b"", false).is_err());
        let e = s.apply(Some("bad id!"), b"", true).unwrap_err();
        assert!(e.message.contains("sessionId"), "{}", e.message);
    }
}
