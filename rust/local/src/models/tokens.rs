//! `tokens`: streams a text as LLM servers do (raw, LMI jsonl, TGI sse,
//! OpenAI sse), one formatted token per PayloadPart, or cut at arbitrary
//! byte offsets so clients must reassemble lines and UTF-8.
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{Invocation, ModelOutput, Part, PartList, Parts, ReadyParts};
use crate::config::{SplitMode, TokenFormat, TokensConfig};

#[derive(Debug)]
pub struct Tokens {
    config: TokensConfig,
    /// The configured text, rendered once (a request then only shares the
    /// pieces); `None` when the request's body is the text.
    rendered: Option<Arc<PartList>>,
}

impl Tokens {
    pub fn new(config: TokensConfig) -> Tokens {
        let rendered = config
            .text
            .as_deref()
            .map(|text| PartList::reused(render(text, config.parts, config.format, config.split)));
        Tokens { config, rendered }
    }

    pub fn invoke(&self, inv: &Invocation) -> ModelOutput {
        let c = &self.config;
        let pieces = match &self.rendered {
            Some(pieces) => pieces.clone(),
            None => PartList::once(render(
                &String::from_utf8_lossy(&inv.body),
                c.parts,
                c.format,
                c.split,
            )),
        };
        let delay = Duration::from_millis(if inv.streaming { c.delay_ms } else { 0 });
        let parts = if !delay.is_zero() || c.repeat != 1 {
            produced(pieces, c.repeat, delay)
        } else {
            Parts::Ready(ReadyParts::new(pieces))
        };
        ModelOutput {
            content_type: Some(content_type(c.format).to_owned()),
            custom_attributes: inv.custom_attributes.clone(),
            parts,
        }
    }
}

fn content_type(format: TokenFormat) -> &'static str {
    match format {
        TokenFormat::Raw => "text/plain; charset=utf-8",
        TokenFormat::Jsonl => "application/jsonlines",
        TokenFormat::Sse | TokenFormat::Openai => "text/event-stream",
    }
}

/// Sends the pieces one by one, `delay` apart, `repeat` times over, as a
/// producer would: only what the reader has not taken yet is in memory
/// (the channel's few parts; the pieces are shared, not copied).
fn produced(list: Arc<PartList>, repeat: usize, delay: Duration) -> Parts {
    let (tx, rx) = mpsc::channel(4);
    let total = list.pieces().len().saturating_mul(repeat);
    tokio::spawn(async move {
        for (i, piece) in list.pieces().iter().cycle().take(total).enumerate() {
            if i > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if tx.send(Part::Data(piece.clone())).await.is_err() {
                return; // the client went away
            }
        }
    });
    Parts::Live(rx)
}

/// The formatted output, already divided into parts.
pub fn render(text: &str, parts: usize, format: TokenFormat, split: SplitMode) -> Vec<Bytes> {
    let tokens = split_chars(text, parts.max(1));
    let pieces = format_tokens(&tokens, text, format);
    match split {
        SplitMode::Chars => pieces.into_iter().map(Bytes::from).collect(),
        SplitMode::Bytes => split_bytes(pieces.concat().into_bytes(), parts.max(1)),
    }
}

/// Splits text into at most `n` groups of (nearly) equal character counts:
/// group `k` holds characters `k*chars/n .. (k+1)*chars/n`. One pass over
/// the text, no table of every character's offset (a long text is split
/// on every streamed request).
fn split_chars(text: &str, n: usize) -> Vec<&str> {
    let ascii = text.is_ascii();
    let chars = if ascii {
        text.len()
    } else {
        text.chars().count()
    };
    let n = n.min(chars).max(1);
    let mut offsets = text.char_indices().map(|(offset, _)| offset);
    let mut next_char = 0; // the character `offsets` yields next
    let mut groups = Vec::with_capacity(n);
    let mut start = 0;
    // Group k (k < n) ends before character k*chars/n; strictly increasing.
    for k in 1..n {
        let boundary = k * chars / n;
        let end = if ascii {
            boundary
        } else {
            let end = offsets
                .nth(boundary - next_char)
                .expect("a boundary below the character count");
            next_char = boundary + 1;
            end
        };
        groups.push(&text[start..end]);
        start = end;
    }
    groups.push(&text[start..]);
    groups
}

/// Cuts `data` into `n` pieces near evenly spaced offsets, moving each cut
/// (within its stretch) into the middle of a UTF-8 character when there is
/// one, so that clients really have to reassemble characters.
fn split_bytes(data: Vec<u8>, n: usize) -> Vec<Bytes> {
    let data = Bytes::from(data);
    let n = n.min(data.len()).max(1);
    let even = |k: usize| k * data.len() / n;
    let mut cuts = vec![0];
    for k in 1..n {
        let (start, end) = (even(k), even(k + 1));
        // A continuation byte (10xxxxxx) at p means cutting at p splits a character.
        let inside_char = (start..end).find(|&p| data[p] & 0xC0 == 0x80);
        cuts.push(inside_char.unwrap_or(start));
    }
    cuts.push(data.len());
    cuts.windows(2).map(|w| data.slice(w[0]..w[1])).collect()
}

