//! A subset of Go's `text/template`, enough for Docker's `--format` and
//! `inspect -f`: field paths, pipelines, `json`, `index`, `join`, `upper`,
//! `lower`, `title`, `len`, `println`, `range`, `if`/`else`, `with`, and
//! trim markers. Values are JSON values, printed the way Go's `fmt` prints
//! the decoded Go values (`[a b]`, `map[k:v]`, `<no value>`).

use std::fmt::Write as _;

use serde_json::Value;

/// A template that failed to parse or to execute.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    /// The template text is not valid (names the offending action).
    #[error("template parsing error: {0}")]
    Parse(String),
    /// The template is valid but could not be applied to the value.
    #[error("template: {0}")]
    Exec(String),
}

/// A parsed template, ready to be applied to many values.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Vec<Cmd>),
    Range(Vec<Cmd>, Vec<Node>, Vec<Node>),
    If(Vec<Cmd>, Vec<Node>, Vec<Node>),
    With(Vec<Cmd>, Vec<Node>, Vec<Node>),
}

/// One command of a pipeline: a function name with arguments, or a single
/// operand.
#[derive(Debug, Clone)]
enum Cmd {
    Call(String, Vec<Arg>),
    Operand(Arg),
}

#[derive(Debug, Clone)]
enum Arg {
    /// `.` or `.A.B` (an empty path is the dot itself).
    Field(Vec<String>),
    Str(String),
    Num(i64),
    Bool(bool),
}

const FUNCS: &[&str] = &[
    "json", "index", "join", "upper", "lower", "title", "len", "println", "print", "not",
];

impl Template {
    /// Parses `text`; `{{` `}}` delimit actions, `{{-`/`-}}` trim spaces.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let tokens = lex(text)?;
        let mut pos = 0;
        let (nodes, end) = parse_list(&tokens, &mut pos)?;
        if let Some(e) = end {
            return Err(TemplateError::Parse(format!("unexpected {{{{{e}}}}}")));
        }
        Ok(Self { nodes })
    }

    /// Applies the template to `dot` and returns the output.
    pub fn render(&self, dot: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        exec_list(&self.nodes, dot, &mut out)?;
        Ok(out)
    }
}

enum Token {
    Text(String),
    Action(String),
}

fn lex(text: &str) -> Result<Vec<Token>, TemplateError> {
    let mut tokens = Vec::new();
    let mut rest = text;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut lit = &rest[..start];
        if trim_next {
            lit = lit.trim_start();
        }
        let after = &rest[start + 2..];
        let trim_left = after.starts_with("- ") || after.starts_with("-\t");
        if trim_left {
            lit = lit.trim_end();
        }
        if !lit.is_empty() {
            tokens.push(Token::Text(lit.to_string()));
        }
        let body_start = if trim_left { 2 } else { 0 };
        let close = after
            .find("}}")
            .ok_or_else(|| TemplateError::Parse("unclosed action".into()))?;
        let mut body = &after[body_start..close];
        trim_next = body.ends_with(" -") || body.ends_with("\t-");
        if trim_next {
            body = &body[..body.len() - 2];
        }
        tokens.push(Token::Action(body.trim().to_string()));
        rest = &after[close + 2..];
    }
    let lit = if trim_next { rest.trim_start() } else { rest };
    if !lit.is_empty() {
        tokens.push(Token::Text(lit.to_string()));
    }
    Ok(tokens)
}

/// Parses nodes until `end`/`else` (returned) or the end of input.
fn parse_list(
    tokens: &[Token],
    pos: &mut usize,
) -> Result<(Vec<Node>, Option<String>), TemplateError> {
    let mut nodes = Vec::new();
    while *pos < tokens.len() {
        let tok = &tokens[*pos];
        *pos += 1;
        match tok {
            Token::Text(t) => nodes.push(Node::Text(t.clone())),
            Token::Action(a) => {
                let (kw, rest) = split_keyword(a);
                match kw {
                    "end" | "else" => return Ok((nodes, Some(kw.to_string()))),
                    "range" | "if" | "with" => {
                        let pipe = parse_pipeline(rest)?;
                        let (body, end) = parse_list(tokens, pos)?;
                        let alt = match end.as_deref() {
                            Some("else") => match parse_list(tokens, pos)? {
                                (alt, Some(e)) if e == "end" => alt,
                                _ => return Err(TemplateError::Parse(format!("unclosed {kw}"))),
                            },
                            Some("end") => Vec::new(),
                            _ => return Err(TemplateError::Parse(format!("unclosed {kw}"))),
                        };
                        nodes.push(match kw {
                            "range" => Node::Range(pipe, body, alt),
                            "if" => Node::If(pipe, body, alt),
                            _ => Node::With(pipe, body, alt),
                        });
                    }
                    _ => nodes.push(Node::Action(parse_pipeline(a)?)),
                }
            }
        }
    }
    Ok((nodes, None))
}

