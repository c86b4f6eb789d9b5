//! Codec tests against the official vectors (aws-sdk-go's set and
//! smithy-rs's frames) plus hand-built frames for every structural rule.

use std::fs;
use std::path::PathBuf;

use bytes::Bytes;

use super::*;

fn vectors_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/eventstream"
    ))
}

fn read(rel: &str) -> Vec<u8> {
    let path = vectors_dir().join(rel);
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn names(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(vectors_dir().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Standard base64 (the vectors' JSON encoding), kept tiny on purpose.
fn b64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64 digit") as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
        }
    }
    out
}

fn expected_from_json(json: &serde_json::Value) -> Message {
    let headers = json["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let v = &h["value"];
            let value = match h["type"].as_u64().unwrap() {
                0 | 1 => HeaderValue::Bool(v.as_bool().unwrap()),
                2 => HeaderValue::Byte(v.as_i64().unwrap() as i8),
                3 => HeaderValue::Short(v.as_i64().unwrap() as i16),
                4 => HeaderValue::Int(v.as_i64().unwrap() as i32),
                5 => HeaderValue::Long(v.as_i64().unwrap()),
                6 => HeaderValue::Bytes(Bytes::from(b64(v.as_str().unwrap()))),
                7 => HeaderValue::String(String::from_utf8(b64(v.as_str().unwrap())).unwrap()),
                8 => HeaderValue::Timestamp(v.as_i64().unwrap()),
                9 => HeaderValue::Uuid(b64(v.as_str().unwrap()).try_into().unwrap()),
                t => panic!("type {t}"),
            };
            Header::new(h["name"].as_str().unwrap(), value)
        })
        .collect();
    Message {
        headers,
        payload: Bytes::from(b64(json["payload"].as_str().unwrap())),
    }
}

/// Frame with arbitrary header-block bytes and correct CRCs, built with
/// crc32fast directly (not with our encoder).
fn raw_frame(header_block: &[u8], payload: &[u8]) -> Vec<u8> {
    let total = (16 + header_block.len() + payload.len()) as u32;
    let mut out = Vec::new();
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&(header_block.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(&out).to_be_bytes());
    out.extend_from_slice(header_block);
    out.extend_from_slice(payload);
    out.extend_from_slice(&crc32fast::hash(&out).to_be_bytes());
    out
}

fn prelude_only(total: u32, headers_len: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&headers_len.to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(&out).to_be_bytes());
    out
}

fn is_invalid(r: Result<impl std::fmt::Debug, DecodeError>) -> bool {
    matches!(r, Err(DecodeError::InvalidFrame(_)))
}

fn smithy_all_headers() -> Message {
    let uuid = [
        0xb7, 0x9b, 0xc9, 0x14, 0xde, 0x21, 0x4e, 0x13, 0xb8, 0xb2, 0xbc, 0x47, 0xe8, 0x5b, 0x7f,
        0x0b,
    ];
    Message {
        headers: vec![
            Header::new("true", HeaderValue::Bool(true)),
            Header::new("false", HeaderValue::Bool(false)),
            Header::new("byte", HeaderValue::Byte(50)),
            Header::new("short", HeaderValue::Short(20000)),
            Header::new("int", HeaderValue::Int(500000)),
            Header::new("long", HeaderValue::Long(50000000000)),
            Header::new(
                "bytes",
                HeaderValue::Bytes(Bytes::from_static(b"some bytes")),
            ),
            Header::new("str", HeaderValue::String("some str".into())),
            Header::new("time", HeaderValue::Timestamp(5_000_000_000)),
            Header::new("uuid", HeaderValue::Uuid(uuid)),
        ],
        payload: Bytes::from_static(b"some payload"),
    }
}

