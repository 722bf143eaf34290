//! Model name → ordered candidates (see "How a request's `model` resolves"
//! in the docs), the strategies that order them, and what is known about
//! each instance's health (`health`: cooldowns, breakers, health-check
//! verdicts, tokens used today). Everything a request needs is built once
//! at load (prices too, where the model is known); planning a request does
//! no I/O and takes no lock.
//!
//! Must not: do I/O, take a lock on the request path, or know how an
//! instance is reached (that is `upstream`).

mod breaker;
pub mod clock;
mod cost;
mod health;
pub mod hints;
mod order;
mod usage;

pub use breaker::{BreakerState, CircuitBreaker};
pub use health::{
    probe_outcome, Health, InstanceState, Probe, ProbeOutcome, Report, Signal, Skip, Ticket,
};
pub use order::Order;
pub use usage::utc_day;

use crate::config::{Alias, Config, Instance, Strategy};
use crate::dialect::Dialect;
use cost::{Cost, Prices};
use std::collections::HashMap;
use std::sync::Arc;
use wildmatch::WildMatch;

/// One thing to try: an instance and the model name to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub instance: usize,
    pub model: Arc<str>,
    /// Its (instance, model) state in [`Health`].
    pub slot: usize,
    /// The wire format the instance speaks: the request is sent in it.
    pub dialect: Dialect,
}

/// A request's candidates: the ones to try, in order, and the ones left
/// out for now with the reason.
#[derive(Debug)]
pub struct Plan {
    pub try_order: Vec<Candidate>,
    pub skipped: Vec<(usize, Skip)>,
}

/// A `<prefix>/` of pinned requests: its instances in config order, and
/// one order for all its requests. Their candidates are built per request
/// (the model is the client's); the rotation state lives here so
/// round-robin and friends still turn.
struct Prefix {
    instances: Vec<usize>,
    order: Order,
}

/// What a model name resolved to, before ordering.
struct Route {
    candidates: Vec<Candidate>,
    /// Each candidate's cost, worked out at load when the order ranks by
    /// it (empty otherwise).
    costs: Vec<Cost>,
    order: Order,
}

/// A `models:` entry whose name is a glob (`claude-*`): its candidates
/// depend on the name asked for, so they are built per request, always as
/// many and in the same order (the order's rotation state lives here).
struct Glob {
    pattern: WildMatch,
    targets: Vec<GlobTarget>,
    order: Order,
}

enum GlobTarget {
    /// A target naming its model: the same candidates for every name.
    Fixed(Vec<Candidate>),
    /// `{ provider: p }` without a model: these instances, sent the name
    /// the client asked for.
    Requested(Vec<usize>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("model `{0}` does not exist")]
pub struct UnknownModel(pub String);

pub struct Router {
    /// Each instance's dialect, by instance index.
    dialects: Vec<Dialect>,
    aliases: HashMap<String, Route>,
    /// Glob entries under `models:`, in file order.
    globs: Vec<Glob>,
    models: HashMap<String, Route>,
    /// `<entry id>` or `<provider type>` → its instances.
    prefixes: HashMap<String, Prefix>,
    auto: Route,
    names: Vec<ModelName>,
    health: Arc<Health>,
    /// For `cost`: what each instance charges per model.
    prices: Prices,
}

/// A routable name for `/v1/models`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelName {
    pub id: String,
    pub owned_by: String,
}

/// Every instance indexed by the names that reach it.
#[derive(Default)]
struct Index {
    /// `<entry id>` or `<provider type>` → its instances.
    prefixes: HashMap<String, Vec<usize>>,
    /// Model name → the instances serving it, in config order.
    by_model: HashMap<String, Vec<usize>>,
    names: Vec<ModelName>,
}

impl Index {
    fn new(instances: &[Instance]) -> Self {
        let mut index = Self::default();
        index.names.push(ModelName {
            id: "auto".into(),
            owned_by: "modelgate".into(),
        });
        for (i, inst) in instances.iter().enumerate() {
            push_unique(index.prefixes.entry(inst.entry.clone()).or_default(), i);
            let kind = inst.kind.name();
            push_unique(index.prefixes.entry(kind.to_string()).or_default(), i);
            for m in &inst.models {
                let list = index.by_model.entry(m.clone()).or_default();
                list.push(i);
                if list.len() == 1 {
                    index.name(m.clone(), kind);
                }
                let pinned = format!("{}/{m}", inst.entry);
                if !index.names.iter().any(|n| n.id == pinned) {
                    index.name(pinned, kind);
                }
            }
        }
        index
    }

