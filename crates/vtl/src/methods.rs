//! Java methods and properties on values, and API Gateway's `$input` and `$util`.
//!
//! A method that does not exist for the receiver, or whose arguments have the wrong types,
//! evaluates to null (renders empty), as Velocity's introspection does. A method that exists
//! but throws in Java (index out of range, a null argument, a bad regex) is a
//! [`RenderError::Method`], which API Gateway turns into a 500.

use crate::ast::{MethodCall, Pos};
use crate::error::RenderError;
use crate::java_regex::JavaRegex;
use crate::json::{self, Selected};
use crate::render::{as_int, method_err, num, RResult, Renderer, Val};
use base64::Engine as _;
use std::rc::Rc;
use std::sync::Arc;

type MResult = RResult<Option<Val>>;

impl<'t> Renderer<'t> {
    pub(crate) fn call_method(
        &mut self,
        recv: Val,
        mc: &'t MethodCall,
        args: &[Val],
    ) -> RResult<Val> {
        Ok(self
            .dispatch(recv, &mc.name, args, Some(mc), mc.pos)?
            .unwrap_or(Val::Null))
    }

    /// `$x.name`: a map key, an entry's key/value, `$foreach.*`, `$input.body`, else a Java
    /// getter (`getName()`, then `isName()`).
    pub(crate) fn get_prop(&mut self, cur: Val, name: &str, pos: Pos) -> RResult<Val> {
        match &cur {
            Val::Map(id) => {
                return Ok(self.heap.maps[*id as usize]
                    .get(name)
                    .cloned()
                    .unwrap_or(Val::Null))
            }
            Val::Entry(e) => {
                return Ok(match name {
                    "key" => Val::Str(e.0.clone()),
                    "value" => e.1.clone(),
                    _ => Val::Null,
                })
            }
            Val::Foreach(i) => {
                if let Some(v) = self.foreach_method(*i, name) {
                    return Ok(v);
                }
            }
            _ => {}
        }
        match &cur {
            Val::Foreach(_) | Val::Input => {
                if let Some(v) = self.dispatch(cur.clone(), name, &[], None, pos)? {
                    return Ok(v);
                }
            }
            _ => {}
        }
        let mut cap = String::with_capacity(name.len() + 3);
        let mut chars = name.chars();
        if let Some(c) = chars.next() {
            cap.extend(c.to_uppercase());
        }
        cap.push_str(chars.as_str());
        for prefix in ["get", "is"] {
            let m = format!("{prefix}{cap}");
            if let Some(v) = self.dispatch(cur.clone(), &m, &[], None, pos)? {
                return Ok(v);
            }
        }
        Ok(Val::Null)
    }

    fn dispatch(
        &mut self,
        recv: Val,
        name: &str,
        args: &[Val],
        mc: Option<&MethodCall>,
        pos: Pos,
    ) -> MResult {
        match (name, args.len()) {
            ("toString", 0) => {
                return Ok(match recv {
                    Val::Input | Val::Util | Val::Foreach(_) => None,
                    v => Some(Val::string(self.display(&v)?)),
                })
            }
            ("equals", 1) => return Ok(Some(Val::Bool(self.java_eq(&recv, &args[0], 0)?))),
            _ => {}
        }
        match recv {
            Val::Null => Ok(None),
            Val::Str(s) => self.string_method(s, name, args, mc, pos),
            Val::Block(_) => {
                let s = self.display(&recv)?;
                self.string_method(Arc::from(s), name, args, mc, pos)
            }
            Val::Int(_) | Val::Float(_) => Ok(number_method(&recv, name, args)),
            Val::Bool(b) => Ok(match (name, args.len()) {
                ("booleanValue", 0) => Some(Val::Bool(b)),
                _ => None,
            }),
            Val::List(id) => self.list_method(id, name, args, pos),
            Val::Map(id) => self.map_method(id, name, args),
            Val::Entry(e) => Ok(match (name, args.len()) {
                ("getKey", 0) => Some(Val::Str(e.0.clone())),
                ("getValue", 0) => Some(e.1.clone()),
                _ => None,
            }),
            Val::Foreach(i) => Ok(self.foreach_method(i, name)),
            Val::Input => self.input_method(name, args, mc, pos),
            Val::Util => self.util_method(name, args, pos),
        }
    }

