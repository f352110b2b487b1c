//! JSON into the render arena (keeping key order), and the JSONPath subset of `$input.json`
//! and `$input.path`: `$`, `.name`, `['name']`/`["name"]` (and unions of names), `[n]`
//! (negative counts from the end), `[a,b]`, `[start:end]`, `[*]`/`.*`, and `..` (recursive
//! descent). A path that does not start with `$` is read as `$.` + path, as Jayway does.
//! Filters (`[?(…)]`) and functions (`.length()`) are not supported and say so.

use crate::render::{Heap, Val, MAX_VALUE_DEPTH};
use crate::value::JSON_ESCAPED;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::sync::Arc;

/// Parses JSON text into the arena; lists are marked as JSON-derived.
///
/// A hand-written parser takes the common documents (it allocates only what the arena
/// keeps, each map and list at its final size); anything it is unsure of (invalid JSON,
/// numbers outside `i64` or a double's range, `-0`, surrogate escapes, deep nesting) goes
/// to `serde_json`, which then decides, with its own error messages.
pub(crate) fn parse_into(heap: &mut Heap, text: &str) -> Result<Val, String> {
    let (lists, maps) = (heap.lists.len(), heap.maps.len());
    if let Some(v) = Fast::new(heap, text).document() {
        return Ok(v);
    }
    // Drop whatever the fast path added before it gave up; nothing refers to it.
    heap.lists.truncate(lists);
    heap.maps.truncate(maps);
    parse_with_serde(heap, text)
}

fn parse_with_serde(heap: &mut Heap, text: &str) -> Result<Val, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let mut keys = Keys::with_capacity_and_hasher(16, Default::default());
    let v = Seed {
        heap,
        keys: &mut keys,
    }
    .deserialize(&mut de)
    .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(v)
}

/// Nesting beyond which the fast path leaves a document to `serde_json` (whose limit is 128).
const FAST_MAX_DEPTH: u32 = 100;

/// The fast parser's buffers, kept with the render arena between renders (see
/// `render::Scratch`).
#[derive(Default)]
pub(crate) struct Scratch {
    /// Object keys seen before: documents repeat the same keys, within one document (arrays
    /// of objects) and from one request to the next, and then share one allocation.
    keys: Keys,
    /// Entries and items of the objects and arrays being parsed, innermost last.
    entries: Vec<(Arc<str>, Val)>,
    items: Vec<Val>,
}

/// Most keys [`Scratch::keys`] remembers, and the longest one.
const KEYS_KEPT: usize = 256;
const KEY_KEPT_LEN: usize = 64;

impl Scratch {
    /// `k` as a key, shared with an earlier equal one.
    pub(crate) fn key(&mut self, k: &str) -> Arc<str> {
        if let Some(key) = self.keys.get(k) {
            return key.clone();
        }
        let key: Arc<str> = Arc::from(k);
        if self.keys.len() < KEYS_KEPT && k.len() <= KEY_KEPT_LEN {
            self.keys.insert(key.clone());
        }
        key
    }

    pub(crate) fn emptied(mut self) -> Scratch {
        self.entries.clear();
        self.items.clear();
        if self.entries.capacity() > 4096 {
            self.entries = Vec::new();
        }
        if self.items.capacity() > 4096 {
            self.items = Vec::new();
        }
        self
    }
}

/// The fast path of [`parse_into`]: `None` means "let serde_json decide".
struct Fast<'a, 'h> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    heap: &'h mut Heap,
    scratch: Scratch,
}

impl<'a, 'h> Fast<'a, 'h> {
    fn new(heap: &'h mut Heap, s: &'a str) -> Self {
        let scratch = std::mem::take(&mut heap.json);
        Fast {
            s,
            b: s.as_bytes(),
            i: 0,
            heap,
            scratch,
        }
    }