/// Every valid frame among the vectors, concatenated.
fn valid_stream() -> (Vec<u8>, Vec<Message>) {
    let mut stream = Vec::new();
    let mut messages = Vec::new();
    for name in names("encoded/positive") {
        let frame = read(&format!("encoded/positive/{name}"));
        messages.push(decode_message(&frame).unwrap());
        stream.extend_from_slice(&frame);
    }
    for name in [
        "valid_with_all_headers_and_payload",
        "valid_empty_payload",
        "valid_no_headers",
    ] {
        let frame = read(&format!("smithy-rs/test_data/{name}"));
        messages.push(decode_message(&frame).unwrap());
        stream.extend_from_slice(&frame);
    }
    (stream, messages)
}

#[test]
fn positive_vectors_decode_to_their_json() {
    let names = names("encoded/positive");
    assert_eq!(names.len(), 5);
    for name in names {
        let frame = read(&format!("encoded/positive/{name}"));
        let json: serde_json::Value =
            serde_json::from_slice(&read(&format!("decoded/positive/{name}"))).unwrap();
        assert_eq!(
            json["total_length"].as_u64().unwrap() as usize,
            frame.len(),
            "{name}"
        );
        assert_eq!(
            decode_message(&frame).unwrap(),
            expected_from_json(&json),
            "{name}"
        );
        // The prelude fields and CRCs as the JSON states them (signed i32).
        let be =
            |at: usize| u32::from_be_bytes(frame[at..at + 4].try_into().unwrap()) as i32 as i64;
        assert_eq!(be(4), json["headers_length"].as_i64().unwrap(), "{name}");
        assert_eq!(be(8), json["prelude_crc"].as_i64().unwrap(), "{name}");
        assert_eq!(
            be(frame.len() - 4),
            json["message_crc"].as_i64().unwrap(),
            "{name}"
        );
    }
}

#[test]
fn positive_vectors_re_encode_to_the_same_bytes() {
    for name in names("encoded/positive") {
        let frame = read(&format!("encoded/positive/{name}"));
        let message = decode_message(&frame).unwrap();
        assert_eq!(
            encode_message(&message.headers, &message.payload).unwrap(),
            frame,
            "{name}"
        );
    }
}

#[test]
fn negative_vectors_report_the_named_checksum() {
    let names = names("encoded/negative");
    assert_eq!(names.len(), 4);
    for name in names {
        let frame = read(&format!("encoded/negative/{name}"));
        let text = String::from_utf8(read(&format!("decoded/negative/{name}"))).unwrap();
        let which = match text.as_str() {
            "Prelude checksum mismatch" => Checksum::Prelude,
            "Message checksum mismatch" => Checksum::Message,
            other => panic!("unexpected vector text {other:?}"),
        };
        for err in [
            decode_message(&frame).unwrap_err(),
            Decoder::default().feed(&frame).unwrap_err(),
        ] {
            assert!(
                matches!(err, DecodeError::ChecksumMismatch { which: w, .. } if w == which),
                "{name}: {err}"
            );
            assert!(err.to_string().starts_with(&text), "{name}: {err}");
        }
    }
}

#[test]
fn corrupted_length_fails_on_the_prelude_without_waiting() {
    // Declares 62 bytes but holds 61: only checking the prelude at 12 bytes
    // can reject it.
    let frame = read("encoded/negative/corrupted_length");
    let mut decoder = Decoder::default();
    let err = decoder.feed(&frame[..12]).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::ChecksumMismatch {
            which: Checksum::Prelude,
            ..
        }
    ));
}

#[test]
fn smithy_valid_frames_decode_as_documented() {
    let all = read("smithy-rs/test_data/valid_with_all_headers_and_payload");
    assert_eq!(all.len(), 150);
    let expected = smithy_all_headers();
    assert_eq!(decode_message(&all).unwrap(), expected);
    assert_eq!(
        encode_message(&expected.headers, &expected.payload).unwrap(),
        all
    );

    let empty = decode_message(&read("smithy-rs/test_data/valid_empty_payload")).unwrap();
    assert_eq!(
        empty.headers,
        vec![Header::new("some-header", HeaderValue::Short(500))]
    );
    assert!(empty.payload.is_empty());

    let no_headers = decode_message(&read("smithy-rs/test_data/valid_no_headers")).unwrap();
    assert!(no_headers.headers.is_empty());
    assert_eq!(&no_headers.payload[..], b"another test payload");
}