fn split_keyword(action: &str) -> (&str, &str) {
    match action.split_once(char::is_whitespace) {
        Some((k, r)) => (k, r.trim()),
        None => (action, ""),
    }
}

fn parse_pipeline(text: &str) -> Result<Vec<Cmd>, TemplateError> {
    let words = split_words(text)?;
    if words.is_empty() {
        return Err(TemplateError::Parse("missing value for command".into()));
    }
    let mut cmds = Vec::new();
    for part in words.split(|w| w == "|") {
        let Some((first, args)) = part.split_first() else {
            return Err(TemplateError::Parse(format!("missing command in {text:?}")));
        };
        if FUNCS.contains(&first.as_str()) {
            let args = args
                .iter()
                .map(|a| parse_arg(a))
                .collect::<Result<_, _>>()?;
            cmds.push(Cmd::Call(first.clone(), args));
        } else if args.is_empty() {
            cmds.push(Cmd::Operand(parse_arg(first)?));
        } else if first.starts_with('.') || first.starts_with('"') {
            return Err(TemplateError::Parse(format!(
                "can't give argument to non-function {first}"
            )));
        } else {
            return Err(TemplateError::Parse(format!(
                "function {first:?} not defined"
            )));
        }
    }
    Ok(cmds)
}

/// Splits an action into words, keeping quoted strings whole.
fn split_words(text: &str) -> Result<Vec<String>, TemplateError> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' || c == '`' {
            chars.next();
            let mut w = String::from('"');
            let mut closed = false;
            while let Some(ch) = chars.next() {
                if ch == c {
                    closed = true;
                    break;
                }
                if ch == '\\' && c == '"' {
                    match chars.next() {
                        Some('n') => w.push('\n'),
                        Some('t') => w.push('\t'),
                        Some(o) => w.push(o),
                        None => break,
                    }
                } else {
                    w.push(ch);
                }
            }
            if !closed {
                return Err(TemplateError::Parse("unterminated quoted string".into()));
            }
            words.push(w);
        } else if c == '|' {
            chars.next();
            words.push("|".into());
        } else {
            let mut w = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() || ch == '|' {
                    break;
                }
                w.push(ch);
                chars.next();
            }
            words.push(w);
        }
    }
    Ok(words)
}

fn parse_arg(word: &str) -> Result<Arg, TemplateError> {
    if let Some(s) = word.strip_prefix('"') {
        return Ok(Arg::Str(s.to_string()));
    }
    if word == "." {
        return Ok(Arg::Field(Vec::new()));
    }
    if let Some(path) = word.strip_prefix('.') {
        let parts: Vec<String> = path.split('.').map(str::to_string).collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(TemplateError::Parse(format!("bad field {word}")));
        }
        return Ok(Arg::Field(parts));
    }
    match word {
        "true" => return Ok(Arg::Bool(true)),
        "false" => return Ok(Arg::Bool(false)),
        _ => {}
    }
    word.parse::<i64>()
        .map(Arg::Num)
        .map_err(|_| TemplateError::Parse(format!("function {word:?} not defined")))
}

fn exec_list(nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), TemplateError> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Action(p) => out.push_str(&go_print(&eval_pipeline(p, dot)?)),
            Node::If(p, body, alt) => {
                let v = eval_pipeline(p, dot)?;
                exec_list(if truthy(&v) { body } else { alt }, dot, out)?;
            }
            Node::With(p, body, alt) => {
                let v = eval_pipeline(p, dot)?;
                if truthy(&v) {
                    exec_list(body, &v, out)?;
                } else {
                    exec_list(alt, dot, out)?;
                }
            }
            Node::Range(p, body, alt) => {
                let items: Vec<Value> = match eval_pipeline(p, dot)? {
                    Value::Array(a) => a,
                    Value::Object(m) => m.into_iter().map(|(_, v)| v).collect(),
                    Value::Null => Vec::new(),
                    v if is_nil(&v) => Vec::new(),
                    other => {
                        return Err(TemplateError::Exec(format!(
                            "range can't iterate over {}",
                            go_print(&other)
                        )))
                    }
                };
                if items.is_empty() {
                    exec_list(alt, dot, out)?;
                }
                for item in &items {
                    exec_list(body, item, out)?;
                }
            }
        }
    }
    Ok(())
}

fn eval_pipeline(cmds: &[Cmd], dot: &Value) -> Result<Value, TemplateError> {
    let mut prev: Option<Value> = None;
    for cmd in cmds {
        let v = match cmd {
            Cmd::Operand(a) => {
                if prev.is_some() {
                    return Err(TemplateError::Exec("can't pipe into a non-function".into()));
                }
                eval_arg(a, dot)
            }
            Cmd::Call(name, args) => {
                let mut vals: Vec<Value> = args.iter().map(|a| eval_arg(a, dot)).collect();
                if let Some(p) = prev.take() {
                    vals.push(p);
                }
                call(name, &vals)?
            }
        };
        prev = Some(v);
    }
    Ok(prev.unwrap_or(Value::Null))
}

/// Marks a missing map key, printed by Go as `<no value>`.
const NO_VALUE: &str = "\u{0}<no value>";
/// Mark a JSON `null` that Docker's Go struct holds as a nil slice or map,
/// which Go's `fmt` prints `[]` or `map[]` (not `<nil>`), while `json`
/// still writes `null`.
const NIL_SLICE: &str = "\u{0}<nil slice>";
const NIL_MAP: &str = "\u{0}<nil map>";

/// The Go type behind a field a document may hold as `null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nil {
    /// A slice (`[]string`, `[]Mount`, …): prints `[]`.
    Slice,
    /// A map (`map[string]string`, …): prints `map[]`.
    Map,
}

