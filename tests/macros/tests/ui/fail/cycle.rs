use cloacina::{Context, TaskError, task, workflow};

#[task(dependencies = ["c"])]
async fn a(_context: &mut Context) -> Result<(), TaskError> {
    Ok(())
}

#[task(dependencies = ["a"])]
async fn b(_context: &mut Context) -> Result<(), TaskError> {
    Ok(())
}

#[task(dependencies = ["b"])]
async fn c(_context: &mut Context) -> Result<(), TaskError> {
    Ok(())
}

fn main() {
    let _ = workflow! { name: "loop", tasks: [a, b, c] };
}
