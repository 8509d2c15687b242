//! Model names and the `wenxinworkshop` endpoint each one is served at.
//!
//! Qianfan v1 has no `model` field: the model is the last path segment of the URL
//! (`…/wenxinworkshop/chat/<endpoint>`). The table follows the official SDK's preset list
//! (`qianfan/resources/llm/chat_completion.py`, including its aliases and deprecated names) and
//! `embedding.py`; see `docs/providers/qianfan.md`. Lookups ignore ASCII case. A name not in the
//! table is taken as the endpoint of a custom deployed service, lower-cased (one-api does the
//! same), as long as it is a plausible path segment.

/// `(model, chat endpoint)`, the default models first.
const CHAT: &[(&str, &str)] = &[
    ("ERNIE-4.0-8K", "completions_pro"),
    ("ERNIE-4.0-Turbo-8K", "ernie-4.0-turbo-8k"),
    ("ERNIE-3.5-8K", "completions"),
    ("ERNIE-3.5-128K", "ernie-3.5-128k"),
    ("ERNIE-Speed-8K", "ernie_speed"),
    ("ERNIE-Speed-128K", "ernie-speed-128k"),
    ("ERNIE-Speed-Pro-128K", "ernie-speed-pro-128k"),
    ("ERNIE-Lite-8K", "ernie-lite-8k"),
    ("ERNIE-Lite-8K-0922", "eb-instant"),
    ("ERNIE-Tiny-8K", "ernie-tiny-8k"),
    ("ERNIE-Character-8K", "ernie-char-8k"),
    ("ERNIE-Bot-4", "completions_pro"),
    ("ERNIE-Bot", "completions"),
    ("ERNIE-Bot-turbo", "eb-instant"),
    ("ERNIE-Bot-8K", "ernie_bot_8k"),
    // Aliases and other presets (not routed by default).
    ("ERNIE-4.0", "completions_pro"),
    ("ERNIE-Speed", "ernie_speed"),
    ("ERNIE 3.5", "completions"),
    ("ERNIE-Lite-8K-0308", "ernie-lite-8k"),
    ("ERNIE-Speed-Pro-8K", "ernie-speed-pro-8k"),
    ("ERNIE-Function-8K", "ernie-func-8k"),
    ("ERNIE-Functions-8K", "ernie-func-8k"),
    ("ERNIE-4.0-8K-Preview-0518", "completions_adv_pro"),
    ("ERNIE-4.0-preemptible", "completions_pro_preemptible"),
    ("ERNIE-3.5-8K-preemptible", "completions_preemptible"),
    ("BLOOMZ-7B", "bloomz_7b1"),
    ("Llama-2-7B-Chat", "llama_2_7b"),
    ("Llama-2-13B-Chat", "llama_2_13b"),
    ("Llama-2-70B-Chat", "llama_2_70b"),
    ("Meta-Llama-3-8B", "llama_3_8b"),
    ("Meta-Llama-3-70B", "llama_3_70b"),
];

/// Number of leading [`CHAT`] entries that are default models.
const DEFAULT_CHAT: usize = 15;

/// `(model, embeddings endpoint, batch limit, vector dimensions)`.
///
/// Batch limits from Baidu's "千帆大模型输入输出长度统一规范" page (16, tao-8k only 1);
/// dimensions: Embedding-V1 384, the others 1024.
const EMBEDDINGS: &[(&str, &str, usize, u64)] = &[
    ("Embedding-V1", "embedding-v1", 16, 384),
    ("bge-large-zh", "bge_large_zh", 16, 1024),
    ("bge-large-en", "bge_large_en", 16, 1024),
    ("tao-8k", "tao_8k", 1, 1024),
];

