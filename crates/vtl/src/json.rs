//! JSON into the render arena (keeping key order), and the JSONPath subset of `$input.json`
//! and `$input.path`: `$`, `.name`, `['name']`/`["name"]` (and unions of names), `[n]`
//! (negative counts from the end), `[a,b]`, `[start:end]`, `[*]`/`.*`, and `..` (recursive
//! descent). A path that does not start with `$` is read as `$.` + path, as Jayway does.
//! Filters (`[?(…)]`) and functions (`.length()`) are not supported and say so.

use crate::render::{Heap, Val, MAX_VALUE_DEPTH};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::sync::Arc;

/// Parses JSON text into the arena; lists are marked as JSON-derived.
pub(crate) fn parse_into(heap: &mut Heap, text: &str) -> Result<Val, String> {
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
}
