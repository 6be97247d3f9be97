//! `#[task]` and `workflow!`: Cloacina tasks and workflows written as Rust, checked by the
//! compiler.
//!
//! They are used through the `cloacina` crate, which re-exports them (`cloacina::task`,
//! `cloacina::workflow`); its documentation has an example, compiled and run with its tests.
//!
//! `workflow!` sees every listed task's id and dependencies at compile time: a dependency no
//! listed task provides (with the closest id as a suggestion), a cycle (with its path) or a
//! duplicate id is a compile error pointing at the offending code.

mod collect;
mod export;
mod graph;
mod task;
mod workflow;

use proc_macro::TokenStream;

/// Makes `async fn name(context: &mut Context) -> Result<(), TaskError>` a task.
///
/// Arguments, all optional: `id = "..."` (the function's name by default),
/// `dependencies = ["...", ...]`, `retry_attempts = N` (attempts in all),
/// `retry_backoff = "fixed" | "linear" | "exponential"`, `retry_delay_ms = N`,
/// `retry_max_delay_ms = N`, `timeout_ms = N`, `trigger = "any_failed"` (a rule name) or
/// `trigger = <expression of type cloacina::TriggerRule>`, and `concurrency_key = "..."` with
/// `concurrency = N` (at most N attempts holding the key run at once, across workflows and
/// processes), and `map_over = "..."` (run once per element of the list under that key, see
/// `cloacina::mapping`) with, optionally, `max_parallel = N` and `map_outputs = ["...", ...]`.
///
/// The function stays as it is (callable from unit tests). Next to it come a type named after
/// it in upper camel case with a `Task` suffix (`load` gives `LoadTask`) implementing
/// `cloacina::Task`, with `LoadTask::new()`, and what `workflow!` needs to check the graph.
#[proc_macro_attribute]
pub fn task(arguments: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    match task::expand(arguments.into(), item.clone()) {
        Ok(expanded) => expanded.into(),
        // Keep the function as written so the only error the user sees is the real one, not
        // follow-on noise such as unused imports.
        Err(error) => {
            let error = error.into_compile_error();
            quote::quote! { #error #item }.into()
        }
    }
}

/// Builds a workflow from tasks made with `#[task]` and registers it, checking at compile time
/// that every dependency is a listed task, that no id repeats and that there is no cycle.
///
/// `workflow! { name: "...", description: "...", tasks: [a, b, module::c] }` evaluates to the
/// registered `Arc<cloacina::Workflow>`. `description` is optional. Tasks must be defined in
/// the same crate.
///
/// With the `cloacina-python` crate's `embed` feature, the list may also name Python tasks,
/// `python("package.module:function")`, next to the Rust ones. Python tasks load when the
/// workflow is built, so such a `workflow!` evaluates to a `Result<Arc<cloacina::Workflow>,
/// cloacina_python::embed::EmbedError>`, and the dependencies of Rust tasks on Python ones are
/// checked then (those among Rust tasks still at compile time).
///
/// Each listed task takes two levels of macro expansion, so a workflow of more than about 60
/// tasks needs a higher limit at the top of the crate, e.g. `#![recursion_limit = "512"]` for
/// up to 250 tasks; the compiler names the value to use.
#[proc_macro]
pub fn workflow(input: TokenStream) -> TokenStream {
    workflow::expand(input.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// One step of `workflow!`: gathers the listed tasks' descriptions, then checks and builds.
#[doc(hidden)]
#[proc_macro]
pub fn __workflow_collect(input: TokenStream) -> TokenStream {
    collect::expand(input.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Makes the crate a Python extension module exporting Rust tasks to Cloacina workflows:
/// `python_tasks!(module_name, [task_a, path::to::task_b])` lists `#[task]` functions, and
/// `module_name` is the module's name (its `PyInit_` function, and maturin's `module-name`).
/// Needs the `cloacina` crate's `python-export` feature; see `cloacina::abi`.
#[proc_macro]
pub fn python_tasks(input: TokenStream) -> TokenStream {
    export::expand(input.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}
