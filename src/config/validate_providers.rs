//! Validation of `providers:` (into instances, `api_keys` expanded, unset
//! keys skipped with a warning, prices checked) and of `models:` (aliases
//! whose targets must point at something that exists).

use super::diagnostics::Problems;
use super::raw::{RawModel, RawPrice, RawProvider, RawProviderModel, RawTarget, Unset};
use super::Secret;
use super::{Alias, Instance, ModelOptions, Price, Target};
use crate::providers::{redacted, BaseUrl, ProviderType};
use std::collections::{HashMap, HashSet};

/// One `providers:` entry as seen by alias validation (kept even when skipped).
pub(super) struct Entry {
    id: String,
    kind: ProviderType,
    models: Vec<String>,
}

pub(super) fn providers(
    list: Vec<Option<RawProvider>>,
    unset: &[Unset],
    p: &mut Problems,
    warnings: &mut Vec<String>,
) -> (Vec<Instance>, Vec<Entry>) {
    let mut ids = HashSet::new();
    let mut instances = Vec::new();
    let mut entries = Vec::new();
    for (i, raw) in list.into_iter().enumerate() {
        let Some(raw) = raw else { continue };
        let path = format!("providers[{i}]");
        if raw.id.is_empty() || raw.id.contains('/') || raw.id.contains('#') {
            p.at(
                format!("{path}.id"),
                "must be a non-empty name without `/` or `#`",
            );
        } else if !ids.insert(raw.id.clone()) {
            p.at(
                format!("{path}.id"),
                format!("duplicate provider id `{}`", raw.id),
            );
        }
        entries.push(Entry {
            id: raw.id.clone(),
            kind: raw.kind,
            models: raw.model_names(),
        });
        instances.extend(provider(raw, &path, unset, p, warnings));
    }
    (instances, entries)
}

fn provider(
    raw: RawProvider,
    path: &str,
    unset: &[Unset],
    p: &mut Problems,
    warnings: &mut Vec<String>,
) -> Vec<Instance> {
    let base_url = base_url(&raw, path, p);
    if raw.models.is_empty() || raw.models.iter().any(|m| m.name().trim().is_empty()) {
        p.at(
            format!("{path}.models"),
            "list at least one model name (no empty names)",
        );
    }
    if raw.api_version.is_some() && raw.kind != ProviderType::Azure {
        p.at(
            format!("{path}.api_version"),
            "only applies to type `azure`",
        );
    }
    // Checked before the keys, so that an entry with a bad key still has its
    // prices reported in the same run.
    let price = (raw.price.as_ref()).and_then(|r| price(r, &format!("{path}.price"), p));
    let options = model_options(&raw, path, p);
    let Some(keys) = keys(&raw, path, p) else {
        return Vec::new();
    };
    let Some(base_url) = base_url else {
        return Vec::new();
    };
    let template = Instance {
        id: raw.id.clone(),
        entry: raw.id.clone(),
        kind: raw.kind,
        base_url,
        api_key: None,
        api_version: raw.api_version.clone(),
        models: raw.model_names(),
        options,
        price,
    };
    instances(template, keys, unset, p, warnings)
}

/// `free`, or numbers in USD per million tokens, each finite and at least
/// 0; `cached_input` is the `input` price when not given.
fn price(raw: &RawPrice, path: &str, p: &mut Problems) -> Option<Price> {
    let n = match raw {
        RawPrice::Named(word) if word == "free" => return Some(Price::FREE),
        RawPrice::Named(word) => {
            p.at(
                path,
                format!(
                    "`{word}` is not a price: write `free` or \
                     {{ input, output, cached_input }} (USD per million tokens)"
                ),
            );
            return None;
        }
        RawPrice::Numbers(n) => n,
    };
    let mut valid = true;
    for (key, value) in [
        ("input", Some(n.input)),
        ("output", Some(n.output)),
        ("cached_input", n.cached_input),
    ] {
        if value.is_some_and(|v| !(v.is_finite() && v >= 0.0)) {
            p.at(
                format!("{path}.{key}"),
                "must be a number of US dollars per million tokens, 0 or more",
            );
            valid = false;
        }
    }
    valid.then_some(Price {
        input: n.input,
        output: n.output,
        cached_input: n.cached_input.unwrap_or(n.input),
    })
}

/// The entry's `base_url`, or its type's default.
fn base_url(raw: &RawProvider, path: &str, p: &mut Problems) -> Option<BaseUrl> {
    let spec = raw.kind.spec();
    let Some(url) = raw.base_url.as_deref().or(spec.default_base_url) else {
        p.at(
            format!("{path}.base_url"),
            format!("required for type `{}`", raw.kind.name()),
        );
        return None;
    };
    BaseUrl::parse(url)
        .map_err(|e| {
            p.at(
                format!("{path}.base_url"),
                format!("`{}` {e}", redacted(url)),
            )
        })
        .ok()
}

/// Each key of the entry with its key path (`(String::new(), None)` for a
/// keyless local endpoint); `None` when the keys are wrongly given.
fn keys(raw: &RawProvider, path: &str, p: &mut Problems) -> Option<Vec<(String, Option<String>)>> {
    match (&raw.api_key, &raw.api_keys) {
        (Some(_), Some(_)) => {
            p.at(path, "give either `api_key` or `api_keys`, not both");
            None
        }
        (Some(k), None) => Some(vec![(format!("{path}.api_key"), Some(k.clone()))]),
        (None, Some(ks)) if ks.is_empty() => {
            p.at(format!("{path}.api_keys"), "list at least one key");
            None
        }
        (None, Some(ks)) => Some(
            (ks.iter().enumerate())
                .map(|(j, k)| (format!("{path}.api_keys[{j}]"), Some(k.clone())))
                .collect(),
        ),
        (None, None) if raw.kind == ProviderType::OpenaiCompatible => {
            Some(vec![(String::new(), None)])
        }
        (None, None) => {
            p.at(
                path,
                format!("type `{}` needs `api_key` or `api_keys`", raw.kind.name()),
            );
            None
        }
    }
}

