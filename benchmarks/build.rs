//! Writes the benchmark workflows as Rust a user would write: one `#[task]` function per task
//! and a `workflow!` listing them. Hundreds of tasks are too many to type, so they are
//! generated here and included by `src/shapes.rs`.

use std::fmt::Write as _;
use std::path::PathBuf;

/// The chain length measured.
const CHAIN_LENGTH: usize = 200;
/// The fan-out widths measured: one process, and worker processes sharing PostgreSQL.
const FAN_OUT_WIDTHS: [usize; 2] = [1000, 2000];

/// A task that only notes when it ran (the same body as the Python side's).
fn task(source: &mut String, name: &str, dependencies: &[String]) {
    let dependencies: Vec<String> = dependencies.iter().map(|dependency| format!("{dependency:?}")).collect();
    let _ = writeln!(
        source,
        "    #[task(dependencies = [{}])]\n    pub async fn {name}(_context: &mut Context) -> Result<(), TaskError> {{\n        \
         crate::stamps::mark({name:?});\n        Ok(())\n    }}",
        dependencies.join(", ")
    );
}

/// A module holding a shape's tasks and a `workflow()` building it.
fn shape(source: &mut String, module: &str, workflow_name: &str, tasks: &[(String, Vec<String>)]) {
    let _ = writeln!(source, "/// The tasks of `{workflow_name}`.\npub mod {module} {{");
    let _ = writeln!(source, "    use cloacina::{{Context, TaskError, Workflow, task, workflow}};");
    for (name, dependencies) in tasks {
        task(source, name, dependencies);
    }
    let names: Vec<&str> = tasks.iter().map(|(name, _)| name.as_str()).collect();
    let _ = writeln!(
        source,
        "    /// Builds and registers `{workflow_name}`.\n    pub fn workflow() -> std::sync::Arc<Workflow> {{\n        \
         workflow! {{ name: {workflow_name:?}, tasks: [{}] }}\n    }}\n}}",
        names.join(", ")
    );
}

fn main() {
    let mut source = String::new();
    shape(
        &mut source,
        "round_trip",
        "bench_round_trip",
        &[("first".into(), vec![]), ("second".into(), vec!["first".into()])],
    );
    shape(
        &mut source,
        "diamond",
        "bench_diamond",
        &[
            ("top".into(), vec![]),
            ("left".into(), vec!["top".into()]),
            ("right".into(), vec!["top".into()]),
            ("bottom".into(), vec!["left".into(), "right".into()]),
        ],
    );
    let chain: Vec<(String, Vec<String>)> = (0..CHAIN_LENGTH)
        .map(|index| (format!("step_{index}"), if index == 0 { vec![] } else { vec![format!("step_{}", index - 1)] }))
        .collect();
    shape(&mut source, &format!("chain_{CHAIN_LENGTH}"), &format!("bench_chain_{CHAIN_LENGTH}"), &chain);
    // The fan-outs are most of the generated code, and of the build's time: `make bench-check`,
    // which does not measure them, builds without them.
    let fan_outs = if std::env::var_os("CARGO_FEATURE_FAN_OUT").is_some() { &FAN_OUT_WIDTHS[..] } else { &[] };
    for &width in fan_outs {
        let workers: Vec<String> = (0..width).map(|index| format!("worker_{index}")).collect();
        let mut tasks = vec![("root".to_owned(), vec![])];
        tasks.extend(workers.iter().map(|worker| (worker.clone(), vec!["root".to_owned()])));
        tasks.push(("join".to_owned(), workers));
        shape(&mut source, &format!("fan_out_{width}"), &format!("bench_fan_out_{width}"), &tasks);
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("workflows.rs"), source).expect("OUT_DIR is writable");
    println!("cargo::rerun-if-changed=build.rs");
}
