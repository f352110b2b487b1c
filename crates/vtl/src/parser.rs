//! Velocity 1.7 parser: template text → [`crate::ast`].
//!
//! Whitespace follows Velocity 1.7's lexer (the engine API Gateway runs):
//! - `#set(…)` swallows the spaces and tabs before it, and the line end after its `)` when only
//!   spaces or tabs stand between them;
//! - every other directive with arguments (`#if(…)`, `#elseif(…)`, `#foreach(…)`,
//!   `#define(…)`, `#macro(…)`, a macro call `#name(…)`) and `#else`/`#end` swallow
//!   `[ \t]*` plus one line end after them, but not the indentation before them;
//! - `## comment` swallows its line end; `#* … *#`, `#break` and `#stop` swallow nothing.
//!
//! So an indented `#if` line leaves its indentation in the output, exactly as on AWS.

use crate::ast::*;
use crate::error::{SyntaxError, VtlError};
use crate::java_regex::JavaRegex;
use std::collections::HashMap;
use std::sync::Arc;

/// Directive and expression nesting allowed in one template (keeps recursion bounded).
pub(crate) const MAX_NESTING: u32 = 64;

/// State shared by the parsers of a template and of the string literals inside it.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) slots: HashMap<Box<str>, u32>,
    pub(crate) slot_names: Vec<Box<str>>,
    pub(crate) macros: HashMap<Box<str>, MacroDef>,
    pub(crate) defines: Vec<Block>,
}

impl Shared {
    pub(crate) fn slot(&mut self, name: &str) -> u32 {
        if let Some(&s) = self.slots.get(name) {
            return s;
        }
        let s = self.slot_names.len() as u32;
        self.slot_names.push(name.into());
        self.slots.insert(name.into(), s);
        s
    }
}

enum Stop {
    Eof,
    End,
    Else,
    ElseIf(Expr),
}

pub(crate) struct Parser<'a, 's> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    depth: u32,
    shared: &'s mut Shared,
    line_starts: Vec<usize>,
    /// Position of `src` inside the template (string literals are parsed on their own).
    base: Pos,
}

type PResult<T> = Result<T, VtlError>;

fn is_ident_start(c: Option<&u8>) -> bool {
    matches!(c, Some(c) if c.is_ascii_alphabetic() || *c == b'_')
}
fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}
fn is_word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

const DIRECTIVES: &[&str] = &[
    "set", "if", "elseif", "else", "end", "foreach", "break", "stop", "define", "macro", "parse",
    "include", "evaluate",
];

