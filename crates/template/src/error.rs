//! The one error type of this crate; every variant reads as a CLI one-liner.

use std::fmt;
use std::path::PathBuf;

/// Where in a template something is: `template.yaml:14:3`, or just the file when no line is
/// known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The template as the user named it.
    pub file: String,
    /// 1-based; 0 when unknown.
    pub line: usize,
    /// 1-based; 0 when unknown.
    pub col: usize,
}

impl Location {
    pub(crate) fn new(file: &str, line: usize, col: usize) -> Self {
        Self {
            file: file.to_owned(),
            line,
            col,
        }
    }

    pub(crate) fn file(file: &str) -> Self {
        Self::new(file, 0, 0)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if self.col > 0 {
                write!(f, ":{}", self.col)?;
            }
        }
        Ok(())
    }
}

/// Why a template could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file could not be read.
    #[error("cannot read template {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The YAML itself is malformed.
    #[error("{at}: {message}")]
    Yaml { at: Location, message: String },
    /// The template's outline is wrong (not a mapping, no `Resources`, a section of the
    /// wrong shape).
    #[error("{at}: {message}")]
    Structure { at: Location, message: String },
    /// A parameter has no value or a value its constraints refuse.
    #[error("{at}: parameter {name}: {message}")]
    Parameter {
        at: Location,
        name: String,
        message: String,
    },
    /// An override names no parameter of the template (the AWS CLI refuses these too).
    #[error("{file}: parameter override {name}: the template declares no parameter {name} (declared: {declared})")]
    UnknownOverride {
        file: String,
        name: String,
        declared: String,
    },
    /// A resource is malformed as a whole (no `Type`, a false-but-unknown condition).
    #[error("{at}: resource {resource}: {message}")]
    Resource {
        at: Location,
        resource: String,
        message: String,
    },
    /// One property of a resource is missing or invalid.
    #[error("{at}: resource {resource}, property {property}: {message}")]
    Property {
        at: Location,
        resource: String,
        /// Dotted path, e.g. `Environment.Variables`.
        property: String,
        message: String,
    },
    /// Something outside `Resources` is wrong: a condition, a mapping, a `Globals` section.
    #[error("{at}: {section}: {message}")]
    Section {
        at: Location,
        /// e.g. `condition IsProd`, `Globals.Function`.
        section: String,
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_print_what_is_known() {
        assert_eq!(Location::new("t.yaml", 14, 3).to_string(), "t.yaml:14:3");
        assert_eq!(Location::new("t.yaml", 14, 0).to_string(), "t.yaml:14");
        assert_eq!(Location::file("t.yaml").to_string(), "t.yaml");
    }

    #[test]
    fn property_errors_read_as_one_line() {
        let e = TemplateError::Property {
            at: Location::new("template.yaml", 9, 19),
            resource: "HelloFunction".into(),
            property: "MemorySize".into(),
            message: "value 64 must be between 128 and 10240 MB".into(),
        };
        assert_eq!(
            e.to_string(),
            "template.yaml:9:19: resource HelloFunction, property MemorySize: value 64 must be between 128 and 10240 MB"
        );
    }
}
