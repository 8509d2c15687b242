//! JSON Schema (OpenAI `function.parameters`, `response_format.json_schema.schema`) to Gemini's
//! `Schema`, a subset of OpenAPI 3.0.
//!
//! Gemini refuses any key it does not know ("Invalid JSON payload received. Unknown name …:
//! Cannot find field."), so only the documented keys are kept. The rest is rewritten where a
//! faithful form exists and dropped otherwise:
//! - `$ref` into `$defs`/`definitions` is inlined (a recursive reference ends as a string
//!   described as JSON, after [`MAX_DEPTH`] levels);
//! - `type: [T, "null"]` becomes `type: T, nullable: true`; several non-null types an `anyOf`;
//! - `anyOf`/`oneOf` with a `{"type":"null"}` branch become `nullable`; a single remaining
//!   branch is merged into its parent; `allOf` branches are merged;
//! - `const: "x"` becomes `enum: ["x"]`; enums of non-strings are dropped (Gemini enums are
//!   strings);
//! - `format` is kept only where Gemini accepts it (`enum`, `date-time`, `float`, `double`,
//!   `int32`, `int64`);
//! - `required` keeps only names that are properties.

use serde_json::{Map, Value};

/// Keys of Gemini's `Schema`.
const KEPT: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
];

/// Formats Gemini accepts.
const FORMATS: &[&str] = &["enum", "date-time", "float", "double", "int32", "int64"];

/// Nesting (and `$ref` expansion) limit.
const MAX_DEPTH: usize = 24;

/// Converts a whole schema; `root` is where `$defs`/`definitions` are looked up.
pub(crate) fn to_gemini(schema: &Value) -> Value {
    convert(schema, schema, 0)
}

/// True when the converted schema is an object without properties (Gemini refuses those as
/// function parameters: "should be non-empty for OBJECT type").
pub(crate) fn is_empty_object(schema: &Value) -> bool {
    let is_object = schema
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("object"));
    let no_props = schema
        .get("properties")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty);
    is_object && no_props && schema.get("anyOf").is_none()
}

fn json_string() -> Value {
    let mut m = Map::new();
    m.insert("type".into(), Value::from("string"));
    m.insert(
        "description".into(),
        Value::from("a JSON value (nesting too deep to describe)"),
    );
    Value::Object(m)
}

fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let path = reference.strip_prefix("#/")?;
    let mut cur = root;
    for seg in path.split('/') {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        cur = cur.get(seg.as_str())?;
    }
    Some(cur)
}