    fn name(&mut self, id: String, owned_by: &str) {
        let owned_by = owned_by.to_string();
        self.names.push(ModelName { id, owned_by });
    }
}

impl Router {
    pub fn new(config: &Config, health: Arc<Health>) -> Self {
        let strategy = config.routing.strategy;
        let instances = &config.instances;
        let index = Index::new(instances);
        let prefixes = (index.prefixes.into_iter())
            .map(|(p, instances)| {
                let order = Order::new(strategy, &vec![1; instances.len()]);
                (p, Prefix { instances, order })
            })
            .collect();
        let mut router = Self {
            dialects: instances.iter().map(|i| i.kind.spec().dialect).collect(),
            aliases: HashMap::new(),
            globs: Vec::new(),
            models: HashMap::new(),
            prefixes,
            auto: Route::empty(),
            names: index.names,
            health,
            prices: Prices::new(instances),
        };
        for (m, list) in &index.by_model {
            let model: Arc<str> = Arc::from(m.as_str());
            let c = list.iter().map(|&i| router.candidate(i, model.clone()));
            let route = Route::new(c.collect(), None, strategy, &router.prices);
            router.models.insert(m.clone(), route);
        }
        let auto = (instances.iter().enumerate()).filter_map(|(i, inst)| {
            Some(router.candidate(i, Arc::from(inst.models.first()?.as_str())))
        });
        let auto = auto.collect();
        router.auto = Route::new(auto, None, Strategy::RoundRobin, &router.prices);
        for alias in &config.aliases {
            if is_glob(&alias.name) {
                let glob = router.glob(alias, instances);
                router.globs.push(glob);
                continue;
            }
            let route = router.alias_route(alias, instances);
            router.names.push(ModelName {
                id: alias.name.clone(),
                owned_by: "modelgate".into(),
            });
            router.aliases.insert(alias.name.clone(), route);
        }
        router
    }

    fn candidate(&self, instance: usize, model: Arc<str>) -> Candidate {
        Candidate {
            instance,
            slot: self.health.slot(instance, &model),
            dialect: (self.dialects.get(instance).copied()).unwrap_or(Dialect::OpenAi),
            model,
        }
    }