#[test]
fn smithy_invalid_frames_are_rejected() {
    let invalid: Vec<String> = names("smithy-rs/test_data")
        .into_iter()
        .filter(|n| n.starts_with("invalid"))
        .collect();
    assert_eq!(invalid.len(), 8);
    for name in invalid {
        let frame = read(&format!("smithy-rs/test_data/{name}"));
        let one = decode_message(&frame);
        assert!(one.is_err(), "{name}");
        let mut decoder = Decoder::default();
        assert!(decoder.feed(&frame).is_err(), "{name}");
        match name.as_str() {
            "invalid_prelude_checksum" => assert!(matches!(
                one,
                Err(DecodeError::ChecksumMismatch {
                    which: Checksum::Prelude,
                    expected: 0xDEADBEEF,
                    computed: 0x8BB495FB
                })
            )),
            "invalid_message_checksum" => assert!(matches!(
                one,
                Err(DecodeError::ChecksumMismatch {
                    which: Checksum::Message,
                    expected: 0xDEADBEEF,
                    computed: 0x01A05860
                })
            )),
            "invalid_headers_length" => assert!(is_invalid(one)),
            _ => {}
        }
    }
}

#[test]
fn every_two_way_split_decodes_the_same() {
    let (stream, expected) = valid_stream();
    for cut in 0..=stream.len() {
        let mut decoder = Decoder::default();
        let mut got = decoder.feed(&stream[..cut]).unwrap();
        got.extend(decoder.feed(&stream[cut..]).unwrap());
        decoder.finish().unwrap();
        assert_eq!(got, expected, "cut at {cut}");
    }
}

#[test]
fn three_way_splits_decode_the_same() {
    let (stream, expected) = valid_stream();
    for a in (0..=stream.len()).step_by(7) {
        for b in (a..=stream.len()).step_by(5) {
            let mut decoder = Decoder::default();
            let mut got = Vec::new();
            for part in [&stream[..a], &stream[a..b], &stream[b..]] {
                got.extend(decoder.feed(part).unwrap());
            }
            assert_eq!(got, expected, "cuts at {a}, {b}");
        }
    }
}

#[test]
fn one_byte_feeds_decode_the_same() {
    let (stream, expected) = valid_stream();
    let mut decoder = Decoder::default();
    let mut got = Vec::new();
    for byte in stream.chunks(1) {
        got.extend(decoder.feed(byte).unwrap());
    }
    decoder.finish().unwrap();
    assert_eq!(got, expected);
}

#[test]
fn feed_verified_matches_feed() {
    let (stream, expected) = valid_stream();
    for cut in [0, 1, 11, 12, 13, 40, stream.len() / 2, stream.len()] {
        let mut decoder = Decoder::default();
        let mut got = Vec::new();
        for part in [&stream[..cut], &stream[cut..]] {
            let (frames, result) = decoder.feed_verified(part);
            result.unwrap();
            for frame in &frames {
                got.push(frame.with_message(part, |m| m.to_owned_message()).unwrap());
            }
        }
        assert_eq!(got, expected, "cut at {cut}");
    }
}