/// Marks the `null`s at the dotted `paths` of `doc` with their Go type, so
/// templates print them as Docker does; other values are left alone.
pub fn type_nils(doc: &mut Value, paths: &[(&str, Nil)]) {
    for (path, kind) in paths {
        let pointer = format!("/{}", path.replace('.', "/"));
        if let Some(v) = doc.pointer_mut(&pointer).filter(|v| v.is_null()) {
            *v = Value::String(
                match kind {
                    Nil::Slice => NIL_SLICE,
                    Nil::Map => NIL_MAP,
                }
                .into(),
            );
        }
    }
}

/// Whether `v` marks a nil slice or map.
fn is_nil(v: &Value) -> bool {
    matches!(v, Value::String(s) if s == NIL_SLICE || s == NIL_MAP)
}

/// Whether `v` is one of the markers: a value Go holds as nothing.
fn is_marker(v: &Value) -> bool {
    matches!(v, Value::String(s) if s == NO_VALUE || s == NIL_SLICE || s == NIL_MAP)
}

fn eval_arg(arg: &Arg, dot: &Value) -> Value {
    match arg {
        Arg::Str(s) => Value::String(s.clone()),
        Arg::Num(n) => Value::from(*n),
        Arg::Bool(b) => Value::Bool(*b),
        Arg::Field(path) => {
            let mut v = dot;
            for p in path {
                match v.get(p) {
                    Some(next) => v = next,
                    None => return Value::String(NO_VALUE.into()),
                }
            }
            v.clone()
        }
    }
}

