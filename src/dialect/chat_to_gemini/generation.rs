//! The OpenAI sampling and output fields as Gemini's `generationConfig`
//! (the choices are in the parent module's doc).

use super::{RequestOptions, MAX_STOP};
use crate::dialect::gemini::parameters_schema;
use serde_json::{json, Map, Value};

/// The `generationConfig`; empty when the client set nothing Gemini takes.
pub(super) fn config(req: &Map<String, Value>, opts: &RequestOptions) -> Map<String, Value> {
    let mut config = Map::new();
    let asked = req
        .get("max_completion_tokens")
        .or_else(|| req.get("max_tokens"))
        .and_then(Value::as_u64);
    if let Some(max) = max_output_tokens(asked, opts.max_output_tokens) {
        config.insert("maxOutputTokens".into(), max.into());
    }
    let numbers = [
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ];
    for (from, to) in numbers {
        if let Some(n) = req.get(from).filter(|n| n.is_number()) {
            config.insert(to.into(), n.clone());
        }
    }
    if let Some(seed) = req.get("seed").filter(|s| s.is_i64() || s.is_u64()) {
        config.insert("seed".into(), seed.clone());
    }
    if req.get("n").and_then(Value::as_u64) == Some(1) {
        config.insert("candidateCount".into(), 1.into());
    }
    if let Some(stop) = stop_sequences(req.get("stop")) {
        config.insert("stopSequences".into(), stop.into());
    }
    response_format(req.get("response_format"), &mut config);
    let effort = req.get("reasoning_effort").and_then(Value::as_str);
    if let Some(thinking) = effort
        .filter(|_| opts.reasoning)
        .and_then(|e| thinking(e, &opts.model))
    {
        config.insert("thinkingConfig".into(), thinking);
    }
    config
}

/// The client's limit clamped to the model's; none when the client set
/// none (Gemini's default is the model's own limit). At least 1.
fn max_output_tokens(asked: Option<u64>, limit: Option<u64>) -> Option<u64> {
    let asked = asked?;
    Some(limit.map_or(asked, |limit| asked.min(limit)).max(1))
}

fn stop_sequences(stop: Option<&Value>) -> Option<Vec<Value>> {
    let stop: Vec<Value> = match stop? {
        Value::String(one) => vec![one.clone().into()],
        Value::Array(many) => many
            .iter()
            .filter(|s| s.as_str().is_some_and(|s| !s.is_empty()))
            .take(MAX_STOP)
            .cloned()
            .collect(),
        _ => return None,
    };
    (!stop.is_empty()).then_some(stop)
}

fn response_format(format: Option<&Value>, config: &mut Map<String, Value>) {
    let Some(format) = format else { return };
    let schema = match format.get("type").and_then(Value::as_str) {
        Some("json_object") => None,
        Some("json_schema") => format
            .get("json_schema")
            .and_then(|s| s.get("schema"))
            .and_then(parameters_schema),
        _ => return,
    };
    config.insert("responseMimeType".into(), "application/json".into());
    if let Some(schema) = schema {
        config.insert("responseJsonSchema".into(), schema);
    }
}

/// How a model is told how much to think.
#[derive(Debug, PartialEq, Eq)]
enum Thinking {
    /// Gemini 3 and later: `thinkingLevel`.
    Level,
    /// Gemini 2.5 and any model we cannot place: `thinkingBudget`.
    Budget,
}

/// The generation of a model name: `gemini-3-pro-preview`,
/// `models/gemini-3.1-flash`, `gemini-2.5-pro`, ...
fn thinking_kind(model: &str) -> Thinking {
    let major = model
        .split_once("gemini-")
        .map(|(_, rest)| rest)
        .and_then(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().ok()
        });
    match major {
        Some(3..) => Thinking::Level,
        _ => Thinking::Budget,
    }
}

fn thinking(effort: &str, model: &str) -> Option<Value> {
    let off = effort == "none";
    let config = match thinking_kind(model) {
        Thinking::Level => {
            let level = match effort {
                "none" | "minimal" | "low" => "low",
                "medium" | "high" | "xhigh" => "high",
                _ => return None,
            };
            json!({ "includeThoughts": !off, "thinkingLevel": level })
        }
        Thinking::Budget => {
            let budget = match effort {
                "none" if model.contains("pro") => 128,
                "none" => 0,
                "minimal" => 512,
                "low" => 1024,
                "medium" => 8192,
                "high" | "xhigh" => 24576,
                _ => return None,
            };
            json!({ "includeThoughts": !off, "thinkingBudget": budget })
        }
    };
    Some(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_placed_by_their_generation() {
        assert_eq!(thinking_kind("gemini-3-pro-preview"), Thinking::Level);
        assert_eq!(
            thinking_kind("models/gemini-3.1-flash-lite"),
            Thinking::Level
        );
        assert_eq!(thinking_kind("gemini-10-ultra"), Thinking::Level);
        assert_eq!(thinking_kind("gemini-2.5-flash"), Thinking::Budget);
        assert_eq!(thinking_kind("my-alias"), Thinking::Budget);
    }

    #[test]
    fn efforts_become_levels_or_budgets() {
        let level = |e| thinking(e, "gemini-3-pro-preview");
        assert_eq!(level("low").unwrap()["thinkingLevel"], "low");
        assert_eq!(level("medium").unwrap()["thinkingLevel"], "high");
        assert_eq!(level("none").unwrap()["includeThoughts"], false);
        assert_eq!(level("bogus"), None);
        let budget = |e, m| thinking(e, m).unwrap()["thinkingBudget"].clone();
        assert_eq!(budget("none", "gemini-2.5-flash"), 0);
        assert_eq!(budget("none", "gemini-2.5-pro"), 128);
        assert_eq!(budget("high", "gemini-2.5-flash"), 24576);
        assert_eq!(
            thinking("low", "gemini-2.5-flash").unwrap()["includeThoughts"],
            true
        );
    }

    #[test]
    fn max_tokens_are_clamped_not_invented() {
        assert_eq!(max_output_tokens(None, Some(8192)), None);
        assert_eq!(max_output_tokens(Some(100_000), Some(65536)), Some(65536));
        assert_eq!(max_output_tokens(Some(100), Some(65536)), Some(100));
        assert_eq!(max_output_tokens(Some(0), None), Some(1));
    }
}