    /// A string argument: `Some` for strings (and `#define` blocks), `None` when the type
    /// does not fit the Java signature, an error (NullPointerException) for null.
    fn str_arg(&mut self, v: &Val, method: &str, pos: Pos) -> RResult<Option<Arc<str>>> {
        match v {
            Val::Str(s) => Ok(Some(s.clone())),
            Val::Block(_) => Ok(Some(Arc::from(self.display(v)?))),
            Val::Null => Err(method_err(method, "NullPointerException", pos)),
            _ => Ok(None),
        }
    }

    fn regex(
        &mut self,
        pattern: &str,
        mc: Option<&MethodCall>,
        method: &str,
        pos: Pos,
    ) -> RResult<Arc<JavaRegex>> {
        if let Some(re) = mc.and_then(|m| m.regex.clone()) {
            return Ok(re);
        }
        if let Some(re) = self.regex_cache.get(pattern) {
            return Ok(re.clone());
        }
        self.tick(pattern.len() as u64 * 16)?;
        let re = JavaRegex::new(pattern)
            .map(Arc::new)
            .map_err(|e| method_err(method, &format!("PatternSyntaxException: {e}"), pos))?;
        self.regex_cache.insert(pattern.to_owned(), re.clone());
        Ok(re)
    }

    fn new_string(&mut self, s: String) -> RResult<Option<Val>> {
        self.check_len(s.len())?;
        Ok(Some(Val::string(s)))
    }

