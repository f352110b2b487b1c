//! The renderer: walks a compiled template against a [`Context`].
//!
//! Lists and maps live in a per-render arena ([`Heap`]) and values refer to them by index, so
//! Java's reference semantics hold (`$a.put(…)` is seen through every alias) without
//! reference counting, cycles cannot leak, and everything is freed when rendering ends.

use crate::ast::*;
use crate::error::RenderError;
use crate::value::{write_int, write_java_double, write_json_string, Value};
use crate::{Context, Limits, Overrides, Rendered, Template};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

/// Errors travel boxed inside the renderer so that results stay small.
pub(crate) type RResult<T> = Result<T, Box<RenderError>>;

pub(crate) use crate::vmap::VMap;

/// Deepest nesting of values that printing, JSON output and comparison will follow.
pub(crate) const MAX_VALUE_DEPTH: u32 = 128;

#[derive(Debug, Clone)]
pub(crate) enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    List(u32),
    Map(u32),
    /// A `Map.Entry` from `entrySet()`.
    Entry(Rc<(Arc<str>, Val)>),
    Input,
    Util,
    Foreach(u32),
    /// A `#define` block, rendered where it is referenced.
    Block(u32),
}

impl Val {
    pub(crate) fn str(s: &str) -> Val {
        Val::Str(Arc::from(s))
    }
    pub(crate) fn string(s: String) -> Val {
        Val::Str(Arc::from(s))
    }
}

pub(crate) struct ListObj {
    pub(crate) items: Vec<Val>,
    /// Parsed from JSON (`$input.path`, `$util.parseJson`): prints as JSON, where a list
    /// built in the template prints like Java's `ArrayList` (`[a, b]`).
    pub(crate) json: bool,
}

#[derive(Default)]
pub(crate) struct Heap {
    pub(crate) lists: Vec<ListObj>,
    pub(crate) maps: Vec<VMap>,
    /// Buffers of the JSON parser.
    pub(crate) json: crate::json::Scratch,
    /// Emptied buffers of an earlier render's lists and maps, for new ones.
    spare_items: Vec<Vec<Val>>,
    spare_entries: Vec<Vec<(Arc<str>, Val)>>,
}

/// Spare buffers kept of each kind, and the largest capacity kept.
const SPARES: usize = 64;
const SPARE_CAPACITY: usize = 32;

/// A render's buffers, kept per thread between renders so that each render does not
/// allocate them anew. They go back emptied; one that grew past [`KEEP_AT_MOST`]
/// elements is dropped instead, so a thread keeps little memory.
#[derive(Default)]
struct Scratch {
    heap: Heap,
    slots: Vec<Val>,
    loops: Vec<LoopState>,
    loop_stack: Vec<u32>,
}

const KEEP_AT_MOST: usize = 4096;

thread_local! {
    static SCRATCH: std::cell::Cell<Option<Box<Scratch>>> = const { std::cell::Cell::new(None) };
}

fn keep<T>(mut v: Vec<T>) -> Vec<T> {
    if v.capacity() > KEEP_AT_MOST {
        return Vec::new();
    }
    v.clear();
    v
}

impl Heap {
    pub(crate) fn list(&mut self, items: Vec<Val>, json: bool) -> Val {
        self.lists.push(ListObj { items, json });
        Val::List(self.lists.len() as u32 - 1)
    }
    pub(crate) fn map(&mut self, entries: VMap) -> Val {
        self.maps.push(entries);
        Val::Map(self.maps.len() as u32 - 1)
    }

    /// An empty map, on a spare buffer when there is one.
    pub(crate) fn new_map(&mut self) -> VMap {
        VMap::from_buffer(self.spare_entries.pop().unwrap_or_default())
    }

    /// An empty vector for list items, on a spare buffer when there is one.
    pub(crate) fn new_items(&mut self) -> Vec<Val> {
        self.spare_items.pop().unwrap_or_default()
    }

    /// Keeps `items`'s allocation for [`Heap::new_items`], unless it is large or enough are
    /// kept.
    pub(crate) fn spare_items(&mut self, mut items: Vec<Val>) {
        if items.capacity() <= SPARE_CAPACITY && self.spare_items.len() < SPARES {
            items.clear();
            self.spare_items.push(items);
        }
    }

    fn spare_entries(&mut self, mut entries: Vec<(Arc<str>, Val)>) {
        if entries.capacity() <= SPARE_CAPACITY && self.spare_entries.len() < SPARES {
            entries.clear();
            self.spare_entries.push(entries);
        }
    }

    /// The heap emptied for the next render, keeping spare buffers.
    fn emptied(mut self) -> Heap {
        let mut lists = std::mem::take(&mut self.lists);
        for l in lists.drain(..) {
            self.spare_items(l.items);
        }
        let mut maps = std::mem::take(&mut self.maps);
        for m in maps.drain(..) {
            self.spare_entries(m.into_buffer());
        }
        Heap {
            lists: keep(lists),
            maps: keep(maps),
            json: self.json.emptied(),
            spare_items: self.spare_items,
            spare_entries: self.spare_entries,
        }
    }
    pub(crate) fn import(&mut self, v: &Value) -> Val {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Int(i) => Val::Int(*i),
            Value::Float(f) => Val::Float(*f),
            Value::String(s) => Val::str(s),
            Value::List(l) => {
                let mut items = self.new_items();
                items.reserve(l.len());
                for v in l {
                    let v = self.import(v);
                    items.push(v);
                }
                self.list(items, true)
            }
            Value::Map(m) => {
                let mut entries = self.new_map();
                entries.reserve(m.len());
                for (k, v) in m {
                    let (k, v) = (self.json.key(k), self.import(v));
                    entries.insert(k, v);
                }
                self.map(entries)
            }
        }
    }
}

