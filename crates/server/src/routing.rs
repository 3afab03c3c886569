//! Matching a request path against an `http` trigger's resource paths.

use std::collections::BTreeMap;

#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Param(String),
}

/// One resource path (`/orders/{id}`) and the methods it has handlers for.
#[derive(Debug, Clone)]
pub struct Route {
    pub pattern: String,
    segments: Vec<Segment>,
    pub methods: Vec<String>,
}

impl Route {
    pub fn new(pattern: &str, methods: Vec<String>) -> Self {
        let segments = split(pattern)
            .map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Param(name.to_string()),
                None => Segment::Literal(s.to_string()),
            })
            .collect();
        Self { pattern: pattern.to_string(), segments, methods }
    }

    fn matches(&self, parts: &[&str]) -> Option<BTreeMap<String, String>> {
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut params = BTreeMap::new();
        for (seg, part) in self.segments.iter().zip(parts) {
            match seg {
                Segment::Literal(l) if l == part => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => {
                    params.insert(name.clone(), percent_decode(part));
                }
            }
        }
        Some(params)
    }

    /// Literal segments before parameters: `/orders/new` wins over `/orders/{id}`.
    fn specificity(&self) -> Vec<bool> {
        self.segments.iter().map(|s| matches!(s, Segment::Literal(_))).collect()
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The routes of one component, most specific first.
#[derive(Debug, Clone, Default)]
pub struct Routes(Vec<Route>);

impl Routes {
    pub fn new(mut routes: Vec<Route>) -> Self {
        routes.sort_by_key(|r| std::cmp::Reverse(r.specificity()));
        Self(routes)
    }

    pub fn find(&self, path: &str) -> Option<(&Route, BTreeMap<String, String>)> {
        let parts: Vec<&str> = split(path).collect();
        self.0.iter().find_map(|r| r.matches(&parts).map(|p| (r, p)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_before_parameter_and_params_decoded() {
        let routes = Routes::new(vec![
            Route::new("/", vec!["POST".into()]),
            Route::new("/orders/{id}", vec!["PUT".into()]),
            Route::new("/orders/new", vec!["POST".into()]),
        ]);
        assert_eq!(routes.find("").unwrap().0.pattern, "/");
        assert_eq!(routes.find("/").unwrap().0.pattern, "/");
        assert_eq!(routes.find("/orders/new").unwrap().0.pattern, "/orders/new");
        let (r, params) = routes.find("/orders/a%20b/").unwrap();
        assert_eq!(r.pattern, "/orders/{id}");
        assert_eq!(params["id"], "a b");
        assert!(routes.find("/orders").is_none());
        assert!(routes.find("/orders/1/x").is_none());
    }
}
