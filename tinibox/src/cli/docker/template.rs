//! The subset of Go's text/template that `inspect -f` and `ps --format` take, applied to a
//! JSON value (what Docker's templates see):
//! - `{{.}}`, `{{.Field.Sub}}`: a value; strings print as they are, numbers and booleans in
//!   JSON's words, `null` as `<no value>`, arrays as `[a b]`, objects as `map[k:v]` (Go's
//!   fmt);
//! - `{{json .Field}}`: the value as compact JSON;
//! - `{{index .Field "key"}}`: a member of an object ("" when missing) or an element of an
//!   array by number;
//! - `{{join .Field ", "}}`: an array's strings joined;
//! - `{{upper …}}`, `{{lower …}}`: the printed value in other case.
//!
//! Anything else (`if`, `range`, pipes, variables) is refused with one line naming it. A
//! field that is not in the value is an error, as Docker says ("map has no entry for key").
//! Pure: no I/O.

use serde_json::Value;

/// A template that could not be parsed or applied: the one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError(msg.into()))
}

/// Splits an action into words, keeping "quoted strings" (with \" and \\ escapes) whole.
fn words(action: &str) -> Result<Vec<String>, TemplateError> {
    let mut out = Vec::new();
    let mut chars = action.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '"' {
            chars.next();
            let mut s = String::from('"');
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some(o) => s.push(o),
                        None => return err("template: unterminated string"),
                    },
                    Some('"') => break,
                    Some(o) => s.push(o),
                    None => return err("template: unterminated string"),
                }
            }
            out.push(s);
            continue;
        }
        let mut w = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            w.push(c);
            chars.next();
        }
        out.push(w);
    }
    Ok(out)
}

/// The value at a path such as `.State.Pid` (`.` is the whole value).
fn lookup<'a>(root: &'a Value, path: &str) -> Result<&'a Value, TemplateError> {
    if path == "." {
        return Ok(root);
    }
    let Some(rest) = path.strip_prefix('.') else {
        return err(format!(
            "template: {path:?} is not supported — use .Field.Sub, json, index, join, upper or lower"
        ));
    };
    let mut v = root;
    for key in rest.split('.') {
        v = match v {
            Value::Object(m) => match m.get(key) {
                Some(x) => x,
                None => {
                    return err(format!(
                        "template: executing at <{path}>: map has no entry for key {key:?}"
                    ))
                }
            },
            _ => {
                return err(format!(
                    "template: executing at <{path}>: can't evaluate field {key} in a {}",
                    kind(v)
                ))
            }
        };
    }
    Ok(v)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

/// How Go's fmt prints a value with %v.
pub fn print(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(print).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => format!(
            "map[{}]",
            m.iter()
                .map(|(k, v)| format!("{k}:{}", print(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

/// An argument: a path or a "string".
fn argument(root: &Value, w: &str) -> Result<Value, TemplateError> {
    match w.strip_prefix('"') {
        Some(s) => Ok(Value::String(s.to_string())),
        None => lookup(root, w).cloned(),
    }
}

fn action(root: &Value, text: &str) -> Result<String, TemplateError> {
    let w = words(text)?;
    let arg = |i: usize| -> Result<Value, TemplateError> {
        match w.get(i) {
            Some(a) => argument(root, a),
            None => err(format!("template: {{{{{text}}}}}: missing argument")),
        }
    };
    let arity = |n: usize| -> Result<(), TemplateError> {
        if w.len() != n + 1 {
            return err(format!(
                "template: {{{{{text}}}}}: {} takes {n} argument(s)",
                w[0]
            ));
        }
        Ok(())
    };
    match w.first().map(String::as_str) {
        None => err("template: empty action {{}}"),
        Some("json") => {
            arity(1)?;
            serde_json::to_string(&arg(1)?).map_err(|e| TemplateError(e.to_string()))
        }
        Some("index") => {
            arity(2)?;
            let (v, k) = (arg(1)?, arg(2)?);
            Ok(match (&v, &k) {
                // A missing key gives the zero value, "" (Docker's label maps hold strings).
                (Value::Object(m), Value::String(k)) => m.get(k).map(print).unwrap_or_default(),
                (Value::Array(a), Value::String(k)) => match k.parse::<usize>() {
                    Ok(i) if i < a.len() => print(&a[i]),
                    _ => return err(format!("template: index {k} out of range")),
                },
                _ => return err(format!("template: cannot index a {}", kind(&v))),
            })
        }
        Some("join") => {
            arity(2)?;
            let (v, sep) = (arg(1)?, arg(2)?);
            match (&v, &sep) {
                (Value::Array(a), Value::String(s)) => {
                    Ok(a.iter().map(print).collect::<Vec<_>>().join(s))
                }
                (Value::Null, _) => Ok(String::new()),
                _ => err(format!("template: join needs a list, not a {}", kind(&v))),
            }
        }
        Some("upper") => {
            arity(1)?;
            Ok(print(&arg(1)?).to_uppercase())
        }
        Some("lower") => {
            arity(1)?;
            Ok(print(&arg(1)?).to_lowercase())
        }
        Some(p) if p.starts_with('.') && w.len() == 1 => Ok(print(lookup(root, p)?)),
        Some(p) => err(format!(
            "template: {{{{{text}}}}}: {p:?} is not supported — this subset has .Field, json, index, join, upper and lower"
        )),
    }
}

/// Applies `template` to `root`.
pub fn render(template: &str, root: &Value) -> Result<String, TemplateError> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return err("template: unclosed action (a {{ without }})");
        };
        let inner = after[..end].trim_start_matches('-').trim_end_matches('-');
        out.push_str(&action(root, inner.trim())?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_json_index_join() {
        let v = json!({"State": {"Pid": 42, "Running": true}, "Name": "/web",
            "Config": {"Cmd": ["sleep", "1"], "Labels": {"a.b": "c"}, "Env": null}});
        let r = |t: &str| render(t, &v).unwrap();
        assert_eq!(r("{{.State.Pid}} {{.Name}}"), "42 /web");
        assert_eq!(r("{{json .Config.Cmd}}"), r#"["sleep","1"]"#);
        assert_eq!(r("{{.Config.Cmd}}"), "[sleep 1]");
        assert_eq!(r(r#"{{index .Config.Labels "a.b"}}"#), "c");
        assert_eq!(r(r#"{{join .Config.Cmd ","}}"#), "sleep,1");
        assert_eq!(r("{{.Config.Env}}"), "<no value>");
        assert_eq!(r("{{ .State.Running }}"), "true");
        assert_eq!(r("{{upper .Name}}"), "/WEB");
        assert_eq!(r("{{.Config.Labels}}"), "map[a.b:c]");
        assert_eq!(r("plain"), "plain");
    }

    #[test]
    fn refusals_name_the_problem() {
        let v = json!({"State": {"Pid": 1}});
        let e = |t: &str| render(t, &v).unwrap_err().0;
        assert!(e("{{.Bogus}}").contains("no entry for key \"Bogus\""));
        assert!(e("{{.State.Pid.X}}").contains("can't evaluate"));
        assert!(e("{{range .State}}").contains("not supported"));
        assert!(e("{{.State").contains("unclosed"));
        assert!(e("{{json}}").contains("takes 1"));
    }
}
