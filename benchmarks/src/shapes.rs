//! The workflow shapes measured, made of tasks that only note when they ran.

use std::sync::Arc;

use cloacina::{Context, FunctionTask, Workflow, WorkflowRegistry, mapping};

use crate::{stamps, workflows};

/// A workflow shape and how many times one run executes it.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// `executions` sequential executions of `first -> second`: per-execution overhead.
    RoundTrip { executions: usize },
    /// `executions` sequential executions of `top -> (left, right) -> bottom`.
    Diamond { executions: usize },
    /// One execution of `length` tasks, each depending on the previous one: per-hop latency.
    Chain { length: usize },
    /// One execution of a root, `width` independent tasks, and a join: throughput.
    FanOut { width: usize },
    /// The fan-out over a list the root writes at run time: one mapped task, `width` instances.
    Mapped { width: usize },
}

/// The shapes `make bench` measures, by the key both sides use.
pub const SHAPES: [(&str, Shape); 5] = [
    ("round_trip", Shape::RoundTrip { executions: 200 }),
    ("chain_200", Shape::Chain { length: 200 }),
    ("fan_out_1000", Shape::FanOut { width: 1000 }),
    ("diamond", Shape::Diamond { executions: 200 }),
    ("mapped_1000", Shape::Mapped { width: 1000 }),
];

impl Shape {
    /// The shape with this key.
    pub fn named(key: &str) -> Result<Self, String> {
        SHAPES.iter().find(|(known, _)| *known == key).map(|(_, shape)| *shape).ok_or_else(|| {
            let keys: Vec<&str> = SHAPES.iter().map(|(known, _)| *known).collect();
            format!("unknown shape `{key}`; the shapes are {}", keys.join(", "))
        })
    }

    /// The workflow's name.
    pub fn name(&self) -> String {
        match self {
            Self::RoundTrip { .. } => "bench_round_trip".to_owned(),
            Self::Diamond { .. } => "bench_diamond".to_owned(),
            Self::Chain { length } => format!("bench_chain_{length}"),
            Self::FanOut { width } => format!("bench_fan_out_{width}"),
            Self::Mapped { width } => format!("bench_mapped_{width}"),
        }
    }

    /// A line for a table.
    pub fn describe(&self) -> String {
        match self {
            Self::RoundTrip { executions } => format!("2-task round trip (x{executions})"),
            Self::Diamond { executions } => format!("diamond of 4 (x{executions})"),
            Self::Chain { length } => format!("chain of {length}"),
            Self::FanOut { width } => format!("fan-out {width} + join"),
            Self::Mapped { width } => format!("mapped {width} + join"),
        }
    }

    /// The workflow, as written with `#[task]` and `workflow!` in `build.rs`.
    pub fn workflow(&self) -> Result<Arc<Workflow>, String> {
        match self {
            Self::RoundTrip { .. } => Ok(workflows::round_trip::workflow()),
            Self::Diamond { .. } => Ok(workflows::diamond::workflow()),
            Self::Chain { length: 200 } => Ok(workflows::chain_200::workflow()),
            #[cfg(feature = "fan-out")]
            Self::FanOut { width: 1000 } => Ok(workflows::fan_out_1000::workflow()),
            #[cfg(feature = "fan-out")]
            Self::FanOut { width: 2000 } => Ok(workflows::fan_out_2000::workflow()),
            #[cfg(not(feature = "fan-out"))]
            Self::FanOut { .. } => {
                Err("this engine-bench was built without the `fan-out` feature (as make bench-check builds it); \
                     build it with `--features fan-out`, as make bench does"
                    .to_owned())
            }
            Self::Mapped { width } => mapped(&self.name(), *width),
            _ => Err(format!("no workflow is generated for {}: add it to benchmarks/build.rs", self.describe())),
        }
    }

    /// Executions in one run.
    pub fn executions_per_run(&self) -> usize {
        match self {
            Self::RoundTrip { executions } | Self::Diamond { executions } => *executions,
            _ => 1,
        }
    }

    /// Tasks executed in one run.
    pub fn tasks_per_run(&self) -> usize {
        match self {
            Self::RoundTrip { executions } => 2 * executions,
            Self::Diamond { executions } => 4 * executions,
            Self::Chain { length } => *length,
            Self::FanOut { width } | Self::Mapped { width } => width + 2,
        }
    }
}

/// `root` writes the numbers `0..width` under `items`, `worker` runs once per number, `join`
/// follows: the fan-out's shape, with its width known only at run time.
fn mapped(name: &str, width: usize) -> Result<Arc<Workflow>, String> {
    let root = FunctionTask::new("root", move |mut context: Context| async move {
        stamps::mark("root");
        context.insert("items", (0..width).collect::<Vec<_>>())?;
        Ok(context)
    });
    let worker = FunctionTask::new("worker", |context: Context| async move {
        let index = context.get(mapping::ITEM_INDEX_KEY).and_then(|index| index.as_u64()).unwrap_or_default();
        stamps::mark_instance("worker", index as usize);
        Ok(context)
    })
    .depends_on(["root"])
    .map_over("items");
    let join = FunctionTask::new("join", |context: Context| async move {
        stamps::mark("join");
        Ok(context)
    })
    .depends_on(["worker"]);
    let workflow =
        Workflow::builder(name).task(root).task(worker).task(join).build().map_err(|error| error.to_string())?;
    let workflow = Arc::new(workflow);
    // Registered where `workflow!` registers the others.
    WorkflowRegistry::global().register(Arc::clone(&workflow));
    Ok(workflow)
}