    fn document(mut self) -> Option<Val> {
        let v = self.value(0);
        self.ws();
        let v = v.filter(|_| self.i == self.b.len());
        self.heap.json = std::mem::take(&mut self.scratch).emptied();
        v
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    fn value(&mut self, depth: u32) -> Option<Val> {
        self.ws();
        match *self.b.get(self.i)? {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => self.string().map(|s| match s {
                Ok(raw) => Val::str(raw),
                Err(decoded) => Val::string(decoded),
            }),
            b't' => self.literal("true", Val::Bool(true)),
            b'f' => self.literal("false", Val::Bool(false)),
            b'n' => self.literal("null", Val::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str, v: Val) -> Option<Val> {
        self.b[self.i..].starts_with(word.as_bytes()).then(|| {
            self.i += word.len();
            v
        })
    }

    fn object(&mut self, depth: u32) -> Option<Val> {
        if depth > FAST_MAX_DEPTH {
            return None;
        }
        self.i += 1;
        let start = self.scratch.entries.len();
        if self.eat(b'}').is_none() {
            loop {
                self.ws();
                let key = self.key()?;
                self.eat(b':')?;
                let v = self.value(depth)?;
                self.scratch.entries.push((key, v));
                self.ws();
                match self.b.get(self.i)? {
                    b',' => self.i += 1,
                    b'}' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        let mut m = self.heap.new_map();
        m.reserve(self.scratch.entries.len() - start);
        for (k, v) in self.scratch.entries.drain(start..) {
            m.insert(k, v);
        }
        Some(self.heap.map(m))
    }

    fn array(&mut self, depth: u32) -> Option<Val> {
        if depth > FAST_MAX_DEPTH {
            return None;
        }
        self.i += 1;
        let start = self.scratch.items.len();
        if self.eat(b']').is_none() {
            loop {
                let v = self.value(depth)?;
                self.scratch.items.push(v);
                self.ws();
                match self.b.get(self.i)? {
                    b',' => self.i += 1,
                    b']' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        let mut items = self.heap.new_items();
        items.extend(self.scratch.items.drain(start..));
        Some(self.heap.list(items, true))
    }

    fn key(&mut self) -> Option<Arc<str>> {
        if self.b.get(self.i) != Some(&b'"') {
            return None;
        }
        match self.string()? {
            Ok(raw) => Some(self.scratch.key(raw)),
            Err(decoded) => Some(Arc::from(decoded)),
        }
    }

    /// A string at `self.i` (the opening quote): `Ok` borrows the text when it has no
    /// escapes, `Err` holds the decoded text when it has.
    fn string(&mut self) -> Option<Result<&'a str, String>> {
        let start = self.i + 1;
        let special = |from: usize| {
            self.b
                .get(from..)?
                .iter()
                .position(|&c| JSON_ESCAPED[c as usize])
                .map(|off| from + off)
        };
        let mut j = special(start)?;
        match self.b[j] {
            b'"' => {
                self.i = j + 1;
                return Some(Ok(&self.s[start..j]));
            }
            b'\\' => {}
            _ => return None,
        }
        let mut out = String::with_capacity(j - start + 16);
        out.push_str(&self.s[start..j]);
        loop {
            let run = j;
            j = special(j)?;
            out.push_str(&self.s[run..j]);
            match self.b[j] {
                b'"' => {
                    self.i = j + 1;
                    return Some(Err(out));
                }
                b'\\' => {
                    let c = match *self.b.get(j + 1)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hex = self.s.get(j + 2..j + 6)?;
                            if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                                return None;
                            }
                            // Surrogates (pairs or lone) are left to serde_json.
                            let c = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
                            j += 4;
                            c
                        }
                        _ => return None,
                    };
                    out.push(c);
                    j += 2;
                }
                _ => return None,
            }
        }
    }

    /// JSON's number grammar; integers that fit in `i64` (except `-0`, which serde_json
    /// reads as a double) and finite, non-zero doubles. Rust's `f64` parsing is correctly
    /// rounded, as serde_json's is with `float_roundtrip`.
    fn number(&mut self) -> Option<Val> {
        let b = self.b;
        let start = self.i;
        let mut j = start;
        let neg = b[j] == b'-';
        if neg {
            j += 1;
        }
        let int_start = j;
        match b.get(j)? {
            b'0' => j += 1,
            b'1'..=b'9' => {
                while b.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
            }
            _ => return None,
        }
        let int_digits = j - int_start;
        let mut float = false;
        if b.get(j) == Some(&b'.') {
            float = true;
            j += 1;
            let d = j;
            while b.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            if j == d {
                return None;
            }
        }
        if let Some(b'e' | b'E') = b.get(j) {
            float = true;
            j += 1;
            if let Some(b'+' | b'-') = b.get(j) {
                j += 1;
            }
            let d = j;
            while b.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            if j == d {
                return None;
            }
        }
        // A digit straight after a leading zero ("01") is invalid JSON.
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let text = &self.s[start..j];
        self.i = j;
        if !float {
            // 18 digits always fit in an i64.
            if int_digits > 18 || (neg && text == "-0") {
                return None;
            }
            let n = b[int_start..j]
                .iter()
                .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
            return Some(Val::Int(if neg { -n } else { n }));
        }
        let f = text.parse::<f64>().ok()?;
        (f.is_finite() && f != 0.0).then_some(Val::Float(f))
    }
}

/// Object keys seen so far in one document: arrays of objects repeat the same keys, which
/// then share one allocation.
type Keys = std::collections::HashSet<Arc<str>, foldhash::fast::RandomState>;

struct Seed<'h> {
    heap: &'h mut Heap,
    keys: &'h mut Keys,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Val;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Val, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Val;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Val, E> {
        Ok(Val::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Val, E> {
        Ok(Val::Int(i))
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Val, E> {
        Ok(i64::try_from(u).map_or(Val::Float(u as f64), Val::Int))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Val, E> {
        Ok(Val::Float(f))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Val, E> {
        Ok(Val::str(s))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Val, E> {
        Ok(Val::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Val, E> {
        Ok(Val::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(64));
        while let Some(v) = seq.next_element_seed(Seed {
            heap: &mut *self.heap,
            keys: &mut *self.keys,
        })? {
            items.push(v);
        }
        Ok(self.heap.list(items, true))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val, A::Error> {
        let mut entries = crate::render::VMap::with_capacity(4);
        while let Some(k) = map.next_key_seed(KeySeed {
            keys: &mut *self.keys,
        })? {
            let v = map.next_value_seed(Seed {
                heap: &mut *self.heap,
                keys: &mut *self.keys,
            })?;
            entries.insert(k, v);
        }
        Ok(self.heap.map(entries))
    }
}

/// Reads an object key straight into an `Arc<str>`, shared with earlier equal keys.
struct KeySeed<'k> {
    keys: &'k mut Keys,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Arc<str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Arc<str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Arc<str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Arc<str>, E> {
        if let Some(k) = self.keys.get(s) {
            return Ok(k.clone());
        }
        let k: Arc<str> = Arc::from(s);
        self.keys.insert(k.clone());
        Ok(k)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Sel {
    Names(Vec<String>),
    Indexes(Vec<i64>),
    Slice(Option<i64>, Option<i64>),
    Wildcard,
}

#[derive(Debug, Clone, PartialEq)]
struct Segment {
    descend: bool,
    sel: Sel,
}

/// A parsed JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path {
    segments: Vec<Segment>,
}

impl Path {
    /// A definite path names at most one node; others always give a list.
    fn definite(&self) -> bool {
        self.segments.iter().all(|s| {
            !s.descend
                && match &s.sel {
                    Sel::Names(n) => n.len() == 1,
                    Sel::Indexes(i) => i.len() == 1,
                    _ => false,
                }
        })
    }
}

pub(crate) fn parse_path(p: &str) -> Result<Path, String> {
    let p = p.trim();
    let owned;
    let rest = if let Some(r) = p.strip_prefix('$') {
        r
    } else if p.starts_with('@') {
        return Err("paths relative to @ are not supported".into());
    } else {
        owned = format!(".{p}");
        &owned
    };
    let b = rest.as_bytes();
    let mut i = 0;
    let mut segments = Vec::new();
    while i < b.len() {
        let mut descend = false;
        match b[i] {
            b'.' => {
                i += 1;
                if b.get(i) == Some(&b'.') {
                    descend = true;
                    i += 1;
                }
                match b.get(i) {
                    Some(b'*') => {
                        i += 1;
                        segments.push(Segment {
                            descend,
                            sel: Sel::Wildcard,
                        });
                        continue;
                    }
                    Some(b'[') if descend => {}
                    Some(_) => {
                        let start = i;
                        while i < b.len() && b[i] != b'.' && b[i] != b'[' {
                            i += 1;
                        }
                        let name = &rest[start..i];
                        if name.ends_with(')') {
                            return Err(format!("functions such as {name} are not supported"));
                        }
                        if name.is_empty() {
                            return Err("empty property name".into());
                        }
                        segments.push(Segment {
                            descend,
                            sel: Sel::Names(vec![name.trim().to_owned()]),
                        });
                        continue;
                    }
                    None => return Err("path ends with '.'".into()),
                }
            }
            b'[' => {}
            c => return Err(format!("unexpected character {:?}", c as char)),
        }
        // bracket selector at b[i] == '['
        i += 1;
        let close = find_close(rest, i).ok_or("unclosed '['")?;
        let inner = rest[i..close].trim();
        i = close + 1;
        segments.push(Segment {
            descend,
            sel: parse_bracket(inner)?,
        });
    }
    Ok(Path { segments })
}

/// The `]` closing a bracket, skipping quoted names.
fn find_close(s: &str, from: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = from;
    let mut quote = None;
    while i < b.len() {
        match (quote, b[i]) {
            (Some(_), b'\\') => i += 1,
            (Some(q), c) if c == q => quote = None,
            (None, b'\'' | b'"') => quote = Some(b[i]),
            (None, b']') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn parse_bracket(inner: &str) -> Result<Sel, String> {
    if inner == "*" {
        return Ok(Sel::Wildcard);
    }
    if inner.starts_with('?') {
        return Err("filter expressions are not supported".into());
    }
    if inner.starts_with('\'') || inner.starts_with('"') {
        let mut names = Vec::new();
        let mut chars = inner.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            let q = chars.next().ok_or("empty name")?;
            if q != '\'' && q != '"' {
                return Err("expected a quoted name".into());
            }
            let mut name = String::new();
            loop {
                match chars.next() {
                    Some('\\') => name.push(chars.next().ok_or("unterminated name")?),
                    Some(c) if c == q => break,
                    Some(c) => name.push(c),
                    None => return Err("unterminated name".into()),
                }
            }
            names.push(name);
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            match chars.next() {
                None => break,
                Some(',') => continue,
                Some(c) => return Err(format!("unexpected {c:?} after a name")),
            }
        }
        return Ok(Sel::Names(names));
    }
    let int = |s: &str| -> Result<Option<i64>, String> {
        let s = s.trim();
        if s.is_empty() {
            Ok(None)
        } else {
            s.parse::<i64>()
                .map(Some)
                .map_err(|_| format!("{s:?} is not an index"))
        }
    };
    if let Some((a, b)) = inner.split_once(':') {
        if b.contains(':') {
            return Err("slice steps are not supported".into());
        }
        return Ok(Sel::Slice(int(a)?, int(b)?));
    }
    let mut idx = Vec::new();
    for part in inner.split(',') {
        idx.push(int(part)?.ok_or("empty index")?);
    }
    Ok(Sel::Indexes(idx))
}

/// What a path selects.
pub(crate) enum Selected {
    One(Val),
    Missing,
    Many(Vec<Val>),
}

pub(crate) fn select(heap: &Heap, root: &Val, path: &Path) -> Result<Selected, String> {
    if path.definite() {
        // At most one node at each step: follow it without collecting.
        let mut cur = root.clone();
        for seg in &path.segments {
            let next = match (&cur, &seg.sel) {
                (Val::Map(id), Sel::Names(names)) => heap.maps[*id as usize].get(&names[0]),
                (Val::List(id), Sel::Indexes(idx)) => {
                    let items = &heap.lists[*id as usize].items;
                    let (i, len) = (idx[0], items.len() as i64);
                    let i = if i < 0 { i + len } else { i };
                    usize::try_from(i).ok().and_then(|i| items.get(i))
                }
                _ => None,
            };
            match next {
                Some(v) => cur = v.clone(),
                None => return Ok(Selected::Missing),
            }
        }
        return Ok(Selected::One(cur));
    }
    let mut cur = vec![root.clone()];
    for seg in &path.segments {
        let mut next = Vec::new();
        for v in &cur {
            if seg.descend {
                descend(heap, v, &seg.sel, &mut next, 0)?;
            } else {
                apply(heap, v, &seg.sel, &mut next);
            }
        }
        cur = next;
    }
    Ok(if path.definite() {
        cur.into_iter()
            .next()
            .map_or(Selected::Missing, Selected::One)
    } else {
        Selected::Many(cur)
    })
}

fn apply(heap: &Heap, v: &Val, sel: &Sel, out: &mut Vec<Val>) {
    match (v, sel) {
        (Val::Map(id), Sel::Names(names)) => {
            let m = &heap.maps[*id as usize];
            out.extend(names.iter().filter_map(|n| m.get(n.as_str()).cloned()));
        }
        (Val::Map(id), Sel::Wildcard) => out.extend(heap.maps[*id as usize].values().cloned()),
        (Val::List(id), Sel::Wildcard) => {
            out.extend(heap.lists[*id as usize].items.iter().cloned())
        }
        (Val::List(id), Sel::Indexes(idx)) => {
            let items = &heap.lists[*id as usize].items;
            let len = items.len() as i64;
            for &i in idx {
                let i = if i < 0 { i + len } else { i };
                if (0..len).contains(&i) {
                    out.push(items[i as usize].clone());
                }
            }
        }
        (Val::List(id), Sel::Slice(a, b)) => {
            let items = &heap.lists[*id as usize].items;
            let len = items.len() as i64;
            let norm = |x: i64| if x < 0 { (x + len).max(0) } else { x.min(len) };
            let start = norm(a.unwrap_or(0));
            let end = norm(b.unwrap_or(len));
            if start < end {
                out.extend(items[start as usize..end as usize].iter().cloned());
            }
        }
        _ => {}
    }
}

fn descend(heap: &Heap, v: &Val, sel: &Sel, out: &mut Vec<Val>, depth: u32) -> Result<(), String> {
    if depth > MAX_VALUE_DEPTH {
        return Err("document too deep for '..'".into());
    }
    apply(heap, v, sel, out);
    let children: Vec<Val> = match v {
        Val::Map(id) => heap.maps[*id as usize].values().cloned().collect(),
        Val::List(id) => heap.lists[*id as usize].items.clone(),
        _ => return Ok(()),
    };
    for c in &children {
        descend(heap, c, sel, out, depth + 1)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Sel {
        Sel::Names(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn parses_the_subset() {
        let p = parse_path("$.a['b c'][0]..d[*].e[1:3]").expect("parses");
        let sels: Vec<_> = p
            .segments
            .iter()
            .map(|s| (s.descend, s.sel.clone()))
            .collect();
        assert_eq!(
            sels,
            vec![
                (false, names(&["a"])),
                (false, names(&["b c"])),
                (false, Sel::Indexes(vec![0])),
                (true, names(&["d"])),
                (false, Sel::Wildcard),
                (false, names(&["e"])),
                (false, Sel::Slice(Some(1), Some(3))),
            ]
        );
        assert!(parse_path("$").expect("root").segments.is_empty());
        assert_eq!(parse_path("a.b"), parse_path("$.a.b"));
        assert!(parse_path("$.a").expect("a").definite());
        assert!(!parse_path("$..a").expect("..a").definite());
        assert!(!parse_path("$.a[0,1]").expect("union").definite());
    }

    #[test]
    fn refuses_what_it_does_not_support() {
        assert!(parse_path("$.a[?(@.b == 1)]")
            .expect_err("filter")
            .contains("filter"));
        assert!(parse_path("$.a.length()")
            .expect_err("fn")
            .contains("functions"));
        assert!(parse_path("$.a[").is_err());
        assert!(parse_path("$.").is_err());
        assert!(parse_path("$x").is_err());
    }

    #[test]
    fn selects() {
        let mut heap = Heap::default();
        let root = parse_into(&mut heap, r#"{"a":{"b":[1,2,3]},"c":{"b":[4]}}"#).expect("json");
        let ints = |s: Selected| match s {
            Selected::Many(v) => v
                .iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join(","),
            Selected::One(v) => format!("one {v:?}"),
            Selected::Missing => "missing".into(),
        };
        let sel = |p: &str| select(&heap, &root, &parse_path(p).expect("path")).expect("select");
        assert_eq!(ints(sel("$.a.b[-1]")), "one Int(3)");
        assert_eq!(ints(sel("$.a.x")), "missing");
        assert_eq!(ints(sel("$.a.b[5]")), "missing");
        assert_eq!(ints(sel("$.a.b[0,2]")), "Int(1),Int(3)");
        assert_eq!(ints(sel("$.a.b[1:]")), "Int(2),Int(3)");
        assert_eq!(ints(sel("$..b[0]")), "Int(1),Int(4)");
        assert_eq!(ints(sel("$.*.b[0]")), "Int(1),Int(4)");
    }

    /// A parsed value in a comparable form: doubles by their bits, maps in key order.
    fn shape(heap: &Heap, v: &Val) -> String {
        match v {
            Val::Float(f) => format!("F{:x}", f.to_bits()),
            Val::List(id) => {
                let l = &heap.lists[*id as usize];
                let items: Vec<_> = l.items.iter().map(|v| shape(heap, v)).collect();
                format!("L{}[{}]", l.json, items.join(","))
            }
            Val::Map(id) => {
                let m = &heap.maps[*id as usize];
                let items: Vec<_> = m
                    .iter()
                    .map(|(k, v)| format!("{k:?}:{}", shape(heap, v)))
                    .collect();
                format!("M{{{}}}", items.join(","))
            }
            v => format!("{v:?}"),
        }
    }

    fn both(text: &str) -> (Result<String, String>, Result<String, String>) {
        let mut fast = Heap::default();
        let mut serde = Heap::default();
        let a = parse_into(&mut fast, text).map(|v| shape(&fast, &v));
        let b = parse_with_serde(&mut serde, text).map(|v| shape(&serde, &v));
        (a, b)
    }

    #[test]
    fn fast_parser_agrees_with_serde_json_on_edge_cases() {
        for text in [
            "0",
            "-0",
            "-0.0",
            "0.0",
            "1e400",
            "-1e400",
            "1e-400",
            "-1e-400",
            "01",
            "1.",
            ".5",
            "1e",
            "1e+",
            "-",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "18446744073709551616",
            "123456789012345678",
            "1234567890123456789",
            "2.2250738585072011e-308",
            "4.9e-324",
            "1.7976931348623157e308",
            "0.1",
            "1E5",
            "1e-5",
            "-12.5e+3",
            r#""\u00e9\ud83d\ude00""#,
            r#""\ud800""#,
            r#""\udc00x""#,
            r#""a\/b\"c\\d\b\f\n\r\t""#,
            r#""\x""#,
            "\"a\u{1}b\"",
            "\"é😀\"",
            r#"{"a":1,"a":2,"b":[],"c":{}}"#,
            " [ 1 , 2 ] ",
            "[1,]",
            "{\"a\":1,}",
            "[1 2]",
            "{\"a\" 1}",
            "{1:2}",
            r#"{a":1}"#,
            r#"{"a":1,b":2}"#,
            "tru",
            "nul",
            "true false",
            "",
            " ",
            "[",
            "{",
            "\"",
            "[[[]]]",
            &"[".repeat(101),
            &format!("{}{}", "[".repeat(101), "]".repeat(101)),
            &format!("{}{}", "[".repeat(129), "]".repeat(129)),
        ] {
            let (a, b) = both(text);
            assert_eq!(a, b, "{text:?}");
        }
    }

    fn atom() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            Just("true".to_string()),
            Just("false".to_string()),
            Just("null".to_string()),
            any::<i64>().prop_map(|i| i.to_string()),
            any::<u64>().prop_map(|i| i.to_string()),
            any::<f64>().prop_map(|f| format!("{f:?}")),
            any::<f64>().prop_map(|f| format!("{f:e}")),
            "-?(0|[1-9][0-9]{0,22})(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?",
            any::<String>().prop_map(|s| serde_json::to_string(&s).expect("a string")),
            "\"([a-z é😀]|\\\\[\"\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4}){0,8}\"",
        ]
    }

    fn doc() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let key = prop_oneof![
            "\"[a-z]{1,3}\"",
            any::<String>().prop_map(|s| serde_json::to_string(&s).expect("a string")),
        ];
        atom().prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                (prop::collection::vec(inner.clone(), 0..6), " ?")
                    .prop_map(|(v, ws)| format!("[{ws}{}]", v.join(&format!(",{ws}")))),
                (
                    prop::collection::vec((key.clone(), inner), 0..6),
                    "[ \n\t]?"
                )
                    .prop_map(|(v, ws)| {
                        let entries: Vec<_> =
                            v.iter().map(|(k, v)| format!("{k}{ws}:{ws}{v}")).collect();
                        format!("{{{ws}{}{ws}}}", entries.join(","))
                    }),
            ]
        })
    }

    proptest::proptest! {
        /// The fast parser gives what serde_json gives, on valid documents and on broken ones
        /// (then with serde_json's error message).
        #[test]
        fn fast_parser_agrees_with_serde_json(text in doc(), cut in proptest::prelude::any::<proptest::sample::Index>(), junk in "[\\[\\]{}:,\" 0-9a-z\\\\-]{0,2}") {
            let (a, b) = both(&text);
            proptest::prop_assert_eq!(a, b, "{}", text);
            let mut broken = text.clone();
            let mut at = cut.index(text.len() + 1);
            while !broken.is_char_boundary(at) {
                at -= 1;
            }
            broken.insert_str(at, &junk);
            let (a, b) = both(&broken);
            proptest::prop_assert_eq!(a, b, "{}", broken);
            let (a, b) = both(&text[..at]);
            proptest::prop_assert_eq!(a, b, "{}", &text[..at]);
        }
    }
}
