//! Field-level checks of request bodies, as Google's proto-JSON parser does them: every key must
//! be a known field in camelCase or its snake_case spelling, and every value of the right JSON
//! type. The first violation is answered with Google's wording and a `BadRequest` field
//! violation, with the path written the way Google writes it (`contents[0].parts[1].inline_data`,
//! map entries as `properties[2].value`).

use axum::response::Response;
use serde_json::Value;

use super::errors;

/// A field of a message: its camelCase name and its kind.
pub(crate) struct Field(pub(crate) &'static str, pub(crate) Kind);

/// What a value must be.
pub(crate) enum Kind {
    /// A message with these fields.
    Obj(&'static [Field]),
    /// A repeated field.
    Arr(&'static Kind),
    Str,
    Num,
    Int,
    Bool,
    /// `google.protobuf.Struct`: any JSON object.
    Struct,
    /// Anything (`google.protobuf.Value`).
    Any,
    /// Gemini's OpenAPI-subset `Schema`.
    Schema,
    /// Another message kind, defined elsewhere.
    Ref(&'static Kind),
}

static STR: Kind = Kind::Str;
static SCHEMA: Kind = Kind::Schema;
static PART: Kind = Kind::Obj(&[
    Field("text", Kind::Str),
    Field(
        "inlineData",
        Kind::Obj(&[Field("mimeType", Kind::Str), Field("data", Kind::Str)]),
    ),
    Field(
        "fileData",
        Kind::Obj(&[Field("mimeType", Kind::Str), Field("fileUri", Kind::Str)]),
    ),
    Field(
        "functionCall",
        Kind::Obj(&[
            Field("id", Kind::Str),
            Field("name", Kind::Str),
            Field("args", Kind::Struct),
        ]),
    ),
    Field(
        "functionResponse",
        Kind::Obj(&[
            Field("id", Kind::Str),
            Field("name", Kind::Str),
            Field("response", Kind::Struct),
            Field("willContinue", Kind::Bool),
            Field("scheduling", Kind::Str),
        ]),
    ),
    Field(
        "executableCode",
        Kind::Obj(&[Field("language", Kind::Str), Field("code", Kind::Str)]),
    ),
    Field(
        "codeExecutionResult",
        Kind::Obj(&[Field("outcome", Kind::Str), Field("output", Kind::Str)]),
    ),
    Field("thought", Kind::Bool),
    Field("thoughtSignature", Kind::Str),
    Field("videoMetadata", Kind::Any),
]);
static CONTENT: Kind = Kind::Obj(&[Field("role", Kind::Str), Field("parts", Kind::Arr(&PART))]);
static FUNCTION_DECLARATION: Kind = Kind::Obj(&[
    Field("name", Kind::Str),
    Field("description", Kind::Str),
    Field("parameters", Kind::Schema),
    Field("parametersJsonSchema", Kind::Any),
    Field("response", Kind::Schema),
    Field("responseJsonSchema", Kind::Any),
    Field("behavior", Kind::Str),
]);
static TOOL: Kind = Kind::Obj(&[
    Field("functionDeclarations", Kind::Arr(&FUNCTION_DECLARATION)),
    Field("googleSearchRetrieval", Kind::Any),
    Field("codeExecution", Kind::Struct),
    Field("googleSearch", Kind::Struct),
    Field("urlContext", Kind::Struct),
]);
static SAFETY_SETTING: Kind =
    Kind::Obj(&[Field("category", Kind::Str), Field("threshold", Kind::Str)]);
static GENERATION_CONFIG: Kind = Kind::Obj(&[
    Field("stopSequences", Kind::Arr(&STR)),
    Field("responseMimeType", Kind::Str),
    Field("responseSchema", Kind::Schema),
    Field("responseJsonSchema", Kind::Any),
    Field("responseModalities", Kind::Arr(&STR)),
    Field("candidateCount", Kind::Int),
    Field("maxOutputTokens", Kind::Int),
    Field("temperature", Kind::Num),
    Field("topP", Kind::Num),
    Field("topK", Kind::Num),
    Field("seed", Kind::Int),
    Field("presencePenalty", Kind::Num),
    Field("frequencyPenalty", Kind::Num),
    Field("responseLogprobs", Kind::Bool),
    Field("logprobs", Kind::Int),
    Field("enableEnhancedCivicAnswers", Kind::Bool),
    Field("speechConfig", Kind::Any),
    Field(
        "thinkingConfig",
        Kind::Obj(&[
            Field("includeThoughts", Kind::Bool),
            Field("thinkingBudget", Kind::Int),
            Field("thinkingLevel", Kind::Str),
        ]),
    ),
    Field("mediaResolution", Kind::Str),
]);

/// `GenerateContentRequest` (also the body of `countTokens`).
pub(crate) static GENERATE_REQUEST: Kind = Kind::Obj(&[
    Field("model", Kind::Str),
    Field("contents", Kind::Arr(&CONTENT)),
    Field("systemInstruction", Kind::Ref(&CONTENT)),
    Field("tools", Kind::Arr(&TOOL)),
    Field(
        "toolConfig",
        Kind::Obj(&[
            Field(
                "functionCallingConfig",
                Kind::Obj(&[
                    Field("mode", Kind::Str),
                    Field("allowedFunctionNames", Kind::Arr(&STR)),
                ]),
            ),
            Field("retrievalConfig", Kind::Any),
        ]),
    ),
    Field("safetySettings", Kind::Arr(&SAFETY_SETTING)),
    Field("generationConfig", Kind::Ref(&GENERATION_CONFIG)),
    Field("cachedContent", Kind::Str),
]);

static EMBED_REQUEST: Kind = Kind::Obj(&[
    Field("model", Kind::Str),
    Field("content", Kind::Ref(&CONTENT)),
    Field("taskType", Kind::Str),
    Field("title", Kind::Str),
    Field("outputDimensionality", Kind::Int),
]);

/// `EmbedContentRequest`.
pub(crate) static EMBED: &Kind = &EMBED_REQUEST;
/// `BatchEmbedContentsRequest`.
pub(crate) static BATCH_EMBED: Kind = Kind::Obj(&[Field("requests", Kind::Arr(&EMBED_REQUEST))]);

/// Keys of `Schema` and their kinds.
static SCHEMA_FIELDS: &[Field] = &[
    Field("type", Kind::Str),
    Field("format", Kind::Str),
    Field("title", Kind::Str),
    Field("description", Kind::Str),
    Field("nullable", Kind::Bool),
    Field("enum", Kind::Arr(&STR)),
    Field("maxItems", Kind::Int),
    Field("minItems", Kind::Int),
    Field("properties", Kind::Any),
    Field("required", Kind::Arr(&STR)),
    Field("minProperties", Kind::Int),
    Field("maxProperties", Kind::Int),
    Field("minLength", Kind::Int),
    Field("maxLength", Kind::Int),
    Field("pattern", Kind::Str),
    Field("example", Kind::Any),
    Field("anyOf", Kind::Arr(&SCHEMA)),
    Field("propertyOrdering", Kind::Arr(&STR)),
    Field("default", Kind::Any),
    Field("items", Kind::Schema),
    Field("minimum", Kind::Num),
    Field("maximum", Kind::Num),
];

/// `camelCase` to `snake_case`.
pub(crate) fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Reads field `name` of `obj` in either spelling.
pub(crate) fn get<'a>(obj: &'a Value, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| obj.get(snake(name).as_str()))
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

fn type_error(path: &str, kind: &str, v: &Value) -> Box<Response> {
    Box::new(errors::bad_request(
        Some(path),
        &format!("Invalid value at '{path}' ({kind}), {v}"),
    ))
}

fn fields(
    obj: &serde_json::Map<String, Value>,
    table: &[Field],
    path: &str,
) -> Result<(), Box<Response>> {
    for (k, v) in obj {
        let Some(field) = table.iter().find(|f| f.0 == k || snake(f.0) == *k) else {
            let at = if path.is_empty() {
                String::new()
            } else {
                format!(" at '{path}'")
            };
            return Err(Box::new(errors::bad_request(
                (!path.is_empty()).then_some(path),
                &format!(
                    "Invalid JSON payload received. Unknown name \"{k}\"{at}: Cannot find field."
                ),
            )));
        };
        check(v, &field.1, &join(path, &snake(field.0)))?;
    }
    Ok(())
}

/// Checks `v` against `kind`; `path` is where `v` sits.
pub(crate) fn check(v: &Value, kind: &Kind, path: &str) -> Result<(), Box<Response>> {
    match kind {
        Kind::Any => Ok(()),
        Kind::Ref(inner) => check(v, inner, path),
        Kind::Str if v.is_string() => Ok(()),
        Kind::Str => Err(type_error(path, "TYPE_STRING", v)),
        Kind::Num if v.is_number() => Ok(()),
        Kind::Num => Err(type_error(path, "TYPE_FLOAT", v)),
        Kind::Int if v.as_f64().is_some_and(|f| f.fract() == 0.0) => Ok(()),
        Kind::Int => Err(type_error(path, "TYPE_INT32", v)),
        Kind::Bool if v.is_boolean() => Ok(()),
        Kind::Bool => Err(type_error(path, "TYPE_BOOL", v)),
        Kind::Struct if v.is_object() => Ok(()),
        Kind::Struct => Err(type_error(
            path,
            "type.googleapis.com/google.protobuf.Struct",
            v,
        )),
        Kind::Arr(inner) => match v.as_array() {
            Some(list) => {
                for (i, item) in list.iter().enumerate() {
                    check(item, inner, &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            None => Err(type_error(path, "TYPE_MESSAGE, repeated", v)),
        },
        Kind::Obj(table) => match v.as_object() {
            Some(obj) => fields(obj, table, path),
            None => Err(type_error(path, "TYPE_MESSAGE", v)),
        },
        Kind::Schema => {
            let Some(obj) = v.as_object() else {
                return Err(type_error(path, "TYPE_MESSAGE", v));
            };
            fields(obj, SCHEMA_FIELDS, path)?;
            if let Some(props) = get(v, "properties") {
                let Some(map) = props.as_object() else {
                    return Err(type_error(
                        &join(path, "properties"),
                        "TYPE_MESSAGE, map",
                        props,
                    ));
                };
                for (i, p) in map.values().enumerate() {
                    check(
                        p,
                        &Kind::Schema,
                        &join(path, &format!("properties[{i}].value")),
                    )?;
                }
            }
            Ok(())
        }
    }
}