fn convert(schema: &Value, root: &Value, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return json_string();
    }
    let Some(obj) = schema.as_object() else {
        // `true`/`false`/garbage: an unconstrained value.
        return Value::Object(Map::new());
    };
    if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
        let target = resolve(root, r)
            .cloned()
            .unwrap_or(Value::Object(Map::new()));
        let mut merged = convert(&target, root, depth + 1);
        // Siblings of `$ref` (a description, usually) win over the target's.
        if let (Some(m), Some(d)) = (
            merged.as_object_mut(),
            obj.get("description").and_then(Value::as_str),
        ) {
            m.insert("description".into(), Value::from(d));
        }
        return merged;
    }
    let mut out = Map::new();
    let mut nullable = obj.get("nullable").and_then(Value::as_bool) == Some(true);

    // `type`, possibly an array.
    match obj.get("type") {
        Some(Value::String(t)) if t == "null" => nullable = true,
        Some(Value::String(t)) => {
            out.insert("type".into(), Value::from(t.as_str()));
        }
        Some(Value::Array(types)) => {
            let named: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
            nullable |= named.contains(&"null");
            let real: Vec<&str> = named.into_iter().filter(|t| *t != "null").collect();
            match real.as_slice() {
                [] => {}
                [one] => {
                    out.insert("type".into(), Value::from(*one));
                }
                many => {
                    let mut branches = Vec::new();
                    for t in many {
                        let mut copy = obj.clone();
                        copy.insert("type".into(), Value::from(*t));
                        branches.push(convert(&Value::Object(copy), root, depth + 1));
                    }
                    let mut m = Map::new();
                    m.insert("anyOf".into(), Value::Array(branches));
                    if nullable {
                        m.insert("nullable".into(), Value::Bool(true));
                    }
                    return Value::Object(m);
                }
            }
        }
        _ => {}
    }

    // Composition.
    let mut branches: Vec<Value> = Vec::new();
    for key in ["anyOf", "oneOf"] {
        if let Some(list) = obj.get(key).and_then(Value::as_array) {
            for b in list {
                if b.get("type").and_then(Value::as_str) == Some("null")
                    && b.as_object().is_some_and(|m| m.len() == 1)
                {
                    nullable = true;
                } else {
                    branches.push(convert(b, root, depth + 1));
                }
            }
        }
    }
    if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
        for b in all {
            merge_into(&mut out, convert(b, root, depth + 1));
        }
    }
    match branches.len() {
        0 => {}
        1 => {
            if let Some(Value::Object(single)) = branches.pop() {
                merge_into(&mut out, Value::Object(single));
            }
        }
        _ => {
            out.insert("anyOf".into(), Value::Array(branches));
        }
    }

    // Plain keys.
    for (k, v) in obj {
        match k.as_str() {
            "type" | "anyOf" | "oneOf" | "allOf" | "nullable" => {}
            "properties" => {
                if let Some(props) = v.as_object() {
                    let mut converted = Map::new();
                    for (name, p) in props {
                        converted.insert(name.clone(), convert(p, root, depth + 1));
                    }
                    out.insert("properties".into(), Value::Object(converted));
                }
            }
            "items" => {
                let item = match v {
                    Value::Array(list) => {
                        list.first().cloned().unwrap_or(Value::Object(Map::new()))
                    }
                    other => other.clone(),
                };
                out.insert("items".into(), convert(&item, root, depth + 1));
            }
            "enum" => {
                if let Some(list) = v.as_array()
                    && !list.is_empty()
                    && list.iter().all(Value::is_string)
                {
                    out.insert("enum".into(), v.clone());
                }
            }
            "const" if v.is_string() => {
                out.insert("enum".into(), Value::Array(vec![v.clone()]));
            }
            "format" if v.as_str().is_some_and(|f| FORMATS.contains(&f)) => {
                out.insert("format".into(), v.clone());
            }
            "const" | "format" => {}
            "exclusiveMinimum" if v.is_number() => {
                out.entry("minimum").or_insert_with(|| v.clone());
            }
            "exclusiveMaximum" if v.is_number() => {
                out.entry("maximum").or_insert_with(|| v.clone());
            }
            "required" => {}
            other if KEPT.contains(&other) => {
                out.insert(other.to_owned(), v.clone());
            }
            _ => {}
        }
    }
    let mut wanted: Vec<Value> = match out.remove("required") {
        Some(Value::Array(list)) => list,
        _ => Vec::new(),
    };
    for r in obj
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if !wanted.contains(r) {
            wanted.push(r.clone());
        }
    }
    let props = out.get("properties").and_then(Value::as_object);
    let kept: Vec<Value> = wanted
        .into_iter()
        .filter(|r| {
            r.as_str()
                .is_some_and(|n| props.is_some_and(|p| p.contains_key(n)))
        })
        .collect();
    if !kept.is_empty() {
        out.insert("required".into(), Value::Array(kept));
    }
    if out.get("enum").is_some() && out.get("type").is_none() {
        out.insert("type".into(), Value::from("string"));
    }
    if nullable {
        out.insert("nullable".into(), Value::Bool(true));
    }
    Value::Object(out)
}

/// Merges a converted branch into `out` (properties and required lists are united).
fn merge_into(out: &mut Map<String, Value>, branch: Value) {
    let Value::Object(b) = branch else { return };
    for (k, v) in b {
        match (k.as_str(), out.get_mut(&k)) {
            ("properties", Some(Value::Object(existing))) => {
                if let Value::Object(more) = v {
                    existing.extend(more);
                }
            }
            ("required", Some(Value::Array(existing))) => {
                if let Value::Array(more) = v {
                    for r in more {
                        if !existing.contains(&r) {
                            existing.push(r);
                        }
                    }
                }
            }
            (_, Some(_)) => {}
            (_, None) => {
                out.insert(k, v);
            }
        }
    }
}
