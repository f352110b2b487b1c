//! The compiled form of a template. Variables are resolved to slots at compile time so the
//! renderer indexes a vector instead of hashing names.

use crate::java_regex::JavaRegex;
use std::sync::Arc;

pub(crate) type Block = Vec<Node>;

/// 1-based line and column (in characters) of a construct in the template source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub(crate) line: u32,
    pub(crate) col: u32,
}

#[derive(Debug)]
pub(crate) enum Node {
    Text(Box<str>),
    Ref(Box<Reference>),
    Set(Box<SetNode>),
    If(Box<IfNode>),
    Foreach(Box<ForeachNode>),
    /// `#break`: leaves the innermost `#foreach` (or the template outside any loop).
    Break,
    /// `#stop`: ends rendering; what was written so far is the output.
    Stop,
    /// `#define($slot)…#end`: binds the block, rendered each time `$slot` is.
    Define {
        slot: u32,
        body: u32,
    },
    MacroCall(Box<MacroCall>),
}

#[derive(Debug)]
pub(crate) struct Reference {
    pub(crate) root: u32,
    pub(crate) mods: Vec<Modifier>,
    pub(crate) pos: Pos,
}

#[derive(Debug)]
pub(crate) enum Modifier {
    Prop(Box<str>),
    Method(Box<MethodCall>),
    Index(Expr),
}

#[derive(Debug)]
pub(crate) struct MethodCall {
    pub(crate) name: Box<str>,
    pub(crate) args: Vec<Expr>,
    /// The first argument compiled as a Java regex, when it is a literal and the method
    /// takes a regex (`replaceAll`, `replaceFirst`, `matches`, `split`).
    pub(crate) regex: Option<Arc<JavaRegex>>,
    /// The first argument parsed as a JSONPath, when it is a literal and the method is
    /// `json` or `path` (of `$input`).
    pub(crate) path: Option<Box<crate::json::Path>>,
    pub(crate) pos: Pos,
}

#[derive(Debug)]
pub(crate) struct SetNode {
    pub(crate) target: Reference,
    pub(crate) value: Expr,
}

#[derive(Debug)]
pub(crate) struct IfNode {
    pub(crate) branches: Vec<(Expr, Block)>,
    pub(crate) otherwise: Option<Block>,
}

#[derive(Debug)]
pub(crate) struct ForeachNode {
    pub(crate) var: u32,
    pub(crate) iter: Expr,
    pub(crate) body: Block,
}

#[derive(Debug)]
pub(crate) struct MacroCall {
    pub(crate) name: Box<str>,
    pub(crate) args: Vec<Expr>,
    /// The call's source text (and the line end it swallowed), written out verbatim when no
    /// macro of that name exists, as Velocity does.
    pub(crate) source: Box<str>,
    pub(crate) pos: Pos,
}

#[derive(Debug)]
pub(crate) struct MacroDef {
    pub(crate) params: Vec<u32>,
    pub(crate) body: Block,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Debug)]
pub(crate) enum Expr {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    /// A double-quoted string with references or directives inside.
    Interp(Block),
    Ref(Box<Reference>),
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Range(Box<(Expr, Expr)>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Bin(BinOp, Box<(Expr, Expr)>),
}
