//! Applying a template to the running platform, at start and again whenever the template,
//! a function's code or a layer's content changes on disk (hot reload).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ledge_model::{FunctionName, FunctionSpec};
use ledge_runtime::Runtime;
use ledge_template::Template;
use notify::RecursiveMode;
use notify_debouncer_mini::{new_debouncer, DebounceEventResult};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::versions::{self, Versions};
use crate::{layers, load_template, load_template_with, AppError};

/// Logical ids (and names) → function names, shared with the Lambda API.
pub(crate) type Aliases = Arc<RwLock<std::collections::HashMap<String, FunctionName>>>;

/// What is running, and how to bring it up to date with a template.
pub(crate) struct Live {
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) template_path: Option<PathBuf>,
    pub(crate) overrides: BTreeMap<String, String>,
    pub(crate) aliases: Aliases,
    /// By logical id: the spec as written in the template when last applied, and as
    /// deployed then (template layers resolved to version ARNs).
    applied: Mutex<BTreeMap<String, (FunctionSpec, FunctionSpec)>>,
    /// Version numbers published for the template (`AutoPublishAlias`,
    /// `AWS::Lambda::Version`) when last applied.
    versions: Mutex<Versions>,
    events: mpsc::Sender<String>,
    /// Run after each successful reload (e.g. redeploying HTTP APIs); lines are shown.
    hooks: Mutex<Vec<ReloadHook>>,
    /// The same for work that awaits (binding listeners of new distributions).
    async_hooks: Mutex<Vec<AsyncReloadHook>>,
}

/// Something to bring up to date with a reloaded template; returns lines to show.
pub(crate) type ReloadHook = Box<dyn Fn(&Template) -> Vec<String> + Send + Sync>;

/// A reload hook that awaits; it gets its own copy of the template.
pub(crate) type AsyncReloadHook = Arc<
    dyn Fn(Template) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<String>> + Send>>
        + Send
        + Sync,
>;

impl Live {
    pub(crate) fn new(
        runtime: Arc<Runtime>,
        template_path: Option<PathBuf>,
        overrides: BTreeMap<String, String>,
        aliases: Aliases,
        events: mpsc::Sender<String>,
    ) -> Self {
        Self {
            runtime,
            template_path,
            overrides,
            aliases,
            applied: Mutex::new(BTreeMap::new()),
            versions: Mutex::new(Versions::new()),
            events,
            hooks: Mutex::new(Vec::new()),
            async_hooks: Mutex::new(Vec::new()),
        }
    }

    /// Adds an awaiting hook run after every successful reload, after the plain ones.
    pub(crate) fn on_reload_async(&self, hook: AsyncReloadHook) {
        if let Ok(mut h) = self.async_hooks.lock() {
            h.push(hook);
        }
    }

    /// Adds a hook run after every successful reload.
    pub(crate) fn on_reload(&self, hook: ReloadHook) {
        if let Ok(mut h) = self.hooks.lock() {
            h.push(hook);
        }
    }

    pub(crate) fn say(&self, line: String) {
        let _ = self.events.try_send(line);
    }

