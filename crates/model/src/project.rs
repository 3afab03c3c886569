//! Reading a project directory: `onset.yaml` and `components/*.yaml`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::component::Component;

/// Where a component file finds the project's imported connector documents (`connectors/NAME.yaml`
/// beside `components/`), and the key they are carried under in its files.
pub const CONNECTORS_DIR: &str = "../connectors/";

/// Larger files are refused before parsing (alias-expansion bombs, accidents).
const MAX_FILE_BYTES: u64 = 1 << 20;

/// `onset.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// A file as read, kept so builds can be hashed and errors placed.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    /// Files the component refers to (`script_file`), by the path as written.
    pub files: std::collections::BTreeMap<String, String>,
}

impl SourceFile {
    /// A component file as read from disk, with the script files it names.
    pub fn read(path: &Path) -> Result<SourceFile, LoadError> {
        Ok(SourceFile::with_text(path, read_capped(path)?))
    }

    /// A component file's given text (an editor's, not yet saved) at `path`, with the script
    /// files and connector documents it names read from beside `path`, when they are there.
    pub fn with_text(path: &Path, text: String) -> SourceFile {
        let mut file = SourceFile { path: path.to_path_buf(), text, files: Default::default() };
        if let Ok(component) = yaml_serde::from_str::<Component>(&file.text) {
            let dir = path.parent().unwrap_or(Path::new("."));
            for name in component.script_files() {
                if let Ok(text) = read_capped(&dir.join(&name)) {
                    file.files.insert(name, text);
                }
            }
            // Imported connectors' documents go with the components that call them.
            for connector in component.called_connectors() {
                let name = format!("{CONNECTORS_DIR}{connector}.yaml");
                if let Ok(text) = read_capped(&dir.join(&name)) {
                    file.files.insert(name, text);
                }
            }
            // The API's documentation, when `docs:` names a Markdown file beside the component.
            if let Some(name) = component.docs_file()
                && let Ok(text) = read_capped(&dir.join(name))
            {
                file.files.insert(name.to_string(), text);
            }
        }
        file
    }
}

#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub manifest: Manifest,
    /// Each component with the file it came from.
    pub components: Vec<(Component, SourceFile)>,
}

/// One problem in one file, placed at a line and column when it can be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}:{}", self.column.unwrap_or(1))?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LoadError {}

impl LoadError {
    fn whole_file(file: &Path, message: impl Into<String>) -> Self {
        Self { file: file.to_path_buf(), line: None, column: None, message: message.into() }
    }

    fn from_yaml(file: &Path, err: &yaml_serde::Error) -> Self {
        let (line, column) = match err.location() {
            Some(l) => (Some(l.line()), Some(l.column())),
            None => (None, None),
        };
        // The library appends "at line X column Y"; the position is already in front.
        let text = err.to_string();
        let message = match text.rfind(" at line ") {
            Some(i) => text[..i].to_string(),
            None => text,
        };
        Self { file: file.to_path_buf(), line, column, message }
    }

    fn near(file: &SourceFile, needle: &str, message: String) -> Self {
        let (line, column) = locate(&file.text, needle).map_or((None, None), |(l, c)| (Some(l), Some(c)));
        Self { file: file.path.clone(), line, column, message }
    }
}

/// The 1-based position of the last-resort match of `needle` as a key or value in YAML text:
/// a key `needle:` first, else any occurrence.
fn locate(text: &str, needle: &str) -> Option<(usize, usize)> {
    let quoted = [format!("{needle}:"), format!("\"{needle}\":"), format!("'{needle}':")];
    let mut any = None;
    for (i, line) in text.lines().enumerate() {
        for q in &quoted {
            if let Some(col) = line.find(q.as_str()) {
                return Some((i + 1, col + 1));
            }
        }
        if any.is_none()
            && let Some(col) = line.find(needle)
        {
            any = Some((i + 1, col + 1));
        }
    }
    any
}

fn read_capped(path: &Path) -> Result<String, LoadError> {
    let meta = std::fs::metadata(path).map_err(|e| LoadError::whole_file(path, format!("cannot read: {e}")))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(LoadError::whole_file(
            path,
            format!("file is {} bytes; component files are at most {MAX_FILE_BYTES} bytes", meta.len()),
        ));
    }
    std::fs::read_to_string(path).map_err(|e| LoadError::whole_file(path, format!("cannot read: {e}")))
}

/// Parses one component file and runs its checks, placing every problem.
pub fn parse_component(file: &SourceFile) -> Result<Component, Vec<LoadError>> {
    let mut component: Component =
        yaml_serde::from_str(&file.text).map_err(|e| vec![LoadError::from_yaml(&file.path, &e)])?;
    let mut problems = component.check();
    problems.extend(component.attach_scripts(&file.files));
    if problems.is_empty() {
        Ok(component)
    } else {
        Err(problems.into_iter().map(|p| LoadError::near(file, &p.near, p.message)).collect())
    }
}

