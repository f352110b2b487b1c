//! YAML text → a positioned node tree.
//!
//! `yaml-rust2`'s event parser gives every scalar, sequence and mapping its tag and its
//! position; this module folds those events into [`Node`]s that keep `line:col`, so later
//! errors can point at the place in the template. On the way it:
//!
//! - resolves plain scalars the way CloudFormation reads them: `true`/`false`, `null`/`~`/empty,
//!   and numbers; a quoted scalar always stays text. A plain scalar only becomes a number
//!   when it reads back exactly as written (`64`, `1.5`); `3.10`, `0123` or `1e3` stay text,
//!   so an environment variable keeps the digits the user typed;
//! - turns the short intrinsic tags (`!Ref X`, `!GetAtt A.B`, `!Sub …`) into their long form
//!   (`{Ref: X}`, `{Fn::GetAtt: A.B}`), so the evaluator knows only one spelling;
//! - expands anchors and aliases, and YAML 1.1 merge keys (`<<: *base`);
//! - rejects duplicate mapping keys, as CloudFormation does.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting of sequences and mappings accepted (templates rarely pass 15).
const MAX_DEPTH: usize = 100;
/// Most nodes a document may expand to through aliases (guards against "billion laughs").
const MAX_NODES: usize = 2_000_000;
const YAML_CORE_TAG: &str = "tag:yaml.org,2002:";

/// One YAML node with the place it starts (1-based line and column).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) line: usize,
    pub(crate) col: usize,
}

/// A mapping key: always text in CloudFormation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    pub(crate) text: String,
    pub(crate) line: usize,
    pub(crate) col: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in document order.
    Map(Vec<(Key, Node)>),
}

/// A YAML syntax problem at a 1-based line and column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct YamlError {
    pub(crate) line: usize,
    pub(crate) col: usize,
    pub(crate) message: String,
}

impl Node {
    pub(crate) fn new(value: Value, line: usize, col: usize) -> Self {
        Self { value, line, col }
    }

    /// The entries when this node is a mapping.
    pub(crate) fn entries(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value of `key` when this node is a mapping holding it.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// Key and value of `key` when this node is a mapping holding it.
    pub(crate) fn entry(&self, key: &str) -> Option<(&Key, &Node)> {
        self.entries()?
            .iter()
            .find(|(k, _)| k.text == key)
            .map(|(k, v)| (k, v))
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The intrinsic function name and argument when this node is `{Ref: …}` or `{Fn::…: …}`.
    pub(crate) fn intrinsic(&self) -> Option<(&str, &Node)> {
        match self.entries()? {
            [(k, v)] if k.text == "Ref" || k.text.starts_with("Fn::") => Some((&k.text, v)),
            _ => None,
        }
    }

    /// Plain text of a scalar, as CloudFormation would stringify it.
    pub(crate) fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Num(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// This node as JSON, intrinsics left in their long form (for resources that could not
    /// be resolved and are kept as written).
    pub(crate) fn to_raw_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Num(n) => J::Number(n.clone()),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_raw_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.text.clone(), v.to_raw_json()))
                    .collect(),
            ),
        }
    }

    /// How many nodes this tree holds.
    fn size(&self) -> usize {
        1 + match &self.value {
            Value::Seq(items) => items.iter().map(Node::size).sum(),
            Value::Map(entries) => entries.iter().map(|(_, v)| v.size() + 1).sum(),
            _ => 0,
        }
    }
}

/// Parse a whole template. `Ok(None)` means the text holds no document at all.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, true) {
        // A builder error found earlier sits closer to the cause than the parser's.
        return Err(builder.error.unwrap_or_else(|| YamlError {
            line: e.marker().line(),
            col: e.marker().col() + 1,
            message: e.info().to_owned(),
        }));
    }
    if let Some(e) = builder.error {
        return Err(e);
    }
    let mut docs = builder.docs;
    if docs.len() > 1 {
        let second = &docs[1];
        return Err(YamlError {
            line: second.line,
            col: second.col,
            message: "a template holds one YAML document, found a second one".to_owned(),
        });
    }
    Ok(docs.pop())
}

enum Frame {
    Seq {
        items: Vec<Node>,
        anchor: usize,
        tag: Option<Tag>,
        line: usize,
        col: usize,
    },
    Map {
        entries: Vec<(Key, Node)>,
        pending_key: Option<Key>,
        merges: Vec<Node>,
        anchor: usize,
        tag: Option<Tag>,
        line: usize,
        col: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    docs: Vec<Node>,
    nodes: usize,
    error: Option<YamlError>,
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.handle(ev, mark) {
            self.error = Some(e);
        }
    }
}