/// JSON string literal (escaped) for `s`.
fn js(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// Formats each token as the server kind would. The JSON is written by hand
/// so its keys come in the servers' order (`token` first).
fn format_tokens(tokens: &[&str], full: &str, format: TokenFormat) -> Vec<String> {
    let last = tokens.len() - 1;
    let mut out: Vec<String> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            // Escaped only where written (the whole text is escaped for the
            // last token only, and never for raw output).
            let generated = || {
                if i == last {
                    js(full)
                } else {
                    "null".to_owned()
                }
            };
            match format {
                TokenFormat::Raw => (*t).to_owned(),
                TokenFormat::Jsonl if i == last => format!(
                    "{{\"token\":{{\"text\":{}}},\"generated_text\":{}}}\n",
                    js(t),
                    generated()
                ),
                TokenFormat::Jsonl => format!("{{\"token\":{{\"text\":{}}}}}\n", js(t)),
                TokenFormat::Sse => format!(
                    "data:{{\"token\":{{\"text\":{}}},\"generated_text\":{}}}\n\n",
                    js(t),
                    generated()
                ),
                TokenFormat::Openai => format!(
                    "data: {{\"choices\":[{{\"delta\":{{\"content\":{}}}}}]}}\n\n",
                    js(t)
                ),
            }
        })
        .collect();
    if format == TokenFormat::Openai {
        out.push("data: [DONE]\n\n".to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: Vec<Bytes>) -> Vec<String> {
        v.into_iter()
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn raw_parts_rejoin_to_the_text() {
        let parts = strings(render("héllo wörld", 4, TokenFormat::Raw, SplitMode::Chars));
        assert_eq!(parts.len(), 4);
        assert_eq!(parts.concat(), "héllo wörld");
        // More parts than characters: one character each.
        assert_eq!(
            render("ab", 10, TokenFormat::Raw, SplitMode::Chars).len(),
            2
        );
    }

    #[test]
    fn char_groups_follow_the_even_split_of_character_indices() {
        // Group k holds characters k*chars/n .. (k+1)*chars/n.
        for text in ["", "a", "héllo wörld", &"tok ".repeat(50), "ééé"] {
            let chars: Vec<char> = text.chars().collect();
            for n in [1, 2, 3, 7, 200, 1000] {
                let m = n.min(chars.len()).max(1);
                let expected: Vec<String> = (0..m)
                    .map(|k| {
                        chars[k * chars.len() / m..(k + 1) * chars.len() / m]
                            .iter()
                            .collect()
                    })
                    .collect();
                assert_eq!(split_chars(text, n), expected, "{text:?} into {n}");
            }
        }
    }

    #[test]
    fn jsonl_ends_with_generated_text() {
        let parts = strings(render("a\"b", 2, TokenFormat::Jsonl, SplitMode::Chars));
        assert_eq!(parts[0], "{\"token\":{\"text\":\"a\"}}\n");
        let last: serde_json::Value = serde_json::from_str(parts[1].trim_end()).unwrap();
        assert_eq!(last["generated_text"], "a\"b");
        assert_eq!(last["token"]["text"], "\"b");
    }

    #[test]
    fn sse_and_openai_events() {
        let parts = strings(render("ab", 2, TokenFormat::Sse, SplitMode::Chars));
        assert_eq!(
            parts[0],
            "data:{\"token\":{\"text\":\"a\"},\"generated_text\":null}\n\n"
        );
        let parts = strings(render("ab", 2, TokenFormat::Openai, SplitMode::Chars));
        assert_eq!(
            parts[0],
            "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
        );
        assert_eq!(parts.last().unwrap(), "data: [DONE]\n\n");
    }

    fn repeated(repeat: usize, streaming: bool) -> Vec<String> {
        let config: TokensConfig = serde_json::from_value(serde_json::json!(
            {"text": "abc", "parts": 3, "repeat": repeat}
        ))
        .unwrap();
        let inv = Invocation {
            streaming,
            ..Invocation::default()
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            match Tokens::new(config).invoke(&inv).parts {
                Parts::Ready(q) => strings(q.remaining().to_vec()),
                Parts::Live(mut rx) => {
                    let mut out = Vec::new();
                    while let Some(Part::Data(b)) = rx.recv().await {
                        out.push(String::from_utf8(b.to_vec()).unwrap());
                    }
                    out
                }
            }
        })
    }

    #[test]
    fn repeat_sends_the_parts_again_and_again() {
        assert_eq!(repeated(1, true), ["a", "b", "c"]);
        assert_eq!(repeated(3, true).concat(), "abcabcabc");
        assert_eq!(repeated(3, true).len(), 9);
        assert_eq!(repeated(2, false).concat(), "abcabc");
        assert!(repeated(0, true).is_empty());
    }

    #[test]
    fn byte_split_cuts_inside_characters() {
        let parts = render("ééé", 4, TokenFormat::Raw, SplitMode::Bytes);
        assert!(parts.iter().any(|p| std::str::from_utf8(p).is_err()));
        assert_eq!(parts.concat(), "ééé".as_bytes());
    }
}
