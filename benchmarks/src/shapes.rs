//! The workflow shapes measured, made of tasks that only note when they ran.

use std::sync::Arc;

use cloacina::Workflow;

use crate::workflows;

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
}

/// The shapes `make bench` measures, by the key both sides use.
pub const SHAPES: [(&str, Shape); 4] = [
    ("round_trip", Shape::RoundTrip { executions: 200 }),
    ("chain_200", Shape::Chain { length: 200 }),
    ("fan_out_1000", Shape::FanOut { width: 1000 }),
    ("diamond", Shape::Diamond { executions: 200 }),
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
        }
    }

    /// A line for a table.
    pub fn describe(&self) -> String {
        match self {
            Self::RoundTrip { executions } => format!("2-task round trip (x{executions})"),
            Self::Diamond { executions } => format!("diamond of 4 (x{executions})"),
            Self::Chain { length } => format!("chain of {length}"),
            Self::FanOut { width } => format!("fan-out {width} + join"),
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
                     build it with default features"
                    .to_owned())
            }
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
            Self::FanOut { width } => width + 2,
        }
    }
}