    fn string_method(
        &mut self,
        s: Arc<str>,
        name: &str,
        args: &[Val],
        mc: Option<&MethodCall>,
        pos: Pos,
    ) -> MResult {
        macro_rules! s_arg {
            ($i:expr) => {
                match self.str_arg(&args[$i], name, pos)? {
                    Some(x) => x,
                    None => return Ok(None),
                }
            };
        }
        macro_rules! i_arg {
            ($i:expr) => {
                match &args[$i] {
                    Val::Int(i) => *i,
                    Val::Null => return Err(method_err(name, "NullPointerException", pos)),
                    _ => return Ok(None),
                }
            };
        }
        self.tick(s.len() as u64 / 256)?;
        let oob = |what: i64| {
            method_err(
                name,
                &format!(
                    "StringIndexOutOfBoundsException: index {what}, length {}",
                    utf16_len(&s)
                ),
                pos,
            )
        };
        Ok(Some(match (name, args.len()) {
            ("length", 0) => Val::Int(utf16_len(&s) as i64),
            ("isEmpty", 0) => Val::Bool(s.is_empty()),
            ("charAt", 1) => {
                let i = i_arg!(0);
                if i < 0 || i as usize >= utf16_len(&s) {
                    return Err(oob(i));
                }
                Val::string(utf16_slice(&s, i as usize, i as usize + 1))
            }
            ("substring", 1 | 2) => {
                let len = utf16_len(&s) as i64;
                let b = i_arg!(0);
                let e = if args.len() == 2 { i_arg!(1) } else { len };
                if b < 0 || e > len || b > e {
                    return Err(oob(if b < 0 || b > e { b } else { e }));
                }
                Val::string(utf16_slice(&s, b as usize, e as usize))
            }
            ("indexOf" | "lastIndexOf", 1 | 2) => {
                let needle: Arc<str> = match &args[0] {
                    Val::Int(c) => match u32::try_from(*c).ok().and_then(char::from_u32) {
                        Some(c) => Arc::from(c.to_string()),
                        None => return Ok(Some(Val::Int(-1))),
                    },
                    _ => s_arg!(0),
                };
                let from = if args.len() == 2 {
                    Some(i_arg!(1))
                } else {
                    None
                };
                Val::Int(if name == "indexOf" {
                    utf16_index_of(&s, &needle, from.unwrap_or(0))
                } else {
                    utf16_last_index_of(&s, &needle, from.unwrap_or(i64::MAX))
                })
            }
            ("contains", 1) => Val::Bool(s.contains(&*s_arg!(0))),
            ("startsWith", 1) => Val::Bool(s.starts_with(&*s_arg!(0))),
            ("startsWith", 2) => {
                let p = s_arg!(0);
                let off = i_arg!(1);
                let len = utf16_len(&s) as i64;
                Val::Bool(
                    (0..=len).contains(&off)
                        && utf16_slice(&s, off as usize, len as usize).starts_with(&*p),
                )
            }
            ("endsWith", 1) => Val::Bool(s.ends_with(&*s_arg!(0))),
            ("equalsIgnoreCase", 1) => match &args[0] {
                Val::Str(o) => Val::Bool(s.to_lowercase() == o.to_lowercase()),
                _ => Val::Bool(false),
            },
            ("compareTo", 1) => Val::Int(compare_utf16(&s, &s_arg!(0))),
            ("compareToIgnoreCase", 1) => {
                Val::Int(compare_utf16(&s.to_lowercase(), &s_arg!(0).to_lowercase()))
            }
            ("toLowerCase", 0) => return self.new_string(s.to_lowercase()),
            ("toUpperCase", 0) => return self.new_string(s.to_uppercase()),
            ("trim", 0) => Val::str(s.trim_matches(|c: char| c <= ' ')),
            ("concat", 1) => {
                let o = s_arg!(0);
                return self.new_string(format!("{s}{o}"));
            }
            ("replace", 2) => {
                let (from, to) = (s_arg!(0), s_arg!(1));
                if from.is_empty() {
                    self.check_len(s.len() + (s.len() + 1) * to.len())?;
                } else if to.len() > from.len() {
                    let n = s.matches(&*from).count();
                    self.check_len(s.len() + n * (to.len() - from.len()))?;
                }
                return self.new_string(s.replace(&*from, &to));
            }
            ("replaceAll" | "replaceFirst", 2) => {
                let (p, r) = (s_arg!(0), s_arg!(1));
                let re = self.regex(&p, mc, name, pos)?;
                let out = re.replace(&s, &r, name == "replaceAll").map_err(|e| {
                    method_err(name, &format!("IllegalArgumentException: {e}"), pos)
                })?;
                return self.new_string(out);
            }
            ("matches", 1) => {
                let p = s_arg!(0);
                Val::Bool(self.regex(&p, mc, name, pos)?.is_full_match(&s))
            }
            ("split", 1 | 2) => {
                let p = s_arg!(0);
                let limit = if args.len() == 2 { i_arg!(1) } else { 0 };
                let re = self.regex(&p, mc, name, pos)?;
                let parts = re.split(&s, limit).into_iter().map(Val::string).collect();
                self.heap.list(parts, false)
            }
            ("hashCode", 0) => Val::Int(
                s.encode_utf16()
                    .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(u as i32))
                    as i64,
            ),
            _ => return Ok(None),
        }))
    }

    fn list_method(&mut self, id: u32, name: &str, args: &[Val], pos: Pos) -> MResult {
        let idx = id as usize;
        let len = self.heap.lists[idx].items.len();
        let oob = |i: i64, len: usize| {
            method_err(
                name,
                &format!("IndexOutOfBoundsException: Index: {i}, Size: {len}"),
                pos,
            )
        };
        Ok(Some(match (name, args.len()) {
            ("size" | "count", 0) => Val::Int(len as i64),
            ("isEmpty", 0) => Val::Bool(len == 0),
            ("get", 1) => {
                let Val::Int(i) = args[0] else {
                    return Ok(None);
                };
                if i < 0 || i as usize >= len {
                    return Err(oob(i, len));
                }
                self.heap.lists[idx].items[i as usize].clone()
            }
            ("add", 1) => {
                self.tick(1)?;
                self.heap.lists[idx].items.push(args[0].clone());
                Val::Bool(true)
            }
            ("add", 2) => {
                let Val::Int(i) = args[0] else {
                    return Ok(None);
                };
                if i < 0 || i as usize > len {
                    return Err(oob(i, len));
                }
                self.heap.lists[idx]
                    .items
                    .insert(i as usize, args[1].clone());
                Val::Null
            }
            ("addAll", 1) => {
                let Val::List(other) = args[0] else {
                    return Ok(None);
                };
                let items = self.heap.lists[other as usize].items.clone();
                self.tick(items.len() as u64)?;
                let changed = !items.is_empty();
                self.heap.lists[idx].items.extend(items);
                Val::Bool(changed)
            }
            ("set", 2) => {
                let Val::Int(i) = args[0] else {
                    return Ok(None);
                };
                if i < 0 || i as usize >= len {
                    return Err(oob(i, len));
                }
                std::mem::replace(&mut self.heap.lists[idx].items[i as usize], args[1].clone())
            }
            ("remove", 1) => match &args[0] {
                Val::Int(i) => {
                    let i = *i;
                    if i < 0 || i as usize >= len {
                        return Err(oob(i, len));
                    }
                    self.heap.lists[idx].items.remove(i as usize)
                }
                v => match self.position(idx, v)? {
                    Some(p) => {
                        self.heap.lists[idx].items.remove(p);
                        Val::Bool(true)
                    }
                    None => Val::Bool(false),
                },
            },
            ("contains", 1) => Val::Bool(self.position(idx, &args[0])?.is_some()),
            ("indexOf", 1) => Val::Int(self.position(idx, &args[0])?.map_or(-1, |p| p as i64)),
            ("lastIndexOf", 1) => {
                let items = self.heap.lists[idx].items.clone();
                let mut found = -1;
                for (i, item) in items.iter().enumerate().rev() {
                    if self.java_eq(item, &args[0], 0)? {
                        found = i as i64;
                        break;
                    }
                }
                Val::Int(found)
            }
            ("clear", 0) => {
                self.heap.lists[idx].items.clear();
                Val::Null
            }
            ("subList", 2) => {
                let (Val::Int(a), Val::Int(b)) = (&args[0], &args[1]) else {
                    return Ok(None);
                };
                if *a < 0 || *b as usize > len || a > b {
                    return Err(oob(*a, len));
                }
                let items = self.heap.lists[idx].items[*a as usize..*b as usize].to_vec();
                let json = self.heap.lists[idx].json;
                self.heap.list(items, json)
            }
            _ => return Ok(None),
        }))
    }

    fn position(&mut self, list: usize, v: &Val) -> RResult<Option<usize>> {
        let items = self.heap.lists[list].items.clone();
        for (i, item) in items.iter().enumerate() {
            if self.java_eq(item, v, 0)? {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    fn map_method(&mut self, id: u32, name: &str, args: &[Val]) -> MResult {
        let idx = id as usize;
        Ok(Some(match (name, args.len()) {
            ("size", 0) => Val::Int(self.heap.maps[idx].len() as i64),
            ("isEmpty", 0) => Val::Bool(self.heap.maps[idx].is_empty()),
            ("get" | "getOrDefault", 1 | 2) => {
                if (name == "get") != (args.len() == 1) {
                    return Ok(None);
                }
                let found = match self.key_of(&args[0])? {
                    Some(k) => self.heap.maps[idx].get(&k).cloned(),
                    None => None,
                };
                found.unwrap_or_else(|| args.get(1).cloned().unwrap_or(Val::Null))
            }
            ("containsKey", 1) => match self.key_of(&args[0])? {
                Some(k) => Val::Bool(self.heap.maps[idx].contains_key(&k)),
                None => Val::Bool(false),
            },
            ("containsValue", 1) => {
                let values: Vec<Val> = self.heap.maps[idx].values().cloned().collect();
                let mut found = false;
                for v in &values {
                    if self.java_eq(v, &args[0], 0)? {
                        found = true;
                        break;
                    }
                }
                Val::Bool(found)
            }
            ("put" | "putIfAbsent", 2) => {
                self.tick(1)?;
                let Some(k) = self.key_of(&args[0])? else {
                    return Ok(Some(Val::Null));
                };
                let m = &mut self.heap.maps[idx];
                if name == "putIfAbsent" {
                    if let Some(old) = m.get(&k).filter(|v| !matches!(v, Val::Null)) {
                        return Ok(Some(old.clone()));
                    }
                }
                m.insert(k, args[1].clone()).unwrap_or(Val::Null)
            }
            ("putAll", 1) => {
                let Val::Map(other) = args[0] else {
                    return Ok(None);
                };
                let entries: Vec<_> = self.heap.maps[other as usize]
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                self.tick(entries.len() as u64)?;
                self.heap.maps[idx].extend(entries);
                Val::Null
            }
            ("remove", 1) => match self.key_of(&args[0])? {
                Some(k) => self.heap.maps[idx].shift_remove(&k).unwrap_or(Val::Null),
                None => Val::Null,
            },
            ("clear", 0) => {
                self.heap.maps[idx].clear();
                Val::Null
            }
            ("keySet", 0) => {
                let keys = self.heap.maps[idx]
                    .keys()
                    .map(|k| Val::Str(k.clone()))
                    .collect();
                self.tick(self.heap.maps[idx].len() as u64)?;
                self.heap.list(keys, false)
            }
            ("values", 0) => {
                let values = self.heap.maps[idx].values().cloned().collect();
                self.tick(self.heap.maps[idx].len() as u64)?;
                self.heap.list(values, false)
            }
            ("entrySet", 0) => {
                let entries = self.heap.maps[idx]
                    .iter()
                    .map(|(k, v)| Val::Entry(Rc::new((k.clone(), v.clone()))))
                    .collect();
                self.tick(self.heap.maps[idx].len() as u64)?;
                self.heap.list(entries, false)
            }
            _ => return Ok(None),
        }))
    }

    fn foreach_method(&mut self, i: u32, name: &str) -> Option<Val> {
        let st = &self.loops[i as usize];
        Some(match name {
            "hasNext" | "getHasNext" | "isHasNext" => Val::Bool(st.has_next),
            "index" | "getIndex" => Val::Int(st.index as i64),
            "count" | "getCount" => Val::Int(st.index as i64 + 1),
            "first" | "isFirst" | "getFirst" => Val::Bool(st.index == 0),
            "last" | "isLast" | "getLast" => Val::Bool(!st.has_next),
            "parent" | "getParent" => Val::Foreach(st.parent?),
            "topmost" | "getTopmost" => {
                let mut top = i;
                while let Some(p) = self.loops[top as usize].parent {
                    top = p;
                }
                Val::Foreach(top)
            }
            _ => return None,
        })
    }

    // ---- $input ------------------------------------------------------------------------

    pub(crate) fn body_text(&self) -> &'t str {
        // API Gateway treats an empty body as an empty JSON object.
        if self.ctx.body.is_empty() {
            "{}"
        } else {
            &self.ctx.body
        }
    }

    fn parsed_body(&mut self) -> RResult<Val> {
        if let Some(b) = &self.body {
            return Ok(b.clone());
        }
        let text = self.body_text();
        self.tick(text.len() as u64 / 64)?;
        let v = json::parse_into(&mut self.heap, text)
            .map_err(|message| Box::new(RenderError::InvalidJsonBody { message }))?;
        self.body = Some(v.clone());
        Ok(v)
    }

    /// Selects `path` in the body; `compiled` is the same path parsed at compile time, when
    /// it was a literal.
    fn select(&mut self, path: &str, compiled: Option<&json::Path>, pos: Pos) -> RResult<Selected> {
        let jerr = |message: String| -> Box<RenderError> {
            Box::new(RenderError::JsonPath {
                path: path.to_owned(),
                message,
                line: pos.line,
                column: pos.col,
            })
        };
        let parsed;
        let p = match compiled {
            Some(p) => p,
            None => {
                parsed = json::parse_path(path).map_err(jerr)?;
                &parsed
            }
        };
        let root = self.parsed_body()?;
        let sel = json::select(&self.heap, &root, p).map_err(jerr)?;
        if let Selected::Many(v) = &sel {
            self.tick(v.len() as u64)?;
        }
        Ok(sel)
    }

    /// `$input.json(path)` appended to `out`.
    fn write_input_json(
        &mut self,
        path: &str,
        mc: Option<&MethodCall>,
        pos: Pos,
        out: &mut String,
    ) -> RResult<()> {
        match self.select(path, mc.and_then(|m| m.path.as_deref()), pos)? {
            // AWS renders a missing definite path as a quoted empty string.
            Selected::Missing => out.push_str("\"\""),
            Selected::One(v) => self.json_into(out, &v, 0)?,
            Selected::Many(items) => {
                let l = self.heap.list(items, true);
                self.json_into(out, &l, 0)?;
            }
        }
        Ok(())
    }

    /// `$input.params(name)`: path, then query string, then header (exactly, then ignoring
    /// ASCII case); `""` when absent.
    fn input_param(&self, n: &str) -> &'t str {
        let p = &self.ctx.params;
        p.path
            .get(n)
            .or_else(|| p.querystring.get(n))
            .or_else(|| p.header.get(n))
            .or_else(|| {
                p.header
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(n))
                    .map(|(_, v)| v)
            })
            .map_or("", String::as_str)
    }

    /// Writes the result of a `$util` or `$input` call that yields a string straight into
    /// `out`, with the same checks and step counts as evaluating it. `false` when the call
    /// is not one of those; the caller then evaluates it as usual.
    pub(crate) fn write_call(
        &mut self,
        recv: &Val,
        mc: &'t MethodCall,
        args: &[Val],
        out: &mut String,
    ) -> RResult<bool> {
        let (name, pos) = (&*mc.name, mc.pos);
        match (recv, name, args) {
            (Val::Util, "escapeJavaScript" | "urlEncode" | "base64Encode", [arg]) => {
                let shown;
                let s: &str = match arg {
                    Val::Null => return Ok(true),
                    Val::Str(s) => s,
                    v => {
                        shown = self.display(v)?;
                        &shown
                    }
                };
                self.tick(s.len() as u64 / 64)?;
                match name {
                    "escapeJavaScript" => escape_javascript_into(out, s),
                    "urlEncode" => out.extend(form_urlencoded::byte_serialize(s.as_bytes())),
                    _ => base64_into(out, s.as_bytes()),
                }
            }
            (Val::Input, "json", [arg]) => {
                let Some(p) = self.str_arg(arg, name, pos)? else {
                    return Ok(false);
                };
                self.write_input_json(&p, Some(mc), pos, out)?;
            }
            (Val::Input, "params", [arg]) => {
                let Some(n) = self.str_arg(arg, name, pos)? else {
                    return Ok(false);
                };
                out.push_str(self.input_param(&n));
            }
            (Val::Input, "body" | "getBody", []) => out.push_str(self.body_text()),
            _ => return Ok(false),
        }
        self.check_len(out.len())?;
        Ok(true)
    }

    fn input_method(
        &mut self,
        name: &str,
        args: &[Val],
        mc: Option<&MethodCall>,
        pos: Pos,
    ) -> MResult {
        Ok(Some(match (name, args.len()) {
            ("body" | "getBody", 0) => Val::str(self.body_text()),
            ("json", 1) => {
                let Some(p) = self.str_arg(&args[0], name, pos)? else {
                    return Ok(None);
                };
                let mut out = String::with_capacity(self.ctx.body.len() + 2);
                self.write_input_json(&p, mc, pos, &mut out)?;
                return self.new_string(out);
            }
            ("path", 1) => {
                let Some(p) = self.str_arg(&args[0], name, pos)? else {
                    return Ok(None);
                };
                match self.select(&p, mc.and_then(|m| m.path.as_deref()), pos)? {
                    Selected::Missing => Val::Null,
                    Selected::One(v) => v,
                    Selected::Many(items) => self.heap.list(items, true),
                }
            }
            ("params", 0) => {
                if let Some(m) = &self.params_map {
                    return Ok(Some(m.clone()));
                }
                let p = &self.ctx.params;
                let mut all = crate::render::VMap::default();
                let k = &self.tpl.keys;
                for (kind, src) in [
                    (&k.path, &p.path),
                    (&k.querystring, &p.querystring),
                    (&k.header, &p.header),
                ] {
                    let m = src
                        .iter()
                        .map(|(k, v)| (Arc::from(k.as_str()), Val::str(v)))
                        .collect();
                    all.insert(kind.clone(), self.heap.map(m));
                }
                let m = self.heap.map(all);
                self.params_map = Some(m.clone());
                m
            }
            ("params", 1) => {
                let Some(n) = self.str_arg(&args[0], name, pos)? else {
                    return Ok(None);
                };
                Val::str(self.input_param(&n))
            }
            _ => return Ok(None),
        }))
    }

    // ---- $util -------------------------------------------------------------------------

    fn util_method(&mut self, name: &str, args: &[Val], pos: Pos) -> MResult {
        if args.len() != 1 {
            return Ok(None);
        }
        let s = match &args[0] {
            Val::Null => return Ok(Some(Val::Null)),
            Val::Str(s) => s.clone(),
            v => Arc::from(self.display(v)?),
        };
        self.tick(s.len() as u64 / 64)?;
        Ok(Some(match name {
            "escapeJavaScript" => {
                let mut out = String::with_capacity(s.len() + 8);
                escape_javascript_into(&mut out, &s);
                return self.new_string(out);
            }
            "urlEncode" => {
                return self.new_string(form_urlencoded::byte_serialize(s.as_bytes()).collect())
            }
            "urlDecode" => match url_decode(&s) {
                Ok(d) => Val::string(d),
                Err(e) => {
                    return Err(method_err(
                        name,
                        &format!("IllegalArgumentException: {e}"),
                        pos,
                    ))
                }
            },
            "base64Encode" => {
                return self
                    .new_string(base64::engine::general_purpose::STANDARD.encode(s.as_bytes()))
            }
            "base64Decode" => match BASE64_LENIENT.decode(s.trim_end().as_bytes()) {
                Ok(bytes) => Val::string(String::from_utf8_lossy(&bytes).into_owned()),
                Err(e) => {
                    return Err(method_err(
                        name,
                        &format!("IllegalArgumentException: {e}"),
                        pos,
                    ))
                }
            },
            "parseJson" => json::parse_into(&mut self.heap, &s)
                .map_err(|e| method_err(name, &format!("invalid JSON: {e}"), pos))?,
            _ => return Ok(None),
        }))
    }
}

