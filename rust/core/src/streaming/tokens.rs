//! Text deltas out of the streams LLM servers send.
//!
//! Framing is recognised from the first byte that is not whitespace: `{`
//! means JSON lines (LMI's default), anything else Server-Sent Events (TGI,
//! LMI with the `sse` formatter, vLLM/OpenAI-compatible servers). The
//! record schema comes from the first record, or from the caller:
//! - TGI / LMI: `{"token": {"text": ...}, ...}`; tokens marked
//!   `"special": true` (TGI) or `"special_token": true` (LMI), such as an
//!   end-of-sequence marker, are skipped unless asked for; records with no
//!   token after the first (a summary) are skipped;
//! - OpenAI: `{"choices": [{"delta": {"content": ...}}]}` (chat) or
//!   `{"choices": [{"text": ...}]}` (completions); with several choices
//!   their deltas come out in record order; `data: [DONE]` ends the stream.
//!
//! In-band errors (HTTP 200, the error inside the stream) raise
//! [`StreamError::ModelError`]: an `error` field (TGI's string, OpenAI's
//! object), `"object": "error"` (vLLM), `details.finish_reason == "error"`
//! (LMI), or an SSE event of type `error`. Empty deltas are not handed out.

use std::borrow::Cow;

use serde::Deserialize;

use super::error::{excerpt, StreamError};
use super::lines::LineDecoder;
use super::sse::{SseDecoder, SseEvent};

/// The record schemas understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFormat {
    /// Hugging Face TGI (`token.text`, usually over SSE).
    Tgi,
    /// LMI / DJL Serving (`token.text`, usually JSON lines).
    Lmi,
    /// OpenAI-compatible chunks (`choices[].delta.content` or `choices[].text`).
    OpenAi,
}

impl TokenFormat {
    pub fn name(self) -> &'static str {
        match self {
            TokenFormat::Tgi => "tgi",
            TokenFormat::Lmi => "lmi",
            TokenFormat::OpenAi => "openai",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [TokenFormat::Tgi, TokenFormat::Lmi, TokenFormat::OpenAi]
            .into_iter()
            .find(|f| f.name() == name)
    }

    fn schema_field(self) -> &'static str {
        match self {
            TokenFormat::Tgi | TokenFormat::Lmi => "token",
            TokenFormat::OpenAi => "choices",
        }
    }
}

#[derive(Debug, Clone)]
enum Framing {
    /// Only whitespace seen so far.
    Undecided,
    Sse(SseDecoder),
    Lines(LineDecoder),
}

#[derive(Debug, Clone)]
pub struct TokenDecoder {
    framing: Framing,
    records: Records,
    max_record: Option<usize>,
}

/// What turns records into text: the schema and the record count.
#[derive(Debug, Clone)]
struct Records {
    format: Option<TokenFormat>,
    skip_special: bool,
    sse: bool,
    seen: usize,
}

impl TokenDecoder {
    /// `format`: the schema, or `None` to recognise it from the first record.
    /// `skip_special`: drop tokens the server marks as special.
    /// `max_record`: the longest record (line or SSE event) allowed, in bytes.
    pub fn new(format: Option<TokenFormat>, skip_special: bool, max_record: Option<usize>) -> Self {
        TokenDecoder {
            framing: Framing::Undecided,
            records: Records {
                format,
                skip_special,
                sse: false,
                seen: 0,
            },
            max_record,
        }
    }

    /// The schema given or recognised so far.
    pub fn format(&self) -> Option<TokenFormat> {
        self.records.format
    }

    /// Whether `data: [DONE]` ended the stream.
    pub fn is_done(&self) -> bool {
        matches!(&self.framing, Framing::Sse(d) if d.is_done())
    }

    /// Hands each text delta completed by `data` to `emit`.
    pub fn feed_with<E, F>(&mut self, mut data: &[u8], mut emit: F) -> Result<(), E>
    where
        E: From<StreamError>,
        F: FnMut(&str) -> Result<(), E>,
    {
        if let Framing::Undecided = self.framing {
            let Some(start) = data.iter().position(|b| !b.is_ascii_whitespace()) else {
                return Ok(());
            };
            data = &data[start..];
            self.framing = if data[0] == b'{' {
                Framing::Lines(LineDecoder::new(false, self.max_record))
            } else {
                self.records.sse = true;
                Framing::Sse(SseDecoder::new(true, self.max_record))
            };
        }
        let records = &mut self.records;
        match &mut self.framing {
            Framing::Undecided => Ok(()),
            Framing::Sse(d) => d.feed_with(data, |event| records.event(event, &mut emit)),
            Framing::Lines(d) => d.feed_with(data, |line| records.line(line, &mut emit)),
        }
    }

