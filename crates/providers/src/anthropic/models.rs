//! Claude model names: the aliases the gateway rewrites, the documented output-token ceilings
//! (Anthropic refuses `max_tokens` above them with a 400), and the models that refuse
//! `temperature` together with `top_p`.
//!
//! Sources are listed in `docs/providers/anthropic.md`. A model not in the table gets no ceiling
//! (the client's `max_tokens` passes through unchanged) and the conservative default.

/// `max_tokens` sent when the client gave none, before the model's ceiling is applied.
pub(crate) const DEFAULT_MAX_TOKENS: u64 = 8192;

/// `max_tokens` sent for a model not in [`CEILINGS`] when the client gave none: 4096 is the
/// lowest ceiling of any Claude model, so it is accepted everywhere.
pub(crate) const UNKNOWN_MODEL_MAX_TOKENS: u64 = 4096;

/// Names the gateway accepts that Anthropic does not know, and what is sent instead.
const ALIASES: &[(&str, &str)] = &[
    // The seed configuration's spelling; Claude 3 Haiku was only ever released as 20240307.
    ("claude-3-haiku-20240229", "claude-3-haiku-20240307"),
];

/// Documented maximum output tokens per model family (longest matching prefix wins).
const CEILINGS: &[(&str, u64)] = &[
    ("claude-instant-1", 4096),
    ("claude-2", 4096),
    ("claude-3-haiku", 4096),
    ("claude-3-sonnet", 4096),
    ("claude-3-opus", 4096),
    ("claude-3-5-sonnet", 8192),
    ("claude-3-5-haiku", 8192),
    ("claude-3-7-sonnet", 64_000),
    ("claude-sonnet-4-0", 64_000),
    ("claude-sonnet-4-2025", 64_000),
    ("claude-opus-4-0", 32_000),
    ("claude-opus-4-2025", 32_000),
    ("claude-opus-4-1", 32_000),
    ("claude-sonnet-4-5", 64_000),
    ("claude-haiku-4-5", 64_000),
];

/// Families that answer 400 "`temperature` and `top_p` cannot both be specified for this
/// model" (Opus 4.1 and the 4.5 generation).
const ONE_SAMPLER: &[&str] = &["claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5"];

/// The model name Anthropic knows for `model`.
pub(crate) fn upstream_name(model: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == model)
        .map_or(model, |(_, real)| real)
}

/// The documented output ceiling of `model`, if it is a known family.
pub(crate) fn output_ceiling(model: &str) -> Option<u64> {
    CEILINGS
        .iter()
        .filter(|(prefix, _)| model.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, limit)| *limit)
}

/// The `max_tokens` to send: the client's value capped at the ceiling, or the default.
pub(crate) fn max_tokens(model: &str, requested: Option<u64>) -> u64 {
    match (requested, output_ceiling(model)) {
        (Some(n), Some(cap)) => n.clamp(1, cap),
        (Some(n), None) => n.max(1),
        (None, Some(cap)) => DEFAULT_MAX_TOKENS.min(cap),
        (None, None) => UNKNOWN_MODEL_MAX_TOKENS,
    }
}

/// True when `model` refuses `temperature` and `top_p` in the same request.
pub(crate) fn one_sampler_only(model: &str) -> bool {
    ONE_SAMPLER.iter().any(|p| model.starts_with(p))
}