fn call(name: &str, args: &[Value]) -> Result<Value, TemplateError> {
    let want = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(TemplateError::Exec(format!(
                "wrong number of args for {name}: want {n} got {}",
                args.len()
            )))
        }
    };
    Ok(match name {
        "json" => {
            want(1)?;
            Value::String(go_json(&args[0]))
        }
        "upper" => {
            want(1)?;
            Value::String(go_print(&args[0]).to_uppercase())
        }
        "lower" => {
            want(1)?;
            Value::String(go_print(&args[0]).to_lowercase())
        }
        "title" => {
            want(1)?;
            let s = go_print(&args[0]);
            let mut c = s.chars();
            Value::String(match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            })
        }
        "len" => {
            want(1)?;
            Value::from(match &args[0] {
                v if is_nil(v) => 0,
                Value::Array(a) => a.len(),
                Value::Object(m) => m.len(),
                Value::String(s) => s.len(),
                other => {
                    return Err(TemplateError::Exec(format!(
                        "len of type {}",
                        go_print(other)
                    )))
                }
            })
        }
        "join" => {
            want(2)?;
            let sep = go_print(&args[1]);
            match &args[0] {
                Value::Array(a) => {
                    Value::String(a.iter().map(go_print).collect::<Vec<_>>().join(&sep))
                }
                Value::Null => Value::String(String::new()),
                v if is_nil(v) => Value::String(String::new()),
                other => Value::String(go_print(other)),
            }
        }
        "index" => {
            let Some((first, keys)) = args.split_first() else {
                return Err(TemplateError::Exec("index of nothing".into()));
            };
            let mut v = first.clone();
            for k in keys {
                v = match (&v, k) {
                    (Value::Object(m), Value::String(s)) => {
                        m.get(s).cloned().unwrap_or(Value::Null)
                    }
                    (Value::Array(a), Value::Number(n)) => n
                        .as_u64()
                        .and_then(|i| a.get(i as usize))
                        .cloned()
                        .ok_or_else(|| TemplateError::Exec(format!("index out of range: {n}")))?,
                    (Value::Null, _) => Value::Null,
                    (v, _) if is_nil(v) => Value::Null,
                    _ => return Err(TemplateError::Exec("can't index item".into())),
                };
            }
            v
        }
        "println" => Value::String(args.iter().map(go_print).collect::<Vec<_>>().join(" ") + "\n"),
        "print" => Value::String(args.iter().map(go_print).collect::<Vec<_>>().concat()),
        "not" => {
            want(1)?;
            Value::Bool(!truthy(&args[0]))
        }
        _ => {
            return Err(TemplateError::Exec(format!(
                "function {name:?} not defined"
            )))
        }
    })
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(_) if is_marker(v) => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// Prints a value as Go's `fmt.Print` prints the decoded Go value.
pub fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::String(s) if s == NO_VALUE => "<no value>".into(),
        Value::String(s) if s == NIL_SLICE => "[]".into(),
        Value::String(s) if s == NIL_MAP => "map[]".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_print).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut s = String::from("map[");
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    s.push(' ');
                }
                let _ = write!(s, "{k}:{}", go_print(&m[*k]));
            }
            s.push(']');
            s
        }
    }
}

/// Encodes a value as Go's `json.Marshal` does: compact, keys sorted, and
/// `<`, `>`, `&` escaped as `\u003c`, `\u003e`, `\u0026`.
pub fn go_json(v: &Value) -> String {
    let v = if is_marker(v) { &Value::Null } else { v };
    let s = serde_json::to_string(&sorted(v)).unwrap_or_default();
    escape_html(&s)
}