/// Models routed to Qianfan v1 by default: the chat models, then the embedding models.
pub const DEFAULT_MODELS: &[&str] = &[
    "ERNIE-4.0-8K",
    "ERNIE-4.0-Turbo-8K",
    "ERNIE-3.5-8K",
    "ERNIE-3.5-128K",
    "ERNIE-Speed-8K",
    "ERNIE-Speed-128K",
    "ERNIE-Speed-Pro-128K",
    "ERNIE-Lite-8K",
    "ERNIE-Lite-8K-0922",
    "ERNIE-Tiny-8K",
    "ERNIE-Character-8K",
    "ERNIE-Bot-4",
    "ERNIE-Bot",
    "ERNIE-Bot-turbo",
    "ERNIE-Bot-8K",
    "Embedding-V1",
    "bge-large-zh",
    "bge-large-en",
    "tao-8k",
];

/// Models routed to Qianfan v2 by default (its lower-case model ids).
pub const DEFAULT_MODELS_V2: &[&str] = &[
    "ernie-4.0-8k",
    "ernie-4.0-turbo-8k",
    "ernie-3.5-8k",
    "ernie-3.5-128k",
    "ernie-speed-8k",
    "ernie-speed-128k",
    "ernie-lite-8k",
    "ernie-tiny-8k",
    "ernie-char-8k",
];

/// The default chat models of v1 (without the embedding models).
pub fn default_chat_models() -> impl Iterator<Item = &'static str> {
    CHAT[..DEFAULT_CHAT].iter().map(|(m, _)| *m)
}

/// Whether `model` names an embeddings model.
pub fn is_embedding_model(model: &str) -> bool {
    embedding(model).is_some()
}

/// `(endpoint, batch limit, dimensions)` of an embeddings model.
pub(super) fn embedding(model: &str) -> Option<(&'static str, usize, u64)> {
    EMBEDDINGS
        .iter()
        .find(|(m, ep, _, _)| m.eq_ignore_ascii_case(model) || ep.eq_ignore_ascii_case(model))
        .map(|(_, ep, batch, dims)| (*ep, *batch, *dims))
}

/// The chat endpoint of `model`: from the table, or the lower-cased name of a custom service.
/// `None` when the name cannot be a path segment.
pub fn chat_endpoint(model: &str) -> Option<String> {
    if let Some((_, ep)) = CHAT.iter().find(|(m, _)| m.eq_ignore_ascii_case(model)) {
        return Some((*ep).to_owned());
    }
    let plausible = !model.is_empty()
        && model.len() <= 128
        && model
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !model.starts_with('.');
    plausible.then(|| model.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_list_matches_the_table() {
        let chat: Vec<&str> = default_chat_models().collect();
        assert_eq!(&DEFAULT_MODELS[..DEFAULT_CHAT], chat.as_slice());
        let emb: Vec<&str> = EMBEDDINGS.iter().map(|e| e.0).collect();
        assert_eq!(&DEFAULT_MODELS[DEFAULT_CHAT..], emb.as_slice());
    }

    #[test]
    fn endpoints_from_the_sdk_table() {
        for (model, ep) in [
            ("ERNIE-4.0-8K", "completions_pro"),
            ("ernie-bot-4", "completions_pro"),
            ("ERNIE-Bot", "completions"),
            ("ERNIE-Bot-turbo", "eb-instant"),
            ("ERNIE-Speed-8K", "ernie_speed"),
            ("ERNIE-Lite-8K", "ernie-lite-8k"),
            ("ERNIE-4.0-8K-Latest", "ernie-4.0-8k-latest"),
            ("my_Custom-svc", "my_custom-svc"),
        ] {
            assert_eq!(chat_endpoint(model).as_deref(), Some(ep), "{model}");
        }
        assert_eq!(chat_endpoint("../x"), None);
        assert_eq!(chat_endpoint("a b"), None);
        assert_eq!(embedding("embedding-v1"), Some(("embedding-v1", 16, 384)));
        assert_eq!(embedding("tao-8k"), Some(("tao_8k", 1, 1024)));
        assert!(!is_embedding_model("ERNIE-Bot"));
    }
}
