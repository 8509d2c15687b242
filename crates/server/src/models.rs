//! `GET /v1/models` and `GET /v1/models/{model}`: what the caller's key may use.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

/// A fixed creation time for listed models (the gateway does not know the upstream's).
const CREATED: u64 = 1_700_000_000;

fn model_object(id: &str, owned_by: &str) -> Value {
    json!({"id": id, "object": "model", "created": CREATED, "owned_by": owned_by})
}

fn owner(state: &AppState, model: &str) -> String {
    let routes = state.routes();
    routes
        .candidates(model, 0, &mut rand::rng())
        .first()
        .map_or_else(
            || "switchyard".to_owned(),
            |c| c.provider.as_str().to_owned(),
        )
}

/// Lists models served by some channel and allowed for the key.
pub(crate) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let key = crate::auth::client_key(&state, &headers, None).await?;
    let routes = state.routes();
    let data: Vec<Value> = routes
        .models()
        .iter()
        .filter(|m| {
            key.models
                .as_ref()
                .is_none_or(|allowed| allowed.contains(m))
        })
        .map(|m| model_object(m, &owner(&state, m)))
        .collect();
    Ok(Json(json!({"object": "list", "data": data})))
}

/// One model, or 404.
pub(crate) async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(model): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let key = crate::auth::client_key(&state, &headers, None).await?;
    let allowed = key.models.as_ref().is_none_or(|a| a.contains(&model));
    if !allowed || !state.routes().serves(&model) {
        return Err(ApiError::model_not_found(&model));
    }
    Ok(Json(model_object(&model, &owner(&state, &model))))
}