/// Standard base64 with padding, appended to `out`; short inputs go through a small stack
/// buffer (the crate's `encode_string` zeroes a 1 KB one per call).
fn base64_into(out: &mut String, bytes: &[u8]) {
    use base64::engine::general_purpose::STANDARD;
    let mut buf = [0u8; 128];
    match STANDARD.encode_slice(bytes, &mut buf) {
        Ok(n) => out.push_str(std::str::from_utf8(&buf[..n]).unwrap_or_default()),
        Err(_) => STANDARD.encode_string(bytes, out),
    }
}

const BASE64_LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

fn number_method(v: &Val, name: &str, args: &[Val]) -> Option<Val> {
    let f = num(v)?;
    Some(match (name, args.len()) {
        ("intValue", 0) => Val::Int(match v {
            Val::Int(i) => *i as i32 as i64,
            _ => f as i32 as i64,
        }),
        ("longValue", 0) => Val::Int(as_int(v)?),
        ("doubleValue" | "floatValue", 0) => Val::Float(f),
        ("compareTo", 1) => {
            let o = num(&args[0])?;
            Val::Int(f.partial_cmp(&o).map_or(0, |c| c as i64))
        }
        _ => return None,
    })
}

/// commons-lang `StringEscapeUtils.escapeJavaScript`: `'` → `\'`, `"` → `\"`, `\` → `\\`,
/// `/` → `\/`, control characters as `\b \t \n \f \r` or `\u00XX`, and every UTF-16 unit
/// above 0x7F as `\uXXXX` (upper-case hex). Appends to `out`, copying runs that need no
/// escape in one go.
pub(crate) fn escape_javascript_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(off) = bytes[start..]
        .iter()
        .position(|&b| matches!(b, b'\'' | b'"' | b'\\' | b'/') || !(0x20..0x80).contains(&b))
    {
        let i = start + off;
        out.push_str(&s[start..i]);
        let c = s[i..].chars().next().unwrap_or('\0');
        match c {
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c => {
                let mut buf = [0u16; 2];
                for &unit in c.encode_utf16(&mut buf).iter() {
                    out.push_str("\\u");
                    for shift in [12, 8, 4, 0] {
                        out.push(HEX[(unit >> shift) as usize & 15] as char);
                    }
                }
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
}

#[cfg(test)]
fn escape_javascript(s: &str) -> String {
    let mut out = String::new();
    escape_javascript_into(&mut out, s);
    out
}

/// Java `URLDecoder.decode(s, "UTF-8")`: `+` is a space, `%XX` a byte; a malformed escape is
/// an error; invalid UTF-8 becomes U+FFFD.
pub(crate) fn url_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut bytes = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        format!("illegal hex characters in escape (%) pattern at {i}")
                    })?;
                bytes.push(hex);
                i += 2;
            }
            c => bytes.push(c),
        }
        i += 1;
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

