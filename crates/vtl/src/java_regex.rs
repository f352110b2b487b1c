//! Java `java.util.regex.Pattern` semantics on the `regex` crate, for `replaceAll`,
//! `replaceFirst`, `matches`, `split` and API Gateway's `selectionPattern`.
//!
//! A Java pattern is translated, not passed through:
//! - `.` does not match line terminators (`\n`, `\r`, U+0085, U+2028, U+2029) unless `(?s)`;
//! - `\d \s \w` (and negations) are ASCII-only, as in Java without `UNICODE_CHARACTER_CLASS`;
//! - `\Q…\E`, `\uXXXX`, `\0oct`, `\cX`, `\e`, `\a`, `\h`, `\v`, `\R` and escaped punctuation
//!   (`\'`, `\/`, `\<`) become their `regex` equivalents;
//! - `matches` is a whole-string match; replacements use Java's `$1`, `${name}`, `\$` syntax.
//!
//! Known gaps (the pattern is refused with an error naming the construct, which the renderer
//! turns into a [`crate::RenderError::Method`]): lookaround, backreferences, atomic groups,
//! possessive quantifiers, `\G`. Approximations: `$` and `\Z` match only at the very end
//! (Java also matches before a final line terminator); `(?i)` folds Unicode case (Java folds
//! ASCII unless `(?u)`); an inline `(?s)` switches dot-all for the rest of the pattern.

use regex::Regex;
use std::sync::OnceLock;

/// A compiled Java regular expression.
#[derive(Debug)]
pub struct JavaRegex {
    source: String,
    translated: String,
    find: Regex,
    full: OnceLock<Result<Regex, String>>,
}

impl JavaRegex {
    /// Compiles a Java pattern; the error says what Java construct is unsupported or wrong.
    pub fn new(pattern: &str) -> Result<JavaRegex, String> {
        let translated = translate(pattern)?;
        let find = Regex::new(&translated).map_err(|e| e.to_string())?;
        Ok(JavaRegex {
            source: pattern.to_owned(),
            translated,
            find,
            full: OnceLock::new(),
        })
    }

    /// The Java source of the pattern.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Java `String.matches` / `Matcher.matches`: the whole input must match.
    pub fn is_full_match(&self, s: &str) -> bool {
        let full = self.full.get_or_init(|| {
            Regex::new(&format!(r"\A(?:{})\z", self.translated)).map_err(|e| e.to_string())
        });
        match full {
            Ok(re) => re.is_match(s),
            Err(_) => false,
        }
    }

    /// Java `Matcher.find`: some substring matches.
    pub fn is_match(&self, s: &str) -> bool {
        self.find.is_match(s)
    }

    /// Java `String.replaceAll` (`all`) or `replaceFirst`.
    pub fn replace(&self, s: &str, replacement: &str, all: bool) -> Result<String, String> {
        let parts = parse_replacement(replacement, &self.find)?;
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for caps in self.find.captures_iter(s) {
            let m = caps.get(0).expect("invariant: group 0 always participates");
            out.push_str(&s[last..m.start()]);
            for part in &parts {
                match part {
                    Part::Lit(l) => out.push_str(l),
                    Part::Group(g) => {
                        if let Some(g) = caps.get(*g) {
                            out.push_str(g.as_str());
                        }
                    }
                }
            }
            last = m.end();
            if !all {
                break;
            }
        }
        out.push_str(&s[last..]);
        Ok(out)
    }

    /// Java `String.split(regex, limit)`: no empty leading piece from a zero-width match at
    /// the start; with `limit == 0` trailing empty pieces are dropped; `limit > 0` caps the
    /// number of pieces.
    pub fn split(&self, s: &str, limit: i64) -> Vec<String> {
        let mut pieces = Vec::new();
        let mut last = 0;
        for m in self.find.find_iter(s) {
            if limit > 0 && pieces.len() as i64 == limit - 1 {
                break;
            }
            if m.end() == 0 {
                continue;
            }
            pieces.push(s[last..m.start()].to_owned());
            last = m.end();
        }
        if pieces.is_empty() && last == 0 {
            return vec![s.to_owned()];
        }
        pieces.push(s[last..].to_owned());
        if limit == 0 {
            while pieces.last().is_some_and(|p| p.is_empty()) {
                pieces.pop();
            }
        }
        pieces
    }
}

enum Part {
    Lit(String),
    Group(usize),
}

