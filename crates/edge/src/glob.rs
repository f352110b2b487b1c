//! CloudFront path patterns: `*` matches zero or more characters (across `/`), `?` exactly
//! one, everything else literally and case-sensitively; a leading `/` is optional on both
//! sides. Query strings never take part.

/// Whether `pattern` matches the request `path` (without query string).
pub fn matches(pattern: &str, path: &str) -> bool {
    let p = pattern.strip_prefix('/').unwrap_or(pattern).as_bytes();
    let s = path.strip_prefix('/').unwrap_or(path).as_bytes();
    // Iterative wildcard matching with single-star backtracking: linear in practice.
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) && p[pi] != b'*' {
            // `?` matches one byte; path bytes of multi-byte characters count singly, as
            // CloudFront's patterns allow only ASCII.
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// Characters CloudFront allows in a path pattern (`&` written as `&amp;` in XML).
pub fn valid_pattern(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err("must not be empty".into());
    }
    if pattern.len() > 255 {
        return Err("must be at most 255 characters".into());
    }
    if let Some(c) = pattern
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_-.*$/~\"'@:+&?".contains(*c)))
    {
        return Err(format!("character {c:?} is not allowed in a path pattern"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn star_and_question_mark() {
        assert!(matches("*", "/anything/at/all"));
        assert!(matches("*", "/"));
        assert!(
            matches("images/*.jpg", "/images/product1/x.jpg"),
            "* crosses /"
        );
        assert!(
            matches("/images/*.jpg", "/images/a.jpg"),
            "leading / optional"
        );
        assert!(matches("images/*.jpg", "images/a.jpg"));
        assert!(!matches("images/*.jpg", "/images/a.jpeg"));
        assert!(matches("/a?c", "/abc"));
        assert!(!matches("/a?c", "/ac"));
        assert!(!matches("/a?c", "/abbc"));
        assert!(matches("/api/*", "/api/"));
        assert!(!matches("/api/*", "/api"));
        assert!(matches("*.gif", "/images/sample.gif"));
        assert!(matches("/a*b*c", "/a-x-b-y-b-c"));
        assert!(!matches("/a*b*c", "/a-x-b-y-b-d"));
    }

    #[test]
    fn case_sensitive() {
        assert!(!matches("*.jpg", "/LOGO.JPG"));
        assert!(matches("*.JPG", "/LOGO.JPG"));
        assert!(!matches("/API/*", "/api/x"));
    }

    #[test]
    fn regex_characters_are_literal() {
        assert!(matches("/a.b", "/a.b"));
        assert!(!matches("/a.b", "/axb"));
        assert!(matches("/$v+1", "/$v+1"));
    }
}