#[test]
fn a_repeated_header_block_decodes_as_it_did_the_first_time() {
    // Every header type (the smithy-rs vector), three times in a row: the
    // second and third are read from the remembered layout.
    let frame = read("smithy-rs/test_data/valid_with_all_headers_and_payload");
    let expected = decode_message(&frame).unwrap();
    assert!(expected.headers.len() >= 8, "the vector has every type");
    let mut decoder = Decoder::default();
    let got = decoder
        .feed(&[&frame[..], &frame, &frame].concat())
        .unwrap();
    assert_eq!(got, vec![expected.clone(); 3]);
    // Same length, one value byte changed: decoded afresh, not from the layout.
    let string_header = Header {
        name: "k".into(),
        value: HeaderValue::String("abc".into()),
    };
    let changed = Header {
        name: "k".into(),
        value: HeaderValue::String("abd".into()),
    };
    let a = encode_message(std::slice::from_ref(&string_header), b"x").unwrap();
    let b = encode_message(std::slice::from_ref(&changed), b"x").unwrap();
    let got = decoder.feed(&[a, b.clone(), b].concat()).unwrap();
    let values: Vec<_> = got.iter().map(|m| m.headers[0].value.clone()).collect();
    assert_eq!(
        values,
        [string_header.value, changed.value.clone(), changed.value]
    );
    // The known block with its last value byte made invalid UTF-8 differs
    // in bytes, so it is checked again and refused.
    let bad = raw_frame(&[1, b'k', 7, 0, 3, b'a', b'b', 0xff], b"x");
    assert!(is_invalid(decoder.feed(&bad)));
}

#[test]
fn feed_repeats_payloads_are_views_not_copies() {
    let payload = vec![7u8; 64 * 1024];
    let frame = encode_message(&[], &payload).unwrap();
    // Whole frames inside the chunk: views of the chunk.
    let chunk = Bytes::from([frame.clone(), frame.clone()].concat());
    let (messages, _) = feed_repeats_all(&mut Decoder::default(), std::slice::from_ref(&chunk));
    let inside = chunk.as_ptr_range();
    for m in &messages {
        assert!(inside.contains(&m.payload.as_ptr()) && m.payload.len() == payload.len());
    }
    // A frame in 1 KiB pieces: assembled once, in one buffer reserved at
    // once (no regrowth), which the payload then shares.
    let mut decoder = Decoder::default();
    let pieces: Vec<Bytes> = frame.chunks(1024).map(Bytes::copy_from_slice).collect();
    for piece in &pieces[..pieces.len() - 1] {
        decoder
            .feed_repeats(piece, |_, _| Ok::<_, DecodeError>(()))
            .unwrap();
        assert_eq!(decoder.buffer_capacity(), frame.len());
    }
    let mut shared = None;
    decoder
        .feed_repeats(&pieces[pieces.len() - 1], |delivery, assembled| {
            assert_eq!(assembled.len(), frame.len());
            let Delivery::New(m) = delivery else {
                panic!("the first message is new")
            };
            let p = assembled.slice_ref(m.payload);
            assert_eq!(p.as_ptr(), assembled[12..].as_ptr());
            shared = Some(p);
            Ok::<_, DecodeError>(())
        })
        .unwrap();
    assert_eq!(shared.unwrap(), payload);
}

#[test]
fn truncation_at_every_byte_is_reported_by_finish() {
    let frame = read("smithy-rs/test_data/valid_with_all_headers_and_payload");
    for cut in 1..frame.len() {
        let mut decoder = Decoder::default();
        assert!(decoder.feed(&frame[..cut]).unwrap().is_empty());
        assert_eq!(
            decoder.finish(),
            Err(DecodeError::TruncatedStream { buffered: cut })
        );
        assert_eq!(
            decode_message(&frame[..cut]),
            Err(DecodeError::TruncatedStream { buffered: cut })
        );
    }
    assert!(Decoder::default().finish().is_ok());
}