/// Map keys the renderer inserts on every render, allocated once per template.
#[derive(Debug)]
pub(crate) struct FixedKeys {
    pub(crate) header: Arc<str>,
    pub(crate) path: Arc<str>,
    pub(crate) querystring: Arc<str>,
    pub(crate) request_override: Arc<str>,
    pub(crate) response_override: Arc<str>,
}

impl Default for FixedKeys {
    fn default() -> FixedKeys {
        FixedKeys {
            header: Arc::from("header"),
            path: Arc::from("path"),
            querystring: Arc::from("querystring"),
            request_override: Arc::from("requestOverride"),
            response_override: Arc::from("responseOverride"),
        }
    }
}

/// What a block tells its enclosing directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Next,
    Break,
    Stop,
}

pub(crate) struct LoopState {
    pub(crate) index: usize,
    pub(crate) has_next: bool,
    pub(crate) parent: Option<u32>,
}

pub(crate) struct Renderer<'t> {
    pub(crate) tpl: &'t Template,
    pub(crate) ctx: &'t Context,
    pub(crate) limits: &'t Limits,
    pub(crate) heap: Heap,
    slots: Vec<Val>,
    steps: u64,
    call_depth: u32,
    pub(crate) loops: Vec<LoopState>,
    loop_stack: Vec<u32>,
    /// The parsed body, once a template asked for it.
    pub(crate) body: Option<Val>,
    pub(crate) params_map: Option<Val>,
    pub(crate) regex_cache: HashMap<String, Arc<crate::java_regex::JavaRegex>>,
    overrides_set: HashSet<String>,
    context_map: Option<u32>,
}

impl<'t> Renderer<'t> {
    pub(crate) fn new(tpl: &'t Template, ctx: &'t Context, limits: &'t Limits) -> Self {
        let scratch = SCRATCH.with(|s| s.take()).unwrap_or_default();
        let Scratch {
            heap,
            mut slots,
            loops,
            loop_stack,
        } = *scratch;
        slots.resize(tpl.slot_names.len(), Val::Null);
        Renderer {
            tpl,
            ctx,
            limits,
            heap,
            slots,
            steps: 0,
            call_depth: 0,
            loops,
            loop_stack,
            body: None,
            params_map: None,
            regex_cache: HashMap::new(),
            overrides_set: HashSet::new(),
            context_map: None,
        }
    }

    pub(crate) fn run(mut self) -> Result<Rendered, RenderError> {
        self.setup();
        let mut out = String::with_capacity(self.tpl.src_len + self.ctx.body.len());
        let r = self.render_block(&self.tpl.nodes, &mut out);
        let r = r.map(|_| Rendered {
            overrides: self.read_overrides(),
            body: out,
        });
        self.recycle();
        r.map_err(|e| *e)
    }

    /// Hands the buffers back to this thread's [`Scratch`], emptied.
    fn recycle(self) {
        let Renderer {
            heap,
            slots,
            loops,
            loop_stack,
            ..
        } = self;
        let scratch = Scratch {
            heap: heap.emptied(),
            slots: keep(slots),
            loops: keep(loops),
            loop_stack: keep(loop_stack),
        };
        SCRATCH.with(|s| s.set(Some(Box::new(scratch))));
    }

    fn setup(&mut self) {
        let tpl = self.tpl;
        for (name, v) in &self.ctx.vars {
            if let Some(&slot) = tpl.slots.get(name.as_str()) {
                self.slots[slot as usize] = self.heap.import(v);
            }
        }
        let sp = &tpl.special;
        if let Some(s) = sp.input {
            self.slots[s as usize] = Val::Input;
        }
        if let Some(s) = sp.util {
            self.slots[s as usize] = Val::Util;
        }
        if let Some(s) = sp.stage_variables {
            let mut entries = self.heap.new_map();
            entries.reserve(self.ctx.stage_variables.len());
            for (k, v) in &self.ctx.stage_variables {
                entries.insert(self.heap.json.key(k), Val::str(v));
            }
            self.slots[s as usize] = self.heap.map(entries);
        }
        if let Some(s) = sp.context {
            let ctx_val = match &self.ctx.context {
                m @ Value::Map(_) => self.heap.import(m),
                _ => self.heap.map(VMap::default()),
            };
            if let Val::Map(id) = ctx_val {
                let k = &self.tpl.keys;
                let mut req = self.heap.new_map();
                for key in [&k.header, &k.path, &k.querystring] {
                    req.insert(key.clone(), self.heap.map(VMap::default()));
                }
                let req = self.heap.map(req);
                let mut resp = self.heap.new_map();
                resp.insert(k.header.clone(), self.heap.map(VMap::default()));
                let resp = self.heap.map(resp);
                let m = &mut self.heap.maps[id as usize];
                m.insert(k.request_override.clone(), req);
                m.insert(k.response_override.clone(), resp);
                self.context_map = Some(id);
            }
            self.slots[s as usize] = ctx_val;
        }
    }