/// Java's replacement syntax: `\x` is a literal `x`, `$n` takes as many digits as still name
/// a group, `${name}` a named group; anything else after `$` is an error.
fn parse_replacement(r: &str, re: &Regex) -> Result<Vec<Part>, String> {
    let groups = re.captures_len() - 1;
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => lit.push(n),
                None => return Err("character to be escaped is missing".into()),
            },
            '$' => {
                let group = if chars.peek() == Some(&'{') {
                    chars.next();
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) if c.is_ascii_alphanumeric() => name.push(c),
                            _ => return Err("named capturing group is missing trailing '}'".into()),
                        }
                    }
                    re.capture_names()
                        .position(|n| n == Some(name.as_str()))
                        .ok_or_else(|| format!("No group with name {{{name}}}"))?
                } else {
                    let first = chars
                        .next()
                        .and_then(|c| c.to_digit(10))
                        .ok_or_else(|| "Illegal group reference".to_string())?
                        as usize;
                    if first > groups {
                        return Err(format!("No group {first}"));
                    }
                    let mut n = first;
                    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                        let next = n * 10 + d as usize;
                        if next > groups {
                            break;
                        }
                        n = next;
                        chars.next();
                    }
                    n
                };
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                parts.push(Part::Group(group));
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    Ok(parts)
}

const JAVA_DOT: &str = r"[^\n\r\x{85}\x{2028}\x{2029}]";

fn push_escaped(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    out.push_str(&regex::escape(c.encode_utf8(&mut buf)));
}