    /// Ends the stream: a last JSON line without a newline is still a
    /// record; an SSE event without its closing empty line is dropped.
    pub fn finish_with<E, F>(&mut self, mut emit: F) -> Result<(), E>
    where
        E: From<StreamError>,
        F: FnMut(&str) -> Result<(), E>,
    {
        let records = &mut self.records;
        match &mut self.framing {
            Framing::Undecided => Ok(()),
            Framing::Sse(d) => Ok(d.finish()?),
            Framing::Lines(d) => d.finish_with(|line| records.line(line, &mut emit)),
        }
    }

    /// The text deltas completed by `data`.
    pub fn feed(&mut self, data: &[u8]) -> Result<Vec<String>, StreamError> {
        let mut out = Vec::new();
        self.feed_with(data, |text| {
            out.push(text.to_owned());
            Ok::<(), StreamError>(())
        })?;
        Ok(out)
    }

    /// The text deltas of an unterminated last record.
    pub fn finish(&mut self) -> Result<Vec<String>, StreamError> {
        let mut out = Vec::new();
        self.finish_with(|text| {
            out.push(text.to_owned());
            Ok::<(), StreamError>(())
        })?;
        Ok(out)
    }
}

/// The fields read from a record; everything else is ignored.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    token: Option<Token<'a>>,
    #[serde(borrow)]
    choices: Option<Vec<Choice<'a>>>,
    error: Option<serde_json::Value>,
    #[serde(borrow)]
    object: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    details: Option<Details<'a>>,
}

#[derive(Deserialize)]
struct Token<'a> {
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    special: Option<bool>,
    special_token: Option<bool>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow)]
    delta: Option<Delta<'a>>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow)]
    content: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Details<'a> {
    #[serde(borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

impl Records {
    fn line<E, F>(&mut self, line: &[u8], emit: &mut F) -> Result<(), E>
    where
        E: From<StreamError>,
        F: FnMut(&str) -> Result<(), E>,
    {
        if line.trim_ascii().is_empty() {
            return Ok(());
        }
        self.record(line, emit)
    }

    fn event<E, F>(&mut self, event: SseEvent, emit: &mut F) -> Result<(), E>
    where
        E: From<StreamError>,
        F: FnMut(&str) -> Result<(), E>,
    {
        if event.event == "error" {
            return Err(StreamError::ModelError {
                message: event.data.clone(),
                excerpt: excerpt(&event.data),
            }
            .into());
        }
        self.record(event.data.as_bytes(), emit)
    }

    fn label(&self) -> &'static str {
        self.format.map_or("token stream", TokenFormat::name)
    }

    fn malformed(&self, reason: String, raw: &[u8]) -> StreamError {
        StreamError::MalformedRecord {
            format: self.label(),
            reason,
            excerpt: excerpt(&String::from_utf8_lossy(raw)),
        }
    }

    fn record<E, F>(&mut self, raw: &[u8], emit: &mut F) -> Result<(), E>
    where
        E: From<StreamError>,
        F: FnMut(&str) -> Result<(), E>,
    {
        let record: Record = serde_json::from_slice(raw)
            .map_err(|e| self.malformed(format!("not a JSON object: {e}"), raw))?;
        if let Some(message) = in_band_error(&record) {
            return Err(StreamError::ModelError {
                message,
                excerpt: excerpt(&String::from_utf8_lossy(raw)),
            }
            .into());
        }
        let format = self.schema_of(&record, raw)?;
        self.seen += 1;
        match format {
            TokenFormat::Tgi | TokenFormat::Lmi => {
                let Some(token) = record.token else {
                    return Ok(());
                };
                let skipped = self.skip_special
                    && (token.special == Some(true) || token.special_token == Some(true));
                match token.text {
                    Some(text) if !text.is_empty() && !skipped => emit(&text),
                    _ => Ok(()),
                }
            }
            TokenFormat::OpenAi => {
                for choice in record.choices.into_iter().flatten() {
                    let text = choice.delta.and_then(|d| d.content).or(choice.text);
                    match text {
                        Some(text) if !text.is_empty() => emit(&text)?,
                        _ => {}
                    }
                }
                Ok(())
            }
        }
    }

    /// The schema of the stream; the first record must carry its field
    /// (and names it when none was given).
    fn schema_of(&mut self, record: &Record<'_>, raw: &[u8]) -> Result<TokenFormat, StreamError> {
        if self.seen > 0 {
            if let Some(format) = self.format {
                return Ok(format);
            }
        }
        let has_token = record.token.is_some();
        let has_choices = record.choices.is_some();
        let format = match self.format {
            Some(given) => {
                let fits = match given {
                    TokenFormat::Tgi | TokenFormat::Lmi => has_token,
                    TokenFormat::OpenAi => has_choices,
                };
                if !fits {
                    return Err(self.malformed(format!("no `{}` field", given.schema_field()), raw));
                }
                given
            }
            None if has_token && self.sse => TokenFormat::Tgi,
            None if has_token => TokenFormat::Lmi,
            None if has_choices => TokenFormat::OpenAi,
            None => {
                return Err(self.malformed(
                    "neither a `token` (TGI/LMI) nor a `choices` (OpenAI) field".into(),
                    raw,
                ))
            }
        };
        self.format = Some(format);
        Ok(format)
    }
}

