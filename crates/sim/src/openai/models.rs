//! `GET /v1/models` and `GET /v1/models/{model}`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::errors::{model_not_found, raw_json_response};
use super::{App, check_auth};

/// `created` of every listed model (a fixed, plausible timestamp).
const MODEL_CREATED: u64 = 1_686_935_002;

fn model_object(app: &App, id: &str) -> Value {
    json!({
        "id": id,
        "object": "model",
        "created": MODEL_CREATED,
        "owned_by": app.cfg.flavor.owner(),
    })
}

fn model_ids(app: &App) -> Vec<String> {
    if app.cfg.models.is_empty() {
        app.cfg
            .flavor
            .default_models()
            .iter()
            .map(|m| (*m).to_owned())
            .collect()
    } else {
        app.cfg.models.clone()
    }
}

/// `{object:"list", data:[{id, object:"model", created, owned_by}]}`.
pub(super) async fn list_models(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Err(resp) = check_auth(&app, &headers) {
        return *resp;
    }
    let data: Vec<Value> = model_ids(&app)
        .iter()
        .map(|id| model_object(&app, id))
        .collect();
    let body = json!({"object": "list", "data": data});
    raw_json_response(StatusCode::OK, body.to_string())
}

/// One model, or the flavour's 404 when the config lists models and this is not one of them.
pub(super) async fn get_model(
    State(app): State<App>,
    Path(model): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(resp) = check_auth(&app, &headers) {
        return *resp;
    }
    if !app.cfg.knows_model(&model) {
        return model_not_found(app.cfg.flavor, &model);
    }
    raw_json_response(StatusCode::OK, model_object(&app, &model).to_string())
}