/// The options given for some of an entry's models.
fn model_options(raw: &RawProvider, path: &str, p: &mut Problems) -> HashMap<String, ModelOptions> {
    (raw.models.iter().enumerate())
        .filter_map(|(j, m)| match m {
            RawProviderModel::Name(_) => None,
            RawProviderModel::Detailed(d) => Some((
                d.name.clone(),
                ModelOptions {
                    max_output_tokens: d.max_output_tokens,
                    reasoning: d.reasoning,
                    price: (d.price.as_ref())
                        .and_then(|r| price(r, &format!("{path}.models[{j}].price"), p)),
                },
            )),
        })
        .collect()
}

/// One instance per usable key (`<id>#<n>` when there are several), each a
/// copy of `template` with its own id and key; an unset key skips its
/// instance with a warning.
fn instances(
    template: Instance,
    keys: Vec<(String, Option<String>)>,
    unset: &[Unset],
    p: &mut Problems,
    warnings: &mut Vec<String>,
) -> Vec<Instance> {
    let many = keys.len() > 1;
    let mut out = Vec::new();
    for (n, (key_path, key)) in keys.into_iter().enumerate() {
        let id = if many {
            format!("{}#{}", template.entry, n + 1)
        } else {
            template.entry.clone()
        };
        if let Some(k) = &key {
            if !k.bytes().all(|b| b.is_ascii_graphic()) {
                p.at(
                    &key_path,
                    "the key has spaces or characters an HTTP header cannot carry",
                );
                continue;
            }
            if k.is_empty() {
                let why = (unset.iter().find(|u| u.path == key_path))
                    .map_or("its key is empty".to_string(), |u| {
                        format!("`{}` is not set", u.var)
                    });
                warnings.push(format!("instance `{id}` skipped: {why}"));
                continue;
            }
        }
        out.push(Instance {
            id,
            api_key: key.map(Secret::new),
            ..template.clone()
        });
    }
    out
}

pub(super) fn aliases(
    list: Vec<Option<RawModel>>,
    entries: &[Entry],
    p: &mut Problems,
) -> Vec<Alias> {
    let mut names = HashSet::new();
    let raw: Vec<(usize, RawModel)> = list
        .into_iter()
        .enumerate()
        .filter_map(|(i, m)| m.map(|m| (i, m)))
        .collect();
    let alias_names: HashSet<&str> = raw.iter().map(|(_, m)| m.name.as_str()).collect();
    let mut out = Vec::new();
    for (i, m) in &raw {
        let path = format!("models[{i}]");
        if m.name.trim().is_empty() || m.name == "auto" {
            p.at(
                format!("{path}.name"),
                "must be a non-empty name other than `auto`",
            );
        } else if !names.insert(m.name.clone()) {
            p.at(
                format!("{path}.name"),
                format!("duplicate model name `{}`", m.name),
            );
        }
        if m.targets.is_empty() {
            p.at(format!("{path}.targets"), "list at least one target");
        }
        let targets = m
            .targets
            .iter()
            .enumerate()
            .filter_map(|(j, t)| {
                target(t, &format!("{path}.targets[{j}]"), entries, &alias_names, p)
            })
            .collect();
        out.push(Alias {
            name: m.name.clone(),
            strategy: m.strategy,
            targets,
        });
    }
    out
}

fn target(
    t: &RawTarget,
    path: &str,
    entries: &[Entry],
    aliases: &HashSet<&str>,
    p: &mut Problems,
) -> Option<Target> {
    let weight = t.weight.unwrap_or(1);
    if weight == 0 {
        p.at(format!("{path}.weight"), "must be at least 1");
    }
    let matching: Vec<&Entry> = match &t.provider {
        Some(prov) => {
            let found: Vec<&Entry> = entries
                .iter()
                .filter(|e| e.id == *prov || e.kind.name() == prov.as_str())
                .collect();
            if found.is_empty() {
                p.at(
                    format!("{path}.provider"),
                    format!("no provider with id or type `{prov}`"),
                );
                return None;
            }
            found
        }
        None => entries.iter().collect(),
    };
    match (&t.provider, &t.model) {
        (None, None) => {
            p.at(path, "needs `model`, `provider` or both");
            None
        }
        (None, Some(model)) if aliases.contains(model.as_str()) => {
            p.at(
                format!("{path}.model"),
                format!("`{model}` is an alias; targets name real models"),
            );
            None
        }
        (None, Some(model)) => {
            let direct = matching.iter().any(|e| e.models.iter().any(|m| m == model));
            let prefixed = model.split_once('/').is_some_and(|(pre, _)| {
                entries.iter().any(|e| e.id == pre || e.kind.name() == pre)
            });
            if !direct && !prefixed {
                p.at(
                    format!("{path}.model"),
                    format!("no provider lists model `{model}`"),
                );
                return None;
            }
            Some(Target {
                provider: None,
                model: Some(model.clone()),
                weight,
            })
        }
        (Some(prov), model) => Some(Target {
            provider: Some(prov.clone()),
            model: model.clone(),
            weight,
        }),
    }
}