impl Builder {
    fn handle(&mut self, ev: Event, mark: Marker) -> Result<(), YamlError> {
        let (line, col) = (mark.line(), mark.col() + 1);
        let err = |message: String| YamlError { line, col, message };
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                // Keys are kept as written, before any typing.
                if self.expecting_key() {
                    if tag.as_ref().is_some_and(is_intrinsic_tag) {
                        return Err(err("a mapping key cannot be an intrinsic function".into()));
                    }
                    let key = Key { text, line, col };
                    if anchor > 0 {
                        let node = Node::new(Value::Str(key.text.clone()), line, col);
                        self.anchors.insert(anchor, (node, 1));
                    }
                    return self.set_key(key);
                }
                let node = scalar_node(text, style, tag, line, col)?;
                if anchor > 0 {
                    self.anchors.insert(anchor, (node.clone(), node.size()));
                }
                self.count(1, line, col)?;
                self.push(node)
            }
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(&id).cloned() else {
                    return Err(err("alias names no anchor defined before it".into()));
                };
                self.count(size, line, col)?;
                if self.expecting_key() {
                    let Some(text) = node.scalar_text() else {
                        return Err(err("a mapping key must be a scalar".into()));
                    };
                    return self.set_key(Key { text, line, col });
                }
                self.push(node)
            }
            Event::SequenceStart(anchor, tag) => {
                self.open(line, col)?;
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                    tag,
                    line,
                    col,
                });
                Ok(())
            }
            Event::MappingStart(anchor, tag) => {
                self.open(line, col)?;
                self.stack.push(Frame::Map {
                    entries: Vec::new(),
                    pending_key: None,
                    merges: Vec::new(),
                    anchor,
                    tag,
                    line,
                    col,
                });
                Ok(())
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Seq {
                    items,
                    anchor,
                    tag,
                    line,
                    col,
                }) => {
                    let node = apply_tag(Node::new(Value::Seq(items), line, col), tag)?;
                    self.finish(node, anchor)
                }
                _ => Err(err("unbalanced sequence end".into())),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Map {
                    mut entries,
                    merges,
                    anchor,
                    tag,
                    line,
                    col,
                    ..
                }) => {
                    merge_keys(&mut entries, merges)?;
                    let node = apply_tag(Node::new(Value::Map(entries), line, col), tag)?;
                    self.finish(node, anchor)
                }
                _ => Err(err("unbalanced mapping end".into())),
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => Ok(()),
        }
    }

    fn expecting_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame::Map {
                pending_key: None,
                ..
            })
        )
    }

    fn open(&mut self, line: usize, col: usize) -> Result<(), YamlError> {
        if self.expecting_key() {
            return Err(YamlError {
                line,
                col,
                message: "a mapping key must be a scalar".into(),
            });
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError {
                line,
                col,
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
            });
        }
        Ok(())
    }

    fn count(&mut self, n: usize, line: usize, col: usize) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(YamlError {
                line,
                col,
                message: format!("the document expands to more than {MAX_NODES} nodes"),
            });
        }
        Ok(())
    }

    fn finish(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        if anchor > 0 {
            let size = node.size();
            self.anchors.insert(anchor, (node.clone(), size));
        }
        self.push(node)
    }

    fn set_key(&mut self, key: Key) -> Result<(), YamlError> {
        if let Some(Frame::Map {
            entries,
            pending_key,
            ..
        }) = self.stack.last_mut()
        {
            if key.text != "<<" && entries.iter().any(|(k, _)| k.text == key.text) {
                return Err(YamlError {
                    line: key.line,
                    col: key.col,
                    message: format!("duplicate mapping key {:?}", key.text),
                });
            }
            *pending_key = Some(key);
        }
        Ok(())
    }

    fn push(&mut self, node: Node) -> Result<(), YamlError> {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                merges,
                ..
            }) => match pending_key.take() {
                Some(key) if key.text == "<<" => merges.push(node),
                Some(key) => entries.push((key, node)),
                None => {
                    return Err(YamlError {
                        line: node.line,
                        col: node.col,
                        message: "a mapping key must be a scalar".into(),
                    })
                }
            },
        }
        Ok(())
    }
}