/// The message of an error reported inside the stream, if the record is one.
fn in_band_error(record: &Record<'_>) -> Option<String> {
    match &record.error {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::String(text)) => return Some(text.clone()),
        Some(other) => {
            let message = other.get("message").and_then(|m| m.as_str());
            return Some(message.map_or_else(|| other.to_string(), str::to_owned));
        }
    }
    let errored = record.object.as_deref() == Some("error")
        || record
            .details
            .as_ref()
            .and_then(|d| d.finish_reason.as_deref())
            == Some("error");
    errored.then(|| {
        record.message.as_deref().map_or_else(
            || {
                "generation stopped with finish_reason \"error\" (the server gave no message)"
                    .to_owned()
            },
            str::to_owned,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(format: Option<TokenFormat>, parts: &[&[u8]]) -> Result<Vec<String>, StreamError> {
        let mut d = TokenDecoder::new(format, true, None);
        let mut out = Vec::new();
        for p in parts {
            out.extend(d.feed(p)?);
        }
        out.extend(d.finish()?);
        Ok(out)
    }

    #[test]
    fn tgi_sse_with_special_end_token() {
        let stream = concat!(
            "data:{\"index\":1,\"token\":{\"id\":1,\"text\":\"Hel\",\"logprob\":-0.1,\"special\":false},\"generated_text\":null,\"details\":null}\n\n",
            "data:{\"index\":2,\"token\":{\"id\":2,\"text\":\"lo\",\"logprob\":-0.1,\"special\":false},\"generated_text\":null,\"details\":null}\n\n",
            "data:{\"index\":3,\"token\":{\"id\":3,\"text\":\"</s>\",\"logprob\":-0.1,\"special\":true},\"generated_text\":\"Hello\",\"details\":{\"finish_reason\":\"eos_token\",\"generated_tokens\":3,\"seed\":null}}\n\n",
        );
        let mut d = TokenDecoder::new(None, true, None);
        let got: Vec<String> = stream
            .as_bytes()
            .chunks(7)
            .flat_map(|c| d.feed(c).unwrap())
            .collect();
        assert_eq!(got, ["Hel", "lo"]);
        assert_eq!(d.format(), Some(TokenFormat::Tgi));
    }

    #[test]
    fn lmi_jsonl_last_line_without_newline_and_error() {
        let ok = b"{\"token\":{\"id\":1,\"text\":\"a\\u00e9\",\"log_prob\":-1}}\n{\"token\":{\"id\":2,\"text\":\"b\"},\"generated_text\":\"a\\u00e9b\"}";
        assert_eq!(texts(None, &[ok]).unwrap(), ["a\u{e9}", "b"]);
        let err = b"{\"token\":{\"text\":\"a\"}}\n{\"token\":{\"id\":-1,\"text\":\"\",\"log_prob\":-1,\"special_token\":true},\"generated_text\":\"\",\"details\":{\"finish_reason\":\"error\"}}\n";
        assert!(matches!(
            texts(None, &[err]),
            Err(StreamError::ModelError { .. })
        ));
    }

    #[test]
    fn openai_chat_and_completions_end_at_done() {
        let chat = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: {\"choices\":[],\"usage\":{}}\n\ndata: [DONE]\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"late\"}}]}\n\n";
        assert_eq!(texts(None, &[chat]).unwrap(), ["Hi"]);
        let completions = b"data: {\"choices\":[{\"text\":\"x\"}]}\n\n";
        assert_eq!(
            texts(Some(TokenFormat::OpenAi), &[completions]).unwrap(),
            ["x"]
        );
    }

    #[test]
    fn unknown_or_mismatched_records_are_errors() {
        assert!(matches!(
            texts(None, &[b"{\"outputs\":[\"x\"]}\n"]),
            Err(StreamError::MalformedRecord { .. })
        ));
        assert!(matches!(
            texts(
                Some(TokenFormat::OpenAi),
                &[b"data:{\"token\":{\"text\":\"x\"}}\n\n"]
            ),
            Err(StreamError::MalformedRecord { .. })
        ));
        assert!(matches!(
            texts(None, &[b"data: not json\n\n"]),
            Err(StreamError::MalformedRecord { .. })
        ));
        let tgi_error = b"data:{\"error\":\"Request failed during generation: boom\",\"error_type\":\"generation\"}\n\n";
        assert_eq!(
            texts(None, &[tgi_error]),
            Err(StreamError::ModelError {
                message: "Request failed during generation: boom".into(),
                excerpt: String::from_utf8_lossy(&tgi_error[5..tgi_error.len() - 2]).into_owned(),
            })
        );
    }
}
