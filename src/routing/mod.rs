//! Model name → ordered candidates (CONTRACT "How a request's `model`
//! resolves"), the strategies that order them, and the endpoint pools that
//! give each candidate an address. Everything a request needs is built once
//! at load into hash maps; resolving a name does no I/O and takes no lock.

mod endpoints;
mod order;
mod strategy;

pub use endpoints::{DnsDiscovery, EndpointPool, Endpoints};
pub use order::Order;
pub use strategy::Strategy;

use crate::config::{Alias, Config, Instance};
use std::collections::HashMap;
use std::sync::Arc;

/// One thing to try: an instance and the model name to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub instance: usize,
    pub model: Arc<str>,
}

/// What a model name resolved to, before ordering.
struct Route {
    candidates: Vec<Candidate>,
    order: Order,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("model `{0}` does not exist")]
pub struct UnknownModel(pub String);

pub struct Router {
    aliases: HashMap<String, Route>,
    models: HashMap<String, Route>,
    /// `<entry id>` or `<provider type>` → its instances, in config order.
    prefixes: HashMap<String, Vec<usize>>,
    auto: Route,
    strategy: Strategy,
    names: Vec<ModelName>,
}

/// A routable name for `/v1/models`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelName {
    pub id: String,
    pub owned_by: String,
}

impl Router {
    pub fn new(config: &Config) -> Self {
        let strategy = config.routing.strategy;
        let instances = &config.instances;
        let mut prefixes: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_model: HashMap<String, Vec<usize>> = HashMap::new();
        let mut names = vec![ModelName {
            id: "auto".into(),
            owned_by: "modelgate".into(),
        }];
        for (i, inst) in instances.iter().enumerate() {
            push_unique(prefixes.entry(inst.entry.clone()).or_default(), i);
            push_unique(prefixes.entry(inst.kind.name().to_string()).or_default(), i);
            for m in &inst.models {
                let list = by_model.entry(m.clone()).or_default();
                if list.is_empty() {
                    names.push(ModelName {
                        id: m.clone(),
                        owned_by: inst.kind.name().into(),
                    });
                }
                list.push(i);
                let pinned = format!("{}/{m}", inst.entry);
                if !names.iter().any(|n| n.id == pinned) {
                    names.push(ModelName {
                        id: pinned,
                        owned_by: inst.kind.name().into(),
                    });
                }
            }
        }
        let models = by_model
            .iter()
            .map(|(m, list)| {
                let model: Arc<str> = Arc::from(m.as_str());
                let c = list.iter().map(|&i| Candidate {
                    instance: i,
                    model: model.clone(),
                });
                (m.clone(), Route::new(c.collect(), None, strategy))
            })
            .collect();
        let auto_candidates = instances
            .iter()
            .enumerate()
            .filter_map(|(i, inst)| {
                inst.models.first().map(|m| Candidate {
                    instance: i,
                    model: Arc::from(m.as_str()),
                })
            })
            .collect();
        let auto = Route::new(auto_candidates, None, Strategy::RoundRobin);
        let mut router = Self {
            aliases: HashMap::new(),
            models,
            prefixes,
            auto,
            strategy,
            names,
        };
        for alias in &config.aliases {
            let route = router.alias_route(alias, instances);
            router.names.push(ModelName {
                id: alias.name.clone(),
                owned_by: "modelgate".into(),
            });
            router.aliases.insert(alias.name.clone(), route);
        }
        router
    }

    fn alias_route(&self, alias: &Alias, instances: &[Instance]) -> Route {
        let mut candidates = Vec::new();
        let mut weights = Vec::new();
        for t in &alias.targets {
            let found: Vec<Candidate> = match (&t.provider, &t.model) {
                (Some(p), model) => self
                    .prefixes
                    .get(p)
                    .into_iter()
                    .flatten()
                    .filter_map(|&i| {
                        let m = model
                            .as_deref()
                            .or(instances[i].models.first().map(String::as_str))?;
                        Some(Candidate {
                            instance: i,
                            model: Arc::from(m),
                        })
                    })
                    .collect(),
                (None, Some(m)) => self
                    .resolve_name(m)
                    .map(|r| r.candidates.clone())
                    .unwrap_or_default(),
                (None, None) => Vec::new(),
            };
            for c in found {
                if !candidates.contains(&c) {
                    weights.push(t.weight);
                    candidates.push(c);
                }
            }
        }
        Route::new(
            candidates,
            Some(weights),
            alias.strategy.unwrap_or(Strategy::Priority),
        )
    }

    fn resolve_name(&self, name: &str) -> Option<&Route> {
        self.aliases.get(name).or_else(|| self.models.get(name))
    }

    /// The candidates for `requested`, in the order to try them.
    pub fn resolve(&self, requested: &str) -> Result<Vec<Candidate>, UnknownModel> {
        if requested == "auto" {
            return Ok(self.auto.ordered());
        }
        if let Some(route) = self.aliases.get(requested) {
            return Ok(route.ordered());
        }
        if let Some((prefix, model)) = requested.split_once('/') {
            if let Some(list) = self.prefixes.get(prefix).filter(|_| !model.is_empty()) {
                let model: Arc<str> = Arc::from(model);
                let c = list.iter().map(|&i| Candidate {
                    instance: i,
                    model: model.clone(),
                });
                return Ok(Route::new(c.collect(), None, self.strategy).ordered());
            }
        }
        match self.models.get(requested) {
            Some(route) => Ok(route.ordered()),
            None => Err(UnknownModel(requested.to_string())),
        }
    }

    /// Every routable name: `auto`, real models, `<provider>/<model>`, aliases.
    pub fn model_names(&self) -> &[ModelName] {
        &self.names
    }
}

impl Route {
    fn new(candidates: Vec<Candidate>, weights: Option<Vec<u32>>, strategy: Strategy) -> Self {
        let weights = weights.unwrap_or_else(|| vec![1; candidates.len()]);
        let order = Order::new(strategy, &weights);
        Self { candidates, order }
    }

    fn ordered(&self) -> Vec<Candidate> {
        self.order.arrange(&self.candidates)
    }
}

fn push_unique(v: &mut Vec<usize>, i: usize) {
    if v.last() != Some(&i) {
        v.push(i);
    }
}

#[cfg(test)]
mod tests;