/// Translates a Java pattern into `regex` syntax (see the module doc).
pub(crate) fn translate(p: &str) -> Result<String, String> {
    let chars: Vec<char> = p.chars().collect();
    let n = chars.len();
    let mut out = String::with_capacity(p.len() + 8);
    let mut i = 0;
    let mut class_depth = 0u32;
    let mut dotall = false;
    while i < n {
        let c = chars[i];
        i += 1;
        let in_class = class_depth > 0;
        match c {
            '\\' => {
                let Some(&d) = chars.get(i) else {
                    return Err("unexpected end of pattern after '\\'".into());
                };
                i += 1;
                let class = |pos: &str, neg: &str| -> String {
                    if in_class {
                        format!("[:{}{}:]", neg, pos)
                    } else {
                        format!("[[:{}{}:]]", neg, pos)
                    }
                };
                match d {
                    'd' => out.push_str(&class("digit", "")),
                    'D' => out.push_str(&class("digit", "^")),
                    's' => out.push_str(&class("space", "")),
                    'S' => out.push_str(&class("space", "^")),
                    'w' => out.push_str(&class("word", "")),
                    'W' => out.push_str(&class("word", "^")),
                    'b' | 'B' | 'A' | 'z' | 'n' | 't' | 'r' | 'f' => {
                        out.push('\\');
                        out.push(d);
                    }
                    'Z' => out.push_str(r"\z"),
                    'e' => out.push_str(r"\x1B"),
                    'a' => out.push_str(r"\x07"),
                    'h' | 'H' => {
                        let set =
                            r" \t\xA0\x{1680}\x{180e}\x{2000}-\x{200a}\x{202f}\x{205f}\x{3000}";
                        out.push_str(&if d == 'h' {
                            format!("[{set}]")
                        } else {
                            format!("[^{set}]")
                        });
                    }
                    'v' | 'V' => {
                        let set = r"\n\x0B\f\r\x{85}\x{2028}\x{2029}";
                        out.push_str(&if d == 'v' {
                            format!("[{set}]")
                        } else {
                            format!("[^{set}]")
                        });
                    }
                    'R' if !in_class => {
                        out.push_str(r"(?:\r\n|[\n\x0B\f\r\x{85}\x{2028}\x{2029}])");
                    }
                    '0' => {
                        let mut v = 0u32;
                        let mut digits = 0;
                        while digits < 3 {
                            match chars.get(i).and_then(|c| c.to_digit(8)) {
                                Some(o) if v * 8 + o <= 0o377 => {
                                    v = v * 8 + o;
                                    i += 1;
                                    digits += 1;
                                }
                                _ => break,
                            }
                        }
                        if digits == 0 {
                            return Err("illegal octal escape sequence".into());
                        }
                        out.push_str(&format!(r"\x{{{v:X}}}"));
                    }
                    'x' => {
                        out.push_str(r"\x");
                    }
                    'u' => {
                        let hex: String = chars.iter().skip(i).take(4).collect();
                        if hex.len() != 4 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                            return Err("illegal Unicode escape sequence".into());
                        }
                        i += 4;
                        out.push_str(&format!(r"\x{{{hex}}}"));
                    }
                    'c' => {
                        let Some(&x) = chars.get(i) else {
                            return Err("illegal control escape sequence".into());
                        };
                        i += 1;
                        let ctl = char::from_u32((x as u32) ^ 64).unwrap_or('\0');
                        push_escaped(&mut out, ctl);
                    }
                    'Q' => {
                        while i < n {
                            if chars[i] == '\\' && chars.get(i + 1) == Some(&'E') {
                                i += 2;
                                break;
                            }
                            push_escaped(&mut out, chars[i]);
                            i += 1;
                        }
                    }
                    'E' => {}
                    'p' | 'P' => {
                        let (name, used) = if chars.get(i) == Some(&'{') {
                            let end = chars[i..]
                                .iter()
                                .position(|&c| c == '}')
                                .ok_or("unclosed character family")?;
                            (chars[i + 1..i + end].iter().collect::<String>(), end + 1)
                        } else {
                            (chars.get(i).map(|c| c.to_string()).unwrap_or_default(), 1)
                        };
                        i += used;
                        let posix = match name.as_str() {
                            "Lower" => Some("lower"),
                            "Upper" => Some("upper"),
                            "ASCII" => Some("ascii"),
                            "Alpha" => Some("alpha"),
                            "Digit" => Some("digit"),
                            "Alnum" => Some("alnum"),
                            "Punct" => Some("punct"),
                            "Graph" => Some("graph"),
                            "Print" => Some("print"),
                            "Blank" => Some("blank"),
                            "Cntrl" => Some("cntrl"),
                            "XDigit" => Some("xdigit"),
                            "Space" => Some("space"),
                            _ => None,
                        };
                        match posix {
                            Some(cls) => out.push_str(&class(cls, if d == 'P' { "^" } else { "" })),
                            None => {
                                let name = name.strip_prefix("Is").unwrap_or(&name);
                                out.push('\\');
                                out.push(d);
                                out.push('{');
                                out.push_str(name);
                                out.push('}');
                            }
                        }
                    }
                    '1'..='9' | 'k' => {
                        return Err("backreferences are not supported".into());
                    }
                    'G' => return Err(r"\G is not supported".into()),
                    d if d.is_ascii_alphanumeric() => {
                        return Err(format!("illegal/unsupported escape sequence \\{d}"));
                    }
                    d => push_escaped(&mut out, d),
                }
            }
            '[' => {
                class_depth += 1;
                out.push('[');
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
            }
            ']' if in_class => {
                class_depth -= 1;
                out.push(']');
            }
            '~' if in_class => out.push_str(r"\~"),
            '-' if in_class && chars.get(i) == Some(&'-') => out.push_str(r"\-"),
            '.' if !in_class => {
                if dotall {
                    out.push_str(r"(?s:.)");
                } else {
                    out.push_str(JAVA_DOT);
                }
            }
            '(' if !in_class && chars.get(i) == Some(&'?') => {
                let rest: String = chars[i + 1..].iter().take(3).collect();
                if rest.starts_with('=')
                    || rest.starts_with('!')
                    || rest.starts_with("<=")
                    || rest.starts_with("<!")
                {
                    return Err("lookaround is not supported".into());
                }
                if rest.starts_with('>') {
                    return Err("atomic groups are not supported".into());
                }
                if rest.starts_with('<') {
                    out.push_str("(?<");
                    i += 2;
                    continue;
                }
                // Inline flags: keep i, m, s, x; drop Java-only d, u, U.
                let mut j = i + 1;
                let mut flags = String::new();
                let mut negated = false;
                while let Some(&f) = chars.get(j) {
                    match f {
                        'i' | 'm' | 's' | 'x' => {
                            if f == 's' && !negated {
                                dotall = true;
                            }
                            flags.push(f);
                        }
                        '-' => {
                            negated = true;
                            flags.push(f);
                        }
                        'd' | 'u' | 'U' => {}
                        ')' | ':' => break,
                        _ => return Err(format!("unknown inline modifier '{f}'")),
                    }
                    j += 1;
                }
                if flags.ends_with('-') {
                    flags.pop();
                }
                match chars.get(j) {
                    Some(&')') => {
                        if !flags.is_empty() {
                            out.push_str(&format!("(?{flags})"));
                        }
                    }
                    Some(_) => out.push_str(&format!("(?{flags}:")),
                    None => return Err("unclosed group".into()),
                }
                i = j + 1;
            }
            '*' | '+' | '?' | '}' if !in_class => {
                out.push(c);
                if chars.get(i) == Some(&'+') {
                    return Err("possessive quantifiers are not supported".into());
                }
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(p: &str) -> JavaRegex {
        JavaRegex::new(p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    #[test]
    fn dot_does_not_match_line_terminators() {
        assert!(!re(".*").is_full_match("a\nb"));
        assert!(!re(".*").is_full_match("a\rb"));
        assert!(re("(\\n|.)*").is_full_match("a\nb"));
        assert!(re("(?s).*").is_full_match("a\nb"));
        assert!(re("[^x]*").is_full_match("a\nb"));
    }

    #[test]
    fn matches_is_whole_string() {
        assert!(re("4\\d{2}").is_full_match("404"));
        assert!(!re("4\\d{2}").is_full_match("4041"));
        assert!(!re("4\\d{2}").is_full_match("x404"));
        assert!(re("4\\d{2}").is_match("x404"));
        assert!(re("a|ab").is_full_match("ab"));
        assert!(re(".*\\[500\\].*").is_full_match("oops [500] bad"));
    }

    #[test]
    fn shorthand_classes_are_ascii() {
        assert!(!re("\\d").is_full_match("٣"));
        assert!(!re("\\w+").is_full_match("héllo"));
        assert!(re("[\\w-]+").is_full_match("a-b_c"));
        assert!(re("\\s").is_full_match("\u{0B}"));
        assert!(!re("\\s").is_full_match("\u{A0}"));
    }

    #[test]
    fn escaped_punctuation_is_literal() {
        assert_eq!(
            re("\\\\'").replace("it\\'s", "'", true).as_deref(),
            Ok("it's")
        );
        assert!(re("\\'").is_full_match("'"));
        assert!(re("\\/\\<\\>").is_full_match("/<>"));
        assert!(re("\\Q.*\\E").is_full_match(".*"));
        assert!(re("\\u0041\\x42\\0103").is_full_match("ABC"));
        assert!(re("\\t\\cJ").is_full_match("\t\n"));
    }

    #[test]
    fn replacement_syntax_is_javas() {
        let r = re("(\\w)(\\d)");
        assert_eq!(r.replace("a1 b2", "$2$1", true).as_deref(), Ok("1a 2b"));
        assert_eq!(r.replace("a1 b2", "$2$1", false).as_deref(), Ok("1a b2"));
        assert_eq!(r.replace("a1", "\\$1", true).as_deref(), Ok("$1"));
        assert_eq!(r.replace("a1", "$21", true).as_deref(), Ok("11"));
        assert!(r.replace("a1", "$3", true).is_err());
        assert!(r.replace("a1", "$x", true).is_err());
        let named = re("(?<w>[a-z]+)");
        assert_eq!(named.replace("abc", "<${w}>", true).as_deref(), Ok("<abc>"));
        assert_eq!(re("").replace("abc", "-", true).as_deref(), Ok("-a-b-c-"));
    }

    #[test]
    fn split_follows_java() {
        assert_eq!(re(",").split("a,b,,c,,", 0), ["a", "b", "", "c"]);
        assert_eq!(re(",").split("a,b,,c,,", -1), ["a", "b", "", "c", "", ""]);
        assert_eq!(re(",").split("a,b,c", 2), ["a", "b,c"]);
        assert_eq!(re(",").split(",a", 0), ["", "a"]);
        assert_eq!(re("").split("abc", 0), ["a", "b", "c"]);
        assert_eq!(re(",").split("", 0), [""]);
        assert_eq!(re("x").split("abc", 0), ["abc"]);
    }

    #[test]
    fn unsupported_constructs_are_refused_by_name() {
        for (p, what) in [
            ("a(?=b)", "lookaround"),
            ("(a)\\1", "backreference"),
            ("a*+", "possessive"),
            ("(?>a)", "atomic"),
        ] {
            let err = JavaRegex::new(p).expect_err(p);
            assert!(err.contains(what), "{p}: {err}");
        }
        assert!(JavaRegex::new("\\q").is_err());
        assert!(JavaRegex::new("(").is_err());
    }

    #[test]
    fn inline_flags() {
        assert!(re("(?i)abc").is_full_match("ABC"));
        assert!(re("(?i:a)b").is_full_match("Ab"));
        assert!(!re("(?i:a)b").is_full_match("AB"));
        assert!(re("(?:ab)+").is_full_match("abab"));
    }
}