#[test]
fn hostile_length_fails_at_the_prelude_without_allocating() {
    let mut decoder = Decoder::default();
    let err = decoder.feed(&prelude_only(u32::MAX, 0)).unwrap_err();
    assert!(
        matches!(err, DecodeError::InvalidFrame(ref m) if m.contains("payload length")),
        "{err}"
    );
    assert_eq!(decoder.buffered_len(), 0);
    // The same prelude arriving a byte at a time fails on its 12th byte.
    let mut decoder = Decoder::default();
    let prelude = prelude_only(u32::MAX, 0);
    for byte in &prelude[..11] {
        assert!(decoder.feed(std::slice::from_ref(byte)).unwrap().is_empty());
    }
    assert!(is_invalid(decoder.feed(&prelude[11..])));
    assert!(
        decoder.buffer_capacity() <= 12,
        "allocated {}",
        decoder.buffer_capacity()
    );
}

#[test]
fn limits_are_enforced_and_configurable() {
    let limits = Limits {
        max_headers_len: 10,
        max_payload_len: 20,
    };
    let decoder = || Decoder::new(limits);
    // Exactly at the limits is fine.
    let at_limit = raw_frame(&[4, b'a', b'b', b'c', b'd', 4, 0, 0, 0, 1], &[7; 20]);
    assert_eq!(decoder().feed(&at_limit).unwrap().len(), 1);
    // One over fails on the prelude alone.
    assert!(is_invalid(decoder().feed(&prelude_only(16 + 11, 11))));
    assert!(is_invalid(decoder().feed(&prelude_only(16 + 21, 0))));
    // Default limits: 128 KiB headers, 24 MiB payload.
    assert!(is_invalid(
        Decoder::default().feed(&prelude_only(16 + 128 * 1024 + 1, 128 * 1024 + 1))
    ));
    assert!(Decoder::default()
        .feed(&prelude_only(16 + 128 * 1024, 128 * 1024))
        .is_ok());
    assert!(is_invalid(
        Decoder::default().feed(&prelude_only(16 + 24 * 1024 * 1024 + 1, 0))
    ));
    assert!(Decoder::default()
        .feed(&prelude_only(16 + 24 * 1024 * 1024, 0))
        .is_ok());
}

#[test]
fn structural_errors_are_invalid_frame() {
    assert!(
        is_invalid(Decoder::default().feed(&prelude_only(15, 0))),
        "total < 16"
    );
    assert!(
        is_invalid(Decoder::default().feed(&prelude_only(20, 5))),
        "headers > total - 16"
    );
    let cases: [(&str, &[u8]); 9] = [
        ("duplicate name", &[1, b'a', 0, 1, b'a', 1]),
        ("unknown type", &[1, b'a', 10]),
        ("empty name", &[0, 0]),
        ("name not UTF-8", &[1, 0xff, 0]),
        ("string not UTF-8", &[1, b'a', 7, 0, 1, 0xc3]),
        ("name runs past the block", &[5, b'a', b'b']),
        ("value runs past the block", &[1, b'a', 4, 0, 0]),
        (
            "string length runs past the block",
            &[1, b'a', 7, 0, 9, b'x'],
        ),
        ("missing type", &[1, b'a']),
    ];
    for (what, block) in cases {
        let frame = raw_frame(block, b"payload");
        assert!(is_invalid(decode_message(&frame)), "{what}");
        assert!(is_invalid(Decoder::default().feed(&frame)), "{what}");
    }
    let mut two = read("smithy-rs/test_data/valid_no_headers");
    two.push(0);
    assert!(is_invalid(decode_message(&two)), "trailing bytes");
}

#[test]
fn many_duplicate_headers_are_found_quickly() {
    // 40,000 distinct minimal headers then a repeat of the first.
    let mut block = Vec::new();
    for i in 0..40_000u32 {
        let name = format!("{i:x}");
        block.push(name.len() as u8);
        block.extend_from_slice(name.as_bytes());
        block.push(0);
    }
    block.extend_from_slice(&[1, b'0', 1]);
    let limits = Limits {
        max_headers_len: block.len(),
        ..Limits::default()
    };
    let frame = raw_frame(&block, b"");
    let err = Decoder::new(limits).feed(&frame).unwrap_err();
    assert!(
        matches!(err, DecodeError::InvalidFrame(ref m) if m.contains("duplicate")),
        "{err}"
    );
}