    /// The version numbers published when the template was last applied.
    pub(crate) fn versions(&self) -> Versions {
        self.versions.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Applies `template` (loaded with the numbers in `loaded_with`), and when that
    /// published versions it did not name, loads it again with them: the template
    /// returned resolves `!Ref Fn.Version` to what runs. Functions that changed because
    /// of it (one whose configuration names another's version) are deployed again.
    pub(crate) async fn settle(
        &self,
        template: Template,
        loaded_with: &Versions,
    ) -> Result<(Template, Vec<String>), AppError> {
        let mut lines = self.apply(&template).await?;
        let published = self.versions();
        if versions::resolved_by(&published, loaded_with) {
            return Ok((template, lines));
        }
        let Some(path) = &self.template_path else {
            return Ok((template, lines));
        };
        let again = load_template_with(path, &self.overrides, &published)?;
        if again.functions != template.functions {
            lines.extend(self.apply(&again).await?);
        }
        Ok((again, lines))
    }

    /// Brings the runtime in line with the template: publishes changed layers, deploys
    /// new and changed functions (unchanged ones keep their warm environments), removes
    /// functions the template no longer has. Returns one line per change.
    pub(crate) async fn apply(&self, template: &Template) -> Result<Vec<String>, AppError> {
        let store = self.runtime.store().clone();
        let layer_specs = template.layers.clone();
        let (arns, mut lines) = tokio::task::spawn_blocking(move || {
            layers::publish_template_layers(&store, &layer_specs)
        })
        .await
        .map_err(|e| AppError::Usage(e.to_string()))??;

        let previous = self.applied.lock().map(|m| m.clone()).unwrap_or_default();
        let running: BTreeMap<FunctionName, FunctionSpec> = self
            .runtime
            .functions()
            .into_iter()
            .map(|f| (f.name.clone(), f))
            .collect();
        let mut next = BTreeMap::new();
        for spec in &template.functions {
            let id = spec
                .logical_id
                .clone()
                .unwrap_or_else(|| spec.name.to_string());
            let mut resolved = spec.clone();
            layers::resolve_logical(&mut resolved, &arns);
            // Where the template did not change this function, keep what is running
            // (the Lambda API may have changed its configuration) and only pick up
            // new code and layer content: the template wins only where it was edited.
            let fresh = resolved.clone();
            if let Some((written, deployed)) = previous.get(&id) {
                if written == spec {
                    if let Some(current) = running.get(&spec.name) {
                        let mut kept = current.clone();
                        if kept.layers == deployed.layers {
                            // The API left the layers alone: follow new layer versions.
                            kept.layers = fresh.layers.clone();
                        }
                        resolved = kept;
                    }
                }
            }
            let report = self.runtime.deploy(resolved).await?;
            lines.extend(report.warnings.iter().cloned());
            if report.created && !previous.is_empty() {
                lines.push(format!("{id}: added"));
            } else if report.changed && !report.created {
                lines.push(format!(
                    "{id}: {} changed; new environments run it, in-flight invocations finish on the old",
                    report.changes.join(" and ")
                ));
            }
            next.insert(id, (spec.clone(), fresh));
        }
        for (id, (old, _)) in &previous {
            let still = template.functions.iter().any(|f| f.name == old.name);
            if !still {
                self.runtime.remove(&old.name).await;
                lines.push(format!("{id}: removed"));
            }
        }
        if let Ok(mut a) = self.aliases.write() {
            a.clear();
            for (id, (spec, _)) in &next {
                a.insert(id.clone(), spec.name.clone());
            }
        }
        let first = previous.is_empty();
        if let Ok(mut m) = self.applied.lock() {
            *m = next;
        }
        let before = self.versions();
        let (published, more) = versions::publish(&self.runtime, template, &before, !first).await?;
        lines.extend(more);
        if let Ok(mut v) = self.versions.lock() {
            *v = published;
        }
        Ok(lines)
    }

    /// Paths whose changes trigger a reload.
    pub(crate) fn watched(&self, template: &Template) -> BTreeSet<PathBuf> {
        let mut paths = BTreeSet::new();
        if let Some(t) = &self.template_path {
            paths.insert(t.clone());
        }
        for f in &template.functions {
            paths.insert(f.code_dir.clone());
        }
        for l in &template.layers {
            paths.insert(l.content.clone());
        }
        // Absolute, resolved paths: events then carry paths comparable with the state
        // dir, whose own writes (database, logs) must never look like edits.
        paths
            .into_iter()
            .map(|p| std::fs::canonicalize(&p).unwrap_or(p))
            .collect()
    }

    async fn reload(&self) {
        let Some(path) = &self.template_path else {
            return;
        };
        let loaded_with = self.versions();
        let template = match load_template_with(path, &self.overrides, &loaded_with) {
            Ok(t) => t,
            Err(e) => {
                self.say(format!(
                    "reload: {e}\nreload: the template does not load; the running app is unchanged"
                ));
                return;
            }
        };
        match self.settle(template, &loaded_with).await {
            Ok((template, mut lines)) => {
                if let Ok(hooks) = self.hooks.lock() {
                    for hook in hooks.iter() {
                        lines.extend(hook(&template));
                    }
                }
                let async_hooks: Vec<AsyncReloadHook> = self
                    .async_hooks
                    .lock()
                    .map(|h| h.clone())
                    .unwrap_or_default();
                for hook in async_hooks {
                    lines.extend(hook(template.clone()).await);
                }
                for l in lines {
                    self.say(format!("reload: {l}"));
                }
            }
            Err(e) => self.say(format!("reload: {e}")),
        }
    }
}

/// Watches the template, the code folders and the layer contents, and reloads on change
/// until cancelled. Events inside `ignore` (the state dir) are not changes.
pub(crate) fn spawn_watcher(
    live: Arc<Live>,
    initial: &Template,
    ignore: PathBuf,
    cancel: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, AppError> {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let mut debouncer = new_debouncer(
        Duration::from_millis(250),
        move |res: DebounceEventResult| {
            if let Ok(events) = res {
                let relevant = events.iter().any(|e| !e.path.starts_with(&ignore));
                if relevant {
                    let _ = tx.try_send(());
                }
            }
        },
    )
    .map_err(|e| AppError::Usage(format!("cannot watch files for hot reload: {e}")))?;
    let mut watched = live.watched(initial);
    for p in &watched {
        watch(&mut debouncer, p);
    }
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                got = rx.recv() => {
                    if got.is_none() { break; }
                    live.reload().await;
                    // Follow code folders that appeared in the template.
                    if let Some(path) = &live.template_path {
                        if let Ok(t) = load_template(path, &live.overrides) {
                            for p in live.watched(&t) {
                                if watched.insert(p.clone()) {
                                    watch(&mut debouncer, &p);
                                }
                            }
                        }
                    }
                }
            }
        }
        drop(debouncer);
    }))
}

fn watch(
    debouncer: &mut notify_debouncer_mini::Debouncer<notify::RecommendedWatcher>,
    path: &Path,
) {
    let w = debouncer.watcher();
    let result = if path.is_dir() {
        w.watch(path, RecursiveMode::Recursive)
    } else {
        // Editors replace files by renaming: watch the folder, not the file.
        match path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(parent) => w.watch(parent, RecursiveMode::NonRecursive),
            None => w.watch(Path::new("."), RecursiveMode::NonRecursive),
        }
    };
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), error = %e, "cannot watch for hot reload");
    }
}