impl<'a, 's> Parser<'a, 's> {
    pub(crate) fn new(src: &'a str, shared: &'s mut Shared, base: Pos, depth: u32) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            src.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Parser {
            src,
            b: src.as_bytes(),
            pos: 0,
            depth,
            shared,
            line_starts,
            base,
        }
    }

    pub(crate) fn parse_template(&mut self) -> PResult<Block> {
        let (block, stop, at) = self.nodes()?;
        match stop {
            Stop::Eof => Ok(block),
            Stop::End => Err(self.err_at(
                at,
                SyntaxError::Unmatched {
                    directive: "#end",
                    opener: "#if, #foreach, #define or #macro",
                },
            )),
            Stop::Else | Stop::ElseIf(_) => Err(self.err_at(
                at,
                SyntaxError::Unmatched {
                    directive: "#else/#elseif",
                    opener: "#if",
                },
            )),
        }
    }

    // ---- positions and errors -------------------------------------------------------

    fn pos_of(&self, off: usize) -> Pos {
        let line = self.line_starts.partition_point(|&s| s <= off) - 1;
        let start = self.line_starts[line];
        let col = self.src[start..off.min(self.src.len())].chars().count() as u32 + 1;
        if line == 0 {
            Pos {
                line: self.base.line,
                col: self.base.col + col - 1,
            }
        } else {
            Pos {
                line: self.base.line + line as u32,
                col,
            }
        }
    }

    fn err_at(&self, off: usize, kind: SyntaxError) -> VtlError {
        let p = self.pos_of(off);
        VtlError {
            line: p.line,
            column: p.col,
            kind,
        }
    }

    fn found(&self) -> String {
        match self.src[self.pos..].chars().next() {
            None => "end of template".into(),
            Some('\n') => "end of line".into(),
            Some(c) => format!("{c:?}"),
        }
    }

    fn expected(&self, expected: &'static str) -> VtlError {
        self.err_at(
            self.pos,
            SyntaxError::Expected {
                expected,
                found: self.found(),
            },
        )
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.err_at(self.pos, SyntaxError::TooDeep { limit: MAX_NESTING }));
        }
        Ok(())
    }

    // ---- low-level scanning ------------------------------------------------------------

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }
    fn peek_at(&self, n: usize) -> Option<u8> {
        self.b.get(self.pos + n).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.src[self.pos..].starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// A keyword operator (`and`, `eq`, …) not followed by an identifier character.
    fn eat_word(&mut self, w: &str) -> bool {
        if self.src[self.pos..].starts_with(w)
            && !self
                .b
                .get(self.pos + w.len())
                .is_some_and(|&c| is_ident_char(c))
        {
            self.pos += w.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, s: &'static str) -> PResult<()> {
        if self.eat(s) {
            Ok(())
        } else {
            Err(self.expected(s))
        }
    }

    /// Velocity 1.7 identifiers: a letter or `_`, then letters, digits, `_` and `-`.
    fn ident(&mut self) -> &'a str {
        let start = self.pos;
        self.pos += 1;
        while self.peek().is_some_and(is_ident_char) {
            self.pos += 1;
        }
        &self.src[start..self.pos]
    }

    /// After a directive's `)`, `#else` or `#end`: `[ \t]*` and one line end, if a line end
    /// follows the blanks.
    fn gobble_line_end(&mut self) {
        let mut p = self.pos;
        while matches!(self.b.get(p), Some(b' ' | b'\t')) {
            p += 1;
        }
        match self.b.get(p) {
            Some(b'\n') => self.pos = p + 1,
            Some(b'\r') => {
                self.pos = p + 1;
                if self.b.get(self.pos) == Some(&b'\n') {
                    self.pos += 1;
                }
            }
            _ => {}
        }
    }

    // ---- text and directives -----------------------------------------------------------

    fn nodes(&mut self) -> PResult<(Block, Stop, usize)> {
        let mut nodes = Vec::new();
        let mut text = String::new();
        loop {
            let start = self.pos;
            while self
                .peek()
                .is_some_and(|c| !matches!(c, b'$' | b'#' | b'\\'))
            {
                self.pos += 1;
            }
            text.push_str(&self.src[start..self.pos]);
            let Some(c) = self.peek() else {
                flush(&mut text, &mut nodes);
                return Ok((nodes, Stop::Eof, self.pos));
            };
            match c {
                b'\\' => self.backslashes(&mut text)?,
                b'$' => match self.reference(false)? {
                    Some(r) => {
                        flush(&mut text, &mut nodes);
                        nodes.push(Node::Ref(Box::new(r)));
                    }
                    None => {
                        text.push('$');
                        self.pos += 1;
                    }
                },
                _ => {
                    let at = self.pos;
                    if let Some(stop) = self.hash(&mut text, &mut nodes)? {
                        flush(&mut text, &mut nodes);
                        return Ok((nodes, stop, at));
                    }
                }
            }
        }
    }

    /// A run of backslashes. Before a reference or directive, pairs print as one backslash
    /// and an odd one escapes it (its text is printed as is); elsewhere they are literal.
    fn backslashes(&mut self, text: &mut String) -> PResult<()> {
        let start = self.pos;
        while self.peek() == Some(b'\\') {
            self.pos += 1;
        }
        let n = self.pos - start;
        let escapable = match self.peek() {
            Some(b'$') => {
                let (save, depth) = (self.pos, self.depth);
                let r = self.reference(false);
                let end = self.pos;
                self.pos = save;
                self.depth = depth;
                match r {
                    Ok(Some(_)) => Some(end),
                    _ => None,
                }
            }
            Some(b'#') => self.directive_word_end(),
            _ => None,
        };
        match escapable {
            None => text.push_str(&self.src[start..self.pos]),
            Some(end) => {
                for _ in 0..n / 2 {
                    text.push('\\');
                }
                if n % 2 == 1 {
                    text.push_str(&self.src[self.pos..end]);
                    self.pos = end;
                }
            }
        }
        Ok(())
    }

    /// If a directive name (or a macro call) starts at `#`, the offset after its name.
    fn directive_word_end(&self) -> Option<usize> {
        let mut p = self.pos + 1;
        let braced = self.b.get(p) == Some(&b'{');
        if braced {
            p += 1;
        }
        if !is_ident_start(self.b.get(p)) {
            return None;
        }
        let start = p;
        while self.b.get(p).is_some_and(|&c| is_word_char(c)) {
            p += 1;
        }
        let word = &self.src[start..p];
        if braced {
            if self.b.get(p) != Some(&b'}') {
                return None;
            }
            p += 1;
        }
        (DIRECTIVES.contains(&word) || self.b.get(p) == Some(&b'(')).then_some(p)
    }

    fn hash(&mut self, text: &mut String, nodes: &mut Block) -> PResult<Option<Stop>> {
        let at = self.pos;
        match self.peek_at(1) {
            Some(b'#') => {
                while self.peek().is_some_and(|c| c != b'\n' && c != b'\r') {
                    self.pos += 1;
                }
                let _ = self.eat("\r\n") || self.eat("\n") || self.eat("\r");
                return Ok(None);
            }
            Some(b'*') => {
                return match self.src[self.pos + 2..].find("*#") {
                    Some(end) => {
                        self.pos += 2 + end + 2;
                        Ok(None)
                    }
                    None => Err(self.err_at(at, SyntaxError::Unterminated { what: "#* comment" })),
                };
            }
            Some(b'[') if self.peek_at(2) == Some(b'[') => {
                return match self.src[self.pos + 3..].find("]]#") {
                    Some(end) => {
                        text.push_str(&self.src[self.pos + 3..self.pos + 3 + end]);
                        self.pos += 3 + end + 3;
                        Ok(None)
                    }
                    None => Err(self.err_at(
                        at,
                        SyntaxError::Unterminated {
                            what: "#[[ unparsed block",
                        },
                    )),
                };
            }
            _ => {}
        }
        // `#word` or `#{word}`
        let mut p = self.pos + 1;
        let braced = self.b.get(p) == Some(&b'{');
        if braced {
            p += 1;
        }
        if !is_ident_start(self.b.get(p)) {
            text.push('#');
            self.pos += 1;
            return Ok(None);
        }
        let wstart = p;
        while self.b.get(p).is_some_and(|&c| is_word_char(c)) {
            p += 1;
        }
        let word = &self.src[wstart..p];
        if braced {
            if self.b.get(p) != Some(&b'}') {
                text.push('#');
                self.pos += 1;
                return Ok(None);
            }
            p += 1;
        }
        let is_directive = DIRECTIVES.contains(&word);
        if !is_directive && self.b.get(p) != Some(&b'(') {
            text.push('#');
            self.pos += 1;
            return Ok(None);
        }
        self.pos = p;
        match word {
            "set" => {
                while text.ends_with([' ', '\t']) {
                    text.pop();
                }
                flush(text, nodes);
                let node = self.set_directive(at)?;
                nodes.push(node);
            }
            "if" => {
                flush(text, nodes);
                let node = self.if_directive(at)?;
                nodes.push(node);
            }
            "elseif" => {
                let cond = self.paren_expr()?;
                self.gobble_line_end();
                return Ok(Some(Stop::ElseIf(cond)));
            }
            "else" => {
                self.gobble_line_end();
                return Ok(Some(Stop::Else));
            }
            "end" => {
                self.gobble_line_end();
                return Ok(Some(Stop::End));
            }
            "foreach" => {
                flush(text, nodes);
                let node = self.foreach_directive(at)?;
                nodes.push(node);
            }
            "break" | "stop" => {
                // An optional scope argument, `#break($foreach)`, is accepted and ignored.
                if self.peek() == Some(b'(') {
                    let save = self.pos;
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b'$') {
                        let _ = self.reference(true)?;
                        self.skip_ws();
                    }
                    if !self.eat(")") {
                        self.pos = save;
                    }
                }
                flush(text, nodes);
                nodes.push(if word == "break" {
                    Node::Break
                } else {
                    Node::Stop
                });
            }
            "define" => {
                flush(text, nodes);
                let node = self.define_directive(at)?;
                nodes.push(node);
            }
            "macro" => {
                flush(text, nodes);
                self.macro_directive(at)?;
            }
            "parse" | "include" | "evaluate" => {
                return Err(self.err_at(
                    at,
                    SyntaxError::Unsupported {
                        directive: word.to_owned(),
                    },
                ));
            }
            _ => {
                // A macro call; if its arguments do not parse, it is plain text.
                let name = word.to_owned();
                let depth = self.depth;
                let call = self.macro_call(at, name);
                self.depth = depth;
                match call {
                    Ok(call) => {
                        flush(text, nodes);
                        nodes.push(Node::MacroCall(Box::new(call)));
                    }
                    Err(_) => {
                        self.pos = at + 1;
                        text.push('#');
                    }
                }
            }
        }
        Ok(None)
    }

    fn paren_expr(&mut self) -> PResult<Expr> {
        self.skip_ws();
        self.expect("(")?;
        self.skip_ws();
        let e = self.expr()?;
        self.skip_ws();
        self.expect(")")?;
        Ok(e)
    }

    fn block_until_end(&mut self, directive: &'static str, at: usize) -> PResult<Block> {
        self.enter()?;
        let (block, stop, stop_at) = self.nodes()?;
        self.depth -= 1;
        match stop {
            Stop::End => Ok(block),
            Stop::Eof => Err(self.err_at(at, SyntaxError::Unclosed { directive })),
            Stop::Else | Stop::ElseIf(_) => Err(self.err_at(
                stop_at,
                SyntaxError::Unmatched {
                    directive: "#else/#elseif",
                    opener: "#if",
                },
            )),
        }
    }

    fn set_directive(&mut self, _at: usize) -> PResult<Node> {
        self.skip_blanks();
        self.expect("(")?;
        self.skip_ws();
        let tstart = self.pos;
        let target = match self.reference(true)? {
            Some(r) => r,
            None => return Err(self.expected("a reference such as $name")),
        };
        if matches!(target.mods.last(), Some(Modifier::Method(_))) {
            return Err(self.err_at(tstart, SyntaxError::InvalidSetTarget));
        }
        self.skip_ws();
        self.expect("=")?;
        self.skip_ws();
        let value = self.expr()?;
        self.skip_ws();
        self.expect(")")?;
        self.gobble_line_end();
        Ok(Node::Set(Box::new(SetNode { target, value })))
    }

    fn if_directive(&mut self, at: usize) -> PResult<Node> {
        let cond = self.paren_expr()?;
        self.gobble_line_end();
        self.enter()?;
        let mut branches = Vec::new();
        let mut otherwise = None;
        let (block, mut stop, mut stop_at) = self.nodes()?;
        branches.push((cond, block));
        loop {
            match stop {
                Stop::End => break,
                Stop::Eof => {
                    return Err(self.err_at(at, SyntaxError::Unclosed { directive: "#if" }))
                }
                Stop::ElseIf(cond) => {
                    let (block, s, s_at) = self.nodes()?;
                    branches.push((cond, block));
                    stop = s;
                    stop_at = s_at;
                }
                Stop::Else => {
                    let (block, s, s_at) = self.nodes()?;
                    otherwise = Some(block);
                    match s {
                        Stop::End => break,
                        Stop::Eof => {
                            return Err(self.err_at(at, SyntaxError::Unclosed { directive: "#if" }))
                        }
                        Stop::Else | Stop::ElseIf(_) => {
                            return Err(self.err_at(
                                s_at,
                                SyntaxError::Unmatched {
                                    directive: "#else/#elseif after #else",
                                    opener: "#if",
                                },
                            ))
                        }
                    }
                }
            }
        }
        let _ = stop_at;
        self.depth -= 1;
        Ok(Node::If(Box::new(IfNode {
            branches,
            otherwise,
        })))
    }

    fn plain_var(&mut self) -> PResult<u32> {
        let start = self.pos;
        match self.reference(true)? {
            Some(r) if r.mods.is_empty() => Ok(r.root),
            _ => {
                self.pos = start;
                Err(self.expected("a variable such as $item"))
            }
        }
    }

    fn foreach_directive(&mut self, at: usize) -> PResult<Node> {
        self.skip_ws();
        self.expect("(")?;
        self.skip_ws();
        let var = self.plain_var()?;
        self.skip_ws();
        if !self.eat_word("in") {
            return Err(self.expected("in"));
        }
        self.skip_ws();
        let iter = self.expr()?;
        self.skip_ws();
        self.expect(")")?;
        self.gobble_line_end();
        let body = self.block_until_end("#foreach", at)?;
        Ok(Node::Foreach(Box::new(ForeachNode { var, iter, body })))
    }

    fn define_directive(&mut self, at: usize) -> PResult<Node> {
        self.skip_ws();
        self.expect("(")?;
        self.skip_ws();
        let slot = self.plain_var()?;
        self.skip_ws();
        self.expect(")")?;
        self.gobble_line_end();
        let body = self.block_until_end("#define", at)?;
        let id = self.shared.defines.len() as u32;
        self.shared.defines.push(body);
        Ok(Node::Define { slot, body: id })
    }

    fn macro_directive(&mut self, at: usize) -> PResult<()> {
        self.skip_ws();
        self.expect("(")?;
        self.skip_ws();
        if !is_ident_start(self.b.get(self.pos)) {
            return Err(self.expected("a macro name"));
        }
        let name: Box<str> = self.ident().into();
        let mut params = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(",") {
                continue;
            }
            if self.eat(")") {
                break;
            }
            params.push(self.plain_var()?);
        }
        self.gobble_line_end();
        let body = self.block_until_end("#macro", at)?;
        self.shared.macros.insert(name, MacroDef { params, body });
        Ok(())
    }

    fn macro_call(&mut self, at: usize, name: String) -> PResult<MacroCall> {
        self.expect("(")?;
        let mut args = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(",") {
                continue;
            }
            if self.eat(")") {
                break;
            }
            args.push(self.unary()?);
        }
        self.gobble_line_end();
        Ok(MacroCall {
            name: name.into(),
            args,
            source: self.src[at..self.pos].into(),
            pos: self.pos_of(at),
        })
    }

    // ---- references --------------------------------------------------------------------

    /// `$name`, `$!name`, `${name}`, `$!{name}` with `.prop`, `.method(…)` and `[index]`.
    /// `None` (position unchanged) when the `$` does not start a reference.
    fn reference(&mut self, in_expr: bool) -> PResult<Option<Reference>> {
        let start = self.pos;
        let mut p = start + 1;
        if self.b.get(p) == Some(&b'!') {
            p += 1;
        }
        let formal = self.b.get(p) == Some(&b'{');
        if formal {
            p += 1;
        }
        if !is_ident_start(self.b.get(p)) {
            return Ok(None);
        }
        self.pos = p;
        self.enter()?;
        let name = self.ident();
        let root = self.shared.slot(name);
        let mut mods = Vec::new();
        loop {
            match self.peek() {
                Some(b'.') if is_ident_start(self.b.get(self.pos + 1)) => {
                    self.pos += 1;
                    let mstart = self.pos;
                    let name = self.ident();
                    if self.peek() == Some(b'(') {
                        self.pos += 1;
                        let args = self.call_args()?;
                        let regex = match (name, args.first()) {
                            (
                                "replaceAll" | "replaceFirst" | "matches" | "split",
                                Some(Expr::Str(p)),
                            ) => JavaRegex::new(p).ok().map(Arc::new),
                            _ => None,
                        };
                        let path = match (name, args.as_slice()) {
                            ("json" | "path", [Expr::Str(p)]) => {
                                crate::json::parse_path(p).ok().map(Box::new)
                            }
                            _ => None,
                        };
                        mods.push(Modifier::Method(Box::new(MethodCall {
                            name: name.into(),
                            args,
                            regex,
                            path,
                            pos: self.pos_of(mstart),
                        })));
                    } else {
                        mods.push(Modifier::Prop(name.into()));
                    }
                }
                Some(b'[') => {
                    let (save, depth) = (self.pos, self.depth);
                    self.pos += 1;
                    self.skip_ws();
                    let idx = self.expr();
                    self.depth = depth;
                    self.skip_ws();
                    match idx {
                        Ok(e) if self.peek() == Some(b']') => {
                            self.pos += 1;
                            mods.push(Modifier::Index(e));
                        }
                        Ok(_) if formal || in_expr => return Err(self.expected("]")),
                        Err(e) if formal || in_expr => return Err(e),
                        _ => {
                            self.pos = save;
                            break;
                        }
                    }
                }
                _ => break,
            }
        }
        if formal && !self.eat("}") {
            return Err(self.expected("}"));
        }
        self.depth -= 1;
        Ok(Some(Reference {
            root,
            mods,
            pos: self.pos_of(start),
        }))
    }

    fn call_args(&mut self) -> PResult<Vec<Expr>> {
        let mut args = Vec::new();
        self.skip_ws();
        if self.eat(")") {
            return Ok(args);
        }
        loop {
            self.skip_ws();
            args.push(self.expr()?);
            self.skip_ws();
            if self.eat(",") {
                continue;
            }
            self.expect(")")?;
            return Ok(args);
        }
    }

    // ---- expressions -------------------------------------------------------------------

    pub(crate) fn expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let e = self.or_expr();
        self.depth -= 1;
        e
    }

    fn binary(
        &mut self,
        next: fn(&mut Self) -> PResult<Expr>,
        ops: &[(&str, bool, BinOp)],
    ) -> PResult<Expr> {
        let mut left = next(self)?;
        'outer: loop {
            let save = self.pos;
            self.skip_ws();
            for &(tok, word, op) in ops {
                let hit = if word {
                    self.eat_word(tok)
                } else if tok == "<" || tok == ">" || tok == "!" {
                    // `<` but not `<=`; `!` handled by `!=` entry
                    self.src[self.pos..].starts_with(tok)
                        && !self.src[self.pos + 1..].starts_with('=')
                        && self.eat(tok)
                } else {
                    self.eat(tok)
                };
                if hit {
                    self.skip_ws();
                    let right = next(self)?;
                    left = Expr::Bin(op, Box::new((left, right)));
                    continue 'outer;
                }
            }
            self.pos = save;
            return Ok(left);
        }
    }

    fn or_expr(&mut self) -> PResult<Expr> {
        self.binary(
            Self::and_expr,
            &[("||", false, BinOp::Or), ("or", true, BinOp::Or)],
        )
    }
    fn and_expr(&mut self) -> PResult<Expr> {
        self.binary(
            Self::eq_expr,
            &[("&&", false, BinOp::And), ("and", true, BinOp::And)],
        )
    }
    fn eq_expr(&mut self) -> PResult<Expr> {
        self.binary(
            Self::rel_expr,
            &[
                ("==", false, BinOp::Eq),
                ("!=", false, BinOp::Ne),
                ("eq", true, BinOp::Eq),
                ("ne", true, BinOp::Ne),
            ],
        )
    }
    fn rel_expr(&mut self) -> PResult<Expr> {
        self.binary(
            Self::add_expr,
            &[
                ("<=", false, BinOp::Le),
                (">=", false, BinOp::Ge),
                ("<", false, BinOp::Lt),
                (">", false, BinOp::Gt),
                ("le", true, BinOp::Le),
                ("ge", true, BinOp::Ge),
                ("lt", true, BinOp::Lt),
                ("gt", true, BinOp::Gt),
            ],
        )
    }
    fn add_expr(&mut self) -> PResult<Expr> {
        self.binary(
            Self::mul_expr,
            &[("+", false, BinOp::Add), ("-", false, BinOp::Sub)],
        )
    }
    fn mul_expr(&mut self) -> PResult<Expr> {
        self.binary(
            Self::unary,
            &[
                ("*", false, BinOp::Mul),
                ("/", false, BinOp::Div),
                ("%", false, BinOp::Mod),
            ],
        )
    }

    fn unary(&mut self) -> PResult<Expr> {
        self.skip_ws();
        if self.peek() == Some(b'!') && self.peek_at(1) != Some(b'=') {
            self.pos += 1;
            self.enter()?;
            let e = self.unary();
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e?)));
        }
        if self.eat_word("not") {
            self.enter()?;
            let e = self.unary();
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e?)));
        }
        if self.peek() == Some(b'-') {
            self.pos += 1;
            self.enter()?;
            let e = self.unary();
            self.depth -= 1;
            return Ok(match e? {
                Expr::Int(i) => Expr::Int(i.wrapping_neg()),
                Expr::Float(f) => Expr::Float(-f),
                e => Expr::Neg(Box::new(e)),
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> PResult<Expr> {
        self.skip_ws();
        match self.peek() {
            Some(b'$') => match self.reference(true)? {
                Some(r) => Ok(Expr::Ref(Box::new(r))),
                None => Err(self.expected("an expression")),
            },
            Some(b'"') => self.double_quoted(),
            Some(b'\'') => self.single_quoted(),
            Some(c) if c.is_ascii_digit() => Ok(self.number()),
            Some(b'[') => {
                self.pos += 1;
                self.list_or_range()
            }
            Some(b'{') => {
                self.pos += 1;
                self.map_literal()
            }
            Some(b'(') => {
                self.pos += 1;
                let e = self.expr()?;
                self.skip_ws();
                self.expect(")")?;
                Ok(e)
            }
            _ if self.eat_word("true") => Ok(Expr::Bool(true)),
            _ if self.eat_word("false") => Ok(Expr::Bool(false)),
            _ => Err(self.expected("an expression")),
        }
    }

    fn number(&mut self) -> Expr {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let mut float = false;
        if self.peek() == Some(b'.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            float = true;
            self.pos += 1;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            if matches!(self.peek(), Some(b'e' | b'E')) {
                let save = self.pos;
                self.pos += 1;
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    self.pos += 1;
                }
                if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        self.pos += 1;
                    }
                } else {
                    self.pos = save;
                }
            }
        }
        let text = &self.src[start..self.pos];
        if !float {
            if let Ok(i) = text.parse::<i64>() {
                return Expr::Int(i);
            }
        }
        Expr::Float(text.parse::<f64>().unwrap_or(f64::INFINITY))
    }

    fn list_or_range(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.list_or_range_inner();
        self.depth -= 1;
        r
    }

    fn list_or_range_inner(&mut self) -> PResult<Expr> {
        self.skip_ws();
        if self.eat("]") {
            return Ok(Expr::List(Vec::new()));
        }
        let first = self.expr()?;
        self.skip_ws();
        if self.eat("..") {
            self.skip_ws();
            let last = self.expr()?;
            self.skip_ws();
            self.expect("]")?;
            return Ok(Expr::Range(Box::new((first, last))));
        }
        let mut items = vec![first];
        loop {
            self.skip_ws();
            if self.eat("]") {
                return Ok(Expr::List(items));
            }
            self.expect(",")?;
            self.skip_ws();
            items.push(self.expr()?);
        }
    }

    fn map_literal(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.map_literal_inner();
        self.depth -= 1;
        r
    }

    fn map_literal_inner(&mut self) -> PResult<Expr> {
        let mut pairs = Vec::new();
        self.skip_ws();
        if self.eat("}") {
            return Ok(Expr::Map(pairs));
        }
        loop {
            self.skip_ws();
            let k = self.expr()?;
            self.skip_ws();
            self.expect(":")?;
            self.skip_ws();
            let v = self.expr()?;
            pairs.push((k, v));
            self.skip_ws();
            if self.eat("}") {
                return Ok(Expr::Map(pairs));
            }
            self.expect(",")?;
        }
    }

    /// The raw text between quotes. Velocity 1.7: a doubled quote stands for one, and a
    /// backslash pair (`\"`, `\\`, `\n`, …) does not end the literal but stays as written.
    fn quoted_raw(&mut self, q: u8) -> PResult<(usize, usize)> {
        let open = self.pos;
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek() {
                None => {
                    return Err(self.err_at(
                        open,
                        SyntaxError::Unterminated {
                            what: "string literal",
                        },
                    ))
                }
                Some(b'\\') if self.peek_at(1).is_some() => self.pos += 2,
                Some(c) if c == q => {
                    if self.peek_at(1) == Some(q) {
                        self.pos += 2;
                    } else {
                        let end = self.pos;
                        self.pos += 1;
                        return Ok((start, end));
                    }
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    fn single_quoted(&mut self) -> PResult<Expr> {
        let (s, e) = self.quoted_raw(b'\'')?;
        Ok(Expr::Str(self.src[s..e].replace("''", "'").into()))
    }

    fn double_quoted(&mut self) -> PResult<Expr> {
        let (s, e) = self.quoted_raw(b'"')?;
        let text = unescape_unicode(&self.src[s..e].replace("\"\"", "\""));
        if !text.contains(['$', '#']) {
            return Ok(Expr::Str(text.into()));
        }
        let base = self.pos_of(s);
        let mut sub = Parser::new(&text, self.shared, base, self.depth + 1);
        if sub.depth > MAX_NESTING {
            return Err(self.err_at(s, SyntaxError::TooDeep { limit: MAX_NESTING }));
        }
        let block = sub.parse_template()?;
        Ok(match block.as_slice() {
            [] => Expr::Str("".into()),
            [Node::Text(t)] => Expr::Str(Arc::from(&**t)),
            _ => Expr::Interp(block),
        })
    }
}

fn flush(text: &mut String, nodes: &mut Block) {
    if !text.is_empty() {
        nodes.push(Node::Text(std::mem::take(text).into_boxed_str()));
    }
}

/// `\uXXXX` in a double-quoted literal becomes the character (Velocity 1.7 does this; other
/// backslash sequences stay as written).
fn unescape_unicode(s: &str) -> String {
    if !s.contains("\\u") {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("\\u") {
        out.push_str(&rest[..i]);
        let hex = rest.get(i + 2..i + 6);
        match hex
            .filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32)
        {
            Some(c) => {
                out.push(c);
                rest = &rest[i + 6..];
            }
            None => {
                out.push_str("\\u");
                rest = &rest[i + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}