#[test]
fn errors_poison_the_decoder() {
    let bad = read("encoded/negative/corrupted_payload");
    let good = read("encoded/positive/empty_message");
    let mut decoder = Decoder::default();
    // A good frame before the bad one is still delivered.
    let mut delivered = 0;
    let mut stream = good.clone();
    stream.extend_from_slice(&bad);
    let err = decoder
        .feed_with(&stream, |_| {
            delivered += 1;
            Ok::<_, DecodeError>(())
        })
        .unwrap_err();
    assert_eq!(delivered, 1);
    assert!(matches!(
        err,
        DecodeError::ChecksumMismatch {
            which: Checksum::Message,
            ..
        }
    ));
    assert_eq!(decoder.feed(&good), Err(err.clone()));
    assert_eq!(decoder.finish(), Err(err));
}

#[test]
fn consumer_errors_end_the_stream() {
    let good = read("encoded/positive/empty_message");
    let mut decoder = Decoder::default();
    #[derive(Debug, PartialEq)]
    enum Consumer {
        GaveUp,
        Decode,
    }
    impl From<DecodeError> for Consumer {
        fn from(_: DecodeError) -> Self {
            Consumer::Decode
        }
    }
    let r = decoder.feed_with(&good, |_| Err(Consumer::GaveUp));
    assert_eq!(r, Err(Consumer::GaveUp));
    assert!(is_invalid(decoder.feed(&good)));
}

#[test]
fn large_frames_straddling_chunks_are_buffered_once() {
    let payload: Vec<u8> = (0..5_000_000u32).map(|i| (i * 7) as u8).collect();
    let frame = encode_message(
        &[Header::new(
            ":event-type",
            HeaderValue::String("PayloadPart".into()),
        )],
        &payload,
    )
    .unwrap();
    let mut decoder = Decoder::default();
    let mut got = Vec::new();
    for chunk in frame.chunks(65_536) {
        got.extend(decoder.feed(chunk).unwrap());
        // Never more than the frame's own size held.
        assert!(decoder.buffer_capacity() <= frame.len());
    }
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].payload[..], &payload[..]);
    assert_eq!(
        decoder.buffer_capacity(),
        0,
        "a large buffer is released after use"
    );
}

#[test]
fn encoder_validates_before_writing() {
    let h = |name: &str, value| Header::new(name, value);
    let long_name = "n".repeat(256);
    let long_value = "v".repeat(65_536);
    let cases = [
        vec![h("", HeaderValue::Bool(true))],
        vec![h(&long_name, HeaderValue::Bool(true))],
        vec![h("a", HeaderValue::Int(1)), h("a", HeaderValue::Int(2))],
        vec![h("a", HeaderValue::String(long_value.clone()))],
        vec![h(
            "a",
            HeaderValue::Bytes(Bytes::from(long_value.into_bytes())),
        )],
    ];
    for headers in cases {
        let mut out = vec![1, 2, 3];
        assert!(encode_message_into(&mut out, &headers, b"x").is_err());
        assert_eq!(out, [1, 2, 3], "nothing written on error");
    }
    // At the edges it works.
    let ok = [h(&"n".repeat(255), HeaderValue::String("v".repeat(65_535)))];
    let frame = encode_message(&ok, b"").unwrap();
    assert_eq!(decode_message(&frame).unwrap().headers, ok);
    // The limits apply to encoding too.
    let limits = Limits {
        max_headers_len: 4,
        max_payload_len: 2,
    };
    let mut out = Vec::new();
    assert!(encode_message_refs_into(
        &mut out,
        &[h("abc", HeaderValue::Bool(true)).as_ref()],
        b"",
        &limits
    )
    .is_err());
    assert!(encode_message_refs_into(&mut out, &[], b"123", &limits).is_err());
    assert!(out.is_empty());
}