    fn read_overrides(&mut self) -> Overrides {
        let mut o = Overrides::default();
        let Some(ctx) = self.context_map else {
            return o;
        };
        let get = |heap: &Heap, map: u32, key: &str| -> Option<u32> {
            match heap.maps[map as usize].get(key) {
                Some(Val::Map(id)) => Some(*id),
                _ => None,
            }
        };
        let entries = |this: &mut Self, map: Option<u32>| -> Vec<(String, Val)> {
            map.map(|m| {
                this.heap.maps[m as usize]
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
        };
        if let Some(req) = get(&self.heap, ctx, "requestOverride") {
            for (kind, target) in [
                ("header", &mut o.request.header),
                ("path", &mut o.request.path),
                ("querystring", &mut o.request.querystring),
            ] {
                let m = get(&self.heap, req, kind);
                for (k, v) in entries(self, m) {
                    let values = match v {
                        Val::Null => continue,
                        Val::List(id) => {
                            let items = self.heap.lists[id as usize].items.clone();
                            items.iter().map(|i| self.plain_string(i)).collect()
                        }
                        v => vec![self.plain_string(&v)],
                    };
                    target.insert(k, values);
                }
            }
        }
        if let Some(resp) = get(&self.heap, ctx, "responseOverride") {
            let m = get(&self.heap, resp, "header");
            for (k, v) in entries(self, m) {
                if !matches!(v, Val::Null) {
                    let s = self.plain_string(&v);
                    o.response.header.insert(k, s);
                }
            }
            o.response.status = match self.heap.maps[resp as usize].get("status") {
                Some(Val::Int(i)) => Some(*i),
                Some(Val::Str(s)) => s.trim().parse::<i64>().ok(),
                _ => None,
            }
            .filter(|s| (100..=599).contains(s))
            .map(|s| s as u16);
        }
        o
    }

    /// The printed form of a value for override read-back (errors print as empty).
    fn plain_string(&mut self, v: &Val) -> String {
        self.display(v).unwrap_or_default()
    }

    // ---- budget ------------------------------------------------------------------------

    pub(crate) fn tick(&mut self, n: u64) -> RResult<()> {
        self.steps += n;
        if self.steps > self.limits.max_steps {
            return Err(Box::new(RenderError::StepLimit {
                limit: self.limits.max_steps,
            }));
        }
        Ok(())
    }

    pub(crate) fn check_len(&self, len: usize) -> RResult<()> {
        if len > self.limits.max_output_bytes {
            return Err(Box::new(RenderError::OutputTooLarge {
                limit: self.limits.max_output_bytes,
            }));
        }
        Ok(())
    }

    fn push(&self, out: &mut String, s: &str) -> RResult<()> {
        self.check_len(out.len() + s.len())?;
        out.push_str(s);
        Ok(())
    }

    // ---- blocks ------------------------------------------------------------------------

    pub(crate) fn render_block(&mut self, block: &'t [Node], out: &mut String) -> RResult<Flow> {
        for node in block {
            self.tick(1)?;
            match node {
                Node::Text(t) => self.push(out, t)?,
                Node::Ref(r) => self.write_ref(r, out)?,
                Node::Set(s) => self.exec_set(s)?,
                Node::If(n) => {
                    let mut chosen = n.otherwise.as_deref();
                    for (cond, body) in &n.branches {
                        let c = self.eval(cond)?;
                        if truthy(&c) {
                            chosen = Some(body);
                            break;
                        }
                    }
                    if let Some(body) = chosen {
                        let flow = self.render_block(body, out)?;
                        if flow != Flow::Next {
                            return Ok(flow);
                        }
                    }
                }
                Node::Foreach(f) => {
                    if self.foreach(f, out)? == Flow::Stop {
                        return Ok(Flow::Stop);
                    }
                }
                Node::Break => return Ok(Flow::Break),
                Node::Stop => return Ok(Flow::Stop),
                Node::Define { slot, body } => self.slots[*slot as usize] = Val::Block(*body),
                Node::MacroCall(m) => {
                    let flow = self.call_macro(m, out)?;
                    if flow != Flow::Next {
                        return Ok(flow);
                    }
                }
            }
        }
        Ok(Flow::Next)
    }

    fn foreach(&mut self, f: &'t ForeachNode, out: &mut String) -> RResult<Flow> {
        let coll = self.eval(&f.iter)?;
        // The loop runs over a snapshot: changes to the collection in the body do not
        // change the iterations.
        let mut items = self.heap.new_items();
        match coll {
            Val::List(id) => items.extend_from_slice(&self.heap.lists[id as usize].items),
            Val::Map(id) => items.extend(self.heap.maps[id as usize].values().cloned()),
            _ => {}
        }
        let r = self.foreach_items(f, &mut items, out);
        self.heap.spare_items(items);
        r
    }

    fn foreach_items(
        &mut self,
        f: &'t ForeachNode,
        items: &mut [Val],
        out: &mut String,
    ) -> RResult<Flow> {
        let sp = &self.tpl.special;
        let saved_var = self.slots[f.var as usize].clone();
        let saved_foreach = sp.foreach.map(|s| self.slots[s as usize].clone());
        let saved_count = sp.velocity_count.map(|s| self.slots[s as usize].clone());
        let state = self.loops.len() as u32;
        self.loops.push(LoopState {
            index: 0,
            has_next: false,
            parent: self.loop_stack.last().copied(),
        });
        self.loop_stack.push(state);
        let mut flow = Flow::Next;
        let len = items.len();
        for (i, item) in items
            .iter_mut()
            .take(self.limits.max_foreach_iterations)
            .enumerate()
        {
            let item = std::mem::replace(item, Val::Null);
            self.tick(1)?;
            self.slots[f.var as usize] = item;
            let st = &mut self.loops[state as usize];
            st.index = i;
            st.has_next = i + 1 < len;
            if let Some(s) = sp.foreach {
                self.slots[s as usize] = Val::Foreach(state);
            }
            if let Some(s) = sp.velocity_count {
                self.slots[s as usize] = Val::Int(i as i64 + 1);
            }
            match self.render_block(&f.body, out)? {
                Flow::Next => {}
                Flow::Break => break,
                Flow::Stop => {
                    flow = Flow::Stop;
                    break;
                }
            }
        }
        self.loop_stack.pop();
        self.slots[f.var as usize] = saved_var;
        if let (Some(s), Some(v)) = (sp.foreach, saved_foreach) {
            self.slots[s as usize] = v;
        }
        if let (Some(s), Some(v)) = (sp.velocity_count, saved_count) {
            self.slots[s as usize] = v;
        }
        Ok(flow)
    }

    fn enter_call(&mut self, pos: Pos) -> RResult<()> {
        if self.call_depth >= self.limits.max_call_depth {
            return Err(Box::new(RenderError::RecursionLimit {
                limit: self.limits.max_call_depth,
                line: pos.line,
                column: pos.col,
            }));
        }
        self.call_depth += 1;
        Ok(())
    }

    fn call_macro(&mut self, m: &'t MacroCall, out: &mut String) -> RResult<Flow> {
        let Some(def) = self.tpl.macros.get(&m.name) else {
            self.push(out, &m.source)?;
            return Ok(Flow::Next);
        };
        let mut args = Vec::with_capacity(m.args.len());
        for a in &m.args {
            args.push(self.eval(a)?);
        }
        self.enter_call(m.pos)?;
        let mut saved = Vec::with_capacity(def.params.len());
        for (i, &p) in def.params.iter().enumerate() {
            let v = args.get(i).cloned().unwrap_or(Val::Null);
            saved.push(std::mem::replace(&mut self.slots[p as usize], v));
        }
        let flow = self.render_block(&def.body, out);
        for (&p, v) in def.params.iter().zip(saved) {
            self.slots[p as usize] = v;
        }
        self.call_depth -= 1;
        // `#break` inside a macro leaves the enclosing #foreach, as in Velocity 1.7.
        flow
    }

    pub(crate) fn render_define(&mut self, id: u32, out: &mut String, pos: Pos) -> RResult<()> {
        self.enter_call(pos)?;
        let r = self.render_block(&self.tpl.defines[id as usize], out);
        self.call_depth -= 1;
        r.map(|_| ())
    }

    // ---- #set --------------------------------------------------------------------------

    fn exec_set(&mut self, s: &'t SetNode) -> RResult<()> {
        let v = self.eval(&s.value)?;
        // Velocity 1.7 (directive.set.null.allowed = false): a null right side leaves the
        // target unchanged.
        if matches!(v, Val::Null) {
            return Ok(());
        }
        let t = &s.target;
        let Some((last, prefix)) = t.mods.split_last() else {
            self.slots[t.root as usize] = v;
            return Ok(());
        };
        if Some(t.root) == self.tpl.special.context {
            self.check_override(t)?;
        }
        let mut cur = self.slots[t.root as usize].clone();
        for m in prefix {
            if matches!(cur, Val::Null) {
                return Ok(());
            }
            cur = self.apply_modifier(cur, m, t.pos)?;
        }
        match (last, cur) {
            (Modifier::Prop(name), Val::Map(id)) => {
                self.heap.maps[id as usize].insert(Arc::from(&**name), v);
            }
            (Modifier::Index(e), target) => {
                let k = self.eval(e)?;
                match target {
                    Val::Map(id) => {
                        if let Some(key) = self.key_of(&k)? {
                            self.heap.maps[id as usize].insert(key, v);
                        }
                    }
                    Val::List(id) => {
                        let len = self.heap.lists[id as usize].items.len();
                        let i = self.list_index(&k, len, t.pos)?;
                        self.heap.lists[id as usize].items[i] = v;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// "Overrides are final": a second `#set` of the same override parameter is an error.
    fn check_override(&mut self, t: &Reference) -> RResult<()> {
        let mut parts = Vec::new();
        for m in &t.mods {
            match m {
                Modifier::Prop(p) => parts.push(p.to_string()),
                Modifier::Index(Expr::Str(s)) => parts.push(s.to_string()),
                _ => return Ok(()),
            }
        }
        let complete = match parts.first().map(String::as_str) {
            Some("requestOverride") => parts.len() == 3,
            Some("responseOverride") => {
                (parts.len() == 2 && parts[1] == "status")
                    || (parts.len() == 3 && parts[1] == "header")
            }
            _ => false,
        };
        if complete {
            let key = parts.join(".");
            if !self.overrides_set.insert(key.clone()) {
                return Err(Box::new(RenderError::OverrideSetTwice {
                    parameter: format!("$context.{key}"),
                }));
            }
        }
        Ok(())
    }

    // ---- expressions -------------------------------------------------------------------

    pub(crate) fn eval(&mut self, e: &'t Expr) -> RResult<Val> {
        self.tick(1)?;
        Ok(match e {
            Expr::Bool(b) => Val::Bool(*b),
            Expr::Int(i) => Val::Int(*i),
            Expr::Float(f) => Val::Float(*f),
            Expr::Str(s) => Val::Str(s.clone()),
            Expr::Interp(block) => {
                let mut s = String::new();
                self.render_block(block, &mut s)?;
                Val::string(s)
            }
            Expr::Ref(r) => self.eval_ref(r)?,
            Expr::List(items) => {
                let mut vals = Vec::with_capacity(items.len());
                for i in items {
                    vals.push(self.eval(i)?);
                }
                self.heap.list(vals, false)
            }
            Expr::Map(pairs) => {
                let mut m = VMap::with_capacity(pairs.len());
                for (k, v) in pairs {
                    let k = self.eval(k)?;
                    let v = self.eval(v)?;
                    if let Some(key) = self.key_of(&k)? {
                        m.insert(key, v);
                    }
                }
                self.heap.map(m)
            }
            Expr::Range(r) => {
                let (a, b) = (self.eval(&r.0)?, self.eval(&r.1)?);
                match (as_int(&a), as_int(&b)) {
                    (Some(a), Some(b)) => {
                        let n = a.abs_diff(b).saturating_add(1);
                        self.tick(n)?;
                        let items: Vec<Val> = if a <= b {
                            (a..=b).map(Val::Int).collect()
                        } else {
                            (b..=a).rev().map(Val::Int).collect()
                        };
                        self.heap.list(items, false)
                    }
                    _ => Val::Null,
                }
            }
            Expr::Not(x) => {
                let v = self.eval(x)?;
                Val::Bool(!truthy(&v))
            }
            Expr::Neg(x) => match self.eval(x)? {
                Val::Int(i) => i.checked_neg().map_or(Val::Float(-(i as f64)), Val::Int),
                Val::Float(f) => Val::Float(-f),
                _ => Val::Null,
            },
            Expr::Bin(op, lr) => {
                let (l, r) = &**lr;
                match op {
                    BinOp::And => {
                        let a = self.eval(l)?;
                        if !truthy(&a) {
                            return Ok(Val::Bool(false));
                        }
                        let b = self.eval(r)?;
                        Val::Bool(truthy(&b))
                    }
                    BinOp::Or => {
                        let a = self.eval(l)?;
                        if truthy(&a) {
                            return Ok(Val::Bool(true));
                        }
                        let b = self.eval(r)?;
                        Val::Bool(truthy(&b))
                    }
                    _ => {
                        let a = self.eval(l)?;
                        let b = self.eval(r)?;
                        self.binop(*op, a, b)?
                    }
                }
            }
        })
    }

    fn binop(&mut self, op: BinOp, a: Val, b: Val) -> RResult<Val> {
        Ok(match op {
            BinOp::Eq => Val::Bool(self.loose_eq(&a, &b)?),
            BinOp::Ne => Val::Bool(!self.loose_eq(&a, &b)?),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let ord = match (num(&a), num(&b)) {
                    (Some(x), Some(y)) => x.partial_cmp(&y),
                    _ => None,
                };
                use std::cmp::Ordering::*;
                Val::Bool(match (op, ord) {
                    (_, None) => false,
                    (BinOp::Lt, Some(o)) => o == Less,
                    (BinOp::Le, Some(o)) => o != Greater,
                    (BinOp::Gt, Some(o)) => o == Greater,
                    (_, Some(o)) => o != Less,
                })
            }
            BinOp::Add if matches!(a, Val::Str(_)) || matches!(b, Val::Str(_)) => {
                let mut s = self.display(&a)?;
                s.push_str(&self.display(&b)?);
                self.check_len(s.len())?;
                self.tick(s.len() as u64 / 256)?;
                Val::string(s)
            }
            _ => arith(op, &a, &b),
        })
    }

    // ---- references --------------------------------------------------------------------

    /// A reference in template text. A final `$util`/`$input` call that yields a string
    /// (`$util.escapeJavaScript(…)`, `$input.json(…)`, …) writes straight into `out`
    /// instead of building a string value first; everything else goes through
    /// [`Renderer::eval_ref`].
    fn write_ref(&mut self, r: &'t Reference, out: &mut String) -> RResult<()> {
        let Some((last, prefix)) = r.mods.split_last() else {
            let v = self.slots[r.root as usize].clone();
            return self.write_val(out, &v, r.pos);
        };
        let mut cur = self.slots[r.root as usize].clone();
        for m in prefix {
            if matches!(cur, Val::Null) {
                return Ok(());
            }
            cur = self.apply_modifier(cur, m, r.pos)?;
        }
        let v = match (&cur, last) {
            (Val::Null, _) => return Ok(()),
            (Val::Util | Val::Input, Modifier::Method(mc)) => {
                let written = self.with_args(mc, |this, args| {
                    this.tick(1)?;
                    if this.write_call(&cur, mc, args, out)? {
                        return Ok(None);
                    }
                    this.call_method(cur, mc, args).map(Some)
                })?;
                match written {
                    Some(v) => v,
                    None => return Ok(()),
                }
            }
            (Val::Input, Modifier::Prop(name)) if &**name == "body" => {
                return self.push(out, self.body_text());
            }
            _ => self.apply_modifier(cur, last, r.pos)?,
        };
        self.write_val(out, &v, r.pos)
    }

    pub(crate) fn eval_ref(&mut self, r: &'t Reference) -> RResult<Val> {
        let mut cur = self.slots[r.root as usize].clone();
        for m in &r.mods {
            if matches!(cur, Val::Null) {
                return Ok(Val::Null);
            }
            cur = self.apply_modifier(cur, m, r.pos)?;
        }
        Ok(cur)
    }

    fn apply_modifier(&mut self, cur: Val, m: &'t Modifier, pos: Pos) -> RResult<Val> {
        match m {
            Modifier::Prop(name) => self.get_prop(cur, name, pos),
            Modifier::Method(mc) => self.with_args(mc, |this, args| {
                this.tick(1)?;
                this.call_method(cur, mc, args)
            }),
            Modifier::Index(e) => {
                let k = self.eval(e)?;
                self.get_index(cur, &k, pos)
            }
        }
    }

    /// Evaluates a call's arguments, left to right, and hands them to `f`; up to two stay
    /// on the stack.
    fn with_args<R>(
        &mut self,
        mc: &'t MethodCall,
        f: impl FnOnce(&mut Self, &[Val]) -> RResult<R>,
    ) -> RResult<R> {
        match mc.args.as_slice() {
            [] => f(self, &[]),
            [a] => {
                let a = self.eval(a)?;
                f(self, &[a])
            }
            [a, b] => {
                let a = self.eval(a)?;
                let b = self.eval(b)?;
                f(self, &[a, b])
            }
            more => {
                let mut args = Vec::with_capacity(more.len());
                for a in more {
                    args.push(self.eval(a)?);
                }
                f(self, &args)
            }
        }
    }

    pub(crate) fn get_index(&mut self, cur: Val, k: &Val, pos: Pos) -> RResult<Val> {
        Ok(match cur {
            Val::List(id) => {
                let len = self.heap.lists[id as usize].items.len();
                let i = self.list_index(k, len, pos)?;
                self.heap.lists[id as usize].items[i].clone()
            }
            Val::Map(id) => match self.key_of(k)? {
                Some(key) => self.heap.maps[id as usize]
                    .get(&key)
                    .cloned()
                    .unwrap_or(Val::Null),
                None => Val::Null,
            },
            _ => Val::Null,
        })
    }

    /// Velocity 1.7 index semantics: negative indexes count from the end; out of range
    /// throws.
    fn list_index(&self, k: &Val, len: usize, pos: Pos) -> RResult<usize> {
        let Some(i) = as_int(k) else {
            return Err(method_err("[]", "index is not a number", pos));
        };
        let adj = if i < 0 { i + len as i64 } else { i };
        if adj < 0 || adj >= len as i64 {
            return Err(method_err(
                "[]",
                &format!("IndexOutOfBoundsException: Index: {i}, Size: {len}"),
                pos,
            ));
        }
        Ok(adj as usize)
    }

    /// Map keys are strings; other keys use their printed form. `None` for null.
    pub(crate) fn key_of(&mut self, k: &Val) -> RResult<Option<Arc<str>>> {
        Ok(match k {
            Val::Null => None,
            Val::Str(s) => Some(s.clone()),
            v => Some(Arc::from(self.display(v)?)),
        })
    }

    // ---- printing ----------------------------------------------------------------------

    fn write_val(&mut self, out: &mut String, v: &Val, pos: Pos) -> RResult<()> {
        match v {
            Val::Null => Ok(()),
            Val::Str(s) => self.push(out, s),
            Val::Block(id) => self.render_define(*id, out, pos),
            v => {
                self.display_into(out, v, 0)?;
                self.check_len(out.len())
            }
        }
    }

    /// Java `String.valueOf(v)` as API Gateway prints it.
    pub(crate) fn display(&mut self, v: &Val) -> RResult<String> {
        match v {
            Val::Str(s) => Ok(s.to_string()),
            Val::Null => Ok(String::new()),
            v => {
                let mut s = String::new();
                self.display_into(&mut s, v, 0)?;
                Ok(s)
            }
        }
    }

    fn display_into(&mut self, out: &mut String, v: &Val, depth: u32) -> RResult<()> {
        if depth > MAX_VALUE_DEPTH {
            return Err(Box::new(RenderError::ValueTooDeep {
                limit: MAX_VALUE_DEPTH,
            }));
        }
        self.tick(1)?;
        self.check_len(out.len())?;
        match v {
            Val::Null => out.push_str(if depth == 0 { "" } else { "null" }),
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Val::Int(i) => write_int(out, *i),
            Val::Float(f) => write_java_double(out, *f),
            Val::Str(s) => out.push_str(s),
            Val::List(id) if self.heap.lists[*id as usize].json => self.json_into(out, v, depth)?,
            Val::List(id) => {
                out.push('[');
                let mut i = 0;
                while let Some(item) = self.heap.lists[*id as usize].items.get(i).cloned() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.display_into(out, &item, depth + 1)?;
                    i += 1;
                }
                out.push(']');
            }
            Val::Map(id) => {
                out.push('{');
                let mut i = 0;
                while let Some((k, item)) = self.heap.maps[*id as usize]
                    .get_index(i)
                    .map(|(k, v)| (k.clone(), v.clone()))
                {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&k);
                    out.push('=');
                    self.display_into(out, &item, depth + 1)?;
                    i += 1;
                }
                out.push('}');
            }
            Val::Entry(e) => {
                out.push_str(&e.0);
                out.push('=');
                self.display_into(out, &e.1, depth + 1)?;
            }
            Val::Input | Val::Util | Val::Foreach(_) => {}
            Val::Block(id) => self.render_define(*id, out, Pos::default())?,
        }
        Ok(())
    }

    /// Compact JSON, as `$input.json` and JSON-derived lists print.
    pub(crate) fn json_into(&mut self, out: &mut String, v: &Val, depth: u32) -> RResult<()> {
        // Fast path over a shared borrow of the arena; only `#define` blocks (which render,
        // and so need `&mut self`) take the general path below.
        let start = out.len();
        let mut steps = 0;
        let fast = write_json_fast(
            &self.heap,
            out,
            v,
            depth,
            self.limits.max_output_bytes,
            &mut steps,
        );
        self.tick(steps)?;
        match fast {
            Ok(()) => return Ok(()),
            Err(FastStop::TooDeep) => {
                return Err(Box::new(RenderError::ValueTooDeep {
                    limit: MAX_VALUE_DEPTH,
                }))
            }
            Err(FastStop::TooLong) => {
                return Err(Box::new(RenderError::OutputTooLarge {
                    limit: self.limits.max_output_bytes,
                }))
            }
            Err(FastStop::Block) => out.truncate(start),
        }
        self.json_slow(out, v, depth)
    }

    fn json_slow(&mut self, out: &mut String, v: &Val, depth: u32) -> RResult<()> {
        if depth > MAX_VALUE_DEPTH {
            return Err(Box::new(RenderError::ValueTooDeep {
                limit: MAX_VALUE_DEPTH,
            }));
        }
        self.tick(1)?;
        self.check_len(out.len())?;
        match v {
            Val::Null | Val::Input | Val::Util | Val::Foreach(_) => out.push_str("null"),
            Val::Bool(_) | Val::Int(_) | Val::Float(_) => self.display_into(out, v, depth)?,
            Val::Str(s) => write_json_string(out, s),
            Val::Block(_) => {
                let s = self.display(v)?;
                write_json_string(out, &s);
            }
            Val::List(id) => {
                out.push('[');
                let mut i = 0;
                while let Some(item) = self.heap.lists[*id as usize].items.get(i).cloned() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.json_slow(out, &item, depth + 1)?;
                    i += 1;
                }
                out.push(']');
            }
            Val::Map(id) => {
                out.push('{');
                let mut i = 0;
                while let Some((k, item)) = self.heap.maps[*id as usize]
                    .get_index(i)
                    .map(|(k, v)| (k.clone(), v.clone()))
                {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(out, &k);
                    out.push(':');
                    self.json_slow(out, &item, depth + 1)?;
                    i += 1;
                }
                out.push('}');
            }
            Val::Entry(e) => {
                out.push('{');
                write_json_string(out, &e.0);
                out.push(':');
                let item = e.1.clone();
                self.json_slow(out, &item, depth + 1)?;
                out.push('}');
            }
        }
        Ok(())
    }

    // ---- equality ----------------------------------------------------------------------

    /// VTL `==`: numbers by value; same kinds by Java `equals`; otherwise by printed form,
    /// where null prints as the empty string (so a missing `$input.path` equals `""`, as on
    /// AWS).
    pub(crate) fn loose_eq(&mut self, a: &Val, b: &Val) -> RResult<bool> {
        if let (Some(x), Some(y)) = (num(a), num(b)) {
            return Ok(x == y);
        }
        let same_kind = matches!(
            (a, b),
            (Val::Null, Val::Null)
                | (Val::Bool(_), Val::Bool(_))
                | (Val::Str(_), Val::Str(_))
                | (Val::List(_), Val::List(_))
                | (Val::Map(_), Val::Map(_))
        );
        if same_kind {
            return self.java_eq(a, b, 0);
        }
        let (x, y) = (self.display(a)?, self.display(b)?);
        Ok(x == y)
    }

    /// Java `a.equals(b)`: kinds must agree (an `Integer` never equals a `Double`).
    pub(crate) fn java_eq(&mut self, a: &Val, b: &Val, depth: u32) -> RResult<bool> {
        if depth > MAX_VALUE_DEPTH {
            return Err(Box::new(RenderError::ValueTooDeep {
                limit: MAX_VALUE_DEPTH,
            }));
        }
        self.tick(1)?;
        Ok(match (a, b) {
            (Val::Null, Val::Null) => true,
            (Val::Bool(x), Val::Bool(y)) => x == y,
            (Val::Int(x), Val::Int(y)) => x == y,
            (Val::Float(x), Val::Float(y)) => x == y,
            (Val::Str(x), Val::Str(y)) => x == y,
            (Val::List(x), Val::List(y)) => {
                if x == y {
                    return Ok(true);
                }
                let (xs, ys) = (
                    self.heap.lists[*x as usize].items.clone(),
                    self.heap.lists[*y as usize].items.clone(),
                );
                if xs.len() != ys.len() {
                    return Ok(false);
                }
                for (p, q) in xs.iter().zip(&ys) {
                    if !self.java_eq(p, q, depth + 1)? {
                        return Ok(false);
                    }
                }
                true
            }
            (Val::Map(x), Val::Map(y)) => {
                if x == y {
                    return Ok(true);
                }
                let xs: Vec<_> = self.heap.maps[*x as usize]
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if xs.len() != self.heap.maps[*y as usize].len() {
                    return Ok(false);
                }
                for (k, v) in xs {
                    let Some(w) = self.heap.maps[*y as usize].get(&k).cloned() else {
                        return Ok(false);
                    };
                    if !self.java_eq(&v, &w, depth + 1)? {
                        return Ok(false);
                    }
                }
                true
            }
            (Val::Entry(x), Val::Entry(y)) => x.0 == y.0 && self.java_eq(&x.1, &y.1, depth + 1)?,
            (Val::Block(_), Val::Block(_)) => {
                let (x, y) = (self.display(a)?, self.display(b)?);
                x == y
            }
            _ => false,
        })
    }
}

pub(crate) enum FastStop {
    Block,
    TooDeep,
    TooLong,
}

/// JSON without `&mut Renderer`: stops at a `#define` block for the caller to redo.
fn write_json_fast(
    heap: &Heap,
    out: &mut String,
    v: &Val,
    depth: u32,
    max_len: usize,
    steps: &mut u64,
) -> Result<(), FastStop> {
    if depth > MAX_VALUE_DEPTH {
        return Err(FastStop::TooDeep);
    }
    if out.len() > max_len {
        return Err(FastStop::TooLong);
    }
    *steps += 1;
    match v {
        Val::Null | Val::Input | Val::Util | Val::Foreach(_) => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Int(i) => write_int(out, *i),
        Val::Float(f) => write_java_double(out, *f),
        Val::Str(s) => write_json_string(out, s),
        Val::Block(_) => return Err(FastStop::Block),
        Val::List(id) => {
            out.push('[');
            for (i, item) in heap.lists[*id as usize].items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_fast(heap, out, item, depth + 1, max_len, steps)?;
            }
            out.push(']');
        }
        Val::Map(id) => {
            out.push('{');
            for (i, (k, item)) in heap.maps[*id as usize].iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                write_json_fast(heap, out, item, depth + 1, max_len, steps)?;
            }
            out.push('}');
        }
        Val::Entry(e) => {
            out.push('{');
            write_json_string(out, &e.0);
            out.push(':');
            write_json_fast(heap, out, &e.1, depth + 1, max_len, steps)?;
            out.push('}');
        }
    }
    Ok(())
}

pub(crate) fn method_err(method: &str, message: &str, pos: Pos) -> Box<RenderError> {
    Box::new(RenderError::Method {
        method: method.to_owned(),
        message: message.to_owned(),
        line: pos.line,
        column: pos.col,
    })
}

/// Velocity 1.7 truthiness: only null and `false` are false (an empty string is true).
pub(crate) fn truthy(v: &Val) -> bool {
    !matches!(v, Val::Null | Val::Bool(false))
}

pub(crate) fn num(v: &Val) -> Option<f64> {
    match v {
        Val::Int(i) => Some(*i as f64),
        Val::Float(f) => Some(*f),
        _ => None,
    }
}

pub(crate) fn as_int(v: &Val) -> Option<i64> {
    match v {
        Val::Int(i) => Some(*i),
        Val::Float(f) if f.is_finite() => Some(*f as i64),
        _ => None,
    }
}

/// Java arithmetic: integer operations stay integral (division truncates, `%` keeps the
/// dividend's sign); a float operand makes the result a double; overflow widens to a double
/// (Velocity widens to `BigInteger`); division by zero and non-numbers give null.
fn arith(op: BinOp, a: &Val, b: &Val) -> Val {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => {
            let (x, y) = (*x, *y);
            let r = match op {
                BinOp::Add => x.checked_add(y),
                BinOp::Sub => x.checked_sub(y),
                BinOp::Mul => x.checked_mul(y),
                BinOp::Div if y == 0 => return Val::Null,
                BinOp::Div => x.checked_div(y),
                BinOp::Mod if y == 0 => return Val::Null,
                BinOp::Mod => x.checked_rem(y),
                _ => return Val::Null,
            };
            match r {
                Some(i) => Val::Int(i),
                None => arith(op, &Val::Float(x as f64), &Val::Float(y as f64)),
            }
        }
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => match op {
                BinOp::Add => Val::Float(x + y),
                BinOp::Sub => Val::Float(x - y),
                BinOp::Mul => Val::Float(x * y),
                BinOp::Div if y == 0.0 => Val::Null,
                BinOp::Div => Val::Float(x / y),
                BinOp::Mod if y == 0.0 => Val::Null,
                BinOp::Mod => Val::Float(x % y),
                _ => Val::Null,
            },
            _ => Val::Null,
        },
    }
}
