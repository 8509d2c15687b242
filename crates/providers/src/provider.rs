//! The closed set of provider kinds a channel can be, with their defaults.

use std::fmt;
use std::str::FromStr;

/// A provider kind, as written in a channel's `provider =`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// OpenAI itself.
    OpenAi,
    /// Any server speaking the OpenAI dialect (vLLM, Ollama, llama.cpp, DeepSeek…).
    OpenAiCompatible,
    /// Moonshot (Kimi): OpenAI dialect, usage inside `choices[0]` in streams.
    Moonshot,
    /// StepFun: OpenAI dialect, cumulative usage in every stream chunk.
    StepFun,
    /// Alibaba DashScope native API (Qwen).
    DashScope,
    /// Baidu Qianfan v1 `wenxinworkshop` with an OAuth access token (ERNIE).
    Qianfan,
    /// Baidu Qianfan v2, OpenAI-shaped (ERNIE).
    QianfanV2,
    /// Zhipu GLM v4 (JWT) and the legacy v3 model API.
    Zhipu,
    /// Tencent Hunyuan, Cloud API 3.0 with TC3-HMAC-SHA256.
    Hunyuan,
    /// iFlytek Spark over its signed WebSocket.
    Spark,
    /// Anthropic Messages API (Claude).
    Anthropic,
    /// Google Gemini API.
    Gemini,
}

impl Provider {
    /// Every kind, for listings and validation messages.
    pub const ALL: [Provider; 12] = [
        Provider::OpenAi,
        Provider::OpenAiCompatible,
        Provider::Moonshot,
        Provider::StepFun,
        Provider::DashScope,
        Provider::Qianfan,
        Provider::QianfanV2,
        Provider::Zhipu,
        Provider::Hunyuan,
        Provider::Spark,
        Provider::Anthropic,
        Provider::Gemini,
    ];

    /// True for providers that speak the OpenAI dialect natively (requests pass through).
    pub fn is_openai_dialect(self) -> bool {
        matches!(
            self,
            Self::OpenAi | Self::OpenAiCompatible | Self::Moonshot | Self::StepFun
        )
    }

    /// True for providers that take images only inline: the gateway fetches http(s) image URLs
    /// (under its address guard) and hands the adapter `data:` URLs.
    pub fn needs_inline_images(self) -> bool {
        matches!(self, Self::Anthropic | Self::Gemini)
    }

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::OpenAiCompatible => "openai-compatible",
            Self::Moonshot => "moonshot",
            Self::StepFun => "stepfun",
            Self::DashScope => "dashscope",
            Self::Qianfan => "qianfan",
            Self::QianfanV2 => "qianfan-v2",
            Self::Zhipu => "zhipu",
            Self::Hunyuan => "hunyuan",
            Self::Spark => "spark",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
        }
    }

    /// The base URL used when a channel gives none.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            Self::OpenAi => Some("https://api.openai.com/v1"),
            Self::OpenAiCompatible => None,
            Self::Moonshot => Some("https://api.moonshot.cn/v1"),
            Self::StepFun => Some("https://api.stepfun.com/v1"),
            Self::DashScope => Some("https://dashscope.aliyuncs.com/api/v1"),
            Self::Qianfan => Some("https://aip.baidubce.com"),
            Self::QianfanV2 => Some("https://qianfan.baidubce.com/v2"),
            Self::Zhipu => Some("https://open.bigmodel.cn"),
            Self::Hunyuan => Some("https://hunyuan.tencentcloudapi.com"),
            Self::Spark => Some("wss://spark-api.xf-yun.com"),
            Self::Anthropic => Some("https://api.anthropic.com"),
            Self::Gemini => Some("https://generativelanguage.googleapis.com"),
        }
    }

    /// Models a channel of this kind serves when its `models` list is empty.
    pub fn default_models(self) -> &'static [&'static str] {
        match self {
            Self::OpenAi => &[
                "gpt-3.5-turbo",
                "gpt-3.5-turbo-16k",
                "gpt-4",
                "gpt-4-32k",
                "gpt-4-turbo",
                "gpt-4o",
                "gpt-4o-mini",
                "text-embedding-ada-002",
                "text-embedding-3-small",
                "text-embedding-3-large",
            ],
            Self::OpenAiCompatible => &[],
            Self::Moonshot => &["moonshot-v1-8k", "moonshot-v1-32k", "moonshot-v1-128k"],
            Self::StepFun => &[
                "step-1-8k",
                "step-1-32k",
                "step-1-128k",
                "step-1-256k",
                "step-1-flash",
                "step-2-16k",
                "step-1v-8k",
                "step-1v-32k",
            ],
            Self::DashScope => crate::dashscope::DEFAULT_MODELS,
            Self::Qianfan => crate::qianfan::DEFAULT_MODELS,
            Self::QianfanV2 => crate::qianfan::DEFAULT_MODELS_V2,
            Self::Zhipu => crate::zhipu::DEFAULT_MODELS,
            Self::Hunyuan => crate::hunyuan::DEFAULT_MODELS,
            Self::Spark => crate::spark::DEFAULT_MODELS,
            Self::Anthropic => crate::anthropic::DEFAULT_MODELS,
            Self::Gemini => crate::gemini::DEFAULT_MODELS,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|p| p.as_str()).collect();
                format!("unknown provider `{s}` (known: {})", known.join(", "))
            })
    }
}
