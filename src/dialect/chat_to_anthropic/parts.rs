//! Content parts → Anthropic content blocks: text, images (base64 data
//! URLs of the four image types Anthropic takes, or http(s) URLs), and
//! files (PDF or image `file_data`). What Anthropic cannot take is refused
//! with the problem named, for the client's 400.

use serde_json::{json, Value};

/// What is wrong with one message, for the client's 400.
pub(super) type Problem = &'static str;

pub(super) const BAD_CONTENT: Problem = "content must be a string or an array of content parts";

/// A text block, or nothing for blank text; `part`'s `cache_control` kept.
pub(super) fn text_block(text: &str, part: Option<&Value>) -> Option<Value> {
    if text.trim().is_empty() {
        return None;
    }
    Some(with_cache_control(
        json!({ "type": "text", "text": text }),
        part,
    ))
}

fn with_cache_control(mut block: Value, part: Option<&Value>) -> Value {
    if let Some(cache) = part
        .and_then(|p| p.get("cache_control"))
        .filter(|c| c.is_object())
    {
        block["cache_control"] = cache.clone();
    }
    block
}

pub(super) fn user_blocks(content: Option<&Value>) -> Result<Vec<Value>, Problem> {
    match content {
        Some(Value::String(text)) => Ok(text_block(text, None).into_iter().collect()),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| user_part(part).transpose())
            .collect(),
        _ => Err(BAD_CONTENT),
    }
}

/// One part of user (or tool) content; `None` for blank text and unknown
/// part types.
fn user_part(part: &Value) -> Result<Option<Value>, Problem> {
    let field = |key| part.get(key).and_then(Value::as_str);
    let block = match part.get("type").and_then(Value::as_str) {
        Some("text") => {
            let text = field("text").ok_or("a text part needs its text")?;
            return Ok(text_block(text, Some(part)));
        }
        Some("image_url") => {
            let image = part.get("image_url");
            let url = image
                .and_then(|i| i.get("url"))
                .or(image)
                .and_then(Value::as_str)
                .ok_or("image_url: the part needs a url")?;
            image_block(url)?
        }
        Some("file") => file_block(part.get("file"))?,
        Some("input_audio") => return Err("input_audio: Anthropic models take no audio input"),
        _ => return Ok(None),
    };
    Ok(Some(with_cache_control(block, Some(part))))
}

const IMAGE_TYPES: Problem = "image_url: Anthropic takes JPEG, PNG, GIF and WebP images only";

/// A data URL as a base64 image, an http(s) URL as a URL image.
fn image_block(url: &str) -> Result<Value, Problem> {
    if let Some((media_type, data)) = data_url(url) {
        let media_type = image_type(media_type).ok_or(IMAGE_TYPES)?;
        let source = json!({ "type": "base64", "media_type": media_type, "data": data });
        return Ok(json!({ "type": "image", "source": source }));
    }
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("http" | "https")) {
        return Err("image_url: the url must be a base64 data URL or an http(s) URL");
    }
    Ok(json!({ "type": "image", "source": { "type": "url", "url": url } }))
}

/// A file part: a PDF as a document, an image as an image.
fn file_block(file: Option<&Value>) -> Result<Value, Problem> {
    let file = file.ok_or("file: the part needs a file")?;
    let Some(url) = file.get("file_data").and_then(Value::as_str) else {
        return Err("file: only file_data can be sent to an Anthropic model, not a file id");
    };
    let (media_type, data) = data_url(url).ok_or("file: file_data must be a base64 data URL")?;
    if let Some(image) = image_type(media_type) {
        let source = json!({ "type": "base64", "media_type": image, "data": data });
        return Ok(json!({ "type": "image", "source": source }));
    }
    if !media_type.eq_ignore_ascii_case("application/pdf") {
        return Err("file: Anthropic takes PDF and image files only");
    }
    let source = json!({ "type": "base64", "media_type": "application/pdf", "data": data });
    let mut document = json!({ "type": "document", "source": source });
    if let Some(name) = file.get("filename").filter(|n| n.is_string()) {
        document["title"] = name.clone();
    }
    Ok(document)
}

/// `data:<media type>[;params];base64,<data>` → (media type, data).
fn data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url
        .get(..5)?
        .eq_ignore_ascii_case("data:")
        .then(|| &url[5..])?;
    let (meta, data) = rest.split_once(',')?;
    let mut params = meta.split(';');
    let media_type = params.next()?.trim();
    params
        .any(|p| p.trim().eq_ignore_ascii_case("base64"))
        .then_some((media_type, data))
}

/// Anthropic's name for an image type it takes.
fn image_type(media_type: &str) -> Option<&'static str> {
    match media_type.to_ascii_lowercase().as_str() {
        "image/jpeg" | "image/jpg" => Some("image/jpeg"),
        "image/png" => Some("image/png"),
        "image/gif" => Some("image/gif"),
        "image/webp" => Some("image/webp"),
        _ => None,
    }
}