// ---- UTF-16 indexing (Java strings count UTF-16 units) ---------------------------------

fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

fn utf16_slice(s: &str, b: usize, e: usize) -> String {
    if s.is_ascii() {
        s[b..e].to_owned()
    } else {
        let units: Vec<u16> = s.encode_utf16().collect();
        String::from_utf16_lossy(&units[b..e])
    }
}

fn utf16_index_of(hay: &str, needle: &str, from: i64) -> i64 {
    let h: Vec<u16> = hay.encode_utf16().collect();
    let n: Vec<u16> = needle.encode_utf16().collect();
    let from = from.clamp(0, h.len() as i64) as usize;
    if n.is_empty() {
        return from as i64;
    }
    (from..=h.len().saturating_sub(n.len()))
        .find(|&i| i + n.len() <= h.len() && h[i..i + n.len()] == n[..])
        .map_or(-1, |i| i as i64)
}

fn utf16_last_index_of(hay: &str, needle: &str, from: i64) -> i64 {
    let h: Vec<u16> = hay.encode_utf16().collect();
    let n: Vec<u16> = needle.encode_utf16().collect();
    if from < 0 || n.len() > h.len() {
        return -1;
    }
    let start = (from as u64).min((h.len() - n.len()) as u64) as usize;
    (0..=start)
        .rev()
        .find(|&i| h[i..i + n.len()] == n[..])
        .map_or(-1, |i| i as i64)
}