#[test]
fn every_type_round_trips_through_the_encoder() {
    let message = smithy_all_headers();
    let mut extremes = message.headers.clone();
    extremes.extend([
        Header::new("min8", HeaderValue::Byte(i8::MIN)),
        Header::new("min16", HeaderValue::Short(i16::MIN)),
        Header::new("min32", HeaderValue::Int(i32::MIN)),
        Header::new("min64", HeaderValue::Long(i64::MIN)),
        Header::new("negtime", HeaderValue::Timestamp(-1)),
        Header::new("empty", HeaderValue::Bytes(Bytes::new())),
        Header::new("unicode ✓", HeaderValue::String("héllo ✓".into())),
    ]);
    let frame = encode_message(&extremes, &message.payload).unwrap();
    let decoded = decode_message(&frame).unwrap();
    assert_eq!(decoded.headers, extremes);
    assert_eq!(decoded.payload, message.payload);
    for (header, code) in decoded
        .headers
        .iter()
        .zip([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5, 8, 6, 7])
    {
        assert_eq!(header.value.type_code(), code, "{}", header.name);
    }
}

#[test]
fn upcoming_frame_len_hints_the_next_frame() {
    let frame = read("smithy-rs/test_data/valid_with_all_headers_and_payload");
    let mut decoder = Decoder::default();
    assert_eq!(decoder.upcoming_frame_len(&frame), Some(150));
    assert_eq!(decoder.upcoming_frame_len(&frame[..3]), None);
    decoder.feed(&frame[..5]).unwrap();
    assert_eq!(decoder.upcoming_frame_len(&frame[5..]), None); // prelude not complete yet
    decoder.feed(&frame[5..20]).unwrap();
    assert_eq!(decoder.upcoming_frame_len(&frame[20..]), Some(150));
}

#[test]
fn a_repeated_header_block_is_still_read_correctly() {
    // Same block twice (the second is read as known-valid), then a block that
    // differs in one byte of a string (must be checked again and fail).
    let block = [1, b'a', 7, 0, 2, b'o', b'k'];
    let mut bad = block;
    bad[5] = 0xff;
    let mut stream = raw_frame(&block, b"1");
    stream.extend(raw_frame(&block, b"2"));
    let mut decoder = Decoder::default();
    let got = decoder.feed(&stream).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1].headers,
        vec![Header::new("a", HeaderValue::String("ok".into()))]
    );
    assert!(is_invalid(decoder.feed(&raw_frame(&bad, b"3"))));
    // Duplicates are caught even right after a valid block.
    let mut decoder = Decoder::default();
    decoder.feed(&raw_frame(&[1, b'a', 0], b"")).unwrap();
    assert!(is_invalid(
        decoder.feed(&raw_frame(&[1, b'a', 0, 1, b'a', 0], b""))
    ));
}

/// Messages from `feed_repeats` (payloads taken as the callback's `Bytes`
/// would: `slice_ref`, so a test can see whether they share memory), a
/// repeat rebuilt with the previous message's headers, and whether each
/// came as a repeat.
fn feed_repeats_all(decoder: &mut Decoder, chunks: &[Bytes]) -> (Vec<Message>, Vec<bool>) {
    let mut messages: Vec<Message> = Vec::new();
    let mut repeats = Vec::new();
    for chunk in chunks {
        decoder
            .feed_repeats(chunk, |delivery, frame| {
                let message = match delivery {
                    Delivery::New(m) => {
                        let mut owned = m.to_owned_message();
                        assert_eq!(owned.payload, m.payload);
                        owned.payload = frame.slice_ref(m.payload);
                        owned
                    }
                    Delivery::Repeat { payload } => Message {
                        headers: messages.last().expect("a previous message").headers.clone(),
                        payload: frame.slice_ref(payload),
                    },
                };
                repeats.push(matches!(delivery, Delivery::Repeat { .. }));
                messages.push(message);
                Ok::<_, DecodeError>(())
            })
            .unwrap();
    }
    decoder.finish().unwrap();
    (messages, repeats)
}