/// Go's encoder escapes HTML-sensitive characters by default.
pub fn escape_html(s: &str) -> String {
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// `v` as Go's encoder writes it: object keys sorted, markers as `null`.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::new();
            for k in keys {
                out.insert(k.clone(), sorted(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        v if is_marker(v) => Value::Null,
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn r(t: &str, v: &Value) -> String {
        Template::parse(t).unwrap().render(v).unwrap()
    }

    #[test]
    fn fields_and_text() {
        let v = json!({"Repository": "busybox", "Tag": "latest", "Config": {"User": ""}});
        assert_eq!(r("{{.Repository}}:{{.Tag}}", &v), "busybox:latest");
        assert_eq!(r("u=[{{.Config.User}}]", &v), "u=[]");
        assert_eq!(r("{{.Missing}}", &v), "<no value>");
        assert_eq!(r("plain", &v), "plain");
    }

    #[test]
    fn go_value_printing() {
        let v =
            json!({"Cmd": ["sh", "-c", "x"], "Labels": {"b": "2", "a": "1"}, "E": null, "N": 42});
        assert_eq!(r("{{.Cmd}}", &v), "[sh -c x]");
        assert_eq!(r("{{.Labels}}", &v), "map[a:1 b:2]");
        assert_eq!(r("{{.E}}", &v), "<nil>");
        assert_eq!(r("{{.N}}", &v), "42");
    }

    #[test]
    fn json_function_matches_go() {
        let v = json!({"b": "<none>", "a": 1});
        assert_eq!(r("{{json .}}", &v), r#"{"a":1,"b":"\u003cnone\u003e"}"#);
        assert_eq!(r("{{.b | json}}", &v), r#""\u003cnone\u003e""#);
    }

    #[test]
    fn functions() {
        let v = json!({"L": {"k.x": "v"}, "A": ["a", "b"], "S": "abc"});
        assert_eq!(r(r#"{{index .L "k.x"}}"#, &v), "v");
        assert_eq!(r(r#"{{join .A ","}}"#, &v), "a,b");
        assert_eq!(r("{{upper .S}} {{len .A}} {{title .S}}", &v), "ABC 2 Abc");
        assert_eq!(r("{{println .S}}", &v), "abc\n");
    }

    #[test]
    fn control_flow_and_trim() {
        let v = json!({"A": ["x", "y"], "E": [], "T": true, "M": {"k": "v"}});
        assert_eq!(r("{{range .A}}<{{.}}>{{end}}", &v), "<x><y>");
        assert_eq!(r("{{range .E}}x{{else}}none{{end}}", &v), "none");
        assert_eq!(r("{{if .T}}yes{{else}}no{{end}}", &v), "yes");
        assert_eq!(r("{{if .E}}yes{{else}}no{{end}}", &v), "no");
        assert_eq!(r("{{with .M}}{{.k}}{{end}}", &v), "v");
        assert_eq!(r("a  {{- .M.k -}}  b", &v), "avb");
    }

    #[test]
    fn typed_nils_print_as_go_prints_nil_slices_and_maps() {
        let mut v = json!({"C": {"Entrypoint": null, "Volumes": null, "Cmd": ["sh"]},
                           "Health": null, "Absent": null});
        type_nils(
            &mut v,
            &[
                ("C.Entrypoint", Nil::Slice),
                ("C.Volumes", Nil::Map),
                ("C.Cmd", Nil::Slice),
                ("C.Missing.Deeper", Nil::Map),
            ],
        );
        assert_eq!(
            r("{{.C.Entrypoint}} {{.C.Volumes}} {{.C.Cmd}}", &v),
            "[] map[] [sh]"
        );
        assert_eq!(r("{{.Health}}", &v), "<nil>");
        assert_eq!(
            r("{{json .C.Entrypoint}} {{json .C.Volumes}}", &v),
            "null null"
        );
        assert_eq!(
            r("{{json .C}}", &v),
            r#"{"Cmd":["sh"],"Entrypoint":null,"Volumes":null}"#
        );
        assert_eq!(r("{{len .C.Entrypoint}}{{len .C.Volumes}}", &v), "00");
        assert_eq!(r(r#"[{{join .C.Entrypoint ","}}]"#, &v), "[]");
        assert_eq!(r("{{range .C.Entrypoint}}x{{else}}none{{end}}", &v), "none");
        assert_eq!(r("{{if .C.Volumes}}y{{else}}n{{end}}", &v), "n");
        assert_eq!(r(r#"{{index .C.Volumes "/d"}}"#, &v), "<nil>");
        assert_eq!(r("{{.C.Volumes.x}}", &v), "<no value>");
    }

    #[test]
    fn parse_errors() {
        assert!(Template::parse("{{.A").is_err());
        assert!(Template::parse("{{range .A}}x").is_err());
        assert!(Template::parse("{{end}}").is_err());
        assert!(Template::parse("{{nosuchfunc .A}}").is_err());
        assert!(Template::parse("{{.A .B}}").is_err());
    }
}
