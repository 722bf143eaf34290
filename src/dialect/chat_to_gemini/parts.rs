//! The parts of a user message as Gemini parts: text, images (a data URL
//! inline, an http(s) URL as `fileData`), audio and files; other kinds are
//! left out (the choices are in the parent module's doc).

use serde_json::{json, Value};

/// What replaces a file whose source Gemini cannot be given.
pub(super) const MEDIA_OMITTED: &str =
    "[a file was omitted: its source cannot be sent to the model]";

pub(super) fn user_parts(content: Option<&Value>) -> Result<Vec<Value>, &'static str> {
    match content {
        Some(Value::String(text)) if text.is_empty() => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![json!({ "text": text })]),
        Some(Value::Array(parts)) => Ok(parts.iter().filter_map(user_part).collect()),
        _ => Err("content must be a string or an array of content parts"),
    }
}

fn user_part(part: &Value) -> Option<Value> {
    let field = |outer: &str, inner: &str| {
        let value = part.get(outer)?;
        value.get(inner).or(Some(value)).and_then(Value::as_str)
    };
    match part.get("type")?.as_str()? {
        "text" => {
            let text = part.get("text")?.as_str()?;
            (!text.is_empty()).then(|| json!({ "text": text }))
        }
        "image_url" => Some(media_part(field("image_url", "url")?)),
        "input_audio" => {
            let audio = part.get("input_audio")?;
            let format = audio.get("format")?.as_str()?;
            let data = audio.get("data")?.as_str()?;
            Some(json!({ "inlineData": { "mimeType": format!("audio/{format}"), "data": data } }))
        }
        "file" => Some(media_part(field("file", "file_data").unwrap_or_default())),
        _ => None,
    }
}

/// A data URL as `inlineData`, an http(s) URL as `fileData`, anything else
/// as a note that something was left out.
fn media_part(url: &str) -> Value {
    if let Some(rest) = url.strip_prefix("data:") {
        if let Some((mime, data)) = rest.split_once(";base64,") {
            return json!({ "inlineData": { "mimeType": mime, "data": data } });
        }
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return json!({ "fileData": { "mimeType": guess_mime(url), "fileUri": url } });
    }
    json!({ "text": MEDIA_OMITTED })
}

fn guess_mime(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let extension = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match extension.as_deref() {
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("heic") => "image/heic",
        Some("heif") => "image/heif",
        Some("pdf") => "application/pdf",
        _ => "image/jpeg",
    }
}
