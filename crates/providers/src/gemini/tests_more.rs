//! Unit tests of the Gemini tool-call ids (thought signatures), the schema sanitiser and the
//! embeddings conversion.

use serde_json::{Value, json};

use super::tests::{KEY, target};
use super::{ids, schema};
use crate::adapter::{ConvertError, EmbeddingsInput};
use crate::{Provider, adapter};

fn build(body: Value) -> Value {
    let req: switchyard_types::ChatRequest = serde_json::from_value(body).unwrap();
    let out = adapter(Provider::Gemini)
        .chat_request(
            &req,
            &target(
                "gemini-2.5-flash",
                "https://generativelanguage.googleapis.com",
                KEY,
            ),
        )
        .unwrap();
    serde_json::from_slice(&out.body).unwrap()
}

#[test]
fn thought_signatures_ride_in_tool_call_ids() {
    let sig = "c2lnbmF0dXJlLWJ5dGVzLz8+";
    let id = ids::call_id(Some(sig));
    assert!(id.starts_with("call_"), "{id}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
        "{id}"
    );
    assert_eq!(ids::signature_from_id(&id).as_deref(), Some(sig));
    let plain = ids::call_id(None);
    assert_eq!(plain.len(), 29);
    assert_eq!(ids::signature_from_id(&plain), None);
    let body = build(json!({"model":"m","messages":[
        {"role":"user","content":"q"},
        {"role":"assistant","tool_calls":[
            {"id":id,"type":"function","function":{"name":"a","arguments":"{}"}},
            {"id":"call_x","type":"function","function":{"name":"b","arguments":"{}"},
             "extra_content":{"google":{"thought_signature":"QUJD"}}}]},
        {"role":"tool","tool_call_id":id,"content":"1"},
        {"role":"tool","tool_call_id":"call_x","content":"2"}
    ]}));
    assert_eq!(
        body["contents"][1]["parts"],
        json!([
            {"functionCall":{"name":"a","args":{}},"thoughtSignature":sig},
            {"functionCall":{"name":"b","args":{}},"thoughtSignature":"QUJD"}
        ])
    );
}

#[test]
fn schema_sanitiser_handles_refs_unions_and_consts() {
    let s = json!({
        "$defs": {"Unit": {"type":"string","enum":["c","f"],"description":"unit"}},
        "type":"object","title":"Args",
        "properties": {
            "unit": {"$ref":"#/$defs/Unit","description":"which unit"},
            "when": {"anyOf":[{"type":"string","format":"date-time"},{"type":"null"}]},
            "mode": {"const":"fast"},
            "n": {"type":["integer","string"],"exclusiveMinimum":0},
            "tags": {"type":"array","items":{"type":"string","minLength":1,"examples":["x"]}},
            "both": {"allOf":[{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]},
                              {"properties":{"b":{"type":"number","format":"currency"}}}]},
            "self": {"$ref":"#/$defs/Loop"}
        },
        "required":["unit","nope"]
    });
    let mut root = s.clone();
    root["$defs"]["Loop"] = json!({"type":"object","properties":{"next":{"$ref":"#/$defs/Loop"}}});
    let out = schema::to_gemini(&root);
    assert_eq!(out["title"], json!("Args"));
    assert!(out.get("$defs").is_none());
    assert_eq!(
        out["properties"]["unit"],
        json!({"type":"string","enum":["c","f"],"description":"which unit"})
    );
    assert_eq!(
        out["properties"]["when"],
        json!({"type":"string","format":"date-time","nullable":true})
    );
    assert_eq!(
        out["properties"]["mode"],
        json!({"type":"string","enum":["fast"]})
    );
    assert_eq!(
        out["properties"]["n"],
        json!({"anyOf":[{"type":"integer","minimum":0},{"type":"string","minimum":0}]})
    );
    assert_eq!(
        out["properties"]["tags"],
        json!({"type":"array","items":{"type":"string","minLength":1}})
    );
    assert_eq!(
        out["properties"]["both"],
        json!({"type":"object","properties":{"a":{"type":"string"},"b":{"type":"number"}},"required":["a"]})
    );
    assert_eq!(out["required"], json!(["unit"]));
    // The recursive reference ends after a bounded depth.
    let text = out["properties"]["self"].to_string();
    assert!(text.contains("nesting too deep"), "{text}");
    assert!(schema::is_empty_object(
        &json!({"type":"object","properties":{}})
    ));
    assert!(!schema::is_empty_object(
        &json!({"type":"object","properties":{"a":{}}})
    ));
}

#[test]
fn embeddings_request_and_answer() {
    let texts = vec!["a".to_owned(), "bb".to_owned()];
    let a = adapter(Provider::Gemini);
    let out = a
        .embeddings_request(
            &EmbeddingsInput {
                texts: &texts,
                dimensions: Some(256),
            },
            &target(
                "text-embedding-004",
                "https://generativelanguage.googleapis.com",
                KEY,
            ),
        )
        .unwrap();
    assert_eq!(
        out.url,
        "https://generativelanguage.googleapis.com/v1beta/models/text-embedding-004:batchEmbedContents"
    );
    assert!(out.headers.contains(&("x-goog-api-key".into(), KEY.into())));
    let body: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(
        body,
        json!({"requests":[
            {"model":"models/text-embedding-004","content":{"parts":[{"text":"a"}]},"outputDimensionality":256},
            {"model":"models/text-embedding-004","content":{"parts":[{"text":"bb"}]},"outputDimensionality":256}
        ]})
    );
    let got = a
        .embeddings_response(bytes::Bytes::from_static(
            br#"{"embeddings":[{"values":[0.5,-0.25]},{"values":[1.0,0.0]}]}"#,
        ))
        .unwrap();
    assert_eq!(got.vectors, vec![vec![0.5, -0.25], vec![1.0, 0.0]]);
    assert_eq!(got.usage, None);
    let one = a
        .embeddings_response(bytes::Bytes::from_static(
            br#"{"embedding":{"values":[0.01]}}"#,
        ))
        .unwrap();
    assert_eq!(one.vectors, vec![vec![0.01]]);
    let err = a
        .embeddings_response(bytes::Bytes::from_static(
            br#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}"#,
        ))
        .unwrap_err();
    match err {
        ConvertError::Upstream(e) => assert_eq!(e.status, 429),
        other => panic!("{other:?}"),
    }
    let err = a
        .embeddings_request(
            &EmbeddingsInput {
                texts: &texts,
                dimensions: None,
            },
            &target("text-embedding-004", "https://x", "a|b"),
        )
        .unwrap_err();
    assert!(matches!(err, ConvertError::BadRequest { .. }));
}