    fn alias_route(&self, alias: &Alias, instances: &[Instance]) -> Route {
        let mut candidates = Vec::new();
        let mut weights = Vec::new();
        for t in &alias.targets {
            let found: Vec<Candidate> = match (&t.provider, &t.model) {
                (Some(p), model) => (self.prefixes.get(p).into_iter())
                    .flat_map(|prefix| &prefix.instances)
                    .filter_map(|&i| {
                        let m = model
                            .as_deref()
                            .or(instances[i].models.first().map(String::as_str))?;
                        Some(self.candidate(i, Arc::from(m)))
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
            &self.prices,
        )
    }

    fn glob(&self, alias: &Alias, instances: &[Instance]) -> Glob {
        let mut targets = Vec::new();
        let mut weights = Vec::new();
        for t in &alias.targets {
            let target = match (&t.provider, &t.model) {
                (Some(p), None) => GlobTarget::Requested(
                    (self.prefixes.get(p).map(|prefix| prefix.instances.clone()))
                        .unwrap_or_default(),
                ),
                (Some(_), Some(_)) => {
                    let one = Alias {
                        targets: vec![t.clone()],
                        ..alias.clone()
                    };
                    GlobTarget::Fixed(self.alias_route(&one, instances).candidates)
                }
                (None, Some(m)) => GlobTarget::Fixed(
                    (self.resolve_name(m).map(|r| r.candidates.clone())).unwrap_or_default(),
                ),
                (None, None) => GlobTarget::Fixed(Vec::new()),
            };
            let n = match &target {
                GlobTarget::Fixed(c) => c.len(),
                GlobTarget::Requested(i) => i.len(),
            };
            weights.extend(std::iter::repeat_n(t.weight, n));
            targets.push(target);
        }
        let strategy = alias.strategy.unwrap_or(Strategy::Priority);
        Glob {
            pattern: WildMatch::new(&alias.name),
            targets,
            order: Order::new(strategy, &weights),
        }
    }

    /// The first glob entry matching `requested`: its candidates for that
    /// name, and its order.
    fn globbed(&self, requested: &str) -> Option<(Vec<Candidate>, &Order)> {
        let glob = self.globs.iter().find(|g| g.pattern.matches(requested))?;
        let name: Arc<str> = Arc::from(requested);
        let mut candidates = Vec::new();
        for target in &glob.targets {
            match target {
                GlobTarget::Fixed(list) => candidates.extend(list.iter().cloned()),
                GlobTarget::Requested(instances) => {
                    candidates.extend(instances.iter().map(|&i| self.candidate(i, name.clone())))
                }
            }
        }
        Some((candidates, &glob.order))
    }

    fn resolve_name(&self, name: &str) -> Option<&Route> {
        self.aliases.get(name).or_else(|| self.models.get(name))
    }

    /// The candidates for `requested`: the usable ones in the order to try
    /// them (the route's strategy over live state), and the ones skipped.
    pub fn plan(&self, requested: &str) -> Result<Plan, UnknownModel> {
        let (built, built_costs);
        let (candidates, costs, order) = match self.route(requested) {
            Some(route) => (route.candidates.as_slice(), &route.costs, &route.order),
            None => {
                let (list, order) = (self.globbed(requested))
                    .or_else(|| self.pinned(requested))
                    .ok_or_else(|| UnknownModel(requested.to_string()))?;
                // The model is the client's here: priced now, not at load.
                built_costs = if order.by_cost() {
                    self.prices.of(&list)
                } else {
                    Vec::new()
                };
                built = list;
                (built.as_slice(), &built_costs, order)
            }
        };
        let now = clock::now();
        let mut usable = Vec::with_capacity(candidates.len());
        let mut skipped = Vec::new();
        for (k, c) in candidates.iter().enumerate() {
            match self.health.available(c, now) {
                Ok(()) => usable.push(k),
                Err(skip) => skipped.push((c.instance, skip)),
            }
        }
        let try_order = order.arrange(&usable, candidates, costs, &self.health);
        Ok(Plan { try_order, skipped })
    }

    /// `auto`, an alias, or (unless a glob claims the name first, or it is
    /// pinned to a provider) a model some instance lists.
    fn route(&self, requested: &str) -> Option<&Route> {
        if requested == "auto" {
            return Some(&self.auto);
        }
        self.aliases.get(requested).or_else(|| {
            self.models
                .get(requested)
                .filter(|_| !self.is_pinned(requested))
                .filter(|_| !self.globs.iter().any(|g| g.pattern.matches(requested)))
        })
    }

    fn is_pinned(&self, requested: &str) -> bool {
        requested
            .split_once('/')
            .is_some_and(|(p, m)| !m.is_empty() && self.prefixes.contains_key(p))
    }

    /// `<provider id or type>/<model>`: only those instances, with that
    /// prefix's order.
    fn pinned(&self, requested: &str) -> Option<(Vec<Candidate>, &Order)> {
        let (prefix, model) = requested.split_once('/')?;
        let prefix = self.prefixes.get(prefix).filter(|_| !model.is_empty())?;
        let name: Arc<str> = Arc::from(model);
        let c = (prefix.instances.iter()).map(|&i| self.candidate(i, name.clone()));
        Some((c.collect(), &prefix.order))
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Every routable name: `auto`, real models, `<provider>/<model>`, aliases.
    pub fn model_names(&self) -> &[ModelName] {
        &self.names
    }
}

impl Route {
    fn new(
        candidates: Vec<Candidate>,
        weights: Option<Vec<u32>>,
        strategy: Strategy,
        prices: &Prices,
    ) -> Self {
        let weights = weights.unwrap_or_else(|| vec![1; candidates.len()]);
        let order = Order::new(strategy, &weights);
        let costs = if order.by_cost() {
            prices.of(&candidates)
        } else {
            Vec::new()
        };
        Self {
            candidates,
            costs,
            order,
        }
    }

    fn empty() -> Self {
        Self {
            candidates: Vec::new(),
            costs: Vec::new(),
            order: Order::new(Strategy::RoundRobin, &[]),
        }
    }
}

/// Whether a `models:` name is a glob (`claude-*`, `gpt-4?`).
pub fn is_glob(name: &str) -> bool {
    name.contains(['*', '?'])
}

fn push_unique(v: &mut Vec<usize>, i: usize) {
    if v.last() != Some(&i) {
        v.push(i);
    }
}

#[cfg(test)]
mod tests;