impl Project {
    /// Reads and checks the whole project, reporting every file's problems, not just the first.
    pub fn load(root: &Path) -> Result<Project, Vec<LoadError>> {
        let manifest_path = root.join("onset.yaml");
        let mut errors = Vec::new();
        let manifest = match read_capped(&manifest_path) {
            Ok(text) => match yaml_serde::from_str::<Manifest>(&text) {
                Ok(m) => Some(m),
                Err(e) => {
                    errors.push(LoadError::from_yaml(&manifest_path, &e));
                    None
                }
            },
            Err(_) => {
                errors.push(LoadError::whole_file(
                    &manifest_path,
                    format!("no project here: {} needs an onset.yaml with `name: <project>`", root.display()),
                ));
                None
            }
        };

        let dir = root.join("components");
        let mut paths: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
                .collect(),
            Err(_) => Vec::new(),
        };
        paths.sort();

        let mut components: Vec<(Component, SourceFile)> = Vec::new();
        for path in paths {
            let file = match SourceFile::read(&path) {
                Ok(f) => f,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            match parse_component(&file) {
                Ok(component) => {
                    if let Some((_, other)) = components.iter().find(|(c, _)| c.component == component.component) {
                        errors.push(LoadError::near(
                            &file,
                            "component",
                            format!(
                                "component `{}` is also defined in {}; names are unique in a project",
                                component.component,
                                other.path.display()
                            ),
                        ));
                    } else {
                        components.push((component, file));
                    }
                }
                Err(mut errs) => errors.append(&mut errs),
            }
        }
        match manifest {
            Some(manifest) if errors.is_empty() => Ok(Project { root: root.to_path_buf(), manifest, components }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("onset-model-{}-{}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn rand_suffix() -> u128 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    }

    #[test]
    fn loads_a_project() {
        let dir = tempdir();
        write(&dir, "onset.yaml", "name: shop\n");
        write(
            &dir,
            "components/orders.yaml",
            "component: orders\ntrigger: { type: http }\nhandlers:\n  /:\n    POST:\n      steps: [ { log: hi } ]\n",
        );
        let project = Project::load(&dir).unwrap();
        assert_eq!(project.manifest.name, "shop");
        assert_eq!(project.components.len(), 1);
        assert_eq!(project.components[0].0.component.as_str(), "orders");
    }

    #[test]
    fn errors_carry_file_line_and_column_for_every_file() {
        let dir = tempdir();
        write(&dir, "onset.yaml", "name: shop\n");
        write(
            &dir,
            "components/a.yaml",
            "component: a\ntrigger: { type: http }\nhandlers:\n  /:\n    POST:\n      steps:\n        - lgo: hi\n",
        );
        write(
            &dir,
            "components/b.yaml",
            "component: b\ntrigger: { type: http }\nhandlers:\n  /:\n    FETCH: { steps: [] }\n",
        );
        let errors = Project::load(&dir).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:#?}");
        let a = errors[0].to_string();
        assert!(a.contains("a.yaml:7:"), "{a}");
        assert!(a.contains("unknown field `lgo`"), "{a}");
        let b = errors[1].to_string();
        assert!(b.contains("b.yaml:5:5"), "{b}");
        assert!(b.contains("HTTP methods"), "{b}");
    }

    #[test]
    fn imported_connector_documents_go_with_the_components_that_call_them() {
        let dir = tempdir();
        write(&dir, "onset.yaml", "name: shop\n");
        write(&dir, "connectors/petstore.yaml", "openapi: 3.0.0\n");
        write(&dir, "connectors/unused.yaml", "openapi: 3.0.0\n");
        write(
            &dir,
            "components/a.yaml",
            "component: a\ntrigger: { type: http }\nhandlers:\n  /:\n    POST:\n      steps: [ { call: petstore.listPets }, { call: http.request, with: { url: x } } ]\n",
        );
        let project = Project::load(&dir).unwrap();
        let files = &project.components[0].1.files;
        assert_eq!(files.keys().collect::<Vec<_>>(), ["../connectors/petstore.yaml"]);
    }

    #[test]
    fn script_files_are_read_next_to_the_component() {
        let dir = tempdir();
        write(&dir, "onset.yaml", "name: shop\n");
        write(&dir, "components/scripts/n.js", "export default () => 1\n");
        write(
            &dir,
            "components/a.yaml",
            "component: a\ntrigger: { type: http }\nhandlers:\n  /:\n    POST:\n      steps: [ { script_file: scripts/n.js } ]\n",
        );
        let project = Project::load(&dir).unwrap();
        let (component, file) = &project.components[0];
        assert_eq!(file.files["scripts/n.js"], "export default () => 1\n");
        let step = &component.handlers["/"]["POST"].steps[0];
        assert!(matches!(&step.kind, crate::StepKind::Script { source, .. } if source.starts_with("export default")));

        write(
            &dir,
            "components/a.yaml",
            "component: a\ntrigger: { type: http }\nhandlers:\n  /:\n    POST:\n      steps: [ { script_file: scripts/missing.js } ]\n",
        );
        let errors = Project::load(&dir).unwrap_err();
        assert!(errors[0].to_string().contains("script_file `scripts/missing.js` cannot be read"), "{errors:?}");
    }

    #[test]
    fn a_missing_manifest_says_what_to_write() {
        let dir = tempdir();
        let errors = Project::load(&dir).unwrap_err();
        assert!(errors[0].to_string().contains("needs an onset.yaml"));
    }
}