/// Fold `<<` merge sources into a mapping: keys written in the mapping win, then earlier
/// sources win over later ones.
fn merge_keys(entries: &mut Vec<(Key, Node)>, merges: Vec<Node>) -> Result<(), YamlError> {
    for source in merges {
        let maps: Vec<Node> = match source.value {
            Value::Map(_) => vec![source],
            Value::Seq(items) => items,
            _ => {
                return Err(YamlError {
                    line: source.line,
                    col: source.col,
                    message: "a merge key (<<) takes a mapping or a list of mappings".into(),
                })
            }
        };
        for map in maps {
            let Value::Map(more) = map.value else {
                return Err(YamlError {
                    line: map.line,
                    col: map.col,
                    message: "a merge key (<<) takes a mapping or a list of mappings".into(),
                });
            };
            for (k, v) in more {
                if !entries.iter().any(|(e, _)| e.text == k.text) {
                    entries.push((k, v));
                }
            }
        }
    }
    Ok(())
}

/// The long name of a CloudFormation short-form tag (`Ref`, `Fn::Sub`, `Condition`).
fn intrinsic_name(suffix: &str) -> Option<String> {
    const FN: &[&str] = &[
        "And",
        "Base64",
        "Cidr",
        "Equals",
        "FindInMap",
        "GetAZs",
        "GetAtt",
        "If",
        "ImportValue",
        "Join",
        "Length",
        "Not",
        "Or",
        "Select",
        "Split",
        "Sub",
        "ToJsonString",
        "Transform",
    ];
    match suffix {
        "Ref" | "Condition" => Some(suffix.to_owned()),
        s if FN.contains(&s) => Some(format!("Fn::{s}")),
        _ => None,
    }
}

fn is_intrinsic_tag(tag: &Tag) -> bool {
    tag.handle == "!" && intrinsic_name(&tag.suffix).is_some()
}

/// Wrap a tagged node in its long form: `!Sub x` → `{Fn::Sub: x}`.
fn apply_tag(node: Node, tag: Option<Tag>) -> Result<Node, YamlError> {
    let Some(tag) = tag else { return Ok(node) };
    if tag.handle == YAML_CORE_TAG || (tag.handle == "!" && tag.suffix.is_empty()) {
        return Ok(node);
    }
    if tag.handle == "!" {
        if let Some(name) = intrinsic_name(&tag.suffix) {
            let (line, col) = (node.line, node.col);
            let key = Key {
                text: name,
                line,
                col,
            };
            return Ok(Node::new(Value::Map(vec![(key, node)]), line, col));
        }
    }
    Err(YamlError {
        line: node.line,
        col: node.col,
        message: format!("unknown tag {}{}", tag.handle, tag.suffix),
    })
}

fn scalar_node(
    text: String,
    style: TScalarStyle,
    tag: Option<Tag>,
    line: usize,
    col: usize,
) -> Result<Node, YamlError> {
    let bad = |what: &str, text: &str| YamlError {
        line,
        col,
        message: format!("{text:?} is not a valid {what}"),
    };
    let value = match &tag {
        Some(t) if t.handle == YAML_CORE_TAG => match t.suffix.as_str() {
            "str" => Value::Str(text),
            "null" => Value::Null,
            "bool" => match plain_scalar(&text) {
                v @ Value::Bool(_) => v,
                _ => return Err(bad("!!bool", &text)),
            },
            "int" => match text.trim().parse::<i64>() {
                Ok(i) => Value::Num(i.into()),
                Err(_) => return Err(bad("!!int", &text)),
            },
            "float" => match text
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                Some(n) => Value::Num(n),
                None => return Err(bad("!!float", &text)),
            },
            _ => Value::Str(text),
        },
        // An intrinsic's scalar argument is a name or a string, whatever it looks like.
        Some(t) if is_intrinsic_tag(t) => Value::Str(text),
        _ if style == TScalarStyle::Plain => plain_scalar(&text),
        _ => Value::Str(text),
    };
    apply_tag(Node::new(value, line, col), tag)
}

