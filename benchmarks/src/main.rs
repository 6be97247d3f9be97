//! `engine-bench`: the Rust side of `make bench`. `benchmarks/run.py` drives it, one process per
//! measurement, and prints the table; see `benchmarks/README.md`.
//!
//! ```text
//! engine-bench measure SHAPE URL RUNS       one shape, a warm-up and RUNS runs, as JSON
//! engine-bench processes URL RUNS           PostgreSQL fan-out with 1, 2 and 4 worker processes
//! engine-bench worker URL                   a worker process (started by `processes`)
//! engine-bench create-database SERVER NAME  a fresh PostgreSQL database for one measurement
//! engine-bench drop-database SERVER NAME
//! engine-bench ui-list URL COUNT            the web page's listing over COUNT stored executions
//! ```

// `workflow!` takes two macro expansion levels per task; the widest fan-out lists 2002 tasks.
#![recursion_limit = "4200"]

mod databases;
mod measure;
mod processes;
mod shapes;
mod stamps;
mod statements;
mod ui_list;
mod workflows;

const USAGE: &str = "usage: engine-bench measure SHAPE URL RUNS | processes URL RUNS | worker URL \
                     | create-database SERVER NAME | drop-database SERVER NAME | ui-list URL COUNT";

fn count(text: &str) -> Result<usize, String> {
    text.parse().map_err(|_| format!("`{text}` is not a number of runs; {USAGE}"))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
    match arguments.as_slice() {
        ["measure", shape, url, runs] => measure::main(shape, url, count(runs)?).await,
        ["processes", url, runs] => processes::main(url, count(runs)?).await,
        ["worker", url] => processes::work(url).await,
        ["create-database", server, name] => databases::create(server, name).await,
        ["drop-database", server, name] => databases::drop(server, name).await,
        ["ui-list", url, executions] => ui_list::main(url, count(executions)? as u64).await,
        _ => Err(USAGE.into()),
    }
}