fn compare_utf16(a: &str, b: &str) -> i64 {
    let (x, y): (Vec<u16>, Vec<u16>) = (a.encode_utf16().collect(), b.encode_utf16().collect());
    for (p, q) in x.iter().zip(&y) {
        if p != q {
            return *p as i64 - *q as i64;
        }
    }
    x.len() as i64 - y.len() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_javascript_is_commons_lang() {
        assert_eq!(escape_javascript(r#"it's "x""#), r#"it\'s \"x\""#);
        assert_eq!(escape_javascript("a/b\\c\n\t\r"), "a\\/b\\\\c\\n\\t\\r");
        assert_eq!(
            escape_javascript("é😀\u{1}"),
            "\\u00E9\\uD83D\\uDE00\\u0001"
        );
        assert_eq!(escape_javascript("{\"foo\": 123}"), "{\\\"foo\\\": 123}");
    }

    #[test]
    fn url_decode_is_javas() {
        assert_eq!(url_decode("x=a+b%2Bc%C3%A9").as_deref(), Ok("x=a b+cé"));
        assert!(url_decode("100%").is_err());
        assert!(url_decode("%zz").is_err());
    }

    #[test]
    fn utf16_helpers() {
        assert_eq!(utf16_len("a😀"), 3);
        assert_eq!(utf16_index_of("a😀b", "b", 0), 3);
        assert_eq!(utf16_index_of("abc", "", 5), 3);
        assert_eq!(utf16_index_of("abc", "c", -4), 2);
        assert_eq!(utf16_last_index_of("abcabc", "bc", i64::MAX), 4);
        assert_eq!(utf16_last_index_of("abcabc", "bc", 3), 1);
        assert_eq!(utf16_last_index_of("abc", "x", 1), -1);
        assert_eq!(compare_utf16("a", "b"), -1);
        assert_eq!(compare_utf16("ab", "a"), 1);
    }
}