/// Type a plain (unquoted) scalar.
pub(crate) fn plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    if !numeric || !text.bytes().any(|b| b.is_ascii_digit()) {
        return Value::Str(text.to_owned());
    }
    let number = if let Ok(i) = text.parse::<i64>() {
        Some(serde_json::Number::from(i))
    } else if let Ok(u) = text.parse::<u64>() {
        Some(serde_json::Number::from(u))
    } else {
        text.parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
    };
    match number {
        Some(n) if n.to_string() == text => Value::Num(n),
        _ => Value::Str(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Node {
        parse(text).expect("valid yaml").expect("one document")
    }

    #[test]
    fn plain_scalars_are_typed_like_cloudformation() {
        assert_eq!(plain_scalar("64"), Value::Num(64.into()));
        assert_eq!(plain_scalar("-3"), Value::Num((-3).into()));
        assert!(matches!(plain_scalar("1.5"), Value::Num(_)));
        assert_eq!(plain_scalar("true"), Value::Bool(true));
        assert_eq!(plain_scalar("False"), Value::Bool(false));
        assert_eq!(plain_scalar("~"), Value::Null);
        assert_eq!(plain_scalar(""), Value::Null);
        // Text that would not read back as written stays text.
        assert_eq!(plain_scalar("3.10"), Value::Str("3.10".into()));
        assert_eq!(plain_scalar("0123"), Value::Str("0123".into()));
        assert_eq!(plain_scalar("1e3"), Value::Str("1e3".into()));
        assert_eq!(plain_scalar("yes"), Value::Str("yes".into()));
        assert_eq!(plain_scalar("-"), Value::Str("-".into()));
    }

    #[test]
    fn quoted_scalars_stay_text() {
        let n = doc("a: '64'\nb: \"true\"\nc: !!str 12\nd: !!int '7'\n");
        assert_eq!(n.get("a").and_then(Node::as_str), Some("64"));
        assert_eq!(n.get("b").and_then(Node::as_str), Some("true"));
        assert_eq!(n.get("c").and_then(Node::as_str), Some("12"));
        assert_eq!(n.get("d").map(|d| &d.value), Some(&Value::Num(7.into())));
    }

    #[test]
    fn short_tags_become_long_form() {
        let n = doc("a: !Ref X\nb: !GetAtt F.Arn\nc: !Sub [x, {}]\nd: !Condition C\n");
        let (name, arg) = n.get("a").and_then(Node::intrinsic).expect("intrinsic");
        assert_eq!((name, arg.as_str()), ("Ref", Some("X")));
        let (name, _) = n.get("b").and_then(Node::intrinsic).expect("intrinsic");
        assert_eq!(name, "Fn::GetAtt");
        let (name, arg) = n.get("c").and_then(Node::intrinsic).expect("intrinsic");
        assert_eq!(name, "Fn::Sub");
        assert!(matches!(arg.value, Value::Seq(_)));
        assert_eq!(
            n.get("d")
                .and_then(|d| d.get("Condition"))
                .and_then(Node::as_str),
            Some("C")
        );
    }

    #[test]
    fn positions_are_one_based() {
        let n = doc("Resources:\n  Fn:\n    MemorySize: 64\n");
        let m = n
            .get("Resources")
            .and_then(|r| r.get("Fn"))
            .and_then(|f| f.get("MemorySize"))
            .expect("present");
        assert_eq!((m.line, m.col), (3, 17));
        let (k, _) = n.entry("Resources").expect("present");
        assert_eq!((k.line, k.col), (1, 1));
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let n = doc("base: &b {x: 1, y: 2}\ncopy: *b\nmerged:\n  <<: *b\n  y: 3\n");
        assert_eq!(
            n.get("copy").map(Node::to_raw_json),
            n.get("base").map(Node::to_raw_json)
        );
        let merged = n.get("merged").map(Node::to_raw_json).expect("present");
        assert_eq!(merged, serde_json::json!({"x": 1, "y": 3}));
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let e = parse("a: 1\nb: c: d\n").expect_err("invalid");
        assert_eq!((e.line, e.col), (2, 5));
        assert!(
            e.message.contains("mapping values are not allowed"),
            "{}",
            e.message
        );
    }

    #[test]
    fn duplicate_keys_and_unknown_tags_are_rejected() {
        let e = parse("a: 1\na: 2\n").expect_err("duplicate");
        assert_eq!((e.line, e.col), (2, 1));
        assert!(e.message.contains("duplicate"));
        let e = parse("a: !Foo x\n").expect_err("unknown tag");
        assert!(e.message.contains("unknown tag !Foo"), "{}", e.message);
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse(&text).expect_err("too large");
        assert!(e.message.contains("expands to more than"), "{}", e.message);
    }
}