#[test]
fn feed_repeats_matches_the_vectors_at_every_split() {
    // Each vector twice in a row: the second is a repeat when its header
    // block is not empty, and decodes as the vector does either way.
    let (_, singles) = valid_stream();
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    for message in &singles {
        let frame = encode_message(&message.headers, &message.payload).unwrap();
        assert_eq!(decode_message(&frame).unwrap(), *message);
        stream.extend_from_slice(&[frame.clone(), frame].concat());
        expected.extend([message.clone(), message.clone()]);
    }
    let stream = Bytes::from(stream);
    let cuts = [0, 1, 11, 12, 13, 40, stream.len() / 2, stream.len()];
    for cut in cuts {
        let chunks = [stream.slice(..cut), stream.slice(cut..)];
        let (got, repeats) = feed_repeats_all(&mut Decoder::default(), &chunks);
        assert_eq!(got, expected, "cut at {cut}");
        let expected_repeats: Vec<bool> = expected
            .iter()
            .enumerate()
            .map(|(i, m)| i % 2 == 1 && !m.headers.is_empty())
            .collect();
        assert_eq!(repeats, expected_repeats, "cut at {cut}");
    }
    let bytewise: Vec<Bytes> = (0..stream.len()).map(|i| stream.slice(i..i + 1)).collect();
    assert_eq!(
        feed_repeats_all(&mut Decoder::default(), &bytewise).0,
        expected
    );
}

#[test]
fn a_repeat_is_only_of_the_message_just_before() {
    let header = |v: &str| Header {
        name: ":event-type".into(),
        value: HeaderValue::String(v.into()),
    };
    let a = encode_message(&[header("A")], b"1").unwrap();
    let b = encode_message(&[header("B")], b"2").unwrap();
    let bare = encode_message(&[], b"3").unwrap();
    let stream = [&a, &a, &bare, &a, &b, &a, &a, &b]
        .map(|f| f.as_slice())
        .concat();
    let (got, repeats) = feed_repeats_all(&mut Decoder::default(), &[Bytes::from(stream)]);
    assert_eq!(
        repeats,
        [false, true, false, false, false, false, true, false]
    );
    let kinds: Vec<_> = got.iter().map(|m| m.headers.clone()).collect();
    let none: Vec<Header> = Vec::new();
    assert_eq!(
        kinds,
        [
            vec![header("A")],
            vec![header("A")],
            none,
            vec![header("A")],
            vec![header("B")],
            vec![header("A")],
            vec![header("A")],
            vec![header("B")],
        ]
    );
    // Another feed in between breaks the chain: B was not the message
    // feed_repeats handed over last.
    let mut decoder = Decoder::default();
    feed_repeats_all(&mut decoder, &[Bytes::from(a.clone())]);
    decoder.feed(&b).unwrap();
    let (_, repeats) = feed_repeats_all(&mut decoder, &[Bytes::from(b.clone())]);
    assert_eq!(repeats, [false]);
}

#[test]
fn a_repeat_still_has_its_crc_checked() {
    let header = Header {
        name: ":event-type".into(),
        value: HeaderValue::String("PayloadPart".into()),
    };
    let frame = encode_message(&[header], b"token").unwrap();
    let mut corrupt = frame.clone();
    let at = corrupt.len() - 6; // a payload byte
    corrupt[at] ^= 1;
    let mut decoder = Decoder::default();
    let result = decoder.feed_repeats(&Bytes::from([frame, corrupt].concat()), |_, _| {
        Ok::<_, DecodeError>(())
    });
    assert!(matches!(
        result,
        Err(DecodeError::ChecksumMismatch {
            which: Checksum::Message,
            ..
        })
    ));
}
